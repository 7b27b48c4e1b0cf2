"""A swarm's job and its accounts: what it offers, and every record it wrote, per shard and per second.

A :class:`SwarmJob` is what the master hands every worker (through Locust's own options): the stream, the rate the
whole swarm offers, the record size, and how long to send. The master fixes its start on its own clock when it
accepts the job (``lead_s`` later, so the workers have spawned their users by then), so that every user of every
worker starts together and stops sending at the same instant (no record is in flight when the swarm is stopped).

A :class:`SwarmTally` counts records, never calls: per shard and per whole second of the worker's clock, the records
accepted (PutRecords answered a ShardId), throttled (ProvisionedThroughputExceededException for that record) and
failed otherwise (another error code, or a whole call that failed), and the accepted bytes. A refused record is
counted on the shard its explicit hash key targets; an accepted one on the shard the service named. Workers send
their counts to the master as deltas (:meth:`SwarmTally.take_delta`), and the master merges them
(:meth:`SwarmTally.merge`): a plain-JSON wire form, which Locust's messaging carries as it is.

:meth:`SwarmTally.offer` says whether the swarm offered the load a verdict needs, as the throughput family decides
it: per shard, the records the service judged (accepted or throttled) per second of the measured window, over the
target. No Locust, no pytest.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pytest_kinesis_limits import limits

#: The counts kept per shard and second, in their wire order.
COUNTS = ("accepted", "throttled", "failed", "accepted_bytes")
ACCEPTED, THROTTLED_RECORDS, FAILED, ACCEPTED_BYTES = range(len(COUNTS))
#: How often each user calls PutRecords, at most: many users, each sending a batch a few times a second, spread the
#: load smoothly over every second (a tuning choice of the swarm, not an AWS number).
CALLS_PER_USER_S = 4
#: Users each worker process runs at least (gevent: they share the worker's one core).
USERS_PER_WORKER = 4


@dataclass(frozen=True)
class SwarmJob:
    """What every user of a swarm does (module doc). ``records_per_s`` is the whole swarm's offered rate, spread
    evenly over ``users`` users that each send ``batch`` records every :attr:`pacing_s` seconds, for ``seconds``
    from ``start_at`` (epoch seconds on the master's and workers' clocks; 0 until the master has set it, ``lead_s``
    after it accepted the job)."""

    job_id: str
    stream: str
    region: str
    records_per_s: float
    record_size: int
    batch: int
    users: int
    seconds: float
    lead_s: float = 0.5
    start_at: float = 0.0
    endpoint_url: str | None = None
    keys_per_shard: int = 4
    #: Shard id -> its relative share of the records (whole numbers), for a job that offers the shards of one stream
    #: different loads (the scale family's two sides in one run); empty: every open shard alike.
    shard_weights: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.job_id or not self.stream:
            raise ValueError("a swarm job needs a job id and a stream")
        if any(not isinstance(w, int) or w < 1 for w in self.shard_weights.values()):
            raise ValueError(f"a swarm job's shard weights are whole numbers of 1 or more, got {self.shard_weights!r}")
        if self.records_per_s <= 0 or self.users < 1 or self.batch < 1:
            raise ValueError(f"a swarm job needs a positive rate, users and batch, got {self.records_per_s!r} "
                             f"records/s, {self.users!r} users, batches of {self.batch!r}")
        if self.batch > limits.PUT_RECORDS_MAX_RECORDS.value:
            raise ValueError(f"a batch of {self.batch} records is over PutRecords' "
                             f"{limits.PUT_RECORDS_MAX_RECORDS.value}")
        if self.seconds <= 0 or self.lead_s < 0:
            raise ValueError(f"a swarm job needs a positive length and a lead of 0 or more, got {self.seconds!r} s "
                             f"and {self.lead_s!r} s")

    @property
    def pacing_s(self) -> float:
        """Seconds between two calls of one user."""
        return self.batch * self.users / self.records_per_s

    @property
    def end_at(self) -> float:
        return self.start_at + self.seconds

    def starting(self, now: float) -> SwarmJob:
        """This job, starting ``lead_s`` after ``now`` (what the master does when it accepts it)."""
        return replace(self, start_at=now + self.lead_s)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SwarmJob:
        try:
            return cls(**json.loads(text))
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a swarm job: {exc}") from None


def weighted_order(weights: list[int]) -> list[int]:
    """Indices into ``weights``, each ``weights[i]`` times, spread as evenly as can be (smooth weighted round robin):
    any run of consecutive entries gives each index its share, within one."""
    total = sum(weights)
    current = [0] * len(weights)
    order: list[int] = []
    for _ in range(total):
        for index, weight in enumerate(weights):
            current[index] += weight
        chosen = max(range(len(weights)), key=current.__getitem__)
        current[chosen] -= total
        order.append(chosen)
    return order


def shape_job(*, job_id: str, stream: str, region: str, records_per_s: float, record_size: int, workers: int,
              seconds: float, lead_s: float = 0.5, endpoint_url: str | None = None,
              shard_weights: Mapping[str, int] | None = None) -> SwarmJob:
    """A job offering ``records_per_s`` from ``workers`` worker processes: at least :data:`USERS_PER_WORKER` users
    each, more when batches of PutRecords' maximum (or of its request cap, for large records) at
    :data:`CALLS_PER_USER_S` would not reach the rate; batches as even as the rate allows."""
    if workers < 1:
        raise ValueError("a swarm needs at least one worker")
    largest = max(1, min(limits.PUT_RECORDS_MAX_RECORDS.value,
                         limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value // max(1, record_size)))
    users = max(workers * USERS_PER_WORKER, math.ceil(records_per_s / (largest * CALLS_PER_USER_S)))
    batch = max(1, min(largest, round(records_per_s / (users * CALLS_PER_USER_S))))
    return SwarmJob(job_id=job_id, stream=stream, region=region, records_per_s=records_per_s,
                    record_size=record_size, batch=batch, users=users, seconds=seconds, lead_s=lead_s,
                    endpoint_url=endpoint_url, shard_weights=dict(shard_weights or {}))


@dataclass(frozen=True)
class SwarmOffer:
    """Whether a swarm offered the load a verdict needs (:meth:`SwarmTally.offer`): per shard, ``fractions`` is the
    records the service judged per second of the window over the per-shard ``target``; ``weakest`` the fewest it
    judged in any one second of the window."""

    target: float
    needed: float
    floor: float | None
    fractions: dict[str, float]
    weakest: dict[str, int]
    window: tuple[int, int]

    @property
    def enough(self) -> bool:
        """Every shard answered at least ``needed`` of its target, and (with a ``floor``) at least the floor in every
        second: an overloaded shard's accepted rate is then the shard's, not the swarm's."""
        if not self.fractions or any(f < self.needed for f in self.fractions.values()):
            return False
        return self.floor is None or all(n >= self.floor for n in self.weakest.values())

    @property
    def least(self) -> float | None:
        return min(self.fractions.values(), default=None)

    def describe(self) -> str:
        if not self.fractions:
            return (f"the swarm had no answer counted in its window (seconds {self.window[0]}-{self.window[1]} of the "
                    f"workers' clocks)")
        low = min(self.fractions, key=self.fractions.__getitem__)
        said = (f"the service answered at least {self.fractions[low]:.1%} of the target {self.target:,.0f} "
                f"records/s on every shard (least: {low}), on the workers' clocks (needed {self.needed:.0%})")
        if self.floor is not None:
            thin = min(self.weakest, key=self.weakest.__getitem__)
            said += (f"; the thinnest second offered {self.weakest[thin]:,} records to {thin} (needed the limit, "
                     f"{self.floor:,.0f}, in every second)")
        return said


@dataclass
class SwarmTally:
    """Records per shard and per second of the workers' clocks (module doc). ``seconds[shard][second]`` holds the
    :data:`COUNTS`; ``errors`` counts refused records by error code; ``mismatched`` counts records the service
    accepted on another shard than their hash key targeted (the stream was resharded under the swarm)."""

    job_id: str = ""
    seconds: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    mismatched: int = 0
    #: The refused records by error code per shard their hash key targeted (``errors`` summed over them).
    shard_errors: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, shard: str, second: int, *, accepted: int = 0, throttled: int = 0, failed: int = 0,
              accepted_bytes: int = 0) -> None:
        cell = self.seconds.setdefault(shard, {}).setdefault(second, [0, 0, 0, 0])
        cell[ACCEPTED] += accepted
        cell[THROTTLED_RECORDS] += throttled
        cell[FAILED] += failed
        cell[ACCEPTED_BYTES] += accepted_bytes

    def error(self, code: str, records: int = 1, shard: str | None = None) -> None:
        self.errors[code] += records
        if shard is not None:
            self.shard_errors.setdefault(shard, Counter())[code] += records

    def only(self, shards: Iterable[str]) -> SwarmTally:
        """The counts of ``shards`` alone (a part of a job that offered its shards different loads)."""
        keep = set(shards)
        part = SwarmTally(self.job_id, {sid: {second: list(cell) for second, cell in cells.items()}
                                        for sid, cells in self.seconds.items() if sid in keep})
        for sid, codes in self.shard_errors.items():
            if sid in keep:
                for code, records in codes.items():
                    part.error(code, records, sid)
        return part

    # --- the wire form, as Locust's messaging carries it ---------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        return {"job": self.job_id, "mismatched": self.mismatched, "errors": dict(self.errors),
                "shard_errors": {shard: dict(codes) for shard, codes in self.shard_errors.items()},
                "shards": {shard: {str(second): list(cell) for second, cell in cells.items()}
                           for shard, cells in self.seconds.items()}}

    def take_delta(self) -> dict[str, Any]:
        """The counts since the last delta, in the wire form; this tally starts again from zero."""
        wire = self.to_wire()
        self.seconds, self.errors, self.mismatched, self.shard_errors = {}, Counter(), 0, {}
        return wire

    def merge(self, wire: Mapping[str, Any]) -> None:
        """Add a delta (or a whole tally) in the wire form."""
        for shard, cells in wire.get("shards", {}).items():
            for second, cell in cells.items():
                self.count(shard, int(second), **dict(zip(COUNTS, cell)))
        self.errors.update(wire.get("errors", {}))
        for shard, codes in wire.get("shard_errors", {}).items():
            self.shard_errors.setdefault(shard, Counter()).update(codes)
        self.mismatched += int(wire.get("mismatched", 0))

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> SwarmTally:
        tally = cls(str(wire.get("job", "")))
        tally.merge(wire)
        return tally

    # --- what it says ----------------------------------------------------------------------------------------

    @property
    def shards(self) -> list[str]:
        return sorted(self.seconds)

    def totals(self, shard: str | None = None) -> dict[str, int]:
        """The :data:`COUNTS` summed over every second (of one shard, or of all)."""
        sums = [0, 0, 0, 0]
        for sid in ([shard] if shard is not None else self.seconds):
            for cell in self.seconds.get(sid, {}).values():
                for i, value in enumerate(cell):
                    sums[i] += value
        return dict(zip(COUNTS, sums))

    def per_second(self, shard: str, what: str = "accepted") -> dict[int, int]:
        index = COUNTS.index(what)
        return {second: cell[index] for second, cell in sorted(self.seconds.get(shard, {}).items())}

    def offer(self, *, target_per_shard: float, start: int, seconds: int, needed: float,
              floor: float | None = None, shards: list[str] | None = None) -> SwarmOffer:
        """How much of ``target_per_shard`` the service judged (accepted or throttled) per second on each shard of
        ``shards`` (default: every shard counted), over the window ``[start, start + seconds)`` of the workers'
        clocks; ``floor``: the fewest judged records every second of the window needs (an over-limit verdict's
        limit), else None."""
        window = (start, start + seconds)
        fractions: dict[str, float] = {}
        weakest: dict[str, int] = {}
        for shard in shards if shards is not None else self.shards:
            cells = self.seconds.get(shard, {})
            judged = [sum(cells.get(s, (0, 0))[:2]) for s in range(*window)]
            fractions[shard] = sum(judged) / seconds / target_per_shard if seconds > 0 else 0.0
            weakest[shard] = min(judged, default=0)
        return SwarmOffer(target_per_shard, needed, floor, fractions, weakest, window)


__all__ = ["CALLS_PER_USER_S", "COUNTS", "SwarmJob", "SwarmOffer", "SwarmTally", "USERS_PER_WORKER", "shape_job",
           "weighted_order"]
