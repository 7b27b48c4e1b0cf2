"""Shard throughput: both sides of the per-shard write limits, and the read limits (``-k throughput``).

Writes are offered by the paced :class:`~pytest_kinesis_limits.kinesis.producer.Producer` (no retries) for a
sustained window and measured on the service's clock (``ApproximateArrivalTimestamp``, first second left
out) by :mod:`pytest_kinesis_limits.kinesis.meter`:

* below the limit (80 % offered): no record is refused, and each shard really took ~80 %;
* above it (200 % offered): each shard's sustained accepted rate is within the tolerance settings of the
  documented limit, and the excess is refused per record with ProvisionedThroughputExceededException.

Reads: GetRecords ``Limit`` at and over its maximum, the per-call byte cap on a shard holding more, and the
per-shard calls per second (the call after the limit within one second is throttled).

Verdicts never blame the service for the client: when the client could not offer the load (the service
answered less than ``--kinesis-rate-min-offered`` of the target in the window, on the client's clock) or could
not get its read calls inside one second, the verdict is ``inconclusive`` and the test is skipped with the
reason; a 10 MiB page not shown to be cut by the byte cap is inconclusive too.

Windows, tolerances, the pacing tick and the calls in flight are settings (``--kinesis-rate-*``,
docs/configuration.md). Every test records its measurement with its verdict before asserting, so the table
shows what a backend did.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis.key_spread import KeySpread, generate_records
from pytest_kinesis_limits.kinesis.meter import (
    Measurement,
    OfferCheck,
    check_offered,
    measure_stream,
    next_written,
    probe_get_records,
    probe_read_calls_per_second,
    shard_ids_of,
    within_tolerance,
)
from pytest_kinesis_limits.kinesis.producer import ProduceResult, Producer, Rate, RecordOutcome, RetryPolicy
from pytest_kinesis_limits.kinesis.reader import THROTTLED
from pytest_kinesis_limits.reporting.report import judge

UNDER_LOAD = 0.8  # of the limit: room for live jitter, still a real load
OVER_LOAD = 2.0  # of the limit: refusals in every second, so the accepted rate is the shard's, not ours

READ_CALLS = limits.SHARD_READ_CALLS_PER_S
GET_MAX_RECORDS = limits.GET_RECORDS_MAX_RECORDS
GET_MAX_BYTES = limits.GET_RECORDS_MAX_BYTES

# GetRecords over its Limit: the API reference (and botocore's documentation of Limit) says the service "throws
# InvalidArgumentException"; the request model's range (1-10000) gives ValidationException, which is how AWS refuses
# PutRecords' 501 records. Either is a documented refusal; the test records which one the backend used.
LIMIT_REFUSALS = {
    "InvalidArgumentException": "API_GetRecords.html, Limit: 'greater than 10,000 ... throws InvalidArgumentException'",
    "ValidationException": "botocore's request model: Limit range 1-10000 (a model constraint violation)",
}
CLIENT_BOUND_FIX = ("run closer to the region or with more upload bandwidth, or raise --kinesis-rate-in-flight; "
                    "the measurement is recorded as inconclusive")

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


def offer(client, stream, clock, settings, kind: str, load: float
          ) -> tuple[ProduceResult, Measurement, OfferCheck]:
    """Offer ``load`` x the limit to every shard of ``stream`` for the sustained window, read back, measure,
    and check how much of the load the service really answered (on the client's clock, same window).

    The run lasts the window plus the first (burst) second and the last (partial) second. The producer keeps
    ``--kinesis-rate-in-flight`` calls in flight, so round trips longer than a tick do not lower the load.
    """
    write = WRITE_LIMITS[kind]
    window = settings.effective_rate_window
    keys = KeySpread.from_stream(client, stream.name)
    producer = Producer(client, stream.name, clock=clock, retry=RetryPolicy.none(), tick=settings.effective_rate_tick,
                        workers=settings.effective_rate_in_flight)
    result = producer.run(generate_records(write.record_size, keys), rate=write.rate(load, stream.shard_count),
                          duration=window + 2)
    measured = measure_stream(client, stream.name, clock=clock, produce=result, exclude_first_s=1, window_s=window)
    offered = check_offered(result, needed=settings.effective_rate_min_offered, skip_first_s=1, window_s=window)
    return result, measured, offered


def skip_if_inconclusive(conclusive: bool, why: str, fix: str = CLIENT_BOUND_FIX) -> None:
    """After recording an inconclusive measurement: skip, saying what was missing (never a failure)."""
    if not conclusive:
        pytest.skip(f"inconclusive: {why}; {fix}")


def data_bytes(outcome: RecordOutcome) -> int:
    """A written record's data bytes (its size less its partition key)."""
    return outcome.size - len(outcome.partition_key.encode("utf-8"))


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
    result, m, offered = offer(kinesis_client_no_retry, stream, kinesis_clock, kinesis_settings, kind, UNDER_LOAD)
    expected = UNDER_LOAD * write.limit.value
    tolerance = (kinesis_settings.effective_rate_tolerance, kinesis_settings.effective_rate_tolerance_below)
    loaded = all(within_tolerance(rate, expected, above=tolerance[0], below=tolerance[1])
                 for rate in m.sustained(write.unit).values())
    complete = m.window_seconds == kinesis_settings.effective_rate_window and len(m.sustained(write.unit)) == shards
    ok = not result.refused and complete and loaded and m.records_read == result.sent
    # A late producer catches up in bursts, which a shard may refuse: then a refusal is not the shard's verdict.
    conclusive = offered.enough and not (result.refused and result.late_ticks)
    record_measurement(write.limit, m.max_sustained(write.unit), verdict=judge(ok, conclusive=conclusive),
                       unit=write.unit,
                       detail=f"{shards} shard(s), {UNDER_LOAD:.0%} offered: {result.sent - result.accepted} of "
                       f"{result.sent} refused; sustained per shard {per_shard(m, write.unit)}; "
                       f"{offered.describe()}",
                       shards=shards, load=UNDER_LOAD, refused=result.sent - result.accepted,
                       window_s=m.window_seconds, offered=offered.fraction, late_ticks=result.late_ticks, series=m)
    skip_if_inconclusive(conclusive, offered.describe() + (
        ", and records were refused after late ticks (catch-up bursts)" if offered.enough else ""))
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
    result, m, offered = offer(kinesis_client_no_retry, stream, kinesis_clock, kinesis_settings, kind, OVER_LOAD)
    above, below = kinesis_settings.effective_rate_tolerance, kinesis_settings.effective_rate_tolerance_below
    rates = m.sustained(write.unit)
    at_limit = len(rates) == shards and m.window_seconds == kinesis_settings.effective_rate_window and all(
        within_tolerance(rate, write.limit.value, above=above, below=below) for rate in rates.values())
    refused = [o for o in result.outcomes if not o.accepted]
    per_record = bool(refused) and all(o.error_code == THROTTLED and not o.whole_call_error for o in refused)
    read_back = m.records_read == result.accepted
    ok = at_limit and per_record and read_back
    record_measurement(write.limit, m.max_sustained(write.unit), verdict=judge(ok, conclusive=offered.enough),
                       unit=write.unit,
                       detail=f"{shards} shard(s), {OVER_LOAD:.0%} offered: sustained per shard "
                       f"{per_shard(m, write.unit)} (tolerance +{above:.0%}/-{below:.0%}); {len(refused)} of "
                       f"{result.sent} refused {dict(result.refused)}; {offered.describe()}",
                       shards=shards, load=OVER_LOAD, refused=len(refused), window_s=m.window_seconds,
                       min_sustained=m.min_sustained(write.unit), throttled_fraction=m.throttled_fraction,
                       offered=offered.fraction, late_ticks=result.late_ticks, series=m)
    skip_if_inconclusive(offered.enough, offered.describe())
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
    """GetRecords ``Limit`` is 1..10,000: the maximum is taken, one more is refused by the service (botocore
    checks only the minimum client-side) with either documented code, InvalidArgumentException (API reference)
    or ValidationException (the model's range); the code used is recorded. Measured: the ``Limit`` the backend
    accepted (None when it refused it). The probe follows empty first pages (AWS may answer TRIM_HORIZON empty)."""
    client = kinesis_client_no_retry
    client.put_records(StreamName=kinesis_stream.name,
                       Records=[{"Data": b"{}", "PartitionKey": "k"} for _ in range(3)])
    probe = probe_get_records(client, kinesis_stream.name, _first_shard(client, kinesis_stream), limit=limit)
    said = (f"accepted, {probe.records} records returned (call {probe.calls})" if probe.ok
            else f"refused: {probe.error_code}: {probe.error_message}")
    ok = probe.ok == taken and (probe.records == 3 if taken else probe.error_code in LIMIT_REFUSALS)
    documented_by = LIMIT_REFUSALS.get(probe.error_code or "")
    record_measurement(GET_MAX_RECORDS, limit if probe.ok else None, verdict=judge(ok),
                       detail=f"Limit={limit:,}: {said}" + (f" (documented: {documented_by})" if documented_by else ""),
                       error_code=probe.error_code, calls=probe.calls)
    if taken:
        assert probe.ok and probe.records == 3, f"Limit={limit:,}: {said}"
    else:
        assert not probe.ok, f"Limit={limit:,} over the documented maximum was {said}"
        assert probe.error_code in LIMIT_REFUSALS, (f"Limit={limit:,}: {said}; documented refusals: "
                                                    f"{sorted(LIMIT_REFUSALS)}")


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
    shard = _first_shard(client, kinesis_stream)
    probe = probe_get_records(client, kinesis_stream.name, shard)
    cap = GET_MAX_BYTES.value
    within = probe.ok and probe.data_bytes <= cap
    # Proof that the byte cap cut the page: the record written right after it would have taken it over the cap
    # (data bytes only, the smaller count: then it would not fit whether or not the service counts keys too).
    after = next_written(fill, shard, probe.last_sequence_number) if probe.last_sequence_number else None
    cut = after is not None and probe.data_bytes + data_bytes(after) > cap
    why = ("no record was written after the page" if after is None else
           f"the next record ({data_bytes(after):,} B) would have made {probe.data_bytes + data_bytes(after):,} B, "
           f"{'over' if cut else 'within'} the cap")
    said = (f"{probe.records} of {count} records, {probe.data_bytes:,} data bytes (call {probe.calls}); {why}"
            if probe.ok else f"refused: {probe.error_code}: {probe.error_message}")
    record_measurement(GET_MAX_BYTES, probe.data_bytes if probe.ok else None,
                       verdict=judge(within and cut, conclusive=cut or not within),
                       detail=f"shard holds {stored:,} B; one GetRecords returned {said}", cut_by_cap=cut)
    assert probe.ok, said
    assert probe.data_bytes <= cap, f"one call returned more than {cap:,} B: {said}"
    skip_if_inconclusive(cut, f"the page was not cut by the byte cap ({said}), so it says nothing about the cap",
                         fix="a backend may return fewer records than fit; the measurement is recorded as "
                         "inconclusive")


@pytest.mark.parametrize("calls", [
    pytest.param(READ_CALLS.value, id="at"),
    pytest.param(READ_CALLS.value + 1, id="over", marks=pytest.mark.kinesis_gap(
        "moto-plain", reason="moto never throttles GetRecords")),
])
def test_throughput_read_calls_per_second(calls, kinesis_client_no_retry, kinesis_stream, kinesis_clock,
                                          kinesis_settings, record_measurement):
    """Up to 5 GetRecords calls per shard within one second are served; of 6, one is throttled.

    With more than one call in flight allowed (``--kinesis-rate-in-flight``, live and endpoint runs), the calls
    go out concurrently at their times, so round trips do not push them out of their second. The verdict is
    inconclusive when the calls did not meet within one second (first send to last answer): then the probe
    says nothing about a per-second limit. A throttle among 5 calls fails whatever their spacing.
    """
    client = kinesis_client_no_retry
    probe = probe_read_calls_per_second(client, kinesis_stream.name, _first_shard(client, kinesis_stream), calls,
                                        kinesis_clock, concurrent=kinesis_settings.effective_rate_in_flight > 1)
    throttled = probe.throttled_indices
    expected = max(0, calls - READ_CALLS.value)
    said = (f"{calls} calls within {probe.span:.2f} s (first send to last answer): throttled "
            f"{throttled or 'none'} ({[c.error_code for c in probe.calls if c.error_code]})")
    ok = probe.within_one_second and len(throttled) == expected
    conclusive = probe.within_one_second or (expected == 0 and bool(throttled))
    record_measurement(READ_CALLS, calls - len(throttled), verdict=judge(ok, conclusive=conclusive), detail=said,
                       calls=calls, span_s=probe.span)
    skip_if_inconclusive(conclusive, f"the probe could not get its calls inside one second: {said}",
                         fix="run closer to the region, or allow concurrent calls with --kinesis-rate-in-flight; "
                         "the measurement is recorded as inconclusive")
    assert len(throttled) == expected, f"expected {expected} throttled call(s) of {calls}: {said}"
