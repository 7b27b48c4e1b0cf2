"""pytest hooks of pytest-kinesis-limits (registered through the ``pytest11`` entry point).

Hooks only: options and settings, markers, the live preflight, the report header, per-test timeouts
and known-gap expected failures, and the measurement table at the end. Fixtures live in
:mod:`pytest_kinesis_limits.plugin.fixtures`. Importing this module is cheap: boto3 and moto are imported only
when a run needs them (``--live`` preflight, or a test that uses a Kinesis fixture).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kinesis_limits import families
from pytest_kinesis_limits.regions import region_of, region_problem
from pytest_kinesis_limits.reporting.matrix import NO_MEASUREMENT_LIMIT, UNSUPPORTED_PREFIX
from pytest_kinesis_limits.reporting.report import PROPERTY_NAME, SERIES_PROPERTY_NAME, Measurement, summarize
from pytest_kinesis_limits.settings import SPECS, Settings, SettingError, resolve

if TYPE_CHECKING:
    from collections.abc import Generator

    from pytest_kinesis_limits.backends import Backend
    from pytest_kinesis_limits.fidelity.simtime import TimeKeeper

from pytest_kinesis_limits.plugin.clashes import clash_line, our_fixtures
from pytest_kinesis_limits.plugin.session import (BACKEND_KEY, GATE_LINE_KEY, GATE_OUTPUT, KEEPER_KEY, MEASUREMENTS_KEY,
                                                  METER_KEY, PLAN_BACKEND_KEY, PLAN_KEY, RUN_ID_KEY, RUN_ID_WORKERINPUT,
                                                  SEARCH_DOMAIN_SKIP, SETTINGS_KEY, USAGE_KEY, WORKSTEAL_WORKERINPUT,
                                                  is_worker,
                                                  only_informational, xdist_workers, clock_of, settings_of)

pytest_plugins = ["pytest_kinesis_limits.plugin.fixtures", "pytest_kinesis_limits.plugin.budget_fixtures",
                  "pytest_kinesis_limits.plugin.firehose_fixtures", "pytest_kinesis_limits.plugin.endpoint_fixtures",
                  "pytest_kinesis_limits.plugin.fan_out_fixtures", "pytest_kinesis_limits.plugin.load_fixtures",
                  "pytest_kinesis_limits.plugin.budget_hooks"]

# Tests that use any of these get the plugin's default timeout (the families' and the common fixtures).
KINESIS_FIXTURES = families.KINESIS_FIXTURES

GAP_LABELS = ("moto", "moto-plain", "live", "endpoint")  # what kinesis_gap may name: backend kinds, never an emulator

MARKERS = (
    "kinesis_gap(*backends, reason): a documented behaviour this backend is known not to honour "
    "(backends: moto, moto-plain, live, endpoint); the test becomes a strict expected failure there",
    "kinesis_search_domain: the test needs an OpenSearch Service domain (search_target); live it runs only with "
    "--kinesis-search-domain, because a domain takes 15-30 minutes to create and is billed per hour",
    "kinesis_long: the test runs much longer than the others on the wall clock (e.g. the seed's 50,000-record "
    "scenarios); live and endpoint runs under pytest-xdist start these first, so that they do not end the run alone",
)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: a worker stopped by the moto gate makes the whole run end with status 4 (usage error)."""
    line = getattr(node, "workeroutput", {}).get(GATE_OUTPUT)
    if line:
        node.config.stash[GATE_LINE_KEY] = line


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.config.stash.get(GATE_LINE_KEY, None):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def _dest(name: str) -> str:
    return f"kinesis_{name}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kinesis-limits", "Kinesis limits (pytest-kinesis-limits)")
    for spec in SPECS:
        text = f"{spec.help}. Also env {spec.env}, ini {spec.ini}."
        if spec.flag:  # --live / --no-live: the command line can also switch off what env or ini switched on
            group.addoption(spec.option, action=argparse.BooleanOptionalAction, default=None, dest=_dest(spec.name),
                            help=text)
        else:
            group.addoption(spec.option, action="store", default=None, dest=_dest(spec.name),
                            metavar=spec.metavar, help=text)
        parser.addini(spec.ini, help=f"{spec.help} (see {spec.option})", default="")


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    clash = None if only_informational(config) else clash_line(config, our_fixtures(pytest_plugins))
    if clash:  # (--help and --version still answer: they run no test)
        raise pytest.UsageError(clash)
    try:
        settings = resolve(
            cli={spec.name: config.getoption(_dest(spec.name)) for spec in SPECS},
            env=os.environ,
            ini={spec.name: config.getini(spec.ini) for spec in SPECS},
            ini_file=str(config.inipath) if config.inipath else None,
            overridden=frozenset(item.partition("=")[0].strip() for item in config.option.override_ini or ()),
        )
    except SettingError as exc:
        raise pytest.UsageError(str(exc)) from None
    if settings.report and not is_worker(config):
        parent = os.path.dirname(os.path.abspath(settings.report))
        if os.path.isdir(settings.report):
            raise pytest.UsageError(
                f"--kinesis-report {settings.report!r} (from {settings.source_of('report')}) is a folder; the report "
                "is one JSON file. Fix: name a file, for example "
                f"{os.path.join(settings.report, 'kinesis-limits.json')}.")
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            raise pytest.UsageError(
                f"--kinesis-report {settings.report!r} (from {settings.source_of('report')}): the folder {parent} "
                "does not exist or cannot be written. Fix: create it, or name a file in a writable folder.")
    if not is_worker(config):
        _check_page_and_plots(settings)
        if settings.offline and settings.aws_region and not only_informational(config):
            problem = region_problem(settings.aws_region)  # moto has no backend for it: a KeyError in the first test
            if problem:
                raise pytest.UsageError(f"--aws-region {settings.aws_region!r} (from {settings.source_of('aws_region')}) "
                                        f"{problem} Fix: give a real region (offline, any of them works).")
    config.stash[PLAN_BACKEND_KEY] = None
    config.stash[PLAN_KEY] = None
    if settings.plan and not settings.offline and not only_informational(config):
        settings = _plan_offline(config, settings)
    config.stash[SETTINGS_KEY] = settings
    config.stash[MEASUREMENTS_KEY] = []
    config.stash[BACKEND_KEY] = None
    config.pluginmanager.register(MeasurementCollector(config), "kinesis-limits-measurements")
    config.stash[METER_KEY] = None
    config.stash[USAGE_KEY] = None
    if settings.offline and settings.check_permissions and not only_informational(config):
        raise pytest.UsageError(
            f"--kinesis-check-permissions (from {settings.source_of('check_permissions')}) checks an AWS account's IAM "
            "before a live run, and this run is offline. Fix: add --live (or --aws-endpoint-url), or drop it.")
    if settings.offline or only_informational(config):
        return
    from pytest_kinesis_limits.gc_tuning import gc_paused_then_frozen

    with gc_paused_then_frozen():  # boto3's and botocore's objects, as the offline backend's start does
        from pytest_kinesis_limits.backends import PreflightError, preflight

        try:
            config.stash[BACKEND_KEY] = backend = preflight(settings)
        except PreflightError as exc:
            raise pytest.UsageError(f"pytest-kinesis-limits {settings.backend_kind} preflight: {exc}") from None
    if settings.check_permissions and not is_worker(config):
        _check_permissions(backend, settings)


def _check_permissions(backend: Backend, settings: Settings) -> None:
    """``--kinesis-check-permissions``: IAM's simulation of every action the suite uses, before anything is made."""
    from pytest_kinesis_limits.live.permissions import PermissionCheckError, denied_actions

    where = f"pytest-kinesis-limits {settings.backend_kind} preflight"
    if not backend.arn or not backend.account_id:
        raise pytest.UsageError(f"{where}: --kinesis-check-permissions needs the caller's identity, and this backend "
                                "answered no STS GetCallerIdentity. Fix: drop --kinesis-check-permissions here.")
    try:
        denied = denied_actions(backend.client("iam"), backend.arn, settings.prefix, backend.region,
                                backend.account_id)
    except PermissionCheckError as exc:
        raise pytest.UsageError(f"{where}: the permissions could not be checked: {exc}") from None
    if denied:
        raise pytest.UsageError(
            f"{where}: {backend.arn} may not call {len(denied)} action(s) the suite uses on resources named "
            f"{settings.prefix}-*: {', '.join(denied)}. Nothing was made. Fix: attach the policy "
            f"'pytest-kinesis-limits policy --prefix {settings.prefix}' prints (docs/permissions.md)")


def _plan_offline(config: pytest.Config, settings: Settings) -> Settings:
    """``--kinesis-plan`` with --live or an endpoint: the preflight checks the setup (and finds the region), then
    the plan runs offline like any plan; nothing is made there."""
    from dataclasses import replace

    from pytest_kinesis_limits.backends import PreflightError, preflight

    try:
        backend = preflight(settings)
    except PreflightError as exc:
        raise pytest.UsageError(f"pytest-kinesis-limits {settings.backend_kind} preflight: {exc}") from None
    config.stash[PLAN_BACKEND_KEY] = backend
    return replace(settings, live=False, aws_endpoint_url=None, aws_region=backend.region)


def _check_page_and_plots(settings: Settings) -> None:
    """Fail at the start, not after the run, when the HTML page or the plots cannot be written."""
    if settings.report_html:
        parent = os.path.dirname(os.path.abspath(settings.report_html))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK) or os.path.isdir(settings.report_html):
            raise pytest.UsageError(
                f"--kinesis-report-html {settings.report_html!r} (from {settings.source_of('report_html')}): the "
                f"folder {parent} does not exist or cannot be written, or the name is a folder. Fix: name a file "
                "in a writable folder.")
    if settings.plots:
        from pytest_kinesis_limits.reporting.plots import PlotsUnavailable, check_folder, require_matplotlib

        try:
            require_matplotlib()
            check_folder(settings.plots)
        except PlotsUnavailable as exc:
            raise pytest.UsageError(f"--kinesis-plots {settings.plots!r} (from {settings.source_of('plots')}): "
                                    f"{exc}") from None


# Two lines, each within 100 columns (the header fits a 100-column terminal, like the summary).
TIME_OFFLINE = ("kinesis-limits time: simulated (offline): in Kinesis tests time.sleep, botocore retries and",
                "    boto3 waiters move the shards' clock and return at once (--kinesis-clock=real: wall clock)")
TIME_OFFLINE_REAL = "kinesis-limits time: the wall clock (--kinesis-clock=real): the offline layer counts real seconds"


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = settings_of(config)
    backend = config.stash.get(BACKEND_KEY, None)
    if backend is not None:
        where = backend.describe()
    else:
        name = settings.effective_backend_name
        named = name if name == settings.backend_label else f"{name} ({settings.backend_label})"
        where = f"backend={named} region={region_of(settings)} (offline, moto)"
    lines = [f"kinesis-limits: {where}"]
    if backend is not None and backend.unserved:
        lines.append("kinesis-limits: not served by this endpoint, so their tests are skipped and reported as "
                     "unsupported: " + "; ".join(why for _, why in backend.unserved))
    chosen = [f"{name}={getattr(settings, name)!r} ({source})" for name, source in settings.sources.items()]
    if chosen:
        lines.append("kinesis-limits settings: " + "; ".join(chosen))
    if settings.offline:
        lines.extend(TIME_OFFLINE if settings.simulated_clock else (TIME_OFFLINE_REAL,))
    plan = config.stash.get(PLAN_KEY, None)
    if settings.plan:
        checked = config.stash.get(PLAN_BACKEND_KEY, None)
        lines.append("kinesis-limits plan: the selected tests run offline with a live run's settings and AWS's "
                     "typical durations;")
        lines.append("    nothing is made" + (f" (the preflight checked {checked.describe()})"[:80] if checked else "")
                     + "; the plan is printed at the end")
    elif settings.backend_kind == "live":  # an endpoint (emulator) bills nothing
        guard = ("no budget guard (--kinesis-max-cost-usd off)" if settings.max_cost_usd is None
                 else f"budget {settings.max_cost_usd:.2f} USD (--kinesis-max-cost-usd)")
        lines.append(f"kinesis-limits cost: {plan['line']}" if plan else
                     "kinesis-limits cost: see 'pytest --kinesis-plan' (docs/live-budget.md)")
        lines.append(f"    {guard}; what the run used is printed at the end")
    return lines


# tryfirst: xdist's worker reads the xdist_group marker in its own (plain) pytest_collection_modifyitems to
# group node ids for --dist loadgroup; the marker added here has to be there before it looks (on a pytest whose
# node ids still take xdist's suffix; pytest_xdist_make_scheduler below groups the family on any).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = settings_of(config)
    label = settings.backend_label
    global_timeout = _global_timeout(config)
    backend = config.stash.get(BACKEND_KEY, None)
    # Endpoint runs start the long tests first: against an emulator the seed's 50,000-record scenarios take
    # minutes (kinesis-mock: ~6 and ~10) and, started last, end the run alone. Live they take about a minute,
    # and the plan shows the sort would lengthen a run at -n 2 (21.5 -> 23.5 min predicted): live keeps the order.
    # Offline they are also the longest (2-7 s each, the rest under 1 s): under xdist they are dealt over the workers'
    # first chunks, the scale family's alone on one worker (_deal_long_first), so that the workers of the main job
    # finish together (issue 23); one process keeps the file's order.
    group = settings.backend_kind == "endpoint" and config.pluginmanager.hasplugin("xdist")
    if group:
        # every worker sorts alike (stable), so their collections still match
        items.sort(key=lambda item: item.get_closest_marker("kinesis_long") is None)
    elif settings.offline and hasattr(config, "workerinput"):
        _deal_long_first(config, items)
    for item in items:
        if backend is not None and backend.unserved:
            _skip_unserved(item, backend, settings)
        one_worker = next((prefix for prefix in ONE_WORKER_GROUPS if item.name.startswith(prefix)), None)
        if group and one_worker:
            item.add_marker(pytest.mark.xdist_group(one_worker))
        for marker in item.iter_markers("kinesis_gap"):
            unknown = [name for name in marker.args if name not in GAP_LABELS]
            if unknown:
                raise pytest.UsageError(
                    f"{item.nodeid}: kinesis_gap names {', '.join(map(repr, unknown))}; a known gap matches a backend "
                    f"kind only ({', '.join(GAP_LABELS)}). An emulator's gaps (kinesalite, kinesis-mock, ...) are what "
                    "a conformance run reports: they must show as failures, not be hidden as expected failures.")
            if label in marker.args:
                reason = marker.kwargs.get("reason", "known gap")
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"known gap of {label}: {reason}"))
        if (settings.backend_kind == "live" or settings.plan) and not settings.search_domain \
                and item.get_closest_marker("kinesis_search_domain") is not None:
            item.add_marker(pytest.mark.skip(reason=SEARCH_DOMAIN_SKIP))
        uses_kinesis = KINESIS_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_kinesis and not global_timeout and item.get_closest_marker("timeout") is None:
            # func_only: the timer bounds the test's body; setup and teardown (creating and deleting resources)
            # are bounded by the wait policy instead, and a timer must never cut a deletion short.
            item.add_marker(pytest.mark.timeout(settings.effective_timeout, func_only=True))


def _keeper(item: pytest.Item) -> TimeKeeper | None:
    """The TimeKeeper of a test that uses the offline backend on the simulated clock (made at its setup)."""
    if KEEPER_KEY not in item.stash:
        keeper = None
        uses_kinesis = KINESIS_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_kinesis and settings_of(item.config).simulated_clock:
            from pytest_kinesis_limits.clock import SimulatedClock
            from pytest_kinesis_limits.fidelity.simtime import TimeKeeper, active_keeper

            clock = clock_of(item.config)
            if isinstance(clock, SimulatedClock) and active_keeper() is None:  # (not a pytester run inside a test)
                keeper = TimeKeeper(clock)
        item.stash[KEEPER_KEY] = keeper
    return item.stash[KEEPER_KEY]


# Simulated time covers each phase's own work (fixtures and the test), inside every other plugin's wrapper
# (trylast): pytest's reporting between phases, pytest-timeout's timer and xdist's messages keep the wall clock.
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    keeper = _keeper(item)
    if keeper is None:
        return (yield)
    with keeper.phase():
        return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    keeper = item.stash.get(KEEPER_KEY, None)
    if keeper is None:
        return (yield)
    with keeper.phase():
        return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    keeper = item.stash.get(KEEPER_KEY, None)
    if keeper is None:
        return (yield)
    try:
        with keeper.phase():
            return (yield)
    finally:
        keeper.close()
        item.stash[KEEPER_KEY] = None  # the keeper holds the test's threads: let them go


def _deal_long_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Offline under xdist: order the collection so that the scheduling starts the long tests first, spread over
    the workers, a one-worker family's long tests (the scale family's swarm) together on one (every worker orders
    alike, so their collections still match): in the blocks ``worksteal`` deals when the plugin chose it
    (:func:`_offline_worksteal`), else in the chunks of ``load``."""
    from pytest_kinesis_limits.live.scheduling import deal_into_blocks, deal_long_first, first_chunk

    workerinput = getattr(config, "workerinput", {})
    workers = int(workerinput.get("workercount", 1))
    groups: dict[str, list[int]] = {}
    others: list[int] = []
    for index, item in enumerate(items):
        if item.get_closest_marker("kinesis_long") is None:
            others.append(index)
            continue
        family = next((prefix for prefix in ONE_WORKER_GROUPS if item.name.startswith(prefix)), item.nodeid)
        groups.setdefault(family, []).append(index)
    if not groups:
        return
    # The scale family waits on its swarm (the wall clock) on a worker of its own, while the others use the cores.
    alone = [groups.pop(prefix) for prefix in WALL_CLOCK_GROUPS if prefix in groups]
    if workerinput.get(WORKSTEAL_WORKERINPUT):
        order = deal_into_blocks(list(groups.values()), others, workers=workers, alone=alone)
    else:
        chunk = first_chunk(len(items), workers, config.getoption("maxschedchunk", None))
        order = deal_long_first(list(groups.values()), others, workers=workers, chunk=chunk, alone=alone)
    items[:] = [items[i] for i in order]


# Live and endpoint runs with --dist loadgroup run each of these families on one worker: their verdicts need the
# producer to offer a load on the wall clock, which producers on other workers of a 2-core machine would compete for.
ONE_WORKER_GROUPS = tuple(family.test_prefix for family in families.one_worker_families())
#: Offline, the families whose long tests mostly wait on the wall clock (a swarm in other processes): their worker
#: starts them alone (_deal_long_first).
WALL_CLOCK_GROUPS = (families.family_named("scale").test_prefix,)

# The fixture through which a test needs each service besides Kinesis (``fixturenames`` is the closure: a test
# using ``firehose_delivery_stream`` lists all three).
SERVICE_FIXTURES = {"firehose": "firehose_client", "s3": "s3_client", "iam": "iam_client",
                    "opensearch": "search_target"}


def _skip_unserved(item: pytest.Item, backend: Backend, settings: Settings) -> None:
    """Skip a test that needs a service the endpoint does not serve, and record it as ``unsupported``."""
    names = getattr(item, "fixturenames", ())
    missing = [service for service, fixture in SERVICE_FIXTURES.items()
               if fixture in names and not backend.serves(service)]
    if not missing:
        return
    reason = "; ".join(backend.why_unserved(service) for service in missing)
    item.add_marker(pytest.mark.skip(reason=f"unsupported by this endpoint: {reason}"))
    item.user_properties.append((PROPERTY_NAME, Measurement(
        test=item.nodeid, limit=UNSUPPORTED_PREFIX + "+".join(missing), documented=None, measured=None, unit="",
        backend=settings.effective_backend_name, verdict="unsupported", detail=reason).to_json()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A fixture that proves the backend does what AWS documents (a delivery stream is handed over only once its
    canary arrived) and fails because the backend does not, failed the test, not its setup: FAILED, not ERROR. A test
    stopped by :class:`~pytest_kinesis_limits.kinesis.resources.AccountBusyError` is inconclusive: skipped, saying
    why."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.excinfo is not None and _account_busy(call.excinfo):
        # Too many of the account's streams stayed in transition (other runs, other users): the test could not run
        # what it judges, so it is inconclusive, a skip that says why, never a failure of the backend or the test.
        path, line = item.reportinfo()[:2]
        report.outcome = "skipped"
        report.longrepr = (str(path), (line or 0) + 1, f"inconclusive: {call.excinfo.value}")
        return
    if report.when == "setup" and report.failed and call.excinfo is not None:
        from pytest_kinesis_limits.firehose import DeliveryStreamError

        if call.excinfo.errisinstance(DeliveryStreamError):
            report.when = "call"


def _account_busy(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    from pytest_kinesis_limits.kinesis.resources import AccountBusyError  # botocore: only once a test failed

    return excinfo.errisinstance(AccountBusyError)


def _global_timeout(config: pytest.Config) -> bool:
    """Whether the user set pytest-timeout's own --timeout or ini timeout (which then wins over ours)."""
    if not config.pluginmanager.hasplugin("timeout"):
        return True  # no pytest-timeout: nothing to add
    return bool(config.getoption("timeout", None) or config.getini("timeout") or os.environ.get("PYTEST_TIMEOUT"))


def _crash_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return (text.strip().splitlines() or ["no message"])[0][:300]


class MeasurementCollector:
    """Collects measurements and series from test reports (local or from xdist workers) and reports them at the
    end: the per-limit table, the JSON report, plots, the HTML page and the GitHub step summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.measurements: list[Measurement] = config.stash[MEASUREMENTS_KEY]
        self.failures: dict[str, pytest.TestReport] = {}
        self.series: list[dict[str, Any]] = []
        self.started = time.time()
        self.notes: list[str] = []  # what the session wrote, and what it could not, for the terminal summary
        self.tests_run = 0  # tests that ran to their teardown (the footer's "of the N tests run")

    def pytest_sessionstart(self) -> None:
        self.started = time.time()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # user_properties ride on every phase's report; the teardown report holds the final list.
        if report.failed and report.when in ("setup", "call") and not hasattr(report, "wasxfail"):
            self.failures.setdefault(report.nodeid, report)
        # user_properties ride on every phase's report; the teardown report holds the final list. Series are
        # taken out before junitxml (and any other reporter) sees the report: they can be large. A worker
        # leaves them in, for the controller.
        if not is_worker(self.config) and any(name == SERIES_PROPERTY_NAME for name, _ in report.user_properties):
            if report.when == "teardown":
                self.series.extend(json.loads(value) for name, value in report.user_properties
                                   if name == SERIES_PROPERTY_NAME)
            report.user_properties = [(n, v) for n, v in report.user_properties if n != SERIES_PROPERTY_NAME]
        if report.when == "teardown":
            self.tests_run += 1
            self.measurements.extend(
                Measurement.from_json(value) for name, value in report.user_properties if name == PROPERTY_NAME
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
        """A Kinesis test that failed before it measured anything still gets a row (``fail``), so that a table or
        matrix never shows an empty cell where the backend broke the test (runs where the test runs, before its
        teardown report is made: the row travels with it, also from xdist workers)."""
        if call.when != "teardown":
            return
        failed = self.failures.pop(item.nodeid, None)
        if failed is None or not KINESIS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            return
        if any(name == PROPERTY_NAME for name, _ in item.user_properties):
            return
        item.user_properties.append((PROPERTY_NAME, Measurement(
            test=item.nodeid, limit=NO_MEASUREMENT_LIMIT, documented=None, measured=None, unit="",
            backend=settings_of(self.config).effective_backend_name, verdict="fail",
            detail=f"{failed.when} failed before measuring: {_crash_line(failed)}").to_json()))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if is_worker(self.config) or not (self.measurements or self.notes) or settings_of(self.config).plan:
            for note in self.notes if settings_of(self.config).plan else ():
                terminalreporter.write_line(f"kinesis-limits: {note}")
            return
        from pytest_kinesis_limits.reporting.summary import footer, format_limits, format_tests, title

        rows = summarize(self.measurements)
        verbosity = self.config.get_verbosity()
        terminalreporter.write_sep("=", title(rows))
        for line in format_limits(rows):
            terminalreporter.write_line(line, red=line.lstrip().startswith("FAIL:"))
        if self.measurements:
            for line in footer(self.measurements, rows, verbosity, self.tests_run):
                terminalreporter.write_line(line)
        if verbosity > 0 and self.measurements:
            terminalreporter.write_sep("-", "kinesis limits: per test" + ("" if verbosity > 1 else " (-vv: details)"))
            for line in format_tests(self.measurements, details=verbosity > 1):
                terminalreporter.write_line(line)
        for note in self.notes:
            terminalreporter.write_line(f"kinesis-limits: {note}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        settings = settings_of(self.config)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if is_worker(self.config) or not (settings.report or settings.plots or settings.report_html
                                           or (step_summary and self.measurements)):
            return
        from pytest_kinesis_limits.reporting.output import OUTPUT_FAILED, write_outputs
        from pytest_kinesis_limits.reporting.report import build_report, run_metadata

        backend = self.config.stash[BACKEND_KEY]
        region = region_of(settings, backend)
        header: dict[str, Any] = {"backend": settings.backend_label, "region": region,
                                  "backend_name": settings.effective_backend_name,
                                  "account": getattr(backend, "account_id", None),
                                  "endpoint": settings.aws_endpoint_url, "fidelity": settings.fidelity}
        invocation = self.config.invocation_params
        budget = {key: value for key, value in (("plan", self.config.stash.get(PLAN_KEY, None)),
                                                ("usage", self.config.stash.get(USAGE_KEY, None))) if value}
        run = run_metadata(backend=settings.backend_label, backend_name=settings.effective_backend_name,
                           region=region, endpoint=settings.aws_endpoint_url, fidelity=settings.fidelity,
                           started=self.started, ended=time.time(), args=[str(a) for a in invocation.args],
                           invocation_dir=str(invocation.dir), xdist_workers=xdist_workers(self.config),
                           exit_status=int(exitstatus), **budget)
        plan_run = settings.plan  # a plan's measurements are an offline run's with live settings: not kept
        report = build_report([] if plan_run else self.measurements, [] if plan_run else self.series, run, header)
        notes = write_outputs(report, json_path=settings.report, plots_dir=settings.plots,
                              html_path=settings.report_html, step_summary=step_summary)
        self.notes += notes
        if any(note.startswith(OUTPUT_FAILED) for note in notes) and session.exitstatus == pytest.ExitCode.OK:
            # What the user asked for was not written: not a pass (usage error, as for a report path that is a
            # folder, which is refused before the run).
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            self.notes.append("the run exits 4 (usage error): an output it was asked for could not be written")


# --- interruptions: SIGTERM cleans up like Ctrl-C (live and endpoint runs; see interrupts.py) ---------------------
@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if settings_of(config).offline:
        return  # offline nothing outlives the process: SIGTERM keeps its default
    from pytest_kinesis_limits.live.interrupts import Guard

    guard = Guard(controller=config.pluginmanager.hasplugin("dsession"))
    if guard.install():
        config.pluginmanager.register(InterruptHooks(guard, worker=is_worker(config)), "kinesis-limits-interrupts")


class InterruptHooks:
    """Registered while a :class:`~pytest_kinesis_limits.live.interrupts.Guard` is installed."""

    def __init__(self, guard: Any, *, worker: bool) -> None:
        self.guard = guard
        self.worker = worker

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_newgateway(self, gateway: Any) -> None:
        from pytest_kinesis_limits.live.interrupts import worker_process

        self.guard.add_worker(worker_process(gateway))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # After everything is torn down: a run stopped by SIGTERM exits 143 (not in xdist workers, whose
        # status 2 is how their controller learns of the interrupt).
        if self.guard.terminated and not self.worker:
            from pytest_kinesis_limits.live.interrupts import EXIT_STATUS_SIGTERM

            session.exitstatus = EXIT_STATUS_SIGTERM

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        self.guard.uninstall()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker names and tags its resources with the controller's run id (a UTC time and a
    random part, see ``resources.new_run_id``) rather than xdist's random uid, so that ``sweep`` can read a
    run's time from its id where a service gives no creation time."""
    from pytest_kinesis_limits.kinesis.resources import new_run_id

    if RUN_ID_KEY not in node.config.stash:
        node.config.stash[RUN_ID_KEY] = new_run_id()
    node.workerinput[RUN_ID_WORKERINPUT] = node.config.stash[RUN_ID_KEY]
    node.workerinput[WORKSTEAL_WORKERINPUT] = _offline_worksteal(node.config)


def _offline_worksteal(config: pytest.Config) -> bool:
    """Offline under xdist with the mode ``-n`` implies (``load``; no ``--dist`` given anywhere): the plugin schedules
    with xdist's ``worksteal``. The scale family waits on its swarm for seconds on one worker; with ``load``, the
    other worker had taken most of the queue by then and ran the end alone (the main job's second core was idle
    for about 14 s of 20). A ``--dist`` the user gave is left as it is."""
    if not settings_of(config).offline or config.getvalue("dist") != "load":
        return False
    given = [*config.invocation_params.args, *config.getini("addopts"),
             *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
    return not any(arg == "-d" or arg.startswith("--dist") for arg in map(str, given))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist, live and endpoint runs with ``--dist loadgroup``: the wall-clock family on one worker, decided
    on the controller from the node ids (xdist's own grouping is lost on pytest 9.2, see scheduling.py). Offline with
    the mode ``-n`` implies: ``worksteal`` (:func:`_offline_worksteal`), the collection dealt in its blocks."""
    if _offline_worksteal(config):
        from xdist.scheduler import WorkStealingScheduling

        return WorkStealingScheduling(config, log)
    if config.getvalue("dist") != "loadgroup" or settings_of(config).offline:
        return None
    from pytest_kinesis_limits.live.scheduling import family_scheduler

    return family_scheduler(config, log, ONE_WORKER_GROUPS)
