"""Unit tests of the paced producer: moto for the happy path, a throttling fake on a SimulatedClock for the rest."""

from __future__ import annotations

import functools
import random
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from throughput_fake import FakeKinesis, client_error

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import RealClock, SimulatedClock
from pytest_kinesis_limits.kinesis.key_spread import (KeySpread, Record, generate_records, open_shard_ranges,
                                                      payload_index)
from pytest_kinesis_limits.kinesis.producer import (
    ProduceResult,
    Producer,
    Rate,
    RetryPolicy,
    batch_records,
    is_retryable,
    produce_in_processes,
)

THROTTLED = "ProvisionedThroughputExceededException"
RECORDS_LIMIT = limits.SHARD_WRITE_RECORDS_PER_S.value
BYTES_LIMIT = limits.SHARD_WRITE_BYTES_PER_S.value
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(start=1_700_000_000)


def small_records(keys: KeySpread | None = None, size: int = 40):
    return generate_records(size, keys or KeySpread.single())


# --- happy path on moto ---------------------------------------------------------------------------

def test_moto_two_shards_all_accepted_and_spread_evenly(moto_kinesis, clock):
    moto_kinesis.create_stream(StreamName="producer-happy", ShardCount=2)
    keys = KeySpread.from_stream(moto_kinesis, "producer-happy")
    producer = Producer(moto_kinesis, "producer-happy", clock=clock)
    result = producer.run(generate_records(100, keys), rate=Rate.records_per_s(400), duration=3)

    assert (result.sent, result.accepted, result.refused, result.retries) == (1200, 1200, {}, 0)
    assert result.duration == 3.0 and result.offered_records_per_s == 400
    by_shard: dict[str, int] = {}
    for outcome in result.outcomes:
        by_shard[outcome.shard_id] = by_shard.get(outcome.shard_id, 0) + 1
        assert outcome.sequence_number and outcome.attempts == 1 and outcome.error_code is None
    assert sorted(by_shard.values()) == [600, 600]
    assert [o.index for o in result.outcomes] == list(range(1200))


def test_moto_whole_call_validation_error_is_logged_per_record(moto_kinesis, clock):
    moto_kinesis.create_stream(StreamName="producer-bad", ShardCount=1)
    over = limits.PUT_RECORDS_MAX_RECORDS.value + 1  # a producer mis-set above the cap: one call of 501
    producer = Producer(moto_kinesis, "producer-bad", clock=clock, retry=RetryPolicy.backoff(), max_records=over)
    result = producer.run(_take(small_records(), over))
    assert result.calls == 1 and result.sent == over
    assert result.accepted == 0
    assert all(o.whole_call_error and o.attempts == 1 for o in result.outcomes)
    assert set(result.refused) == {"ValidationException"}


# --- pacing -----------------------------------------------------------------------------------------

def test_pacing_hits_records_rate_in_clock_time(clock):
    fake = FakeKinesis(clock)
    result = Producer(fake, "s", clock=clock).run(small_records(), rate=Rate.records_per_s(700), duration=5)
    assert result.sent == 3500 and result.duration == 5.0 and result.offered_records_per_s == 700
    assert [fake.written[("shardId-000000000000", 1_700_000_000 + s)][0] for s in range(5)] == [700] * 5
    assert result.late_ticks == 0


def test_pacing_bytes_rate_with_sub_second_ticks(clock):
    fake = FakeKinesis(clock)
    rate = Rate.bytes_per_s(BYTES_LIMIT // 2)
    result = Producer(fake, "s", clock=clock, tick=0.1).run(generate_records(4096, KeySpread.single()),
                                                            rate=rate, duration=3)
    assert abs(result.offered_bytes_per_s - rate.value) <= 4096 / 3  # within one record over the run
    per_second = [fake.written[("shardId-000000000000", 1_700_000_000 + s)][1] for s in range(3)]
    assert all(abs(b - rate.value) <= 4096 for b in per_second)


def test_count_stops_the_run(clock):
    result = Producer(FakeKinesis(clock), "s", clock=clock).run(small_records(), rate=Rate.records_per_s(300),
                                                                count=1000)
    assert result.sent == 1000 and result.duration == 4.0


def test_open_ended_source_needs_a_bound(clock):
    with pytest.raises(ValueError, match="duration or a count"):
        Producer(FakeKinesis(clock), "s", clock=clock).run(small_records())


# --- refusals and retries ---------------------------------------------------------------------------

def test_refused_records_logged_with_error_code_and_none_policy_never_retries(clock):
    fake = FakeKinesis(clock, records_per_s=RECORDS_LIMIT)
    result = Producer(fake, "s", clock=clock, retry=RetryPolicy.none()).run(
        small_records(), rate=Rate.records_per_s(2 * RECORDS_LIMIT), duration=3)
    assert result.sent == 6 * RECORDS_LIMIT
    assert result.accepted == 3 * RECORDS_LIMIT
    assert result.refused == {THROTTLED: 3 * RECORDS_LIMIT}
    assert result.retries == 0 and sum(n for n, _ in fake.put_calls) == result.sent
    refused = [o for o in result.outcomes if not o.accepted]
    assert all(o.attempts == 1 and not o.whole_call_error and "Rate exceeded" in o.error_message for o in refused)
    assert all(o.shard_id is None and o.sequence_number is None for o in refused)


def test_retry_policy_retries_only_refused_records_until_accepted(clock):
    fake = FakeKinesis(clock, records_per_s=RECORDS_LIMIT)
    result = Producer(fake, "s", clock=clock, retry=RetryPolicy.backoff(max_attempts=50)).run(
        small_records(), rate=Rate.records_per_s(1.5 * RECORDS_LIMIT), count=3000)
    assert result.accepted == result.sent == 3000 and result.refused == {}
    assert result.retries > 0
    # every record was sent once plus its retries, and stored exactly once: accepted ones were never resent
    assert sum(n for n, _ in fake.put_calls) == result.sent + result.retries
    assert len(fake.stored["shardId-000000000000"]) == 3000
    assert sorted(payload_index(r["Data"]) for r in fake.stored["shardId-000000000000"]) == list(range(3000))


def test_retry_is_deterministic_with_a_seed():
    def run() -> list[int]:
        clock = SimulatedClock(start=1_700_000_000)
        fake = FakeKinesis(clock, records_per_s=RECORDS_LIMIT)
        result = Producer(fake, "s", clock=clock, retry=RetryPolicy.backoff(seed=7), tick=0.25).run(
            small_records(), rate=Rate.records_per_s(1500), count=2000)
        return [o.attempts for o in result.outcomes]
    assert run() == run()


def test_retry_gives_up_after_max_attempts(clock):
    fake = FakeKinesis(clock, records_per_s=10)
    result = Producer(fake, "s", clock=clock, retry=RetryPolicy.backoff(max_attempts=3)).run(
        small_records(), rate=Rate.records_per_s(100), count=100)
    refused = [o for o in result.outcomes if not o.accepted]
    assert refused and all(o.attempts == 3 and o.error_code == THROTTLED for o in refused)


@pytest.mark.parametrize(("error", "retried"), [
    (client_error("ValidationException", "bad", "PutRecords"), False),
    (client_error("InvalidArgumentException", "Records size exceeds 5 MB limit", "PutRecords"), False),
    (client_error("ProvisionedThroughputExceededException", "slow down", "PutRecords"), True),
    (client_error("InternalFailure", "oops", "PutRecords", status=500), True),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), True),
], ids=["validation", "invalid-argument", "throttled-call", "5xx", "connection"])
def test_whole_call_errors_recorded_per_record_and_retried_only_when_retryable(clock, error, retried):
    fake = FakeKinesis(clock)
    fake.call_errors.append(error)
    records = _take(small_records(), 10)
    result = Producer(fake, "s", clock=clock, retry=RetryPolicy.backoff()).run(records)
    if retried:
        assert result.accepted == 10 and all(o.attempts == 2 for o in result.outcomes)
    else:
        assert result.accepted == 0 and all(o.attempts == 1 and o.whole_call_error for o in result.outcomes)
        assert set(result.refused) == {error.response["Error"]["Code"]}
    none = Producer(FakeKinesis(clock), "s", clock=clock)
    none.client.call_errors.append(error)
    assert none.run(records).accepted == 0


def test_is_retryable_classification():
    assert is_retryable(THROTTLED) and is_retryable("InternalFailure") and is_retryable("KMSThrottlingException")
    assert not is_retryable("ValidationException") and not is_retryable("KMSDisabledException")
    assert is_retryable("Anything", status=503)


# --- batching ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("record_size", [
    limits.RECORD_MAX_BYTES.value, limits.RECORD_MAX_BYTES.value - 1, 700 * 1024, 10_000, 10,
], ids=["at-record-cap", "under-record-cap", "700KiB", "10KB", "10B"])
def test_batching_never_exceeds_caps(clock, record_size):
    fake = FakeKinesis(clock)
    total = 12 if record_size > 100_000 else 1203
    result = Producer(fake, "s", clock=clock).run(generate_records(record_size, KeySpread.many(7)), count=total)
    assert result.accepted == total  # the fake raises on any cap violation
    assert all(n <= limits.PUT_RECORDS_MAX_RECORDS.value for n, _ in fake.put_calls)
    assert all(b <= limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value for _, b in fake.put_calls)
    # and batches are full: no call could have taken the next record
    for (n, b), _ in zip(fake.put_calls[:-1], fake.put_calls[1:]):
        assert n == limits.PUT_RECORDS_MAX_RECORDS.value or b + record_size > \
            limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value


def test_batch_records_random_sizes_keep_order_and_caps():
    rng = random.Random(3)
    records = [Record(i, b"x" * rng.randint(1, 600_000), "k" * rng.randint(1, 256)) for i in range(200)]
    batches = list(batch_records(records, max_request_bytes=limits.PUT_RECORDS_MAX_REQUEST_BYTES.value))
    assert [r for b in batches for r in b] == records
    assert all(sum(r.size for r in b) <= limits.PUT_RECORDS_MAX_REQUEST_BYTES.value for b in batches)


def test_batch_records_counts_partition_key_bytes_and_refuses_oversized():
    key = "é" * 10  # 20 bytes in UTF-8
    record = Record(0, b"x" * (limits.RECORD_MAX_BYTES.value - 19), key)
    assert record.size == limits.RECORD_MAX_BYTES.value + 1
    with pytest.raises(ValueError, match="over the cap"):
        list(batch_records([record]))


# --- keys, threads, processes ------------------------------------------------------------------------

def test_explicit_hash_keys_spread_evenly_and_strictly_inside_ranges(clock):
    fake = FakeKinesis(clock, shards=3)
    ranges = open_shard_ranges(fake, "s")
    keys = KeySpread.over_shards(ranges, keys_per_shard=5)
    for i, hash_key in enumerate(keys.explicit_hash_keys):
        shard = ranges[i % 3]
        assert shard.start < int(hash_key) < shard.end
    result = Producer(fake, "s", clock=clock).run(generate_records(50, keys), count=3 * 5 * 20)
    assert sorted(len(v) for v in fake.stored.values()) == [100, 100, 100] and result.accepted == 300


def test_open_shard_ranges_follow_list_shards_pages_without_the_stream_name(clock):
    """ListShards refuses StreamName together with NextToken (botocore's paginator sends both)."""
    fake = FakeKinesis(clock, shards=5, list_page=2)
    ranges = open_shard_ranges(fake, "s")
    assert [r.shard_id for r in ranges] == [sid for sid, _, _ in fake.ranges]
    assert [(r.start, r.end) for r in ranges] == [(lo, hi) for _, lo, hi in fake.ranges]
    assert len(open_shard_ranges(fake, "arn:aws:kinesis:us-east-1:123456789012:stream/s")) == 5


def test_threads_send_everything(clock):
    fake = FakeKinesis(clock, shards=2)
    result = Producer(fake, "s", clock=clock, workers=3).run(
        generate_records(20, KeySpread.from_stream(fake, "s")), rate=Rate.records_per_s(5000), duration=2)
    assert result.accepted == result.sent == 10000 and result.calls == 20


def test_processes_refuse_a_simulated_clock(clock):
    with pytest.raises(ValueError, match="simulated"):
        produce_in_processes(lambda: None, "s", lambda p, n: [], processes=2, clock=clock)


def _records_for(part: int, parts: int):
    return generate_records(60, KeySpread.many(8), start=part, step=parts)


def test_processes_against_a_loopback_moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        factory = functools.partial(boto3.client, "kinesis", endpoint_url=f"http://{host}:{port}",
                                    config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS)
        factory().create_stream(StreamName="procs", ShardCount=1)
        started = time.monotonic()
        result = produce_in_processes(factory, "procs", _records_for, processes=2, count=400)
        assert isinstance(result, ProduceResult) and result.sent == result.accepted == 400
        assert [o.index for o in result.outcomes] == list(range(400))
        assert time.monotonic() - started < 30
    finally:
        server.stop()


def test_real_clock_unpaced_run_is_quick(moto_kinesis):
    moto_kinesis.create_stream(StreamName="producer-real", ShardCount=1)
    result = Producer(moto_kinesis, "producer-real", clock=RealClock()).run(small_records(), count=50)
    assert result.accepted == 50


def _take(iterator, n):
    return [record for record, _ in zip(iterator, range(n))]




def test_a_large_record_stream_raises_the_request_cap_to_its_record_cap() -> None:
    """A 6 MiB record on a MaxRecordSizeInKiB=10240 stream fits one request, although the legacy request
    cap is 5 MiB; two of them go in two requests."""
    big = limits.RECORD_MAX_BYTES_CONFIGURABLE.value
    size = limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value + limits.MIB
    records = [Record(n, b"x" * (size - 1), "k") for n in range(2)]
    batches = list(batch_records(records, max_record_bytes=big))
    assert [len(b) for b in batches] == [1, 1]
    with pytest.raises(ValueError, match="over the cap"):
        list(batch_records([Record(9, b"x" * big, "k")], max_record_bytes=big))


# --- round trips: calls in flight, and what the service really saw ----------------------------------------

class _InFlight:
    """Wraps a client: counts the PutRecords calls in flight at once; the first ``meet`` calls wait until that
    many are in flight together (a barrier: a producer that waits for each answer never gets there)."""

    def __init__(self, client, meet: int = 0, hold: float = 0.0) -> None:
        self.client = client
        self.active = self.most = 0
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(meet) if meet else None
        self.hold = hold

    def put_records(self, **kwargs):
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            if self.barrier is not None and not self.barrier.broken:
                try:
                    self.barrier.wait(timeout=5)
                except threading.BrokenBarrierError:
                    pass
                self.barrier = None
            time.sleep(self.hold)
            return self.client.put_records(**kwargs)
        finally:
            with self.lock:
                self.active -= 1


def test_pipelined_ticks_do_not_wait_for_earlier_answers():
    """One call per 0.05 s tick, each held until three are in flight together: only a producer that sends the
    next ticks' calls before the first answers can get three in flight (a serial one breaks the barrier)."""
    clock = RealClock()
    fake = _InFlight(FakeKinesis(SimulatedClock(start=1_700_000_000)), meet=3)
    result = Producer(fake, "s", clock=clock, workers=3, tick=0.05).run(
        small_records(), rate=Rate.records_per_s(100 / 0.05), count=600)
    assert fake.most == 3 and not fake.barrier
    assert result.accepted == result.sent == 600 and result.calls == 6


def test_the_in_flight_window_is_bounded_and_a_full_window_shows_as_late_ticks():
    """Calls answered 0.3 s later, one per 0.1 s tick, at most two in flight: never more than two, the ticks that
    found the window full are late, and every record is still logged once with its answer."""
    fake = _InFlight(FakeKinesis(SimulatedClock(start=1_700_000_000)), hold=0.3)
    result = Producer(fake, "s", clock=RealClock(), workers=2, tick=0.1).run(
        small_records(), rate=Rate.records_per_s(500), duration=1)
    assert fake.most == 2
    assert result.late_ticks > 0 and result.ticks >= result.late_ticks
    assert [o.index for o in result.outcomes] == list(range(result.sent))
    assert all(o.accepted and o.attempts == 1 and o.answered_at >= o.sent_at for o in result.outcomes)


def test_a_pipelined_producer_on_a_simulated_clock_answers_each_tick_before_the_clock_moves(clock):
    """Offline, threads cannot carry a tick's calls into the next second: the per-second count is the serial one."""
    fake = FakeKinesis(clock, records_per_s=RECORDS_LIMIT)
    result = Producer(fake, "s", clock=clock, workers=4, tick=0.25).run(
        small_records(), rate=Rate.records_per_s(2 * RECORDS_LIMIT), duration=3)
    assert (result.sent, result.accepted, result.late_ticks) == (6 * RECORDS_LIMIT, 3 * RECORDS_LIMIT, 0)
    assert [fake.written[("shardId-000000000000", 1_700_000_000 + s)][0] for s in range(3)] == [RECORDS_LIMIT] * 3


def test_pipelined_retries_still_deliver_every_record(clock):
    fake = FakeKinesis(clock, records_per_s=RECORDS_LIMIT)
    result = Producer(fake, "s", clock=clock, workers=3, retry=RetryPolicy.backoff(max_attempts=50)).run(
        small_records(), rate=Rate.records_per_s(1.5 * RECORDS_LIMIT), count=3000)
    assert result.accepted == result.sent == 3000 and result.retries > 0
    assert sorted(payload_index(r["Data"]) for r in fake.stored["shardId-000000000000"]) == list(range(3000))


def test_a_serial_producer_far_from_the_service_offers_half_and_says_so(clock):
    """Each answer 0.2 s away and a 0.1 s tick, one call at a time: every tick is late, the run stops at its
    deadline rather than stretching, and the service answered half the target in the window."""
    fake = FakeKinesis(clock)
    fake.latency = 0.2
    result = Producer(fake, "s", clock=clock, tick=0.1).run(small_records(), rate=Rate.records_per_s(1000),
                                                            duration=3)
    assert result.late_ticks == result.ticks == 15 and result.sent == 1500
    assert result.duration == pytest.approx(3.0)
    assert result.offered_fraction(skip_first_s=1, window_s=1) == pytest.approx(0.5)
    assert all(o.answered_at == pytest.approx(o.sent_at + 0.2) for o in result.outcomes)


def test_offered_fraction_counts_what_the_service_judged_record_by_record(clock):
    """A throttled record reached its shard (it counts); a record of a call refused whole did not."""
    fake = FakeKinesis(clock, records_per_s=RECORDS_LIMIT)
    result = Producer(fake, "s", clock=clock, tick=0.5).run(
        small_records(), rate=Rate.records_per_s(2 * RECORDS_LIMIT), duration=4)
    assert result.refused == {THROTTLED: 4 * RECORDS_LIMIT}
    assert result.offered_fraction() == 1.0 and result.offered_fraction(skip_first_s=1, window_s=2) == 1.0
    fake = FakeKinesis(clock)
    fake.call_errors.extend(client_error("InternalFailure", "oops", "PutRecords", status=500) for _ in range(2))
    result = Producer(fake, "s", clock=clock, tick=0.5).run(small_records(), rate=Rate.records_per_s(1000),
                                                            duration=2)
    assert result.offered_fraction(skip_first_s=0, window_s=2) == 0.5  # the first second's two calls: refused whole
    assert not any(o.judged for o in result.outcomes[:1000]) and all(o.judged for o in result.outcomes[1000:])
    assert Producer(fake, "s", clock=clock).run(small_records(), count=10).offered_fraction() is None  # unpaced
