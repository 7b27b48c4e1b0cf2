"""pytest hooks of the live budget (issue 12), registered by the plugin (``pytest_plugins``) beside its fixtures.

* ``--kinesis-plan``: each test's record (:class:`~pytest_kinesis_limits.live.budget.PlanRecorder`), the plan at the end
  (:mod:`pytest_kinesis_limits.live.plan`), printed and in the JSON report (``run.plan``).
* live runs: the budget guard before anything is made (the plan of the same selection, in a subprocess; over
  ``--kinesis-max-cost-usd`` is a usage error with the plan printed). An endpoint run (the live code path against
  an emulator, which costs nothing) is guarded only when the option is given, so that the guard can be rehearsed.
* live and endpoint runs: what the run made (:class:`~pytest_kinesis_limits.live.usage.UsageMeter`), printed at the end
  beside the plan and in the JSON report (``run.usage``).

Hooks only; the work is in the library modules named. Split from plugin.py, which imports nothing from here.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from typing import Any

import pytest

from pytest_kinesis_limits.settings import Settings
from pytest_kinesis_limits.plugin.session import (BACKEND_KEY, METER_KEY, PLAN_KEY, POOL_KEY, POOL_SHAPES_KEY,
                                                  SEARCH_DOMAIN_SKIP, STARTED_KEY, SWARM_MODELLED, USAGE_KEY, is_worker,
                                                  only_informational, xdist_workers, clock_of, settings_of)

#: The folder a live or endpoint run's processes share (the account's streams in transition: transitions.py).
RUN_DIR_KEY = pytest.StashKey[str]()
RUN_DIR_WORKERINPUT = "kinesis_limits_run_dir"
SHAPES_WORKERINPUT = "kinesis_limits_streams_by_test"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """After the plugin's own configure (settings, preflight): meter a plan's run and live and endpoint runs, and
    guard a live run's budget."""
    settings = settings_of(config)
    if not (settings.plan or not settings.offline) or only_informational(config):
        return
    if not settings.offline:
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and RUN_DIR_WORKERINPUT in workerinput:
            config.stash[RUN_DIR_KEY] = workerinput[RUN_DIR_WORKERINPUT]
        else:
            from pytest_kinesis_limits.live.transitions import new_run_folder

            config.stash[RUN_DIR_KEY] = new_run_folder()
    config.pluginmanager.register(BudgetHooks(config), "kinesis-limits-budget")
    guarded = settings.backend_kind == "live" or (settings.backend_kind == "endpoint" and
                                                  "max_cost_usd" in settings.sources)
    if guarded and not is_worker(config) and not config.option.collectonly:
        _budget_guard(config, settings)
    if not settings.offline:  # the stream pool makes what the plan says each test makes (pool.py)
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None:
            shapes = json.loads(workerinput.get(SHAPES_WORKERINPUT) or "null")
        else:
            shapes = (config.stash.get(PLAN_KEY, None) or {}).get("streams_by_test")
        config.stash[POOL_SHAPES_KEY] = shapes or None


def worker_id(node: Any) -> str:
    """An xdist worker's id (``gw0``), from its gateway, else its workerinput."""
    gateway = getattr(node, "gateway", None)
    return str(getattr(gateway, "id", None) or getattr(node, "workerinput", {}).get("workerid") or id(node))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: the workers share the controller's folder (one ledger of streams in transition)."""
    folder = node.config.stash.get(RUN_DIR_KEY, None)
    if folder:
        node.workerinput[RUN_DIR_WORKERINPUT] = folder
    shapes = node.config.stash.get(POOL_SHAPES_KEY, None)
    if shapes:
        node.workerinput[SHAPES_WORKERINPUT] = json.dumps(shapes)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(RUN_DIR_KEY, None)
    if folder and not is_worker(config):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker of a live or endpoint run hands what it made to the controller, after its session fixtures
    are gone (their deletions included). The controller deletes the run's search domain, which its workers shared
    (live/shared_domain.py): every test is done by now."""
    config = session.config
    meter = config.stash.get(METER_KEY, None)
    if meter is not None and is_worker(config) and not settings_of(config).plan:
        config.workeroutput["kinesis_usage"] = meter.to_json()  # type: ignore[attr-defined]
    folder = config.stash.get(RUN_DIR_KEY, None)
    if folder and not is_worker(config):
        _delete_shared_domain(config, folder)


def _delete_shared_domain(config: pytest.Config, folder: str) -> None:
    """Delete the search domain the run's workers shared, if one was noted; a failure is said in one line, with the
    fix (sweep finds the domain by its tags)."""
    from pytest_kinesis_limits.live.shared_domain import SharedDomain

    shared = SharedDomain(folder)
    note = shared.note()
    if note is None:
        return
    from pytest_kinesis_limits.firehose import delete_search_domain

    if settings_of(config).keep_resources:
        _say(config, f"kinesis-limits: kept the run's OpenSearch domain {note['name']!r} (--kinesis-keep-resources); "
                     "it is billed by the hour: 'pytest-kinesis-limits sweep' deletes it")
        return
    backend = config.stash[BACKEND_KEY]
    assert backend is not None
    client = backend.client("opensearch")
    try:
        name = shared.delete(lambda made: delete_search_domain(client, made))
    except Exception as exc:  # noqa: BLE001 - said in one line, never a traceback at the run's end
        _say(config, f"kinesis-limits: the run's OpenSearch domain {note['name']!r} could not be deleted ({exc}); it "
                     "is billed by the hour: run 'pytest-kinesis-limits sweep' (it finds the domain by its tags)")
    else:
        _say(config, f"kinesis-limits: deleted the run's OpenSearch domain {name!r} (its workers shared it)")


def _say(config: pytest.Config, line: str) -> None:
    """A line at the run's end: on the terminal reporter, or standard error without one."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()  # the progress line may still be open (xdist's "[100%]")
        reporter.write_line(line)
    else:
        print(line, file=sys.stderr)


def _budget_guard(config: pytest.Config, settings: Settings) -> None:
    """Before a live run makes anything: its plan (an offline run of the same selection, in a subprocess); refuse the
    run when the predicted cost is over ``--kinesis-max-cost-usd``, printing the plan."""
    if settings.max_cost_usd is None:
        return
    from pytest_kinesis_limits.live.budget import PlanError, run_plan

    backend = config.stash[BACKEND_KEY]
    assert backend is not None
    try:
        plan = run_plan([str(a) for a in config.invocation_params.args], region=backend.region,
                        cwd=str(config.invocation_params.dir))
    except PlanError as exc:
        raise pytest.UsageError(
            f"--kinesis-max-cost-usd {settings.max_cost_usd:g} (from {settings.source_of('max_cost_usd')}): the live "
            f"run's plan could not be made, so its cost is unknown: {exc}\nFix: run 'pytest --kinesis-plan' with "
            "the same arguments to see why, or give --kinesis-max-cost-usd off to run without the guard.") from None
    config.stash[PLAN_KEY] = plan
    if float(plan["usd"]) > settings.max_cost_usd:
        raise pytest.UsageError(
            "\n".join(plan.get("lines", [plan.get("line", "")])) + f"\n--kinesis-max-cost-usd {settings.max_cost_usd:g} (from "
            f"{settings.source_of('max_cost_usd')}): this run's plan predicts {float(plan['usd']):.3f} USD, over "
            "the budget;\nnothing was made. Fix: select fewer tests (-k), or raise --kinesis-max-cost-usd.")


class BudgetHooks:
    """Registered for a plan's run (``--kinesis-plan``) and for live and endpoint runs: meters what the clients make
    (usage.UsageMeter, per test); a plan's run records each test and prints the plan; a live or endpoint run
    prints what it used, beside the plan when the budget guard made one."""

    def __init__(self, config: pytest.Config) -> None:
        from pytest_kinesis_limits.live.budget import PlanRecorder
        from pytest_kinesis_limits.live.usage import UsageMeter

        self.config = config
        self.plan = settings_of(config).plan
        self.meter = UsageMeter(clock_of(config))
        config.stash[METER_KEY] = self.meter
        config.stash[USAGE_KEY] = None
        self.recorder = PlanRecorder(self.meter) if self.plan else None
        self.records: list[dict[str, Any]] = []
        # One document per worker: xdist calls pytest_testnodedown twice for a worker that was interrupted
        # (workerfinished, then errordown "keyboard-interrupt"), which doubled the counts of what the run made.
        self.worker_usage: dict[str, dict[str, Any]] = {}
        self.order: dict[str, int] = {}
        self.lines: list[str] = []
        self.next_item: pytest.Item | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        self.next_item = nextitem

    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """A live or endpoint run with a plan: while this test runs, its pool makes the next test's streams."""
        pooled = self.config.stash.get(POOL_KEY, None)
        following = self.next_item
        shapes = (self.config.stash.get(POOL_SHAPES_KEY, None) or {}).get(following.nodeid) if following else None
        if pooled is not None and following is not None and shapes:
            pooled[0].prepare(following.nodeid, shapes)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if self.recorder is not None:
            self.recorder.begin(nodeid)
        else:
            self.meter.owner = nodeid

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        if self.recorder is not None:
            self.recorder.teardown_begins(item.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        if self.recorder is None:
            return
        if call.excinfo is not None:
            skipped = call.excinfo.errisinstance(pytest.skip.Exception)
            self.recorder.outcome(item.nodeid, "skipped" if skipped else "failed",
                                  str(call.excinfo.value)[:200] if skipped else "")
        if call.when == "teardown":
            from pytest_kinesis_limits.live.budget import RECORD_PROPERTY

            record = self.recorder.finish(item.nodeid)
            if not self.order:
                self.order = {it.nodeid: n for n, it in enumerate(item.session.items)}
            record["order"] = self.order.get(item.nodeid, len(self.order))
            item.user_properties.append((RECORD_PROPERTY, json.dumps(record)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from pytest_kinesis_limits.live.budget import RECORD_PROPERTY

        if is_worker(self.config) or not any(name == RECORD_PROPERTY for name, _ in report.user_properties):
            return
        if report.when == "teardown":
            self.records.extend(json.loads(v) for n, v in report.user_properties if n == RECORD_PROPERTY)
        report.user_properties = [(n, v) for n, v in report.user_properties if n != RECORD_PROPERTY]

    def pytest_runtest_logfinish(self) -> None:
        if self.recorder is None:
            self.meter.owner = ""

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        document = getattr(node, "workeroutput", {}).get("kinesis_usage")
        if document:
            self.worker_usage[worker_id(node)] = document

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if is_worker(self.config):
            return
        if self.recorder is not None:
            self._finish_plan(session, exitstatus)
        else:
            self._finish_usage()

    def _finish_plan(self, session: pytest.Session, exitstatus: int) -> None:
        from pytest_kinesis_limits.regions import region_of
        from pytest_kinesis_limits.live.budget import records_from
        from pytest_kinesis_limits.live.plan import build_plan, format_plan

        settings = settings_of(self.config)
        region = region_of(settings)
        tests, shared = records_from(self.records)
        notes = []
        left_out = sum(1 for t in tests if t.outcome == "skipped" and t.reason.startswith(SEARCH_DOMAIN_SKIP[:40]))
        if left_out:
            notes.append(f"not in this plan: {left_out} test(s) marked kinesis_search_domain (the search_index "
                         "family), skipped live")
            notes.append("    without --kinesis-search-domain (one OpenSearch domain per run: 30 min to make, "
                         "paid hourly)")
        modelled = [t for t in tests if t.outcome == "skipped" and t.reason.startswith(SWARM_MODELLED)]
        for test in modelled:  # not skipped live: run there, modelled here
            test.outcome = "modelled"
        if modelled:
            notes.append(f"modelled: {len(modelled)} scale test(s): a swarm's time and PUT payload units counted, "
                         "not run")
        failed = sum(1 for t in tests if t.outcome == "failed")
        if failed:
            notes.append(f"{failed} test(s) failed in the model run: their times and resources may be short")
        plan = build_plan(tests, shared, xdist_workers(self.config), region, notes=notes)
        self.config.stash[PLAN_KEY] = plan.to_json()
        self.lines = format_plan(plan)
        if exitstatus == pytest.ExitCode.TESTS_FAILED:  # the plan is made; the model's failures are in it
            session.exitstatus = pytest.ExitCode.OK

    def _finish_usage(self) -> None:
        from pytest_kinesis_limits.live.usage import merge_totals

        documents = list(self.worker_usage.values()) if self.worker_usage else [self.meter.to_json()]
        self.config.stash[USAGE_KEY] = merge_totals(documents)

    @pytest.hookimpl(trylast=True)  # the plan's line is the last the plugin prints
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if is_worker(self.config):
            return
        if self.recorder is not None:
            terminalreporter.write_sep("=", "kinesis-limits plan: a live run of these tests")
            for line in self.lines:
                terminalreporter.write_line(line)
            return
        used = (self.config.stash.get(USAGE_KEY, None) or {}).get("totals")
        if not used:
            return
        from pytest_kinesis_limits.live.budget import usage_lines

        started = self.config.stash.get(STARTED_KEY, None)
        terminalreporter.write_sep("-", "kinesis-limits: what this run made" + (
            " (beside its plan)" if self.config.stash.get(PLAN_KEY, None) else ""))
        for line in usage_lines(used, self.config.stash.get(PLAN_KEY, None),
                                wall_s=None if started is None else time.time() - started):
            terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self) -> None:
        self.config.stash[STARTED_KEY] = time.time()
