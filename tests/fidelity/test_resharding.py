"""Resharding as Kinesis does it (kinesis-using-sdk-java-after-resharding.html, API_UpdateShardCount.html)."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import resharding

from .kinesis_helpers import Kinesis, make_stream, read_shard, shard_id, wait_active

TOP = 2 ** limits.HASH_KEY_BITS.value - 1
HALF = 2 ** (limits.HASH_KEY_BITS.value - 1)


def _put(kin: Kinesis, name: str, n: int, prefix: str) -> list[dict[str, str]]:
    return kin.client.put_records(StreamName=name, Records=[
        {"Data": f"{prefix}{i}".encode(), "PartitionKey": f"{prefix}{i}"} for i in range(n)])["Records"]


def _wait_active(kin: Kinesis, name: str = "s") -> None:
    wait_active(kin, name)


def test_split_sends_new_writes_to_children_and_leaves_parent_records_alone(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    _put(kinesis, name, 50, "before-")
    before = read_shard(kinesis.client, name, shard_id(0), clock=kinesis.clock)
    kinesis.client.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
    _wait_active(kinesis)
    after_put = _put(kinesis, name, 60, "after-")
    assert {r["ShardId"] for r in after_put} == {shard_id(1), shard_id(2)}
    parent = read_shard(kinesis.client, name, shard_id(0), clock=kinesis.clock)
    assert [(r["SequenceNumber"], r["ApproximateArrivalTimestamp"]) for r in parent] == \
        [(r["SequenceNumber"], r["ApproximateArrivalTimestamp"]) for r in before]
    children = read_shard(kinesis.client, name, shard_id(1), clock=kinesis.clock) + \
        read_shard(kinesis.client, name, shard_id(2), clock=kinesis.clock)
    assert len(children) == 60 and all(r["Data"].startswith(b"after-") for r in children)


def test_merge_copies_nothing_into_the_child(kinesis: Kinesis) -> None:
    name = make_stream(kinesis, shards=2)
    _put(kinesis, name, 100, "m")
    kinesis.client.merge_shards(StreamName=name, ShardToMerge=shard_id(0), AdjacentShardToMerge=shard_id(1))
    _wait_active(kinesis)
    total = sum(len(read_shard(kinesis.client, name, shard_id(i), clock=kinesis.clock)) for i in range(3))
    assert total == 100
    assert {r["ShardId"] for r in _put(kinesis, name, 10, "n")} == {shard_id(2)}


def test_closed_shard_ends_with_null_iterator_and_child_shards(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    _put(kinesis, name, 5, "p")
    kinesis.client.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
    _wait_active(kinesis)
    it = kinesis.client.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    page = kinesis.client.get_records(ShardIterator=it)
    assert len(page["Records"]) == 5
    assert "NextShardIterator" not in page
    assert page["ChildShards"] == [
        {"ShardId": shard_id(1), "ParentShards": [shard_id(0)],
         "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(HALF - 1)}},
        {"ShardId": shard_id(2), "ParentShards": [shard_id(0)],
         "HashKeyRange": {"StartingHashKey": str(HALF), "EndingHashKey": str(TOP)}},
    ]
    shards = {s["ShardId"]: s for s in kinesis.client.list_shards(StreamName=name)["Shards"]}
    assert "EndingSequenceNumber" in shards[shard_id(0)]["SequenceNumberRange"]
    assert "EndingSequenceNumber" not in shards[shard_id(1)]["SequenceNumberRange"]


def test_stream_is_updating_after_a_reshard_and_refuses_a_second_one(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    kinesis.client.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
    summary = kinesis.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "UPDATING"
    assert summary["OpenShardCount"] == 1  # the parent stays open until the reshard completes
    out = kinesis.client.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "k"}])
    assert out["FailedRecordCount"] == 0  # writes keep working while UPDATING, to the parent
    assert out["Records"][0]["ShardId"] == shard_id(0)
    with pytest.raises(kinesis.probe.exceptions.ResourceInUseException) as err:
        kinesis.probe.merge_shards(StreamName=name, ShardToMerge=shard_id(1), AdjacentShardToMerge=shard_id(2))
    assert err.value.response["Error"]["Message"] == (
        f"Stream {name} under account 123456789012 not ACTIVE, instead in state UPDATING")
    _wait_active(kinesis)
    assert kinesis.client.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "ACTIVE"
    assert kinesis.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"] == 2
    kinesis.client.merge_shards(StreamName=name, ShardToMerge=shard_id(1), AdjacentShardToMerge=shard_id(2))


@pytest.mark.parametrize("start, target, fragment", [
    (1, 3, "cannot scale up over double your current open shard count"),
    (4, 1, "cannot scale down below half your current open shard count"),
    (1, limits.UPDATE_SHARD_COUNT_MAX_SHARDS.value + 1, "cannot be greater than"),
])
def test_update_shard_count_rules(kinesis: Kinesis, start: int, target: int, fragment: str) -> None:
    name = make_stream(kinesis, shards=start)
    with pytest.raises(kinesis.probe.exceptions.LimitExceededException) as err:
        kinesis.probe.update_shard_count(StreamName=name, TargetShardCount=target, ScalingType="UNIFORM_SCALING")
    assert fragment in err.value.response["Error"]["Message"]


def test_update_shard_count_at_most_10_calls_per_24_hours(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    for i in range(limits.UPDATE_SHARD_COUNT_CALLS_PER_24H.value):
        kinesis.probe.update_shard_count(StreamName=name, TargetShardCount=2 if i % 2 == 0 else 1,
                                         ScalingType="UNIFORM_SCALING")
        _wait_active(kinesis)
    with pytest.raises(kinesis.probe.exceptions.LimitExceededException):
        kinesis.probe.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    kinesis.clock.sleep(resharding.DAY_SECONDS)  # the rolling window of UPDATE_SHARD_COUNT_CALLS_PER_24H
    kinesis.probe.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")


def test_update_shard_count_keeps_every_record_and_reports_open_shards(kinesis: Kinesis) -> None:
    name = make_stream(kinesis, shards=2)
    _put(kinesis, name, 100, "u")
    kinesis.client.update_shard_count(StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    _wait_active(kinesis)
    summary = kinesis.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    shards = kinesis.client.list_shards(StreamName=name)["Shards"]
    open_shards = sorted((int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
                         for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])
    assert open_shards[0][0] == 0 and open_shards[-1][1] == TOP
    assert all(a[1] + 1 == b[0] for a, b in zip(open_shards, open_shards[1:]))  # ranges tile the key space
    open_ids = {s["ShardId"] for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]}
    assert {r["ShardId"] for r in _put(kinesis, name, 30, "v")} <= open_ids
    total = sum(len(read_shard(kinesis.client, name, s["ShardId"], clock=kinesis.clock)) for s in shards)
    assert total == 130


def test_explicit_hash_key_equal_to_a_shards_end_is_routed_not_crashed(kinesis: Kinesis) -> None:
    name = make_stream(kinesis, shards=2)
    shards = kinesis.client.list_shards(StreamName=name)["Shards"]
    for shard in shards:
        end = shard["HashKeyRange"]["EndingHashKey"]
        out = kinesis.probe.put_record(StreamName=name, Data=b"e", PartitionKey="k", ExplicitHashKey=end)
        assert out["ShardId"] == shard["ShardId"]  # range ends are inclusive
