"""Benchmark the fidelity layer against plain moto (a plain script, not a test).

    PYTHONPATH=src python3 benchmarks/bench_fidelity.py [--fill 100000]

Prints three tables: PutRecords throughput on an empty shard, records/s per 10k chunk while one shard
fills, and acknowledged vs stored records for 4 concurrent writer threads. Throttling is switched off in
the layer so that only its cost is measured (throttling on a simulated clock would cap the numbers).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore
import moto

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import FidelityConfig, activate

BATCH = limits.PUT_RECORDS_MAX_RECORDS.value
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
SESSION = boto3.session.Session()


@contextlib.contextmanager
def backend(mode: str) -> Iterator[Any]:
    with moto.mock_aws():
        client = SESSION.client("kinesis", region_name="us-east-1")
        if mode == "plain":
            yield client
        else:
            # Lifecycle windows off: this measures writes, not how long a stream takes to become ACTIVE.
            with activate(SimulatedClock(), FidelityConfig(throttling=False).scale_lifecycle(0)):
                yield client


def batch(start: int) -> list[dict[str, Any]]:
    return [{"Data": f'{{"n": {i}}}'.encode(), "PartitionKey": f"k{i % 97}"} for i in range(start, start + BATCH)]


def empty_shard(mode: str, batches: int = 10, rounds: int = 5) -> float:
    """Median records/s of ``batches`` PutRecords calls into a fresh stream, over ``rounds`` streams."""
    rates = []
    with backend(mode) as client:
        for r in range(rounds):
            name = f"e{r}"
            client.create_stream(StreamName=name, ShardCount=1)
            payloads = [batch(i * BATCH) for i in range(batches)]
            t0 = time.perf_counter()
            for p in payloads:
                client.put_records(StreamName=name, Records=p)
            rates.append(batches * BATCH / (time.perf_counter() - t0))
    return statistics.median(rates)


def fill(mode: str, total: int, chunk: int = 10_000) -> list[float]:
    """Records/s of each ``chunk`` while ``total`` records go into one shard in 500-record batches."""
    out = []
    with backend(mode) as client:
        client.create_stream(StreamName="f", ShardCount=1)
        for c in range(0, total, chunk):
            payloads = [batch(i) for i in range(c, c + chunk, BATCH)]
            t0 = time.perf_counter()
            for p in payloads:
                client.put_records(StreamName="f", Records=p)
            out.append(chunk / (time.perf_counter() - t0))
    return out


def concurrent(mode: str, threads: int = 4, per_thread: int = 10_000) -> tuple[int, int]:
    """(acknowledged, stored) for ``threads`` writers of ``per_thread`` records each into one shard."""
    with backend(mode) as client:
        client.create_stream(StreamName="c", ShardCount=1)
        clients = [SESSION.client("kinesis", region_name="us-east-1") for _ in range(threads)]

        def write(w: int) -> int:
            acked = 0
            for start in range(0, per_thread, BATCH):
                out = clients[w].put_records(StreamName="c", Records=batch(w * per_thread + start))
                acked += BATCH - out["FailedRecordCount"]
            return acked

        with ThreadPoolExecutor(threads) as pool:
            acked = sum(pool.map(write, range(threads)))
        it = client.get_shard_iterator(StreamName="c", ShardId="shardId-000000000000",
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        stored = 0
        while it:
            page = client.get_records(ShardIterator=it)
            stored += len(page["Records"])
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
        return acked, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fill", type=int, default=100_000, help="records for the filling-shard run")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, moto {moto.__version__}, boto3 {boto3.__version__}, "
          f"botocore {botocore.__version__} (in-process mock_aws)")
    plain, layer = empty_shard("plain"), empty_shard("layer")
    print("\n1. PutRecords on an empty shard (records/s, median of 5 x 5,000 records)")
    cost = (plain - layer) / plain  # > 0: the layer is slower; the target is <= 20 %
    print(f"| plain moto | with layer | layer cost (target <= 20 %) |\n|---|---|---|\n"
          f"| {plain:,.0f} | {layer:,.0f} | {max(cost, 0):.0%} ({layer / plain:.2f}x plain's rate) |")
    print(f"\n2. {args.fill:,} records into one shard in {BATCH}-record batches (records/s per 10k chunk)")
    p, l_ = fill("plain", args.fill), fill("layer", args.fill)
    print("| chunk | plain moto | with layer |\n|---|---|---|")
    for i, (a, b) in enumerate(zip(p, l_, strict=True)):
        print(f"| {i * 10 + 10}k | {a:,.0f} | {b:,.0f} |")
    print("\n3. 4 writer threads x 10,000 records into one shard")
    print("| backend | acknowledged | stored | lost |\n|---|---|---|---|")
    for mode in ("plain", "layer"):
        acked, stored = concurrent(mode)
        print(f"| {mode} | {acked:,} | {stored:,} | {acked - stored:,} |")


if __name__ == "__main__":
    main()
