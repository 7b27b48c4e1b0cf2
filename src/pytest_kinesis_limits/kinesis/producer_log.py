"""The producer's log: the target :class:`Rate`, one :class:`RecordOutcome` per record and the
:class:`ProduceResult` of a run, with the offered rate as the client sent it and as the service answered it.

Data only: :mod:`pytest_kinesis_limits.kinesis.producer` fills these in (and re-exports them), the meter reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_kinesis_limits.kinesis.key_spread import Record


@dataclass(frozen=True)
class Rate:
    """A target rate: ``value`` records/s or bytes/s (data + partition key)."""

    value: float
    unit: str = "records/s"

    def __post_init__(self) -> None:
        if self.unit not in ("records/s", "bytes/s"):
            raise ValueError(f"unit must be 'records/s' or 'bytes/s', not {self.unit!r}")
        if self.value <= 0:
            raise ValueError("a rate must be positive")

    @classmethod
    def records_per_s(cls, value: float) -> Rate:
        """A rate counted in records per second."""
        return cls(value, "records/s")

    @classmethod
    def bytes_per_s(cls, value: float) -> Rate:
        """A rate counted in bytes (data + partition key) per second."""
        return cls(value, "bytes/s")

    def cost(self, record: Record) -> int:
        """How much of a tick's budget ``record`` uses."""
        return 1 if self.unit == "records/s" else record.size

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


@dataclass
class RecordOutcome:
    """What happened to one record. ``arrival`` (service clock) is filled in by the meter from reads;
    ``answered_at`` is when the service's answer to the record's last attempt came back (the producer's clock;
    ``None`` when no answer came: a connection error or a timeout)."""

    index: int
    partition_key: str
    explicit_hash_key: str | None
    size: int
    sent_at: float = 0.0
    first_sent_at: float = 0.0
    attempts: int = 0
    shard_id: str | None = None
    sequence_number: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    whole_call_error: bool = False
    arrival: float | None = None
    answered_at: float | None = None

    @property
    def judged(self) -> bool:
        """Whether the service judged this record on its own (accepted, or refused per record): the record
        reached a shard's accounting, which a whole-call error or an unanswered call does not show."""
        return self.answered_at is not None and not self.whole_call_error

    @property
    def accepted(self) -> bool:
        """Whether the service acknowledged the record (it has a sequence number)."""
        return self.sequence_number is not None


@dataclass
class ProduceResult:
    """The producer's log and counts. Times are on the producer's clock."""

    outcomes: list[RecordOutcome]
    calls: int
    started_at: float
    ended_at: float
    target: Rate | None = None
    late_ticks: int = 0
    stream: str = ""
    ticks: int = 0

    @property
    def sent(self) -> int:
        """Records offered (each counted once, however many attempts)."""
        return len(self.outcomes)

    @property
    def accepted(self) -> int:
        """Records finally acknowledged."""
        return sum(1 for o in self.outcomes if o.accepted)

    @property
    def refused(self) -> dict[str, int]:
        """Records finally refused, by error code."""
        return dict(Counter(o.error_code or "?" for o in self.outcomes if not o.accepted))

    @property
    def retries(self) -> int:
        """Extra sends beyond each record's first."""
        return sum(max(0, o.attempts - 1) for o in self.outcomes)

    @property
    def bytes_sent(self) -> int:
        """Data + partition key bytes offered."""
        return sum(o.size for o in self.outcomes)

    @property
    def bytes_accepted(self) -> int:
        """Data + partition key bytes acknowledged."""
        return sum(o.size for o in self.outcomes if o.accepted)

    @property
    def duration(self) -> float:
        """Clock seconds from start to end."""
        return self.ended_at - self.started_at

    @property
    def offered_records_per_s(self) -> float:
        """New records offered per clock second (retries not counted)."""
        return self.sent / self.duration if self.duration > 0 else float("inf")

    @property
    def offered_bytes_per_s(self) -> float:
        """New bytes offered per clock second (retries not counted)."""
        return self.bytes_sent / self.duration if self.duration > 0 else float("inf")

    def answered_per_s(self, start: float, end: float, unit: str = "records/s") -> float:
        """Records (``records/s``) or bytes (``bytes/s``) the service judged one by one, per second of the
        producer's clock, counting the answers that came back in ``[start, end)``.

        This is the load that really reached the shards, as the client can see it: a record sent but stuck in
        the network, refused as a whole call or never answered does not count, and a late answer counts when it
        came. A throttled record counts (the shard judged it).
        """
        if end <= start:
            raise ValueError("the window must end after it starts")
        cost = (lambda o: 1) if unit == "records/s" else (lambda o: o.size)
        total = sum(cost(o) for o in self.outcomes if o.judged and start <= o.answered_at < end)  # type: ignore[operator]
        return total / (end - start)

    def offered_fraction(self, *, skip_first_s: float = 1.0, window_s: float | None = None) -> float | None:
        """The target rate's share the service answered (:meth:`answered_per_s`) in the window that starts
        ``skip_first_s`` after the run started and lasts ``window_s`` (default: to the end of the run);
        ``None`` for an unpaced run or a run too short for the window."""
        if self.target is None:
            return None
        start = self.started_at + skip_first_s
        end = start + window_s if window_s is not None else self.ended_at
        if end <= start:
            return None
        return self.answered_per_s(start, end, self.target.unit) / self.target.value

    def summary(self) -> str:
        """One line: offered, accepted, refused by code, retries, calls."""
        refused = ", ".join(f"{code} {n}" for code, n in sorted(self.refused.items())) or "none"
        return (f"sent {self.sent} records ({self.bytes_sent} B) in {self.calls} calls over "
                f"{self.duration:.3f} s (offered {self.offered_records_per_s:.1f} records/s, "
                f"{self.offered_bytes_per_s:.0f} B/s; target {self.target or 'unpaced'}), accepted "
                f"{self.accepted}, refused {self.sent - self.accepted} ({refused}), retries {self.retries}, "
                f"late ticks {self.late_ticks} of {self.ticks}")

    @classmethod
    def merge(cls, results: Iterable[ProduceResult]) -> ProduceResult:
        """One result from several producers' (outcomes sorted by index; times span them all)."""
        results = list(results)
        if not results:
            raise ValueError("nothing to merge")
        rates = [r.target for r in results if r.target is not None]
        target = Rate(sum(r.value for r in rates), rates[0].unit) if rates else None
        return cls(sorted((o for r in results for o in r.outcomes), key=lambda o: o.index),
                   sum(r.calls for r in results), min(r.started_at for r in results),
                   max(r.ended_at for r in results), target, sum(r.late_ticks for r in results),
                   results[0].stream, sum(r.ticks for r in results))
