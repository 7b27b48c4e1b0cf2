"""Read a stream through enhanced fan-out: SubscribeToShard subscriptions, renewed, following child shards (issue 22).

:func:`read_stream_fan_out` gives what :func:`.reader.read_stream` gives (a :class:`.reader.ReadResult`: records in
read order, parents to their end before children), so the continuity checker judges both the same way. Per shard it
subscribes from TRIM_HORIZON (or after ``start_after``'s number), and when a subscription ends (after its 5 minutes,
or taken over: ResourceInUseException in the stream) it subscribes again from the last ContinuationSequenceNumber
with AFTER_SEQUENCE_NUMBER, waiting out the 5 s rule first. A closed shard is done when an event carries ChildShards;
an open one when ``idle_events`` events in a row bring nothing and say it is not behind (MillisBehindLatest 0).

Library code: no pytest, no moto.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError, EventStreamError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.kinesis.reader import (ReadRecord, ReaderBoundError, ReadResult, ShardRead, arrival_seconds,
                                                  read_lineage)

#: Subscribe calls per shard before the reader gives up (a subscription that keeps ending at once).
MAX_SUBSCRIPTIONS = 1_000


def read_stream_fan_out(client: Any, stream_name: str, consumer_arn: str, *, clock: Clock, idle_events: int = 3,
                        start_after: Mapping[str, str] | None = None,
                        max_subscriptions: int = MAX_SUBSCRIPTIONS) -> ReadResult:
    """Read every shard of ``stream_name`` as the consumer ``consumer_arn`` (module doc). ``calls`` in the result
    counts SubscribeToShard calls; ReaderBoundError when a shard needs more than ``max_subscriptions``."""
    def read_one(info: ShardRead, result: ReadResult) -> list[dict[str, Any]]:
        return _read_shard(client, consumer_arn, info, result, clock=clock, idle_events=idle_events,
                           after=(start_after or {}).get(info.shard_id), max_subscriptions=max_subscriptions)

    return read_lineage(client, stream_name, clock, read_one)


def _read_shard(client: Any, consumer_arn: str, info: ShardRead, result: ReadResult, *, clock: Clock,
                idle_events: int, after: str | None, max_subscriptions: int) -> list[dict[str, Any]]:
    info.started_at = clock.now()
    position = {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after else {"Type": "TRIM_HORIZON"}
    last_subscribed: float | None = None
    idle = 0
    while True:
        if info.calls >= max_subscriptions:
            raise ReaderBoundError(f"{info.shard_id}: {info.calls} subscriptions and the shard is not read", result)
        if last_subscribed is not None:  # the 5 s rule: a renewal within 5 s of the last success is refused
            wait = last_subscribed + limits.FAN_OUT_RESUBSCRIBE_S.value - clock.now()
            if wait > 0:
                clock.sleep(wait)
        try:
            answer = client.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId=info.shard_id,
                                               StartingPosition=position)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ResourceInUseException", "LimitExceededException"):
                info.throttles += 1
                result.throttles += 1
                clock.sleep(1.0)
                continue
            raise
        last_subscribed = clock.now()
        info.calls += 1
        result.calls += 1
        stream = answer["EventStream"]
        try:
            for event in stream:
                body = event.get("SubscribeToShardEvent")
                if body is None:
                    continue
                records = body.get("Records") or []
                for record in records:
                    data = record["Data"]
                    result.records.append(ReadRecord(info.shard_id, record["SequenceNumber"], record["PartitionKey"],
                                                     data, arrival_seconds(record["ApproximateArrivalTimestamp"])))
                    info.bytes_read += len(data)
                info.records_read += len(records)
                position = {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": body["ContinuationSequenceNumber"]}
                children = body.get("ChildShards")
                if children:
                    info.closed, info.ended, info.end_reason = True, True, "ChildShards: the closed shard's end"
                    info.child_shard_ids = tuple(c["ShardId"] for c in children)
                    info.finished_at = clock.now()
                    return list(children)
                idle = idle + 1 if not records and not body.get("MillisBehindLatest") else 0
                if idle >= idle_events:
                    info.end_reason = f"caught up: {idle} events in a row brought nothing"
                    info.finished_at = clock.now()
                    return []
        except EventStreamError as exc:  # taken over, or the subscription failed: renew from the continuation
            info.end_reason = f"subscription ended: {exc}"
        finally:
            stream.close()
