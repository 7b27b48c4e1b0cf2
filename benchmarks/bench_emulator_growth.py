"""How an emulator's PutRecords and GetRecords speed changes as a shard fills (a plain script, not a test).

    python3 benchmarks/bench_emulator_growth.py [kinesis-mock|kinesalite] [TOTAL_RECORDS]

Writes TOTAL_RECORDS (default 50,000: the seed scenario's) records of ~20 B in 500-record PutRecords calls to a
fresh 1-shard stream, one call at a time, and prints the records/s of every tenth of them; then reads the shard
back (GetRecords, 10,000 per call) and prints the records/s of the read. A rate that falls as the shard fills
means the emulator's cost per record grows with what it holds, so a long scenario costs more than its length.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from botocore.config import Config

from pytest_kinesis_limits import emulators


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "kinesis-mock"
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} cores")
    with emulators.running(name) as emu:
        client = boto3.client("kinesis", region_name="us-east-1", endpoint_url=emu.url, aws_access_key_id="t",
                              aws_secret_access_key="t", config=Config(retries={"total_max_attempts": 1}))
        client.create_stream(StreamName="bench", ShardCount=1)
        client.get_waiter("stream_exists").wait(StreamName="bench", WaiterConfig={"Delay": 0.5})
        calls = total // 500
        block = max(1, calls // 10)
        n = 0
        for first in range(0, calls, block):
            started = time.perf_counter()
            for _ in range(first, min(calls, first + block)):
                client.put_records(StreamName="bench", Records=[
                    {"Data": b'{"test": %d}' % (n + i), "PartitionKey": f"k{(n + i) % 64}"} for i in range(500)])
                n += 500
            done = min(calls, first + block) - first
            print(f"{name}: records {n - done * 500:>6}-{n:>6}: PutRecords "
                  f"{done * 500 / (time.perf_counter() - started):,.0f} records/s", flush=True)
        shard = client.list_shards(StreamName="bench")["Shards"][0]["ShardId"]
        iterator = client.get_shard_iterator(StreamName="bench", ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        started, read = time.perf_counter(), 0
        while read < n:
            page = client.get_records(ShardIterator=iterator)
            read += len(page["Records"])
            iterator = page["NextShardIterator"]
        print(f"{name}: GetRecords {read / (time.perf_counter() - started):,.0f} records/s ({read} records)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
