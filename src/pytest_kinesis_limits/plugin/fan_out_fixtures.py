"""Enhanced fan-out fixtures (issue 22): registered consumers, waited for, always deregistered."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from pytest_kinesis_limits.clock import Clock
    from pytest_kinesis_limits.kinesis.consumers import ConsumerInfo
    from pytest_kinesis_limits.kinesis.resources import Namer, ResourceTracker, WaitPolicy


@pytest.fixture
def make_consumer(kinesis_client: BaseClient, kinesis_client_no_retry: BaseClient, kinesis_namer: Namer,
                  kinesis_tags: dict[str, str], kinesis_clock: Clock, kinesis_wait_policy: WaitPolicy,
                  kinesis_resources: ResourceTracker) -> Callable[..., ConsumerInfo]:
    """Factory: ``make_consumer(stream, *, wait=True, retries=True)`` -> ConsumerInfo(name, arn, stream_arn): an
    enhanced fan-out consumer registered to ``stream`` (a StreamInfo or a stream ARN), tagged, ACTIVE (``wait=False``:
    returned while CREATING), deregistered at teardown before its stream is deleted. ``retries=False`` registers with
    one attempt, so a LimitExceededException reaches the test. Offline the layer keeps it CREATING for
    ``lifecycle.consumer.creating_s`` of the simulated clock; live AWS does (its ARN carries its creation time)."""
    from pytest_kinesis_limits.kinesis import consumers

    def make(stream: Any, *, wait: bool = True, retries: bool = True) -> ConsumerInfo:
        stream_arn = getattr(stream, "arn", stream)
        client = kinesis_client if retries else kinesis_client_no_retry
        info = consumers.register(client, stream_arn, kinesis_namer.name("c"), tags=kinesis_tags)
        kinesis_resources.add_tagged("consumer", info.name, lambda: consumers.deregister(kinesis_client, info))
        if wait:
            consumers.wait_active(kinesis_client, info, clock=kinesis_clock, policy=kinesis_wait_policy)
        return info

    return make
