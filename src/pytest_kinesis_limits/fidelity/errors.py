"""AWS-shaped Kinesis errors, raised from inside moto so they travel like the service's own.

moto turns a ``JsonRESTError`` into an HTTP 400 JSON body ``{"__type": code, "message": ...}``; botocore
then raises ``client.exceptions.<code>`` and its retry handler treats
``ProvisionedThroughputExceededException`` (and, for Kinesis, ``LimitExceededException``) as retryable, as
it does against AWS (botocore ``data/_retry.json``).
"""

from __future__ import annotations

from pytest_kinesis_limits.fidelity.moto_adapter import JsonRESTError


class KinesisError(JsonRESTError):
    """A Kinesis client error (HTTP 400) with AWS's error code and message."""

    code = 400

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(error_type=error_type, message=message)


def write_throttled_message(shard_id: str, stream_name: str, account_id: str) -> str:
    """AWS's per-record PutRecords throttle message (API_PutRecords.html, example response)."""
    return f"Rate exceeded for shard {shard_id} in stream {stream_name} under account {account_id}."


def write_throttled(shard_id: str, stream_name: str, account_id: str) -> KinesisError:
    """PutRecord over the shard's write budget (API_PutRecord.html: ProvisionedThroughputExceededException)."""
    return KinesisError("ProvisionedThroughputExceededException",
                        write_throttled_message(shard_id, stream_name, account_id))


def read_throttled(shard_id: str, stream_name: str, account_id: str) -> KinesisError:
    """GetRecords over the shard's read budget; message shape as AWS SDK logs show it."""
    return KinesisError("ProvisionedThroughputExceededException",
                        f"Rate exceeded for Shard - {account_id}/{stream_name}/{shard_id}")


def validation(messages: list[str]) -> KinesisError:
    """A request-model ValidationException listing every failed constraint, as AWS's front end does."""
    count = len(messages)
    noun = "error" if count == 1 else "errors"
    return KinesisError("ValidationException", f"{count} validation {noun} detected: " + "; ".join(messages))


def invalid_argument(message: str) -> KinesisError:
    """InvalidArgumentException with ``message``."""
    return KinesisError("InvalidArgumentException", message)


def limit_exceeded(message: str) -> KinesisError:
    """LimitExceededException with ``message``."""
    return KinesisError("LimitExceededException", message)


def resource_in_use(stream_name: str, account_id: str, status: str) -> KinesisError:
    """An operation that needs an ACTIVE stream on one that is not (API_MergeShards.html: "If a stream is in the
    CREATING, UPDATING, or DELETING state, MergeShards returns a ResourceInUseException"; message as kinesalite and
    the AWS SDK for Java v2 integration tests record it)."""
    return KinesisError("ResourceInUseException",
                        f"Stream {stream_name} under account {account_id} not ACTIVE, instead in state {status}")


def stream_not_found(stream_name: str, account_id: str) -> KinesisError:
    """ResourceNotFoundException for a stream that does not exist (yet): PutRecord(s) and GetShardIterator on a
    stream still CREATING answer this (their error lists have no ResourceInUseException; message as kinesalite
    and LocalStack users record it)."""
    return KinesisError("ResourceNotFoundException", f"Stream {stream_name} under account {account_id} not found.")


def stream_exists(stream_name: str, account_id: str) -> KinesisError:
    """CreateStream with a name in use, also while that stream is DELETING (ResourceInUseException)."""
    return KinesisError("ResourceInUseException", f"Stream {stream_name} under account {account_id} already exists.")


def too_many_creating(account_id: str, limit: int) -> KinesisError:
    """CreateStream while ``limit`` streams are CREATING or DELETING (AWS's message, as terraform-provider-aws
    PR 1339 quotes it, typo included)."""
    return KinesisError("LimitExceededException",
                        "This request would have exceed the limit on the number of streams that can simultaneously "
                        f"be in CREATING or DELETING for the account {account_id}. Limit: {limit}.")


def too_many_in_transition(account_id: str, limit: int) -> KinesisError:
    """SplitShard or MergeShards while ``limit`` other streams of the account are CREATING, UPDATING or DELETING
    (API_MergeShards.html: "If you try to operate on too many streams in parallel using CreateStream, DeleteStream,
    MergeShards or SplitShard, you will receive a LimitExceededException"; AWS documents no wording: this follows
    CreateStream's)."""
    return KinesisError("LimitExceededException",
                        "This request would have exceed the limit on the number of streams that can simultaneously "
                        f"be in CREATING, UPDATING or DELETING for the account {account_id}. Limit: {limit}.")


def shard_quota_exceeded(account_id: str, region: str, current: int, limit: int, added: int) -> KinesisError:
    """A request that would open more shards than the account's quota (message as kinesalite issue 72 quotes it)."""
    return KinesisError("LimitExceededException",
                        f"This request would exceed the shard limit for the account {account_id} in {region}. "
                        f"Current shard count for the account: {current}. Limit: {limit}. Number of additional "
                        f"shards that would have resulted from this request: {added}.")
