"""SplitShard, MergeShards and UpdateShardCount as Kinesis does them, plus the UPDATING window.

AWS (https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-after-resharding.html): after a
reshard the parent is CLOSED, "data records that were in the parent shards remain in the parent shards",
new writes go to the children by hash key, and children's sequence numbers follow their parents'. moto
re-puts a split parent's records into the stream (they land in the closed parent again, renumbered) and
copies both merge parents' records into the child. Here parents keep their records untouched, get an
EndingSequenceNumber, and the children start after it.

Parents stay open while the stream is UPDATING: the reshard is queued and done when the window ends (see
:mod:`.lifecycle`), as the developer guide describes it ("After a reshard operation, the parent shard
transitions to a CLOSED state"; the operation is complete when the stream is ACTIVE again) and kinesalite
does it. Writes during the window go to the parents, the children appear with the ACTIVE status.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import errors, lifecycle
from pytest_kinesis_limits.fidelity.moto_adapter import KinesisBackend, Shard, Stream, StreamCannotBeUpdatedError
from pytest_kinesis_limits.fidelity.sequence import register_shard, shard_state, stream_state

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.layer import FidelityLayer

DAY_SECONDS = 24 * 60 * 60


def _new_shard(stream: Stream, index: int, start: int, end: int, parent: str, adjacent: str | None = None) -> Shard:
    shard = Shard(index, start, end, parent=parent, adjacent_parent=adjacent)
    stream.shards[shard.shard_id] = shard
    return shard


def _close(layer: FidelityLayer, stream: Stream, shard: Shard) -> None:
    st = stream_state(layer, stream)
    sst = shard_state(layer, st, shard)
    sst.sync(shard, layer.codec)
    shard.is_open = False
    # The parent's range ends at a number no child can reach (children draw later numbers).
    sst.ending_sequence = st.next_sequence()


def split_shard(layer: FidelityLayer, stream: Stream, shard_to_split: str, new_starting_hash_key: str) -> None:
    """Split without moving a record: two children [start, key-1] and [key, end] (API_SplitShard.html)."""
    st = stream_state(layer, stream)
    with st.lock:
        key = int(new_starting_hash_key)
        shard = stream.shards[shard_to_split]
        if not shard.starting_hash < key < shard.ending_hash:
            raise errors.invalid_argument(
                f"NewStartingHashKey {key} used in SplitShard() on shard {shard_to_split} in stream "
                f"{stream.stream_name} under account {stream.account_id} is not both greater than one plus the "
                f"shard's StartingHashKey {shard.starting_hash} and less than the shard's EndingHashKey "
                f"{shard.ending_hash - 1}.")
        if not shard.is_open:
            raise errors.invalid_argument(
                f"Shard {shard.shard_id} in stream {stream.stream_name} under account {stream.account_id} has "
                "already been merged or split, and thus is not eligible for merging or splitting.")

        def apply() -> None:
            _close(layer, stream, shard)
            last = max(stream.shards.values(), key=attrgetter("_shard_id"))._shard_id
            for index, start, end in ((last + 1, shard.starting_hash, key - 1),
                                      (last + 2, key, shard.ending_hash)):
                register_shard(layer, st, _new_shard(stream, index, start, end, parent=shard.shard_id))
            st.invalidate_routing()

        _apply_or_queue(layer, stream, apply, +1)


def merge_shards(layer: FidelityLayer, stream: Stream, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
    """Merge two adjacent open shards into one child without copying a record (API_MergeShards.html)."""
    st = stream_state(layer, stream)
    with st.lock:
        first, second = stream.shards[shard_to_merge], stream.shards[adjacent_shard_to_merge]
        for shard in (first, second):
            if not shard.is_open:
                raise errors.invalid_argument(
                    f"Shard {shard.shard_id} in stream {stream.stream_name} under account {stream.account_id} "
                    "has already been merged or split, and thus is not eligible for merging or splitting.")
        # Adjacent means the ranges touch with no gap (moto's test of the reverse order is off by two).
        if first.ending_hash + 1 != second.starting_hash and second.ending_hash + 1 != first.starting_hash:
            raise errors.invalid_argument(
                f"Shards {first.shard_id} and {second.shard_id} in stream {stream.stream_name} under account "
                f"{stream.account_id} are not an adjacent pair of shards eligible for merging")

        def apply() -> None:
            _close(layer, stream, first)
            _close(layer, stream, second)
            last = max(stream.shards.values(), key=attrgetter("_shard_id"))._shard_id
            child = _new_shard(stream, last + 1, min(first.starting_hash, second.starting_hash),
                               max(first.ending_hash, second.ending_hash), parent=first.shard_id,
                               adjacent=second.shard_id)
            register_shard(layer, st, child)
            st.invalidate_routing()

        _apply_or_queue(layer, stream, apply, -1)


def _apply_or_queue(layer: FidelityLayer, stream: Stream, apply: Callable[[], None], delta: int) -> None:
    """Inside a SplitShard / MergeShards call (``defer`` set) queue the change for the end of UPDATING; inside
    moto's UpdateShardCount plan, which runs when the window ends, or outside any call, do it now."""
    st = stream_state(layer, stream)
    if st.defer:
        lifecycle.queue(layer, stream, apply, open_shard_count(stream) + delta)
    else:
        apply()


def open_shard_count(stream: Stream) -> int:
    """Shards still accepting writes."""
    return sum(1 for s in stream.shards.values() if s.is_open)


def is_updating(layer: FidelityLayer, stream: Stream) -> bool:
    """True while the stream is inside its UPDATING window on the layer's clock."""
    return lifecycle.status(layer, stream) == lifecycle.UPDATING


def check_active(layer: FidelityLayer, stream: Stream) -> None:
    """A reshard needs an ACTIVE stream (API_MergeShards.html: "If a stream is in the CREATING, UPDATING, or
    DELETING state, MergeShards returns a ResourceInUseException"; the same for SplitShard, UpdateShardCount)."""
    lifecycle.require_active(layer, stream)


def start_updating(layer: FidelityLayer, stream: Stream) -> None:
    """Begin the UPDATING window (API_UpdateShardCount.html: "sets the status of the stream to UPDATING")."""
    lifecycle.start_updating(layer, stream, layer.config.updating_seconds)


def check_update_shard_count(layer: FidelityLayer, stream: Stream, target: int) -> None:
    """AWS's UpdateShardCount rules (API_UpdateShardCount.html), messages as kinesalite records them."""
    if not layer.config.shard_count_rules:
        return
    st = stream_state(layer, stream)
    current = open_shard_count(stream)
    max_shards = layer.config.max_shards
    detail = f"Current open shard count: {current}, Target shard count: {target}"
    if target > max_shards:
        raise errors.limit_exceeded(
            f"Target shard count or number of open shards cannot be greater than {max_shards}. {detail}")
    if target > current * limits.UPDATE_SHARD_COUNT_MAX_FACTOR_UP.value:
        raise errors.limit_exceeded(f"UpdateShardCount cannot scale up over double your current open shard count. "
                                    f"{detail}")
    if target * limits.UPDATE_SHARD_COUNT_MAX_DIVISOR_DOWN.value < current:
        raise errors.limit_exceeded(f"UpdateShardCount cannot scale down below half your current open shard count. "
                                    f"{detail}")
    now = layer.clock.now()
    recent = [t for t in st.shard_count_updates if t > now - DAY_SECONDS]
    calls = limits.UPDATE_SHARD_COUNT_CALLS_PER_24H.value
    if len(recent) >= calls:
        raise errors.limit_exceeded(
            f"Rate exceeded for UpdateShardCount on stream {stream.stream_name} under account {stream.account_id}: "
            f"at most {calls} calls per rolling 24-hour period.")
    st.shard_count_updates = recent


def backend_split_or_merge(layer: FidelityLayer, original: Any, backend: KinesisBackend, stream_arn: str | None,
                           stream_name: str | None, *shards: str) -> None:
    """KinesisBackend.split_shard / merge_shards (``shards``: the operation's own two arguments): refuse unless
    ACTIVE (and a split beyond the account's shard quota), run moto's validation with the change queued, then
    enter UPDATING; the parents close when it ends."""
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    st = stream_state(layer, stream)
    lifecycle.check_streams_in_transition(layer, backend, stream)
    with st.lock:
        check_active(layer, stream)
        if original.__name__ == "split_shard":
            lifecycle.check_shard_quota(layer, backend, 1)
        st.defer = True
        try:
            original(backend, stream_arn, stream_name, *shards)
        finally:
            st.defer = False
        start_updating(layer, stream)


def backend_update_shard_count(layer: FidelityLayer, original: Any, backend: KinesisBackend,
                               stream_arn: str | None, stream_name: str | None, target_shard_count: int) -> int:
    """KinesisBackend.update_shard_count: AWS's rules now, then UPDATING; moto's split/merge plan (through the
    patched, non-copying split and merge) runs as one step when the window ends."""
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    st = stream_state(layer, stream)
    with st.lock:
        check_active(layer, stream)
        if stream.stream_mode.get("StreamMode", "") == "ON_DEMAND":  # moto's own check, made before queuing
            raise StreamCannotBeUpdatedError(stream_name=stream.stream_name, account_id=stream.account_id)
        target = int(target_shard_count)
        check_update_shard_count(layer, stream, target)
        current = open_shard_count(stream)
        lifecycle.check_shard_quota(layer, backend, target - current)
        lifecycle.queue(layer, stream, lambda: original(backend, stream_arn, stream_name, target), target)
        st.shard_count_updates.append(layer.clock.now())
        start_updating(layer, stream)
        return current


def child_shards_of(stream: Stream, shard_id: str) -> list[dict[str, Any]]:
    """GetRecords' ChildShards for ``shard_id`` (API_ChildShard.html: ShardId, ParentShards, HashKeyRange)."""
    children = []
    for shard in sorted(stream.shards.values(), key=attrgetter("_shard_id")):
        if shard_id in (shard.parent, shard.adjacent_parent):
            parents = [p for p in (shard.parent, shard.adjacent_parent) if p]
            children.append({
                "ShardId": shard.shard_id,
                "ParentShards": parents,
                "HashKeyRange": {"StartingHashKey": str(shard.starting_hash),
                                 "EndingHashKey": str(shard.ending_hash)},
            })
    return children
