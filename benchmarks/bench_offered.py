"""How much of its target rate the producer offers when the network is slow (real HTTP, loopback only).

Starts ``pytest-kinesis-limits serve`` (moto + the fidelity layer), puts tests/plugin/slow_link.py's relay in
front of it with the given added round-trip time (and optionally an upload cap), and runs the throughput
family's 200 % cases with the family's live pacing (0.1 s ticks, no retries, a one-attempt client): 100-byte
records at 2,000 records/s on one shard, and 52,428-byte records at 4 MiB/s over two shards. Prints, per case,
as fractions of the target on the client's clock: what was sent over the whole run, what was sent in the window
the meter uses (the run less its first and last second), what the service answered in that window
(``ProduceResult.offered_fraction``, what the family's verdicts read), and the late ticks.

    .venv/bin/python benchmarks/bench_offered.py [--latency 0 0.2] [--seconds 6] [--workers N] [--upload-kib S]

``--workers`` is passed to ``Producer`` only when given (the default is the family's own setting).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "plugin"))
from slow_link import SlowLink  # noqa: E402

from pytest_kinesis_limits import limits  # noqa: E402
from pytest_kinesis_limits.clock import RealClock  # noqa: E402
from pytest_kinesis_limits.kinesis.key_spread import KeySpread, generate_records  # noqa: E402
from pytest_kinesis_limits.kinesis.producer import Producer, Rate, RetryPolicy  # noqa: E402

CASES = {
    "records-1-shard": (1, 100, Rate.records_per_s(2 * limits.SHARD_WRITE_RECORDS_PER_S.value)),
    "bytes-2-shards": (2, limits.SHARD_WRITE_BYTES_PER_S.value // 20,
                       Rate.bytes_per_s(2 * 2 * limits.SHARD_WRITE_BYTES_PER_S.value)),
}


def serve() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "pytest_kinesis_limits", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline() if process.stdout else ""
    match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    if not match:
        process.terminate()
        raise SystemExit(f"serve did not start: {line!r}")
    return process, match.group(1)


def run_case(url: str, name: str, seconds: int, workers: int | None) -> dict[str, float]:
    shards, size, rate = CASES[name]
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=64)
    client = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=config)
    stream = f"bench-{name}-{time.monotonic_ns()}"
    client.create_stream(StreamName=stream, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    keys = KeySpread.from_stream(client, stream)
    options = {} if workers is None else {"workers": workers}
    producer = Producer(client, stream, clock=RealClock(), retry=RetryPolicy.none(), tick=0.1, **options)
    result = producer.run(generate_records(size, keys), rate=rate, duration=seconds)
    cost = (lambda o: 1) if rate.unit == "records/s" else (lambda o: o.size)
    window = (result.started_at + 1, result.started_at + seconds - 1)
    sent_in_window = sum(cost(o) for o in result.outcomes if window[0] <= o.first_sent_at < window[1])
    client.delete_stream(StreamName=stream)
    offered = result.offered_records_per_s if rate.unit == "records/s" else result.offered_bytes_per_s
    answered = getattr(result, "offered_fraction", None)  # what the service answered (newer producers)
    return {"offered": offered / rate.value, "window": sent_in_window / (window[1] - window[0]) / rate.value,
            "answered": answered(skip_first_s=1, window_s=seconds - 2) if answered else float("nan"),
            "late": result.late_ticks, "refused": result.sent - result.accepted, "sent": result.sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 0.2])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--upload-kib", type=float, help="cap the upload at this many KiB/s")
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    args = parser.parse_args()
    process, url = serve()
    try:
        print(f"{'case':<18}{'latency':>8}{'offered/target':>16}{'sent in window':>16}{'answered':>10}"
              f"{'late ticks':>12}{'sent':>8}")
        for latency in args.latency:
            upload = None if args.upload_kib is None else args.upload_kib * 1024
            with SlowLink(url, latency=latency, upload_bytes_per_s=upload, lifetime=600) as link:
                for name in args.cases:
                    r = run_case(link.url, name, args.seconds, args.workers)
                    print(f"{name:<18}{latency * 1000:>6.0f}ms{r['offered']:>16.1%}{r['window']:>16.1%}"
                          f"{r['answered']:>10.1%}{r['late']:>12.0f}{r['sent']:>8.0f}", flush=True)
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
