"""AWS-shaped Kinesis errors, raised from inside moto so they travel like the service's own.

moto turns a ``JsonRESTError`` into an HTTP 400 JSON body ``{"__type": code, "message": ...}``; botocore
then raises ``client.exceptions.<code>`` and its retry handler treats
``ProvisionedThroughputExceededException`` (and, for Kinesis, ``LimitExceededException``) as retryable, as
it does against AWS (botocore ``data/_retry.json``).
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError


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
    """A reshard on a stream that is not ACTIVE (API_SplitShard.html / API_UpdateShardCount.html)."""
    return KinesisError("ResourceInUseException",
                        f"Stream {stream_name} under account {account_id} not ACTIVE, instead in state {status}")
