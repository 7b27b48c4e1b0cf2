"""Benchmark conformance runs: wall time per emulator and where it goes (a plain script, not a test).

    python3 benchmarks/bench_conformance.py [kinesalite kinesis-mock ...] [-- PYTEST ARGS]

For each emulator: its raw PutRecords speed (500 records of 100 B per call, one stream; the ceiling of every
paced writer against it), then a whole conformance run (`pytest-kinesis-limits conformance NAME`, default
pytest arguments those of tox: tests/limits -n 4 --dist loadgroup) with its wall time, the time per family
(summed test times from junitxml) and the ten slowest tests. The load average before and after is printed:
on a shared machine it says how far the numbers are from an idle one.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import boto3
from botocore.config import Config

from pytest_kinesis_limits import emulators

DEFAULT_ARGS = ["tests/limits", "-p", "no:cacheprovider", "-n", "4", "--dist", "loadgroup", "-q"]
FAMILIES = ("put_records", "throughput", "resharding", "firehose")


def put_rate(name: str, calls: int = 6) -> float:
    """Records/s one client gets from ``name`` with 500-record PutRecords calls."""
    with emulators.running(name) as emu:
        client = boto3.client("kinesis", region_name="us-east-1", endpoint_url=emu.url, aws_access_key_id="t",
                              aws_secret_access_key="t", config=Config(retries={"total_max_attempts": 1}))
        client.create_stream(StreamName="bench", ShardCount=1)
        client.get_waiter("stream_exists").wait(StreamName="bench", WaiterConfig={"Delay": 0.5})
        records = [{"Data": b"x" * 99, "PartitionKey": "k"}] * 500
        started = time.perf_counter()
        for _ in range(calls):
            client.put_records(StreamName="bench", Records=records)
        return calls * len(records) / (time.perf_counter() - started)


def run(name: str, pytest_args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        started = time.perf_counter()
        with open(os.devnull, "w", encoding="utf-8") as quiet:
            emulators.run_conformance(name, Path(tmp), pytest_args, out=quiet, junit=junit)
        wall = time.perf_counter() - started
        per_family: dict[str, float] = defaultdict(float)
        tests = []
        for case in ET.parse(junit).getroot().iter("testcase"):
            seconds = float(case.get("time", 0))
            family = next((f for f in FAMILIES if f"test_{f}" in case.get("name", "")), "other")
            per_family[family] += seconds
            tests.append((seconds, case.get("name", "")))
    print(f"{name}: {wall:.0f} s wall; summed test time per family: "
          + ", ".join(f"{f} {s:.0f} s" for f, s in sorted(per_family.items(), key=lambda x: -x[1])))
    for seconds, test in sorted(tests, reverse=True)[:10]:
        print(f"    {seconds:7.1f} s  {test}")


def main() -> None:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    names = argv or ["kinesalite", "kinesis-mock"]
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} cores")
    for name in names:
        print(f"{name}: PutRecords {put_rate(name):,.0f} records/s (500 x 100 B per call)")
        run(name, extra or DEFAULT_ARGS)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
