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

Round trips, threads and processes: a paced producer must not wait for one call's answer before it sends
the next tick's, or a round trip longer than a tick lowers the offered rate (at 0.1 s ticks and 200 ms from the
region, a 200 % load would reach about 45 %). ``Producer(workers=n)`` keeps up to ``n`` calls in flight on
``n`` threads: each tick submits its calls and sleeps until the next tick, answers are collected as they come
(retries are scheduled from them), and when all ``n`` are busy the tick waits for a free one (a bounded
window: a client that cannot keep up shows it in ``late_ticks`` and in the offered rate, instead of queueing
without end). Every record's outcome is logged as in the single-thread path, with ``answered_at`` (when the
service's answer came back) beside ``sent_at``; :meth:`ProduceResult.offered_fraction` turns those answers into
the share of the target the service really saw. ``workers=1`` (the default) sends each call on the caller's
thread and is the deterministic path offline: with threads, which records a per-second limit refuses depends
on scheduling. Threads help with round-trip latency, not CPU: when the client-side work exceeds one core (live,
on the order of a hundred shards at their limits: boto3 serialises and signs about 130k small or 24k 10-KB
records/s per core, see docs/throughput.md), use :func:`produce_in_processes`. It needs a real clock and a
picklable client factory, because clients and simulated clocks cannot cross process boundaries. Give threaded
producers a client whose connection pool holds at least ``workers`` connections (``max_pool_connections``).
"""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import multiprocessing
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock, RealClock
from pytest_kinesis_limits.kinesis.key_spread import Record
from pytest_kinesis_limits.kinesis.producer_log import ProduceResult, Rate, RecordOutcome
from pytest_kinesis_limits.kinesis.reader import stream_kwargs

__all__ = ["ProduceResult", "Producer", "Rate", "RecordOutcome", "RetryPolicy", "batch_records", "is_retryable",
           "produce_in_processes"]

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


class _Feed:
    """What a run sends next: refused records due for a retry first, then new records, within a tick's budget.

    Also keeps the run's outcome log (one :class:`RecordOutcome` per record) and schedules retries with the
    policy's seeded jitter, so the serial and the pipelined loops share one definition of what is sent when.
    """

    def __init__(self, records: Iterable[Record], *, count: int | None, retry: RetryPolicy) -> None:
        self.source = iter(records)
        self.lookahead: list[Record] = []
        self.count = count
        self.retry = retry
        self.rng = random.Random(retry.seed)
        self.outcomes: dict[int, RecordOutcome] = {}
        self.pending: list[_Retry] = []
        self.order = itertools.count()
        self.taken = 0
        self.exhausted = False

    def more_new(self, tick_start: float, now: float, end: float | None) -> bool:
        """Whether new records may still be taken at a tick due at ``tick_start`` and starting at ``now``: a
        late producer stops at ``end`` too, rather than stretching the run to send every tick's budget."""
        return (not self.exhausted and (self.count is None or self.taken < self.count)
                and (end is None or (tick_start < end and now < end)))

    def choose(self, now: float, rate: Rate | None, budget: float, more_new: bool,
               max_records: int) -> tuple[list[Record], bool, float]:
        """The records for one tick: ``(chosen, limited by the budget, budget left)``."""
        chosen: list[Record] = []
        limited = False
        while self.pending and self.pending[0].due <= now:
            record = self.pending[0].record
            if rate and rate.cost(record) > budget:
                limited = True
                break
            heapq.heappop(self.pending)
            chosen.append(record)
            budget -= rate.cost(record) if rate else 0
        while more_new and not limited and (rate or len(chosen) < max_records):
            if not self.lookahead:
                nxt = next(self.source, None)
                if nxt is None:
                    self.exhausted = True
                    break
                self.lookahead.append(nxt)
            record = self.lookahead[0]
            if rate and rate.cost(record) > budget:
                limited = True
                break
            self.lookahead.pop()
            chosen.append(record)
            self.taken += 1
            budget -= rate.cost(record) if rate else 0
            if self.count is not None and self.taken >= self.count:
                break
        for record in chosen:
            if record.index not in self.outcomes:
                self.outcomes[record.index] = RecordOutcome(record.index, record.partition_key,
                                                           record.explicit_hash_key, record.size)
        return chosen, limited, budget

    def logs(self, batch: list[Record]) -> list[RecordOutcome]:
        return [self.outcomes[r.index] for r in batch]

    def schedule(self, retries: list[Record]) -> None:
        """Queue records a call refused with a retryable error, each after its backoff delay."""
        for record in retries:
            log = self.outcomes[record.index]
            due = log.sent_at + self.retry.delay(log.attempts, self.rng)
            heapq.heappush(self.pending, _Retry(due, next(self.order), record))


class Producer:
    """Puts records to one stream with PutRecords, paced on ``clock``, logging every record's outcome.

    ``stream`` is a stream name or ARN. ``max_request_bytes`` defaults to the 5 MiB legacy cap, which
    every backend accepts (see the catalogue). ``tick`` is the pacing period in clock seconds: each tick
    sends ``rate * tick`` worth of records (fractions carried over), then sleeps until the next tick.
    ``workers`` is how many PutRecords calls may be in flight at once: 1 sends each call on the caller's
    thread and waits for its answer (the deterministic path offline); more pipelines them on that many
    threads, so that a tick's calls never wait for earlier ticks' answers (see the module docstring).
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
        records and within the rate budget; the run ends once no retry is pending and no call is in flight.
        """
        if duration is None and count is None and not isinstance(records, (list, tuple)):
            raise ValueError("give a duration or a count for an open-ended record source")
        feed = _Feed(records, count=count, retry=self.retry)
        if self.workers == 1:
            calls, ticks, late, start = self._run_serial(feed, rate, duration)
        else:
            calls, ticks, late, start = self._run_pipelined(feed, rate, duration)
        end = self.clock.now()
        return ProduceResult(sorted(feed.outcomes.values(), key=lambda o: o.index), calls, start, end, rate, late,
                             self.stream, ticks)

    def _run_serial(self, feed: _Feed, rate: Rate | None, duration: float | None) -> tuple[int, int, int, float]:
        """One call at a time on this thread: on a simulated clock every run is the same."""
        calls = late = ticks = 0
        carry = 0.0
        start = self.clock.now()
        tick_start = start
        end = None if duration is None else start + duration
        for tick_number in itertools.count(1):
            now = self.clock.now()
            more_new = feed.more_new(tick_start, now, end)
            if not more_new and not feed.pending:
                break
            ticks = tick_number
            chosen, carry = self._choose(feed, now, rate, carry, more_new)
            batches = list(batch_records(chosen, **self.caps))
            calls += len(batches)
            for batch in batches:
                feed.schedule(self._send(batch, feed.logs(batch)))
            if rate:
                tick_start, was_late = self._sleep_to_tick(start, tick_number)
                late += was_late
            elif not chosen and feed.pending:
                tick_start = self._sleep_to_due(feed)
            else:
                tick_start = self.clock.now()
        return calls, ticks, late, start

    def _choose(self, feed: _Feed, now: float, rate: Rate | None, carry: float, more_new: bool
                ) -> tuple[list[Record], float]:
        """This tick's records within its budget (the rate's share of a tick plus what the last one left), and
        what this tick leaves for the next."""
        budget = (rate.value * self.tick + carry) if rate else float("inf")
        chosen, limited, left = feed.choose(now, rate, budget, more_new, self.caps["max_records"])
        return chosen, (left if (rate and limited) else 0.0)

    def _sleep_to_tick(self, start: float, tick_number: int) -> tuple[float, bool]:
        """Sleep to the start of the next tick; its start, and whether this tick ran past it (a late tick)."""
        next_tick = start + tick_number * self.tick
        wait = next_tick - self.clock.now()
        self.clock.sleep(max(0.0, wait))
        return next_tick, wait < 0

    def _sleep_to_due(self, feed: _Feed) -> float:
        """Nothing to send now: sleep until the first retry is due; the new tick's start."""
        self.clock.sleep(max(0.0, feed.pending[0].due - self.clock.now()))
        return self.clock.now()

    def _run_pipelined(self, feed: _Feed, rate: Rate | None, duration: float | None
                       ) -> tuple[int, int, int, float]:
        """Up to ``workers`` calls in flight: each tick submits its calls and sleeps to the next tick without
        waiting for answers. When the window is full the tick waits for a free slot (and may end late).
        Answers are harvested at every tick, in completion order, to schedule retries. On a simulated clock,
        where a round trip takes no time, a tick's calls are answered before the clock moves on (they still
        run concurrently, so which of them a per-second limit refuses may vary)."""
        calls = late = ticks = 0
        carry = 0.0
        in_flight: set[concurrent.futures.Future[list[Record]]] = set()

        def harvest(done: Iterable[concurrent.futures.Future[list[Record]]]) -> None:
            for future in done:
                in_flight.discard(future)
                feed.schedule(future.result())

        simulated = getattr(self.clock, "simulated", False)
        executor = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="kinesis-producer")
        try:
            start = self.clock.now()
            tick_start = start
            end = None if duration is None else start + duration
            while True:
                harvest([f for f in in_flight if f.done()])
                now = self.clock.now()
                more_new = feed.more_new(tick_start, now, end)
                if not more_new and not feed.pending:
                    if not in_flight:
                        break
                    done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                    harvest(done)
                    continue
                ticks += 1
                chosen, carry = self._choose(feed, now, rate, carry, more_new)
                for batch in batch_records(chosen, **self.caps):
                    if len(in_flight) >= self.workers:  # the window is full: wait for a free slot
                        done, _ = concurrent.futures.wait(in_flight,
                                                          return_when=concurrent.futures.FIRST_COMPLETED)
                        harvest(done)
                    calls += 1
                    in_flight.add(executor.submit(self._send, batch, feed.logs(batch)))
                if simulated and in_flight:  # a round trip takes no simulated time: answer before the clock moves
                    harvest(concurrent.futures.wait(in_flight).done)
                if rate:
                    tick_start, was_late = self._sleep_to_tick(start, ticks)
                    late += was_late
                elif not chosen and in_flight:
                    done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                    harvest(done)
                    tick_start = self.clock.now()
                elif not chosen and feed.pending:
                    tick_start = self._sleep_to_due(feed)
                else:
                    tick_start = self.clock.now()
        finally:
            executor.shutdown(wait=True)
        return calls, ticks, late, start

    def _send(self, batch: list[Record], logs: list[RecordOutcome]) -> list[Record]:
        """One PutRecords call; update the batch's outcomes and return the records to retry."""
        sent_at = self.clock.now()
        for log in logs:
            log.attempts += 1
            log.sent_at = sent_at
            log.answered_at = None
            if log.attempts == 1:
                log.first_sent_at = sent_at
        retry: list[Record] = []
        may_retry = self.retry.retries
        try:
            response = self.client.put_records(Records=[r.entry() for r in batch], **stream_kwargs(self.stream))
        except ClientError as exc:
            answered = self.clock.now()
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "ClientError"), error.get("Message", str(exc))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            retryable = is_retryable(code, status=status)
            for record, log in zip(batch, logs):
                _refuse(log, code, message, whole_call=True)
                log.answered_at = answered
                if may_retry and retryable and log.attempts < self.retry.max_attempts:
                    retry.append(record)
            return retry
        except BotoCoreError as exc:  # no answer from the service (connection, timeout): answered_at stays None
            retryable = is_retryable(None, exception=exc)
            for record, log in zip(batch, logs):
                _refuse(log, type(exc).__name__, str(exc), whole_call=True)
                if may_retry and retryable and log.attempts < self.retry.max_attempts:
                    retry.append(record)
            return retry
        answered = self.clock.now()
        entries = response.get("Records", [])
        if len(entries) != len(batch):
            raise RuntimeError(f"PutRecords answered {len(entries)} entries for {len(batch)} records")
        for record, log, entry in zip(batch, logs, entries):
            log.answered_at = answered
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
