"""Per-stream and per-shard state the layer keeps beside moto's models: sequence numbers and indexes.

AWS sequence numbers are large decimal strings (about 56 digits, e.g. ``4959...``) that increase within a
shard, and a child shard's numbers are greater than its parents' (API_PutRecord.html: "Sequence numbers
increase over time"; developer guide, kinesis-using-sdk-java-after-resharding.html). moto numbers each
shard 1, 2, 3... and restarts in every child. The layer draws every number of a stream from one integer
counter, under the stream's lock, so both orders hold and concurrent writers cannot reuse a number.

The state lives in an attribute of the moto object (``_kinesis_fidelity``) tagged with the layer that made
it, so a later layer rebuilds it from moto's records instead of trusting stale indexes.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits.fidelity.throttling import ReadMeter, WriteMeter

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.moto_adapter import RecordCodec, Shard, Stream

# A 56-digit base, the width of the numbers AWS returns (e.g. 49590338271490256608559692538361571095921575989136588898).
SEQUENCE_BASE = 4959 * 10**52
STATE_ATTR = "_kinesis_fidelity"
#: The moto stream's own note of its MaxRecordSizeInKiB cap (moto drops it): a later layer's state starts from it.
MAX_RECORD_ATTR = "_kinesis_fidelity_max_record_bytes"


@dataclass
class ShardState:
    """What the layer knows of one shard: sorted sequence numbers, arrival times and meters.

    ``seqs`` and ``times`` are appended by writers holding ``stream.lock`` (moto's dict first, then ``seqs``,
    then ``times``) and read without it, so a reader sees a prefix of them that moto's dict already holds.
    """

    owner: object
    stream: StreamState = field(repr=False, compare=False)
    starting_sequence: int
    ending_sequence: int | None = None
    seqs: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    write: WriteMeter = field(default_factory=WriteMeter)
    read: ReadMeter = field(default_factory=ReadMeter)

    def sync(self, shard: Shard, codec: RecordCodec) -> None:
        """Rebuild the indexes if records reached moto's dict behind the layer's back (e.g. before it).

        Safe from any thread: the rebuild runs under the stream's lock, which a writer holds from storing a
        record in moto's dict to appending it to the index. A reader that found the dict one record ahead
        waits for that writer instead of indexing its record, which the writer then indexes again.
        """
        if len(self.seqs) == len(shard.records):
            return
        with self.stream.lock:
            if len(self.seqs) != len(shard.records):
                items = sorted(shard.records.items())
                self.seqs = [seq for seq, _ in items]
                self.times = [codec.arrival(rec) for _, rec in items]

    def index_after(self, sequence: int) -> int:
        """Position of the first record whose number is greater than ``sequence`` (bisect, no scan)."""
        return bisect.bisect_right(self.seqs, sequence)

    def sequence_before(self, timestamp: float) -> int:
        """Number of the last record that arrived before ``timestamp`` (0 if none): AT_TIMESTAMP's start."""
        seqs = self.seqs  # writers append the number before the time: times never runs ahead of seqs
        i = bisect.bisect_left(self.times, timestamp)
        return seqs[i - 1] if i > 0 else 0


@dataclass
class StreamState:
    """What the layer knows of one stream: its lock, counter, lifecycle clock and open-shard index.

    The lifecycle fields (see :mod:`.lifecycle`): CREATING until ``creating_until``, UPDATING until
    ``updating_until``, DELETING from DeleteStream until ``deleting_until`` (None: not deleted); ``pending``
    holds a reshard that completes when UPDATING ends (``pending_open``: the open shards it leaves), and
    ``defer`` is set while moto's reshard runs so that the split or merge is queued instead of done.
    """

    owner: object
    counter: int
    lock: threading.RLock = field(default_factory=threading.RLock)
    creating_until: float = float("-inf")
    updating_until: float = float("-inf")
    deleting_until: float | None = None
    pending: list[Callable[[], None]] = field(default_factory=list)
    pending_open: int | None = None
    defer: bool = False
    shard_count_updates: list[float] = field(default_factory=list)
    max_record_bytes: int | None = None
    _open_starts: list[int] | None = None
    _open_shards: list[Any] | None = None

    def next_sequence(self) -> int:
        """The next number of the stream (call with ``lock`` held)."""
        self.counter += 1
        return self.counter

    def invalidate_routing(self) -> None:
        """Forget the open-shard index after a split or merge."""
        self._open_starts = None
        self._open_shards = None

    def route(self, stream: Stream, hash_key: int) -> Shard | None:
        """The OPEN shard whose hash range holds ``hash_key``, range ends inclusive (API_PutRecord.html)."""
        if self._open_starts is None or self._open_shards is None:
            open_shards = sorted((s for s in stream.shards.values() if s.is_open), key=lambda s: s.starting_hash)
            self._open_shards = open_shards
            self._open_starts = [s.starting_hash for s in open_shards]
        i = bisect.bisect_right(self._open_starts, hash_key) - 1
        if i < 0:
            return None
        shard = self._open_shards[i]
        return shard if shard.starting_hash <= hash_key <= shard.ending_hash else None


_create_lock = threading.Lock()


def stream_state(owner: object, stream: Stream) -> StreamState:
    """The layer ``owner``'s state for ``stream``, created (with all its shards' states) on first use."""
    state = stream.__dict__.get(STATE_ATTR)
    if state is not None and state.owner is owner:
        return state
    with _create_lock:
        state = stream.__dict__.get(STATE_ATTR)
        if state is not None and state.owner is owner:
            return state
        highest = max((max(s.records) for s in stream.shards.values() if s.records), default=0)
        state = StreamState(owner=owner, counter=max(SEQUENCE_BASE, highest),
                            max_record_bytes=stream.__dict__.get(MAX_RECORD_ATTR))
        for shard in sorted(stream.shards.values(), key=lambda s: s._shard_id):
            _new_shard_state(owner, state, shard)
        stream.__dict__[STATE_ATTR] = state
        return state


def shard_state(owner: object, stream_st: StreamState, shard: Shard) -> ShardState:
    """The layer ``owner``'s state for ``shard`` of a stream whose state is ``stream_st``."""
    state = shard.__dict__.get(STATE_ATTR)
    if state is not None and state.owner is owner:
        return state
    with stream_st.lock:
        state = shard.__dict__.get(STATE_ATTR)
        if state is not None and state.owner is owner:
            return state
        return _new_shard_state(owner, stream_st, shard)


def register_shard(owner: object, stream_st: StreamState, shard: Shard) -> ShardState:
    """Give a shard just created by a split or merge its starting number (call with the lock held)."""
    return _new_shard_state(owner, stream_st, shard)


def _new_shard_state(owner: Any, stream_st: StreamState, shard: Shard) -> ShardState:
    if shard.records:
        start = min(shard.records) - 1
    else:
        start = stream_st.next_sequence()
    state = ShardState(owner=owner, stream=stream_st, starting_sequence=start)
    state.sync(shard, owner.codec)  # the owner is the layer
    if not shard.is_open:
        state.ending_sequence = state.seqs[-1] if state.seqs else start
    shard.__dict__[STATE_ATTR] = state
    return state
