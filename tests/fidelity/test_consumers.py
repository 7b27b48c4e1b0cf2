"""Enhanced fan-out consumers, as strict as AWS (fidelity/consumers.py, issue 22): each test passes with the layer and
is a strict expected failure on plain moto (the ``kinesis`` fixture), so it proves what the layer fixes."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits

from .kinesis_helpers import Kinesis, make_stream


def _arn(kin: Kinesis, name: str = "s") -> str:
    return kin.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def _code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def _status(kin: Kinesis, arn: str) -> str:
    return kin.client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"]


def test_a_consumer_is_creating_then_active_with_its_creation_time_in_the_arn(kinesis: Kinesis) -> None:
    arn = _arn(kinesis, make_stream(kinesis))
    consumer = kinesis.client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
    assert consumer["ConsumerStatus"] == "CREATING"
    assert re.fullmatch(rf"{re.escape(arn)}/consumer/c:\d+", consumer["ConsumerARN"])
    kinesis.clock.sleep(limits.LIFECYCLE_CONSUMER_CREATING_S.value)
    assert _status(kinesis, consumer["ConsumerARN"]) == "ACTIVE"


def test_the_twenty_first_consumer_and_the_sixth_creating_are_refused(kinesis: Kinesis) -> None:
    arn = _arn(kinesis, make_stream(kinesis))
    for n in range(limits.FAN_OUT_CONSUMERS_CREATING.value):
        kinesis.probe.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{n}")
    assert _code(lambda: kinesis.probe.register_stream_consumer(StreamARN=arn, ConsumerName="sixth")) \
        == "LimitExceededException"
    for n in range(limits.FAN_OUT_CONSUMERS_CREATING.value, limits.FAN_OUT_CONSUMERS_PER_STREAM.value):
        if n % limits.FAN_OUT_CONSUMERS_CREATING.value == 0:
            kinesis.clock.sleep(limits.LIFECYCLE_CONSUMER_CREATING_S.value)
        kinesis.probe.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{n}")
    kinesis.clock.sleep(limits.LIFECYCLE_CONSUMER_CREATING_S.value)
    assert _code(lambda: kinesis.probe.register_stream_consumer(StreamARN=arn, ConsumerName="c20")) \
        == "LimitExceededException"


def test_names_are_unique_per_stream_and_follow_the_pattern(kinesis: Kinesis) -> None:
    arn = _arn(kinesis, make_stream(kinesis))
    kinesis.client.register_stream_consumer(StreamARN=arn, ConsumerName="c")
    assert _code(lambda: kinesis.probe.register_stream_consumer(StreamARN=arn, ConsumerName="c")) \
        == "ResourceInUseException"
    assert _code(lambda: kinesis.probe.register_stream_consumer(StreamARN=arn, ConsumerName="not ok")) \
        == "ValidationException"
    assert _code(lambda: kinesis.probe.register_stream_consumer(StreamARN=arn, ConsumerName="x" * 129)) \
        == "ValidationException"


def test_deregistering_one_consumer_leaves_the_others(kinesis: Kinesis) -> None:
    """moto's DeregisterStreamConsumer by name keeps only the named consumer: it deletes all the others."""
    arn = _arn(kinesis, make_stream(kinesis))
    for name in ("a", "b", "c"):
        kinesis.client.register_stream_consumer(StreamARN=arn, ConsumerName=name)
    kinesis.client.deregister_stream_consumer(StreamARN=arn, ConsumerName="b")
    listed = {c["ConsumerName"]: c["ConsumerStatus"] for c in
              kinesis.client.list_stream_consumers(StreamARN=arn)["Consumers"]}
    assert listed == {"a": "CREATING", "b": "DELETING", "c": "CREATING"}
    kinesis.clock.sleep(limits.LIFECYCLE_CONSUMER_DELETING_S.value)
    assert [c["ConsumerName"] for c in kinesis.client.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["a", "c"]


def test_a_stream_not_active_takes_no_consumer(kinesis: Kinesis) -> None:
    kinesis.client.create_stream(StreamName="new", ShardCount=1)
    arn = _arn(kinesis, "new")
    assert _code(lambda: kinesis.probe.register_stream_consumer(StreamARN=arn, ConsumerName="c")) \
        == "ResourceInUseException"
