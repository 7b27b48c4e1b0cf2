"""The hand-over: a delivery stream proven to be reading its source (canaries), and results without them.

The last layer of :mod:`pytest_kinesis_limits.firehose` for the S3 destination (uses :mod:`.objects`,
:mod:`.delivery` and :mod:`.provision`). A delivery stream starts reading its source at LATEST some time after
ACTIVE; :func:`prove_reading` writes a canary per open shard until one of each is in the bucket, and
:func:`without_canaries` keeps them out of a test's results.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.kinesis.key_spread import open_shard_ranges
from pytest_kinesis_limits.kinesis.payloads import encode_json
from pytest_kinesis_limits.kinesis.resources import BucketInfo, StreamInfo
from pytest_kinesis_limits.firehose.delivery import DeliveryResult, compare_delivery, poll_until
from pytest_kinesis_limits.firehose.objects import NEWLINE_DELIMITER, list_delivered
from pytest_kinesis_limits.firehose.provision import DeliveryStreamError

#: The field that marks a canary record (its value is the delivery stream's name).
CANARY_FIELD = "pytest-kinesis-limits-canary"
#: Stands for any canary record in results (never a test's own id).
CANARY = ("pytest-kinesis-limits", "canary")


@dataclass(frozen=True)
class DeliveryStreamInfo:
    """A delivery stream made by ``make_delivery_stream``, reading ``source`` and writing to ``bucket``."""

    name: str
    arn: str
    version: int
    """DeliveryStreamVersion at hand-over (the catalogue's first version, unless updated)."""
    source: StreamInfo
    bucket: BucketInfo
    role_name: str
    role_arn: str
    buffer_mib: int
    buffer_seconds: int
    prefix: str | None
    append_delimiter: bool
    canary_keys: frozenset[str]
    """Keys of the objects in the bucket at hand-over (the canaries'); left out of ``wait_for_delivery``."""
    ready_after_s: float
    """Clock seconds from the CreateDeliveryStream call to the first canary's arrival on every shard."""
    canaries_written: int = 0
    """Canary records written before every shard's first one arrived (one per shard per poll)."""

    @property
    def delimiter(self) -> bytes | None:
        """What follows each record in an object: ``\\n`` with AppendDelimiterToRecord, else nothing."""
        return NEWLINE_DELIMITER if self.append_delimiter else None

    def is_canary(self, record: Any) -> bool:
        """Whether a decoded record is one of the fixtures' canaries."""
        return is_canary(record)

    def record_id(self, identify: Callable[[Any], Hashable]) -> Callable[[Any], Hashable]:
        """``identify`` for a test's records, :func:`canary_id` for canaries (each canary its own id)."""
        return lambda record: canary_id(record) if is_canary(record) else identify(record)


def is_canary(record: Any) -> bool:
    """Whether a decoded record is a canary."""
    return isinstance(record, dict) and CANARY_FIELD in record


def canary_id(record: Mapping[str, Any]) -> Hashable:
    """A canary's own id: (CANARY_FIELD, shard, attempt)."""
    return (CANARY_FIELD, record.get("shard"), record.get("attempt"))


def canary_record(delivery_stream: str, shard_id: str, attempt: int = 0) -> bytes:
    """The canary's bytes: compact JSON naming the delivery stream, the shard it is written to and the
    attempt (so that each rewrite is distinct)."""
    return encode_json({CANARY_FIELD: delivery_stream, "shard": shard_id, "attempt": attempt})


def write_canaries(kinesis_client: Any, stream_name: str, delivery_stream: str, *,
                   shards: Iterable[Any] | None = None, attempt: int = 0) -> dict[str, bytes]:
    """Write one canary to every open shard of ``stream_name`` (or to ``shards``, ``keys.ShardRange``s of it),
    with ExplicitHashKey = the shard's first hash key; return ``{shard id: canary bytes}``."""
    written = {}
    for shard in open_shard_ranges(kinesis_client, stream_name) if shards is None else shards:
        data = canary_record(delivery_stream, shard.shard_id, attempt)
        kinesis_client.put_record(StreamName=stream_name, Data=data, PartitionKey="canary",
                                  ExplicitHashKey=str(shard.start))
        written[shard.shard_id] = data
    return written


@dataclass
class ReadingProof:
    """What :func:`prove_reading` saw: the keys in the bucket once every shard's canary had arrived."""

    keys: list[str]
    canaries_written: int
    polls: int
    waited_s: float


def canary_handover(kinesis_client: Any, stream_name: str, delivery_stream: str, clock: Clock, timeout_s: float,
                    poll_s: float, arrived: Callable[[dict[str, list[bytes]]], Iterable[str]],
                    failure: Callable[[list[str], int, int], str]) -> tuple[int, int, float]:
    """The hand-over both destinations prove: a canary per open shard of ``stream_name``, then at every poll
    ``arrived(written)`` (``{shard id: canaries written to it}``) names the shards one of whose canaries reached the
    destination, and the canaries of the shards still missing are written again (a new ``attempt`` each) once
    ``poll_s`` has passed since the last write. A delivery stream starts reading at LATEST some time after ACTIVE, so
    a canary written before that is never delivered. Bounded by ``timeout_s`` on ``clock``: then
    :class:`DeliveryStreamError` with ``failure(missing shard ids, shards, canaries written)``. Returns the canaries written,
    the polls and the seconds waited."""
    start = clock.now()
    shards = {shard.shard_id: shard for shard in open_shard_ranges(kinesis_client, stream_name)}
    written: dict[str, list[bytes]] = {sid: [data] for sid, data in write_canaries(
        kinesis_client, stream_name, delivery_stream, shards=shards.values()).items()}
    last_write = [clock.now()]
    polls = [0]
    seen: set[str] = set()

    def every_shard_arrived() -> bool:
        polls[0] += 1
        seen.update(arrived(written))
        missing = [sid for sid in written if sid not in seen]
        if missing and clock.now() - last_write[0] >= poll_s:
            for sid, data in write_canaries(kinesis_client, stream_name, delivery_stream,
                                            shards=[shards[sid] for sid in missing], attempt=polls[0]).items():
                written[sid].append(data)
            last_write[0] = clock.now()
        return not missing

    count = lambda: sum(map(len, written.values()))  # noqa: E731
    if not poll_until(every_shard_arrived, clock, timeout_s, poll_s, f"canaries of {delivery_stream}"):
        raise DeliveryStreamError(failure(sorted(sid for sid in written if sid not in seen), len(written), count()))
    return count(), polls[0], clock.now() - start


def prove_reading(kinesis_client: Any, s3_client: Any, stream_name: str, bucket: str, delivery_stream: str,
                  clock: Clock, timeout_s: float, poll_s: float) -> ReadingProof:
    """Show that ``delivery_stream`` reads ``stream_name``: :func:`canary_handover` until one canary of each open
    shard is in some object of ``bucket``. Raw bytes are matched, not decoded records, so a broken body format fails
    a test's own verdict, not this setup. Canaries written after the one that arrived may be delivered later, in the
    test's objects: :func:`without_canaries` and ``DeliveryStreamInfo.record_id`` keep them out of results.
    """
    keys: list[str] = []

    def in_bucket(written: dict[str, list[bytes]]) -> list[str]:
        objects = list_delivered(s3_client, bucket, decode="raw")
        keys[:] = [o.key for o in objects]
        return [sid for sid, canaries in written.items() if any(c in o.body for c in canaries for o in objects)]

    def failure(missing: list[str], shards: int, count: int) -> str:
        return (f"s3://{bucket}: no canary record of {len(missing)} of {shards} shard(s) ({', '.join(missing)}) "
                f"delivered within {timeout_s:g} s ({count} written, rewritten every {poll_s:g} s): the delivery "
                "stream is not reading its source (on plain moto nothing ever reads it: use --kinesis-fidelity=on)")

    written, polls, waited = canary_handover(kinesis_client, stream_name, delivery_stream, clock, timeout_s, poll_s,
                                             in_bucket, failure)
    return ReadingProof(keys=keys, canaries_written=written, polls=polls, waited_s=waited)


def without_canaries(result: DeliveryResult, delivery: DeliveryStreamInfo, identify: Callable[[Any], Hashable],
                     expected_ids: Iterable[Hashable],
                     send_times: Mapping[Hashable, float] | None = None) -> DeliveryResult:
    """``result`` recomputed without the hand-over objects, without objects holding only canaries (late
    rewrites) and without canary records in its counts; the remaining objects keep their bodies as read."""
    objects = [o for o in result.objects if o.key not in delivery.canary_keys
               and not (o.records and all(is_canary(r) for r in o.records))]
    ids = (lambda r: CANARY if is_canary(r) else identify(r))
    clean = compare_delivery(objects, expected_ids, ids, send_times, timed_out=result.timed_out,
                             waited_s=result.waited_s, polls=result.polls)
    clean.unexpected = [u for u in clean.unexpected if u != CANARY]
    clean.duplicates.pop(CANARY, None)
    clean.located.pop(CANARY, None)
    return clean
