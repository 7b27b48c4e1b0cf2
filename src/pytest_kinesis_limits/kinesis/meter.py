"""Measure accepted throughput on the service's clock, and probe the read limits.

Rates are counted from each record's ``ApproximateArrivalTimestamp``: the service's clock, not the
client's (the seed test's mistake: client and service clocks are not synchronised and a client-side
burst says nothing about a per-second limit). Per shard and per whole second, :func:`measure` counts
accepted records and bytes (data + partition key); the *sustained* rate is their mean over a window that
leaves out the first second (a shard absorbs a burst there, and it is usually partial) and the last second
with arrivals (partial: the producer stopped somewhere inside it).

Records are read back with the project's one reader, :func:`pytest_kinesis_limits.kinesis.reader.read_stream`
(lineage-aware and paced within the read limits); :func:`measure_stream` reads and measures in one call.
:func:`measure` takes anything with the :class:`ReadRecordLike` fields.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError, ParamValidationError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.kinesis.payloads import record_size
from pytest_kinesis_limits.kinesis.producer_log import ProduceResult, RecordOutcome
from pytest_kinesis_limits.kinesis.reader import THROTTLED, list_all_shards, open_shards, read_stream, stream_kwargs


class ReadRecordLike(Protocol):
    """The fields the meter needs of a record read back (:class:`pytest_kinesis_limits.kinesis.reader.ReadRecord`)."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float


@dataclass
class ShardSeries:
    """One shard's accepted records and bytes per whole second of arrival, and its sustained rates."""

    shard_id: str
    records: dict[int, int] = field(default_factory=dict)
    bytes: dict[int, int] = field(default_factory=dict)
    sustained_records_per_s: float | None = None
    sustained_bytes_per_s: float | None = None

    @property
    def peak_records_per_s(self) -> int:
        """Most records accepted in any one second (the burst second included)."""
        return max(self.records.values(), default=0)

    @property
    def peak_bytes_per_s(self) -> int:
        """Most bytes accepted in any one second (the burst second included)."""
        return max(self.bytes.values(), default=0)


@dataclass
class Measurement:
    """Per-shard series, the sustained window and the producer's refusals, with a text summary."""

    shards: dict[str, ShardSeries]
    window: tuple[int, int] | None
    exclude_first_s: int
    records_read: int
    bytes_read: int
    produce: ProduceResult | None = None

    @property
    def window_seconds(self) -> int:
        """Length of the sustained window in seconds (0 when the run was too short)."""
        return 0 if self.window is None else self.window[1] - self.window[0]

    def sustained(self, unit: str = "records/s") -> dict[str, float]:
        """Sustained rate per shard in ``unit`` (``records/s`` or ``bytes/s``); empty without a window."""
        attribute = "sustained_records_per_s" if unit == "records/s" else "sustained_bytes_per_s"
        return {sid: getattr(s, attribute) for sid, s in self.shards.items()
                if getattr(s, attribute) is not None}

    def max_sustained(self, unit: str = "records/s") -> float | None:
        """The highest shard's sustained rate (what an upper-bound check looks at)."""
        return max(self.sustained(unit).values(), default=None)

    def min_sustained(self, unit: str = "records/s") -> float | None:
        """The lowest shard's sustained rate (what a lower-bound check looks at)."""
        return min(self.sustained(unit).values(), default=None)

    @property
    def throttled(self) -> int:
        """Records the producer finally saw refused with ProvisionedThroughputExceededException."""
        return 0 if self.produce is None else self.produce.refused.get(THROTTLED, 0)

    @property
    def throttled_fraction(self) -> float | None:
        """Throttled records over records sent (``None`` without the producer's log)."""
        if self.produce is None or self.produce.sent == 0:
            return None
        return self.throttled / self.produce.sent

    def only(self, shards: Iterable[str]) -> Measurement:
        """The series of ``shards`` alone, on the same window (a part of a stream offered different loads)."""
        kept = {sid: series for sid, series in self.shards.items() if sid in set(shards)}
        return Measurement(kept, self.window, self.exclude_first_s,
                           sum(sum(s.records.values()) for s in kept.values()),
                           sum(sum(s.bytes.values()) for s in kept.values()))

    def summary(self) -> str:
        """A readable multi-line summary for failure messages."""
        lines = []
        if self.window is None:
            lines.append(f"no sustained window: arrivals span too few whole seconds (first "
                         f"{self.exclude_first_s} s and the last partial second are excluded)")
        else:
            lines.append(f"sustained window: {self.window_seconds} s, epoch seconds [{self.window[0]}, "
                         f"{self.window[1]}) by ApproximateArrivalTimestamp (first {self.exclude_first_s} s "
                         f"and the last partial second excluded)")
        lines.append(f"read back {self.records_read} records, {self.bytes_read} B")
        if self.produce is not None:
            fraction = self.throttled_fraction
            lines.append(f"producer: {self.produce.summary()}; throttled fraction "
                         f"{'n/a' if fraction is None else f'{fraction:.1%}'}")
        lines.append(f"{'shard':<24}{'sustained rec/s':>16}{'sustained B/s':>16}{'peak rec/s':>12}"
                     f"{'peak B/s':>12}")
        for sid, s in sorted(self.shards.items()):
            rec = "-" if s.sustained_records_per_s is None else f"{s.sustained_records_per_s:.1f}"
            byt = "-" if s.sustained_bytes_per_s is None else f"{s.sustained_bytes_per_s:.0f}"
            lines.append(f"{sid:<24}{rec:>16}{byt:>16}{s.peak_records_per_s:>12}{s.peak_bytes_per_s:>12}")
        for sid, s in sorted(self.shards.items()):
            if s.records:
                first = min(s.records)
                series = " ".join(f"+{sec - first}:{n}" for sec, n in sorted(s.records.items()))
                lines.append(f"{sid} records per second: {series}")
        return "\n".join(lines)


def measure(records: Iterable[ReadRecordLike], *, produce: ProduceResult | None = None,
            shard_ids: Sequence[str] | None = None, exclude_first_s: int = 1,
            window_s: int | None = None) -> Measurement:
    """Per-shard, per-second accepted records and bytes from arrival times, and the sustained rates.

    The window starts ``exclude_first_s`` whole seconds after the first arrival's second (one origin for
    all shards) and ends before the last arrival's second; ``window_s`` caps its length. A second without
    arrivals inside the window counts as zero. ``shard_ids`` lists shards to report even if nothing
    arrived on them. With ``produce``, each accepted outcome gets its ``arrival`` filled in (matched by
    shard id and sequence number) and the summary includes the producer's refusals.
    """
    records = list(records)
    shards: dict[str, ShardSeries] = {sid: ShardSeries(sid) for sid in (shard_ids or [])}
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sizes: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        second = math.floor(record.arrival)
        counts[record.shard_id][second] += 1
        sizes[record.shard_id][second] += record_size(record.data, record.partition_key)
        shards.setdefault(record.shard_id, ShardSeries(record.shard_id))
    for sid, series in shards.items():
        series.records, series.bytes = dict(sorted(counts[sid].items())), dict(sorted(sizes[sid].items()))
    window: tuple[int, int] | None = None
    if records:
        start = math.floor(min(r.arrival for r in records)) + exclude_first_s
        end = math.floor(max(r.arrival for r in records))
        if window_s is not None:
            end = min(end, start + window_s)
        if end > start:
            window = (start, end)
    if window is not None:
        length = window[1] - window[0]
        for series in shards.values():
            seconds = range(*window)
            series.sustained_records_per_s = sum(series.records.get(s, 0) for s in seconds) / length
            series.sustained_bytes_per_s = sum(series.bytes.get(s, 0) for s in seconds) / length
    if produce is not None:
        fill_arrivals(produce, records)
    total_bytes = sum(record_size(r.data, r.partition_key) for r in records)
    return Measurement(shards, window, exclude_first_s, len(records), total_bytes, produce)


def measure_stream(client: Any, stream: str, *, clock: Clock, produce: ProduceResult | None = None,
                   exclude_first_s: int = 1, window_s: int | None = None, **read_options: Any) -> Measurement:
    """Read every record of ``stream`` back (:func:`pytest_kinesis_limits.kinesis.reader.read_stream`) and measure it.

    Every shard the reader visited is reported, even one where nothing arrived. ``read_options`` go to the
    reader (e.g. ``limit``, ``calls_per_s``); the other arguments are :func:`measure`'s.
    """
    result = read_stream(client, stream, clock=clock, **read_options)
    return measure(result.records, produce=produce, shard_ids=result.shard_order,
                   exclude_first_s=exclude_first_s, window_s=window_s)


def fill_arrivals(produce: ProduceResult, records: Iterable[ReadRecordLike]) -> int:
    """Set ``arrival`` on the producer's accepted outcomes from the records read; return how many matched."""
    arrivals = {(r.shard_id, r.sequence_number): r.arrival for r in records}
    matched = 0
    for outcome in produce.outcomes:
        if outcome.accepted:
            outcome.arrival = arrivals.get((outcome.shard_id, outcome.sequence_number))
            matched += outcome.arrival is not None
    return matched


def within_tolerance(measured: float, documented: float, *, above: float, below: float) -> bool:
    """Whether ``measured`` lies in ``[documented * (1 - below), documented * (1 + above)]``."""
    return documented * (1 - below) <= measured <= documented * (1 + above)


# --- did the client offer the load? ------------------------------------------------------------------

@dataclass(frozen=True)
class OfferCheck:
    """Whether a run offered the load a write verdict needs, as the service answered it on the client's clock.

    ``fraction`` is :meth:`~pytest_kinesis_limits.kinesis.producer_log.ProduceResult.offered_fraction`: records (or bytes)
    the service judged one by one per second of the measured window, over the target. A client too far from
    the region, with too little upload bandwidth or too few calls in flight gets fewer answers than it meant
    to send; ``late_ticks`` counts the ticks that could not start their calls on time.
    """

    target: float
    unit: str
    fraction: float | None
    needed: float
    late_ticks: int
    ticks: int

    @property
    def enough(self) -> bool:
        """Whether the service saw at least ``needed`` of the target."""
        return self.fraction is not None and self.fraction >= self.needed

    def describe(self) -> str:
        seen = "nothing measurable" if self.fraction is None else f"{self.fraction:.1%}"
        return (f"the service answered {seen} of the target {self.target:,.0f} {self.unit} on the client's clock "
                f"(needed {self.needed:.0%}); {self.late_ticks} of {self.ticks} ticks late")


def check_offered(produce: ProduceResult, *, needed: float, skip_first_s: float = 1.0,
                  window_s: float | None = None) -> OfferCheck:
    """How much of its target ``produce`` got answered in the window that starts ``skip_first_s`` after the run
    started and lasts ``window_s`` (the meter's window, on the client's clock), against the ``needed`` share."""
    if produce.target is None:
        raise ValueError("an unpaced run has no target to compare with")
    return OfferCheck(produce.target.value, produce.target.unit,
                      produce.offered_fraction(skip_first_s=skip_first_s, window_s=window_s), needed,
                      produce.late_ticks, produce.ticks)


def next_written(produce: ProduceResult, shard_id: str, after_sequence_number: str) -> RecordOutcome | None:
    """The accepted record the producer's log places right after ``after_sequence_number`` on ``shard_id``
    (by sequence number, the shard's order), or ``None`` when it wrote nothing after it there."""
    after = int(after_sequence_number)
    later = [o for o in produce.outcomes if o.accepted and o.shard_id == shard_id
             and int(o.sequence_number) > after]  # type: ignore[arg-type]
    return min(later, key=lambda o: int(o.sequence_number), default=None)  # type: ignore[arg-type]


# --- read probes -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReadCall:
    """One GetRecords call of a probe: when it was sent and answered (probe clock), whether it was throttled,
    what it returned."""

    index: int
    at: float
    throttled: bool
    error_code: str | None
    records: int
    bytes: int
    answered_at: float | None = None

    @property
    def done_at(self) -> float:
        """When the answer came back (``at`` where it was not recorded)."""
        return self.at if self.answered_at is None else self.answered_at


@dataclass(frozen=True)
class ReadProbe:
    """The calls of :func:`probe_read_calls_per_second`."""

    shard_id: str
    calls: tuple[ReadCall, ...]

    @property
    def throttled_indices(self) -> list[int]:
        """0-based indices of the throttled calls."""
        return [c.index for c in self.calls if c.throttled]

    @property
    def span(self) -> float:
        """From the first call's send to the last answer: the longest the calls can have been apart at the
        service, whatever its clock (each call reached it between its send and its answer)."""
        if not self.calls:
            return 0.0
        return max(c.done_at for c in self.calls) - min(c.at for c in self.calls)

    @property
    def within_one_second(self) -> bool:
        """Whether every call reached the service within one second of the others (:attr:`span` < 1 s)."""
        return bool(self.calls) and self.span < 1.0


def _get_records(client: Any, iterator: str, clock: Clock) -> tuple[dict[str, Any] | ClientError, float]:
    try:
        answer: dict[str, Any] | ClientError = client.get_records(ShardIterator=iterator)
    except ClientError as exc:
        answer = exc
    return answer, clock.now()


def _read_call(index: int, at: float, answer: dict[str, Any] | ClientError, answered_at: float) -> ReadCall:
    if isinstance(answer, ClientError):
        code = answer.response.get("Error", {}).get("Code")
        return ReadCall(index, at, code == THROTTLED, code, 0, 0, answered_at)
    got = answer.get("Records", [])
    return ReadCall(index, at, False, None, len(got), sum(record_size(r["Data"], r["PartitionKey"]) for r in got),
                    answered_at)


def probe_read_calls_per_second(client: Any, stream: str, shard_id: str, calls: int, clock: Clock, *,
                                spread: float = 0.5, settle: float = 1.0, concurrent: bool = False) -> ReadProbe:
    """Make ``calls`` GetRecords calls on one shard within one second and report which were throttled.

    The probe first waits at least ``settle`` seconds and then to the next whole second on ``clock``, so
    that earlier reads fall outside the second it measures, whether the service counts calendar seconds
    or a sliding second. Call ``i`` then starts at ``start + i * spread / calls`` (all within ``spread``
    < 1 s). Serially (the default, deterministic on a simulated clock) each call waits for the previous
    answer and uses the iterator it returned, so round trips add up: six calls 200 ms away take 1.2 s.
    With ``concurrent``, each call starts on its own thread at its time, whatever the others' answers, all
    on the first iterator (retrying GetRecords with the same iterator is what a throttled reader does anyway).
    :attr:`ReadProbe.within_one_second` says whether the calls really met inside one second. Use a client
    with ``max_attempts=1``, or botocore's retries turn a throttled call into a late success.
    """
    if not 0 < spread < 1:
        raise ValueError("spread must be within (0, 1) seconds")
    iterator = client.get_shard_iterator(ShardId=shard_id, ShardIteratorType="TRIM_HORIZON",
                                         **stream_kwargs(stream))["ShardIterator"]
    start = float(math.ceil(clock.now() + settle))
    clock.sleep(max(0.0, start - clock.now()))
    made: list[ReadCall] = []
    if concurrent:
        with ThreadPoolExecutor(calls, thread_name_prefix="kinesis-read-probe") as pool:
            sent: list[tuple[int, float, Future[tuple[dict[str, Any] | ClientError, float]]]] = []
            for index in range(calls):
                clock.sleep(max(0.0, start + index * spread / calls - clock.now()))
                sent.append((index, clock.now(), pool.submit(_get_records, client, iterator, clock)))
            made = [_read_call(index, at, *future.result()) for index, at, future in sent]
        return ReadProbe(shard_id, tuple(made))
    for index in range(calls):
        clock.sleep(max(0.0, start + index * spread / calls - clock.now()))
        at = clock.now()
        answer, answered_at = _get_records(client, iterator, clock)
        made.append(_read_call(index, at, answer, answered_at))
        if not isinstance(answer, ClientError):
            iterator = answer.get("NextShardIterator") or iterator
    return ReadProbe(shard_id, tuple(made))


@dataclass(frozen=True)
class GetRecordsProbe:
    """A GetRecords probe's result: accepted or the error, how many records and data bytes the reported page
    held, and how many calls it took (empty pages followed)."""

    limit: int | None
    ok: bool
    error_code: str | None
    error_message: str | None
    records: int
    data_bytes: int
    calls: int = 1
    last_sequence_number: str | None = None  # of the page's last record: where the page was cut


def probe_get_records(client: Any, stream: str, shard_id: str, *, limit: int | None = None,
                      max_calls: int = limits.SHARD_READ_CALLS_PER_S.value) -> GetRecordsProbe:
    """GetRecords from TRIM_HORIZON with ``Limit=limit`` (omitted when ``None``), reporting the first page
    that holds records.

    AWS may answer the first calls from TRIM_HORIZON with an empty page even though the shard holds records,
    so empty pages are followed through ``NextShardIterator``, for at most ``max_calls`` calls (by default the
    per-shard reads per second, so the probe itself is never throttled); an error ends the probe. For the
    ``Limit`` cap (``get_records.max_records`` accepted, one more refused: botocore validates only the
    minimum client-side, so the service answers) and the per-call byte cap (``data_bytes`` never above
    ``get_records.max_bytes`` on a shard holding more; ``last_sequence_number`` with :func:`next_written`
    tells whether the next record would have crossed the cap, i.e. whether the cap is what cut the page).
    """
    iterator: str | None = client.get_shard_iterator(ShardId=shard_id, ShardIteratorType="TRIM_HORIZON",
                                                     **stream_kwargs(stream))["ShardIterator"]
    kwargs: dict[str, Any] = {} if limit is None else {"Limit": limit}
    calls = 0
    got: list[dict[str, Any]] = []
    while iterator and calls < max_calls:
        calls += 1
        try:
            response = client.get_records(ShardIterator=iterator, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return GetRecordsProbe(limit, False, error.get("Code"), error.get("Message"), 0, 0, calls)
        except ParamValidationError as exc:  # refused client-side (botocore checks the minimum only)
            return GetRecordsProbe(limit, False, type(exc).__name__, str(exc), 0, 0, calls)
        got = response.get("Records", [])
        if got:
            break
        iterator = response.get("NextShardIterator")
    return GetRecordsProbe(limit, True, None, None, len(got), sum(len(r["Data"]) for r in got), calls,
                           got[-1]["SequenceNumber"] if got else None)


def shard_ids_of(client: Any, stream: str) -> list[str]:
    """The open shards' ids, in hash key order (a convenience for ``measure(shard_ids=...)``)."""
    return [s["ShardId"] for s in open_shards(list_all_shards(client, stream))]
