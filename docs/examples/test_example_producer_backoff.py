"""A producer that backs off with time.sleep: 5,000 records into one shard, nothing lost.

The team's own code (``send_all``) knows nothing of the plugin: it batches 500 records per PutRecords call and
sends the records a shard refused again after an exponential backoff with ``time.sleep``. One shard takes 1,000
records a second, so most batches are partly refused at first. Offline the sleeps move the plugin's simulated
clock (the shard gets new budget) and return at once: the test takes well under a second of wall time. Live, or
with ``--kinesis-clock=real``, the same sleeps are real and it takes about five seconds.
"""

from __future__ import annotations

import concurrent.futures
import json
import time

BATCH = 500  # PutRecords takes at most 500 records per call


def send_all(client, stream_name: str, records: list[dict], *, base_delay: float = 0.1, max_delay: float = 5.0,
             max_rounds: int = 30) -> int:
    """Put every record, retrying the refused ones with exponential backoff; return the number of rounds."""
    pending = list(records)
    for round_number in range(1, max_rounds + 1):
        refused = []
        for start in range(0, len(pending), BATCH):
            batch = pending[start:start + BATCH]
            response = client.put_records(StreamName=stream_name, Records=batch)
            refused += [record for record, result in zip(batch, response["Records"]) if "ErrorCode" in result]
        if not refused:
            return round_number
        pending = refused
        time.sleep(min(max_delay, base_delay * 2 ** round_number))
    raise RuntimeError(f"gave up after {max_rounds} rounds with {len(pending)} records unsent")


def events(first: int, count: int) -> list[dict]:
    return [{"Data": json.dumps({"n": n}).encode(), "PartitionKey": f"user-{n % 50}"}
            for n in range(first, first + count)]


def test_5000_records_into_one_shard_with_backoff(kinesis_stream, kinesis_client, read_records):
    rounds = send_all(kinesis_client, kinesis_stream.name, events(0, 5000))

    received = [json.loads(record.data)["n"] for record in read_records(kinesis_stream)]
    assert sorted(received) == list(range(5000)), "every record arrived exactly once"
    assert rounds > 1, "the shard refused some records at first (1,000 records/s): the backoff was exercised"


def test_four_producer_threads_share_one_shard(kinesis_stream, kinesis_client, read_records):
    # Threads that sleep at the same time overlap on the simulated clock, in the same order every run.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        rounds = list(pool.map(lambda first: send_all(kinesis_client, kinesis_stream.name, events(first, 1000)),
                               range(0, 4000, 1000)))

    received = [json.loads(record.data)["n"] for record in read_records(kinesis_stream)]
    assert sorted(received) == list(range(4000))
    assert max(rounds) > 1


def test_a_plain_put_record_loop_rides_on_botocore_retries(kinesis_stream, kinesis_client):
    # Spend the shard's budget for this second (1,000 records), then put one by one: the first calls are
    # throttled, and kinesis_client retries them itself (standard mode, up to 8 attempts with backoff).
    for first in (0, 500):
        kinesis_client.put_records(StreamName=kinesis_stream.name, Records=events(first, BATCH))
    for n in range(1000, 1050):
        response = kinesis_client.put_record(StreamName=kinesis_stream.name, Data=b"%d" % n, PartitionKey="k")
        assert response["SequenceNumber"]
