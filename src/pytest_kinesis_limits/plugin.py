"""pytest hooks of pytest-kinesis-limits (registered through the ``pytest11`` entry point).

Hooks only: options and settings, markers, the live preflight, the report header, per-test timeouts
and known-gap expected failures, and the measurement table at the end. Fixtures live in
:mod:`pytest_kinesis_limits.fixtures`. Importing this module is cheap: boto3 and moto are imported only
when a run needs them (``--live`` preflight, or a test that uses a Kinesis fixture).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import TYPE_CHECKING, Any

import pytest

from .report import PROPERTY_NAME, SERIES_PROPERTY_NAME, Measurement, summarize
from .settings import SPECS, Settings, SettingError, resolve

if TYPE_CHECKING:
    from .backends import Backend  # noqa: F401 - named in the BACKEND_KEY stash key

pytest_plugins = ["pytest_kinesis_limits.fixtures", "pytest_kinesis_limits.firehose_fixtures"]

SETTINGS_KEY = pytest.StashKey[Settings]()
BACKEND_KEY = pytest.StashKey["Backend | None"]()
MEASUREMENTS_KEY = pytest.StashKey[list[Measurement]]()
RUN_ID_KEY = pytest.StashKey[str]()

# Tests that use any of these get the plugin's default timeout.
KINESIS_FIXTURES = frozenset({
    "kinesis_backend", "kinesis_client", "kinesis_client_no_retry", "firehose_client", "s3_client",
    "iam_client", "make_stream", "kinesis_stream", "make_bucket", "s3_bucket", "make_delivery_stream",
    "firehose_delivery_stream", "wait_for_delivery", "kinesis_fidelity", "read_records",
})

MARKERS = (
    "kinesis_gap(*backends, reason): a documented behaviour this backend is known not to honour "
    "(backends: moto, moto-plain, live, endpoint); the test becomes a strict expected failure there",
)


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


def _only_informational(config: pytest.Config) -> bool:
    option = config.option
    return bool(getattr(option, "help", False) or getattr(option, "version", False)
                or getattr(option, "showfixtures", False) or getattr(option, "markers", False))


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    try:
        settings = resolve(
            cli={spec.name: config.getoption(_dest(spec.name)) for spec in SPECS},
            env=os.environ,
            ini={spec.name: config.getini(spec.ini) for spec in SPECS},
            ini_file=str(config.inipath) if config.inipath else None,
        )
    except SettingError as exc:
        raise pytest.UsageError(str(exc)) from None
    if settings.report and not _is_worker(config):
        parent = os.path.dirname(os.path.abspath(settings.report))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            raise pytest.UsageError(
                f"--kinesis-report {settings.report!r} (from {settings.source_of('report')}): the folder {parent} "
                "does not exist or cannot be written. Fix: create it, or name a file in a writable folder.")
    if not _is_worker(config):
        _check_page_and_plots(settings)
    config.stash[SETTINGS_KEY] = settings
    config.stash[MEASUREMENTS_KEY] = []
    config.stash[BACKEND_KEY] = None
    config.pluginmanager.register(MeasurementCollector(config), "kinesis-limits-measurements")
    if settings.offline or _only_informational(config):
        return
    from .backends import PreflightError, preflight

    try:
        config.stash[BACKEND_KEY] = preflight(settings)
    except PreflightError as exc:
        raise pytest.UsageError(f"pytest-kinesis-limits {settings.backend_kind} preflight: {exc}") from None


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
        from .plots import PlotsUnavailable, check_folder, require_matplotlib

        try:
            require_matplotlib()
            check_folder(settings.plots)
        except PlotsUnavailable as exc:
            raise pytest.UsageError(f"--kinesis-plots {settings.plots!r} (from {settings.source_of('plots')}): "
                                    f"{exc}") from None


def settings_of(config: pytest.Config) -> Settings:
    """The resolved settings of this session."""
    return config.stash[SETTINGS_KEY]


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = settings_of(config)
    backend = config.stash.get(BACKEND_KEY, None)
    if backend is not None:
        where = backend.describe()
    else:
        where = f"backend={settings.backend_label} region={settings.aws_region or 'us-east-1'} (offline, moto)"
    lines = [f"kinesis-limits: {where}"]
    chosen = [f"{name}={getattr(settings, name)!r} ({source})" for name, source in settings.sources.items()]
    if chosen:
        lines.append("kinesis-limits settings: " + "; ".join(chosen))
    if settings.backend_kind == "live":  # an endpoint (emulator) bills nothing
        lines.append("kinesis-limits cost: provisioned shards are billed per shard-hour and PUT payload unit; "
                     "a full live run creates short-lived 1-11 shard streams and Firehose delivery streams "
                     "(well under 1 USD)")
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = settings_of(config)
    label = settings.backend_label
    global_timeout = _global_timeout(config)
    for item in items:
        for marker in item.iter_markers("kinesis_gap"):
            if label in marker.args:
                reason = marker.kwargs.get("reason", "known gap")
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"known gap of {label}: {reason}"))
        uses_kinesis = KINESIS_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_kinesis and not global_timeout and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(settings.effective_timeout))


def _global_timeout(config: pytest.Config) -> bool:
    """Whether the user set pytest-timeout's own --timeout or ini timeout (which then wins over ours)."""
    if not config.pluginmanager.hasplugin("timeout"):
        return True  # no pytest-timeout: nothing to add
    return bool(config.getoption("timeout", None) or config.getini("timeout") or os.environ.get("PYTEST_TIMEOUT"))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _xdist_workers(config: pytest.Config) -> int:
    """How many xdist workers this session started (0: one process)."""
    option = config.option
    if getattr(option, "dist", "no") == "no":
        return 0
    return len(getattr(option, "tx", None) or [])


class MeasurementCollector:
    """Collects measurements and series from test reports (local or from xdist workers) and reports them at the
    end: the per-limit table, the JSON report, plots, the HTML page and the GitHub step summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.measurements: list[Measurement] = config.stash[MEASUREMENTS_KEY]
        self.series: list[dict[str, Any]] = []
        self.started = time.time()
        self.notes: list[str] = []  # what the session wrote, and what it could not, for the terminal summary

    def pytest_sessionstart(self) -> None:
        self.started = time.time()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # user_properties ride on every phase's report; the teardown report holds the final list. Series are
        # taken out before junitxml (and any other reporter) sees the report: they can be large. A worker
        # leaves them in, for the controller.
        if not _is_worker(self.config) and any(name == SERIES_PROPERTY_NAME for name, _ in report.user_properties):
            if report.when == "teardown":
                self.series.extend(json.loads(value) for name, value in report.user_properties
                                   if name == SERIES_PROPERTY_NAME)
            report.user_properties = [(n, v) for n, v in report.user_properties if n != SERIES_PROPERTY_NAME]
        if report.when == "teardown":
            self.measurements.extend(
                Measurement.from_json(value) for name, value in report.user_properties if name == PROPERTY_NAME
            )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if _is_worker(self.config) or not (self.measurements or self.notes):
            return
        from .summary import footer, format_limits, format_tests, title

        rows = summarize(self.measurements)
        verbosity = self.config.get_verbosity()
        terminalreporter.write_sep("=", title(rows))
        for line in format_limits(rows):
            terminalreporter.write_line(line, red=line.lstrip().startswith("FAIL:"))
        if self.measurements:
            terminalreporter.write_line(footer(self.measurements, rows, verbosity))
        if verbosity > 0 and self.measurements:
            terminalreporter.write_sep("-", "kinesis limits: per test" + ("" if verbosity > 1 else " (-vv: details)"))
            for line in format_tests(self.measurements, details=verbosity > 1):
                terminalreporter.write_line(line)
        for note in self.notes:
            terminalreporter.write_line(f"kinesis-limits: {note}")

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        settings = settings_of(self.config)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if _is_worker(self.config) or not (settings.report or settings.plots or settings.report_html
                                           or (step_summary and self.measurements)):
            return
        from .backends import OFFLINE_REGION
        from .output import write_outputs
        from .report import build_report, run_metadata

        backend = self.config.stash[BACKEND_KEY]
        header: dict[str, Any] = {"backend": settings.backend_label, "region": settings.aws_region,
                                  "account": getattr(backend, "account_id", None),
                                  "endpoint": settings.aws_endpoint_url, "fidelity": settings.fidelity}
        invocation = self.config.invocation_params
        run = run_metadata(backend=settings.backend_label,
                           region=getattr(backend, "region", None) or settings.aws_region or
                           (OFFLINE_REGION if settings.offline else None),
                           endpoint=settings.aws_endpoint_url, fidelity=settings.fidelity, started=self.started,
                           ended=time.time(), args=[str(a) for a in invocation.args],
                           invocation_dir=str(invocation.dir), xdist_workers=_xdist_workers(self.config),
                           exit_status=int(exitstatus))
        report = build_report(self.measurements, self.series, run, header)
        self.notes += write_outputs(report, json_path=settings.report, plots_dir=settings.plots,
                                    html_path=settings.report_html, step_summary=step_summary)
