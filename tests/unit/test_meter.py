"""Unit tests of the service-clock meter and the read probes (throttling fake on a SimulatedClock, and moto)."""

from __future__ import annotations

import time

import pytest
from throughput_fake import FakeKinesis

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import RealClock, SimulatedClock
from pytest_kinesis_limits.kinesis.key_spread import KeySpread, generate_records
from pytest_kinesis_limits.kinesis.meter import (
    check_offered,
    measure,
    measure_stream,
    next_written,
    probe_get_records,
    probe_read_calls_per_second,
    shard_ids_of,
    within_tolerance,
)
from pytest_kinesis_limits.kinesis.producer import Producer, Rate
from pytest_kinesis_limits.kinesis.reader import ReadRecord, read_stream

RECORDS_LIMIT = limits.SHARD_WRITE_RECORDS_PER_S.value
BYTES_LIMIT = limits.SHARD_WRITE_BYTES_PER_S.value
READS_LIMIT = limits.SHARD_READ_CALLS_PER_S.value
T0 = 1_700_000_000
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
# What the throughput family will use offline: exact service clock, so a tight tolerance (DESIGN §7).
TOLERANCE = 0.01


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(start=T0)


def overload(clock, fake, *, rate: Rate, record_size: int = 50, duration: int = 6):
    """Offer ``rate`` per shard to ``fake`` (no retries), read everything back and measure it."""
    shards = len(fake.ranges)
    total = Rate(rate.value * shards, rate.unit)
    result = Producer(fake, "s", clock=clock).run(
        generate_records(record_size, KeySpread.from_stream(fake, "s")), rate=total, duration=duration)
    return measure_stream(fake, "s", clock=clock, produce=result), result


@pytest.mark.parametrize("shards", [1, 2])
def test_sustained_rate_excludes_the_burst_and_equals_the_limit(clock, shards):
    fake = FakeKinesis(clock, shards=shards, records_per_s=RECORDS_LIMIT, burst_records=RECORDS_LIMIT)
    m, result = overload(clock, fake, rate=Rate.records_per_s(2 * RECORDS_LIMIT))
    assert m.window == (T0 + 1, T0 + 5) and m.window_seconds == 4
    for series in m.shards.values():
        assert series.records[T0] == 2 * RECORDS_LIMIT  # the burst second is there ...
        assert series.peak_records_per_s == 2 * RECORDS_LIMIT
        assert abs(series.sustained_records_per_s - RECORDS_LIMIT) <= TOLERANCE * RECORDS_LIMIT  # ... not here
        naive = sum(series.records.values()) / len(series.records)
        assert naive > RECORDS_LIMIT * (1 + TOLERANCE)  # a mean over every second would be fooled by it
    assert within_tolerance(m.max_sustained(), RECORDS_LIMIT, above=TOLERANCE, below=TOLERANCE)
    assert within_tolerance(m.min_sustained(), RECORDS_LIMIT, above=TOLERANCE, below=TOLERANCE)
    assert m.throttled == result.sent - result.accepted > 0
    assert m.records_read == result.accepted


def test_bytes_limit_measured_with_large_records(clock):
    record_size = BYTES_LIMIT // 16
    fake = FakeKinesis(clock, bytes_per_s=BYTES_LIMIT)
    m, result = overload(clock, fake, rate=Rate.bytes_per_s(2 * BYTES_LIMIT), record_size=record_size)
    assert m.sustained("bytes/s") == {"shardId-000000000000": BYTES_LIMIT}
    assert m.throttled_fraction == pytest.approx(0.5)
    assert set(result.refused) == {"ProvisionedThroughputExceededException"}


def test_meter_detects_a_backend_accepting_twice_the_limit(clock):
    fake = FakeKinesis(clock, records_per_s=2 * RECORDS_LIMIT)  # a broken backend: 2x the documented limit
    m, _ = overload(clock, fake, rate=Rate.records_per_s(3 * RECORDS_LIMIT))
    assert m.max_sustained() == 2 * RECORDS_LIMIT
    assert not within_tolerance(m.max_sustained(), RECORDS_LIMIT, above=0.10, below=0.10)


def test_meter_detects_a_backend_that_never_throttles(clock):
    fake = FakeKinesis(clock)  # like plain moto
    m, result = overload(clock, fake, rate=Rate.records_per_s(2 * RECORDS_LIMIT))
    assert m.throttled_fraction == 0 and result.refused == {}
    assert not within_tolerance(m.max_sustained(), RECORDS_LIMIT, above=0.10, below=0.10)


def test_below_the_limit_nothing_is_refused(clock):
    fake = FakeKinesis(clock, shards=2, records_per_s=RECORDS_LIMIT)
    m, result = overload(clock, fake, rate=Rate.records_per_s(0.8 * RECORDS_LIMIT))
    assert m.throttled_fraction == 0 and result.accepted == result.sent
    assert m.sustained() == {sid: 0.8 * RECORDS_LIMIT for sid in m.shards}


def test_arrivals_filled_into_the_producer_log(clock):
    fake = FakeKinesis(clock, records_per_s=RECORDS_LIMIT)
    m, result = overload(clock, fake, rate=Rate.records_per_s(1500), duration=3)
    accepted = [o for o in result.outcomes if o.accepted]
    assert all(o.arrival == o.sent_at for o in accepted)  # the fake stamps arrival at its clock's now
    assert all(o.arrival is None for o in result.outcomes if not o.accepted)


def test_window_excludes_last_partial_second_and_can_be_capped():
    records = [ReadRecord("a", str(i), "k", b"x" * 9, T0 + i / 100) for i in range(1000)]  # 10 s, 100/s
    records.append(ReadRecord("a", "last", "k", b"x", T0 + 10.3))  # a partial last second
    m = measure(records)
    assert m.window == (T0 + 1, T0 + 10) and m.sustained() == {"a": 100.0} and m.sustained("bytes/s") == {"a": 1000}
    assert measure(records, window_s=3).window == (T0 + 1, T0 + 4)
    assert measure(records, exclude_first_s=2).window == (T0 + 2, T0 + 10)


def test_a_shard_silent_in_the_window_counts_zero():
    records = [ReadRecord("a", str(i), "k", b"", T0 + i) for i in range(6)]
    m = measure(records, shard_ids=["a", "b"])
    assert m.sustained() == {"a": 1.0, "b": 0.0} and m.min_sustained() == 0.0


def test_too_short_a_run_has_no_window_and_says_so():
    m = measure([ReadRecord("a", "1", "k", b"x", T0 + 0.5), ReadRecord("a", "2", "k", b"x", T0 + 1.5)])
    assert m.window is None and m.sustained() == {} and m.max_sustained() is None
    assert "no sustained window" in m.summary()


def test_summary_is_readable(clock):
    fake = FakeKinesis(clock, shards=2, records_per_s=RECORDS_LIMIT)
    m, _ = overload(clock, fake, rate=Rate.records_per_s(2 * RECORDS_LIMIT), duration=4)
    text = m.summary()
    assert "sustained window: 2 s" in text and "shardId-000000000001" in text
    assert "throttled fraction 50.0%" in text and "ProvisionedThroughputExceededException 8000" in text
    assert "+0:1000 +1:1000" in text


# --- reads ------------------------------------------------------------------------------------------

def test_read_calls_probe_sees_the_sixth_call_throttled(clock):
    fake = FakeKinesis(clock, reads_per_s=READS_LIMIT)
    probe = probe_read_calls_per_second(fake, "s", "shardId-000000000000", READS_LIMIT + 1, clock)
    assert probe.within_one_second and probe.throttled_indices == [READS_LIMIT]
    at_limit = probe_read_calls_per_second(fake, "s", "shardId-000000000000", READS_LIMIT, clock)
    assert at_limit.within_one_second and at_limit.throttled_indices == []


def test_read_calls_probe_detects_a_backend_without_read_throttling(clock):
    probe = probe_read_calls_per_second(FakeKinesis(clock), "s", "shardId-000000000000", READS_LIMIT + 1, clock)
    assert probe.throttled_indices == []  # a check asserting [5] would fail here


def test_a_serial_read_probe_far_from_the_service_cannot_fit_its_second(clock):
    """Each answer 0.2 s away: six calls one after another span 1.2 s, so the probe says it did not meet its
    second (the family then records inconclusive, not fail)."""
    fake = FakeKinesis(clock, reads_per_s=READS_LIMIT)
    fake.latency = 0.2
    probe = probe_read_calls_per_second(fake, "s", "shardId-000000000000", READS_LIMIT + 1, clock)
    assert probe.span == pytest.approx(1.2) and not probe.within_one_second
    assert probe.throttled_indices == []  # spread over two seconds: nothing to see


def test_a_concurrent_read_probe_meets_its_second_despite_the_round_trips():
    """The same 0.2 s round trips on a real clock, the calls sent concurrently at their times: they meet inside
    one second and the one call over the limit is throttled."""
    clock = RealClock()
    fake = FakeKinesis(clock, reads_per_s=READS_LIMIT)
    fake.latency, fake.sleep = 0.2, time.sleep
    probe = probe_read_calls_per_second(fake, "s", "shardId-000000000000", READS_LIMIT + 1, clock, settle=0.0,
                                        concurrent=True)
    assert probe.within_one_second and probe.span >= 0.2
    assert len(probe.throttled_indices) == 1 and [c.index for c in probe.calls] == list(range(READS_LIMIT + 1))
    assert all(c.answered_at >= c.at + 0.2 for c in probe.calls)


def test_offer_check_compares_what_was_answered_with_the_needed_share(clock):
    fake = FakeKinesis(clock)
    fake.latency = 0.2
    result = Producer(fake, "s", clock=clock, tick=0.1).run(generate_records(50, KeySpread.single()),
                                                            rate=Rate.records_per_s(1000), duration=3)
    check = check_offered(result, needed=0.75, skip_first_s=1, window_s=1)
    assert check.fraction == pytest.approx(0.5) and not check.enough
    assert "answered 50.0% of the target 1,000 records/s" in check.describe() and "15 of 15 ticks late" in \
        check.describe()
    near = Producer(FakeKinesis(clock), "s", clock=clock, tick=0.1).run(generate_records(50, KeySpread.single()),
                                                                       rate=Rate.records_per_s(1000), duration=3)
    assert check_offered(near, needed=0.75, window_s=1).enough
    with pytest.raises(ValueError, match="unpaced"):
        check_offered(Producer(FakeKinesis(clock), "s", clock=clock).run(
            generate_records(50, KeySpread.single()), count=5), needed=0.75)


def test_next_written_follows_the_shard_order_of_sequence_numbers(clock):
    fake = FakeKinesis(clock, shards=2)
    result = Producer(fake, "s", clock=clock).run(generate_records(20, KeySpread.from_stream(fake, "s")), count=8)
    first = [o for o in result.outcomes if o.shard_id == "shardId-000000000000"]
    assert next_written(result, "shardId-000000000000", first[0].sequence_number) is first[1]
    assert next_written(result, "shardId-000000000000", first[-1].sequence_number) is None


def test_get_records_limit_probe(clock):
    fake = FakeKinesis(clock)
    Producer(fake, "s", clock=clock).run(generate_records(20, KeySpread.single()), count=12)
    assert probe_get_records(fake, "s", "shardId-000000000000", limit=limits.GET_RECORDS_MAX_RECORDS.value).ok
    over = probe_get_records(fake, "s", "shardId-000000000000", limit=limits.GET_RECORDS_MAX_RECORDS.value + 1)
    assert (over.ok, over.error_code) == (False, "ValidationException")
    few = probe_get_records(fake, "s", "shardId-000000000000", limit=5)
    assert (few.records, few.data_bytes, few.last_sequence_number) == (5, 5 * (20 - 2), "4")


def test_get_records_probe_follows_empty_first_pages_a_bounded_number_of_times(clock):
    """AWS may answer the first calls from TRIM_HORIZON empty: the probe follows NextShardIterator."""
    fake = FakeKinesis(clock)
    Producer(fake, "s", clock=clock).run(generate_records(20, KeySpread.single()), count=3)
    fake.empty_pages = 2
    probe = probe_get_records(fake, "s", "shardId-000000000000", limit=limits.GET_RECORDS_MAX_RECORDS.value)
    assert (probe.ok, probe.records, probe.calls) == (True, 3, 3)
    fake.empty_pages = 100  # a shard that never answers data: the probe stops within the read limit
    probe = probe_get_records(fake, "s", "shardId-000000000000")
    assert (probe.ok, probe.records, probe.calls) == (True, 0, READS_LIMIT)
    fake.empty_pages = 1  # a refusal still ends the probe at once
    over = probe_get_records(fake, "s", "shardId-000000000000", limit=limits.GET_RECORDS_MAX_RECORDS.value + 1)
    assert (over.ok, over.error_code, over.calls) == (False, "ValidationException", 1)


# --- moto happy path ----------------------------------------------------------------------------------

def test_moto_read_back_and_measure(moto_kinesis, clock):
    moto_kinesis.create_stream(StreamName="meter-happy", ShardCount=2)
    keys = KeySpread.from_stream(moto_kinesis, "meter-happy")
    result = Producer(moto_kinesis, "meter-happy", clock=clock).run(generate_records(64, keys), count=1000)
    read = read_stream(moto_kinesis, "meter-happy", clock=clock, limit=300)
    assert read.calls > len(read.shard_order)  # several pages per shard: Limit is honoured
    m = measure(read.records, produce=result, shard_ids=shard_ids_of(moto_kinesis, "meter-happy"))
    assert m.records_read == result.accepted == 1000 and m.bytes_read == 64_000
    assert sum(sum(s.records.values()) for s in m.shards.values()) == 1000
    assert all(o.arrival is not None for o in result.outcomes)  # plain moto stamps real time, still matched
    first_shard = shard_ids_of(moto_kinesis, "meter-happy")[0]
    assert probe_get_records(moto_kinesis, "meter-happy", first_shard, limit=10).records == 10
    below_minimum = probe_get_records(moto_kinesis, "meter-happy", first_shard, limit=0)  # botocore refuses it
    assert (below_minimum.ok, below_minimum.error_code) == (False, "ParamValidationError")
