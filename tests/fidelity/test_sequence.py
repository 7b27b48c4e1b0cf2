"""Sequence numbers and arrival timestamps as Kinesis gives them (API_PutRecord.html, API_Record.html)."""

from __future__ import annotations

import datetime

from pytest_kinesis_limits import limits

from .kinesis_helpers import Kinesis, make_stream, read_shard, shard_id, wait_active

HALF = 2 ** (limits.HASH_KEY_BITS.value - 1)


def _put(kin: Kinesis, name: str, n: int) -> list[dict[str, str]]:
    return kin.client.put_records(StreamName=name, Records=[
        {"Data": str(i).encode(), "PartitionKey": f"p{i}"} for i in range(n)])["Records"]


def test_sequence_numbers_are_big_increasing_and_children_follow_parents(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    parent = [int(r["SequenceNumber"]) for r in _put(kinesis, name, 20)]
    assert all(len(str(s)) >= 50 for s in parent)
    assert parent == sorted(set(parent))
    kinesis.client.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
    wait_active(kinesis, name)
    children = _put(kinesis, name, 20)
    assert min(int(r["SequenceNumber"]) for r in children) > max(parent)
    for sid in (shard_id(1), shard_id(2)):
        seqs = [int(r["SequenceNumber"]) for r in children if r["ShardId"] == sid]
        assert seqs == sorted(set(seqs))


def test_arrival_timestamps_come_from_the_layer_clock(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    kinesis.clock.sleep(3600.0)
    _put(kinesis, name, 1)
    (record,) = read_shard(kinesis.client, name, shard_id(0))
    expected = datetime.datetime.fromtimestamp(kinesis.clock.now(), datetime.timezone.utc)
    assert abs((record["ApproximateArrivalTimestamp"] - expected).total_seconds()) < 0.01


def test_every_iterator_type_works_with_big_numbers(layered: Kinesis) -> None:
    name = make_stream(layered)
    first = _put(layered, name, 5)
    layered.clock.sleep(10)
    marker = layered.clock.now()
    second = _put(layered, name, 5)
    seqs = [r["SequenceNumber"] for r in first + second]

    def read(kind: str, **kwargs: object) -> list[str]:
        return [r["SequenceNumber"] for r in read_shard(layered.client, name, shard_id(0), kind,
                                                        clock=layered.clock, **kwargs)]

    assert read("TRIM_HORIZON") == seqs
    assert read("AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[3]) == seqs[3:]
    assert read("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[3]) == seqs[4:]
    assert read("AT_TIMESTAMP", Timestamp=marker) == seqs[5:]
    latest = layered.client.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                               ShardIteratorType="LATEST")["ShardIterator"]
    late = _put(layered, name, 2)
    layered.clock.sleep(1)
    assert [r["SequenceNumber"] for r in layered.client.get_records(ShardIterator=latest)["Records"]] == \
        [r["SequenceNumber"] for r in late]
    shard = layered.client.list_shards(StreamName=name)["Shards"][0]
    start = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
    assert start < int(seqs[0])
    assert read("AT_SEQUENCE_NUMBER", StartingSequenceNumber=str(start))[0] == seqs[0]
