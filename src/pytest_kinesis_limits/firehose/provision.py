"""Provisioning a Kinesis-source Firehose delivery stream: its IAM role, the stream itself, updates, deletion.

The third layer of :mod:`pytest_kinesis_limits.firehose` (uses :mod:`.delivery`). Plain library code (boto3
clients and a :class:`~pytest_kinesis_limits.clock.Clock`), the same live and offline, so that the pytest
fixtures only name, tag and finalise. Waiting is bounded and done on the clock with
:func:`~pytest_kinesis_limits.firehose.delivery.poll_until` (``resources.wait_until`` underneath): botocore has
no Firehose waiter (``boto3.client("firehose").waiter_names == []``). The one hand-written loop is the create
retry, whose pauses double (``wait_until`` polls at a fixed delay).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.kinesis.resources import WaitPolicy
from pytest_kinesis_limits.firehose.delivery import poll_until

FIREHOSE_PRINCIPAL = "firehose.amazonaws.com"
ROLE_POLICY_NAME = "kinesis-limits-firehose-delivery"
#: Read access Firehose needs on its source stream (writing-with-kinesis-streams.html / controlling-access.html).
SOURCE_ACTIONS = ("kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards")
#: Access Firehose needs on its destination bucket (controlling-access.html, "Grant Firehose access to S3").
BUCKET_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                  "s3:ListBucketMultipartUploads", "s3:PutObject")
#: What Firehose does on an OpenSearch Service domain it delivers to (controlling-access.html). Both spellings of the
#: describe actions: the AmazonopensearchserviceDestinationConfiguration model names DescribeElasticsearchDomain*,
#: its update shapes DescribeDomain* (issue 20, item 6).
SEARCH_WRITE_ACTIONS = ("es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig",
                        "es:DescribeElasticsearchDomain", "es:DescribeElasticsearchDomains",
                        "es:DescribeElasticsearchDomainConfig", "es:ESHttpPost", "es:ESHttpPut")
SEARCH_READ_ACTIONS = ("es:ESHttpGet",)
#: Every action a role this tool makes for Firehose grants: a refusal naming one of them is IAM propagation,
#: a refusal naming another is a permission the role lacks (see :func:`is_propagation_error`).
#: (sts:AssumeRole: the trust policy lets Firehose assume the role.)
GRANTED_ACTIONS = frozenset(("sts:AssumeRole",) + SOURCE_ACTIONS + BUCKET_ACTIONS + SEARCH_WRITE_ACTIONS
                            + SEARCH_READ_ACTIONS)
#: CreateDeliveryStream refuses a role IAM has not propagated yet with InvalidArgumentException and one of these
#: wordings (AWS documents none of them; each was seen while a new role had not propagated):
#:
#: * "Firehose is unable to assume role arn:aws:iam::...:role/.... Please check the role provided." (the trust
#:   policy not visible yet; hashicorp/terraform#4407, the Terraform AWS provider retries it);
#: * "The security token included in the request is invalid. Ensure that the provided IAM role associated with
#:   firehose is not deleted." (the same case, worded so since 2026; hashicorp/terraform-provider-aws#47937);
#: * "Role arn:aws:iam::...:role/... is not authorized to perform: kinesis:DescribeStream on resource ..." (the
#:   role's policy not visible yet; aws/aws-cdk#5221, retried by the Terraform AWS provider as "is not
#:   authorized to").
#:
#: Only InvalidArgumentException carrying one of them is retried: the same "security token" text with
#: UnrecognizedClientException is the caller's own credentials, and any other refusal is a real error.
PROPAGATION_MESSAGES = ("Firehose is unable to assume role", "The security token included in the request is invalid",
                        "is not authorized to perform")
#: The error code Firehose uses for a role it cannot use yet.
PROPAGATION_ERROR_CODE = "InvalidArgumentException"


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


# ----------------------------------------------------------------------------------------------- ARNs
def arn_partition(arn: str) -> str:
    """The partition of ``arn`` (``aws``, ``aws-cn``, ``aws-us-gov``, ...): its second field."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        raise ValueError(f"not an ARN: {arn!r} (expected arn:<partition>:<service>:<region>:<account>:<resource>)")
    return parts[1]


def s3_bucket_arn(bucket: str, partition: str) -> str:
    """The ARN of S3 bucket ``bucket`` in ``partition`` (bucket ARNs have no region or account)."""
    if not bucket or "/" in bucket or ":" in bucket:
        raise ValueError(f"not an S3 bucket name: {bucket!r}")
    return f"arn:{partition}:s3:::{bucket}"


def bucket_arn_for(stream_arn: str, bucket: str, bucket_arn: str | None = None) -> str:
    """The ARN of ``bucket`` in ``stream_arn``'s partition, where Firehose will look for it.

    ``bucket_arn`` (e.g. ``BucketInfo.arn``) is checked against it: a bucket ARN in another partition than the
    stream (``arn:aws:s3:::`` beside an ``arn:aws-cn:kinesis:`` stream) raises ``ValueError`` naming both.
    """
    wanted = s3_bucket_arn(bucket, arn_partition(stream_arn))
    if bucket_arn is not None and bucket_arn != wanted:
        raise ValueError(f"bucket ARN {bucket_arn!r} is not {wanted!r}: a delivery stream reads {stream_arn} "
                         f"and writes to a bucket of the same partition ({arn_partition(stream_arn)})")
    return wanted


# ------------------------------------------------------------------------------------------------ IAM
def firehose_trust_policy() -> dict[str, Any]:
    """The trust policy that lets Firehose assume the role."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": FIREHOSE_PRINCIPAL}, "Action": "sts:AssumeRole"}]}


def firehose_role_policy(stream_arn: str, bucket_arn: str) -> dict[str, Any]:
    """The inline policy: read exactly ``stream_arn``, write exactly ``bucket_arn`` and its objects.

    Both ARNs must be in the same partition (the stream's): a policy naming ``arn:aws:s3:::`` for a stream in
    ``aws-cn`` would grant nothing there.
    """
    if ":stream/" not in stream_arn or not stream_arn.startswith("arn:"):
        raise ValueError(f"not a Kinesis stream ARN: {stream_arn!r}")
    if not bucket_arn.startswith("arn:") or ":s3:::" not in bucket_arn or "/" in bucket_arn:
        raise ValueError(f"not an S3 bucket ARN: {bucket_arn!r}")
    if arn_partition(bucket_arn) != arn_partition(stream_arn):
        raise ValueError(f"the bucket ARN {bucket_arn!r} is in partition {arn_partition(bucket_arn)!r}, the stream "
                         f"{stream_arn!r} in {arn_partition(stream_arn)!r}: build the bucket ARN in the stream's "
                         f"partition (firehose.bucket_arn_for)")
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


def s3_buffering_hints(s3_config: Mapping[str, Any]) -> tuple[int, int]:
    """An S3 destination's (or a search destination's S3 backup's) buffering hints as (MiB, seconds), each the
    catalogue's default where ``BufferingHints`` leaves it out (as Firehose does)."""
    hints = s3_config.get("BufferingHints") or {}
    return (int(hints.get("SizeInMBs", limits.FIREHOSE_BUFFER_MIB_DEFAULT.value)),
            int(hints.get("IntervalInSeconds", limits.FIREHOSE_BUFFER_SECONDS_DEFAULT.value)))


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


_NOT_AUTHORIZED = re.compile(r"is not authorized to perform:?\s*([\w-]+:[\w*]+)", re.IGNORECASE)


def missing_action(exc: ClientError, granted: Collection[str] = GRANTED_ACTIONS) -> str | None:
    """The action a refusal says the role may not perform, when the role's policies do not grant it (a permission
    that is missing, not one that has not propagated yet); None otherwise."""
    match = _NOT_AUTHORIZED.search(_error_message(exc))
    if match is None:
        return None
    action = match.group(1)
    return None if action.lower() in {a.lower() for a in granted} else action


def is_propagation_error(exc: ClientError, granted: Collection[str] = GRANTED_ACTIONS) -> bool:
    """Whether CreateDeliveryStream refused a role Firehose cannot use *yet* (see :data:`PROPAGATION_MESSAGES`).
    "is not authorized to perform: X" counts only when the role's policies grant X (``granted``): for any other
    action the role lacks a permission, and waiting 120 s for IAM would only hide it."""
    return _error_code(exc) == PROPAGATION_ERROR_CODE and any(
        text in _error_message(exc) for text in PROPAGATION_MESSAGES) and missing_action(exc, granted) is None


def creating_poll_s(policy: WaitPolicy, clock: Clock) -> float:
    """How often to ask whether a new delivery stream is ACTIVE: the wait policy's delay; on a simulated clock at
    least a quarter of the typical CREATING time (catalogue), since waiting there is free and each check is not.
    On a real clock the policy's delay: an emulator's windows may be far shorter than AWS's typical ones."""
    if clock.simulated:
        return max(policy.delay, limits.FIREHOSE_CREATING_S.value / 4)
    return policy.delay


def create_kinesis_source_delivery_stream(
        firehose_client: Any, name: str, stream_arn: str, role_arn: str, destination: Mapping[str, Any],
        tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None, clock: Clock, create_timeout_s: float, *,
        first_backoff_s: float = 1.0, max_backoff_s: float = 10.0, poll_s: float = 5.0,
        propagation_bound_s: float = limits.IAM_PROPAGATION_BOUND_S.value) -> dict[str, Any]:
    """Create a delivery stream reading ``stream_arn`` (Kinesis source) with any destination and wait until it is
    ACTIVE; return its description.

    ``destination`` is the one destination parameter of CreateDeliveryStream, e.g.
    ``{"ExtendedS3DestinationConfiguration": s3_destination_config(...)}`` (what :func:`create_delivery_stream`
    passes); a new destination module builds its own. CreateDeliveryStream is retried, with doubling backoff,
    only while Firehose refuses the role as not yet propagated (:func:`is_propagation_error`, every wording in
    :data:`PROPAGATION_MESSAGES`), for at most ``propagation_bound_s`` (catalogue:
    ``lifecycle.iam.propagation_bound_s``); retries and the wait for ACTIVE together are bounded by
    ``create_timeout_s`` on ``clock``. Raises :class:`DeliveryStreamError` on CREATING_FAILED or at a bound;
    any other refusal is raised at once.
    """
    if len(name) > limits.DELIVERY_STREAM_NAME_MAX_CHARS.value:
        raise ValueError(f"delivery stream name {name!r} is longer than {limits.DELIVERY_STREAM_NAME_MAX_CHARS}")
    if len(destination) != 1:
        raise ValueError(f"give exactly one destination configuration, not {sorted(destination)}")
    kwargs: dict[str, Any] = {
        "DeliveryStreamName": name, "DeliveryStreamType": "KinesisStreamAsSource",
        "KinesisStreamSourceConfiguration": {"KinesisStreamARN": stream_arn, "RoleARN": role_arn}, **destination}
    if tags:
        kwargs["Tags"] = _tag_list(tags)
    start = clock.now()
    deadline = start + create_timeout_s
    retry_until = min(deadline, start + propagation_bound_s)
    backoff = first_backoff_s
    attempts = 0
    while True:
        attempts += 1
        try:
            firehose_client.create_delivery_stream(**kwargs)
            break
        except ClientError as exc:
            lacking = missing_action(exc) if _error_code(exc) == PROPAGATION_ERROR_CODE else None
            if lacking:
                raise DeliveryStreamError(
                    f"delivery stream {name!r}: the role {role_arn} may not perform {lacking}, which its policies do "
                    f"not grant (not an IAM propagation delay): {_error_code(exc)}: {_error_message(exc)}. Fix: grant "
                    f"{lacking} to the role, or remove what needs it (an encrypted source, a VPC destination)") from exc
            if not is_propagation_error(exc):
                raise
            if clock.now() + backoff > retry_until:
                bound = (f"{propagation_bound_s:g} s, {limits.IAM_PROPAGATION_BOUND_S.key}"
                         if retry_until < deadline else f"{create_timeout_s:g} s, the create bound")
                raise DeliveryStreamError(
                    f"delivery stream {name!r}: Firehose still refused the role {role_arn} as not usable yet after "
                    f"{attempts} attempt(s) in {clock.now() - start:.0f} s (bound {bound}): "
                    f"{_error_code(exc)}: {_error_message(exc)}") from exc
            clock.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)
    # CreateDeliveryStream "immediately returns" with the stream CREATING: the first look is one poll later.
    clock.sleep(min(poll_s, max(0.0, deadline - clock.now())))
    return wait_until_active(firehose_client, name, clock, max(0.0, deadline - clock.now()), poll_s)


def create_delivery_stream(firehose_client: Any, name: str, stream_arn: str, role_arn: str, bucket_arn: str,
                           buffer_mib: int, buffer_seconds: int, prefix: str | None,
                           tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None, clock: Clock,
                           create_timeout_s: float, *, append_delimiter: bool = False, first_backoff_s: float = 1.0,
                           max_backoff_s: float = 10.0, poll_s: float = 5.0,
                           propagation_bound_s: float = limits.IAM_PROPAGATION_BOUND_S.value) -> dict[str, Any]:
    """Create a Kinesis-source delivery stream to S3 (uncompressed ExtendedS3 destination, the given hints,
    prefix and delimiter) and wait until it is ACTIVE; return its description.

    Retries and bounds as :func:`create_kinesis_source_delivery_stream`.
    """
    destination = s3_destination_config(role_arn, bucket_arn, buffer_mib, buffer_seconds, prefix,
                                        append_delimiter=append_delimiter)
    return create_kinesis_source_delivery_stream(
        firehose_client, name, stream_arn, role_arn, {"ExtendedS3DestinationConfiguration": destination}, tags,
        clock, create_timeout_s, first_backoff_s=first_backoff_s, max_backoff_s=max_backoff_s, poll_s=poll_s,
        propagation_bound_s=propagation_bound_s)


def wait_until_active(firehose_client: Any, name: str, clock: Clock, timeout_s: float,
                      poll_s: float = 5.0) -> dict[str, Any]:
    """Poll DescribeDeliveryStream until ACTIVE (bounded on ``clock``); return the description."""
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
    current_mib, current_seconds = s3_buffering_hints(current)
    hints = {"SizeInMBs": current_mib if buffer_mib is None else buffer_mib,
             "IntervalInSeconds": current_seconds if buffer_seconds is None else buffer_seconds}
    validate_buffering_hints(hints["SizeInMBs"], hints["IntervalInSeconds"])
    update: dict[str, Any] = {"BufferingHints": hints}
    if prefix is not None:
        update["Prefix"] = prefix
    firehose_client.update_destination(
        DeliveryStreamName=name, CurrentDeliveryStreamVersionId=description["VersionId"],
        DestinationId=destination["DestinationId"], ExtendedS3DestinationUpdate=update)
    after = firehose_client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    return int(after["VersionId"])


def described_interval_s(firehose_client: Any, name: str) -> int | None:
    """The buffering interval (``IntervalInSeconds``) DescribeDeliveryStream reports for the delivery stream's first
    destination (S3, or the search destination), or ``None`` if it reports none: the hint the service took."""
    description = firehose_client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    for destination in description.get("Destinations", [])[:1]:
        for key, value in destination.items():
            hints = value.get("BufferingHints") if key.endswith("DestinationDescription") and isinstance(value, dict) \
                else None
            if hints and "IntervalInSeconds" in hints:
                return int(hints["IntervalInSeconds"])
    return None


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
                           poll_s: float = 5.0, *, wait: bool = True) -> bool:
    """Delete the delivery stream and wait (bounded) until it is gone; ``False`` if it did not exist.

    With ``wait=False`` it returns once DeleteDeliveryStream is accepted (the delivery stream DELETING): "A Firehose
    stream may remain in the DELETING state for several minutes. Therefore, as a best practice, applications should
    not wait for streams in the DELETING state" (API_DeleteDeliveryStream.html; catalogue
    ``lifecycle.firehose.deleting_s``). The fixtures' teardown does so; ``sweep`` waits, to report what is gone."""
    try:
        firehose_client.delete_delivery_stream(DeliveryStreamName=name)
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return False
        raise
    if wait and not poll_until(lambda: _exists(firehose_client, name) is None, clock, timeout_s, poll_s,
                               f"delivery stream {name} deleted"):
        raise DeliveryStreamError(f"delivery stream {name!r} still exists {timeout_s} s after deletion")
    return True


def delete_delivery_stream_when_created(firehose_client: Any, name: str, clock: Clock, policy: WaitPolicy, *,
                                        wait: bool = True) -> bool:
    """Delete once the stream has left CREATING (DeleteDeliveryStream refuses CREATING) and, with ``wait``, wait until
    it is gone, all within the policy's span (``delay × attempts``); ``False`` if it did not exist."""
    span = policy.delay * policy.attempts
    deadline = clock.now() + span
    poll_until(lambda: _exists(firehose_client, name) != "CREATING", clock, span, policy.delay,
               f"delivery stream {name} out of CREATING")
    return delete_delivery_stream(firehose_client, name, clock, max(0.0, deadline - clock.now()),
                                  poll_s=policy.delay, wait=wait)
