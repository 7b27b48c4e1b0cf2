"""Benchmark: the producer's overhead against a bare put_records loop, on moto in-process.

Same records (pre-generated, same size and key), one shard, no throttling, no pacing (the producer runs
unpaced on a SimulatedClock, so only its batching/logging work is measured), a fresh stream per run
(moto slows down as a shard fills, so each run starts empty). Prints records/s for each and the ratio,
plus the offline meter's error against the limit configured in the fidelity layer: 200 % of it offered by
the producer (no retries) on a SimulatedClock, read back with the reader, ``max_sustained()`` and
``min_sustained()`` compared with the configured limit (the catalogue's, twice it, and with a one-second
burst allowance that the meter must leave out), and on synthetic arrivals at the limit after a burst second.

    .venv/bin/python benchmarks/bench_producer.py [--records 5000] [--size 100] [--repeat 6]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import boto3
import botocore
import moto
from botocore.config import Config
from moto import mock_aws

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import FidelityConfig, activate
from pytest_kinesis_limits.kinesis.key_spread import KeySpread, Record, generate_records
from pytest_kinesis_limits.kinesis.meter import measure, measure_stream
from pytest_kinesis_limits.kinesis.producer import Producer, Rate, RetryPolicy, batch_records
from pytest_kinesis_limits.kinesis.reader import ReadRecord

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def bare_loop(client, stream: str, records: list[Record]) -> None:
    """The baseline: PutRecords in chunks of the record cap, nothing else."""
    step = limits.PUT_RECORDS_MAX_RECORDS.value
    for i in range(0, len(records), step):
        client.put_records(StreamName=stream, Records=[r.entry() for r in records[i:i + step]])


def with_producer(client, stream: str, records: list[Record]) -> None:
    """The same records through the producer (unpaced, no retries, outcome log kept)."""
    result = Producer(client, stream, clock=SimulatedClock()).run(records)
    assert result.accepted == len(records), result.summary()


def time_it(client, fn, records: list[Record], name: str) -> float:
    client.create_stream(StreamName=name, ShardCount=1)
    started = time.perf_counter()
    fn(client, name, records)
    elapsed = time.perf_counter() - started
    client.delete_stream(StreamName=name)
    return len(records) / elapsed


class NullClient:
    """Answers every PutRecords at once: what is left is the producer's own CPU cost per record."""

    def put_records(self, *, Records, **_):
        return {"FailedRecordCount": 0, "Records": [{"ShardId": "shardId-0", "SequenceNumber": "1"}] * len(Records)}


def producer_alone(records: list[Record]) -> float:
    started = time.perf_counter()
    with_producer(NullClient(), "null", records)
    return len(records) / (time.perf_counter() - started)


def client_side_only(records: list[Record]) -> float:
    """boto3's own work per record (serialise, base64, sign, parse) with the network cut at before-send."""
    from botocore.awsrequest import AWSResponse

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_):
            yield self._body

    def answer(request, **_):
        n = request.body.count(b'"PartitionKey"')
        body = json.dumps({"FailedRecordCount": 0, "Records": [{"ShardId": "shardId-0",
                                                                 "SequenceNumber": "1"}] * n}).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))

    client = boto3.client("kinesis", config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS)
    client.meta.events.register("before-send.kinesis.PutRecords", answer)
    started = time.perf_counter()
    with_producer(client, "stub", records)
    return len(records) / (time.perf_counter() - started)


def batching_only(records: list[Record]) -> float:
    started = time.perf_counter()
    for _ in batch_records(records):
        pass
    return len(records) / (time.perf_counter() - started)


def meter_error(limit: int, seconds: int = 20) -> float:
    """Relative error of the sustained rate on arrivals exactly at ``limit``/s after a 2x burst second."""
    t0 = 1_700_000_000
    records = [ReadRecord("s", f"{i}", "k", b"x", t0 + i / (2 * limit)) for i in range(2 * limit)]
    records += [ReadRecord("s", f"b{sec}-{i}", "k", b"x", t0 + sec + i / limit)
                for sec in range(1, seconds) for i in range(limit)]
    measured = measure(records).max_sustained()
    return (measured - limit) / limit


# (unit, record size) per limit: small records for records/s, 1/20 of the byte rate for bytes/s.
FIDELITY_CASES = {"records/s": 100, "bytes/s": limits.SHARD_WRITE_BYTES_PER_S.value // 20}


def meter_error_on_fidelity(client, unit: str, shards: int, *, factor: float = 1.0, burst_seconds: float = 0.0,
                            window: int = 5, name: str = "") -> tuple[float, float, float, float]:
    """Offer 200 % of the fidelity layer's configured limit; return (configured, max error, min error, and the
    error of a naive mean over every second with arrivals, burst second included, on the first shard)."""
    config = FidelityConfig(burst_seconds=burst_seconds).scale_lifecycle(0)  # no CREATING wait to measure around
    config.write_records_per_s = int(factor * config.write_records_per_s)
    config.write_bytes_per_s = int(factor * config.write_bytes_per_s)
    configured = config.write_records_per_s if unit == "records/s" else config.write_bytes_per_s
    clock = SimulatedClock()
    with activate(clock, config):
        client.create_stream(StreamName=name, ShardCount=shards)
        keys = KeySpread.from_stream(client, name)
        result = Producer(client, name, clock=clock, retry=RetryPolicy.none()).run(
            generate_records(FIDELITY_CASES[unit], keys), rate=Rate(2 * configured * shards, unit),
            duration=window + 2)
        m = measure_stream(client, name, clock=clock, produce=result, window_s=window)
        client.delete_stream(StreamName=name)
    first = m.shards[min(m.shards)]
    series = first.records if unit == "records/s" else first.bytes
    naive = sum(series.values()) / len(series)
    return (configured, (m.max_sustained(unit) - configured) / configured,
            (m.min_sustained(unit) - configured) / configured, (naive - configured) / configured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--size", type=int, default=100, help="record size in bytes (data + key)")
    parser.add_argument("--repeat", type=int, default=6)
    args = parser.parse_args()
    records = [r for r, _ in zip(generate_records(args.size, KeySpread.single()), range(args.records))]
    rows: dict[str, list[float]] = {"bare put_records loop": [], "Producer (unpaced, log kept)": []}
    with mock_aws():
        client = boto3.client("kinesis", config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS)
        time_it(client, bare_loop, records, "warm-up")  # imports, moto's first-call setup
        for n in range(args.repeat):  # alternate which path goes first, so drift hits both alike
            order = [("bare put_records loop", bare_loop), ("Producer (unpaced, log kept)", with_producer)]
            for name, fn in order if n % 2 == 0 else reversed(order):
                rows[name].append(time_it(client, fn, records, f"run-{n}-{fn.__name__}"))
    print(f"# {time.strftime('%Y-%m-%d')}  python {platform.python_version()}  boto3 {boto3.__version__}  "
          f"botocore {botocore.__version__}  moto {moto.__version__}  cpus {__import__('os').cpu_count()}")
    print(f"# {args.records} records of {args.size} B, 1 shard, moto in-process, median of {args.repeat}")
    print(f"{'path':<32}{'records/s (median)':>20}{'min':>10}{'max':>10}")
    for name, values in rows.items():
        print(f"{name:<32}{statistics.median(values):>20.0f}{min(values):>10.0f}{max(values):>10.0f}")
    bare, producer = (statistics.median(v) for v in rows.values())
    print(f"{'producer / bare':<32}{producer / bare:>20.3f}")
    print(f"{'Producer on a null client':<32}{statistics.median(producer_alone(records) for _ in range(3)):>20.0f}")
    print(f"{'Producer + boto3, no network':<32}{statistics.median(client_side_only(records) for _ in range(3)):>20.0f}")
    print(f"{'batch_records alone':<32}{batching_only(records):>20.0f}")
    for key in ("SHARD_WRITE_RECORDS_PER_S",):
        limit = getattr(limits, key).value
        print(f"meter error vs {limit}/s configured (synthetic arrivals, burst second excluded): "
              f"{meter_error(limit):+.4%}")
    print("# meter vs the fidelity layer's configured limit: 200 % offered, 5 s window, SimulatedClock")
    print(f"{'case':<44}{'configured':>12}{'max err':>10}{'min err':>10}{'naive':>10}")
    with mock_aws():
        client = boto3.client("kinesis", config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS)
        n = 0
        for unit in FIDELITY_CASES:
            for shards, factor, burst in ((1, 1.0, 0.0), (2, 1.0, 0.0), (1, 2.0, 0.0), (1, 1.0, 1.0)):
                n += 1
                configured, high, low, naive = meter_error_on_fidelity(client, unit, shards, factor=factor,
                                                                burst_seconds=burst, name=f"meter-{n}")
                case = f"{unit}, {shards} shard(s), {factor:g}x limit, burst {burst:g} s"
                print(f"{case:<44}{configured:>12,}{high:>+10.4%}{low:>+10.4%}{naive:>+10.2%}")


if __name__ == "__main__":
    main()
