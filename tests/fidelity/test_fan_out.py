"""SubscribeToShard offline (fidelity/fan_out.py, issue 22): each test passes with the layer and is a strict expected
failure on plain moto, which has no SubscribeToShard."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError, EventStreamError

from pytest_kinesis_limits import limits

from .kinesis_helpers import Kinesis, make_stream

SHARD = "shardId-000000000000"
MIB = limits.MIB


def _consumer(kin: Kinesis, stream: str = "s", name: str = "c") -> str:
    arn = kin.client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    consumer = kin.client.register_stream_consumer(StreamARN=arn, ConsumerName=name)["Consumer"]["ConsumerARN"]
    kin.clock.sleep(limits.LIFECYCLE_CONSUMER_CREATING_S.value if kin.layer else 0)
    return consumer


def _subscribe(kin: Kinesis, consumer: str, shard: str = SHARD, **start):
    position = {"Type": "TRIM_HORIZON", **start}
    return kin.probe.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard, StartingPosition=position)["EventStream"]


def _code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def test_a_subscription_pushes_what_is_written_for_five_minutes(kinesis: Kinesis) -> None:
    make_stream(kinesis)
    consumer = _consumer(kinesis)
    kinesis.client.put_records(StreamName="s", Records=[{"Data": f"r{n}".encode(), "PartitionKey": "k"}
                                                       for n in range(10)])
    started = kinesis.clock.now()
    got, events, last = [], 0, None
    for event in _subscribe(kinesis, consumer):
        body = event["SubscribeToShardEvent"]
        got += [r["Data"] for r in body["Records"]]
        last = body["ContinuationSequenceNumber"]
        events += 1
    assert got == [f"r{n}".encode() for n in range(10)]
    assert kinesis.clock.now() - started == pytest.approx(limits.FAN_OUT_SUBSCRIPTION_S.value, abs=1.5)
    assert events >= limits.FAN_OUT_SUBSCRIPTION_S.value - 1  # one event a second of the layer's clock
    # Resumed from the continuation: nothing again, nothing lost.
    kinesis.client.put_record(StreamName="s", Data=b"after", PartitionKey="k")
    resumed = _subscribe(kinesis, consumer, Type="AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
    first = next(iter(resumed))["SubscribeToShardEvent"]
    assert [r["Data"] for r in first["Records"]] == [b"after"]
    resumed.close()


def test_each_consumer_gets_two_mib_a_second_outside_the_shards_shared_budget(kinesis: Kinesis) -> None:
    make_stream(kinesis)
    kinesis.config.throttling = False  # write 8 MiB at once; the read side is what is measured
    for _ in range(8):
        kinesis.client.put_records(StreamName="s", Records=[{"Data": b"x" * (256 * 1024 - 1), "PartitionKey": "k"}
                                                           for _ in range(4)])
    kinesis.config.throttling = True
    consumers = [_consumer(kinesis, name=f"c{n}") for n in range(2)]
    streams = [iter(_subscribe(kinesis, c)) for c in consumers]
    for events in streams:  # both read their first second in full: 2 MiB each, at once
        first = next(events)["SubscribeToShardEvent"]
        assert len(first["Records"]) == 8  # 8 records of 256 KiB (data and key): the 9th would pass 2 MiB
        assert sum(len(r["Data"]) + len(r["PartitionKey"]) for r in first["Records"]) == 2 * MIB
    # The shard's shared budget is untouched: GetRecords still reads 2 MiB in that second.
    iterator = kinesis.probe.get_shard_iterator(StreamName="s", ShardId=SHARD,
                                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    page = kinesis.probe.get_records(ShardIterator=iterator, Limit=10_000)
    assert len(page["Records"]) == 32
    for events in streams:
        events.close()


def test_within_five_seconds_a_second_subscription_is_refused_then_it_takes_over(kinesis: Kinesis) -> None:
    make_stream(kinesis)
    consumer = _consumer(kinesis)
    first = iter(_subscribe(kinesis, consumer))
    next(first)
    kinesis.clock.sleep(2)
    assert _code(lambda: _subscribe(kinesis, consumer)) == "ResourceInUseException"
    kinesis.clock.sleep(0.5)
    assert _code(lambda: _subscribe(kinesis, consumer)) == "LimitExceededException"  # one call a second
    kinesis.clock.sleep(limits.FAN_OUT_RESUBSCRIBE_S.value)
    second = iter(_subscribe(kinesis, consumer))
    next(second)
    with pytest.raises(EventStreamError, match="ResourceInUseException"):
        for _ in first:  # the first subscription ends: taken over
            pass
    second.close()


def test_a_consumer_not_active_cannot_subscribe(kinesis: Kinesis) -> None:
    make_stream(kinesis)
    arn = kinesis.client.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    assert _code(lambda: _subscribe(kinesis, consumer)) == "ResourceInUseException"


def test_a_closed_shard_ends_its_subscription_with_its_children(kinesis: Kinesis) -> None:
    make_stream(kinesis)
    consumer = _consumer(kinesis)
    kinesis.client.put_record(StreamName="s", Data=b"before", PartitionKey="k")
    kinesis.client.split_shard(StreamName="s", ShardToSplit=SHARD, NewStartingHashKey=str(2 ** 127))
    kinesis.clock.sleep(kinesis.config.updating_seconds)
    kinesis.client.describe_stream_summary(StreamName="s")  # the reshard completes
    events = [e["SubscribeToShardEvent"] for e in _subscribe(kinesis, consumer)]
    assert [r["Data"] for e in events for r in e["Records"]] == [b"before"]
    assert sorted(c["ShardId"] for c in events[-1]["ChildShards"]) == ["shardId-000000000001", "shardId-000000000002"]
    assert len(events) <= 2  # it ended at the parent's end, not after five minutes


def test_a_producer_thread_and_a_subscriber_share_the_simulated_clock(kinesis: Kinesis) -> None:
    """Records written while a subscription runs arrive in its later events (the stream is made as it is read)."""
    make_stream(kinesis)
    consumer = _consumer(kinesis)
    events = iter(_subscribe(kinesis, consumer))
    assert next(events)["SubscribeToShardEvent"]["Records"] == []
    writer = threading.Thread(target=lambda: kinesis.client.put_record(StreamName="s", Data=b"later", PartitionKey="k"))
    writer.start()
    writer.join()
    assert [r["Data"] for r in next(events)["SubscribeToShardEvent"]["Records"]] == [b"later"]
    events.close()


def test_the_fan_out_reader_reads_what_the_polling_reader_reads_across_a_split(kinesis: Kinesis) -> None:
    """read_stream_fan_out (subscriptions, renewals, ChildShards) and read_stream (GetRecords) give the same records
    in the same order, parents before children: the continuity checker serves both."""
    from pytest_kinesis_limits.kinesis.fan_out_reader import read_stream_fan_out
    from pytest_kinesis_limits.kinesis.reader import read_stream

    make_stream(kinesis)
    consumer = _consumer(kinesis)
    records = [{"Data": f"r{n}".encode(), "PartitionKey": f"k{n % 10}"} for n in range(200)]
    kinesis.client.put_records(StreamName="s", Records=records[:100])
    kinesis.client.split_shard(StreamName="s", ShardToSplit=SHARD, NewStartingHashKey=str(2 ** 127))
    kinesis.clock.sleep(kinesis.config.updating_seconds)
    kinesis.client.describe_stream_summary(StreamName="s")
    kinesis.client.put_records(StreamName="s", Records=records[100:])
    pushed = read_stream_fan_out(kinesis.client, "s", consumer, clock=kinesis.clock)
    polled = read_stream(kinesis.client, "s", clock=kinesis.clock)
    assert [(r.shard_id, r.sequence_number, r.data) for r in pushed.records] == \
        [(r.shard_id, r.sequence_number, r.data) for r in polled.records]
    assert len(pushed.records) == 200 and pushed.shard_order == polled.shard_order
    assert pushed.shards[SHARD].end_reason.startswith("ChildShards")


def test_subscribe_to_shard_over_http_streams_as_it_is_made() -> None:
    """The same SubscribeToShard through moto's server (``serve``, ``kinesis_endpoint``): events arrive over HTTP as
    the layer makes them, on the wall clock, a record written after the subscription began included."""
    import time

    import boto3
    import moto  # noqa: F401 - the server serves moto's backends of this process

    from pytest_kinesis_limits.clock import RealClock
    from pytest_kinesis_limits.fidelity import FidelityConfig
    from pytest_kinesis_limits.fidelity.endpoint_server import EndpointServer
    from pytest_kinesis_limits.fidelity.offline import activate_all

    with EndpointServer() as server, activate_all(RealClock(), FidelityConfig().scale_lifecycle(0)):
        client = boto3.client("kinesis", region_name="us-east-1", endpoint_url=server.url,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_stream(StreamName="over-http", ShardCount=1)
        arn = client.describe_stream_summary(StreamName="over-http")["StreamDescriptionSummary"]["StreamARN"]
        consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
        client.put_record(StreamName="over-http", Data=b"before", PartitionKey="k")
        stream = client.subscribe_to_shard(ConsumerARN=consumer, ShardId=SHARD,
                                           StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
        got, started = [], time.monotonic()
        for event in stream:
            got += [r["Data"] for r in event["SubscribeToShardEvent"]["Records"]]
            if got == [b"before"]:
                client.put_record(StreamName="over-http", Data=b"after", PartitionKey="k")
            if len(got) == 2:
                break
        stream.close()
        client.delete_stream(StreamName="over-http", EnforceConsumerDeletion=True)
        assert got == [b"before", b"after"]
        assert 0.9 <= time.monotonic() - started < 10  # the second event a second later, on the wall clock
