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

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis import payloads

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


def send_seed_events(client: BaseClient, stream_name: str, count: int, singles: int) -> tuple[dict[int, bytes],
                                                                                             list[PutOutcome]]:
    """The seed's write pattern: ``count`` of its mobile events (:func:`~.payloads.seed_event`, Korean text, nulls,
    mixed types), the first ``singles`` with PutRecord, the rest with PutRecords in requests of at most the record
    cap, each keyed by its user id. Returns ``{event id: the bytes sent}`` and every call's outcome, for the test to
    judge."""
    events = [payloads.seed_event(n) for n in range(count)]
    sent = {event["id"]: payloads.encode_json(event) for event in events}
    outcomes = [put_record(client, stream_name, {"Data": sent[e["id"]], "PartitionKey": str(e["user_id"])})
                for e in events[:singles]]
    batch = [{"Data": sent[e["id"]], "PartitionKey": str(e["user_id"])} for e in events[singles:]]
    cap = limits.PUT_RECORDS_MAX_RECORDS.value
    outcomes += [put_records(client, stream_name, batch[first:first + cap]) for first in range(0, len(batch), cap)]
    return sent, outcomes


def all_stored(outcomes: list[PutOutcome]) -> bool:
    """Whether every call was taken and stored every record it sent."""
    return all(o.accepted and o.failed_record_count == 0 for o in outcomes)
