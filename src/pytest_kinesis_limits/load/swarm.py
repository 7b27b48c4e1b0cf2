"""Drive a Locust swarm from any process: start a master and workers here, or use a master the user runs elsewhere.

:class:`SwarmMaster` speaks to a Locust master that runs this package's locustfile
(:mod:`pytest_kinesis_limits.load.locustfile`), through Locust's web API (``POST /swarm``) and the routes the
locustfile adds (``/kinesis/status``, ``/kinesis/tally``, and ``/kinesis/stop``, which answers at once where Locust's
own ``/stop`` waits a whole second). :meth:`SwarmMaster.run` hands it a job, waits
for every worker's final counts (the master answers when they are in: the wait is the master's, not a sleep here),
and stops the swarm. :class:`LocalSwarm` starts a master and ``workers`` worker processes on 127.0.0.1 and keeps that
many running from one job to the next (a worker that died is replaced).

No Locust import here (Locust patches the importing process with gevent), no pytest: the plugin's ``kinesis_swarm``
fixture and ``python -c`` alike can drive a swarm.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_kinesis_limits.load.tally import SwarmJob, SwarmTally

#: The locustfile every master and worker runs (``pytest-kinesis-limits locustfile`` prints it).
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: How long a master may take to answer (start-up, a worker connecting) before the swarm is called broken.
START_S = 60.0
#: After a job's end: how long its workers may take to send their final counts, or to be seen missing (Locust calls a
#: worker missing after a few heartbeats without one).
SETTLE_S = 30.0
_READY_FD_VARIABLE = "PYTEST_KINESIS_LIMITS_READY_FD"  # locustfile.READY_FD_VARIABLE (not imported: see the module)
_PARENT_PID_VARIABLE = "PYTEST_KINESIS_LIMITS_PARENT_PID"  # locustfile.PARENT_PID_VARIABLE
_HINT = "pip install 'pytest-kinesis-limits[load]'"


class SwarmError(RuntimeError):
    """The swarm could not be started or driven; the message says why and what to do."""


@dataclass
class SwarmResult:
    """What a job did: the merged :class:`~pytest_kinesis_limits.load.tally.SwarmTally` and each worker's state
    (``final``: its last counts are in; ``lost``: it went away before it sent them)."""

    job: SwarmJob
    tally: SwarmTally
    workers: dict[str, str]

    @property
    def lost(self) -> list[str]:
        return [worker for worker, state in self.workers.items() if state == "lost"]

    def describe(self) -> str:
        totals = self.tally.totals()
        lost = f", {len(self.lost)} lost mid-run" if self.lost else ""
        return (f"{len(self.workers)} worker(s){lost}, {self.job.users} users in batches of {self.job.batch}: "
                f"{totals['accepted']:,} records accepted, {totals['throttled']:,} throttled, {totals['failed']:,} "
                f"failed otherwise")


class SwarmMaster:
    """A Locust master running this package's locustfile, at ``url`` (its web UI)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, path: str, *, params: Mapping[str, Any] | None = None, form: Mapping[str, Any] | None = None,
              wait: float = 0.0) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", data=data, timeout=wait + 30) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and path.startswith("/kinesis/status"):
                raise SwarmError(f"the Locust master at {self.url} does not run pytest-kinesis-limits' locustfile. "
                                 "Fix: start it with: locust -f \"$(pytest-kinesis-limits locustfile)\" "
                                 "--master") from None
            raise SwarmError(f"the Locust master at {self.url} answered {path} with HTTP {exc.code}: "
                             f"{exc.read()[:300]!r}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SwarmError(f"the Locust master at {self.url} did not answer {path}: {exc}") from None

    def status(self, *, workers: int | None = None, settled: bool = False, wait: float = 0.0) -> dict[str, Any]:
        """Workers connected, the master's state and Locust's version; with ``workers``, first waits up to ``wait``
        seconds for exactly that many (on the master); with ``settled``, for a stop under way to end."""
        params: dict[str, Any] = {"timeout": wait}
        if workers is not None:
            params["workers"] = workers
        if settled:
            params["settled"] = 1
        return dict(self._call("/kinesis/status", params=params, wait=wait))

    def run(self, job: SwarmJob, *, settle: float = SETTLE_S) -> SwarmResult:
        """Start ``job`` on every connected worker, wait until each has sent its final counts (or is lost), stop the
        swarm, and return the counts. The job's start must leave the workers time to spawn their users."""
        self.status(settled=True, wait=settle)  # the last job's stop (answered at once) has ended
        started = self._call("/swarm", form={"user_count": job.users, "spawn_rate": job.users,
                                             "kinesis_job": job.to_json()})
        if not started or not started.get("success", False):
            raise SwarmError(f"the Locust master at {self.url} did not start the job: {started}")
        try:
            # One long wait on the master, in pieces short enough for any proxy: it answers once the job is done.
            answer: dict[str, Any] = {}
            budget = job.lead_s + job.seconds + settle
            while budget > 0:
                piece = min(budget, 60.0)
                answer = self._call("/kinesis/tally", params={"job": job.job_id, "timeout": piece}, wait=piece)
                if answer.get("done"):
                    break
                budget -= piece
        finally:
            self._call("/kinesis/stop", form={})  # answered at once; the stop ends on the master meanwhile
        if not answer.get("done"):
            raise SwarmError(f"the swarm's workers did not send their final counts within {settle:.0f} s of the job's "
                             f"end (workers: {answer.get('workers')})")
        return SwarmResult(SwarmJob.from_json(answer["job"]), SwarmTally.from_wire(answer["tally"]),
                           dict(answer.get("workers", {})))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalSwarm:
    """A Locust master and ``workers`` worker processes on 127.0.0.1, with ``env`` (where to send, credentials).

    Their output goes to ``log_dir`` (``master.log``, ``worker-<n>.log``). Waits are the master's (its answers) or
    the processes' (a pipe, ``wait``): none is a sleep of this process, whose clock a test may simulate."""

    def __init__(self, workers: int, *, env: Mapping[str, str], log_dir: Path) -> None:
        if workers < 1:
            raise ValueError("a local swarm needs at least one worker")
        self.workers = workers
        self.env = dict(env)
        self.log_dir = log_dir
        self.master: SwarmMaster | None = None
        self.master_process: subprocess.Popen[bytes] | None = None
        self.worker_processes: list[subprocess.Popen[bytes]] = []
        self._master_port = 0
        self._started = 0

    def _spawn(self, args: list[str], log: str, **popen: Any) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / log, "ab") as out:
            env = {**popen.pop("env", self.env), _PARENT_PID_VARIABLE: str(os.getpid())}  # orphaned, it ends
            return subprocess.Popen([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING",
                                     *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, **popen)

    def log_tail(self, name: str = "master.log", lines: int = 15) -> str:
        path = self.log_dir / name
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> SwarmMaster:
        """Start the master and the workers together (a worker waits for its master), wait until the master's web
        API answers and then until every worker is connected."""
        self._master_port, web_port = _free_port(), _free_port()
        read_end, write_end = os.pipe()
        env = {**self.env, _READY_FD_VARIABLE: str(write_end)}
        try:
            self.master_process = self._spawn(
                ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(self._master_port),
                 "--web-host", "127.0.0.1", "--web-port", str(web_port)], "master.log", env=env,
                pass_fds=(write_end,))
        finally:
            os.close(write_end)
        self.worker_processes = [self._start_worker() for _ in range(self.workers)]
        with os.fdopen(read_end, "rb") as ready:
            said = ready.readline()  # EOF when the master exits first
        if said.strip() != b"ready":
            self.stop()
            raise SwarmError(f"the Locust master did not start ({_HINT} installs Locust); its log:\n"
                             f"{self.log_tail()}")
        self.master = SwarmMaster(f"http://127.0.0.1:{web_port}")
        self.ensure_workers()
        return self.master

    def _start_worker(self) -> subprocess.Popen[bytes]:
        self._started += 1
        return self._spawn(["--worker", "--master-host", "127.0.0.1", "--master-port", str(self._master_port)],
                           f"worker-{self._started}.log")

    def ensure_workers(self, wait: float = START_S) -> None:
        """Replace the workers that died (a test may kill one), then wait until the master counts exactly
        :attr:`workers` connected (a dead worker is dropped by the master once it misses its heartbeats)."""
        if self.master is None:
            raise SwarmError("the local swarm is not started")
        self.worker_processes = [p for p in self.worker_processes if p.poll() is None]
        while len(self.worker_processes) < self.workers:
            self.worker_processes.append(self._start_worker())
        status = self.master.status(workers=self.workers, wait=wait)
        if status.get("workers") != self.workers:
            raise SwarmError(f"{status.get('workers')} of {self.workers} Locust workers connected to the master "
                             f"within {wait:.0f} s; the first worker's log:\n{self.log_tail('worker-1.log')}")

    @property
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.worker_processes if p.poll() is None]

    def stop(self) -> None:
        """Stop every process at once (SIGKILL) and reap it. They keep nothing a run needs: a job's counts are in
        the test's hands before it ends, and their logs are written line by line. Locust's own SIGTERM shutdown
        spends over a second on the master's wait for final statistics and its reports, at every session's end."""
        processes = [*self.worker_processes, *([self.master_process] if self.master_process else [])]
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait()
        self.worker_processes, self.master_process, self.master = [], None, None


__all__ = ["LOCUSTFILE", "LocalSwarm", "SwarmError", "SwarmMaster", "SwarmResult"]
