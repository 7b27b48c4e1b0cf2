"""Shard throughput: both sides of the per-shard write limits, and the read limits (``-k throughput``).

Writes are offered by the paced :class:`~pytest_kinesis_limits.producer.Producer` (no retries) for a
sustained window and measured on the service's clock (``ApproximateArrivalTimestamp``, first second left
out) by :mod:`pytest_kinesis_limits.meter`:

* below the limit (80 % offered): no record is refused, and each shard really took ~80 %;
* above it (200 % offered): each shard's sustained accepted rate is within the tolerance settings of the
  documented limit, and the excess is refused per record with ProvisionedThroughputExceededException.

Reads: GetRecords ``Limit`` at and over its maximum, the per-call byte cap on a shard holding more, and the
per-shard calls per second (the call after the limit within one second is throttled).

Windows, tolerances and the pacing tick are settings (``--kinesis-rate-*``, docs/configuration.md).
Every test records its measurement with its verdict before asserting, so the table shows what a backend did.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.keys import KeySpread, generate_records
from pytest_kinesis_limits.meter import (
    Measurement,
    measure_stream,
    probe_get_records,
    probe_read_calls_per_second,
    shard_ids_of,
    within_tolerance,
)
from pytest_kinesis_limits.producer import ProduceResult, Producer, Rate, RetryPolicy
from pytest_kinesis_limits.reader import THROTTLED
UNDER_LOAD = 0.8  # of the limit: room for live jitter, still a real load
OVER_LOAD = 2.0  # of the limit: refusals in every second, so the accepted rate is the shard's, not ours

READ_CALLS = limits.SHARD_READ_CALLS_PER_S
GET_MAX_RECORDS = limits.GET_RECORDS_MAX_RECORDS
GET_MAX_BYTES = limits.GET_RECORDS_MAX_BYTES

NO_ARRIVAL_CLOCK = ("plain moto stamps ApproximateArrivalTimestamp with the wall clock, not the run's clock, and "
                    "never throttles writes: the meter sees how fast moto ran")


@dataclass(frozen=True)
class WriteLimit:
    """A per-shard write limit, the rate unit that loads it and the record size that isolates it."""

    limit: limits.Limit
    record_size: int  # data + partition key

    @property
    def unit(self) -> str:
        return self.limit.unit

    def rate(self, fraction: float, shards: int) -> Rate:
        return Rate(fraction * self.limit.value * shards, self.unit)


# Small records load the records/s limit far below the bytes/s one (2x the limit is 200 KB/s). Large records
# load the bytes/s limit: 1/20 of it each, so 80 % and 200 % are whole records per second (16 and 40).
WRITE_LIMITS = {
    "records-per-s": WriteLimit(limits.SHARD_WRITE_RECORDS_PER_S, 100),
    "bytes-per-s": WriteLimit(limits.SHARD_WRITE_BYTES_PER_S, limits.SHARD_WRITE_BYTES_PER_S.value // 20),
}
SHARDS = [pytest.param(1, id="1-shard"), pytest.param(2, id="2-shards")]


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def offer(client, stream, clock, settings, kind: str, load: float) -> tuple[ProduceResult, Measurement]:
    """Offer ``load`` x the limit to every shard of ``stream`` for the sustained window, read back, measure.

    The run lasts the window plus the first (burst) second and the last (partial) second.
    """
    write = WRITE_LIMITS[kind]
    window = settings.effective_rate_window
    keys = KeySpread.from_stream(client, stream.name)
    producer = Producer(client, stream.name, clock=clock, retry=RetryPolicy.none(), tick=settings.effective_rate_tick)
    result = producer.run(generate_records(write.record_size, keys), rate=write.rate(load, stream.shard_count),
                          duration=window + 2)
    measured = measure_stream(client, stream.name, clock=clock, produce=result, exclude_first_s=1, window_s=window)
    return result, measured


def per_shard(m: Measurement, unit: str) -> str:
    return ", ".join(f"{sid[-3:]}: {rate:,.1f}" for sid, rate in sorted(m.sustained(unit).items()))


@pytest.mark.kinesis_gap("moto-plain", reason=NO_ARRIVAL_CLOCK)
@pytest.mark.parametrize("shards", SHARDS)
@pytest.mark.parametrize("kind", list(WRITE_LIMITS))
def test_throughput_below_the_limit_nothing_is_refused(kind, shards, kinesis_client_no_retry, make_stream,
                                                       kinesis_clock, kinesis_settings, record_measurement):
    """80 % of the limit per shard for the sustained window: every record accepted, each shard near 80 %."""
    write = WRITE_LIMITS[kind]
    stream = make_stream(shard_count=shards)
    result, m = offer(kinesis_client_no_retry, stream, kinesis_clock, kinesis_settings, kind, UNDER_LOAD)
    expected = UNDER_LOAD * write.limit.value
    tolerance = (kinesis_settings.effective_rate_tolerance, kinesis_settings.effective_rate_tolerance_below)
    loaded = all(within_tolerance(rate, expected, above=tolerance[0], below=tolerance[1])
                 for rate in m.sustained(write.unit).values())
    complete = m.window_seconds == kinesis_settings.effective_rate_window and len(m.sustained(write.unit)) == shards
    ok = not result.refused and complete and loaded and m.records_read == result.sent
    record_measurement(write.limit, m.max_sustained(write.unit), verdict=verdict(ok), unit=write.unit,
                       detail=f"{shards} shard(s), {UNDER_LOAD:.0%} offered: {result.sent - result.accepted} of "
                       f"{result.sent} refused; sustained per shard {per_shard(m, write.unit)}",
                       shards=shards, load=UNDER_LOAD, refused=result.sent - result.accepted,
                       window_s=m.window_seconds, series=m)
    assert not result.refused, f"records refused below the limit: {result.refused}\n{m.summary()}"
    assert complete, f"no full {kinesis_settings.effective_rate_window} s window on every shard\n{m.summary()}"
    assert loaded, f"a shard did not take ~{expected:,.0f} {write.unit}: the load did not reach it\n{m.summary()}"
    assert m.records_read == result.sent, f"accepted records missing on read-back\n{m.summary()}"


@pytest.mark.kinesis_gap("moto-plain", reason=NO_ARRIVAL_CLOCK)
@pytest.mark.parametrize("shards", SHARDS)
@pytest.mark.parametrize("kind", list(WRITE_LIMITS))
def test_throughput_above_the_limit_accepts_the_limit_and_refuses_the_excess(
        kind, shards, kinesis_client_no_retry, make_stream, kinesis_clock, kinesis_settings, record_measurement):
    """200 % of the limit per shard: each shard's sustained accepted rate is the limit (within the tolerance
    settings), and every other record is refused on its own with ProvisionedThroughputExceededException."""
    write = WRITE_LIMITS[kind]
    stream = make_stream(shard_count=shards)
    result, m = offer(kinesis_client_no_retry, stream, kinesis_clock, kinesis_settings, kind, OVER_LOAD)
    above, below = kinesis_settings.effective_rate_tolerance, kinesis_settings.effective_rate_tolerance_below
    rates = m.sustained(write.unit)
    at_limit = len(rates) == shards and m.window_seconds == kinesis_settings.effective_rate_window and all(
        within_tolerance(rate, write.limit.value, above=above, below=below) for rate in rates.values())
    refused = [o for o in result.outcomes if not o.accepted]
    per_record = bool(refused) and all(o.error_code == THROTTLED and not o.whole_call_error for o in refused)
    read_back = m.records_read == result.accepted
    ok = at_limit and per_record and read_back
    record_measurement(write.limit, m.max_sustained(write.unit), verdict=verdict(ok), unit=write.unit,
                       detail=f"{shards} shard(s), {OVER_LOAD:.0%} offered: sustained per shard "
                       f"{per_shard(m, write.unit)} (tolerance +{above:.0%}/-{below:.0%}); {len(refused)} of "
                       f"{result.sent} refused {dict(result.refused)}",
                       shards=shards, load=OVER_LOAD, refused=len(refused), window_s=m.window_seconds,
                       min_sustained=m.min_sustained(write.unit), throttled_fraction=m.throttled_fraction, series=m)
    assert at_limit, (f"sustained accepted rate not within +{above:.0%}/-{below:.0%} of "
                      f"{write.limit.value:,} {write.unit} on every shard\n{m.summary()}")
    assert refused, f"nothing refused at {OVER_LOAD:.0%} of the limit\n{m.summary()}"
    assert per_record, (f"the excess was not refused per record with {THROTTLED}: "
                        f"{[(o.error_code, o.whole_call_error) for o in refused[:5]]}\n{m.summary()}")
    assert read_back, f"accepted records missing on read-back\n{m.summary()}"


# --- reads ------------------------------------------------------------------------------------------------

def _first_shard(client, stream) -> str:
    return shard_ids_of(client, stream.name)[0]


@pytest.mark.parametrize(("limit", "taken"), [
    pytest.param(GET_MAX_RECORDS.value, True, id="at"),
    pytest.param(GET_MAX_RECORDS.value + 1, False, id="over", marks=pytest.mark.kinesis_gap(
        "moto-plain", reason="moto accepts any GetRecords Limit")),
])
def test_throughput_get_records_limit(limit, taken, kinesis_client_no_retry, kinesis_stream, record_measurement):
    """GetRecords ``Limit`` is 1..10,000: the maximum is taken, one more is a ValidationException from the
    service (botocore checks only the minimum client-side). Measured: the ``Limit`` the backend accepted
    (None when it refused it). The probe follows empty first pages (AWS may answer TRIM_HORIZON empty)."""
    client = kinesis_client_no_retry
    client.put_records(StreamName=kinesis_stream.name,
                       Records=[{"Data": b"{}", "PartitionKey": "k"} for _ in range(3)])
    probe = probe_get_records(client, kinesis_stream.name, _first_shard(client, kinesis_stream), limit=limit)
    said = (f"accepted, {probe.records} records returned (call {probe.calls})" if probe.ok
            else f"refused: {probe.error_code}: {probe.error_message}")
    ok = probe.ok == taken and (probe.records == 3 if taken else probe.error_code == "ValidationException")
    record_measurement(GET_MAX_RECORDS, limit if probe.ok else None, verdict=verdict(ok),
                       detail=f"Limit={limit:,}: {said}", error_code=probe.error_code, calls=probe.calls)
    if taken:
        assert probe.ok and probe.records == 3, f"Limit={limit:,}: {said}"
    else:
        assert not probe.ok, f"Limit={limit:,} over the documented maximum was {said}"
        assert probe.error_code == "ValidationException", f"Limit={limit:,}: {said}"


@pytest.mark.kinesis_gap("moto-plain", reason="moto returns every record up to Limit, whatever their size")
def test_throughput_get_records_returns_at_most_10_mib_per_call(kinesis_client_no_retry, kinesis_stream,
                                                                kinesis_clock, kinesis_settings,
                                                                record_measurement):
    """A shard holding more than the per-call byte cap answers one GetRecords with at most the cap.

    The shard is filled at 80 % of its write rate (free on the simulated clock; ~13 s live) with records of
    1/40 of the cap, 41 of them.
    """
    client = kinesis_client_no_retry
    size = GET_MAX_BYTES.value // 40
    count = 41
    fill = Producer(client, kinesis_stream.name, clock=kinesis_clock, retry=RetryPolicy.backoff(),
                    tick=kinesis_settings.effective_rate_tick).run(
        generate_records(size, KeySpread.single()), count=count,
        rate=Rate.bytes_per_s(UNDER_LOAD * limits.SHARD_WRITE_BYTES_PER_S.value))
    assert fill.accepted == count, f"could not fill the shard: {fill.summary()}"
    stored = fill.bytes_accepted
    probe = probe_get_records(client, kinesis_stream.name, _first_shard(client, kinesis_stream))
    capped = probe.ok and 0 < probe.records < count and probe.data_bytes <= GET_MAX_BYTES.value
    said = (f"{probe.records} of {count} records, {probe.data_bytes:,} data bytes (call {probe.calls})" if probe.ok
            else f"refused: {probe.error_code}: {probe.error_message}")
    record_measurement(GET_MAX_BYTES, probe.data_bytes if probe.ok else None, verdict=verdict(capped),
                       detail=f"shard holds {stored:,} B; one GetRecords returned {said}")
    assert probe.ok, said
    assert probe.data_bytes <= GET_MAX_BYTES.value, f"one call returned more than {GET_MAX_BYTES.value:,} B: {said}"
    assert 0 < probe.records < count, f"the call did not stop at the cap with data left: {said}"


@pytest.mark.parametrize(("calls", "throttled"), [
    pytest.param(READ_CALLS.value, [], id="at"),
    pytest.param(READ_CALLS.value + 1, [READ_CALLS.value], id="over", marks=pytest.mark.kinesis_gap(
        "moto-plain", reason="moto never throttles GetRecords")),
])
def test_throughput_read_calls_per_second(calls, throttled, kinesis_client_no_retry, kinesis_stream,
                                          kinesis_clock, record_measurement):
    """Up to 5 GetRecords calls per shard within one second are served; the 6th is throttled."""
    client = kinesis_client_no_retry
    probe = probe_read_calls_per_second(client, kinesis_stream.name, _first_shard(client, kinesis_stream), calls,
                                        kinesis_clock)
    served = calls - len(probe.throttled_indices)
    said = (f"{calls} calls in {probe.calls[-1].at - probe.calls[0].at:.2f} s: throttled "
            f"{probe.throttled_indices or 'none'} ({[c.error_code for c in probe.calls if c.error_code]})")
    ok = probe.within_one_second and probe.throttled_indices == throttled
    record_measurement(READ_CALLS, served, verdict=verdict(ok), detail=said, calls=calls)
    assert probe.within_one_second, f"the probe could not make its calls within one second: {said}"
    assert probe.throttled_indices == throttled, f"expected throttled call indices {throttled}: {said}"
