"""Kinesis emulators, installed and started for a conformance run: on 127.0.0.1 only, on a free port.

Library code (no pytest): :func:`running` installs an emulator (npm packages pinned in :data:`EMULATORS`, into a
cache folder, once), starts it on a free loopback port, waits until Kinesis ListStreams answers and stops it
(its own process group, SIGTERM then SIGKILL) when the block ends. :func:`run_conformance` runs the limit
families against it with a JSON report. Used by ``pytest-kinesis-limits emulator|conformance``, by tox
(``tox -e kinesalite``) and by the project's tests.

Loopback only: kinesalite's command line listens on every interface (``listen(port)``) and kinesis-mock binds
``0.0.0.0`` in code (KinesisMockService.scala), neither with a setting to change it. Both are started with a
preload (``node --require``) that makes every ``net.Server.listen`` in the process bind 127.0.0.1, so the
emulators are never reachable from another machine. ``serve`` takes ``--host 127.0.0.1``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

from pytest_kinesis_limits import limits

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
READY_TIMEOUT_S = 90.0  # kinesis-mock (Scala.js, 9 MB of JavaScript) takes a few seconds on a busy machine
STOP_TIMEOUT_S = 10.0

# Every listen() of the node process binds 127.0.0.1, whatever host (or none) the emulator passes.
_LOOPBACK_JS = """\
'use strict';
// pytest-kinesis-limits: bind every server of this process to 127.0.0.1 only.
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && ('port' in first || 'host' in first)) {
    args[0] = Object.assign({}, first, {host: '127.0.0.1'});
  } else if (typeof first === 'number' || (typeof first === 'string' && /^[0-9]+$/.test(first))) {
    if (typeof args[1] === 'string') { args[1] = '127.0.0.1'; } else { args.splice(1, 0, '127.0.0.1'); }
  }
  return listen.apply(this, args);
};
"""


class EmulatorError(RuntimeError):
    """An emulator could not be installed, started or reached; the message says why and what to do."""


@dataclass(frozen=True)
class Emulator:
    """One emulator: where it comes from (an npm package at a pinned version, or this project's ``serve``)."""

    name: str
    description: str
    package: str | None = None  # npm package; None: ``pytest-kinesis-limits serve``
    version: str = ""
    fidelity: str = "on"  # serve only

    @property
    def backend_name(self) -> str:
        """The name its reports carry (``--kinesis-backend-name``): ``name@version`` for an npm package."""
        return f"{self.name}@{self.version}" if self.package else self.name

    @property
    def needs_node(self) -> bool:
        return self.package is not None


EMULATORS: dict[str, Emulator] = {e.name: e for e in (
    Emulator("kinesalite", "kinesalite: Node.js Kinesis on LevelDB (in memory)", "kinesalite", "3.3.3"),
    Emulator("kinesis-mock", "kinesis-mock: Scala.js Kinesis mock (npm kinesis-local)", "kinesis-local", "0.6.2"),
    Emulator("serve-fidelity-on", "pytest-kinesis-limits serve: moto with the fidelity layer", fidelity="on"),
    Emulator("serve-fidelity-off", "pytest-kinesis-limits serve --fidelity off: plain moto", fidelity="off"),
)}


def get(name: str) -> Emulator:
    try:
        return EMULATORS[name]
    except KeyError:
        raise EmulatorError(f"no emulator {name!r}; known: {', '.join(EMULATORS)}") from None


def cache_root() -> Path:
    """Where npm packages are installed: ``$XDG_CACHE_HOME`` (or ``~/.cache``)/pytest-kinesis-limits/emulators."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-kinesis-limits" / "emulators"


def node_tools() -> tuple[str, str]:
    """The paths of ``node`` and ``npm``, or :class:`EmulatorError` saying how to get them."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        missing = " and ".join(tool for tool, path in (("node", node), ("npm", npm)) if not path)
        raise EmulatorError(
            f"{missing} not found on PATH: the npm emulators (kinesalite, kinesis-mock) need Node.js 18+ and npm. "
            "Fix: install them (Debian/Ubuntu: 'apt-get install nodejs npm'), or run the suite against an "
            "emulator you start yourself with --aws-endpoint-url, or 'tox -e serve-fidelity-on' (no node needed).")
    return node, npm


def install(emulator: Emulator, root: Path | None = None) -> Path:
    """Install ``emulator``'s npm package at its pinned version (once; npm's cache makes a reinstall cheap) and
    return the package folder. Installed into a temporary folder and renamed, so parallel runs never see half an
    install. ``--ignore-scripts``: neither emulator needs its install scripts (kinesalite keeps its store in
    memory without LevelDB's native module)."""
    if emulator.package is None:
        raise EmulatorError(f"{emulator.name} is not an npm package")
    _, npm = node_tools()
    root = root or cache_root()
    target = root / f"{emulator.package}@{emulator.version}"
    package_dir = target / "node_modules" / emulator.package
    if _installed_version(package_dir) == emulator.version:
        return package_dir
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{emulator.package}-", dir=root))
    try:
        (staging / "package.json").write_text('{"private": true}\n', encoding="utf-8")
        done = subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error",
             f"{emulator.package}@{emulator.version}"],
            cwd=staging, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise EmulatorError(f"npm install {emulator.package}@{emulator.version} failed "
                                f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}")
        if target.exists():  # an install of another version, or one cut short
            shutil.rmtree(target, ignore_errors=True)
        with contextlib.suppress(OSError):  # another run finished the same install first: use theirs
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if _installed_version(package_dir) != emulator.version:
        raise EmulatorError(f"{emulator.package}@{emulator.version} is not in {target} after npm install")
    return package_dir


def _installed_version(package_dir: Path) -> str | None:
    try:
        return str(json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1 (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    """A started emulator: its URL, process and log file."""

    emulator: Emulator
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    versions: dict[str, str] = field(default_factory=dict)

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """Stop the emulator's process group (SIGTERM, then SIGKILL after STOP_TIMEOUT_S); its exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_S)
        return self.process.returncode


def command(emulator: Emulator, port: int, workdir: Path, package_dir: Path | None
            ) -> tuple[list[str], dict[str, str]]:
    """The command line and extra environment that start ``emulator`` on 127.0.0.1:``port``."""
    quota = str(limits.SHARD_QUOTA_MAIN_REGIONS.value)
    if emulator.package is None:
        return [sys.executable, "-m", "pytest_kinesis_limits", "serve", "--host", LOOPBACK, "--port", str(port),
                "--fidelity", emulator.fidelity], {}
    node, _ = node_tools()
    assert package_dir is not None
    preload = ["--require", str(workdir / "loopback.js")]  # written by start()
    if emulator.name == "kinesalite":
        # Defaults kept (createStreamMs/deleteStreamMs/updateStreamMs 500, in-memory store) but the shard limit,
        # 10 by default, is the account quota AWS documents (the request-size test alone needs 11 shards).
        return [node, *preload, str(package_dir / "cli.js"), "--port", str(port), "--shardLimit", quota], {}
    # kinesis-mock: plain HTTP on our port; its TLS port must be free too; nothing persisted or loaded (cwd is a
    # fresh folder, LOAD_DATA_IF_EXISTS reads ./data there); defaults kept otherwise (500 ms state changes).
    return [node, *preload, str(package_dir / "main.js")], {
        "KINESIS_MOCK_PLAIN_PORT": str(port), "KINESIS_MOCK_TLS_PORT": str(free_port()),
        "KINESIS_MOCK_CERT_PATH": str(package_dir / "server.json"), "SHOULD_PERSIST_DATA": "false",
        "LOAD_DATA_IF_EXISTS": "false", "SHARD_LIMIT": quota, "AWS_REGION": REGION, "LOG_LEVEL": "WARN"}


def start(emulator: Emulator, *, port: int = 0, root: Path | None = None) -> Running:
    """Install (if needed) and start ``emulator`` on 127.0.0.1; returns once Kinesis ListStreams answers."""
    package_dir = install(emulator, root) if emulator.package else None
    workdir = Path(tempfile.mkdtemp(prefix=f"pkl-{emulator.name}-"))
    port = port or free_port()
    (workdir / "loopback.js").write_text(_LOOPBACK_JS, encoding="utf-8")
    argv, extra = command(emulator, port, workdir, package_dir)
    log_path = workdir / "emulator.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=workdir, env={**os.environ, **extra}, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    running = Running(emulator, f"http://{LOOPBACK}:{port}", process, log_path, versions(emulator))
    try:
        wait_ready(running)
    except BaseException:
        running.stop()
        raise
    return running


def wait_ready(running: Running, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll Kinesis ListStreams until it answers; :class:`EmulatorError` with the log's end if the process ends
    or the time is up."""
    import boto3
    from botocore.config import Config

    client = boto3.client("kinesis", region_name=REGION, endpoint_url=running.url, aws_access_key_id="testing",
                          aws_secret_access_key="testing",
                          config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10))
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise EmulatorError(f"{running.emulator.name} exited with {running.process.returncode} before "
                                f"answering; its log ends:\n{running.log_tail()}")
        try:
            client.list_streams(Limit=1)
            return
        except Exception as exc:  # noqa: BLE001 - not up yet: connection refused, reset, ...
            last = exc
            time.sleep(0.2)
    raise EmulatorError(f"{running.emulator.name} did not answer ListStreams at {running.url} within "
                        f"{timeout_s:g} s (last: {last}); its log ends:\n{running.log_tail()}")


def versions(emulator: Emulator) -> dict[str, str]:
    """What the emulator is: the npm package and version, or the moto behind ``serve``."""
    if emulator.package:
        return {emulator.package: emulator.version}
    from importlib.metadata import version

    return {"moto": version("moto"), "pytest-kinesis-limits": version("pytest-kinesis-limits")}


@contextlib.contextmanager
def running(name: str, *, port: int = 0, root: Path | None = None) -> Iterator[Running]:
    """``with running("kinesalite") as emu: ... emu.url ...``: started on 127.0.0.1, always stopped."""
    emu = start(get(name), port=port, root=root)
    try:
        yield emu
    finally:
        emu.stop()


def conformance_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a conformance run: dummy credentials (never a real key sent to an emulator), no
    credential lookups off this machine, and no AWS_ENDPOINT_URL* of the caller's (the run is about this
    emulator)."""
    env = {k: v for k, v in environ.items()
           if not k.startswith("AWS_ENDPOINT_URL") and k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                                                                 "AWS_SESSION_TOKEN")
           and not k.startswith("KINESIS_LIMITS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def pytest_command(emulator: Emulator, url: str, report: Path, pytest_args: Sequence[str]) -> list[str]:
    """The pytest command of a conformance run (``pytest_args`` first: paths, -k, -n ...)."""
    return [sys.executable, "-m", "pytest", *pytest_args, "--aws-endpoint-url", url, "--aws-region", REGION,
            "--kinesis-backend-name", emulator.backend_name, "--kinesis-report", str(report)]


@dataclass(frozen=True)
class ConformanceResult:
    """What a conformance run did: pytest's exit code and its outcome counts (from junitxml)."""

    exit_code: int
    report: Path
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        """The run went to its end with a report and no ERROR outcome: failed tests are findings (the emulator
        breaks a limit), not a failure of the run."""
        return self.exit_code in (0, 1) and not self.counts.get("errors") and self.report.is_file()


def run_conformance(name: str, report_dir: Path, pytest_args: Sequence[str], *,
                    out: Any = None, junit: Path | None = None) -> ConformanceResult:
    """Start emulator ``name``, run pytest with ``pytest_args`` against it (report at ``report_dir/NAME.json``),
    stop it. Prints what it does to ``out`` (default stdout); ``junit`` keeps pytest's junitxml there."""
    import xml.etree.ElementTree as ET

    out = out or sys.stdout
    emulator = get(name)
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"{emulator.name}.json"
    with contextlib.suppress(FileNotFoundError):
        report.unlink()  # never let an old report pass for this run's
    with tempfile.TemporaryDirectory(prefix="pkl-conformance-") as tmp, running(name) as emu:
        junit = junit or Path(tmp) / "junit.xml"
        argv = [*pytest_command(emulator, emu.url, report, pytest_args), f"--junitxml={junit}"]
        print(f"conformance: {emulator.backend_name} listening on {emu.url} (pid {emu.process.pid}); "
              f"running {' '.join(argv[1:])}", file=out, flush=True)
        code = subprocess.call(argv, env=conformance_env(os.environ))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        with contextlib.suppress(OSError, ET.ParseError):
            for suite in ET.parse(junit).getroot().iter("testsuite"):
                for key in counts:
                    counts[key] += int(suite.get(key, 0))
    result = ConformanceResult(code, report, counts)
    verdict = "done" if result.ok else "FAILED"
    print(f"conformance: {emulator.backend_name} {verdict}: pytest exit {code}, {counts['tests']} tests, "
          f"{counts['failures']} failed (the emulator's gaps), {counts['errors']} errors, {counts['skipped']} "
          f"skipped; report {report if report.is_file() else 'NOT WRITTEN'}", file=out, flush=True)
    return result
