"""The per-second series behind the throughput, resharding and Firehose verdicts, as plain JSON data.

A verdict says *that* a shard took its limit or a reshard lost nothing; a series shows *how*, second by
second. :func:`build` makes one from an object a test already holds, without changing the module that made it:

* a :class:`pytest_kinesis_limits.kinesis.meter.Measurement` (throughput) gives, per shard and per whole second of
  the **service's clock**, the records and bytes accepted (from ``ApproximateArrivalTimestamp``, as the
  verdict counts them) and refused. A refused record never arrived, so it is placed at its send time on the
  producer's clock moved by the median send-to-arrival difference of the accepted records (0 offline, where
  both are the simulated clock), on the shard its keys were accepted by;
* a :class:`pytest_kinesis_limits.kinesis.resharding.ReshardResult` gives, per shard and per second of the
  **producer's clock** (the clock that timed the reshard), the records acknowledged, when the reshard was
  issued and seen done, and every shard's parents from the final ListShards (the lineage);
* a Firehose :class:`pytest_kinesis_limits.firehose.DeliveryResult` gives every S3 object's
  delivery time and size and, once ``measure_latencies`` ran, each record's arrival and delivery latency
  (Kinesis and S3 clocks).

Times are seconds from the series' ``origin_epoch_s`` (whole seconds for the per-second kinds). The layout is
the ``series`` part of ``report.schema.json`` (documented in docs/report.md). No pytest, no moto.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits.families import SERIES_KINDS

if TYPE_CHECKING:
    from pytest_kinesis_limits.firehose import DeliveryResult
    from pytest_kinesis_limits.kinesis.meter import Measurement
    from pytest_kinesis_limits.kinesis.producer import ProduceResult
    from pytest_kinesis_limits.kinesis.resharding import ReshardResult
    from pytest_kinesis_limits.load.tally import SwarmTally

THROUGHPUT, RESHARDING, FIREHOSE = "throughput", "resharding", "firehose"
#: The kinds of series, one per family that keeps one (:data:`pytest_kinesis_limits.families.FAMILIES`).
KINDS = SERIES_KINDS


def build(source: Any) -> dict[str, Any]:
    """The series of ``source``: a meter ``Measurement``, a ``ReshardResult``, a Firehose ``DeliveryResult``,
    or a series already built (a mapping with a ``kind``), returned as a copy."""
    from pytest_kinesis_limits.firehose import DeliveryResult
    from pytest_kinesis_limits.kinesis.meter import Measurement
    from pytest_kinesis_limits.kinesis.resharding import ReshardResult

    if isinstance(source, Measurement):
        return throughput(source)
    if isinstance(source, ReshardResult):
        return resharding(source)
    if isinstance(source, DeliveryResult):
        return firehose(source)
    if isinstance(source, Mapping) and source.get("kind") in KINDS:
        return dict(source)
    raise TypeError(f"no series can be made of a {type(source).__name__}: pass a meter.Measurement, a "
                    f"resharding.ReshardResult or a firehose DeliveryResult (or a series dict with a 'kind' of "
                    f"{', '.join(KINDS)})")


def _dense(counts: Mapping[int, int], origin: int, length: int) -> list[int]:
    return [counts.get(origin + i, 0) for i in range(length)]


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _clock_offset(produce: ProduceResult) -> float:
    """Median of (arrival - send time) over accepted records with a known arrival: how far the service's clock
    runs from the producer's, send latency included (0.0 without any)."""
    gaps = [o.arrival - o.sent_at for o in produce.outcomes if o.accepted and o.arrival is not None]
    return statistics.median(gaps) if gaps else 0.0


def throughput(m: Measurement) -> dict[str, Any]:
    """Accepted and refused records and bytes per shard per second on the service's clock (see the module)."""
    accepted_records = {sid: dict(s.records) for sid, s in m.shards.items()}
    accepted_bytes = {sid: dict(s.bytes) for sid, s in m.shards.items()}
    refused_records: dict[str, Counter[int]] = defaultdict(Counter)
    refused_bytes: dict[str, Counter[int]] = defaultdict(Counter)
    unplaced = Counter[str]()
    produce = m.produce
    if produce is not None:
        offset = _clock_offset(produce)
        shard_of_keys = {(o.partition_key, o.explicit_hash_key): o.shard_id for o in produce.outcomes
                         if o.accepted and o.shard_id}
        for o in produce.outcomes:
            if o.accepted:
                continue
            sid = shard_of_keys.get((o.partition_key, o.explicit_hash_key))
            if sid is None:
                unplaced["records"] += 1
                unplaced["bytes"] += o.size
                continue
            second = math.floor(o.sent_at + offset)
            refused_records[sid][second] += 1
            refused_bytes[sid][second] += o.size
    seconds = [s for counts in (*accepted_records.values(), *refused_records.values()) for s in counts]
    origin = min(seconds, default=0)
    length = max(seconds, default=origin - 1) - origin + 1
    shard_ids = sorted(set(accepted_records) | set(refused_records))
    shards = [{
        "shard_id": sid,
        "accepted_records": _dense(accepted_records.get(sid, {}), origin, length),
        "accepted_bytes": _dense(accepted_bytes.get(sid, {}), origin, length),
        "refused_records": _dense(refused_records.get(sid, {}), origin, length),
        "refused_bytes": _dense(refused_bytes.get(sid, {}), origin, length),
        "sustained_records_per_s": _round(m.shards[sid].sustained_records_per_s if sid in m.shards else None),
        "sustained_bytes_per_s": _round(m.shards[sid].sustained_bytes_per_s if sid in m.shards else None),
    } for sid in shard_ids]
    series: dict[str, Any] = {
        "kind": THROUGHPUT, "clock": "service", "origin_epoch_s": origin, "bin_s": 1, "length": length,
        "window": None if m.window is None else [m.window[0] - origin, m.window[1] - origin],
        "exclude_first_s": m.exclude_first_s, "shards": shards,
        "refused_unplaced": {"records": unplaced["records"], "bytes": unplaced["bytes"]},
    }
    if produce is not None:
        series["offered"] = {"records": produce.sent, "bytes": produce.bytes_sent,
                             "target": None if produce.target is None else str(produce.target),
                             "refused_by_code": produce.refused}
    return series


def swarm(m: Measurement, tally: SwarmTally, *, limit_in_force: float | None = None,
          layer_scale: float = 1.0) -> dict[str, Any]:
    """A throughput series of a swarm's run (the scale family): accepted records and bytes per shard and second from
    the stream read back (``m``, the service's clock), refused records from the swarm's counts (the workers' clock),
    moved by the difference of the two clocks' first second with accepted records (a refused record never arrived).
    With a ``layer_scale`` other than 1 (the offline rehearsal) the series carries the per-shard limit in force,
    which its plot draws instead of the documented one."""
    series = throughput(m)
    if layer_scale != 1 and limit_in_force is not None:
        series["limit_in_force"] = limit_in_force
        series["layer_scale"] = layer_scale
    accepted = [s for shard in tally.shards for s, n in tally.per_second(shard).items() if n]
    arrived = [s for shard in m.shards.values() for s, n in shard.records.items() if n]
    offset = (min(arrived) - min(accepted)) if accepted and arrived else 0
    origin, length = series["origin_epoch_s"], series["length"]
    by_shard = {entry["shard_id"]: entry for entry in series["shards"]}
    for shard in tally.shards:
        entry = by_shard.get(shard)
        if entry is None:
            continue
        refused = {s + offset: t + f for s, (_, t, f, _) in tally.seconds[shard].items() if t + f}
        entry["refused_records"] = _dense(refused, origin, length)
        entry["refused_bytes"] = [0] * length  # the swarm counts refused records, not their bytes
    totals = tally.totals()
    series["offered"] = {"records": totals["accepted"] + totals["throttled"] + totals["failed"],
                         "bytes": totals["accepted_bytes"], "target": None, "refused_by_code": dict(tally.errors)}
    return series


def _lineage(listing: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    from pytest_kinesis_limits.kinesis.reader import hash_range, is_closed

    shards: dict[str, dict[str, Any]] = {}
    for shard in listing:
        start, end = hash_range(shard)
        shards[shard["ShardId"]] = {
            "parent": shard.get("ParentShardId"), "adjacent_parent": shard.get("AdjacentParentShardId"),
            "closed": is_closed(shard), "hash_key_range": [str(start), str(end)],
        }
    return shards


def resharding(r: ReshardResult) -> dict[str, Any]:
    """Records acknowledged per shard per second on the producer's clock, the reshard and the lineage."""
    produce = r.produce
    origin = produce.started_at if produce is not None else (r.issued_at or 0.0)
    ended = produce.ended_at if produce is not None else origin
    length = max(1, math.ceil(ended - origin))
    accepted_records: dict[str, Counter[int]] = defaultdict(Counter)
    accepted_bytes: dict[str, Counter[int]] = defaultdict(Counter)
    refused = Counter[int]()
    for o in produce.outcomes if produce is not None else ():
        second = min(length - 1, max(0, math.floor(o.sent_at - origin)))
        if o.accepted and o.shard_id:
            accepted_records[o.shard_id][second] += 1
            accepted_bytes[o.shard_id][second] += o.size
        elif not o.accepted:
            refused[second] += 1
    lineage = _lineage(r.listing)
    shard_ids = sorted(set(lineage) | set(accepted_records))
    shards = []
    for sid in shard_ids:
        known = lineage.get(sid, {"parent": None, "adjacent_parent": None, "closed": None, "hash_key_range": None})
        shards.append({"shard_id": sid, **known,
                       "accepted_records": _dense(accepted_records.get(sid, {}), 0, length),
                       "accepted_bytes": _dense(accepted_bytes.get(sid, {}), 0, length)})
    scenario = r.scenario
    return {
        "kind": RESHARDING, "clock": "producer", "origin_epoch_s": _round(origin), "bin_s": 1, "length": length,
        "scenario": {"name": scenario.name, "records_per_tick": scenario.records_per_tick, "tick_s": scenario.tick_s,
                     "keys": scenario.keys},
        "reshard": {
            "operation": scenario.reshard.operation, "target": scenario.reshard.target,
            "issued_s": None if r.issued_at is None else _round(r.issued_at - origin),
            "active_s": None if r.active_at is None else _round(r.active_at - origin),
            "updating_seen": r.updating_seen, "closed_parents": list(r.closed_expected),
            "shards_before": r.shards_before, "shards_after": r.shards_after,
        },
        "shards": shards,
        "refused_records": _dense(refused, 0, length),
    }


def _epoch(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def firehose(d: DeliveryResult) -> dict[str, Any]:
    """Every object's delivery time, records and bytes, and each record's arrival and latency (when measured)."""
    objects = sorted(((_epoch(o.last_modified), o) for o in d.objects if o.last_modified is not None),
                     key=lambda pair: pair[0])
    located = {rid: _epoch(o.last_modified) for rid, o in d.located.items() if o.last_modified is not None}
    timed = sorted((located[rid] - latency, latency) for rid, latency in d.latencies.items() if rid in located)
    starts = [when for when, _ in objects] + [arrival for arrival, _ in timed]
    origin = math.floor(min(starts)) if starts else 0
    return {
        "kind": FIREHOSE, "clock": "service", "origin_epoch_s": origin,
        "objects": [{"key": o.key, "delivered_s": _round(when - origin), "records": len(o.records),
                     "bytes": len(o.body)} for when, o in objects],
        "records": {"arrival_s": [_round(arrival - origin) for arrival, _ in timed],
                    "latency_s": [_round(latency) for _, latency in timed]},
        "expected": d.expected, "delivered": len(d.delivered), "missing": len(d.missing),
        "duplicated": len(d.duplicates),
    }


def for_measurement(source: Any, measurement: Any) -> str:
    """The series of ``source`` as JSON, labelled with the test, limit, documented value and unit of the
    measurement it was recorded with (a report's ``series`` entry)."""
    built = build(source)
    labelled = {"test": measurement.test, **built, "limit": measurement.limit, "documented": measurement.documented,
                "unit": measurement.unit}
    return json.dumps(labelled, ensure_ascii=False, sort_keys=False)
