"""Enhanced fan-out consumers: their registration limits and lifecycle, as AWS documents them (issue 22).

moto registers any number of consumers, ACTIVE at once, under a name any number of them may share, with an ARN that
is only the name, and ``DeregisterStreamConsumer`` by name deletes every *other* consumer of the stream. AWS
(RegisterStreamConsumer, DeregisterStreamConsumer and Consumer API reference, 2026-12-06):

- "You can register up to 20 consumers per stream": the 21st is refused with LimitExceededException;
- "you cannot have more than 5 consumers in a CREATING status at the same time. Registering a 6th consumer while
  there are 5 in a CREATING status results in a LimitExceededException" (the account's consumers, any stream);
- "For a given Kinesis data stream, each consumer must have a unique name"; a name is 1-128 of ``[a-zA-Z0-9_.-]``;
- a consumer is CREATING, then ACTIVE ("A consumer can't read data while in the CREATING or DELETING states"), and
  DELETING after DeregisterStreamConsumer, then gone; "If you delete a consumer and then create a new one with the
  same name, it won't have the same ARN. That's because consumer ARNs contain the creation timestamp"
  (``.../consumer/<name>:<epoch seconds>``);
- the stream must be ACTIVE to register (the layer's ``when_active``: ResourceInUseException).

Windows are the config's ``consumer_creating_seconds`` / ``consumer_deleting_seconds`` on the layer's clock
(catalogue ``lifecycle.consumer.*``). State lives on moto's ``Consumer`` objects, keyed by the layer that made it; a
consumer the layer never saw is ACTIVE. Library code: moto through :mod:`.moto_adapter` only, no pytest.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import errors
from pytest_kinesis_limits.fidelity.moto_adapter import Consumer, KinesisBackend, kinesis_backends

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.layer import FidelityLayer

CREATING, ACTIVE, DELETING = "CREATING", "ACTIVE", "DELETING"
STATE_ATTR = "_kinesis_limits_consumer"
_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]+\Z")


@dataclass
class ConsumerState:
    """A consumer as the layer sees it: when it is ACTIVE, and when (after deregistration) it is gone."""

    owner: FidelityLayer
    active_at: float
    gone_at: float | None = None


def _state(layer: FidelityLayer, consumer: Consumer) -> ConsumerState | None:
    state = consumer.__dict__.get(STATE_ATTR)
    return state if state is not None and state.owner is layer else None


def status(layer: FidelityLayer, consumer: Consumer) -> str:
    """CREATING, ACTIVE or DELETING on the layer's clock (a consumer the layer never saw is ACTIVE)."""
    state = _state(layer, consumer)
    if state is None:
        return ACTIVE
    if state.gone_at is not None:
        return DELETING
    return CREATING if layer.clock.now() < state.active_at else ACTIVE


def _settle(layer: FidelityLayer, stream: Any) -> None:
    """Remove the stream's consumers whose DELETING window is over."""
    now = layer.clock.now()
    stream.consumers = [c for c in stream.consumers
                        if (state := _state(layer, c)) is None or state.gone_at is None or now < state.gone_at]


def _creating_in_account(layer: FidelityLayer, account_id: str) -> int:
    return sum(1 for backend in list(kinesis_backends[account_id].values())
               for stream in list(backend.streams.values()) for consumer in list(stream.consumers)
               if status(layer, consumer) == CREATING)


def validate_name(name: object) -> None:
    """ConsumerName's request-model constraints (ValidationException, as AWS's front end words it)."""
    if not isinstance(name, str):
        return  # botocore's own validation refuses a missing or non-string name before it is sent
    problems = []
    if not 1 <= len(name) <= limits.CONSUMER_NAME_MAX_LENGTH.value:
        problems.append(f"Value '{name}' at 'consumerName' failed to satisfy constraint: Member must have length "
                        f"less than or equal to {limits.CONSUMER_NAME_MAX_LENGTH.value}" if name else
                        "Value '' at 'consumerName' failed to satisfy constraint: Member must have length greater "
                        "than or equal to 1")
    if name and not _NAME_RE.match(name):
        problems.append(f"Value '{name}' at 'consumerName' failed to satisfy constraint: Member must satisfy regular "
                        "expression pattern: [a-zA-Z0-9_.-]+")
    if problems:
        raise errors.validation(problems)


def register(layer: FidelityLayer, original: Callable[..., Consumer], backend: KinesisBackend,
             stream_arn: str, consumer_name: str) -> Consumer:
    """RegisterStreamConsumer (after the layer's ACTIVE check): name, uniqueness, the two limits, then CREATING."""
    validate_name(consumer_name)
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=None)
    _settle(layer, stream)
    if any(c.consumer_name == consumer_name for c in stream.consumers):
        raise errors.KinesisError("ResourceInUseException", f"Consumer {consumer_name} under stream "
                                  f"{stream.stream_name} under account {backend.account_id} already exists.")
    config = layer.config
    if len(stream.consumers) >= config.max_consumers_per_stream:
        raise errors.limit_exceeded(
            f"Stream {stream.stream_name} under account {backend.account_id} has reached the limit of "
            f"{config.max_consumers_per_stream} registered consumers.")
    if _creating_in_account(layer, backend.account_id) >= config.max_consumers_creating:
        raise errors.limit_exceeded(
            f"The account {backend.account_id} already has {config.max_consumers_creating} consumers in CREATING "
            "status; wait until one is ACTIVE.")
    consumer = original(backend, stream_arn=stream_arn, consumer_name=consumer_name)
    now = layer.clock.now()
    consumer.consumer_arn = f"{consumer.consumer_arn}:{int(now)}"  # AWS's ARNs carry the creation time
    consumer.created = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    consumer.__dict__[STATE_ATTR] = ConsumerState(layer, active_at=now + config.consumer_creating_seconds)
    return consumer


def _find(backend: KinesisBackend, stream_arn: str | None, consumer_name: str | None,
          consumer_arn: str | None) -> tuple[Any, Consumer]:
    streams = [backend.describe_stream(stream_arn=stream_arn, stream_name=None)] if stream_arn else \
        list(backend.streams.values())
    for stream in streams:
        for consumer in stream.consumers:
            if (consumer_arn and consumer.consumer_arn == consumer_arn) or (
                    not consumer_arn and consumer_name and consumer.consumer_name == consumer_name):
                return stream, consumer
    raise errors.KinesisError("ResourceNotFoundException", f"Consumer {consumer_name or consumer_arn}, account "
                              f"{backend.account_id} not found.")


def find(layer: FidelityLayer, backend: KinesisBackend, consumer_arn: str) -> tuple[Any, Consumer]:
    """The stream and consumer a ConsumerARN names (ResourceNotFoundException when there is none, or it is gone)."""
    for stream in list(backend.streams.values()):
        _settle(layer, stream)
    return _find(backend, None, None, consumer_arn)


def deregister(layer: FidelityLayer, original: Callable[..., Any], backend: KinesisBackend,
               stream_arn: str | None = None, consumer_name: str | None = None,
               consumer_arn: str | None = None) -> None:
    """DeregisterStreamConsumer: that consumer (and only it) is DELETING, then gone."""
    if stream_arn:
        _settle(layer, backend.describe_stream(stream_arn=stream_arn, stream_name=None))
    stream, consumer = _find(backend, stream_arn, consumer_name, consumer_arn)
    if status(layer, consumer) == DELETING:
        return  # already being deleted
    state = _state(layer, consumer)
    if state is None:
        state = consumer.__dict__[STATE_ATTR] = ConsumerState(layer, active_at=layer.clock.now())
    state.gone_at = layer.clock.now() + layer.config.consumer_deleting_seconds
    _settle(layer, stream)


def describe(layer: FidelityLayer, original: Callable[..., Consumer], backend: KinesisBackend,
             stream_arn: str | None = None, consumer_name: str | None = None,
             consumer_arn: str | None = None) -> Consumer:
    """DescribeStreamConsumer: a consumer whose DELETING window is over is not found."""
    for stream in ([backend.describe_stream(stream_arn=stream_arn, stream_name=None)] if stream_arn else
                   list(backend.streams.values())):
        _settle(layer, stream)
    return _find(backend, stream_arn, consumer_name, consumer_arn)[1]


def list_consumers(layer: FidelityLayer, original: Callable[..., Any], backend: KinesisBackend,
                   stream_arn: str, **paging: Any) -> Any:
    """ListStreamConsumers, without the consumers whose DELETING window is over. ``paging``: what moto's response
    hands its backend beside the stream (moto 5.2.3 paginates in the backend: ``limit``, ``next_token``; 5.2.6 in
    the response: nothing), passed on as it came."""
    _settle(layer, backend.describe_stream(stream_arn=stream_arn, stream_name=None))
    return original(backend, stream_arn=stream_arn, **paging)


def to_json(layer: FidelityLayer, original: Callable[..., dict[str, Any]], consumer: Consumer,
            include_stream_arn: bool = False) -> dict[str, Any]:
    """The consumer's description with its status on the layer's clock."""
    answer = original(consumer, include_stream_arn=include_stream_arn)
    answer["ConsumerStatus"] = status(layer, consumer)
    return answer


__all__ = ["ACTIVE", "CREATING", "DELETING", "deregister", "describe", "find", "list_consumers", "register", "status",
           "to_json", "validate_name"]
