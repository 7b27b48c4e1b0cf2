"""A paced PutRecords producer that logs every record's outcome.

The producer batches records into PutRecords calls within the catalogue's caps, paces them to a target
rate on an injected :class:`~pytest_kinesis_limits.clock.Clock` (a whole tick's worth of records, then a
sleep until the next tick: on a ``SimulatedClock`` a run is instant and the same every time), and keeps
one :class:`RecordOutcome` per record. Whether refused records are retried is the caller's
:class:`RetryPolicy`.

Give it a boto3 Kinesis client built with ``Config(retries={"total_max_attempts": 1})`` for limit
probes: botocore retries ``ProvisionedThroughputExceededException`` (a throttling code) and 5xx on its
own, which would hide, delay and double-count exactly the refusals a probe is looking for. A retrying
client is fine when only the end state matters (continuity tests), but then this log's ``attempts`` count
only the producer's own retries.

Threads and processes: ``Producer(workers=n)`` sends one tick's batches on ``n`` threads, for a live
stream whose round trips make one thread too slow for the target (boto3 clients are thread-safe). The
single-thread path is the deterministic one offline (with threads, which records a per-second limit
refuses depends on scheduling; moto also loses records under concurrent writers). Threads help with
round-trip latency, not CPU: when the client-side work exceeds one core (live, on the order of a hundred
shards at their limits: boto3 serialises and signs about 130k small or 24k 10-KB records/s per core, see
docs/throughput.md), use :func:`produce_in_processes`. It needs a real clock and a picklable client
factory, because clients and simulated clocks cannot cross process boundaries.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import multiprocessing
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from . import limits
from .clock import Clock, RealClock
from .keys import Record
from .reader import stream_kwargs

# Per-record error codes PutRecords documents besides throttling: InternalFailure is transient,
# KMSThrottlingException is a throttle of the KMS key (the other KMS* codes are configuration errors).
_RETRYABLE_RECORD_CODES = frozenset({"InternalFailure", "KMSThrottlingException"})
_THROTTLED = ThrottledRetryableChecker()
_TRANSIENT = TransientRetryableChecker()


def is_retryable(code: str | None, *, status: int | None = None, exception: BaseException | None = None) -> bool:
    """Whether an error is worth retrying: throttling, transient (5xx, timeouts, connection errors).

    Uses botocore's own standard-mode classification; never true for validation or argument errors.
    """
    if code in _RETRYABLE_RECORD_CODES:
        return True
    parsed = {"Error": {"Code": code}} if code else None
    context = RetryContext(attempt_number=1, parsed_response=parsed, caught_exception=exception)
    if _THROTTLED.is_retryable(context) or _TRANSIENT.is_retryable(context):
        return True
    return status is not None and status // 100 == 5  # any HTTP 5xx


@dataclass(frozen=True)
class RetryPolicy:
    """How refused records are retried: up to ``max_attempts`` sends, full-jitter exponential backoff.

    The delay before retry ``n`` (1-based) is uniform in ``[0, min(max_delay, base_delay * 2**(n-1))]``,
    drawn from a ``random.Random(seed)`` so that offline runs repeat exactly.
    """

    max_attempts: int = 1
    base_delay: float = 0.05
    max_delay: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @classmethod
    def none(cls) -> RetryPolicy:
        """Never retry: every refusal stays in the log (limit probes)."""
        return cls(max_attempts=1)

    @classmethod
    def backoff(cls, max_attempts: int = 20, base_delay: float = 0.05, max_delay: float = 2.0,
                seed: int = 0) -> RetryPolicy:
        """Retry retryable refusals with exponential backoff and full jitter (continuity tests)."""
        return cls(max_attempts, base_delay, max_delay, seed)

    @property
    def retries(self) -> bool:
        """Whether this policy ever retries."""
        return self.max_attempts > 1

    def delay(self, retry_number: int, rng: random.Random) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = first retry)."""
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (retry_number - 1)))


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
    """What happened to one record. ``arrival`` (service clock) is filled in by the meter from reads."""

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

    def summary(self) -> str:
        """One line: offered, accepted, refused by code, retries, calls."""
        refused = ", ".join(f"{code} {n}" for code, n in sorted(self.refused.items())) or "none"
        return (f"sent {self.sent} records ({self.bytes_sent} B) in {self.calls} calls over "
                f"{self.duration:.3f} s (offered {self.offered_records_per_s:.1f} records/s, "
                f"{self.offered_bytes_per_s:.0f} B/s; target {self.target or 'unpaced'}), accepted "
                f"{self.accepted}, refused {self.sent - self.accepted} ({refused}), retries {self.retries}, "
                f"late ticks {self.late_ticks}")

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
                   results[0].stream)


def batch_records(records: Iterable[Record], *,
                  max_records: int = limits.PUT_RECORDS_MAX_RECORDS.value,
                  max_request_bytes: int = limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value,
                  max_record_bytes: int = limits.RECORD_MAX_BYTES.value) -> Iterator[list[Record]]:
    """Group ``records`` in order into PutRecords batches within the count and byte caps.

    A request may always carry one record the stream accepts: on a large-record stream (``max_record_bytes``
    above the request cap, MaxRecordSizeInKiB) the request cap is raised to the record cap. A record larger
    than ``max_record_bytes`` raises ``ValueError``: the producer is for throughput; probing the size caps
    is done with direct calls.
    """
    request_cap = max(max_request_bytes, max_record_bytes)
    batch: list[Record] = []
    batch_bytes = 0
    for record in records:
        size = record.size
        if size > max_record_bytes:
            raise ValueError(f"record {record.index} is {size} bytes, over the cap "
                             f"({max_record_bytes} per record, {request_cap} per request)")
        if batch and (len(batch) >= max_records or batch_bytes + size > request_cap):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(record)
        batch_bytes += size
    if batch:
        yield batch


@dataclass(order=True)
class _Retry:
    due: float
    order: int
    record: Record = field(compare=False)


class Producer:
    """Puts records to one stream with PutRecords, paced on ``clock``, logging every record's outcome.

    ``stream`` is a stream name or ARN. ``max_request_bytes`` defaults to the 5 MiB legacy cap, which
    every backend accepts (see the catalogue). ``tick`` is the pacing period in clock seconds: each tick
    sends ``rate * tick`` worth of records (fractions carried over), then sleeps until the next tick.
    ``workers > 1`` sends a tick's batches on that many threads (see the module docstring).
    """

    def __init__(self, client: Any, stream: str, *, clock: Clock, retry: RetryPolicy | None = None,
                 tick: float = 1.0, workers: int = 1,
                 max_records: int = limits.PUT_RECORDS_MAX_RECORDS.value,
                 max_request_bytes: int = limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value,
                 max_record_bytes: int = limits.RECORD_MAX_BYTES.value) -> None:
        if tick <= 0:
            raise ValueError("tick must be positive")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.client = client
        self.stream = stream
        self.clock = clock
        self.retry = retry or RetryPolicy.none()
        self.tick = tick
        self.workers = workers
        self.caps = {"max_records": max_records, "max_request_bytes": max_request_bytes,
                     "max_record_bytes": max_record_bytes}

    def run(self, records: Iterable[Record], *, rate: Rate | None = None, duration: float | None = None,
            count: int | None = None) -> ProduceResult:
        """Send ``records`` until they run out, ``count`` are sent or ``duration`` clock seconds pass.

        With ``rate``, records are sent tick by tick at that rate; without, as fast as calls return (one
        batch per round). Records refused with a retryable error are retried per the policy, before new
        records and within the rate budget; the run ends once no retry is pending.
        """
        if duration is None and count is None and not isinstance(records, (list, tuple)):
            raise ValueError("give a duration or a count for an open-ended record source")
        source = iter(records)
        lookahead: list[Record] = []
        rng = random.Random(self.retry.seed)
        outcomes: dict[int, RecordOutcome] = {}
        pending: list[_Retry] = []
        order = itertools.count()
        taken = calls = late = 0
        exhausted = False
        carry = 0.0
        start = self.clock.now()
        tick_start = start
        executor = (concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="kinesis-producer")
                    if self.workers > 1 else None)
        try:
            for tick_number in itertools.count(1):
                now = self.clock.now()
                more_new = (not exhausted and (count is None or taken < count)
                            and (duration is None or tick_start < start + duration))
                if not more_new and not pending:
                    break
                budget = (rate.value * self.tick + carry) if rate else float("inf")
                chosen: list[Record] = []
                limited = False
                # Due retries first, then new records, while the tick's budget lasts.
                while pending and pending[0].due <= now:
                    record = pending[0].record
                    if rate and rate.cost(record) > budget:
                        limited = True
                        break
                    heapq.heappop(pending)
                    chosen.append(record)
                    budget -= rate.cost(record) if rate else 0
                while more_new and not limited and (rate or len(chosen) < self.caps["max_records"]):
                    if not lookahead:
                        nxt = next(source, None)
                        if nxt is None:
                            exhausted = True
                            break
                        lookahead.append(nxt)
                    record = lookahead[0]
                    if rate and rate.cost(record) > budget:
                        limited = True
                        break
                    lookahead.pop()
                    chosen.append(record)
                    taken += 1
                    budget -= rate.cost(record) if rate else 0
                    if count is not None and taken >= count:
                        break
                carry = budget if (rate and limited) else 0.0
                for record in chosen:
                    if record.index not in outcomes:
                        outcomes[record.index] = RecordOutcome(record.index, record.partition_key,
                                                               record.explicit_hash_key, record.size)
                batches = list(batch_records(chosen, **self.caps))
                calls += len(batches)
                if executor is None:
                    retry_lists = [self._send(batch, outcomes) for batch in batches]
                else:
                    retry_lists = list(executor.map(lambda b: self._send(b, outcomes), batches))
                for batch_retries in retry_lists:
                    for record in batch_retries:
                        attempts = outcomes[record.index].attempts
                        due = outcomes[record.index].sent_at + self.retry.delay(attempts, rng)
                        heapq.heappush(pending, _Retry(due, next(order), record))
                if rate:
                    next_tick = start + tick_number * self.tick
                    wait = next_tick - self.clock.now()
                    if wait < 0:
                        late += 1
                    self.clock.sleep(max(0.0, wait))
                    tick_start = next_tick
                elif not chosen and pending:
                    self.clock.sleep(max(0.0, pending[0].due - self.clock.now()))
                    tick_start = self.clock.now()
                else:
                    tick_start = self.clock.now()
        finally:
            if executor is not None:
                executor.shutdown(wait=True)
        end = self.clock.now()
        return ProduceResult(sorted(outcomes.values(), key=lambda o: o.index), calls, start, end, rate, late,
                             self.stream)

    def _send(self, batch: list[Record], outcomes: dict[int, RecordOutcome]) -> list[Record]:
        """One PutRecords call; update the batch's outcomes and return the records to retry."""
        sent_at = self.clock.now()
        logs = [outcomes[r.index] for r in batch]
        for log in logs:
            log.attempts += 1
            log.sent_at = sent_at
            if log.attempts == 1:
                log.first_sent_at = sent_at
        retry: list[Record] = []
        may_retry = self.retry.retries
        try:
            response = self.client.put_records(Records=[r.entry() for r in batch], **stream_kwargs(self.stream))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "ClientError"), error.get("Message", str(exc))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            retryable = is_retryable(code, status=status)
            for record, log in zip(batch, logs):
                _refuse(log, code, message, whole_call=True)
                if may_retry and retryable and log.attempts < self.retry.max_attempts:
                    retry.append(record)
            return retry
        except BotoCoreError as exc:
            retryable = is_retryable(None, exception=exc)
            for record, log in zip(batch, logs):
                _refuse(log, type(exc).__name__, str(exc), whole_call=True)
                if may_retry and retryable and log.attempts < self.retry.max_attempts:
                    retry.append(record)
            return retry
        entries = response.get("Records", [])
        if len(entries) != len(batch):
            raise RuntimeError(f"PutRecords answered {len(entries)} entries for {len(batch)} records")
        for record, log, entry in zip(batch, logs, entries):
            if entry.get("ErrorCode"):
                _refuse(log, entry["ErrorCode"], entry.get("ErrorMessage", ""), whole_call=False)
                if may_retry and is_retryable(entry["ErrorCode"]) and log.attempts < self.retry.max_attempts:
                    retry.append(record)
            else:
                log.shard_id, log.sequence_number = entry["ShardId"], entry["SequenceNumber"]
                log.error_code = log.error_message = None
                log.whole_call_error = False
        return retry


def _refuse(log: RecordOutcome, code: str, message: str, *, whole_call: bool) -> None:
    log.error_code, log.error_message, log.whole_call_error = code, message, whole_call


def _process_worker(client_factory: Callable[[], Any], stream: str,
                    records_for: Callable[[int, int], Iterable[Record]], part: tuple[int, int],
                    options: dict[str, Any], run: dict[str, Any]) -> ProduceResult:
    producer = Producer(client_factory(), stream, clock=RealClock(), **options)
    return producer.run(records_for(*part), **run)


def produce_in_processes(client_factory: Callable[[], Any], stream: str,
                         records_for: Callable[[int, int], Iterable[Record]], *, processes: int,
                         rate: Rate | None = None, duration: float | None = None, count: int | None = None,
                         **producer_options: Any) -> ProduceResult:
    """Run ``processes`` producers in child processes (spawned) on a real clock and merge their logs.

    ``client_factory`` (picklable, e.g. ``functools.partial(boto3.client, "kinesis", region_name=...,
    config=...)``) makes each process's client; ``records_for(p, processes)`` (picklable) gives process
    ``p`` its records, with indices disjoint from the others' (e.g. ``generate_records(..., start=p,
    step=processes)``). ``rate`` and ``count`` are split evenly. Only for live or endpoint backends: an
    in-process moto mock is not visible in the children.
    """
    if processes < 1:
        raise ValueError("processes must be at least 1")
    if producer_options.get("clock") is not None and getattr(producer_options["clock"], "simulated", False):
        raise ValueError("processes cannot share a simulated clock; use Producer(workers=...) offline")
    producer_options.pop("clock", None)
    share = Rate(rate.value / processes, rate.unit) if rate else None
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = []
        for p in range(processes):
            part = None if count is None else count // processes + (1 if p < count % processes else 0)
            run = {"rate": share, "duration": duration, "count": part}
            futures.append(pool.submit(_process_worker, client_factory, stream, records_for, (p, processes),
                                       producer_options, run))
        return ProduceResult.merge(f.result() for f in futures)
