"""Enhanced fan-out consumers: register one (tagged), wait until it is ACTIVE, deregister it (issue 22).

RegisterStreamConsumer is asynchronous: the consumer is CREATING, then ACTIVE, and "can't read data while in the
CREATING or DELETING states" (API_Consumer.html). botocore has no waiter for it, so :func:`wait_active` polls
DescribeStreamConsumer with the suite's wait policy. Library code: no pytest, no moto.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.kinesis.resources import WaitPolicy, wait_until

if TYPE_CHECKING:
    from botocore.client import BaseClient


@dataclass(frozen=True)
class ConsumerInfo:
    """A registered consumer: its name, ARN (which carries its creation time), stream's ARN, and the status
    RegisterStreamConsumer answered (AWS: CREATING)."""

    name: str
    arn: str
    stream_arn: str
    registered_status: str = "CREATING"


def register(client: BaseClient, stream_arn: str, name: str, *, tags: dict[str, str] | None = None) -> ConsumerInfo:
    """RegisterStreamConsumer (tagged when ``tags``); the consumer is CREATING when this returns."""
    kwargs = {"Tags": dict(tags)} if tags else {}
    answer = client.register_stream_consumer(StreamARN=stream_arn, ConsumerName=name, **kwargs)["Consumer"]
    return ConsumerInfo(answer["ConsumerName"], answer["ConsumerARN"], stream_arn,
                        str(answer.get("ConsumerStatus", "")))


def status(client: BaseClient, consumer: ConsumerInfo) -> str | None:
    """The consumer's status, or None once it is gone."""
    try:
        return str(client.describe_stream_consumer(ConsumerARN=consumer.arn)["ConsumerDescription"]["ConsumerStatus"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def wait_active(client: BaseClient, consumer: ConsumerInfo, *, clock: Clock, policy: WaitPolicy) -> None:
    """Poll until the consumer is ACTIVE (TimeoutError naming it otherwise)."""
    wait_until(lambda: status(client, consumer) == "ACTIVE", clock=clock, policy=policy,
               what=f"consumer {consumer.name} to be ACTIVE")


def deregister(client: BaseClient, consumer: ConsumerInfo) -> None:
    """DeregisterStreamConsumer (started, not waited for); a consumer already gone is fine."""
    try:
        client.deregister_stream_consumer(ConsumerARN=consumer.arn)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


__all__ = ["ConsumerInfo", "deregister", "register", "status", "wait_active"]
