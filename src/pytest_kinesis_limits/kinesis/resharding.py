"""A resharding scenario, run record by record: write on a clock, reshard mid-stream, read back, check.

:func:`run_scenario` is one single-threaded loop on the given clock. Each tick it

1. issues the reshard when the tick comes (:class:`Reshard`: SplitShard at the shard's hash midpoint,
   MergeShards of two adjacent open shards, or UpdateShardCount ``UNIFORM_SCALING`` to a target);
2. writes one batch of ``records_per_tick`` records through a
   :class:`~pytest_kinesis_limits.kinesis.producer.Producer` run without a rate (the batch goes out as fast as calls
   return; this loop does the pacing, one batch every ``tick_s`` on the clock; refused records are retried
   per its :class:`~pytest_kinesis_limits.kinesis.producer.RetryPolicy`), through an :class:`AttemptLog` that sees
   every attempt: acknowledged records become :class:`~pytest_kinesis_limits.kinesis.continuity.Acked` entries
   (payload id, partition key, send position within the key, shard, sequence number); records of a request
   that errored (5xx, timeout, connection) become ``maybe_stored`` entries; every refusal is counted by phase
   (before / during / after the reshard) and error code, throttling (ProvisionedThroughputExceededException,
   the shard's own write limit) apart from the other errors;
3. polls DescribeStreamSummary to timestamp the reshard: it is done at the first poll that says ACTIVE after
   one said UPDATING, or, since the status can lag the call (live), that says ACTIVE while ListShards shows
   the parents closed and the target open shard count; at most ``max_updating_s`` clock seconds.

After the last tick (and at least ``after_active_ticks`` ticks after ACTIVE) it reads the whole stream with
:func:`~pytest_kinesis_limits.kinesis.reader.read_stream` (parents before children) and checks it with
:func:`~pytest_kinesis_limits.kinesis.continuity.check_continuity` and
:func:`~pytest_kinesis_limits.kinesis.continuity.check_lineage`, plus checks of its own (:attr:`ReshardResult.problems`):
the expected parents closed, the open shard count reached, every new shard received records, no record
acknowledged by or stored in a closed shard beyond its ending sequence number, closed shards read to their end.

No pytest, no moto: ``client`` arguments are boto3 Kinesis clients (or anything with the same methods).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pytest_kinesis_limits.kinesis import payloads
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.kinesis.continuity import (Acked, ContinuityReport, check_continuity, check_lineage,
                                                      default_identify)
from pytest_kinesis_limits.kinesis.key_spread import KeySpread, Record
from pytest_kinesis_limits.kinesis.producer import Producer, ProduceResult, RetryPolicy
from pytest_kinesis_limits.kinesis.reader import (
    THROTTLED,
    ReadResult,
    ending_sequence_number,
    hash_range,
    is_closed,
    list_all_shards,
    open_shards,
    read_stream,
)
from pytest_kinesis_limits.kinesis.resources import Transitions, stream_status, while_account_busy

PHASES = ("before", "during", "after")
SPLIT, MERGE, UNIFORM = "SplitShard", "MergeShards", "UpdateShardCount"
# Whole-call errors after which the service cannot have stored anything (the request was refused as such).
_CLIENT_ERROR_STATUS = range(400, 500)


@dataclass(frozen=True)
class Reshard:
    """One resharding action. Use :meth:`split`, :meth:`merge` or :meth:`uniform`."""

    operation: str
    target: int | None = None

    @classmethod
    def split(cls) -> Reshard:
        """SplitShard of the first open shard (lowest hash keys) at its hash key midpoint."""
        return cls(SPLIT)

    @classmethod
    def merge(cls) -> Reshard:
        """MergeShards of the first two adjacent open shards."""
        return cls(MERGE)

    @classmethod
    def uniform(cls, target: int) -> Reshard:
        """UpdateShardCount to ``target`` open shards with ``UNIFORM_SCALING``."""
        return cls(UNIFORM, target)

    def expected_open(self, before: int) -> int:
        """Open shards once the action is done, from ``before`` open shards."""
        if self.operation == SPLIT:
            return before + 1
        if self.operation == MERGE:
            return before - 1
        assert self.target is not None
        return self.target

    def issue(self, client: Any, stream: str, shards: Sequence[Mapping[str, Any]]) -> list[str]:
        """Call the API on ``stream`` whose ListShards answer is ``shards``; return the shard ids it closes."""
        current = open_shards(shards)
        if self.operation == SPLIT:
            shard = current[0]
            start, end = hash_range(shard)
            client.split_shard(StreamName=stream, ShardToSplit=shard["ShardId"],
                               NewStartingHashKey=str((start + end + 1) // 2))
            return [shard["ShardId"]]
        if self.operation == MERGE:
            for first, second in zip(current, current[1:]):
                if hash_range(first)[1] + 1 == hash_range(second)[0]:
                    client.merge_shards(StreamName=stream, ShardToMerge=first["ShardId"],
                                        AdjacentShardToMerge=second["ShardId"])
                    return [first["ShardId"], second["ShardId"]]
            raise ValueError(f"no two adjacent open shards in {stream}")
        client.update_shard_count(StreamName=stream, TargetShardCount=self.target, ScalingType="UNIFORM_SCALING")
        # Uniform scaling re-cuts the whole key space: every shard open before is closed after.
        return [s["ShardId"] for s in current]

    def __str__(self) -> str:
        return f"{self.operation}({self.target})" if self.target is not None else self.operation


UPDATING_WINDOWS = 30  # how many of a backend's known UPDATING windows a scenario waits for the reshard


@dataclass(frozen=True)
class Scenario:
    """What to run: a stream of ``shards`` shards, ``records_per_tick`` records every ``tick_s`` clock seconds
    for ``ticks`` ticks over ``keys`` partition keys, the reshard issued at tick ``reshard_tick`` (0-based), and
    at least ``after_active_ticks`` ticks written after the stream is ACTIVE again (the run is extended if
    needed, up to ``max_updating_s`` of UPDATING). Payloads are ``{payload_field: n}`` (the seed's
    ``{"test": n}`` by default)."""

    name: str
    shards: int
    reshard: Reshard
    records_per_tick: int
    tick_s: float
    ticks: int
    reshard_tick: int
    after_active_ticks: int = 4
    keys: int = 64
    payload_field: str = "test"
    max_updating_s: float = 900.0

    def __post_init__(self) -> None:
        if not 0 <= self.reshard_tick < self.ticks:
            raise ValueError("reshard_tick must be one of the ticks")
        if self.records_per_tick < 1 or self.tick_s <= 0 or self.keys < 1:
            raise ValueError("records_per_tick, tick_s and keys must be positive")

    def bounded_by(self, updating_seconds: float | None) -> Scenario:
        """This scenario, waiting at most ``UPDATING_WINDOWS`` UPDATING windows for the reshard when the
        backend says how long one lasts (the offline fidelity layer does); unchanged when it does not (live:
        up to ``max_updating_s``). A backend that never finishes a reshard then fails in seconds, instead of
        after writing through the live bound on a simulated clock."""
        if updating_seconds is None:
            return self
        return replace(self, max_updating_s=min(self.max_updating_s, UPDATING_WINDOWS * updating_seconds))

    @property
    def rate(self) -> float:
        """Records per clock second offered."""
        return self.records_per_tick / self.tick_s

    def records(self) -> Iterator[Record]:
        """The endless, deterministic records of this scenario: index n, payload ``{field: n}``, key n mod keys."""
        spread = KeySpread.many(self.keys)
        n = 0
        while True:
            key, hash_key = spread.keys_for(n)
            yield Record(n, payloads.encode_json({self.payload_field: n}), key, hash_key)
            n += 1


class AttemptLog:
    """Wraps a Kinesis client; logs every PutRecords attempt's records for the continuity check.

    Other methods pass through. ``phase`` (set by the runner) labels the attempts it sees.
    """

    def __init__(self, client: Any, identify: Callable[[bytes], Hashable] = default_identify) -> None:
        self._client = client
        self._identify = identify
        self.phase = PHASES[0]
        self.acked: list[Acked] = []  # acknowledged entries and maybe-stored ones, in send order
        self.errors: Counter[tuple[str, str]] = Counter()  # (phase, code) -> records refused or errored
        self.acknowledged: Counter[str] = Counter()  # phase -> records acknowledged
        self.calls: Counter[str] = Counter()  # phase -> PutRecords calls
        self._positions: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_records(self, **kwargs: Any) -> Any:
        """PutRecords through the wrapped client; every record of the request is logged, then the answer
        (or the error) is passed on unchanged."""
        entries = kwargs.get("Records", [])
        positions = []
        for entry in entries:
            key = entry["PartitionKey"]
            positions.append(self._positions[key])
            self._positions[key] += 1
        self.calls[self.phase] += 1
        try:
            response = self._client.put_records(**kwargs)
        except (ClientError, BotoCoreError) as error:
            if isinstance(error, ClientError):
                code = str(error.response.get("Error", {}).get("Code", "ClientError"))
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            else:
                code, status = type(error).__name__, None
            maybe_stored = status not in _CLIENT_ERROR_STATUS
            for entry, position in zip(entries, positions):
                self.errors[(self.phase, code)] += 1
                if maybe_stored:
                    self.acked.append(Acked(self._identify(entry["Data"]), entry["PartitionKey"], position,
                                            maybe_stored=True))
            raise
        for entry, position, result in zip(entries, positions, response.get("Records", [])):
            if result.get("ErrorCode"):
                self.errors[(self.phase, result["ErrorCode"])] += 1
                continue
            self.acknowledged[self.phase] += 1
            self.acked.append(Acked(self._identify(entry["Data"]), entry["PartitionKey"], position,
                                    result["ShardId"], result["SequenceNumber"]))
        return response

    def errors_in(self, phase: str) -> dict[str, int]:
        """Records refused or errored in ``phase`` by error code, throttling refusals left out."""
        return {code: n for (p, code), n in sorted(self.errors.items()) if p == phase and code != THROTTLED}

    def throttled_in(self, phase: str) -> int:
        """Records refused in ``phase`` with ProvisionedThroughputExceededException (the shard's write limit)."""
        return self.errors[(phase, THROTTLED)]


@dataclass
class ReshardResult:
    """Everything a scenario run measured; :attr:`ok` is the verdict and ``str()`` a readable report."""

    scenario: Scenario
    stream: str
    shards_before: int = 0
    shards_after: int = 0
    closed_expected: list[str] = field(default_factory=list)
    issued_at: float | None = None
    updating_seen: bool = False
    active_at: float | None = None
    ticks_run: int = 0
    late_ticks: int = 0
    produce: ProduceResult | None = field(default=None, repr=False)
    log: AttemptLog | None = field(default=None, repr=False)
    read: ReadResult | None = field(default=None, repr=False)
    continuity: ContinuityReport | None = field(default=None, repr=False)
    listing: list[dict[str, Any]] = field(default_factory=list, repr=False)
    lineage_problems: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    wall_s: dict[str, float] = field(default_factory=dict)
    read_back: bool = True

    @property
    def reshard_duration(self) -> float | None:
        """Clock seconds from the reshard call to the first poll that saw it done (tick resolution): ACTIVE
        after UPDATING, or ACTIVE with the shard list showing the reshard (a status lagging the call)."""
        if self.issued_at is None or self.active_at is None:
            return None
        return self.active_at - self.issued_at

    @property
    def written(self) -> int:
        """Distinct records offered."""
        return self.produce.sent if self.produce else 0

    @property
    def acknowledged(self) -> int:
        """Distinct records finally acknowledged."""
        return self.produce.accepted if self.produce else 0

    def write_errors(self, phase: str = "during") -> dict[str, int]:
        """Records refused or errored in ``phase`` (default: while the stream was UPDATING), by code, except
        throttling: a shard's write limit refuses records whether or not it is resharding (see
        :meth:`throttled`)."""
        return self.log.errors_in(phase) if self.log else {}

    def throttled(self, phase: str = "during") -> int:
        """Records refused in ``phase`` with ProvisionedThroughputExceededException (retried by the producer)."""
        return self.log.throttled_in(phase) if self.log else 0

    @property
    def ok(self) -> bool:
        """Continuity holds (when the stream was read back), the lineage is right and none of the runner's own
        checks found a problem."""
        continuity = bool(self.continuity and self.continuity.ok) if self.read_back else True
        return continuity and not self.lineage_problems and not self.problems

    def counts(self) -> dict[str, Any]:
        """The numbers, by name (for measurement records)."""
        c = self.continuity.counts() if self.continuity else {}
        return {
            "written": self.written, "acknowledged": self.acknowledged,
            "write_errors_during": sum(self.write_errors("during").values()),
            "write_errors_total": sum(sum(self.write_errors(p).values()) for p in PHASES),
            "throttled_during": self.throttled("during"),
            "throttled_total": sum(self.throttled(p) for p in PHASES),
            "reshard_duration_s": self.reshard_duration, "shards_before": self.shards_before,
            "shards_after": self.shards_after, "lost": c.get("lost"), "reordered": c.get("reordered"),
            "duplicated": c.get("duplicated"), "duplicated_unexplained": c.get("duplicated_unexplained"),
            "phantom": c.get("phantom"), "phantom_unexplained": c.get("phantom_unexplained"),
            "read": c.get("read"), "reader_throttles": self.read.throttles if self.read else 0,
        }

    def __str__(self) -> str:
        s = self.scenario
        duration = self.reshard_duration
        lines = [
            f"scenario {s.name}: {s.reshard} on {self.stream}, {self.shards_before} -> {self.shards_after} open "
            f"shards; {s.records_per_tick} records every {s.tick_s:g} s for {self.ticks_run} ticks "
            f"({self.late_ticks} late) over {s.keys} keys: {'OK' if self.ok else 'FAILED'}",
            f"reshard issued at +{(self.issued_at or 0) - (self.produce.started_at if self.produce else 0):.2f} s, "
            f"UPDATING {'seen' if self.updating_seen else 'never seen'}, "
            + (f"ACTIVE after {duration:.2f} s" if duration is not None else "never ACTIVE again"),
        ]
        if self.produce:
            lines.append(self.produce.summary())
        if self.log:
            for phase in PHASES:
                errors = ", ".join(f"{code} {n}" for code, n in self.write_errors(phase).items()) or "none"
                lines.append(f"  {phase} the reshard: {self.log.calls[phase]} calls, "
                             f"{self.log.acknowledged[phase]} records acknowledged, errors: {errors}, "
                             f"throttled: {self.throttled(phase)}")
        if self.continuity:
            lines.append(str(self.continuity))
        if self.lineage_problems:
            lines.append("lineage problems:")
            lines += [f"  {p}" for p in self.lineage_problems]
        if self.problems:
            lines.append("problems:")
            lines += [f"  {p}" for p in self.problems]
        if self.read:
            lines.append(self.read.summary())
        return "\n".join(lines)


def run_scenario(
    scenario: Scenario,
    *,
    write_client: Any,
    control_client: Any,
    stream: str,
    clock: Clock,
    retry: RetryPolicy | None = None,
    require_null_iterator: bool = True,
    read_options: dict[str, Any] | None = None,
    transitions: Transitions | None = None,
    read: Callable[[Any, str], ReadResult] | None = None,
    read_back: bool = True,
) -> ReshardResult:
    """Run ``scenario`` on the existing ACTIVE ``stream`` and return what happened (never raises on a finding).

    ``write_client`` should make one attempt per call (``total_max_attempts=1``) so that every attempt is
    logged; refused records are retried by ``retry`` (default: backoff, 20 attempts). ``control_client`` (a
    retrying client) issues the reshard, polls the status and reads. ``require_null_iterator`` (AWS and the
    fidelity layer) only counts a closed shard as read to its end on a null ``NextShardIterator``. ``transitions``
    (live: the run's ledger of the account's streams in transition) gives the reshard a slot from its call until the
    stream is ACTIVE again: SplitShard and MergeShards count toward the account's five (API_MergeShards.html), so
    that the run's other workers cannot get the reshard refused for a reason that is not this scenario's.
    ``read(control_client, stream)`` reads the stream back instead of the polling reader (an enhanced fan-out
    consumer's: :func:`.fan_out_reader.read_stream_fan_out`); the continuity checks are the same.
    ``read_back=False`` leaves the stream unread (no continuity report, no checks of what was read): for a test
    whose verdict is where the records went next (a delivery stream's index), when another test already proves the
    stream's continuity in the same scenario.
    """
    result = ReshardResult(scenario, stream, read_back=read_back)
    log = AttemptLog(write_client)
    result.log = log
    producer = Producer(log, stream, clock=clock, retry=retry or RetryPolicy.backoff())
    before = list_all_shards(control_client, stream)
    ids_before = {s["ShardId"] for s in before}
    result.shards_before = len(open_shards(before))
    source = scenario.records()
    runs: list[ProduceResult] = []
    started = clock.now()
    wall = time.perf_counter()
    tick = 0
    active_ticks = 0
    lease: Any = None  # the reshard's slot among the account's streams in transition, until ACTIVE again
    try:
        while True:
            if tick == scenario.reshard_tick:
                if transitions is not None:
                    lease = transitions.acquire(scenario.reshard.operation, scenario.max_updating_s)
                # Refused while too many of the account's streams are in transition (other runs, other users): tried
                # again within the scenario's UPDATING bound, else AccountBusyError (inconclusive, never a verdict).
                result.closed_expected = while_account_busy(
                    lambda: scenario.reshard.issue(control_client, stream, list_all_shards(control_client, stream)),
                    clock, scenario.max_updating_s, f"{scenario.reshard} on {stream}")
                result.issued_at = clock.now()
                log.phase = "during"
            writing_after = log.phase == "after"
            runs.append(producer.run([next(source) for _ in range(scenario.records_per_tick)]))
            if result.issued_at is not None and result.active_at is None:
                status = stream_status(control_client, stream)
                result.updating_seen = result.updating_seen or status == "UPDATING"
                # The status may lag the call (live): ACTIVE before UPDATING was ever seen only ends the reshard
                # once the shard list shows it done.
                if status == "ACTIVE" and (result.updating_seen or _reshard_listed(control_client, stream, result)):
                    result.active_at = clock.now()
                    log.phase = "after"
                    if transitions is not None and lease is not None:
                        transitions.release(lease)
                        lease = None
                elif clock.now() - result.issued_at > scenario.max_updating_s:
                    result.problems.append(
                        f"the reshard did not complete within {scenario.max_updating_s:g} s: the stream is {status}, "
                        f"UPDATING {'seen' if result.updating_seen else 'never seen'}, and the shard list does not "
                        f"show {scenario.reshard} done")
                    break
            active_ticks += writing_after
            tick += 1
            if tick >= scenario.ticks and active_ticks >= scenario.after_active_ticks:
                break
            wait = started + tick * scenario.tick_s - clock.now()
            if wait < 0:
                result.late_ticks += 1
            clock.sleep(max(0.0, wait))
    finally:
        if transitions is not None and lease is not None:
            transitions.release(lease)
    result.ticks_run = tick
    result.produce = ProduceResult.merge(runs)
    result.produce.started_at, result.produce.ended_at = started, clock.now()
    result.wall_s["write"] = time.perf_counter() - wall

    if read_back:
        wall = time.perf_counter()
        result.read = read(control_client, stream) if read is not None else read_stream(
            control_client, stream, clock=clock, require_null_iterator=require_null_iterator, **(read_options or {}))
        result.wall_s["read"] = time.perf_counter() - wall

    wall = time.perf_counter()
    if result.read is not None:
        result.continuity = check_continuity(log.acked, result.read.records)
    result.listing = list_all_shards(control_client, stream)
    result.lineage_problems = check_lineage(result.listing, closed_parents=result.closed_expected)
    result.shards_after = len(open_shards(result.listing))
    result.problems += _own_checks(result, ids_before)
    result.wall_s["check"] = time.perf_counter() - wall
    return result


def _reshard_listed(client: Any, stream: str, result: ReshardResult) -> bool:
    """Whether ListShards shows the reshard done: the parents it closes closed, the target open shard count."""
    listing = list_all_shards(client, stream)
    closed = {s["ShardId"] for s in listing if is_closed(s)}
    expected = result.scenario.reshard.expected_open(result.shards_before)
    return set(result.closed_expected) <= closed and len(open_shards(listing)) == expected


def _own_checks(result: ReshardResult, ids_before: set[str]) -> list[str]:
    """What continuity and lineage do not cover: target reached, children fed, nothing beyond a closed end."""
    problems: list[str] = []
    listing = {s["ShardId"]: s for s in result.listing}
    expected = result.scenario.reshard.expected_open(result.shards_before)
    if result.shards_after != expected:
        problems.append(f"{result.shards_after} open shards after {result.scenario.reshard}, expected {expected}")
    read = result.read
    assert result.log is not None
    for shard in open_shards(result.listing) if read is not None else ():
        sid = shard["ShardId"]
        if sid not in ids_before and (sid not in read.shards or read.shards[sid].records_read == 0):
            problems.append(f"new shard {sid} received no records (writes after the reshard must reach the children)")
    ending = {sid: int(end) for sid, s in listing.items() if (end := ending_sequence_number(s)) is not None}
    late_acks = [a for a in result.log.acked if a.shard_id in ending and a.sequence_number is not None
                 and int(a.sequence_number) > ending[a.shard_id]]
    if late_acks:
        a = late_acks[0]
        problems.append(f"{len(late_acks)} records acknowledged by a closed shard beyond its EndingSequenceNumber, "
                        f"e.g. id {a.payload_id!r} on {a.shard_id} seq {a.sequence_number} > {ending[a.shard_id]}")
    if read is None:  # not read back: what was read is not checked
        return problems
    late_reads = [r for r in read.records if r.shard_id in ending and r.sequence_int > ending[r.shard_id]]
    if late_reads:
        r = late_reads[0]
        problems.append(f"{len(late_reads)} records read from a closed shard beyond its EndingSequenceNumber, "
                        f"e.g. {r.shard_id} seq {r.sequence_number} > {ending[r.shard_id]}")
    if not read.closed_shards_ended:
        unended = [sid for sid, s in read.shards.items() if s.closed and not s.ended]
        problems.append(f"closed shards not read to their end (no null NextShardIterator): {', '.join(unended)}")
    return problems
