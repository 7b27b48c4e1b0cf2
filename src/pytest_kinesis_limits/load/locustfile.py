"""The Locust side of a swarm: a user that writes to Kinesis and accounts every record, and the master's routes.

Run by Locust only (importing Locust patches the process with gevent), the same file on the master and on every
worker, on any host::

    locust -f "$(pytest-kinesis-limits locustfile)" --master --web-host 127.0.0.1        # the master
    locust -f "$(pytest-kinesis-limits locustfile)" --worker --master-host <master's host> # each worker

The master takes a job (:class:`~pytest_kinesis_limits.load.tally.SwarmJob`) as Locust's own option
``--kinesis-job`` in the web API's ``/swarm`` form, and Locust hands it to every worker with the users it spawns.

- **The user** (:class:`KinesisRecordsUser`) waits for the job's start, then sends ``batch`` records with one
  PutRecords call every ``pacing_s`` seconds (its schedule offset from the other users' so the load is smooth),
  until the job's end. Each record's explicit hash key lies inside one open shard's range (from ListShards, as the
  throughput family's producer places them), the shards taken in turn. It makes one attempt per call: a throttled
  record is counted, never retried.
- **Every record is counted** in the worker's :class:`~pytest_kinesis_limits.load.tally.SwarmTally`, per shard and
  second, and in Locust's own statistics as a request of its own (``PutRecords record``): a record refused inside a
  call answered HTTP 200 is a failure there, with its error code.
- **Messaging**: each worker sends its counts since the last message to the master every :data:`REPORT_S` seconds
  (Locust's own messaging, ``kinesis_tally``: a worker lost mid-run takes at most that much of its counts with it,
  where Locust's periodic report to the master comes every 3 s); once the job has ended and none of its calls is in
  flight it sends the rest as a ``kinesis_tally_final`` message. The master merges them and answers the driver:
  ``GET /kinesis/status`` (workers connected, waiting for a number of them) and ``GET /kinesis/tally`` (waits until
  every worker that took part has sent its final counts or went missing, then returns the tally and each worker's
  state: ``final`` or ``lost``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import gevent
import gevent.lock
import locust
from locust import User, events, task
from locust.runners import MasterRunner, WorkerRunner

from pytest_kinesis_limits.kinesis.key_spread import KeySpread, json_payload, open_shard_ranges
from pytest_kinesis_limits.kinesis.payloads import record_size
from pytest_kinesis_limits.kinesis.reader import THROTTLED
from pytest_kinesis_limits.load.tally import SwarmJob, SwarmTally, weighted_order

#: The message a worker sends with its counts since the last one, every REPORT_S seconds while a job runs.
REPORT_MESSAGE = "kinesis_tally"
#: The message a worker sends with its last counts of a job.
FINAL_MESSAGE = "kinesis_tally_final"
#: How often a worker sends its counts (seconds): what a worker lost mid-run can take with it.
REPORT_S = 0.5
#: Where the driver that started this master waits for the line saying it serves (``swarm.LocalSwarm``).
READY_FD_VARIABLE = "PYTEST_KINESIS_LIMITS_READY_FD"
#: The process that started this master or worker (``swarm.LocalSwarm``): when it is gone, this one ends too.
PARENT_PID_VARIABLE = "PYTEST_KINESIS_LIMITS_PARENT_PID"
#: The Locust names this file relies on (Locust's documented events and runner attributes); a Locust without one
#: stops the master at start, in one line.
NEEDED = {
    "events": ("init", "init_command_line_parser", "test_start", "request"),
    "MasterRunner": ("register_message", "worker_count", "clients", "stop"),
    "WorkerRunner": ("send_message", "worker_index"),
}
_STEP = 0.6180339887498949  # the golden ratio's fraction: users' schedule offsets spread evenly, whatever their number


def locust_problems() -> list[str]:
    """The names of :data:`NEEDED` this Locust lacks (empty: it has them all)."""
    missing = [f"locust.events.{name}" for name in NEEDED["events"] if not hasattr(events, name)]
    for owner, names in (("MasterRunner", NEEDED["MasterRunner"]), ("WorkerRunner", NEEDED["WorkerRunner"])):
        cls = MasterRunner if owner == "MasterRunner" else WorkerRunner
        missing += [f"{owner}.{name}" for name in names if not hasattr(cls, name) and name not in _INSTANCE_ONLY]
    return missing


_INSTANCE_ONLY = frozenset({"clients", "worker_index"})  # set in __init__: checked on the running instance


class RecordRefused(Exception):
    """A record PutRecords refused, named by its error code: how Locust's statistics list (and group) it."""


class _Worker:
    """This worker's job, clients, shard ranges, counts and calls in flight (one per process: gevent, one thread)."""

    def __init__(self) -> None:
        self.job: SwarmJob | None = None
        self.tally = SwarmTally()
        self.in_flight = 0
        self.users = 0
        self.slots: list[tuple[str, str, str]] = []  # (partition key, explicit hash key, shard id), shards in turn
        self._lock = gevent.lock.Semaphore()
        self._clients: dict[tuple[str, str | None], Any] = {}

    def begin(self, job: SwarmJob) -> None:
        self.job, self.tally, self.in_flight, self.users, self.slots = job, SwarmTally(job.job_id), 0, 0, []

    def client(self, job: SwarmJob) -> Any:
        key = (job.region, job.endpoint_url)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            config = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=256,
                            connect_timeout=10, read_timeout=30)
            self._clients[key] = boto3.session.Session().client(
                "kinesis", region_name=job.region, endpoint_url=job.endpoint_url, config=config)
        return self._clients[key]

    def shard_slots(self, job: SwarmJob) -> list[tuple[str, str, str]]:
        """The job's keys, read once per job from ListShards: the open shards taken in turn, each as often as its
        weight in the job (:func:`~pytest_kinesis_limits.load.tally.weighted_order`; all alike without weights)."""
        with self._lock:
            if not self.slots:
                ranges = open_shard_ranges(self.client(job), job.stream)
                spread = KeySpread.over_shards(ranges, job.keys_per_shard)
                count = len(ranges)
                keys: dict[int, list[tuple[str, str]]] = {}
                for i, pair in enumerate(zip(spread.partition_keys, spread.explicit_hash_keys or ())):
                    keys.setdefault(i % count, []).append(pair)  # type: ignore[arg-type]
                weights = {j: job.shard_weights.get(r.shard_id, 0) if job.shard_weights else 1
                           for j, r in enumerate(ranges)}
                active = [j for j in range(count) if weights[j] > 0 and keys.get(j)]
                taken: Counter[int] = Counter()
                slots = []
                for _ in range(job.keys_per_shard):
                    for k in weighted_order([weights[j] for j in active]):
                        j = active[k]
                        pk, hk = keys[j][taken[j] % len(keys[j])]
                        taken[j] += 1
                        slots.append((pk, hk, ranges[j].shard_id))
                self.slots = slots
        return self.slots


WORKER = _Worker()


def _job_of(environment: Any) -> SwarmJob | None:
    raw = getattr(environment.parsed_options, "kinesis_job", None) if environment.parsed_options else None
    return SwarmJob.from_json(raw) if raw else None


class KinesisRecordsUser(User):
    """Writes the job's records with PutRecords and counts each one (module doc)."""

    def on_start(self) -> None:
        job = _job_of(self.environment)
        if job is None:
            raise locust.exception.StopUser()
        self.job = job
        self.slots = WORKER.shard_slots(job)
        WORKER.users += 1
        number = WORKER.users + 1000 * max(0, getattr(self.environment.runner, "worker_index", 0))
        self.uid = number
        self.sent = 0
        self.first_slot = (number * 7) % len(self.slots)
        self.next_at = job.start_at + ((number * _STEP) % 1.0) * job.pacing_s

    def wait_time(self) -> float:
        return max(0.0, self.next_at - time.time())

    @task
    def put_batch(self) -> None:
        job = self.job
        now = time.time()
        if now < self.next_at:  # Locust runs the first task before any wait: wait for this user's turn first
            return
        if now >= job.end_at:
            self.next_at = now + 3600  # the job is over: idle until the swarm is stopped
            return
        self.next_at += job.pacing_s
        if self.next_at < now - job.pacing_s:  # far behind (a stalled worker): no burst to catch up
            self.next_at = now
        entries, targets = [], []
        for _ in range(job.batch):
            pk, hk, shard = self.slots[(self.first_slot + self.sent) % len(self.slots)]
            index = self.uid * 10**9 + self.sent
            self.sent += 1
            data = json_payload(index, job.record_size - record_size(b"", pk))
            entries.append({"Data": data, "PartitionKey": pk, "ExplicitHashKey": hk})
            targets.append(shard)
        self._put(job, entries, targets)

    def _put(self, job: SwarmJob, entries: list[dict[str, Any]], targets: list[str]) -> None:
        from botocore.exceptions import ClientError

        WORKER.in_flight += 1  # counted until its records are: the final counts wait for it
        started = time.time()
        answers: list[dict[str, Any]]
        try:
            try:
                answers = WORKER.client(job).put_records(StreamName=job.stream, Records=entries)["Records"]
            except ClientError as exc:
                error = exc.response.get("Error", {})
                answers = [{"ErrorCode": error.get("Code", "ClientError"), "ErrorMessage": error.get("Message", "")}
                           for _ in entries]
            except Exception as exc:  # the call never got an answer (connection, timeout): every record failed
                answers = [{"ErrorCode": type(exc).__name__, "ErrorMessage": str(exc)} for _ in entries]
            answered = time.time()
            self._count(job, entries, targets, answers, int(answered), (answered - started) * 1000)
        finally:
            WORKER.in_flight -= 1

    def _count(self, job: SwarmJob, entries: list[dict[str, Any]], targets: list[str],
               answers: list[dict[str, Any]], second: int, elapsed_ms: float) -> None:
        tally = WORKER.tally
        fire = self.environment.events.request.fire
        for entry, target, answer in zip(entries, targets, answers):
            size = record_size(entry["Data"], entry["PartitionKey"])
            shard = answer.get("ShardId")
            error = None
            if shard:
                tally.count(shard, second, accepted=1, accepted_bytes=size)
                if shard != target:
                    tally.mismatched += 1
            else:
                code = answer.get("ErrorCode") or "Unknown"
                tally.error(code, shard=target)
                if code == THROTTLED:
                    tally.count(target, second, throttled=1)
                else:
                    tally.count(target, second, failed=1)
                error = RecordRefused(code)
            fire(request_type="PutRecords", name="record", response_time=elapsed_ms, response_length=size,
                 exception=error, context={})


# --- the events: options, job start, messaging ------------------------------------------------------------------

@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--kinesis-job", type=str, default="", include_in_web_ui=False,
                        help="pytest-kinesis-limits: the swarm's job (JSON, set by the driver through /swarm)")


@events.test_start.add_listener
def _test_start(environment: Any, **_: Any) -> None:
    job = _job_of(environment)
    if job is None:
        return
    if isinstance(environment.runner, MasterRunner):
        # The job starts on the master's clock, before Locust hands the options (and the job) to the workers.
        job = job.starting(time.time())
        environment.parsed_options.kinesis_job = job.to_json()
        MASTER.begin(job, environment.runner)
    else:
        WORKER.begin(job)
        gevent.spawn(_report_while_running, environment, job)


def _report_while_running(environment: Any, job: SwarmJob) -> None:
    """Send the counts to the master every :data:`REPORT_S` seconds; once the job has ended and none of its calls is
    in flight, send the last ones (:data:`FINAL_MESSAGE`)."""
    while WORKER.job is job:
        gevent.sleep(REPORT_S if time.time() < job.end_at else 0.05)
        if WORKER.job is not job:
            return
        if time.time() < job.end_at:
            environment.runner.send_message(REPORT_MESSAGE, {"job": job.job_id, "delta": WORKER.tally.take_delta()})
        elif not WORKER.in_flight:
            environment.runner.send_message(FINAL_MESSAGE, {"job": job.job_id, "delta": WORKER.tally.take_delta()})
            return


class _Master:
    """The master's merged tally of the current job and what each worker said of it."""

    def __init__(self) -> None:
        self.job: SwarmJob | None = None
        self.tally = SwarmTally()
        self.final: set[str] = set()  # the workers whose last counts are in
        self.seen: set[str] = set()  # workers that reported counts of this job or were connected at its start
        self.stopping: Any = None  # the greenlet of the last /kinesis/stop, until Locust's stop returns

    def begin(self, job: SwarmJob, runner: Any) -> None:
        self.job, self.tally, self.final = job, SwarmTally(job.job_id), set()
        self.seen = {node.id for node in runner.clients.all if node.state != "missing"}

    def merge(self, worker: str, wire: dict[str, Any] | None) -> None:
        if self.job is not None and wire and wire.get("job") == self.job.job_id:
            self.seen.add(worker)
            self.tally.merge(wire)

    def states(self, runner: Any) -> dict[str, str]:
        """Each worker of the job: ``final`` (its last counts are in), ``lost`` (gone or missing before it sent them)
        or ``running``."""
        present = {node.id: node.state for node in runner.clients.all}
        return {worker: "final" if worker in self.final else
                "lost" if present.get(worker) in (None, "missing") else "running" for worker in sorted(self.seen)}


MASTER = _Master()


def _delta(environment: Any, msg: Any, **_: Any) -> None:
    MASTER.merge(msg.node_id, (msg.data or {}).get("delta"))


def _final(environment: Any, msg: Any, **_: Any) -> None:
    data = msg.data or {}
    MASTER.merge(msg.node_id, data.get("delta"))
    if MASTER.job is not None and data.get("job") == MASTER.job.job_id:
        MASTER.final.add(msg.node_id)


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    parent = os.environ.get(PARENT_PID_VARIABLE)
    if parent:
        gevent.spawn(_quit_when_orphaned, int(parent))
    if not isinstance(runner, MasterRunner):
        return
    problems = locust_problems() + [f"MasterRunner.{n}" for n in _INSTANCE_ONLY - {"worker_index"}
                                    if not hasattr(runner, n)]
    if problems or environment.web_ui is None:
        what = ", ".join(problems) if problems else "a web UI (do not run the master with --headless)"
        raise SystemExit(f"pytest-kinesis-limits: this Locust ({locust.__version__}) lacks {what}; install the "
                         "release pytest-kinesis-limits[load] pins (pip install 'pytest-kinesis-limits[load]')")
    runner.register_message(REPORT_MESSAGE, _delta)
    runner.register_message(FINAL_MESSAGE, _final)
    _routes(environment)
    ready = os.environ.get(READY_FD_VARIABLE)
    if ready:
        gevent.spawn(_say_ready, environment, int(ready))


def _quit_when_orphaned(parent: int) -> None:
    """A master or worker a test process started (``swarm.LocalSwarm``) ends when that process is gone, even killed
    with SIGKILL, which gave it no time to stop its swarm."""
    while os.getppid() == parent:
        gevent.sleep(1.0)
    os._exit(0)


def _say_ready(environment: Any, fd: int) -> None:
    """Tell the driver that started this master (``swarm.LocalSwarm``) that the web API answers."""
    import socket

    options = environment.parsed_options
    for _ in range(600):
        try:
            socket.create_connection((options.web_host or "127.0.0.1", options.web_port), timeout=1).close()
            break
        except OSError:
            gevent.sleep(0.05)
    os.write(fd, b"ready\n")
    os.close(fd)


def _routes(environment: Any) -> None:
    from flask import jsonify, request

    app = environment.web_ui.app
    runner = environment.runner

    @app.route("/kinesis/status")
    def kinesis_status() -> Any:
        """Workers connected (waiting up to ``timeout`` s for exactly ``workers`` of them, when given)."""
        wanted = request.args.get("workers", type=int)
        settled = request.args.get("settled", default=0, type=int)  # first wait for a stop to end (/kinesis/stop)
        deadline = time.time() + request.args.get("timeout", default=0.0, type=float)
        stopping = lambda: MASTER.stopping is not None and not MASTER.stopping.dead  # noqa: E731
        while ((wanted is not None and runner.worker_count != wanted) or (settled and stopping())) \
                and time.time() < deadline:
            gevent.sleep(0.05)
        nodes = list(runner.clients.all)
        return jsonify({"workers": runner.worker_count, "missing": sum(n.state == "missing" for n in nodes),
                        "state": runner.state, "locust": locust.__version__,
                        "job": MASTER.job.job_id if MASTER.job else None,
                        "start_at": MASTER.job.start_at if MASTER.job else None})

    @app.route("/kinesis/stop", methods=["POST"])
    def kinesis_stop() -> Any:
        """Stop the swarm and answer at once: Locust's own stop waits for the workers' users in steps of a whole
        second (longer when a worker died: until the master counts it missing). The driver's next job first waits for
        that stop to return (``/kinesis/status?settled=1``), as it waited for Locust's ``/stop`` before."""
        MASTER.stopping = gevent.spawn(runner.stop)
        return jsonify({"success": True})

    @app.route("/kinesis/tally")
    def kinesis_tally() -> Any:
        """The job's tally, once every worker of it has sent its last counts or is lost (or after ``timeout`` s)."""
        job_id = request.args.get("job", "")
        deadline = time.time() + request.args.get("timeout", default=0.0, type=float)
        if MASTER.job is None or MASTER.job.job_id != job_id:
            return jsonify({"error": f"no job {job_id!r} on this master"}), 404

        def done() -> bool:
            states = MASTER.states(runner)
            return time.time() >= MASTER.job.end_at and bool(states) and "running" not in states.values()

        while not done() and time.time() < deadline:
            gevent.sleep(0.1)
        return jsonify({"tally": MASTER.tally.to_wire(), "workers": MASTER.states(runner), "done": done(),
                        "job": MASTER.job.to_json()})


__all__ = ["FINAL_MESSAGE", "KinesisRecordsUser", "READY_FD_VARIABLE", "REPORT_MESSAGE", "REPORT_S",
           "locust_problems"]
