"""A worker's shared streams: one stream of each shape, leased by the tests that need no stream of their own.

The PutRecords caps need a shard that takes a request and one they can read back; they do not need a fresh
stream each (issue 12: 30 one-shard streams for that family alone, each a minute to make and to delete live).
A :class:`SharedStreams` makes a stream of a shape the first time a test leases it, keeps it for the session
(the process: one per xdist worker) and hands each test a :class:`StreamLease`:

* ``after``: per shard, the last sequence number the stream held when the lease began. Reading the lease back
  (``read_records(lease)``) reads after it: the records the test wrote, and only those, so "a refused request
  stored nothing" is still checked by reading back.
* a quiet start: a lease begins ``shared_stream.quiet_s`` after the previous one ended, plus one second per MiB
  the previous test stored beyond the first (a record larger than 1 MiB is paid for by the following seconds),
  and at once when it stored nothing, so a test meets a shard whose write budget is as whole as a fresh
  stream's (:func:`quiet_pause_s`).

When a lease ends the registry reads the stream to its end (what the test wrote, however it ended) to know
where the next lease starts. Library code: no pytest; the fixtures (``kinesis_shared_stream``,
``lease_shared_stream``) wire it to the run's clients.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.kinesis.payloads import record_size
from pytest_kinesis_limits.kinesis.resources import StreamInfo

#: The usage meter's key of a shared stream of a shape (the plan makes one per worker).
def shared_key(max_record_size_kib: int | None) -> str:
    return "stream:shared" + (f":{max_record_size_kib}kib" if max_record_size_kib else "")


def quiet_pause_s(written: int) -> float:
    """How long the next lease waits after one whose test stored ``written`` bytes: nothing when it stored nothing
    (a refused request uses no write budget; the reader paces its own reads), else ``shared_stream.quiet_s`` (the
    next writes land in a later second) plus a second per MiB beyond the first (what a record over 1 MiB borrows
    from the following seconds)."""
    if written <= 0:
        return 0.0
    seconds = math.ceil(written / limits.SHARD_WRITE_BYTES_PER_S.value)
    return float(limits.SHARED_STREAM_QUIET_S.value + max(0, seconds - 1))


@dataclass(frozen=True)
class StreamLease(StreamInfo):
    """A test's use of a shared stream: a StreamInfo, and where the stream stood when the lease began (``after``:
    per shard, the last sequence number it held)."""

    after: Mapping[str, str] = field(default_factory=dict)
    #: what the test's own reads of the lease found (:meth:`note_read`): per shard the last sequence number, and the
    #: bytes of the records up to there, so that the lease's end reads only what comes after
    seen: dict[str, str] = field(default_factory=dict, compare=False)
    seen_bytes: list[int] = field(default_factory=lambda: [0], compare=False)

    def note_read(self, records: Iterable[Any]) -> None:
        """Note records the test read from the lease (ReadRecord-like), each counted once however often it is read."""
        for record in records:
            last = self.seen.get(record.shard_id, self.after.get(record.shard_id))
            if last is None or int(record.sequence_number) > int(last):
                self.seen[record.shard_id] = record.sequence_number
                self.seen_bytes[0] += record_size(record.data, record.partition_key)


@dataclass
class _Shared:
    info: StreamInfo
    positions: dict[str, str] = field(default_factory=dict)
    quiet_until: float = float("-inf")
    lease: StreamLease | None = None


class SharedStreams:
    """The session's shared streams (see the module docstring).

    ``make(max_record_size_kib)`` makes a one-shard stream of that shape and returns its StreamInfo (the caller
    tracks its deletion); ``read(name, start_after)`` returns the records after those positions (ReadRecord-like:
    ``shard_id``, ``sequence_number``, ``data``, ``partition_key``); ``exists(name)``, when given, is asked at
    each lease (offline a user's own ``mock_aws`` may have emptied moto: the stream is then made again).
    """

    def __init__(self, make: Callable[[int | None], StreamInfo], read: Callable[[str, Mapping[str, str]], list[Any]],
                 clock: Clock, *, exists: Callable[[str], bool] | None = None) -> None:
        self.make, self.read, self.clock, self.exists = make, read, clock, exists
        self._streams: dict[int | None, _Shared] = {}
        self._lock = threading.Lock()

    def lease(self, max_record_size_kib: int | None = None) -> StreamLease:
        """Lease the shared stream of this shape, made now if it does not exist; waits for its quiet start."""
        with self._lock:
            shared = self._streams.get(max_record_size_kib)
            if shared is not None and shared.lease is not None:
                raise RuntimeError(f"the shared stream {shared.info.name} is leased already ({shared.lease.name}); "
                                   "a test leases each shape once")
            if shared is not None and self.exists is not None and not self.exists(shared.info.name):
                shared = None
            if shared is None:
                shared = _Shared(info=self.make(max_record_size_kib))
                self._streams[max_record_size_kib] = shared
        wait = shared.quiet_until - self.clock.now()
        if wait > 0:
            self.clock.sleep(wait)
        info = shared.info
        shared.lease = StreamLease(name=info.name, arn=info.arn, shard_count=info.shard_count,
                                   on_demand=info.on_demand, max_record_size_kib=info.max_record_size_kib,
                                   after=dict(shared.positions))
        return shared.lease

    def release(self, lease: StreamLease) -> None:
        """The test is done: read what it stored beyond what it read itself, so that the next lease starts after
        it, quietly."""
        shared = next((s for s in self._streams.values() if s.lease is lease), None)
        if shared is None:
            return
        try:  # what the test stored and did not read itself (it may have read none, some or all)
            lease.note_read(self.read(lease.name, {**lease.after, **lease.seen}))
        except BaseException:  # where the stream stands is unknown: the next lease gets a fresh stream
            self._streams = {k: v for k, v in self._streams.items() if v is not shared}
            raise
        finally:
            shared.lease = None
        shared.positions.update(lease.seen)
        shared.quiet_until = self.clock.now() + quiet_pause_s(lease.seen_bytes[0])

    @property
    def streams(self) -> list[StreamInfo]:
        return [s.info for s in self._streams.values()]


__all__ = ["SharedStreams", "StreamLease", "quiet_pause_s", "shared_key"]
