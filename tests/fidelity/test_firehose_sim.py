"""The offline Firehose delivery simulation: Kinesis → Firehose → S3 on moto, on a simulated clock."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import moto
from moto.core.base_backend import BackendDict
import pytest
from botocore.exceptions import ClientError
from moto.core.exceptions import JsonRESTError
from moto.firehose.models import FirehoseBackend
from moto.kinesis.models import KinesisBackend, kinesis_backends

from pytest_kinesis_limits import firehose as fh, limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import firehose as sim_module
from pytest_kinesis_limits.fidelity.firehose import FirehoseSimulator, activate_firehose
from pytest_kinesis_limits.fidelity.moto_adapter import record_codec

START = 1_569_301_588.0  # 2019-09-24 05:06:28 UTC, the seed key's second
BUCKET_ARN = "arn:aws:s3:::dest"
EVENT = {"user_id": 3322, "app_version": "v1.5.16(90)", "device_manufacturer": "LG", "device_os": "Android",
         "event": "interest_service_click", "interest_id": 1201, "interest_name": "관심사",
         "interest_service_id": None, "timestamp": "2019-04-30T07:30:00Z"}


def event(i: int) -> bytes:
    return json.dumps(dict(EVENT, seq=i, interest_name=f"관심사 {i}"), ensure_ascii=False).encode("utf-8")


def seq(record: dict[str, Any]) -> int:
    return record["seq"]


@dataclass
class Env:
    clock: SimulatedClock
    sim: FirehoseSimulator
    kinesis: Any
    firehose: Any
    s3: Any
    iam: Any
    stream_arn: str
    role_arn: str

    def delivery_stream(self, name: str = "test-firehose", *, buffer_mib: int = 1, buffer_seconds: int = 60,
                        prefix: str | None = None, append_delimiter: bool = False) -> dict[str, Any]:
        return fh.create_delivery_stream(self.firehose, name, self.stream_arn, self.role_arn, BUCKET_ARN, buffer_mib,
                                         buffer_seconds, prefix, {"created-by": "test"}, self.clock, 60,
                                         append_delimiter=append_delimiter)

    def put(self, first: int, count: int, *, batch: bool = False, step_s: float = 0.0) -> dict[int, float]:
        """Write records ``first .. first+count-1``; return their send times."""
        sent = {}
        if batch:
            self.kinesis.put_records(StreamName="src", Records=[
                {"Data": event(i), "PartitionKey": f"k{i}"} for i in range(first, first + count)])
            return {i: self.clock.now() for i in range(first, first + count)}
        for i in range(first, first + count):
            self.kinesis.put_record(StreamName="src", Data=event(i), PartitionKey=f"k{i}")
            sent[i] = self.clock.now()
            if step_s:
                self.clock.sleep(step_s)
        return sent

    def wait(self, expected: Any, **kwargs: Any) -> fh.DeliveryResult:
        kwargs.setdefault("stream_name", "test-firehose")
        return fh.wait_for_records(self.s3, "dest", expected, seq, self.clock, timeout_s=1_000, poll_s=5, **kwargs)


def make_env(clock: SimulatedClock, sim: FirehoseSimulator) -> Env:
    kinesis, s3, iam = (boto3.client(s, region_name="us-east-1") for s in ("kinesis", "s3", "iam"))
    kinesis.create_stream(StreamName="src", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="src")["StreamDescriptionSummary"]["StreamARN"]
    s3.create_bucket(Bucket="dest")
    role = fh.create_firehose_role(iam, "fh-role", arn, BUCKET_ARN, {"created-by": "test"})
    return Env(clock, sim, kinesis, boto3.client("firehose", region_name="us-east-1"), s3, iam, arn, role)


@pytest.fixture
def env(aws: None) -> Iterator[Env]:
    clock = SimulatedClock(START)
    with activate_firehose(clock) as sim:
        yield make_env(clock, sim)


# ------------------------------------------------------------------------------------------- the seed
def test_seed_pipeline_delivers_put_record_and_put_records_in_order(env: Env) -> None:
    env.put(-5, 5)  # before the delivery stream exists: behind LATEST, never delivered
    env.delivery_stream()
    sent = env.put(0, 20, step_s=0.25)
    sent |= env.put(20, 30, batch=True)
    result = env.wait(range(50), send_times=sent)
    assert result.complete, result.summary()
    assert not result.duplicates and not result.unexpected  # in particular none of -5..-1
    delivered = [seq(r) for o in result.objects for r in o.records]
    assert delivered == list(range(50))
    for obj in result.objects:
        assert obj.parsed is not None and obj.parsed.name == "test-firehose" and obj.parsed.version == 1
        assert obj.parsed.prefix == obj.parsed.timestamp.strftime("%Y/%m/%d/%H/")
        assert b"}{" in obj.body and b"\n" not in obj.body
        assert "관심사".encode() in obj.body
    assert result.objects[0].records[0]["interest_service_id"] is None
    assert result.max_latency_s is not None and result.max_latency_s <= 60 + 1


def test_records_written_before_the_delivery_stream_are_missed(env: Env) -> None:
    env.put(0, 3)
    env.delivery_stream(buffer_seconds=0)
    env.put(3, 3)
    result = fh.wait_for_records(env.s3, "dest", range(6), seq, env.clock, timeout_s=120, poll_s=5)
    assert result.timed_out and result.missing == [0, 1, 2]


def test_a_small_size_hint_gives_several_objects(env: Env) -> None:
    env.delivery_stream(buffer_mib=limits.FIREHOSE_BUFFER_MIB_MIN.value, buffer_seconds=900)
    pad = "x" * (100 * limits.KIB)
    for batch in range(4):
        env.kinesis.put_records(StreamName="src", Records=[
            {"Data": json.dumps({"seq": i, "pad": pad}).encode(), "PartitionKey": "k"}
            for i in range(batch * 10, batch * 10 + 10)])
        env.clock.sleep(1)
    result = env.wait(range(40), stream_name="test-firehose")
    assert result.complete, result.summary()
    sizes = [len(o.body) for o in result.objects]
    assert len(sizes) >= 3 and all(s <= limits.FIREHOSE_BUFFER_MIB_MIN.value * limits.MIB for s in sizes)
    assert [seq(r) for o in result.objects for r in o.records] == list(range(40))


@pytest.mark.parametrize("interval", [0, 60, 300])
def test_the_interval_hint_bounds_latency(env: Env, interval: int) -> None:
    env.delivery_stream(buffer_seconds=interval)
    sent = env.put(0, 10, step_s=0.5)
    result = env.wait(range(10), send_times=sent)
    assert result.complete
    latencies = result.latencies.values()
    assert max(latencies) <= interval + 1  # read in the next second, written when the interval ends
    assert min(latencies) >= interval - 5


def test_direct_puts_to_a_kinesis_source_delivery_stream_are_refused(env: Env) -> None:
    env.delivery_stream()
    with pytest.raises(ClientError) as single:
        env.firehose.put_record(DeliveryStreamName="test-firehose", Record={"Data": event(0)})
    with pytest.raises(ClientError) as batch:
        env.firehose.put_record_batch(DeliveryStreamName="test-firehose", Records=[{"Data": event(0)}])
    for info in (single, batch):
        assert info.value.response["Error"]["Code"] == "InvalidArgumentException"
        assert info.value.response["Error"]["Message"] == sim_module.DIRECT_PUT_REFUSED
    env.clock.sleep(120)
    assert env.s3.list_objects_v2(Bucket="dest").get("KeyCount", 0) == 0


def test_plain_moto_accepts_direct_puts_which_the_check_catches(aws: None) -> None:
    """Without the simulation moto takes the direct put and writes it at once: the refusal check would fail."""
    env = make_env(SimulatedClock(START), None)  # type: ignore[arg-type]
    env.delivery_stream()
    env.firehose.put_record(DeliveryStreamName="test-firehose", Record={"Data": event(0)})
    assert env.s3.list_objects_v2(Bucket="dest")["KeyCount"] == 1


def test_version_in_keys_increases_after_update_destination(env: Env) -> None:
    env.delivery_stream(buffer_seconds=300)
    env.put(0, 5)
    env.clock.sleep(1)  # read (and buffered) under version 1; the update delivers the buffer first
    assert fh.update_destination(env.firehose, "test-firehose", buffer_seconds=0) == 2
    env.clock.sleep(1)
    env.put(5, 5)
    result = env.wait(range(10))
    assert result.complete, result.summary()
    versions = {seq(r): o.parsed.version for o in result.objects for r in o.records if o.parsed}
    assert {versions[i] for i in range(5)} == {1} and {versions[i] for i in range(5, 10)} == {2}


def test_custom_prefix_and_delimiter_processor(env: Env) -> None:
    env.delivery_stream(buffer_seconds=0, prefix="events/", append_delimiter=True)
    env.put(0, 3)
    plain = fh.wait_for_records(env.s3, "dest", range(3), seq, env.clock, 60, 5, key_prefix="events/")
    assert not plain.complete and "newline-delimited" in (plain.malformed[0].body_error or "")
    delimited = fh.wait_for_records(env.s3, "dest", range(3), seq, env.clock, 60, 5, key_prefix="events/",
                                    delimiter=b"\n")
    assert delimited.complete and delimited.objects[0].key.startswith("events/2019/09/24/05/test-firehose-1-")


# --------------------------------------------------------------------------------------- broken cases
def test_a_dropped_record_is_reported_missing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    real = sim_module._record_data
    monkeypatch.setattr(sim_module, "_record_data",
                        lambda record: b"" if json.loads(real(record))["seq"] == 7 else real(record))
    env.delivery_stream(buffer_seconds=0)
    env.put(0, 10)
    result = fh.wait_for_records(env.s3, "dest", range(10), seq, env.clock, 60, 5)
    assert result.timed_out and result.missing == [7]


def test_a_wrong_key_format_is_reported(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim_module, "format_key", lambda name, version, when, rnd, **kw: f"{name}-{version}-{rnd}")
    env.delivery_stream(buffer_seconds=0)
    env.put(0, 3)
    result = env.wait(range(3))
    assert not result.complete and "YYYY/MM/DD/HH/" in (result.malformed[0].key_error or "")


# ------------------------------------------------------------------------------------------ the model
def test_reads_go_through_the_kinesis_backend_once_per_second_per_shard(env: Env,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seconds: Counter[int] = Counter()  # the source has one shard
    throttle_once = {"left": 1}
    real = KinesisBackend.get_records

    def counting(self: KinesisBackend, *args: Any, **kwargs: Any) -> Any:
        seconds[int(env.clock.now())] += 1
        if throttle_once["left"]:  # as a read-limit layer would answer
            throttle_once["left"] -= 1
            raise JsonRESTError("ProvisionedThroughputExceededException", "Rate exceeded for shard")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(KinesisBackend, "get_records", counting)
    env.delivery_stream(buffer_seconds=0)
    sent = env.put(0, 20, step_s=0.3)
    result = env.wait(range(20), send_times=sent)
    assert result.complete
    assert max(seconds.values()) <= limits.FIREHOSE_SOURCE_READS_PER_S.value
    assert sum(env.sim.throttled.values()) == 1 and sum(env.sim.reads.values()) == sum(seconds.values()) - 1


def test_delivery_follows_the_children_after_a_split(env: Env) -> None:
    env.delivery_stream(buffer_seconds=0)
    env.put(0, 10)
    env.clock.sleep(1)
    env.sim.pump()
    env.kinesis.split_shard(StreamName="src", ShardToSplit="shardId-000000000000",
                            NewStartingHashKey=str(2**127))
    # Plain moto sends every later write to the closed parent; the Kinesis fidelity layer sends it to the
    # children. Write to the children as that layer would.
    stream = kinesis_backends["123456789012"]["us-east-1"].streams["src"]
    children = [s for s in stream.shards.values() if s.parent == "shardId-000000000000"]
    for i in range(10, 30):
        children[i % 2].put_record(f"k{i}", record_codec().from_bytes(event(i)), None)  # in this moto's form
    result = env.wait(range(30))
    assert result.complete and not result.duplicates, result.summary()
    order = [seq(r) for o in result.objects for r in o.records]
    assert order[:10] == list(range(10))  # the parent's records before any child's
    assert "shardId-000000000000" in env.sim.finished_shards("test-firehose")
    assert env.sim.reading("test-firehose") == sorted(c.shard_id for c in children)


def test_runs_are_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    keys = []
    for _ in range(2):
        with moto.mock_aws():
            BackendDict.reset()  # a nested mock (the plugin's may be active) does not start empty by itself
            clock = SimulatedClock(START)
            with activate_firehose(clock) as sim:
                env = make_env(clock, sim)
                env.delivery_stream(buffer_seconds=60)
                env.put(0, 10, step_s=7)
                env.wait(range(10))
                keys.append([(o.key, o.written_at, o.records) for o in sim.objects])
    assert keys[0] == keys[1] and len(keys[0]) >= 2


def test_patches_are_undone_on_exit(aws: None) -> None:
    before = (FirehoseBackend.put_record_batch, FirehoseBackend.create_delivery_stream)
    with activate_firehose(SimulatedClock(START)):
        assert FirehoseBackend.put_record_batch is not before[0]
    assert (FirehoseBackend.put_record_batch, FirehoseBackend.create_delivery_stream) == before
