"""A lineage-aware reader: every shard of a stream, parents to their end before children.

The Kinesis Client Library (KCL) does not start a child shard until its parent (both parents, after a merge)
has been read to its end: a closed shard's last GetRecords answer has a null ``NextShardIterator`` and lists
its ``ChildShards``. Since writes for a hash key go to the parent until the reshard and to a child after it,
reading parents first returns each partition key's records in the order the stream stored them.
:func:`read_stream` does the same, one shard at a time, so the read order is a single, deterministic list.

It stops reading

* a closed shard at its end (null ``NextShardIterator``), or, on backends that never null the iterator
  (plain moto), when a shard that ListShards reports closed (``EndingSequenceNumber`` present) answers an
  empty page with ``MillisBehindLatest == 0``;
* an open shard when it is caught up (an empty page with ``MillisBehindLatest == 0``) or after
  ``max_empty_polls`` empty pages in a row.

It keeps to the per-shard read limits on the given clock (at most ``limits.SHARD_READ_CALLS_PER_S`` GetRecords
calls per shard per second, and no more than ``limits.SHARD_READ_BYTES_PER_S`` on average), backs off with
jitter on ``ProvisionedThroughputExceededException`` and counts those throttles. Bounds on calls and on
consecutive throttles make it fail with :class:`ReaderBoundError` rather than hang.

It is also the one home of the shard-listing helpers the other modules use: :func:`list_all_shards`,
:func:`open_shards`, :func:`is_closed`, :func:`ending_sequence_number`, :func:`hash_range` and
:func:`stream_kwargs`.

This module imports neither pytest nor moto; ``client`` is a boto3 Kinesis client or anything with the same
``list_shards`` / ``get_shard_iterator`` / ``get_records`` methods.
"""

from __future__ import annotations

import collections
import datetime as _dt
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis.payloads import record_size
from pytest_kinesis_limits.clock import Clock

THROTTLED = "ProvisionedThroughputExceededException"
EXPIRED_ITERATOR = "ExpiredIteratorException"

# Why a shard's read stopped (ShardRead.end_reason).
END_NULL_ITERATOR = "end of shard (NextShardIterator null)"
END_CLOSED_CAUGHT_UP = "closed shard caught up (empty page, MillisBehindLatest 0; iterator never nulled)"
END_CAUGHT_UP = "open shard caught up (empty page, MillisBehindLatest 0)"
END_EMPTY_POLLS = "gave up after max_empty_polls empty pages"


class ReaderBoundError(RuntimeError):
    """A bound of :func:`read_stream` was hit (too many calls, too many throttles in a row, a lineage cycle).

    ``partial`` holds what had been read so far, for diagnosis.
    """

    def __init__(self, message: str, partial: ReadResult) -> None:
        super().__init__(message)
        self.partial = partial


@dataclass(frozen=True)
class ReadRecord:
    """One record as read back: where it was, its sequence number (compare as int), key, data and arrival."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float

    @property
    def sequence_int(self) -> int:
        """The sequence number as an integer (sequence numbers are decimal strings)."""
        return int(self.sequence_number)


@dataclass
class ShardRead:
    """What happened when one shard was read."""

    shard_id: str
    parent_shard_id: str | None = None
    adjacent_parent_shard_id: str | None = None
    closed: bool = False
    ending_sequence_number: str | None = None
    listed: bool = True
    ended: bool = False
    end_reason: str = ""
    records_read: int = 0
    bytes_read: int = 0
    calls: int = 0
    throttles: int = 0
    child_shard_ids: tuple[str, ...] = ()
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def parents(self) -> tuple[str, ...]:
        """The parent shard ids (zero, one after a split, two after a merge)."""
        return tuple(p for p in (self.parent_shard_id, self.adjacent_parent_shard_id) if p)


@dataclass
class ReadResult:
    """Records in read order, per-shard details (in read order) and totals."""

    stream_name: str
    records: list[ReadRecord] = field(default_factory=list)
    shards: dict[str, ShardRead] = field(default_factory=dict)
    shard_order: list[str] = field(default_factory=list)
    calls: int = 0
    throttles: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def closed_shards_ended(self) -> bool:
        """Whether every shard known to be closed was read to its end."""
        return all(s.ended for s in self.shards.values() if s.closed)

    def summary(self) -> str:
        """One line per shard: id, parents, records, calls, throttles and why reading stopped."""
        lines = [f"read {len(self.records)} records from {len(self.shard_order)} shards of {self.stream_name} "
                 f"in {self.calls} GetRecords calls ({self.throttles} throttled)"]
        for sid in self.shard_order:
            s = self.shards[sid]
            parents = "+".join(s.parents) or "-"
            lines.append(f"  {sid} parents={parents} {'closed' if s.closed else 'open'} records={s.records_read} "
                         f"calls={s.calls} throttles={s.throttles}: {s.end_reason}")
        return "\n".join(lines)


def stream_kwargs(stream: str) -> dict[str, str]:
    """The request parameter naming ``stream``: ``StreamARN`` for an ARN, else ``StreamName``."""
    return {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}


def list_all_shards(client: Any, stream_name: str) -> list[dict[str, Any]]:
    """Every shard of ``stream_name`` (a name or an ARN) from ListShards, following ``NextToken``.

    The first call names the stream; the following ones send only ``NextToken``: ListShards refuses both
    together (botocore's ``list_shards`` paginator sends both, see boto/botocore#2009, so it is not used).
    Falls back to DescribeStream (paged by ``ExclusiveStartShardId``) for clients without ListShards.
    """
    if not hasattr(client, "list_shards"):
        return _describe_all_shards(client, stream_name)
    shards: list[dict[str, Any]] = []
    response = client.list_shards(**stream_kwargs(stream_name))
    shards.extend(response.get("Shards", []))
    while response.get("NextToken"):
        response = client.list_shards(NextToken=response["NextToken"])
        shards.extend(response.get("Shards", []))
    return shards


def _describe_all_shards(client: Any, stream_name: str) -> list[dict[str, Any]]:
    shards: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = stream_kwargs(stream_name)
    while True:
        description = client.describe_stream(**kwargs)["StreamDescription"]
        shards.extend(description.get("Shards", []))
        if not description.get("HasMoreShards") or not shards:
            return shards
        kwargs["ExclusiveStartShardId"] = shards[-1]["ShardId"]


def ending_sequence_number(shard: Mapping[str, Any]) -> str | None:
    """A ListShards shard's ``EndingSequenceNumber`` (``None`` while the shard is open)."""
    return (shard.get("SequenceNumberRange") or {}).get("EndingSequenceNumber")


def is_closed(shard: Mapping[str, Any]) -> bool:
    """Whether a ListShards shard is closed: its sequence number range has an ``EndingSequenceNumber``."""
    return ending_sequence_number(shard) is not None


def hash_range(shard: Mapping[str, Any]) -> tuple[int, int]:
    """A ListShards shard's inclusive hash key range as integers."""
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def open_shards(shards: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The open shards of a ListShards ``Shards`` list, ordered by starting hash key."""
    return sorted((s for s in shards if not is_closed(s)), key=lambda s: hash_range(s)[0])


def arrival_seconds(value: Any) -> float:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    return float(value or 0.0)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class _ShardPacer:
    """Keeps one shard's GetRecords calls within ``calls_per_s`` (sliding second) and ``bytes_per_s`` (average)."""

    def __init__(self, clock: Clock, calls_per_s: float, bytes_per_s: float) -> None:
        self.clock = clock
        self.calls_per_s = calls_per_s
        self.bytes_per_s = bytes_per_s
        self.recent: collections.deque[float] = collections.deque()
        self.not_before = 0.0

    def wait(self) -> None:
        """Sleep on the clock until one more call is within the limits, then note the call."""
        window = int(self.calls_per_s) if self.calls_per_s >= 1 else 1
        spacing = 1.0 if self.calls_per_s >= 1 else 1.0 / self.calls_per_s
        now = self.clock.now()
        while self.recent and now - self.recent[0] >= spacing:
            self.recent.popleft()
        ready_at = self.not_before
        if len(self.recent) >= window:
            ready_at = max(ready_at, self.recent[0] + spacing)
        if ready_at > now:
            self.clock.sleep(ready_at - now)
            now = self.clock.now()
            while self.recent and now - self.recent[0] >= spacing:
                self.recent.popleft()
        self.recent.append(now)

    def spent(self, nbytes: int) -> None:
        """Account ``nbytes`` read: the shard's next call waits until they fit the average byte rate."""
        if nbytes and self.bytes_per_s > 0:
            self.not_before = max(self.not_before, self.clock.now()) + nbytes / self.bytes_per_s


def shard_info(shard: Mapping[str, Any]) -> ShardRead:
    return ShardRead(shard_id=shard["ShardId"], parent_shard_id=shard.get("ParentShardId"),
                     adjacent_parent_shard_id=shard.get("AdjacentParentShardId"), closed=is_closed(shard),
                     ending_sequence_number=ending_sequence_number(shard))


def read_stream(
    client: Any,
    stream_name: str,
    *,
    clock: Clock,
    limit: int | None = None,
    iterator_type: str = "TRIM_HORIZON",
    calls_per_s: float | None = None,
    bytes_per_s: float | None = None,
    max_empty_polls: int = 10,
    require_null_iterator: bool = False,
    max_calls: int = 100_000,
    max_consecutive_throttles: int = 20,
    backoff_base_s: float = 0.2,
    backoff_cap_s: float = 5.0,
    rng: random.Random | None = None,
    start_after: Mapping[str, str] | None = None,
) -> ReadResult:
    """Read every shard of ``stream_name``, parents to their end before children, and return what was read.

    ``limit`` is GetRecords' ``Limit`` per call (default: the service's maximum). ``calls_per_s`` and
    ``bytes_per_s`` default to the per-shard read limits of the catalogue; pass lower values to leave room for
    other consumers. Throttled calls are retried after ``backoff_base_s * 2**n`` (capped at ``backoff_cap_s``)
    with full jitter from ``rng`` (seeded, so offline runs repeat). With ``require_null_iterator`` a closed shard
    only counts as ended on a null ``NextShardIterator`` (AWS semantics; its reading then stops only after
    ``max_empty_polls`` empty pages, with ``ended`` false). Raises :class:`ReaderBoundError` when more than
    ``max_calls`` GetRecords calls would be needed, when one call is throttled ``max_consecutive_throttles``
    times in a row, or when the lineage cannot be ordered. ``start_after`` maps shard ids to a sequence number
    to read after (AFTER_SEQUENCE_NUMBER: what a shared stream held before a test began); other shards start at
    ``iterator_type``.
    """
    rng = rng or random.Random(0)
    calls_per_s = calls_per_s or limits.SHARD_READ_CALLS_PER_S.value
    bytes_per_s = bytes_per_s or limits.SHARD_READ_BYTES_PER_S.value

    def read_one(info: ShardRead, result: ReadResult) -> list[dict[str, Any]]:
        return _read_shard(
            client, stream_name, info, result, clock=clock, limit=limit, iterator_type=iterator_type,
            after=(start_after or {}).get(info.shard_id),
            pacer=_ShardPacer(clock, calls_per_s, bytes_per_s), max_empty_polls=max_empty_polls,
            require_null_iterator=require_null_iterator, max_calls=max_calls,
            max_consecutive_throttles=max_consecutive_throttles,
            backoff=(backoff_base_s, backoff_cap_s), rng=rng)

    return read_lineage(client, stream_name, clock, read_one)


def read_lineage(client: Any, stream_name: str, clock: Clock,
                 read_one: Callable[[ShardRead, ReadResult], list[dict[str, Any]]]) -> ReadResult:
    """Read every shard of ``stream_name`` with ``read_one(info, result)``, parents to their end before children,
    following the ChildShards ``read_one`` returns (a child made after ListShards is read too); shared by the polling
    reader and :func:`.fan_out_reader.read_stream_fan_out`. ReaderBoundError when the lineage cannot be ordered."""
    result = ReadResult(stream_name=stream_name, started_at=clock.now())
    known: dict[str, ShardRead] = {}
    for shard in list_all_shards(client, stream_name):
        info = shard_info(shard)
        known[info.shard_id] = info
    done: set[str] = set()

    def ready(info: ShardRead) -> bool:
        # A parent that is not listed (aged out of retention) has nothing left to read.
        return all(p in done or p not in known for p in info.parents)

    while len(done) < len(known):
        candidates = sorted(sid for sid, info in known.items() if sid not in done and ready(info))
        if not candidates:
            pending = sorted(set(known) - done)
            result.finished_at = clock.now()
            raise ReaderBoundError(f"cannot order shards {pending}: their parents never finish (lineage cycle?)",
                                   result)
        info = known[candidates[0]]
        result.shards[info.shard_id] = info
        result.shard_order.append(info.shard_id)
        children = read_one(info, result)
        done.add(info.shard_id)
        for child in children:
            # Follow ChildShards: a child created after ListShards is read too, after all its parents.
            if child["ShardId"] not in known:
                parents = list(child.get("ParentShards") or [info.shard_id])
                known[child["ShardId"]] = ShardRead(
                    shard_id=child["ShardId"], parent_shard_id=parents[0],
                    adjacent_parent_shard_id=parents[1] if len(parents) > 1 else None, listed=False)
    result.finished_at = clock.now()
    return result


def _read_shard(
    client: Any,
    stream_name: str,
    info: ShardRead,
    result: ReadResult,
    *,
    clock: Clock,
    limit: int | None,
    iterator_type: str,
    after: str | None = None,
    pacer: _ShardPacer,
    max_empty_polls: int,
    require_null_iterator: bool,
    max_calls: int,
    max_consecutive_throttles: int,
    backoff: tuple[float, float],
    rng: random.Random,
) -> list[dict[str, Any]]:
    """Read one shard until its end or until caught up; append to ``result``; return its ChildShards."""
    info.started_at = clock.now()
    last_sequence: str | None = after
    iterator: str | None = _fresh_iterator(client, stream_name, info.shard_id, iterator_type, last_sequence)
    empty_polls = 0
    throttled_in_a_row = 0
    children: list[dict[str, Any]] = []
    while True:
        if result.calls >= max_calls:
            info.finished_at = result.finished_at = clock.now()
            raise ReaderBoundError(
                f"read_stream({stream_name!r}) hit max_calls={max_calls} GetRecords calls while reading "
                f"{info.shard_id} ({info.records_read} records from it, {len(result.records)} in all)", result)
        pacer.wait()
        kwargs: dict[str, Any] = {"ShardIterator": iterator}
        if limit is not None:
            kwargs["Limit"] = limit
        result.calls += 1
        info.calls += 1
        try:
            page = client.get_records(**kwargs)
        except ClientError as error:
            code = _error_code(error)
            if code == THROTTLED:
                info.throttles += 1
                result.throttles += 1
                throttled_in_a_row += 1
                if throttled_in_a_row >= max_consecutive_throttles:
                    info.finished_at = result.finished_at = clock.now()
                    raise ReaderBoundError(
                        f"read_stream({stream_name!r}): GetRecords on {info.shard_id} throttled "
                        f"{throttled_in_a_row} times in a row (max_consecutive_throttles)", result) from error
                base, cap = backoff
                clock.sleep(rng.uniform(0.0, min(cap, base * 2 ** (throttled_in_a_row - 1))))
                continue
            if code == EXPIRED_ITERATOR:
                iterator = _fresh_iterator(client, stream_name, info.shard_id, iterator_type, last_sequence)
                continue
            raise
        throttled_in_a_row = 0
        records = page.get("Records") or []
        nbytes = 0
        for raw in records:
            record = ReadRecord(
                shard_id=info.shard_id, sequence_number=str(raw["SequenceNumber"]),
                partition_key=raw.get("PartitionKey", ""), data=bytes(raw.get("Data", b"")),
                arrival=arrival_seconds(raw.get("ApproximateArrivalTimestamp")))
            result.records.append(record)
            nbytes += record_size(record.data, record.partition_key)
            last_sequence = record.sequence_number
        info.records_read += len(records)
        info.bytes_read += nbytes
        pacer.spent(nbytes)
        children.extend(page.get("ChildShards") or [])
        iterator = page.get("NextShardIterator")
        caught_up = not records and page.get("MillisBehindLatest") == 0
        empty_polls = 0 if records else empty_polls + 1
        reason = ""
        if iterator is None:
            info.ended, reason = True, END_NULL_ITERATOR
        elif caught_up and info.closed and not require_null_iterator:
            info.ended, reason = True, END_CLOSED_CAUGHT_UP
        elif caught_up and not info.closed:
            reason = END_CAUGHT_UP
        elif empty_polls >= max_empty_polls:
            reason = END_EMPTY_POLLS
        if reason:
            info.end_reason = reason
            info.child_shard_ids = tuple(dict.fromkeys(c["ShardId"] for c in children))
            info.finished_at = clock.now()
            return children


def _fresh_iterator(client: Any, stream_name: str, shard_id: str, iterator_type: str,
                    last_sequence: str | None) -> str:
    """A new iterator after an expired one: just after the last record read, or where reading began."""
    if last_sequence is None:
        response = client.get_shard_iterator(StreamName=stream_name, ShardId=shard_id,
                                             ShardIteratorType=iterator_type)
    else:
        response = client.get_shard_iterator(StreamName=stream_name, ShardId=shard_id,
                                             ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                             StartingSequenceNumber=last_sequence)
    return str(response["ShardIterator"])
