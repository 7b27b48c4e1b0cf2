"""Limit probes: send one request and describe what the service did with it, without judging it.

Tests (or other tools) decide the verdict from a :class:`PutOutcome`; the probe only records whether the
request as a whole was refused (error code and message), and, when it was taken, which records failed.
Use a client with one attempt (``max_attempts=1``) so that no refusal is retried away.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from botocore.client import BaseClient


@dataclass
class PutOutcome:
    """What a PutRecords / PutRecord call did."""

    sent: int
    accepted: bool  # False: the whole request was refused
    error_code: str | None = None
    error_message: str | None = None
    failed_record_count: int = 0
    record_errors: Counter[str] = field(default_factory=Counter)
    response: dict[str, Any] | None = None

    @property
    def stored_at_most(self) -> int:
        """How many records the service said it stored."""
        return self.sent - self.failed_record_count if self.accepted else 0

    def describe(self) -> str:
        if not self.accepted:
            return f"request refused: {self.error_code}: {self.error_message}"
        text = f"request taken: {self.sent - self.failed_record_count}/{self.sent} records stored"
        if self.record_errors:
            text += " (" + ", ".join(f"{n} x {code}" for code, n in self.record_errors.items()) + ")"
        return text


def _refused(sent: int, exc: ClientError) -> PutOutcome:
    error = exc.response.get("Error", {})
    return PutOutcome(sent=sent, accepted=False, error_code=error.get("Code"), error_message=error.get("Message"))


def put_records(client: BaseClient, stream_name: str, records: list[dict[str, Any]]) -> PutOutcome:
    """Send ``records`` in one PutRecords request and describe the outcome."""
    try:
        response = client.put_records(StreamName=stream_name, Records=records)
    except ClientError as exc:
        return _refused(len(records), exc)
    errors = Counter(r["ErrorCode"] for r in response["Records"] if r.get("ErrorCode"))
    return PutOutcome(sent=len(records), accepted=True, failed_record_count=response.get("FailedRecordCount", 0),
                      record_errors=errors, response=response)


def put_record(client: BaseClient, stream_name: str, record: dict[str, Any]) -> PutOutcome:
    """Send one record with PutRecord and describe the outcome."""
    try:
        response = client.put_record(StreamName=stream_name, **record)
    except ClientError as exc:
        return _refused(1, exc)
    return PutOutcome(sent=1, accepted=True, response=response)
