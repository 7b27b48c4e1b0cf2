"""What one Locust worker of the swarm offers, in records per second per worker core (real HTTP, loopback only).

Starts ``pytest-kinesis-limits serve`` (moto + the fidelity layer) on 127.0.0.1, a
:class:`~pytest_kinesis_limits.load.swarm.LocalSwarm` of one worker, and per run a fresh stream with enough shards that
throttling does not bind (128 by default: 128,000 records/s); it runs a job (``shape_job``) offering far more
than one worker can send (100,000 records/s by default). While the job runs, samples the CPU time of the worker
process, of serve and of the whole machine; over the job's window (its ``start_at`` to ``end_at``) it prints, per run
and as the median of the runs:

- ``answered/s``: the records the swarm counted (accepted + throttled + failed) over the job's seconds;
- ``worker cpu``: the worker's CPU seconds over the window's wall seconds (1.0 = one core);
- ``per core``: answered/s divided by the worker's CPU share, the records/s one worker core would offer;
- ``serve cpu``: serve's CPU share. Serve is one Python process (one core at most, under the GIL): near 100 % it is
  the bottleneck, the worker waits on it, and the per-core figure is an extrapolation from a partly idle worker;
- ``machine``: the cores busy over the window, every process of the machine (master and other work included): near
  all of them, serve and the worker compete for cores and neither is alone the bottleneck.

    .venv/bin/python benchmarks/bench_swarm.py [--runs 3] [--seconds 10] [--rate 100000] [--record-size 100]
                                               [--shards 128] [--users N] [--batch N]

``--users`` / ``--batch`` override what ``shape_job`` picks (the rate stays the whole swarm's). No timed assertion.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import boto3
import psutil

from bench_offered import serve  # this folder's: starts `pytest-kinesis-limits serve`, returns it and its URL
from pytest_kinesis_limits.load.swarm import LocalSwarm
from pytest_kinesis_limits.load.tally import shape_job

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
               "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}
FULL_SHARE = 0.9  # serve at or above this share of a core: it is the bottleneck


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class Sampler(threading.Thread):
    """(wall time, worker CPU s, serve CPU s, machine busy CPU s) every ``every`` seconds until stopped."""

    def __init__(self, worker: psutil.Process, server: psutil.Process, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.worker, self.server, self.every = worker, server, every
        self.samples: list[tuple[float, ...]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            machine = psutil.cpu_times()
            busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
            self.samples.append((time.time(), cpu_seconds(self.worker), cpu_seconds(self.server), busy))
            self.halt.wait(self.every)

    def at(self, when: float) -> tuple[float, ...]:
        """The sample nearest ``when``."""
        return min(self.samples, key=lambda sample: abs(sample[0] - when))


def make_stream(client, shards: int) -> str:
    """A fresh stream per run (moto slows down as its shards fill)."""
    stream = f"bench-swarm-{time.monotonic_ns()}"
    client.create_stream(StreamName=stream, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    return stream


def run_once(master, swarm: LocalSwarm, server: psutil.Process, url: str, stream: str, args: argparse.Namespace,
             number: int) -> dict[str, float]:
    job = shape_job(job_id=f"bench-{number}-{time.monotonic_ns()}", stream=stream, region=REGION,
                    records_per_s=args.rate, record_size=args.record_size, workers=1, seconds=args.seconds,
                    lead_s=2.0, endpoint_url=url)
    if args.users or args.batch:
        job = dataclasses.replace(job, users=args.users or job.users, batch=args.batch or job.batch)
    sampler = Sampler(psutil.Process(swarm.worker_pids[0]), server)
    sampler.start()
    try:
        result = master.run(job)
    finally:
        sampler.halt.set()
        sampler.join()
    first, last = sampler.at(result.job.start_at), sampler.at(result.job.end_at)
    wall = last[0] - first[0]
    totals = result.tally.totals()
    answered = (totals["accepted"] + totals["throttled"] + totals["failed"]) / result.job.seconds
    worker_share = (last[1] - first[1]) / wall
    return {"answered": answered, "worker": worker_share, "per_core": answered / worker_share if worker_share else 0,
            "serve": (last[2] - first[2]) / wall, "machine": (last[3] - first[3]) / wall,
            "throttled": totals["throttled"], "failed": totals["failed"],
            "users": result.job.users, "batch": result.job.batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100000.0, help="records/s offered (well above one worker)")
    parser.add_argument("--record-size", type=int, default=100)
    parser.add_argument("--shards", type=int, default=128, help="enough that the rate is not throttled")
    parser.add_argument("--users", type=int, help="override shape_job's users")
    parser.add_argument("--batch", type=int, help="override shape_job's batch (records per PutRecords)")
    args = parser.parse_args()
    process, url = serve()
    swarm = None
    try:
        client = boto3.client("kinesis", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": url}
        log_dir = Path(tempfile.mkdtemp(prefix="bench-swarm-"))
        swarm = LocalSwarm(1, env=env, log_dir=log_dir)
        master = swarm.start()
        server = psutil.Process(process.pid)
        print(f"serve {url}, {args.shards} shards, {args.record_size}-byte records, {args.rate:,.0f} records/s "
              f"offered for {args.seconds:g} s, {os.cpu_count()} cores; logs in {log_dir}")
        print(f"{'run':<6}{'users':>6}{'batch':>6}{'answered/s':>12}{'worker cpu':>12}{'per core':>10}"
              f"{'serve cpu':>11}{'machine':>9}{'throttled':>11}{'failed':>8}")
        rows = []
        for number in range(1, args.runs + 1):
            swarm.ensure_workers()
            stream = make_stream(client, args.shards)
            row = run_once(master, swarm, server, url, stream, args, number)
            client.delete_stream(StreamName=stream)
            rows.append(row)
            print(f"{number:<6}{row['users']:>6}{row['batch']:>6}{row['answered']:>12,.0f}{row['worker']:>12.0%}"
                  f"{row['per_core']:>10,.0f}{row['serve']:>11.0%}{row['machine']:>9.2f}{row['throttled']:>11,}"
                  f"{row['failed']:>8,}",
                  flush=True)
        keys = ("answered", "worker", "per_core", "serve", "machine")
        median = {key: statistics.median(row[key] for row in rows) for key in keys}
        print(f"{'median':<18}{median['answered']:>12,.0f}{median['worker']:>12.0%}{median['per_core']:>10,.0f}"
              f"{median['serve']:>11.0%}{median['machine']:>9.2f}")
        if median["serve"] >= FULL_SHARE:
            print(f"serve used {median['serve']:.0%} of a core: serve is the bottleneck, and the per-core figure "
                  "extrapolates from a worker that was partly idle waiting on it")
        elif median["machine"] >= FULL_SHARE * (os.cpu_count() or 1):
            print(f"the machine's {os.cpu_count()} cores were {median['machine'] / (os.cpu_count() or 1):.0%} busy: "
                  "serve and the worker compete for them, and the per-core figure extrapolates from a worker short of "
                  "a core")
        elif median["worker"] >= FULL_SHARE:
            print(f"the worker used {median['worker']:.0%} of a core: the per-core figure is what it sustained")
    finally:
        if swarm is not None:
            swarm.stop()
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
