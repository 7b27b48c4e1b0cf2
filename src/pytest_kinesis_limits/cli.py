"""Command line: ``pytest-kinesis-limits serve``, ``sweep``, ``limits``, ``policy``, ``emulator``, ``conformance``,
``matrix``, ``plot``.

``serve`` runs moto's server (every service moto has) on loopback with the offline fidelity layer (a Kinesis-like endpoint for
``pytest --aws-endpoint-url``), and the search destination's stand-in index on a second loopback port. ``sweep`` finds resources this tool tagged (``created-by``) that a killed
run left behind in one region, of runs older than ``--older-than`` (or the one ``--run-id`` names), and
deletes them only when asked to with ``--yes`` (rules: :mod:`pytest_kinesis_limits.live.sweep`). ``plot`` redraws
a saved report's plots (and its HTML page) from the report's JSON series.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any


def _serve(args: argparse.Namespace) -> int:
    import contextlib

    from pytest_kinesis_limits.gc_tuning import gc_paused_then_frozen

    with gc_paused_then_frozen():  # moto's and botocore's objects, kept for the server's life
        from pytest_kinesis_limits.clock import RealClock
        from pytest_kinesis_limits.fidelity.endpoint_server import EndpointServer
        from pytest_kinesis_limits.fidelity.moto_adapter import IncompatibleMoto

        if args.fidelity == "on":  # refuse a moto the layer cannot drive before anything starts
            from pytest_kinesis_limits.fidelity import MotoGateError, check_moto

            try:
                check_moto()
            except MotoGateError as exc:
                print(exc.line, file=sys.stderr)
                return 4
        problem = _cannot_listen(args.host, args.port)
        if problem:
            print(f"pytest-kinesis-limits serve: cannot listen on {args.host}:{args.port}: {problem}. Fix: another "
                  "--port (0: any free one), and a --host address of this machine (default 127.0.0.1)",
                  file=sys.stderr)
            return 1
        try:
            server = EndpointServer(args.host, args.port).start()
        except IncompatibleMoto as exc:
            print(f"pytest-kinesis-limits serve: this moto's server cannot be served: {exc}. Fix: pip install "
                  "'moto[server]' in the range pytest-kinesis-limits supports (docs/fidelity.md, 'Which moto')",
                  file=sys.stderr)
            return 4
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with contextlib.ExitStack() as stack:
        extra = ""
        if args.fidelity == "on":
            from pytest_kinesis_limits.fidelity import FidelityConfig
            from pytest_kinesis_limits.fidelity.offline import activate_all

            config = FidelityConfig().scale_lifecycle(args.lifecycle_scale)
            layer = stack.enter_context(activate_all(RealClock(), config))
            extra = _search_data_plane(layer)
        print(f"listening on {server.url} (fidelity {args.fidelity}){extra}", flush=True)
        stop.wait()
    server.stop()
    return 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (None: it can): serve tries the address first, to say so in one line."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"no such address ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def parse_port(raw: str) -> int:
    """``serve --port``: 0 (any free port) to 65535."""
    try:
        port = int(raw)
    except ValueError:
        raise ValueError("a port is a whole number from 0 (any free port) to 65535") from None
    if not 0 <= port <= 65535:
        raise ValueError("a port is a whole number from 0 (any free port) to 65535")
    return port


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(raw: str) -> float:
    """``sweep --older-than``: ``90m``, ``2h``, ``1d``, ``45s`` or ``0`` -> seconds; ValueError otherwise."""
    if raw.strip() == "0":
        return 0.0
    match = _AGE.match(raw)
    if not match:
        raise ValueError("expected a number with a unit s, m, h or d, such as 90m, 2h or 1d (or 0 for any age)")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _search_data_plane(layer: object) -> str:
    """The search destination's stand-in index (issue 14) serves its data plane on loopback: say where. Clients
    need not be told: DescribeDomain reports it as each domain's Endpoint (``<host:port>/<domain>``)."""
    search = getattr(layer, "search", None)
    address = getattr(search, "data_plane", None)
    return f"; search index data plane http://{address}/<domain>" if address else ""


def _sweep(args: argparse.Namespace) -> int:
    import os

    from pytest_kinesis_limits.backends import PreflightError, Wording, preflight
    from pytest_kinesis_limits.settings import SettingError, resolve
    from pytest_kinesis_limits.live.sweep import (DEFAULT_OLDER_THAN_S, delete_planned, find_tagged, format_age,
                                                  plan_sweep, spell_age)

    older_than = DEFAULT_OLDER_THAN_S if args.older_than is None else args.older_than
    wording = Wording(region="--region", profile="--profile", endpoint_url="--endpoint-url", live=None,
                      what="sweep")

    try:
        # The same settings as the test run (KINESIS_LIMITS_* and AWS_REGION / AWS_DEFAULT_REGION / the profile),
        # so that a sweep looks where the tests ran; its own options win.
        settings = resolve({"live": not args.endpoint_url, "aws_region": args.region, "aws_profile": args.profile,
                            "aws_endpoint_url": args.endpoint_url}, os.environ, {})
        backend = preflight(settings, wording)
    except (PreflightError, SettingError) as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    session = backend.session()
    found = find_tagged(backend, run_id=args.run_id, session=session)
    plan = plan_sweep(found, region=backend.region, run_id=args.run_id, older_than_s=older_than)
    which = f"run {args.run_id}" if args.run_id else f"runs older than {spell_age(older_than)} (--older-than)"
    print(f"sweep of {backend.region}: {which}, tagged created-by=pytest-kinesis-limits")
    for item in plan.doomed:
        age = plan.ages.get(item.run)
        print(f"{'deleting' if args.yes else 'found'} {item.kind} {item.name} (run {item.run}"
              + (f", {format_age(age)} old)" if age is not None else ")"))
    for item, reason in plan.left:
        print(f"left {item.kind} {item.name}: {reason}")
    if not found:
        print("nothing tagged created-by=pytest-kinesis-limits" + (f" run-id={args.run_id}" if args.run_id else "")
              + f" in {backend.region}")
    if args.yes:
        _deleted, failures = delete_planned(backend, plan, session=session)
        for item, error in failures:
            print(f"could not delete {item.kind} {item.name}: {error}", file=sys.stderr)
        return 1 if failures else 0
    if plan.doomed:
        print(f"dry run: add --yes to delete these {len(plan.doomed)}")
    return 0


def catalogue_markdown() -> str:
    """The limits catalogue as the Markdown table of docs/limits.md."""
    from pytest_kinesis_limits.limits import CATALOGUE

    lines = [
        "# The limits catalogue",
        "",
        "Generated by `python -m pytest_kinesis_limits limits` from `src/pytest_kinesis_limits/limits.py`;",
        "a test keeps this page equal to the catalogue. Every number the suite asserts comes from here.",
        "",
        "| key | value | unit | what it bounds | source | as of | note |",
        "|---|---:|---|---|---|---|---|",
    ]
    for limit in CATALOGUE.values():
        value = "-" if limit.value is None else f"{limit.value:,}"
        lines.append(f"| `{limit.key}` | {value} | {limit.unit} | {limit.description} | {limit.source} "
                     f"| {limit.as_of} | {limit.note} |")
    from pytest_kinesis_limits.live.pricing import prices_markdown

    return "\n".join(lines) + "\n" + prices_markdown()


def _limits(args: argparse.Namespace) -> int:
    sys.stdout.write(catalogue_markdown())
    return 0


def _locustfile(args: argparse.Namespace) -> int:
    import importlib.util

    from pytest_kinesis_limits.load.swarm import LOCUSTFILE

    print(LOCUSTFILE)
    if importlib.util.find_spec("locust") is None:
        print("pytest-kinesis-limits: Locust is not installed here; pip install 'pytest-kinesis-limits[load]'",
              file=sys.stderr)
        return 1
    return 0


def _policy(args: argparse.Namespace) -> int:
    import json

    from pytest_kinesis_limits.live.permissions import policy

    sys.stdout.write(json.dumps(policy(args.prefix), indent=2) + "\n")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from pytest_kinesis_limits.emulators import EmulatorError, running

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with running(args.name, port=args.port) as emu:
            print(f"listening on {emu.url} ({emu.emulator.backend_name}, pid {emu.process.pid}; log "
                  f"{emu.log_path}); Ctrl-C stops it", flush=True)
            while not stop.wait(0.5):
                if emu.process.poll() is not None:
                    print(f"{args.name} exited with {emu.process.returncode}:\n{emu.log_tail()}", file=sys.stderr)
                    return 1
    except EmulatorError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    return 0


def _conformance(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pytest_kinesis_limits.emulators import EmulatorError, run_conformance

    try:
        result = run_conformance(args.name, Path(args.report_dir), args.pytest_args or ["tests/limits"])
    except EmulatorError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1


def _matrix(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pytest_kinesis_limits.reporting.matrix import ReportError, load_all, render

    try:
        reports = load_all(Path(p) for p in args.reports)
    except ReportError as exc:
        print(f"matrix: {exc}", file=sys.stderr)
        return 2
    text = render(reports, command="pytest-kinesis-limits matrix " + " ".join(args.reports))
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"matrix: could not write {args.output}: {exc.strerror or exc}. Fix: an --output in a folder that "
                  "exists and can be written", file=sys.stderr)
            return 1
        print(f"matrix: {len(reports)} backend(s) written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _plot(args: argparse.Namespace) -> int:
    """Redraw a saved report's plots (and, with --html, its page) from its JSON series."""
    from pytest_kinesis_limits.reporting import plots
    from pytest_kinesis_limits.reporting.output import write_outputs
    from pytest_kinesis_limits.reporting.report import ReportError, load_report

    try:
        report = load_report(args.report)
        plots.require_matplotlib()
        plots.check_folder(args.folder)
    except (ReportError, plots.PlotsUnavailable) as exc:
        print(f"plot: {exc}", file=sys.stderr)
        return 2
    if not report["series"]:
        print(f"plot: {args.report} holds no series (no throughput, resharding or Firehose test recorded one): "
              "nothing to draw", file=sys.stderr)
        return 1
    from pytest_kinesis_limits.reporting.output import OUTPUT_FAILED

    failed = False
    for note in write_outputs(report, plots_dir=args.folder, html_path=args.html):
        if note.startswith(OUTPUT_FAILED):
            failed = True
            print(f"plot: {note}", file=sys.stderr)
        else:
            print(note)
    return 1 if failed else 0


def _checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a settings parser, keeping its explanation in the usage error."""

    def check(raw: str) -> Any:
        try:
            return parse(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{raw!r}: {exc}") from None

    return check


def main(argv: Sequence[str] | None = None) -> int:
    from pytest_kinesis_limits.settings import parse_prefix, parse_profile, parse_region, parse_scale, parse_url

    parser = argparse.ArgumentParser(prog="pytest-kinesis-limits", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a Kinesis-like moto server on loopback")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_checked(parse_port), default=0, help="port (default 0: any free port, printed)")
    serve.add_argument("--fidelity", choices=("on", "off"), default="on", help="apply the fidelity layer")
    serve.add_argument("--lifecycle-scale", type=_checked(parse_scale), default=0.01, metavar="FACTOR",
                       help="multiply the typical CREATING / UPDATING / DELETING windows (lifecycle.stream.* in the "
                            "catalogue, wall-clock seconds) by FACTOR: 0.01 (default) for fractions of a second, as "
                            "emulators do; 1 for as long as AWS typically takes; 0 for no windows")
    serve.set_defaults(run=_serve)
    sweep = commands.add_parser(
        "sweep", help="find (and with --yes delete) what runs of this tool left behind, in one region",
        description="Find what earlier runs left behind (tagged created-by=pytest-kinesis-limits) in one region and, "
                    "with --yes, delete it: delivery streams first (waited for until gone), then streams, buckets "
                    "and IAM roles. Only runs older than --older-than are touched, unless --run-id names one; "
                    "buckets of other regions and roles serving other regions are left alone.")
    sweep_options = (("--region", "region", parse_region, "REGION", "the region to sweep (default: "
                      "KINESIS_LIMITS_AWS_REGION, AWS_REGION, AWS_DEFAULT_REGION, then the profile's region)"),
                     ("--profile", "profile", parse_profile, "NAME", "AWS profile (default: KINESIS_LIMITS_AWS_PROFILE, "
                      "AWS_PROFILE, then the default profile)"),
                     ("--endpoint-url", "endpoint_url", parse_url, "URL", "sweep an emulator instead of AWS"))
    for option, dest, parse, metavar, text in sweep_options:
        sweep.add_argument(option, dest=dest, type=_checked(parse), metavar=metavar, help=text)
        # pytest's spelling (--aws-region ...) works too, unlisted: a user may copy it from a pytest command line.
        sweep.add_argument(option.replace("--", "--aws-", 1), dest=dest, type=_checked(parse), help=argparse.SUPPRESS)
    sweep.add_argument("--run-id", help="only this run's resources (its run-id tag), whatever their age")
    sweep.add_argument("--older-than", type=_checked(parse_age), metavar="AGE",
                       help="only runs whose newest resource is older than this: 90m, 2h, 1d, or 0 for any age "
                            "(default: 2h; a run still going keeps making resources)")
    sweep.add_argument("--yes", action="store_true", help="delete what is found (default: list only)")
    sweep.set_defaults(run=_sweep)
    catalogue = commands.add_parser("limits", help="print the limits catalogue as Markdown (docs/limits.md)")
    catalogue.set_defaults(run=_limits)
    locustfile = commands.add_parser(
        "locustfile", help="print the path of the swarm's locustfile, for Locust masters and workers on other hosts",
        description="The locustfile of the scale family's swarm (docs/scale.md): locust -f \"$(pytest-kinesis-limits "
                    "locustfile)\" --worker --master-host HOST. Exit status 1 when Locust is not installed.")
    locustfile.set_defaults(run=_locustfile)
    policy = commands.add_parser("policy", help="print the least-privilege IAM policy a live run needs (JSON)",
                                 description="The IAM policy a live run needs, scoped to resources named with "
                                             "--prefix (docs/permissions.md).")
    policy.add_argument("--prefix", type=_checked(parse_prefix), default="pkl",
                        help="the runs' --kinesis-prefix (default pkl)")
    policy.set_defaults(run=_policy)
    from pytest_kinesis_limits.emulators import EMULATORS

    emulator = commands.add_parser("emulator", help="install (npm) and start a Kinesis emulator on 127.0.0.1 "
                                   "until Ctrl-C")
    emulator.add_argument("name", choices=list(EMULATORS), help="which emulator (npm versions are pinned)")
    emulator.add_argument("--port", type=int, default=0, help="port (default 0: any free port, printed)")
    emulator.set_defaults(run=_emulator)
    conformance = commands.add_parser(
        "conformance", help="start an emulator, run the limit families against it with a JSON report, stop it",
        description="Start the emulator on 127.0.0.1, run pytest (arguments after -- go to pytest and replace the default, tests/limits) "
                    "with --aws-endpoint-url, --kinesis-backend-name and --kinesis-report REPORT_DIR/NAME.json, "
                    "and stop it. Exit 0 when the run reached its end with a report and no ERROR outcome (failed "
                    "tests are the emulator's gaps, recorded in the report), 1 otherwise, 2 when it cannot start.")
    conformance.add_argument("name", choices=list(EMULATORS), help="which emulator")
    conformance.add_argument("--report-dir", default="reports/conformance",
                             help="folder of the JSON report (default: reports/conformance)")
    conformance.epilog = "Example: pytest-kinesis-limits conformance kinesalite -- tests/limits -n 4 -k put_records"
    conformance.set_defaults(run=_conformance)
    matrix = commands.add_parser("matrix", help="render JSON reports of several backends as one Markdown table")
    matrix.add_argument("reports", nargs="+", help="--kinesis-report files, or folders of them (*.json)")
    matrix.add_argument("--output", "-o", help="write the Markdown here (default: standard output)")
    matrix.set_defaults(run=_matrix)
    plot = commands.add_parser("plot", help="draw a report's plots again from its JSON series (needs the [plots] "
                               "extra)")
    plot.add_argument("report", help="a JSON report written by --kinesis-report")
    plot.add_argument("folder", help="folder for the PNG files (created if missing)")
    plot.add_argument("--html", metavar="PAGE", help="also write the report's self-contained HTML page here")
    plot.set_defaults(run=_plot)
    argv = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if "--" in argv:  # conformance: what follows -- is pytest's
        at = argv.index("--")
        argv, passed = argv[:at], argv[at + 1:]
    args = parser.parse_args(argv)
    if passed and args.command != "conformance":
        parser.error("only 'conformance' passes arguments after -- (to pytest)")
    args.pytest_args = passed
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
