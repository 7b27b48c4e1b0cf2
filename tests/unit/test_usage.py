"""The usage meter (usage.py): what a run made and wrote, from its own boto3 calls, on its clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from pytest_kinesis_limits.live import pricing
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.live.usage import UsageMeter, family_of, merge_totals

DELETING_S = 30.0
UPDATING_S = 30.0


@pytest.fixture
def metered() -> Iterator[tuple[UsageMeter, SimulatedClock, Any]]:
    clock = SimulatedClock(start=1_000_000)
    meter = UsageMeter(clock, deleting_s=DELETING_S, updating_s=UPDATING_S)
    with mock_aws():
        client = boto3.client("kinesis", region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        yield meter, clock, meter.instrument(client)


def test_a_stream_counts_its_shards_until_the_end_of_its_deleting_window(metered):
    meter, clock, client = metered
    client.create_stream(StreamName="s1", ShardCount=2)
    clock.advance(3600)
    client.delete_stream(StreamName="s1")
    clock.advance(10_000)  # a deleted stream's shards stop counting
    totals = meter.totals()
    assert (totals["streams"], totals["shards"]) == (1, 2)
    assert totals["shard_seconds"] == pytest.approx(2 * (3600 + DELETING_S))
    assert totals["shard_hours"] == pytest.approx(2 * pricing.metered_hours(3600 + DELETING_S))
    assert totals["shard_hours_whole"] == 4  # each shard's second hour started


def test_a_reshard_opens_children_and_closes_parents_after_the_updating_window(metered):
    meter, clock, client = metered
    client.create_stream(StreamName="s2", ShardCount=1)
    shard = client.list_shards(StreamName="s2")["Shards"][0]
    client.split_shard(StreamName="s2", ShardToSplit=shard["ShardId"],
                       NewStartingHashKey=str(int(shard["HashKeyRange"]["EndingHashKey"]) // 2))
    clock.advance(100)
    totals = meter.totals()
    assert totals["shards"] == 3
    assert totals["shard_seconds"] == pytest.approx(UPDATING_S + 2 * 100)


def test_writes_count_payload_units_and_a_refused_call_counts_nothing(metered):
    meter, _, client = metered
    client.create_stream(StreamName="s3", ShardCount=1)
    client.put_records(StreamName="s3", Records=[{"Data": b"x" * 30_000, "PartitionKey": "k"},
                                                 {"Data": b"{}", "PartitionKey": "k"}])
    with pytest.raises(ClientError):
        client.create_stream(StreamName="s3", ShardCount=1)  # in use: not a second stream
    totals = meter.totals()
    assert (totals["records"], totals["put_payload_units"], totals["streams"]) == (2, 3, 1)


def test_each_resource_belongs_to_the_test_that_made_it(metered):
    meter, _, client = metered
    meter.owner = "tests/limits/test_resharding.py::test_split"
    client.create_stream(StreamName="mine", ShardCount=1)
    meter.owner = ""
    with meter.attribute("tests/limits/test_throughput.py::test_rate"):
        client.create_stream(StreamName="ahead", ShardCount=3)
    merged = merge_totals([meter.to_json()])
    assert merged["families"]["resharding"]["shards"] == 1
    assert merged["families"]["throughput"]["shards"] == 3
    assert merged["totals"]["streams"] == 2


def test_shared_resources_are_kept_apart_with_what_making_them_took(metered):
    meter, clock, client = metered
    with meter.sharing("stream:shared"):
        client.create_stream(StreamName="shared", ShardCount=1)
        clock.advance(30)
    meter.uses_shared("stream:shared", owner="t1")
    assert meter.shared_costs == {"stream:shared": 30}
    assert meter.streams["shared"].shared == "stream:shared"
    assert meter.uses == {"t1": {"stream:shared"}}


def test_other_services_are_counted_by_kind():
    clock = SimulatedClock(start=0)
    meter = UsageMeter(clock)
    with mock_aws():
        s3 = meter.instrument(boto3.client("s3", region_name="us-east-1", aws_access_key_id="t",
                                           aws_secret_access_key="t"))
        iam = meter.instrument(boto3.client("iam", region_name="us-east-1", aws_access_key_id="t",
                                            aws_secret_access_key="t"))
        s3.create_bucket(Bucket="bucket-one")
        iam.create_role(RoleName="r1", AssumeRolePolicyDocument="{}")
        s3.delete_bucket(Bucket="bucket-one")
    totals = meter.totals()
    assert (totals["buckets"], totals["roles"], totals["delivery_streams"]) == (1, 1, 0)


@pytest.mark.parametrize(("owner", "family"), [
    ("tests/limits/test_put_records.py::test_x[a]", "put_records"), ("", "session"), ("other.py::t", "other")])
def test_family_of_a_node_id(owner, family):
    assert family_of(owner) == family


def test_an_interrupted_worker_is_counted_once() -> None:
    """xdist calls pytest_testnodedown twice for a worker that was interrupted (workerfinished, then errordown
    "keyboard-interrupt"): "what this run made" showed 4 streams and 4 buckets where 2 and 2 existed."""
    from types import SimpleNamespace

    from pytest_kinesis_limits.plugin.budget_hooks import BudgetHooks

    hooks = BudgetHooks.__new__(BudgetHooks)
    hooks.worker_usage = {}
    node = SimpleNamespace(gateway=SimpleNamespace(id="gw0"), workeroutput={"kinesis_usage": {"streams": []}})
    other = SimpleNamespace(gateway=SimpleNamespace(id="gw1"), workeroutput={"kinesis_usage": {"streams": []}})
    hooks.pytest_testnodedown(node, None)
    hooks.pytest_testnodedown(node, "keyboard-interrupt")
    hooks.pytest_testnodedown(other, None)
    assert sorted(hooks.worker_usage) == ["gw0", "gw1"]


def test_a_consumer_counts_its_streams_shard_hours_while_registered_and_what_it_may_retrieve(metered):
    """Enhanced fan-out is billed per consumer-shard-hour: the consumer's stream's open shards while it is
    registered; its retrieval is counted as every byte the stream took (an upper estimate)."""
    meter, clock, client = metered
    client.create_stream(StreamName="s5", ShardCount=2)
    arn = client.describe_stream_summary(StreamName="s5")["StreamDescriptionSummary"]["StreamARN"]
    client.put_record(StreamName="s5", Data=b"x" * 999, PartitionKey="k")
    consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
    clock.advance(1800)
    client.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    clock.advance(1800)  # deregistered: no longer counted
    totals = meter.totals()
    assert totals["consumers"] == 1
    assert totals["consumer_shard_hours"] == pytest.approx(1.0)  # 2 shards x half an hour
    assert totals["efo_bytes"] == 1000
    cost = pricing.cost(totals, "us-east-1")
    assert {line[0] for line in cost.lines} >= {"kinesis.efo_consumer_shard_hour", "kinesis.efo_gb_retrieved"}


def test_a_deleted_stream_ends_its_consumers(metered):
    meter, clock, client = metered
    client.create_stream(StreamName="s6", ShardCount=1)
    arn = client.describe_stream_summary(StreamName="s6")["StreamDescriptionSummary"]["StreamARN"]
    client.register_stream_consumer(StreamARN=arn, ConsumerName="c")
    clock.advance(3600)
    client.delete_stream(StreamName="s6", EnforceConsumerDeletion=True)
    clock.advance(7200)
    assert meter.totals()["consumer_shard_hours"] == pytest.approx(1.0)


def test_writes_the_meter_cannot_hook_count_as_a_put_records_call_would():
    """A swarm's records (other processes) noted in bulk count as the same records put one by one would."""
    clock = SimulatedClock(start=0)
    one_by_one, in_bulk = UsageMeter(clock), UsageMeter(clock)
    params = {"StreamName": "s", "Records": [{"Data": b"x" * 30_000, "PartitionKey": "k"}] * 3}
    parsed = {"Records": [{"SequenceNumber": "1", "ShardId": "a"}] * 2 + [{"ErrorCode": "Throttled"}]}
    one_by_one.note("kinesis", "PutRecords", params, parsed)
    in_bulk.note_writes("s", records=3, size=30_001, accepted=2)
    assert in_bulk.counts == one_by_one.counts == {"": {"records": 3, "put_payload_units": 6}}
