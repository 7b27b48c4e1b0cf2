"""Delivery checks: waiting for delivered records and measuring delivery, on the clock and on the services'
clocks.

The second layer of :mod:`pytest_kinesis_limits.firehose` (uses :mod:`.objects` only). Compares what arrived in
S3 (:func:`~pytest_kinesis_limits.firehose.objects.list_delivered`) with what was expected: delivered, missing,
duplicated (Firehose is at-least-once), unexpected, and per-record latency from the source's
ApproximateArrivalTimestamp to the S3 object's LastModified. Users import it all from
:mod:`pytest_kinesis_limits.firehose`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.kinesis.resources import WaitPolicy, wait_until
from pytest_kinesis_limits.firehose.objects import DeliveredObject, list_delivered


# ----------------------------------------------------------------------------------- waiting for records
@dataclass
class DeliveryResult:
    """What arrived in S3 compared with what was expected."""

    expected: int
    delivered: set[Hashable]
    missing: list[Hashable]
    duplicates: dict[Hashable, int]
    """Ids delivered more than once, with their counts (Firehose is at-least-once: reported, not an error)."""
    unexpected: list[Hashable]
    objects: list[DeliveredObject]
    latencies: dict[Hashable, float]
    """Seconds from each id's start time (``send_times`` or :meth:`measure_latencies`) to the LastModified of
    the first object holding it (only ids with a start time)."""
    timed_out: bool
    waited_s: float
    polls: int
    located: dict[Hashable, DeliveredObject] = field(default_factory=dict)
    """The first object (in :func:`list_delivered` order) holding each delivered id."""

    @property
    def complete(self) -> bool:
        """Every expected record arrived and every object is in the documented format."""
        return not self.missing and not self.malformed

    @property
    def malformed(self) -> list[DeliveredObject]:
        """Objects whose key or body is not in the documented format."""
        return [o for o in self.objects if not o.ok]

    def missing_examples(self, n: int = 10) -> list[Hashable]:
        """The first ``n`` missing ids, for messages."""
        return self.missing[:n]

    @property
    def max_latency_s(self) -> float | None:
        """The longest delivery latency, or ``None`` without send times."""
        return max(self.latencies.values()) if self.latencies else None

    def measure_latencies(self, start_times: Mapping[Hashable, float]) -> dict[Hashable, float]:
        """Replace :attr:`latencies` by LastModified minus ``start_times[id]`` (epoch s) and return them.

        Pass the records' ``ApproximateArrivalTimestamp`` (:func:`arrival_times`): both ends are then the
        service's clocks (Kinesis and S3), not the client's, so client clock skew does not enter.
        """
        self.latencies = _latencies(self.located, start_times)
        return self.latencies

    def summary(self) -> str:
        """One line for assertion messages and reports."""
        parts = [f"{len(self.delivered)}/{self.expected} delivered in {len(self.objects)} object(s)"]
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {self.missing_examples(5)})")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} duplicated")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected")
        if self.malformed:
            first = self.malformed[0]
            parts.append(f"{len(self.malformed)} malformed ({first.key_error or first.body_error})")
        if self.latencies:
            parts.append(f"max latency {self.max_latency_s:.1f} s")
        if self.timed_out:
            parts.append(f"timed out after {self.waited_s:.1f} s")
        return "; ".join(parts)


def _to_epoch(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _latencies(located: Mapping[Hashable, DeliveredObject],
               start_times: Mapping[Hashable, float] | None) -> dict[Hashable, float]:
    latencies: dict[Hashable, float] = {}
    for rid, start in (start_times or {}).items():
        obj = located.get(rid)
        if obj is not None and obj.last_modified is not None:
            latencies[rid] = _to_epoch(obj.last_modified) - start
    return latencies


def compare_delivery(objects: list[DeliveredObject], expected_ids: Iterable[Hashable],
                     identify: Callable[[Any], Hashable], send_times: Mapping[Hashable, float] | None = None,
                     *, timed_out: bool = False, waited_s: float = 0.0, polls: int = 0) -> DeliveryResult:
    """Compare the records in ``objects`` with ``expected_ids`` (``identify`` maps a record to its id)."""
    wanted = list(expected_ids)
    wanted_set = set(wanted)
    counts: Counter[Hashable] = Counter()
    first_seen: dict[Hashable, DeliveredObject] = {}
    for obj in objects:
        for record in obj.records:
            rid = identify(record)
            counts[rid] += 1
            first_seen.setdefault(rid, obj)
    return DeliveryResult(
        expected=len(wanted_set),
        delivered={rid for rid in counts if rid in wanted_set},
        missing=[rid for rid in wanted if rid not in counts],
        duplicates={rid: n for rid, n in counts.items() if n > 1},
        unexpected=[rid for rid in counts if rid not in wanted_set],
        objects=objects, latencies=_latencies(first_seen, send_times), timed_out=timed_out, waited_s=waited_s,
        polls=polls, located=first_seen)


def poll_until(check: Callable[[], bool], clock: Clock, timeout_s: float, poll_s: float, what: str) -> bool:
    """Call ``check`` now and every ``poll_s`` clock seconds until it is true or ``timeout_s`` has passed;
    return whether it came true. Never raises on the bound.

    :func:`pytest_kinesis_limits.kinesis.resources.wait_until` does the polling (its count of checks is the bound
    on a simulated clock); the clock deadline also stops it when checks themselves take time (live). The
    last check is the first poll at or after the bound.
    """
    if timeout_s < 0 or poll_s <= 0:
        raise ValueError(f"timeout_s must be >= 0 and poll_s > 0 (got {timeout_s}, {poll_s})")
    deadline = clock.now() + timeout_s
    came_true = False

    def done() -> bool:
        nonlocal came_true
        came_true = check()
        return came_true or clock.now() >= deadline

    policy = WaitPolicy(delay=poll_s, attempts=math.ceil(timeout_s / poll_s) + 1)
    try:
        wait_until(done, clock=clock, policy=policy, what=what)
    except TimeoutError:
        pass
    return came_true


def delivery_bound_s(buffer_seconds: int, policy: WaitPolicy) -> float:
    """How long to wait for a record to be delivered: the interval hint plus the wait policy's whole span."""
    return buffer_seconds + policy.delay * policy.attempts


def delivery_poll_s(policy: WaitPolicy, buffer_seconds: int = 0) -> float:
    """How often to look for delivered objects: the wait policy's delay, but at least one read period of the
    delivery stream and a tenth of its interval hint.

    Firehose reads each source shard once a second (catalogue) and writes at most once per interval, so
    polling faster learns nothing; latencies come from the objects' LastModified, not from the polls.
    """
    return max(policy.delay, 1.0 / limits.FIREHOSE_SOURCE_READS_PER_S.value, buffer_seconds / 10)


def source_read_options() -> dict[str, float]:
    """Pacing for a reader of a delivery stream's *source* (``reader.read_stream(..., **source_read_options())``,
    or the ``read_records`` fixture): the shard's read limits minus the delivery stream's share.

    A shard serves 5 GetRecords calls and 2 MiB per second to all its consumers together, and a Kinesis-source
    delivery stream makes one of those calls every second (catalogue: ``shard.read.calls_per_s``,
    ``shard.read.bytes_per_s``, ``firehose.source.reads_per_s``). Reading at the full 5 calls/s beside it
    throttles both. Firehose reads what was written, at most the shard's write rate (``shard.write.bytes_per_s``),
    so that is the bytes it is left.
    """
    calls = limits.SHARD_READ_CALLS_PER_S.value - limits.FIREHOSE_SOURCE_READS_PER_S.value
    nbytes = limits.SHARD_READ_BYTES_PER_S.value - limits.SHARD_WRITE_BYTES_PER_S.value
    return {"calls_per_s": float(calls), "bytes_per_s": float(nbytes)}


def wait_for_records(s3_client: Any, bucket: str, expected_ids: Iterable[Hashable],
                     identify: Callable[[Any], Hashable], clock: Clock, timeout_s: float, poll_s: float, *,
                     prefix: str = "", stream_name: str | None = None, key_prefix: str | None = None,
                     delimiter: bytes | None = None,
                     send_times: Mapping[Hashable, float] | None = None) -> DeliveryResult:
    """Poll the bucket until every expected id has arrived, or ``timeout_s`` has passed on ``clock``.

    Records are JSON (bodies split with :func:`split_json_records`); ``identify(record)`` gives a record's id.
    Never raises on a timeout: the result says what is missing (``result.timed_out``), what is duplicated and
    which objects are malformed. Objects already read are not fetched again. ``send_times`` (epoch s per id)
    fill ``latencies``; prefer :meth:`DeliveryResult.measure_latencies` with :func:`arrival_times` afterwards.
    """
    wanted = list(expected_ids)
    start = clock.now()
    cache: dict[str, DeliveredObject] = {}
    last: list[DeliveryResult] = []

    def arrived() -> bool:
        objects = list_delivered(s3_client, bucket, prefix, stream_name=stream_name, key_prefix=key_prefix,
                                 delimiter=delimiter, _cache=cache)
        last.append(compare_delivery(objects, wanted, identify, send_times, waited_s=clock.now() - start,
                                     polls=len(last) + 1))
        return not last[-1].missing

    complete = poll_until(arrived, clock, timeout_s, poll_s, f"records in s3://{bucket}/{prefix}")
    result = last[-1]
    result.timed_out = not complete
    return result


# ------------------------------------------------------------------------- latencies on the service clocks
def arrival_times(records: Iterable[Any], identify: Callable[[Any], Hashable]) -> dict[Hashable, float]:
    """``{id: ApproximateArrivalTimestamp}`` of records read back from the source stream.

    ``records`` are :class:`pytest_kinesis_limits.kinesis.reader.ReadRecord` (``.data`` bytes, ``.arrival`` epoch s,
    e.g. from the ``read_records`` fixture); each data blob is decoded as JSON and passed to ``identify``.
    Records that are not JSON, or whose id is ``None``, are left out; an id stored twice keeps its first
    arrival. With S3's LastModified as the end, a latency is measured on the services' clocks only.
    """
    arrivals: dict[Hashable, float] = {}
    for record in records:
        try:
            rid = identify(json.loads(record.data))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        if rid is not None:
            arrivals[rid] = min(arrivals.get(rid, record.arrival), record.arrival)
    return arrivals


def object_waits(objects: Iterable[DeliveredObject], arrivals: Mapping[Hashable, float],
                 identify: Callable[[Any], Hashable]) -> list[tuple[DeliveredObject, float | None]]:
    """For each object: its LastModified minus the earliest arrival among its records (how long its oldest
    record waited in the buffer, plus Firehose's read), or ``None`` without a known arrival."""
    waits: list[tuple[DeliveredObject, float | None]] = []
    for obj in objects:
        starts = [arrivals[rid] for rid in map(identify, obj.records) if rid in arrivals]
        waits.append((obj, _to_epoch(obj.last_modified) - min(starts)
                      if starts and obj.last_modified is not None else None))
    return waits
