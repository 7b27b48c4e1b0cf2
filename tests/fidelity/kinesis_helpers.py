"""Helpers shared by the fidelity tests (clients, streams, reading a shard)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import FidelityConfig, FidelityLayer

REGION = "us-east-1"
START = 1_700_000_000.0


@dataclass
class Kinesis:
    """A Kinesis client (SDK retries on), a no-retry client for limit probes, the clock and the layer."""

    client: Any
    probe: Any
    clock: SimulatedClock
    layer: FidelityLayer | None

    @property
    def config(self) -> FidelityConfig:
        assert self.layer is not None
        return self.layer.config


@functools.lru_cache(maxsize=1)
def _session() -> boto3.session.Session:
    # One session for all tests: it caches the service model and endpoint rules (client creation
    # drops from ~150 ms to a few ms). Credentials come from the fake environment set per test.
    return boto3.session.Session()


def make_clients(endpoint_url: str | None = None) -> tuple[Any, Any]:
    """A default-retry client and a client that makes exactly one attempt.

    botocore's ``retries={"max_attempts": N}`` counts *retries* (N + 1 attempts in all); one attempt is
    ``total_max_attempts=1``."""
    session = _session()
    client = session.client("kinesis", region_name=REGION, endpoint_url=endpoint_url)
    probe = session.client("kinesis", region_name=REGION, endpoint_url=endpoint_url,
                         config=Config(retries={"total_max_attempts": 1}))
    return client, probe


def make_stream(kin: Kinesis, name: str = "s", shards: int = 1, **extra: Any) -> str:
    """Create a stream, wait (on the layer's clock) until it is ACTIVE and return its name."""
    kin.client.create_stream(StreamName=name, ShardCount=shards, **extra)
    wait_active(kin, name)
    return name


def wait_active(kin: Kinesis, name: str) -> None:
    """Sleep the layer's clock until ``name`` is ACTIVE (CREATING and UPDATING windows are layer time)."""
    for _ in range(100):
        status = kin.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            return
        kin.clock.sleep(max(kin.config.creating_seconds, kin.config.updating_seconds) if kin.layer else 1.0)
    raise AssertionError(f"stream {name} never became ACTIVE")


def read_shard(client: Any, stream: str, shard_id: str, iterator_type: str = "TRIM_HORIZON",
               clock: SimulatedClock | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Every record of one shard (stops on an empty page or a null NextShardIterator); with ``clock``,
    sleeps a quarter second of it before each call to stay under 5 GetRecords per second."""
    it = client.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType=iterator_type,
                                   **kwargs)["ShardIterator"]
    out: list[dict[str, Any]] = []
    while it:
        if clock is not None:
            clock.sleep(0.25)
        page = client.get_records(ShardIterator=it)
        out += page["Records"]
        if not page["Records"]:
            break
        it = page.get("NextShardIterator")
    return out


def shard_id(n: int) -> str:
    """moto's and AWS's shard id for index ``n``."""
    return f"shardId-{n:012d}"
