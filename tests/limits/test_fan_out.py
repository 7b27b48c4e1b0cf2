"""Enhanced fan-out: registered consumers at their documented limits (``-k fan_out``, issue 22).

The seed's list of limits ends with "up to 20 consumers per stream can use enhanced fan-out". RegisterStreamConsumer
(API reference) documents it, and a second limit beside it: at most 5 consumers of the account CREATING at once.
Each test registers through ``make_consumer(..., retries=False)`` (one attempt: a LimitExceededException reaches
the test instead of botocore's retries) and records its measurement before asserting.

Plain moto registers any number of consumers, ACTIVE at once: the family is a strict expected failure there.
"""

from __future__ import annotations

import contextlib
import threading

import pytest
from botocore.exceptions import ClientError, EventStreamError
from botocore.parsers import ResponseParserError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis import consumers
from pytest_kinesis_limits.kinesis.fan_out_reader import read_stream_fan_out
from pytest_kinesis_limits.kinesis.reader import read_stream
from pytest_kinesis_limits.kinesis.resharding import Reshard, Scenario, run_scenario

pytestmark = pytest.mark.kinesis_gap(
    "moto-plain", reason="moto registers any number of consumers per stream, ACTIVE at once (no CREATING, so no "
    "limit on consumers CREATING)")

PER_STREAM = limits.FAN_OUT_CONSUMERS_PER_STREAM
CREATING = limits.FAN_OUT_CONSUMERS_CREATING
#: RegisterStreamConsumer's rate: at most this many calls in any second, so that a refusal is the limit under test.
CALLS_PER_S = limits.FAN_OUT_REGISTER_CALLS_PER_S.value


#: The seed's reshards, small (the resharding family's small cases): 16 ticks of 0.5 s at a steady rate, the
#: reshard at tick 4, at least 6 ticks after ACTIVE.
RESHARDS = {name: Scenario(f"fan-out-{name}", shards, reshard, records_per_tick=100, tick_s=0.5, ticks=16,
                           reshard_tick=4, after_active_ticks=6)
            for name, shards, reshard in (("split-1-2", 1, Reshard.split()), ("merge-2-1", 2, Reshard.merge()))}


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


#: What each test measures: where a backend lacks an operation, the cell of that limit says ``unsupported``.
MEASURES = {
    "test_fan_out_consumers_per_stream": limits.FAN_OUT_CONSUMERS_PER_STREAM,
    "test_fan_out_consumers_creating_at_once": limits.FAN_OUT_CONSUMERS_CREATING,
    "test_fan_out_consumers_each_read_2_mib_per_s_beside_a_polling_reader": limits.FAN_OUT_CONSUMER_READ_BYTES_PER_S,
    "test_fan_out_resubscribe_within_5_s_is_refused_and_later_takes_over": limits.FAN_OUT_RESUBSCRIBE_S,
    "test_fan_out_subscription_ends_after_5_minutes_and_resumes_losing_nothing": limits.FAN_OUT_SUBSCRIPTION_S,
    "test_fan_out_consumer_reads_across_a_reshard": limits.RESHARD_LOST_RECORDS,
}
#: A backend's answer to an operation it does not have (kinesalite: RegisterStreamConsumer, SubscribeToShard).
UNKNOWN_OPERATION = "UnknownOperationException"


def unsupported(request, record_measurement, exc: ClientError):
    """The backend has no such operation: ``unsupported`` (recorded, then skipped), not a failure of the limit."""
    operation = exc.operation_name
    record_measurement(MEASURES[request.node.originalname], None, verdict="unsupported",
                       detail=f"this backend has no {operation} ({refusal(exc)})")
    pytest.skip(f"unsupported by this backend: {operation} answered {UNKNOWN_OPERATION}")


@pytest.fixture
def make_consumer(make_consumer, record_measurement, request):
    """The plugin's ``make_consumer``; a backend without RegisterStreamConsumer makes the test ``unsupported``."""

    def make(*args, **kwargs):
        try:
            return make_consumer(*args, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == UNKNOWN_OPERATION:
                unsupported(request, record_measurement, exc)
            raise

    return make


@contextlib.contextmanager
def parsed_or_fail(record_measurement, limit):
    """An answer botocore cannot parse as SubscribeToShard's event stream is the backend's gap: a FAIL of ``limit``
    with the reason (a cell of the conformance matrix), never an ERROR; a backend without SubscribeToShard makes the
    test ``unsupported``."""
    try:
        yield
    except ResponseParserError as exc:
        record_measurement(limit, None, verdict="fail",
                           detail=f"SubscribeToShard's answer is not an event stream botocore can parse: {exc}")
        pytest.fail(f"SubscribeToShard's answer cannot be parsed: {exc}", pytrace=False)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != UNKNOWN_OPERATION:
            raise
        record_measurement(limit, None, verdict="unsupported", detail=f"this backend has no {exc.operation_name}")
        pytest.skip(f"unsupported by this backend: {exc.operation_name} answered {UNKNOWN_OPERATION}")


def refusal(exc: ClientError) -> str:
    return f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"


def test_fan_out_consumers_per_stream(kinesis_stream, make_consumer, kinesis_client, kinesis_clock,
                                      kinesis_wait_policy, record_measurement):
    """20 consumers register on one stream and the 21st is refused with LimitExceededException. They are registered
    five at a time (each wave ACTIVE before the next: at most 5 may be CREATING) and at most five calls a second."""
    registered, refused = [], None
    while refused is None and len(registered) <= PER_STREAM.value:
        wave = []
        for _ in range(min(CREATING.value, PER_STREAM.value + 1 - len(registered))):
            try:
                wave.append(make_consumer(kinesis_stream, wait=False, retries=False))
            except ClientError as exc:
                refused = exc
                break
        kinesis_clock.sleep(1.0)  # the next wave's calls fall in another second
        for consumer in wave:
            consumers.wait_active(kinesis_client, consumer, clock=kinesis_clock, policy=kinesis_wait_policy)
        registered += wave
    code = refused.response["Error"]["Code"] if refused is not None else None
    ok = len(registered) == PER_STREAM.value and code == "LimitExceededException"
    record_measurement(PER_STREAM, len(registered), verdict=verdict(ok),
                       detail=f"{len(registered)} registered, then " + (refusal(refused) if refused is not None else
                                                                       f"a {len(registered) + 1}th not tried"))
    assert len(registered) == PER_STREAM.value, f"{len(registered)} consumers registered, not {PER_STREAM.value}"
    assert code == "LimitExceededException", (f"consumer {PER_STREAM.value + 1} was not refused with "
                                               f"LimitExceededException: {refusal(refused) if refused else 'accepted'}")


def test_fan_out_consumers_creating_at_once(kinesis_stream, make_consumer, kinesis_client, kinesis_clock,
                                            kinesis_wait_policy, record_measurement):
    """Five consumers CREATING at once, and a sixth registered meanwhile is refused with LimitExceededException;
    once they are ACTIVE, the sixth registers. A sixth that meets one of the five already ACTIVE tested nothing:
    ``inconclusive`` (live, a consumer may become ACTIVE within the second the calls take)."""
    first = [make_consumer(kinesis_stream, wait=False, retries=False) for _ in range(CREATING.value)]
    kinesis_clock.sleep(1.0 / CALLS_PER_S)  # the sixth call within the rate, while the five are still CREATING
    try:
        make_consumer(kinesis_stream, wait=False, retries=False)
        sixth = "accepted"
    except ClientError as exc:
        sixth = refusal(exc)
    statuses = [consumers.status(kinesis_client, c) for c in first]
    still_creating = statuses.count("CREATING")
    for consumer in first:
        consumers.wait_active(kinesis_client, consumer, clock=kinesis_clock, policy=kinesis_wait_policy)
    try:
        make_consumer(kinesis_stream, wait=False, retries=False)
        after = "accepted"
    except ClientError as exc:
        after = refusal(exc)
    refused = sixth.startswith("LimitExceededException")
    never_creating = [c.name for c in first if c.registered_status != "CREATING"]
    if not refused and never_creating:
        outcome = "fail"  # the backend has no CREATING state to count (AWS answers CREATING): nothing the client did
    elif not refused and still_creating < CREATING.value:
        outcome = "inconclusive"  # the client could not hold five CREATING while it asked for a sixth
    else:
        outcome = verdict(refused and after == "accepted")
    record_measurement(CREATING, CREATING.value if refused else CREATING.value + 1, verdict=outcome,
                       detail=f"sixth while {still_creating} of {CREATING.value} were CREATING: {sixth}; once ACTIVE: "
                              f"{after}" + (f"; {len(never_creating)} answered "
                                            f"{first[0].registered_status or 'no status'} at registration, not "
                                            "CREATING" if never_creating else ""))
    if outcome == "inconclusive":
        pytest.skip(f"inconclusive: only {still_creating} of the five were still CREATING at the sixth call")
    assert not never_creating, (f"RegisterStreamConsumer answered {first[0].registered_status!r}, not CREATING, for "
                                f"{len(never_creating)} consumers: there was no CREATING state to limit")
    assert refused, f"a sixth consumer registered while five were CREATING: {sixth}"
    assert after == "accepted", f"the sixth was still refused once the five were ACTIVE: {after}"


# ------------------------------------------------------------------------------------------ SubscribeToShard
SHARD_READ_BYTES = limits.SHARD_READ_BYTES_PER_S
CONSUMER_BYTES = limits.FAN_OUT_CONSUMER_READ_BYTES_PER_S
RESUBSCRIBE_S = limits.FAN_OUT_RESUBSCRIBE_S.value
SUBSCRIPTION_S = limits.FAN_OUT_SUBSCRIPTION_S.value
#: The backlog the read-rate test reads: enough for three full seconds of two consumers at 2 MiB/s, written at the
#: shard's 1 MiB/s first (records of 256 KiB with their key).
BACKLOG_RECORDS = 32
RECORD_DATA = 256 * 1024 - 4  # + a 4-character partition key: 256 KiB a record


def _write_backlog(kinesis_client, stream, clock) -> int:
    """BACKLOG_RECORDS records of 256 KiB, four a second (the shard's 1 MiB/s); their bytes (data and keys)."""
    for start in range(0, BACKLOG_RECORDS, 4):
        answer = kinesis_client.put_records(StreamName=stream.name, Records=[
            {"Data": bytes([n % 251]) * RECORD_DATA, "PartitionKey": f"k{n:03d}"} for n in range(start, start + 4)])
        assert answer["FailedRecordCount"] == 0, answer
        clock.sleep(1.0)
    return BACKLOG_RECORDS * (RECORD_DATA + 4)


def _per_second(samples: list[tuple[float, int]], full_seconds: int) -> list[int]:
    """Bytes per second of the client's clock, for the first ``full_seconds`` seconds after the first event."""
    start = samples[0][0]
    return [sum(size for when, size in samples if start + s <= when < start + s + 1) for s in range(full_seconds)]


def test_fan_out_consumers_each_read_2_mib_per_s_beside_a_polling_reader(
        kinesis_stream, make_consumer, kinesis_client, kinesis_client_no_retry, kinesis_clock, kinesis_settings,
        record_measurement):
    """Two consumers read one shard's backlog at once, each at 2 MiB/s (``unaffected by the total number of
    consumers``), while a GetRecords reader of the same shard keeps its own 2 MiB/s: enhanced fan-out is not taken
    from the shard's shared read budget. Above 2 MiB/s is FAIL (the cap); below is FAIL offline, and live
    ``inconclusive`` (the client's download may be what held it)."""
    total = _write_backlog(kinesis_client, kinesis_stream, kinesis_clock)
    full_seconds = total // (2 * CONSUMER_BYTES.value) - 1  # seconds in which the backlog cannot run out
    consumers_ = [make_consumer(kinesis_stream) for _ in range(2)]
    samples: dict[str, list[tuple[float, int]]] = {c.name: [] for c in consumers_}

    errors: list[BaseException] = []

    def consume(consumer) -> None:
        try:
            read_pushed(consumer)
        except BaseException as exc:  # noqa: BLE001 - judged after the threads end
            errors.append(exc)

    def read_pushed(consumer) -> None:
        events = kinesis_client.subscribe_to_shard(ConsumerARN=consumer.arn, ShardId="shardId-000000000000",
                                                   StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
        got = 0
        try:
            for event in events:
                records = event["SubscribeToShardEvent"]["Records"]
                size = sum(len(r["Data"]) + len(r["PartitionKey"]) for r in records)
                samples[consumer.name].append((kinesis_clock.now(), size))
                got += size
                if got >= total:
                    return
        finally:
            events.close()

    polled: list = []

    def poll() -> None:
        # 1 MiB a call, paced at the shard's 2 MiB/s, so that it reads all along beside the consumers; one attempt
        # a call, so that the reader sees (and counts) every throttle instead of botocore's retries hiding them.
        polled.append(read_stream(kinesis_client_no_retry, kinesis_stream.name, clock=kinesis_clock, limit=4))

    threads = [threading.Thread(target=consume, args=(c,)) for c in consumers_]
    threads.append(threading.Thread(target=poll))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with parsed_or_fail(record_measurement, CONSUMER_BYTES):
        for error in errors:
            raise error
    tolerance = kinesis_settings.effective_rate_tolerance
    cap = CONSUMER_BYTES.value
    rates = {name: _per_second(s, full_seconds) for name, s in samples.items()}
    measured = min(min(r) for r in rates.values())
    highest = max(max(r) for r in rates.values())
    over = highest > cap * (1 + tolerance)
    under = measured < cap * (1 - tolerance)
    poller = polled[0]
    shared = poller.throttles > 0 or len(poller.records) != BACKLOG_RECORDS  # the consumers took the shard's reads
    outcome = "fail" if over or shared or (under and kinesis_settings.offline) else \
        "inconclusive" if under else "pass"
    record_measurement(CONSUMER_BYTES, measured, verdict=outcome,
                       detail=f"bytes per second of each consumer over the first {full_seconds} s: {rates}; the "
                              f"GetRecords reader beside them read {len(poller.records)} of {BACKLOG_RECORDS} records "
                              f"in {poller.calls} calls, {poller.throttles} throttled")
    if outcome == "inconclusive":
        pytest.skip(f"inconclusive: a consumer read {measured} bytes in a second, below {cap}: the client's "
                    "download may have held it")
    assert not over, f"a consumer got {highest} bytes in one second, over the {cap} it is documented to get"
    assert not under, f"a consumer got only {measured} bytes in one of the first {full_seconds} seconds: {rates}"
    assert not shared, (f"the GetRecords reader was throttled {poller.throttles} times beside the consumers: their "
                        "reads were taken from the shard's shared budget")


def test_fan_out_resubscribe_within_5_s_is_refused_and_later_takes_over(kinesis_stream, make_consumer,
                                                                        kinesis_client_no_retry, kinesis_clock,
                                                                        record_measurement):
    """A second SubscribeToShard for the same consumer and shard within 5 s of a successful one is refused
    (ResourceInUseException); 5 s or more after, it takes the subscription over and the first one ends."""
    consumer = make_consumer(kinesis_stream)
    shard, position = "shardId-000000000000", {"Type": "LATEST"}

    def subscribe():
        return kinesis_client_no_retry.subscribe_to_shard(ConsumerARN=consumer.arn, ShardId=shard,
                                                          StartingPosition=position)["EventStream"]

    with parsed_or_fail(record_measurement, limits.FAN_OUT_RESUBSCRIBE_S):
        first = iter(subscribe())
    succeeded = kinesis_clock.now()
    next(first)
    kinesis_clock.sleep(2.0)  # within the 5 s, and after the one call a second
    early_at = kinesis_clock.now() - succeeded
    try:
        subscribe().close()
        early = "accepted"
    except ClientError as exc:
        early = refusal(exc)
    # Live the service saw the first call a little after this clock did: a second later, to be on its far side.
    kinesis_clock.sleep(max(0.0, succeeded + RESUBSCRIBE_S + (0.0 if kinesis_clock.simulated else 1.0)
                            - kinesis_clock.now()))
    late_at = kinesis_clock.now() - succeeded
    try:
        second = iter(subscribe())
        next(second)
        late = "accepted"
    except ClientError as exc:
        second, late = None, refusal(exc)
    ended = "still open"
    try:
        for _ in first:
            kinesis_clock.sleep(1.0)
            if kinesis_clock.now() - succeeded > RESUBSCRIBE_S + 30:
                break
    except EventStreamError as exc:
        ended = f"ended: {exc.code if hasattr(exc, 'code') else exc}"
    finally:
        if second is not None:
            second.close()
    if early_at >= RESUBSCRIBE_S:
        outcome = "inconclusive"  # the client could not ask again within the 5 s
    else:
        outcome = verdict(early.startswith("ResourceInUseException") and late == "accepted" and ended != "still open")
    record_measurement(limits.FAN_OUT_RESUBSCRIBE_S, late_at if late == "accepted" else None, verdict=outcome,
                       detail=f"after {early_at:.1f} s: {early}; after {late_at:.1f} s: {late}; the first "
                              f"subscription {ended}")
    if outcome == "inconclusive":
        pytest.skip(f"inconclusive: the second call went {early_at:.1f} s after the first, not within 5 s")
    assert early.startswith("ResourceInUseException"), f"a subscription within 5 s was not refused: {early}"
    assert late == "accepted", f"a subscription {late_at:.1f} s after the first was refused: {late}"
    assert ended != "still open", "the first subscription went on after it was taken over"


def test_fan_out_subscription_ends_after_5_minutes_and_resumes_losing_nothing(
        kinesis_stream, make_consumer, kinesis_client, kinesis_clock, record_measurement):
    """A subscription delivers for 5 minutes, then ends; resumed from its last ContinuationSequenceNumber
    (AFTER_SEQUENCE_NUMBER) it delivers the rest, none lost, none twice, while a producer writes all along."""
    consumer = make_consumer(kinesis_stream)
    shard = "shardId-000000000000"
    written: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        n = 0
        while not stop.is_set():
            kinesis_client.put_record(StreamName=kinesis_stream.name, Data=f"r{n}".encode(), PartitionKey=f"k{n}")
            written.append(f"r{n}")
            n += 1
            kinesis_clock.sleep(10.0)

    producer = threading.Thread(target=produce)
    producer.start()
    got: list[str] = []
    subscribed = kinesis_clock.now()
    continuation = None
    try:
        with parsed_or_fail(record_measurement, limits.FAN_OUT_SUBSCRIPTION_S):
            events = kinesis_client.subscribe_to_shard(ConsumerARN=consumer.arn, ShardId=shard,
                                                       StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
    finally:
        if "events" not in locals():
            stop.set()
            producer.join()
    for event in events:
        body = event["SubscribeToShardEvent"]
        got += [r["Data"].decode() for r in body["Records"]]
        continuation = body["ContinuationSequenceNumber"]
    lasted = kinesis_clock.now() - subscribed
    resumed = kinesis_client.subscribe_to_shard(
        ConsumerARN=consumer.arn, ShardId=shard,
        StartingPosition={"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": continuation})["EventStream"]
    stop.set()
    producer.join()
    quiet = 0
    for event in resumed:
        records = event["SubscribeToShardEvent"]["Records"]
        got += [r["Data"].decode() for r in records]
        quiet = 0 if records else quiet + 1
        if quiet >= 3 and len(got) >= len(written):
            break
    resumed.close()
    lost = sorted(set(written) - set(got))
    twice = len(got) - len(set(got))
    slack = max(float(limits.FAN_OUT_EVENT_PERIOD_S.value), 0.0) + (0.0 if kinesis_clock.simulated else 30.0)
    ok = abs(lasted - SUBSCRIPTION_S) <= slack and not lost and not twice
    record_measurement(limits.FAN_OUT_SUBSCRIPTION_S, round(lasted, 1), verdict=verdict(ok),
                       detail=f"the first subscription ended after {lasted:.1f} s; {len(written)} records written "
                              f"across it, {len(lost)} lost, {twice} read twice after resuming")
    assert abs(lasted - SUBSCRIPTION_S) <= slack, f"the subscription lasted {lasted:.1f} s, not {SUBSCRIPTION_S} s"
    assert not lost and not twice, f"resumed from the continuation: lost {lost[:5]}, {twice} twice"


@pytest.mark.parametrize("name", ["split-1-2", "merge-2-1"])
def test_fan_out_consumer_reads_across_a_reshard(name, make_stream, make_consumer, kinesis_client,
                                                 kinesis_client_no_retry, kinesis_clock, kinesis_transitions,
                                                 kinesis_fidelity, record_measurement):
    """The seed's split 1 -> 2 and merge 2 -> 1 while writing, read back by an enhanced fan-out consumer (its
    subscriptions follow the parents' ChildShards): the resharding family's continuity verdicts."""
    scenario = RESHARDS[name]
    if kinesis_fidelity is not None:
        kinesis_fidelity.config.updating_seconds = 2 * scenario.tick_s  # as the resharding family's small cases
    scenario = scenario.bounded_by(kinesis_fidelity.config.updating_seconds if kinesis_fidelity else None)
    stream = make_stream(shard_count=scenario.shards)
    consumer = make_consumer(stream)
    with parsed_or_fail(record_measurement, limits.RESHARD_LOST_RECORDS):
        result = run_scenario(scenario, write_client=kinesis_client_no_retry, control_client=kinesis_client,
                              stream=stream.name, clock=kinesis_clock, transitions=kinesis_transitions,
                              read=lambda client, name_: read_stream_fan_out(client, name_, consumer.arn,
                                                                             clock=kinesis_clock))
    c = result.continuity
    assert c is not None
    counts = result.counts()
    detail = (f"{scenario.name}, read by an enhanced fan-out consumer in {result.read.calls} subscriptions: "
              f"{counts['written']} written, {counts['acknowledged']} acknowledged, {counts['read']} read, "
              f"duplicated {counts['duplicated']}, shards {result.shards_before}->{result.shards_after}")
    record_measurement(limits.RESHARD_LOST_RECORDS, len(c.lost), verdict=verdict(not c.lost), detail=detail,
                       series=result)
    record_measurement(limits.RESHARD_REORDERED_RECORDS, len(c.reordered), verdict=verdict(not c.reordered),
                       detail=detail)
    assert not c.lost, f"acknowledged records the consumer never read: {result}"
    assert not c.reordered, f"records of a key read out of write order: {result}"
    assert not c.unexplained_duplicates and not c.unexplained_phantoms, f"duplicates or phantoms: {result}"
    assert result.ok, f"the scenario failed: {result}"

