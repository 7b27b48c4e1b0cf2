"""SubscribeToShard offline: enhanced fan-out's push reads, as the API reference documents them (issue 22).

moto has no SubscribeToShard. The layer adds it to moto's Kinesis responses, speaking the event stream botocore
parses (:mod:`.event_stream`), made while the client reads it (in-process through moto's stubber, over HTTP through
moto's server), on the layer's clock. AWS (API_SubscribeToShard.html, API_RegisterStreamConsumer.html, 2026-12-06):

- the consumer must be ACTIVE ("A consumer can't read data while in the CREATING or DELETING states");
- "You can make one call to SubscribeToShard per second per registered consumer per shard" (LimitExceededException);
- "If you call SubscribeToShard again with the same ConsumerARN and ShardId within 5 seconds of a successful call,
  you'll get a ResourceInUseException. If you call SubscribeToShard 5 seconds or more after a successful call, the
  second call takes over the subscription and the previous connection expires or fails with a
  ResourceInUseException";
- events (SubscribeToShardEvent: Records, ContinuationSequenceNumber, MillisBehindLatest, and ChildShards at a
  closed shard's end) come "for up to 5 minutes, after which time you need to call SubscribeToShard again";
- each consumer reads up to 2 MiB per second per shard, "unaffected by the total number of consumers", and not
  from the shard's shared GetRecords budget (the layer reads its index directly: no read meter is charged).

The event cadence is the layer's model (catalogue ``fan_out.event_period_s``: one event a second with what arrived,
at most the second's 2 MiB). A subscription ends when the layer that made it exits. Library code: moto through
:mod:`.moto_adapter`, no pytest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import consumers, errors, event_stream, timepatch
from pytest_kinesis_limits.fidelity.moto_adapter import KinesisResponse, LazyBody
from pytest_kinesis_limits.fidelity.resharding import child_shards_of
from pytest_kinesis_limits.fidelity.sequence import shard_state, stream_state

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.layer import FidelityLayer

STARTING_POSITIONS = ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")


@dataclass
class _Subscription:
    """One consumer's subscriptions to one shard: the last call, the last successful one, which one is current."""

    last_call: float | None = None
    last_success: float | None = None
    generation: int = 0


class FanOut:
    """The layer's subscriptions (``layer.fan_out``), and what they delivered (for tests and the curious)."""

    def __init__(self, layer: FidelityLayer) -> None:
        self.layer = layer
        self._lock = threading.Lock()
        self._subscriptions: dict[tuple[str, str], _Subscription] = {}
        self.events = 0
        self.delivered_bytes = 0
        self.closed = False

    # ------------------------------------------------------------------------------------------ the call
    def subscribe(self, response: KinesisResponse) -> Any:
        """KinesisResponse.subscribe_to_shard: the checks, then an event stream made as the client reads it."""
        layer, backend = self.layer, response.kinesis_backend
        consumer_arn = response._get_param("ConsumerARN")
        shard_id = response._get_param("ShardId")
        start = response._get_param("StartingPosition") or {}
        stream, consumer = consumers.find(layer, backend, consumer_arn)
        state = consumers.status(layer, consumer)
        if state != consumers.ACTIVE:
            raise errors.KinesisError("ResourceInUseException", f"Consumer {consumer_arn}, account "
                                      f"{backend.account_id} is not ACTIVE, instead in state {state}.")
        shard = stream.shards.get(shard_id)
        if shard is None:
            raise errors.KinesisError("ResourceNotFoundException", f"Shard {shard_id} in stream {stream.stream_name} "
                                      f"under account {backend.account_id} does not exist")
        last = self._position(stream, shard, start)
        now = layer.clock.now()
        with self._lock:
            sub = self._subscriptions.setdefault((consumer.consumer_arn, shard_id), _Subscription())
            called, sub.last_call = sub.last_call, now
            if called is not None and now - called < 1.0 / limits.FAN_OUT_SUBSCRIBE_CALLS_PER_S.value:
                raise errors.limit_exceeded(f"Rate exceeded for consumer {consumer_arn} and shard {shard_id}")
            if sub.last_success is not None and now - sub.last_success < layer.config.fan_out_resubscribe_seconds:
                raise errors.KinesisError(
                    "ResourceInUseException", f"Another active subscription exists for this consumer: "
                    f"{backend.account_id}:{stream.stream_name}:{shard_id}:{consumer.consumer_name}")
            sub.last_success = now
            sub.generation += 1
            generation = sub.generation
        events = self._events(stream, shard, sub, generation, last, now)
        return 200, {"content-type": event_stream.CONTENT_TYPE}, LazyBody(events)

    def _position(self, stream: Any, shard: Any, start: dict[str, Any]) -> int:
        """The sequence number after which the subscription starts (the layer's iterators' convention)."""
        kind = start.get("Type")
        if kind not in STARTING_POSITIONS:
            raise errors.validation([f"Value '{kind}' at 'startingPosition.type' failed to satisfy constraint: Member "
                                     f"must satisfy enum value set: [{', '.join(STARTING_POSITIONS)}]"])
        sst = shard_state(self.layer, stream_state(self.layer, stream), shard)
        sst.sync(shard, self.layer.codec)
        if kind == "TRIM_HORIZON":
            return 0
        if kind == "LATEST":
            return sst.seqs[-1] if sst.seqs else 0
        if kind == "AT_TIMESTAMP":
            stamp = start.get("Timestamp")
            if stamp is None:
                raise errors.invalid_argument("AT_TIMESTAMP needs a Timestamp")
            return sst.sequence_before(self.layer.codec.request_time(stamp))
        number = start.get("SequenceNumber")
        try:
            value = int(number)
        except (TypeError, ValueError):
            raise errors.invalid_argument(f"{kind} needs a SequenceNumber, got {number!r}") from None
        return value - 1 if kind == "AT_SEQUENCE_NUMBER" else value

    # ------------------------------------------------------------------------------------------ the events
    def _events(self, stream: Any, shard: Any, sub: _Subscription, generation: int, last: int,
                started: float) -> Iterator[bytes]:
        layer, codec, config = self.layer, self.layer.codec, self.layer.config
        period = float(limits.FAN_OUT_EVENT_PERIOD_S.value)
        ends = started + config.fan_out_subscription_seconds
        sst = shard_state(layer, stream_state(layer, stream), shard)
        yield event_stream.initial_response()
        while not self.closed:
            if sub.generation != generation:
                yield event_stream.exception("ResourceInUseException", "the subscription was taken over by a later "
                                             "SubscribeToShard for this consumer and shard")
                return
            sst.sync(shard, codec)
            seqs, count = sst.seqs, len(sst.seqs)
            i = sst.index_after(last)
            batch, size = [], 0
            budget = config.fan_out_read_bytes_per_s * period
            while i < count:
                record = shard.records[seqs[i]]
                record_size = codec.record_size(record)
                if batch and size + record_size > budget:
                    break
                batch.append(record)
                size += record_size
                i += 1
            if batch:
                last = batch[-1].sequence_number
                if config.fan_out_shares_shard_budget:  # the break: charged like a GetRecords call (AWS does not)
                    with sst.read.lock:
                        sst.read.admit_call(layer.clock.now(), config)
                        sst.read.account(size, config)
            behind = int((codec.arrival(shard.records[seqs[count - 1]]) - codec.arrival(batch[-1])) * 1000) \
                if batch and i < count else 0
            payload: dict[str, Any] = {"Records": [codec.json_record(r) for r in batch],
                                       "ContinuationSequenceNumber": str(max(last, sst.starting_sequence - 1)),
                                       "MillisBehindLatest": behind}
            at_end = not shard.is_open and i >= count
            if at_end:  # a closed shard read to its end: where to go next, and the subscription is over
                payload["ChildShards"] = child_shards_of(stream, shard.shard_id)
            self.events += 1
            self.delivered_bytes += size
            yield event_stream.event("SubscribeToShardEvent", payload)
            if at_end or layer.clock.now() + period > ends:
                return
            self._wait(period)

    def _wait(self, seconds: float) -> None:
        """The next event's wait: on the layer's clock for a thread of the test (in-process: simulated time moves
        for everyone at once), the wall clock for a server thread while the clock flows with it (the endpoint)."""
        clock = self.layer.clock
        if timepatch.member() is None and getattr(clock, "is_flowing", False):
            time.sleep(seconds)
        else:
            clock.sleep(seconds)


__all__ = ["FanOut", "STARTING_POSITIONS"]
