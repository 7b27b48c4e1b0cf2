"""The live budget: a live run's wall time, shard-hours and cost, predicted before anything is made (issue 12).

``pytest --kinesis-plan`` runs the selected tests offline, on the simulated clock, with the settings a live run
would have (rate window, tick, calls in flight, wait policy) and the catalogue's typical lifecycle windows. Each
test leaves a :class:`TestRecord`: its duration on the clock, the streams it made (when, how long CREATING, their
shape), the streams it deleted, the shared resources it used (a worker's shared stream, a search domain) and what it
used (:mod:`pytest_kinesis_limits.live.usage`). :func:`simulate` then schedules the records the way a live run would:

* on ``N`` pytest-xdist workers with xdist's ``--dist load`` scheduling (``LoadScheduling``: chunks of the
  collection in order, more as tests complete; a worker runs a test once it holds the next one, or is told to
  finish); one process for ``-n 0``;
* with at most ``account.streams_creating.max`` (5) streams CREATING or DELETING at once in the account, across
  workers (what the run's :class:`~pytest_kinesis_limits.kinesis.resources.TransitionLimiter` enforces live);
* making each worker's shared streams before the first test that uses them, once per worker, and the run's search
  domain once per run (``lifecycle.opensearch.domain_creating_s``; a worker that needs it while another makes it
  waits);
* making the streams of a worker's next test while the current one runs (the stream pool), so a test waits for its
  streams only when they were not ready yet.

:func:`build_plan` adds the cost (:mod:`pytest_kinesis_limits.live.pricing`), :func:`format_plan` prints it per family
and in total, within 100 columns, ending with the line scripts read (:meth:`Plan.line`)::

    predicted live run: <minutes> min wall with -n <N>, <shard-hours> shard-hours, <usd> USD in <region>

Library code: no pytest, no boto3.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.live import pricing
from pytest_kinesis_limits.live.usage import family_of

#: The shared resources the plan knows: what each one is and how long making it takes at least (the offline
#: stand-in of a search domain is ready in a second; AWS's takes up to 30 minutes).
SHARED_KINDS = {"stream": 0.0, "search-domain": float(limits.LIFECYCLE_OS_DOMAIN_CREATING_S.value)}
#: The shared resources a run makes once, whatever the number of workers (the others per worker): the first worker
#: that needs one makes it, the others wait for it, and it lives until the run ends (live/shared_domain.py).
PER_RUN_KINDS = frozenset({"search-domain"})
#: Whether a live run makes each worker's next streams ahead (the stream pool).
MAKES_AHEAD = True
#: A live teardown makes API calls: xdist's scheduler never sees one shorter than this (its 0.1 s heuristic).
MIN_TEARDOWN_S = 0.1
LINE_PREFIX = "predicted live run:"


@dataclass
class Creation:
    """A stream a test made itself: when (seconds into the test), how long it was CREATING, its shape."""

    offset_s: float
    window_s: float
    shards: int
    on_demand: bool = False
    max_record_size_kib: int | None = None
    poolable: bool = False  # made by make_stream: a live run's pool makes it ahead (pool.py)

    def shape(self) -> tuple[int, bool, int | None]:
        return self.shards, self.on_demand, self.max_record_size_kib


@dataclass
class TestRecord:
    """One test of the plan's run (see the module docstring). ``duration_s`` leaves out the making of shared
    resources, which :func:`simulate` charges once per worker (a search domain once per run)."""

    nodeid: str
    outcome: str
    duration_s: float
    teardown_s: float = 0.0
    creations: list[Creation] = field(default_factory=list)
    deletions: int = 0
    shared: list[str] = field(default_factory=list)
    usage: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # why it was skipped
    order: int = 0  # its place in the collection (records reach an xdist controller in completion order)

    @property
    def family(self) -> str:
        return family_of(self.nodeid)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestRecord:
        return cls(**{**data, "creations": [Creation(**c) for c in data.get("creations", [])]})


@dataclass
class SharedRecord:
    """A resource a worker makes once and many tests use: its kind, how long making it took, its shards."""

    key: str
    kind: str
    window_s: float
    shards: int = 0

    @property
    def making_s(self) -> float:
        return max(self.window_s, SHARED_KINDS.get(self.kind, 0.0))


@dataclass
class Schedule:
    """Where and when each test ran in the model, and what the schedule itself adds to the use."""

    workers: int
    wall_s: float
    placed: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # node id -> (worker, start, end)
    shared_made: Counter[str] = field(default_factory=Counter)  # key -> workers that made it
    shared_use: dict[str, Counter[str]] = field(default_factory=dict)  # key -> shard_seconds, shard_hours, ...
    ahead_shard_seconds: float = 0.0  # streams made ahead, while they wait for their test
    waited_s: float = 0.0  # time tests waited for the account's transition limit


# ------------------------------------------------------------------------------------------------ the model
_Command = tuple[Any, ...]


class _Limiter:
    """At most ``capacity`` streams CREATING or DELETING at once (slots with release times)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.busy: list[float] = []

    def acquire(self, now: float, hold: float) -> float | None:
        """Take a slot until ``now + hold``; None, and the time to try again, when none is free."""
        self.busy = [t for t in self.busy if t > now]
        if len(self.busy) < self.capacity:
            self.busy.append(now + hold)
            return None
        return min(self.busy)


class _LoadScheduling:
    """xdist's ``LoadScheduling`` (xdist/scheduler/load.py, pytest-xdist 3.8): how tests reach the workers."""

    def __init__(self, count: int, nodes: int) -> None:
        self.total = count
        self.pending = list(range(count))
        self.nodes = [[] for _ in range(nodes)]  # type: list[list[int]]
        self.shutdown = [False] * nodes
        if len(self.pending) < 2 * nodes:
            for i in range(len(self.pending)):
                self._send(i % nodes, 1)
        else:
            chunk = max(min(count // nodes // 4, count), 2)
            for node in range(nodes):
                self._send(node, chunk)
        if not self.pending:
            self.shutdown = [True] * nodes

    def _send(self, node: int, num: int) -> None:
        self.nodes[node].extend(self.pending[:num])
        del self.pending[:num]

    def complete(self, node: int, index: int, duration: float) -> None:
        self.nodes[node].remove(index)
        if self.shutdown[node]:
            return
        if self.pending:
            n = len(self.nodes)
            low = max(2, len(self.pending) // n // 4)
            high = max(2, len(self.pending) // n // 2)
            mine = self.nodes[node]
            if len(mine) < low:
                if duration >= 0.1 and len(mine) >= 2:
                    return
                self._send(node, min(high - len(mine), max(2 - len(mine), self.total)))
        else:
            self.shutdown[node] = True

    def runnable(self, node: int) -> bool:
        return len(self.nodes[node]) >= 2 or (self.shutdown[node] and bool(self.nodes[node]))


def simulate(tests: Sequence[TestRecord], shared: Mapping[str, SharedRecord], workers: int, *,
             transitions: int | None = None, deleting_s: float | None = None, ahead: bool | None = None
             ) -> Schedule:
    """Schedule ``tests`` (in collection order) on ``workers`` xdist workers (0: one process) as a live run would
    (see the module docstring) and return where and when each ran."""
    capacity = int(limits.STREAMS_IN_TRANSITION_MAX.value if transitions is None else transitions)
    ahead = MAKES_AHEAD if ahead is None else ahead
    deleting = float(limits.LIFECYCLE_STREAM_DELETING_S.value if deleting_s is None else deleting_s)
    nodes = max(1, workers)
    feed = _LoadScheduling(len(tests), nodes) if workers > 0 else None
    queue: list[list[int]] = [] if feed else [list(range(len(tests)))]
    limiter = _Limiter(capacity)
    schedule = Schedule(workers=workers, wall_s=0.0)
    heap: list[tuple[float, int, Any]] = []
    seq = itertools.count()
    jobs: dict[int, list[dict[str, Any]]] = {}  # test index -> its streams made ahead
    run_made: dict[str, dict[str, Any]] = {}  # a per-run shared resource's key -> when it was made (and done)
    waiting: dict[int, list[Any]] = {}  # id(job) -> actors joined on it
    ends: list[float] = [0.0] * nodes

    def pending_of(node: int) -> list[int]:
        return feed.nodes[node] if feed else queue[0]

    def runnable(node: int) -> bool:
        return feed.runnable(node) if feed else bool(queue[0])

    def make_ahead(job: dict[str, Any]) -> Generator[_Command, float, None]:
        now = yield ("slot", job["creation"].window_s)
        job["made_at"] = now
        now = yield ("sleep", job["creation"].window_s)
        job["done"] = now

    def make_for_the_run(job: dict[str, Any], making_s: float) -> Generator[_Command, float, None]:
        now = yield ("sleep", making_s)
        job["done"] = now

    def worker(node: int) -> Generator[_Command, float, None]:
        now = yield ("sleep", 0.0)
        made: dict[str, float] = {}
        while runnable(node):
            mine = pending_of(node)
            index = mine[0]
            test = tests[index]
            following = mine[1] if len(mine) > 1 else None
            if ahead and following is not None and following not in jobs and \
                    any(c.poolable for c in tests[following].creations):
                jobs[following] = [{"creation": c, "done": None, "made_at": None}
                                   for c in tests[following].creations if c.poolable]
                for job in jobs[following]:
                    start(make_ahead(job), now, job)
            start_at = now
            for key in test.shared:
                if key in made or key not in shared:
                    continue
                record = shared[key]
                if record.kind in PER_RUN_KINDS:  # one per run: the first worker makes it, the others wait for it
                    job = run_made.get(key)
                    if job is None:
                        job = run_made[key] = {"made_at": now, "done": None}
                        start(make_for_the_run(job, record.making_s), now, job)
                    now = yield ("join", job)
                    made[key] = now
                    continue
                if record.kind == "stream":
                    now = yield ("slot", record.making_s)
                made[key] = now
                now = yield ("sleep", record.making_s)
            own_windows = sum(c.window_s for c in test.creations)
            began = now
            made_ahead = jobs.pop(index, [])
            for creation in test.creations:
                job = made_ahead.pop(0) if creation.poolable and made_ahead else None
                if job is not None:
                    if job["done"] is None:
                        now = yield ("join", job)
                    schedule.ahead_shard_seconds += creation.shards * max(
                        0.0, began + creation.offset_s - job["made_at"])
                    continue
                asked = now
                now = yield ("slot", creation.window_s)
                schedule.waited_s += now - asked
                now = yield ("sleep", creation.window_s)
            now = yield ("sleep", max(0.0, test.duration_s - own_windows))
            for _ in range(test.deletions):
                asked = now
                now = yield ("slot", deleting)
                schedule.waited_s += now - asked
            schedule.placed[test.nodeid] = (node, start_at, now)
            if feed:
                feed.complete(node, index, max(test.teardown_s, MIN_TEARDOWN_S))
            else:
                queue[0].pop(0)
        ends[node] = now
        for key, made_at in made.items():
            record = shared[key]
            if record.kind in PER_RUN_KINDS:
                continue  # its life is the run's: counted once, below
            life = now - made_at + (deleting if record.kind == "stream" else 0.0)
            schedule.shared_made[key] += 1
            use = schedule.shared_use.setdefault(key, Counter())
            if record.kind == "stream":
                use["shard_seconds"] += record.shards * life
                use["shard_hours"] += record.shards * pricing.metered_hours(life)
                use["shard_hours_whole"] += record.shards * pricing.whole_hours(life)
            elif record.kind == "search-domain":
                use["search_instance_hours"] += pricing.whole_hours(life)

    def start(actor: Generator[_Command, float, None], at: float, job: Any = None) -> None:
        heapq.heappush(heap, (at, next(seq), (actor, ("start",), job)))

    for node in range(nodes):
        start(worker(node), 0.0)
    while heap:
        now, _, (actor, state, job) = heapq.heappop(heap)
        if state[0] == "slot":  # waiting for one of the account's transition slots
            retry = limiter.acquire(now, state[1])
            if retry is not None:
                heapq.heappush(heap, (retry, next(seq), (actor, state, job)))
                continue
        try:
            command = actor.send(None) if state[0] == "start" else actor.send(now)
        except StopIteration:
            for joined in waiting.pop(id(job), []) if job is not None else []:
                heapq.heappush(heap, (now, next(seq), (joined, ("resume",), None)))
            continue
        if command[0] == "sleep":
            heapq.heappush(heap, (now + command[1], next(seq), (actor, ("resume",), job)))
        elif command[0] == "slot":
            heapq.heappush(heap, (now, next(seq), (actor, command, job)))
        elif command[0] == "join":
            if command[1]["done"] is not None:
                heapq.heappush(heap, (now, next(seq), (actor, ("resume",), job)))
            else:
                waiting.setdefault(id(command[1]), []).append(actor)
        else:  # pragma: no cover - a programming error
            raise ValueError(f"unknown command {command!r}")
    schedule.wall_s = max(ends, default=0.0)
    for key, job in run_made.items():  # made once, deleted by the run's owner when every worker is done
        life = schedule.wall_s - job["made_at"]
        schedule.shared_made[key] += 1
        use = schedule.shared_use.setdefault(key, Counter())
        if shared[key].kind == "search-domain":
            use["search_instance_hours"] += pricing.whole_hours(life)
    return schedule



# ------------------------------------------------------------------------------------------------ the plan
#: The resource columns of a plan, in order: (key in the totals, column title).
RESOURCES = (("streams", "streams"), ("shards", "shards"), ("delivery_streams", "delivery"), ("buckets", "buckets"),
             ("roles", "roles"), ("search_domains", "domains"))
#: The quantities that cost money (pricing.cost's keys).
COSTED = ("shard_hours", "put_payload_units", "on_demand_stream_hours", "on_demand_bytes", "firehose_billed_bytes",
          "search_instance_hours", "consumer_shard_hours", "efo_bytes")


@dataclass
class Plan:
    """A predicted live run: per family and in total, what it makes, how long it takes, what it costs."""

    region: str
    workers: int
    wall_s: float
    families: dict[str, dict[str, float]]
    totals: dict[str, float]
    cost: pricing.Cost
    whole_hours_usd: float
    outcomes: dict[str, int]
    notes: list[str] = field(default_factory=list)
    #: node id -> the shapes (shards, on demand, max record KiB) of the streams the test makes, in order: what a
    #: live run's pool makes ahead of the test.
    streams_by_test: dict[str, list[list[Any]]] = field(default_factory=dict)
    #: the model's input: every test's record and the shared resources (to schedule again, e.g. for another -n)
    records: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def usd(self) -> float:
        return self.cost.usd

    def line(self) -> str:
        """The closing line, in the form scripts read."""
        return (f"{LINE_PREFIX} {self.wall_s / 60:.1f} min wall with -n {self.workers}, "
                f"{self.totals['shard_hours']:.2f} shard-hours, {self.usd:.3f} USD in {self.region}")

    def to_json(self) -> dict[str, Any]:
        return {"region": self.region, "workers": self.workers, "wall_s": round(self.wall_s, 1),
                "usd": round(self.usd, 6), "shard_hours": round(self.totals["shard_hours"], 6),
                "whole_hours_usd": round(self.whole_hours_usd, 6), "families": self.families,
                "totals": self.totals, "cost": self.cost.to_json(), "outcomes": self.outcomes, "notes": self.notes,
                "streams_by_test": self.streams_by_test, "lines": format_plan(self), "line": self.line(),
                "records": self.records, "shared": self.shared}


def _family_of_key(tests: Sequence[TestRecord], key: str) -> str:
    return next((t.family for t in tests if key in t.shared), "session")


def build_plan(tests: Sequence[TestRecord], shared: Mapping[str, SharedRecord], workers: int, region: str, *,
               notes: Iterable[str] = (), simulate_fn: Callable[..., Schedule] = simulate) -> Plan:
    """The plan of ``tests`` on ``workers`` in ``region``: the schedule, the use per family and the cost."""
    schedule = simulate_fn(tests, shared, workers)
    families: dict[str, dict[str, float]] = {}
    outcomes: Counter[str] = Counter()
    for test in tests:
        outcomes[test.outcome] += 1
        row = families.setdefault(test.family, Counter())
        row["tests"] += 1
        row["skipped"] += test.outcome == "skipped"
        row["test_s"] += test.duration_s
        for key, value in test.usage.items():
            row[key] += value
    for key, count in schedule.shared_made.items():
        record = shared[key]
        row = families.setdefault(_family_of_key(tests, key), Counter())
        if record.kind == "stream":
            row["streams"] += count
            row["shards"] += count * record.shards
        elif record.kind == "search-domain":
            row["search_domains"] += count
        row["test_s"] += count * record.making_s
        row.update(schedule.shared_use.get(key, {}))
    if schedule.ahead_shard_seconds:
        row = families.setdefault("(made ahead)", Counter())
        row["shard_seconds"] += schedule.ahead_shard_seconds
        row["shard_hours"] += pricing.metered_hours(schedule.ahead_shard_seconds)
    totals: Counter[str] = Counter({key: 0 for key, _ in RESOURCES})  # every column, made or not
    totals.update({key: 0 for key in (*COSTED, "shard_seconds", "shard_hours_whole", "tests")})
    for row in families.values():
        totals.update(row)
    result: dict[str, dict[str, float]] = {}
    for name, row in families.items():
        row_cost = pricing.cost(row, region)
        result[name] = {**{k: round(v, 6) for k, v in row.items()}, "usd": round(row_cost.usd, 6)}
    total_cost = pricing.cost(totals, region)
    whole = pricing.cost({**totals, "shard_hours": totals["shard_hours_whole"]}, region)
    return Plan(region=region, workers=workers, wall_s=schedule.wall_s, families=result,
                totals={k: round(v, 6) for k, v in totals.items()}, cost=total_cost, whole_hours_usd=whole.usd,
                outcomes=dict(outcomes), notes=list(notes),
                streams_by_test={t.nodeid: [list(c.shape()) for c in t.creations if c.poolable] for t in tests
                                 if any(c.poolable for c in t.creations)},
                records=[t.to_json() for t in tests], shared={k: asdict(v) for k, v in shared.items()})


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def format_plan(plan: Plan) -> list[str]:
    """The plan as terminal lines, each within 100 columns, the last one :meth:`Plan.line`."""
    head = f"{'family':<14}{'tests':>6}" + "".join(f"{title:>9}" for _, title in RESOURCES) + \
        f"{'test time':>10}{'shard-h':>8}{'USD':>8}"
    lines = [head]

    def row(name: str, values: Mapping[str, float], usd: float) -> str:
        counts = "".join(f"{int(values.get(key, 0)):>9}" for key, _ in RESOURCES)
        return (f"{name[:14]:<14}{int(values.get('tests', 0)):>6}{counts}{_minutes(values.get('test_s', 0.0)):>10}"
                f"{values.get('shard_hours', 0.0):>8.2f}{usd:>8.3f}")

    for name, values in plan.families.items():
        lines.append(row(name, values, values.get("usd", 0.0)))
    lines.append(row("total", plan.totals, plan.usd))
    skipped = sum(int(v.get("skipped", 0)) for v in plan.families.values())
    told = ", ".join(f"{n} {k}" for k, n in sorted(plan.outcomes.items()))
    lines.append(f"model run: {told}" + (f" ({skipped} skipped live too: nothing made)" if skipped else ""))
    for _, quantity, unit, price, usd in plan.cost.lines:
        lines.append(f"cost: {quantity:,.3f} {unit} x {price.usd:g} {price.unit} = {usd:.4f} USD{price.flag}"[:100])
    lines.append(f"billing: prorated (the guard's basis); each hour begun billed whole: "
                 f"{int(plan.totals.get('shard_hours_whole', 0))} shard-hours, {plan.whole_hours_usd:.2f} USD")
    mode = f"{plan.workers} xdist workers (--dist load)" if plan.workers else "one process"
    lines.append(f"wall time: {mode}, at most {limits.STREAMS_IN_TRANSITION_MAX.value} streams CREATING or DELETING "
                 "at once;")
    lines.append(("    each test's streams made while the test before it runs; " if MAKES_AHEAD else "    ")
                 + "pytest's own start-up not included")
    lines.extend(note[:100] for note in plan.notes)
    lines.append(plan.line())
    return lines


def plan_from_report(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The plan a JSON report holds (``run.plan``), if any."""
    run = report.get("run") or {}
    plan = run.get("plan")
    return plan if isinstance(plan, dict) else None


__all__ = ["Creation", "LINE_PREFIX", "Plan", "Schedule", "SharedRecord", "TestRecord", "build_plan", "format_plan",
           "plan_from_report", "simulate"]
