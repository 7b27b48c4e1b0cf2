"""Provisioning a Kinesis-source Firehose delivery stream to S3: its IAM role, the stream itself, the proof
that it reads its source (canaries), updates, deletion.

Plain library code (boto3 clients and a :class:`~pytest_kinesis_limits.clock.Clock`), the same live and
offline, so that the pytest fixtures only name, tag and finalise. Waiting is bounded and done on the clock
with :func:`pytest_kinesis_limits.firehose.poll_until` (``resources.wait_until`` underneath): botocore has no
Firehose waiter (``boto3.client("firehose").waiter_names == []``). The one hand-written loop is the create
retry, whose pauses double (``wait_until`` polls at a fixed delay).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from . import limits
from .clock import Clock

if TYPE_CHECKING:
    from .firehose import DeliveryResult
    from .resources import BucketInfo, StreamInfo, WaitPolicy

FIREHOSE_PRINCIPAL = "firehose.amazonaws.com"
ROLE_POLICY_NAME = "kinesis-limits-firehose-delivery"
#: Read access Firehose needs on its source stream (writing-with-kinesis-streams.html / controlling-access.html).
SOURCE_ACTIONS = ("kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards")
#: Access Firehose needs on its destination bucket (controlling-access.html, "Grant Firehose access to S3").
BUCKET_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                  "s3:ListBucketMultipartUploads", "s3:PutObject")
#: CreateDeliveryStream refuses a role IAM has not propagated yet with InvalidArgumentException and one of these
#: (shapes seen in the Terraform AWS provider's retry and in field reports: "Firehose is unable to assume role
#: arn:aws:iam::...:role/... Please check the role provided." / "... is not authorized to perform: ...").
PROPAGATION_MESSAGES = ("Firehose is unable to assume role", "is not authorized to perform")


class DeliveryStreamError(RuntimeError):
    """Creating, waiting for or deleting a delivery stream failed or took longer than its bound."""


def _tag_list(tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None) -> list[dict[str, str]]:
    if not tags:
        return []
    if isinstance(tags, Mapping):
        return [{"Key": k, "Value": v} for k, v in tags.items()]
    return [{"Key": t["Key"], "Value": t["Value"]} for t in tags]


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _error_message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "")


# ------------------------------------------------------------------------------------------------ IAM
def firehose_trust_policy() -> dict[str, Any]:
    """The trust policy that lets Firehose assume the role."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": FIREHOSE_PRINCIPAL}, "Action": "sts:AssumeRole"}]}


def firehose_role_policy(stream_arn: str, bucket_arn: str) -> dict[str, Any]:
    """The inline policy: read exactly ``stream_arn``, write exactly ``bucket_arn`` and its objects."""
    if ":stream/" not in stream_arn or not stream_arn.startswith("arn:"):
        raise ValueError(f"not a Kinesis stream ARN: {stream_arn!r}")
    if not bucket_arn.startswith("arn:") or ":s3:::" not in bucket_arn or "/" in bucket_arn:
        raise ValueError(f"not an S3 bucket ARN: {bucket_arn!r}")
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadSourceStream", "Effect": "Allow", "Action": list(SOURCE_ACTIONS), "Resource": [stream_arn]},
        {"Sid": "WriteDestinationBucket", "Effect": "Allow", "Action": list(BUCKET_ACTIONS),
         "Resource": [bucket_arn, f"{bucket_arn}/*"]},
    ]}


def create_firehose_role(iam_client: Any, role_name: str, stream_arn: str, bucket_arn: str,
                         tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None, *,
                         path: str = "/") -> str:
    """Create the role Firehose assumes, with an inline policy scoped to the stream and bucket; return its ARN.

    ``path`` is the role's IAM path (the fixtures use ``sweep.ROLE_PATH`` so that a sweep finds leftovers).
    If putting the policy fails the role is deleted again, so nothing is left half made.
    """
    if len(role_name) > limits.IAM_ROLE_NAME_MAX_CHARS.value:
        raise ValueError(f"role name {role_name!r} is longer than {limits.IAM_ROLE_NAME_MAX_CHARS}")
    policy = firehose_role_policy(stream_arn, bucket_arn)
    kwargs: dict[str, Any] = {"RoleName": role_name, "AssumeRolePolicyDocument": json.dumps(firehose_trust_policy()),
                              "Description": "Firehose delivery role made by pytest-kinesis-limits", "Path": path}
    if tags:
        kwargs["Tags"] = _tag_list(tags)
    arn = iam_client.create_role(**kwargs)["Role"]["Arn"]
    try:
        iam_client.put_role_policy(RoleName=role_name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=json.dumps(policy))
    except Exception:
        iam_client.delete_role(RoleName=role_name)
        raise
    return arn


def delete_firehose_role(iam_client: Any, role_name: str) -> bool:
    """Delete the role with its inline and attached policies; ``False`` if it did not exist."""
    try:
        for name in iam_client.list_role_policies(RoleName=role_name).get("PolicyNames", []):
            iam_client.delete_role_policy(RoleName=role_name, PolicyName=name)
        for attached in iam_client.list_attached_role_policies(RoleName=role_name).get("AttachedPolicies", []):
            iam_client.detach_role_policy(RoleName=role_name, PolicyArn=attached["PolicyArn"])
        iam_client.delete_role(RoleName=role_name)
    except ClientError as exc:
        if _error_code(exc) == "NoSuchEntity":
            return False
        raise
    return True


# ------------------------------------------------------------------------------------ delivery stream
def validate_buffering_hints(buffer_mib: int, buffer_seconds: int) -> None:
    """Raise ``ValueError`` unless both hints are within the documented S3 ranges (limits catalogue)."""
    lo_mib, hi_mib = limits.FIREHOSE_BUFFER_MIB_MIN, limits.FIREHOSE_BUFFER_MIB_MAX
    lo_s, hi_s = limits.FIREHOSE_BUFFER_SECONDS_MIN, limits.FIREHOSE_BUFFER_SECONDS_MAX
    if isinstance(buffer_mib, bool) or not isinstance(buffer_mib, int) or not lo_mib.value <= buffer_mib <= hi_mib.value:
        raise ValueError(f"buffer_mib={buffer_mib!r}: the S3 buffering size hint must be an integer from "
                         f"{lo_mib.value} to {hi_mib.value} MiB ({lo_mib.source})")
    if isinstance(buffer_seconds, bool) or not isinstance(buffer_seconds, int) \
            or not lo_s.value <= buffer_seconds <= hi_s.value:
        raise ValueError(f"buffer_seconds={buffer_seconds!r}: the S3 buffering interval hint must be an integer "
                         f"from {lo_s.value} to {hi_s.value} s ({lo_s.source})")


def s3_destination_config(role_arn: str, bucket_arn: str, buffer_mib: int, buffer_seconds: int,
                          prefix: str | None = None, *, append_delimiter: bool = False) -> dict[str, Any]:
    """The ExtendedS3DestinationConfiguration: uncompressed, the given hints, optional prefix and delimiter."""
    validate_buffering_hints(buffer_mib, buffer_seconds)
    config: dict[str, Any] = {
        "RoleARN": role_arn, "BucketARN": bucket_arn, "CompressionFormat": "UNCOMPRESSED",
        "BufferingHints": {"SizeInMBs": buffer_mib, "IntervalInSeconds": buffer_seconds}}
    if prefix:
        config["Prefix"] = prefix
    if append_delimiter:
        config["ProcessingConfiguration"] = {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]}
    return config


def _is_propagation_error(exc: ClientError) -> bool:
    return _error_code(exc) == "InvalidArgumentException" and any(
        text in _error_message(exc) for text in PROPAGATION_MESSAGES)


def create_delivery_stream(firehose_client: Any, name: str, stream_arn: str, role_arn: str, bucket_arn: str,
                           buffer_mib: int, buffer_seconds: int, prefix: str | None,
                           tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None, clock: Clock,
                           create_timeout_s: float, *, append_delimiter: bool = False, first_backoff_s: float = 1.0,
                           max_backoff_s: float = 10.0, poll_s: float = 5.0) -> dict[str, Any]:
    """Create a Kinesis-source delivery stream to S3 and wait until it is ACTIVE; return its description.

    CreateDeliveryStream is retried, with doubling backoff, only on the IAM-propagation error (a new role that
    Firehose cannot assume yet); everything, retries and the wait, is bounded by ``create_timeout_s`` on
    ``clock``. Raises :class:`DeliveryStreamError` on CREATING_FAILED or when the bound is reached.
    """
    if len(name) > limits.DELIVERY_STREAM_NAME_MAX_CHARS.value:
        raise ValueError(f"delivery stream name {name!r} is longer than {limits.DELIVERY_STREAM_NAME_MAX_CHARS}")
    destination = s3_destination_config(role_arn, bucket_arn, buffer_mib, buffer_seconds, prefix,
                                        append_delimiter=append_delimiter)
    kwargs: dict[str, Any] = {
        "DeliveryStreamName": name, "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {"KinesisStreamARN": stream_arn, "RoleARN": role_arn},
        "ExtendedS3DestinationConfiguration": destination}
    if tags:
        kwargs["Tags"] = _tag_list(tags)
    start = clock.now()
    deadline = start + create_timeout_s
    backoff = first_backoff_s
    attempts = 0
    while True:
        attempts += 1
        try:
            firehose_client.create_delivery_stream(**kwargs)
            break
        except ClientError as exc:
            if not _is_propagation_error(exc):
                raise
            if clock.now() + backoff > deadline:
                raise DeliveryStreamError(
                    f"delivery stream {name!r}: the role was still not usable after {attempts} attempt(s) in "
                    f"{clock.now() - start:.0f} s (bound {create_timeout_s} s): {_error_message(exc)}") from exc
            clock.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)
    return wait_until_active(firehose_client, name, clock, max(0.0, deadline - clock.now()), poll_s)


def wait_until_active(firehose_client: Any, name: str, clock: Clock, timeout_s: float,
                      poll_s: float = 5.0) -> dict[str, Any]:
    """Poll DescribeDeliveryStream until ACTIVE (bounded on ``clock``); return the description."""
    from .firehose import poll_until

    seen: list[dict[str, Any]] = []

    def active() -> bool:
        description = firehose_client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        seen.append(description)
        status = description["DeliveryStreamStatus"]
        if status.endswith("FAILED"):
            raise DeliveryStreamError(f"delivery stream {name!r} is {status}: "
                                      f"{description.get('FailureDescription', {})}")
        return status == "ACTIVE"

    if not poll_until(active, clock, timeout_s, poll_s, f"delivery stream {name} ACTIVE"):
        raise DeliveryStreamError(f"delivery stream {name!r} still {seen[-1]['DeliveryStreamStatus']} after "
                                  f"{timeout_s} s")
    return seen[-1]


def update_destination(firehose_client: Any, name: str, *, buffer_mib: int | None = None,
                       buffer_seconds: int | None = None, prefix: str | None = None) -> int:
    """Change the S3 destination's hints and/or prefix (UpdateDestination); return the new version number."""
    description = firehose_client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    destination = description["Destinations"][0]
    current = destination.get("ExtendedS3DestinationDescription") or destination.get("S3DestinationDescription", {})
    hints = dict(current.get("BufferingHints") or {})
    hints.setdefault("SizeInMBs", limits.FIREHOSE_BUFFER_MIB_DEFAULT.value)
    hints.setdefault("IntervalInSeconds", limits.FIREHOSE_BUFFER_SECONDS_DEFAULT.value)
    if buffer_mib is not None:
        hints["SizeInMBs"] = buffer_mib
    if buffer_seconds is not None:
        hints["IntervalInSeconds"] = buffer_seconds
    validate_buffering_hints(hints["SizeInMBs"], hints["IntervalInSeconds"])
    update: dict[str, Any] = {"BufferingHints": hints}
    if prefix is not None:
        update["Prefix"] = prefix
    firehose_client.update_destination(
        DeliveryStreamName=name, CurrentDeliveryStreamVersionId=description["VersionId"],
        DestinationId=destination["DestinationId"], ExtendedS3DestinationUpdate=update)
    after = firehose_client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    return int(after["VersionId"])


def _exists(firehose_client: Any, name: str) -> str | None:
    """The delivery stream's status, or ``None`` once it is gone."""
    try:
        return str(firehose_client.describe_delivery_stream(
            DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"])
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def delete_delivery_stream(firehose_client: Any, name: str, clock: Clock, timeout_s: float,
                           poll_s: float = 5.0) -> bool:
    """Delete the delivery stream and wait (bounded) until it is gone; ``False`` if it did not exist."""
    from .firehose import poll_until

    try:
        firehose_client.delete_delivery_stream(DeliveryStreamName=name)
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return False
        raise
    if not poll_until(lambda: _exists(firehose_client, name) is None, clock, timeout_s, poll_s,
                      f"delivery stream {name} deleted"):
        raise DeliveryStreamError(f"delivery stream {name!r} still exists {timeout_s} s after deletion")
    return True


def delete_delivery_stream_when_created(firehose_client: Any, name: str, clock: Clock, policy: WaitPolicy) -> bool:
    """Delete once the stream has left CREATING (DeleteDeliveryStream refuses CREATING) and wait until it is
    gone, all within the policy's span (``delay × attempts``); ``False`` if it did not exist."""
    from .firehose import poll_until

    span = policy.delay * policy.attempts
    deadline = clock.now() + span
    poll_until(lambda: _exists(firehose_client, name) != "CREATING", clock, span, policy.delay,
               f"delivery stream {name} out of CREATING")
    return delete_delivery_stream(firehose_client, name, clock, max(0.0, deadline - clock.now()),
                                  poll_s=policy.delay)


# ------------------------------------------------------------------------- hand-over: proven to be reading
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
        from .firehose import NEWLINE_DELIMITER

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
    from .payloads import encode_json

    return encode_json({CANARY_FIELD: delivery_stream, "shard": shard_id, "attempt": attempt})


def write_canaries(kinesis_client: Any, stream_name: str, delivery_stream: str, *,
                   shards: Iterable[Any] | None = None, attempt: int = 0) -> dict[str, bytes]:
    """Write one canary to every open shard of ``stream_name`` (or to ``shards``, ``keys.ShardRange``s of it),
    with ExplicitHashKey = the shard's first hash key; return ``{shard id: canary bytes}``."""
    from .keys import open_shard_ranges

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


def prove_reading(kinesis_client: Any, s3_client: Any, stream_name: str, bucket: str, delivery_stream: str,
                  clock: Clock, timeout_s: float, poll_s: float) -> ReadingProof:
    """Show that ``delivery_stream`` reads ``stream_name``: a canary per open shard, rewritten on every poll
    until one canary of each shard is in some object of ``bucket``.

    A delivery stream starts reading at LATEST some time after ACTIVE; a canary written before that is never
    delivered, so the canaries of shards still missing are written again (a new ``attempt`` each) at every
    poll after the first, until one arrives or ``timeout_s`` passes on ``clock`` (then
    ``DeliveryStreamError``, naming the shards). Raw bytes are matched, not decoded records, so a broken body
    format fails a test's own verdict, not this setup. Canaries written after the one that arrived may be
    delivered later, in the test's objects: :func:`without_canaries` and ``DeliveryStreamInfo.record_id``
    keep them out of results.
    """
    from .firehose import list_delivered, poll_until
    from .keys import open_shard_ranges

    start = clock.now()
    shards = {shard.shard_id: shard for shard in open_shard_ranges(kinesis_client, stream_name)}
    written: dict[str, list[bytes]] = {sid: [data] for sid, data in write_canaries(
        kinesis_client, stream_name, delivery_stream, shards=shards.values()).items()}
    last_write = [clock.now()]
    polls: list[list[str]] = []
    arrived: set[str] = set()

    def every_shard_read() -> bool:
        objects = list_delivered(s3_client, bucket, decode="raw")
        polls.append([o.key for o in objects])
        arrived.update(sid for sid, canaries in written.items()
                       if any(c in o.body for c in canaries for o in objects))
        missing = [sid for sid in written if sid not in arrived]
        if missing and clock.now() - last_write[0] >= poll_s:
            for sid, data in write_canaries(kinesis_client, stream_name, delivery_stream,
                                            shards=[shards[sid] for sid in missing], attempt=len(polls)).items():
                written[sid].append(data)
            last_write[0] = clock.now()
        return not missing

    if not poll_until(every_shard_read, clock, timeout_s, poll_s, f"canaries of {delivery_stream}"):
        missing = sorted(sid for sid in written if sid not in arrived)
        raise DeliveryStreamError(
            f"s3://{bucket}: no canary record of {len(missing)} of {len(written)} shard(s) ({', '.join(missing)}) "
            f"delivered within {timeout_s:g} s ({sum(map(len, written.values()))} written, rewritten every "
            f"{poll_s:g} s): the delivery stream is not reading its source (on plain moto nothing ever reads "
            f"it: use --kinesis-fidelity=on)")
    return ReadingProof(keys=polls[-1], canaries_written=sum(map(len, written.values())), polls=len(polls),
                        waited_s=clock.now() - start)


def without_canaries(result: DeliveryResult, delivery: DeliveryStreamInfo, identify: Callable[[Any], Hashable],
                     expected_ids: Iterable[Hashable],
                     send_times: Mapping[Hashable, float] | None = None) -> DeliveryResult:
    """``result`` recomputed without the hand-over objects, without objects holding only canaries (late
    rewrites) and without canary records in its counts; the remaining objects keep their bodies as read."""
    from .firehose import compare_delivery

    objects = [o for o in result.objects if o.key not in delivery.canary_keys
               and not (o.records and all(is_canary(r) for r in o.records))]
    ids = (lambda r: CANARY if is_canary(r) else identify(r))
    clean = compare_delivery(objects, expected_ids, ids, send_times, timed_out=result.timed_out,
                             waited_s=result.waited_s, polls=result.polls)
    clean.unexpected = [u for u in clean.unexpected if u != CANARY]
    clean.duplicates.pop(CANARY, None)
    clean.located.pop(CANARY, None)
    return clean
