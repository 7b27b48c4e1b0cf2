"""The live budget inside a pytest session: the plan's records, the guard's plan run, the use beside the plan.

* :class:`PlanRecorder` turns what a test of a plan's run did (its phases on the simulated clock and what the
  :class:`~pytest_kinesis_limits.live.usage.UsageMeter` saw) into a :class:`~pytest_kinesis_limits.live.plan.TestRecord`.
* :func:`run_plan` is the budget guard's plan: ``pytest <the same arguments> --kinesis-plan`` in a subprocess,
  offline, its JSON report read back (``run.plan``).
* :func:`usage_lines` prints what a live run (or a run against an endpoint) used, beside the plan when there is one,
  within 100 columns.

Library code: the plugin's hooks call it; no pytest import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_kinesis_limits.live import usage as usage_mod
from pytest_kinesis_limits.live.plan import Creation, SharedRecord, TestRecord
from pytest_kinesis_limits.live.usage import UsageMeter

#: The user_properties name of a plan's test record (taken out of the report before junitxml sees it).
RECORD_PROPERTY = "kinesis_plan_record"
#: How long the guard's plan run may take (the main job's takes well under a minute).
PLAN_TIMEOUT_S = 900


class PlanError(RuntimeError):
    """The guard's plan could not be made; the message says why and how to go on."""


class PlanRecorder:
    """Per test of a plan's run: the phases' times on the clock and what the meter saw, as a TestRecord."""

    def __init__(self, meter: UsageMeter) -> None:
        self.meter = meter
        self.started: dict[str, float] = {}
        self.teardown_started: dict[str, float] = {}
        self.outcomes: dict[str, str] = {}
        self.reasons: dict[str, str] = {}
        self._shared_before: dict[str, set[str]] = {}

    def begin(self, nodeid: str) -> None:
        """The test's setup starts: what it makes from now on is its own."""
        self.meter.owner = nodeid
        self.started[nodeid] = self.meter.clock.now()
        self._shared_before[nodeid] = set(self.meter.shared_costs)

    def teardown_begins(self, nodeid: str) -> None:
        self.teardown_started[nodeid] = self.meter.clock.now()

    def outcome(self, nodeid: str, outcome: str, reason: str = "") -> None:
        """Note a phase's outcome: failed beats skipped beats passed (a skip keeps its reason)."""
        if reason:
            self.reasons[nodeid] = reason
        order = ("passed", "xfailed", "skipped", "failed")
        known = self.outcomes.get(nodeid, "passed")
        self.outcomes[nodeid] = max(known, outcome, key=lambda o: order.index(o) if o in order else 0)

    def finish(self, nodeid: str) -> dict[str, Any]:
        """The test's teardown ended: its record as JSON, with the shared resources it made under
        ``made_shared`` (the meter's owner goes back to the session)."""
        meter = self.meter
        now = meter.clock.now()
        start = self.started.pop(nodeid, now)
        made_shared = {key: meter.shared_costs[key] for key in set(meter.shared_costs) -
                       self._shared_before.pop(nodeid, set())}
        streams = [s for s in meter.streams.values() if s.owner == nodeid and s.shared is None]
        others = [o for o in meter.others.values() if o.owner == nodeid and o.shared is None]
        deletions = sum(1 for s in meter.streams.values()
                        if s.shared is None and s.deleted is not None and start <= s.deleted <= now)
        creations = [Creation(offset_s=s.created - start, window_s=max(0.0, (s.active or s.created) - s.created),
                              shards=s.initial_shards, on_demand=s.on_demand,
                              max_record_size_kib=s.max_record_size_kib, poolable=s.by_fixture)
                     for s in sorted(streams, key=lambda s: s.created) if start <= s.created <= now]
        consumers = [c for c in meter.consumers.values() if c.owner == nodeid]
        totals = usage_mod.summarize(streams, others, meter.counts.get(nodeid, {}), now, consumers,
                                     list(meter.streams.values()))
        shared_made = {}
        for key, seconds in made_shared.items():
            kind = "stream"
            shards = 0
            for s in meter.streams.values():
                if s.shared == key:
                    shards = s.initial_shards
            for o in meter.others.values():
                if o.shared == key:
                    kind = o.kind
            shared_made[key] = {"kind": kind, "window_s": seconds, "shards": shards}
        record = TestRecord(
            nodeid=nodeid, outcome=self.outcomes.pop(nodeid, "passed"),
            duration_s=max(0.0, now - start - sum(made_shared.values())),
            teardown_s=max(0.0, now - self.teardown_started.pop(nodeid, now)), creations=creations,
            deletions=deletions, shared=sorted(meter.uses.get(nodeid, set())), reason=self.reasons.pop(nodeid, ""),
            usage={k: v for k, v in totals.items() if v})
        meter.owner = ""
        return {**record.to_json(), "made_shared": shared_made}


def records_from(documents: Sequence[Mapping[str, Any]]) -> tuple[list[TestRecord], dict[str, SharedRecord]]:
    """The plan's records and shared resources from the record documents the tests' reports carried."""
    tests = []
    shared: dict[str, SharedRecord] = {}
    for document in documents:
        data = dict(document)
        for key, made in (data.pop("made_shared", None) or {}).items():
            known = shared.get(key)
            if known is None or made["window_s"] > known.window_s:
                shared[key] = SharedRecord(key=key, kind=made["kind"], window_s=made["window_s"],
                                           shards=made["shards"])
        tests.append(TestRecord.from_json(data))
    tests.sort(key=lambda t: t.order)
    for test in tests:  # a key used but made nowhere in this run (a stand-in not metered): a shared stream
        for key in test.shared:
            shared.setdefault(key, SharedRecord(key=key, kind="stream", window_s=0.0, shards=1))
    return tests, shared


# ------------------------------------------------------------------------------------------------ the guard
def plan_arguments(args: Sequence[str], *, region: str, report: str, cache_dir: str) -> list[str]:
    """The guard's plan run: the user's arguments, then what makes it an offline plan writing only ``report``
    (later options win: ``--no-live``, the region, the report; junitxml and the cache go to scratch places)."""
    extra = ["--kinesis-plan", "--no-live", "--aws-region", region, "--kinesis-report", report,
             "-o", f"cache_dir={cache_dir}"]
    if any(a.startswith(("--junitxml", "--junit-xml")) for a in args):
        extra.append(f"--junitxml={os.path.join(cache_dir, 'plan-junit.xml')}")
    return [*args, *extra]


def run_plan(args: Sequence[str], *, region: str, cwd: str, timeout_s: float = PLAN_TIMEOUT_S) -> dict[str, Any]:
    """Run the plan of a live run (the same arguments, offline) in a subprocess; its ``run.plan``."""
    with tempfile.TemporaryDirectory(prefix="pytest-kinesis-limits-plan-") as scratch:
        report = os.path.join(scratch, "plan.json")
        command = [sys.executable, "-m", "pytest", *plan_arguments(args, region=region, report=report,
                                                                  cache_dir=scratch)]
        env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_STEP_SUMMARY", "PYTEST_ADDOPTS",
                                                                  "PYTEST_XDIST_WORKER")}
        env["PYTEST_ADDOPTS"] = os.environ.get("PYTEST_ADDOPTS", "")
        try:
            done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise PlanError(f"the plan's offline run did not end within {timeout_s:g} s") from None
        try:
            with open(report, encoding="utf-8") as handle:
                plan = json.load(handle)["run"]["plan"]
        except (OSError, KeyError, ValueError, TypeError):
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise PlanError(f"the plan's offline run ended with status {done.returncode} and no plan:\n{tail}") \
                from None
    return dict(plan)


# ------------------------------------------------------------------------------------------------ use vs plan
USE_COLUMNS = (("streams", "streams"), ("shards", "shards"), ("delivery_streams", "delivery"),
               ("buckets", "buckets"), ("roles", "roles"), ("search_domains", "domains"))


def usage_lines(used: Mapping[str, float], plan: Mapping[str, Any] | None, *, wall_s: float | None = None
                ) -> list[str]:
    """What the run used beside what its plan predicted, each line within 100 columns."""
    head = f"{'':<10}" + "".join(f"{title:>9}" for _, title in USE_COLUMNS) + f"{'shard-s':>10}{'shard-h':>9}" \
        f"{'wall':>10}"
    lines = [head]

    def row(name: str, values: Mapping[str, Any], wall: float | None) -> str:
        counts = "".join(f"{int(values.get(key, 0)):>9}" for key, _ in USE_COLUMNS)
        shard_s = float(values.get("shard_seconds", 0.0))
        wall_text = "-" if wall is None else f"{wall / 60:.1f} min"
        return f"{name:<10}{counts}{shard_s:>10,.0f}{float(values.get('shard_hours', 0.0)):>9.2f}{wall_text:>10}"

    lines.append(row("used", used, wall_s))
    if plan:
        lines.append(row("predicted", plan.get("totals", {}), plan.get("wall_s")))
        lines.append(str(plan.get("line", ""))[:100])
    return lines


__all__ = ["PlanError", "PlanRecorder", "RECORD_PROPERTY", "plan_arguments", "records_from", "run_plan",
           "usage_lines"]
