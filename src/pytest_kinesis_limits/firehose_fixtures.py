"""Firehose fixtures: a Kinesis-source delivery stream to S3, provisioned, proven to be reading, cleaned up.

``make_delivery_stream`` creates, live and offline alike, the IAM role Firehose assumes (path
``sweep.ROLE_PATH``, the run's tags, an inline policy scoped to exactly the source stream's and the bucket's
ARNs), then the delivery stream (IAM propagation ridden out, waited until ACTIVE), and hands it over only once
it is really reading its source: a delivery stream starts reading at LATEST, so records written before it
reads are never delivered. The proof is a *canary*: one small JSON record per open source shard, written
after ACTIVE; the fixture waits (bounded) until every canary is in an S3 object. The objects that exist at
hand-over (the canaries') are remembered in ``DeliveryStreamInfo.canary_keys`` and ``wait_for_delivery``
leaves them out of every result, so tests see only their own records.

Offline the same code runs against moto with the delivery simulation (applied with the Kinesis fidelity
layer per test by ``offline.activate_all``). With ``--kinesis-fidelity=off`` nothing reads the source, the
canary never arrives and the fixture raises ``firehose_provision.DeliveryStreamError`` after its bound
(simulated seconds): that is plain moto's documented gap.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from . import limits

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from . import firehose as fh

    from .clock import Clock
    from .resources import BucketInfo, Namer, ResourceTracker, StreamInfo, WaitPolicy

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
    """Clock seconds from the CreateDeliveryStream call to the last canary's arrival."""

    @property
    def delimiter(self) -> bytes | None:
        """What follows each record in an object: ``\\n`` with AppendDelimiterToRecord, else nothing."""
        from .firehose import NEWLINE_DELIMITER

        return NEWLINE_DELIMITER if self.append_delimiter else None

    def is_canary(self, record: Any) -> bool:
        """Whether a decoded record is one of this fixture's canaries."""
        return isinstance(record, dict) and CANARY_FIELD in record


def canary_record(delivery_stream: str, shard_id: str) -> bytes:
    """The canary's bytes: compact JSON naming the delivery stream and the shard it was written to."""
    from .payloads import encode_json

    return encode_json({CANARY_FIELD: delivery_stream, "shard": shard_id})


def write_canaries(kinesis_client: BaseClient, stream: StreamInfo, delivery_stream: str) -> list[bytes]:
    """Write one canary to every open shard of ``stream`` (ExplicitHashKey = the shard's first hash key)."""
    from .keys import open_shard_ranges

    written = []
    for shard in open_shard_ranges(kinesis_client, stream.name):
        data = canary_record(delivery_stream, shard.shard_id)
        kinesis_client.put_record(StreamName=stream.name, Data=data, PartitionKey="canary",
                                  ExplicitHashKey=str(shard.start))
        written.append(data)
    return written


def wait_for_canaries(s3_client: BaseClient, bucket: str, canaries: Iterable[bytes], clock: Clock,
                      timeout_s: float, poll_s: float) -> list[str]:
    """Poll the bucket until every canary's bytes are in some object; return the keys present then.

    Matching raw bytes (not decoded records) keeps readiness independent of the body format, so a test
    about the format fails on its own verdict rather than in this setup. Raises ``DeliveryStreamError`` at
    the bound, naming how many canaries are missing.
    """
    from .firehose import list_delivered
    from .firehose_provision import DeliveryStreamError

    wanted = list(canaries)
    deadline = clock.now() + timeout_s
    while True:
        objects = list_delivered(s3_client, bucket, decode="raw")
        missing = [c for c in wanted if not any(c in o.body for o in objects)]
        if not missing:
            return [o.key for o in objects]
        now = clock.now()
        if now >= deadline:
            raise DeliveryStreamError(
                f"s3://{bucket}: {len(missing)} of {len(wanted)} canary record(s) not delivered within "
                f"{timeout_s:g} s, e.g. {missing[0]!r}: the delivery stream is not reading its source (on "
                f"plain moto nothing ever reads it: use --kinesis-fidelity=on)")
        clock.sleep(min(poll_s, deadline - now))


def delivery_bound_s(buffer_seconds: int, policy: WaitPolicy) -> float:
    """How long to wait for a record to be delivered: the interval hint plus the wait policy's whole span."""
    return buffer_seconds + policy.delay * policy.attempts


def delivery_poll_s(policy: WaitPolicy, buffer_seconds: int = 0) -> float:
    """How often to look for delivered objects: the wait policy's delay, but at least one read period of the
    delivery stream and a tenth of its interval hint.

    Firehose reads each source shard once a second (catalogue) and writes at most once per interval, so
    polling faster learns nothing; latencies come from the objects' LastModified, not from the polls.
    """
    return max(policy.delay, 1.0 / limits.FIREHOSE_SOURCE_READS_PER_S.value, buffer_seconds / 10)


def _delete_delivery_stream(client: BaseClient, name: str, clock: Clock, policy: WaitPolicy) -> None:
    """Delete once the stream has left CREATING (DeleteDeliveryStream refuses CREATING), bounded; wait till gone."""
    from botocore.exceptions import ClientError

    from .firehose import delete_delivery_stream

    deadline = clock.now() + policy.delay * policy.attempts
    while True:
        try:
            status = client.describe_delivery_stream(
                DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return
            raise
        if status != "CREATING" or clock.now() >= deadline:
            break
        clock.sleep(policy.delay)
    delete_delivery_stream(client, name, clock, max(0.0, deadline - clock.now()), poll_s=policy.delay)


def without_canaries(result: fh.DeliveryResult, delivery: DeliveryStreamInfo,
                     identify: Callable[[Any], Hashable], expected_ids: Iterable[Hashable],
                     send_times: Mapping[Hashable, float] | None) -> fh.DeliveryResult:
    """``result`` recomputed without the hand-over objects and without canary records anywhere."""
    from .firehose import compare_delivery

    objects = [o for o in result.objects if o.key not in delivery.canary_keys]
    ids = (lambda r: CANARY if delivery.is_canary(r) else identify(r))
    clean = compare_delivery(objects, expected_ids, ids, send_times, timed_out=result.timed_out,
                                waited_s=result.waited_s, polls=result.polls)
    clean.unexpected = [u for u in clean.unexpected if u != CANARY]
    clean.duplicates.pop(CANARY, None)
    return clean


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def make_delivery_stream(
    firehose_client: BaseClient,
    iam_client: BaseClient,
    kinesis_client: BaseClient,
    s3_client: BaseClient,
    kinesis_namer: Namer,
    kinesis_tags: dict[str, str],
    kinesis_clock: Clock,
    kinesis_wait_policy: WaitPolicy,
    kinesis_resources: ResourceTracker,
) -> Callable[..., DeliveryStreamInfo]:
    """Factory: ``make_delivery_stream(source_stream, bucket, buffer_mib=1, buffer_seconds=0, prefix=None,
    append_delimiter=False)`` -> DeliveryStreamInfo.

    Makes the IAM role (path ``/pytest-kinesis-limits/``, tagged, policy scoped to exactly the stream's and
    bucket's ARNs) and a Kinesis-source delivery stream to S3 (uncompressed; the defaults are the shortest
    buffering S3 allows), retrying only IAM's propagation error, waits until ACTIVE, then writes a canary to
    each open source shard and waits (bounded) until all are in S3, so the stream handed over is really
    reading (it starts at LATEST). Delivery stream, then role and policy, are deleted at teardown, also
    after failures. Offline it runs on moto with the delivery simulation; with --kinesis-fidelity=off the
    canaries never arrive and it raises DeliveryStreamError.
    """
    from .firehose_provision import (create_delivery_stream, create_firehose_role, delete_firehose_role,
                                     validate_buffering_hints)
    from .sweep import ROLE_PATH

    span = kinesis_wait_policy.delay * kinesis_wait_policy.attempts

    def make(source_stream: StreamInfo, bucket: BucketInfo,
             buffer_mib: int = limits.FIREHOSE_BUFFER_MIB_MIN.value,
             buffer_seconds: int = limits.FIREHOSE_BUFFER_SECONDS_MIN.value,
             prefix: str | None = None, append_delimiter: bool = False) -> DeliveryStreamInfo:
        validate_buffering_hints(buffer_mib, buffer_seconds)
        role_name = kinesis_namer.name("fhr")
        name = kinesis_namer.name("fh")
        kinesis_resources.add("role", role_name, lambda: delete_firehose_role(iam_client, role_name))
        role_arn = create_firehose_role(iam_client, role_name, source_stream.arn, bucket.arn, kinesis_tags,
                                        path=ROLE_PATH)
        kinesis_resources.add("delivery-stream", name, lambda: _delete_delivery_stream(
            firehose_client, name, kinesis_clock, kinesis_wait_policy))
        started = kinesis_clock.now()
        description = create_delivery_stream(
            firehose_client, name, source_stream.arn, role_arn, bucket.arn, buffer_mib, buffer_seconds, prefix,
            kinesis_tags, kinesis_clock, span, append_delimiter=append_delimiter,
            poll_s=kinesis_wait_policy.delay)
        canaries = write_canaries(kinesis_client, source_stream, name)
        keys = wait_for_canaries(s3_client, bucket.name, canaries, kinesis_clock,
                                 delivery_bound_s(buffer_seconds, kinesis_wait_policy),
                                 delivery_poll_s(kinesis_wait_policy, buffer_seconds))
        return DeliveryStreamInfo(
            name=name, arn=description["DeliveryStreamARN"], version=int(description["VersionId"]),
            source=source_stream, bucket=bucket, role_name=role_name, role_arn=role_arn, buffer_mib=buffer_mib,
            buffer_seconds=buffer_seconds, prefix=prefix, append_delimiter=append_delimiter,
            canary_keys=frozenset(keys), ready_after_s=kinesis_clock.now() - started)

    return make


@pytest.fixture
def firehose_delivery_stream(make_delivery_stream: Callable[..., DeliveryStreamInfo], kinesis_stream: StreamInfo,
                             s3_bucket: BucketInfo) -> DeliveryStreamInfo:
    """A delivery stream reading ``kinesis_stream`` into ``s3_bucket`` with the shortest buffering (1 MiB, 0 s),
    already proven to be reading (see ``make_delivery_stream``); deleted after the test."""
    return make_delivery_stream(kinesis_stream, s3_bucket)


@pytest.fixture
def wait_for_delivery(s3_client: BaseClient, kinesis_clock: Clock, kinesis_wait_policy: WaitPolicy
                      ) -> Callable[..., fh.DeliveryResult]:
    """Factory: ``wait_for_delivery(delivery, expected_ids, identify, *, send_times=None, timeout_s=None)``
    -> DeliveryResult.

    Polls the delivery stream's bucket until every expected id arrived or the bound passed (default: the
    interval hint plus the wait policy's span), checking keys against the documented format (name, prefix)
    and bodies against the configured delimiter. The canary objects and records are left out. Never raises
    on a timeout: the result says what is missing, duplicated (at-least-once) or malformed.
    """
    from .firehose import wait_for_records

    def wait(delivery: DeliveryStreamInfo, expected_ids: Iterable[Hashable], identify: Callable[[Any], Hashable],
             *, send_times: Mapping[Hashable, float] | None = None,
             timeout_s: float | None = None) -> fh.DeliveryResult:
        wanted = list(expected_ids)
        bound = delivery_bound_s(delivery.buffer_seconds, kinesis_wait_policy) if timeout_s is None else timeout_s
        result = wait_for_records(
            s3_client, delivery.bucket.name, wanted,
            lambda r: CANARY if delivery.is_canary(r) else identify(r), kinesis_clock, bound,
            delivery_poll_s(kinesis_wait_policy, delivery.buffer_seconds), stream_name=delivery.name,
            key_prefix=delivery.prefix, delimiter=delivery.delimiter, send_times=send_times)
        return without_canaries(result, delivery, identify, wanted, send_times)

    return wait
