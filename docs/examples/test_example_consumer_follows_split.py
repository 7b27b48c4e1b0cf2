"""A consumer that follows a split: wait with a boto3 waiter, then read parents before children.

After ``split_shard`` the stream is UPDATING for a while; the team's code waits with botocore's
``stream_exists`` waiter (it sleeps with ``time.sleep`` between polls, so offline it takes simulated seconds).
Its consumer reads a shard to its end (``NextShardIterator`` is null at a closed shard's end) before the shards
that came from it, which keeps every partition key's records in order across the split, as the KCL does.
"""

from __future__ import annotations

import json
import time

READS_PER_SECOND = 5  # GetRecords per shard per second


def read_in_lineage_order(client, stream_name: str) -> list[dict]:
    """Every record of the stream: each shard to its end, and a shard only after its parents."""
    shards = client.list_shards(StreamName=stream_name)["Shards"]
    done: set[str] = set()
    records: list[dict] = []
    while len(done) < len(shards):
        ready = [s for s in shards if s["ShardId"] not in done
                 and all(p in done or p not in {x["ShardId"] for x in shards}
                         for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p)]
        for shard in ready:
            iterator = client.get_shard_iterator(StreamName=stream_name, ShardId=shard["ShardId"],
                                                 ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator:
                response = client.get_records(ShardIterator=iterator, Limit=1000)
                records += [json.loads(r["Data"]) for r in response["Records"]]
                if not response["Records"] and response.get("MillisBehindLatest", 0) == 0 \
                        and "EndingSequenceNumber" not in shard["SequenceNumberRange"]:
                    break  # an open shard, caught up
                iterator = response.get("NextShardIterator")  # None at a closed shard's end
                time.sleep(1 / READS_PER_SECOND)
            done.add(shard["ShardId"])
    return records


def put(client, stream_name: str, first: int, count: int) -> None:
    records = [{"Data": json.dumps({"key": n % 10, "n": n}).encode(), "PartitionKey": f"key-{n % 10}"}
               for n in range(first, first + count)]
    response = client.put_records(StreamName=stream_name, Records=records)
    assert response["FailedRecordCount"] == 0


def test_consumer_follows_a_split_in_order(kinesis_stream, kinesis_client):
    put(kinesis_client, kinesis_stream.name, 0, 200)
    parent = kinesis_client.list_shards(StreamName=kinesis_stream.name)["Shards"][0]
    middle = (int(parent["HashKeyRange"]["StartingHashKey"]) + int(parent["HashKeyRange"]["EndingHashKey"])) // 2
    kinesis_client.split_shard(StreamName=kinesis_stream.name, ShardToSplit=parent["ShardId"],
                               NewStartingHashKey=str(middle))

    # The stream is UPDATING while the split completes (typically tens of seconds): the waiter's default polls
    # (every 10 s, up to 18 times) wait it out; offline its sleeps move the simulated clock and return at once.
    kinesis_client.get_waiter("stream_exists").wait(StreamName=kinesis_stream.name)
    summary = kinesis_client.describe_stream_summary(StreamName=kinesis_stream.name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == 2

    put(kinesis_client, kinesis_stream.name, 200, 200)
    records = read_in_lineage_order(kinesis_client, kinesis_stream.name)
    assert sorted(r["n"] for r in records) == list(range(400)), "every record once"
    for key in range(10):
        seen = [r["n"] for r in records if r["key"] == key]
        assert seen == sorted(seen), f"key {key} kept its order across the split"
