"""Kinesis → Firehose → S3, object by object (``-k firehose``).

The delivery stream comes from ``make_delivery_stream`` / ``firehose_delivery_stream``: already proven to be
reading its source (a canary per shard has arrived; ``wait_for_delivery`` leaves the canaries out). Every
test records what it measured, with its verdict, before asserting. Offline the delivery simulation runs on
the simulated clock, so waiting out buffering intervals costs nothing.

Plain moto (``--kinesis-fidelity=off``) never reads a Kinesis source: the fixture's canary never arrives and
direct puts are accepted, so the whole family is a strict expected failure there.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median

import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import firehose as fh, limits
from pytest_kinesis_limits.kinesis import kpl, payloads, probes
from pytest_kinesis_limits.firehose import delivery_bound_s, delivery_poll_s
from pytest_kinesis_limits.kinesis.resharding import Reshard, Scenario, open_shards, run_scenario

pytestmark = pytest.mark.kinesis_gap(
    "moto-plain", reason="moto's Firehose never reads its Kinesis source (nothing is delivered, the fixture's "
    "canary never arrives) and accepts direct puts to a Kinesis-source delivery stream")

MAX_RECORDS = limits.PUT_RECORDS_MAX_RECORDS
#: The seed test sent its first events one at a time with PutRecord, the rest with PutRecords.
SEED_SINGLES = 10
RECORD_BYTES = limits.RECORD_MAX_BYTES
HINT_BYTES = limits.FIREHOSE_BUFFER_MIB_MIN.value * limits.MIB
READ_PERIOD_S = 1.0 / limits.FIREHOSE_SOURCE_READS_PER_S.value
#: Live only: what the interval-hint verdict allows beyond interval + one read period (the S3 write and
#: Firehose's scheduling; both ends are service clocks). Offline: nothing.
LIVE_LATENCY_SLACK_S = 60.0
#: Live only: how far from the size hint an object may be (a fraction of the hint; our choice, not AWS's).
#: AWS calls BufferingHints hints and may raise the size when delivery falls behind (buffering-hints.html);
#: offline the simulation cuts exactly: an object is more than the hint minus one record and at most the hint.
LIVE_SIZE_TOLERANCE = 0.2
#: How long nothing must arrive after a refused direct put (several read periods; an accepted put would be
#: delivered within the 0 s interval plus a read).
QUIET_S = 30.0
#: The size-hint test's interval: long enough that only the size hint cuts objects while it writes.
SIZE_TEST_INTERVAL_S = 60
#: The resharding run, shaped like the seed's (``{"test": n}`` batches every half second, the shard count
#: changed 1 -> 2 while writing, as the console's "update shard count" does: UpdateShardCount) but small:
#: a fifth of a PutRecords batch per tick over 16 keys, the reshard at the fifth tick, four ticks after ACTIVE.
RESHARD = Scenario("firehose-seed-uniform-1-2", 1, Reshard.uniform(2), records_per_tick=MAX_RECORDS.value // 5,
                   tick_s=0.5, ticks=12, reshard_tick=4, after_active_ticks=4, keys=16)


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def rounded(seconds: float | None) -> float | None:
    """Seconds for messages (verdicts compare the exact values)."""
    return None if seconds is None else round(seconds, 2)


def seed_id(record: dict) -> int | None:
    return record.get("id") if isinstance(record, dict) else None


def counter_id(record: dict) -> int | None:
    return record.get("test") if isinstance(record, dict) else None


def extra_bytes(objects: list[fh.DeliveredObject], sent: dict, identify) -> tuple[int, str | None]:
    """Bytes in the bodies beyond the records' own bytes, and the first body that is not exactly them (a
    late canary, written as compact JSON like the test's records, counts as its own bytes)."""
    extra, first_bad = 0, None
    for obj in objects:
        expected = b"".join(payloads.encode_json(r) if fh.CANARY_FIELD in r else sent.get(identify(r), b"")
                            for r in obj.records)
        extra += len(obj.body) - len(expected)
        if obj.body != expected and first_bad is None:
            first_bad = (f"{obj.key}: {obj.body_error or 'body is not the records concatenated'} "
                         f"(starts {obj.body[:60]!r})")
    return extra, first_bad


def arrivals_of(read_records, delivery, identify) -> dict:
    """Each record's ApproximateArrivalTimestamp, read back from the source stream (the test's records by
    ``identify``, canaries by their own id): the start of a latency on the service's clock. The read leaves the
    delivery stream its share of the shard's reads (``fh.source_read_options``): Firehose reads it too."""
    return fh.arrival_times(read_records(delivery.source, **fh.source_read_options()), delivery.record_id(identify))


def key_errors(objects: list[fh.DeliveredObject], version: int) -> list[str]:
    """Objects whose key is not in the documented format, or names another version than ``version``."""
    errors = []
    for obj in objects:
        if obj.key_error:
            errors.append(obj.key_error)
        elif obj.parsed and obj.parsed.version != version:
            errors.append(f"{obj.key}: version {obj.parsed.version}, the delivery stream is at {version}")
    return errors


def test_firehose_seed_events_arrive_in_s3(firehose_delivery_stream, kinesis_client, wait_for_delivery,
                                           read_records, record_measurement):
    """The seed's pipeline: mobile events (Korean text, nulls, mixed types) sent with PutRecord and
    PutRecords arrive in S3 under documented keys, bodies the records' bytes back to back, none lost."""
    delivery = firehose_delivery_stream
    sent, outcomes = probes.send_seed_events(kinesis_client, delivery.source.name, SEED_SINGLES + MAX_RECORDS.value,
                                             singles=SEED_SINGLES)
    assert probes.all_stored(outcomes), [o.describe() for o in outcomes]

    result = wait_for_delivery(delivery, sent, seed_id)
    latencies = sorted(result.measure_latencies(arrivals_of(read_records, delivery, seed_id)).values())
    extra, bad_body = extra_bytes(result.objects, sent, seed_id)
    bad_keys = key_errors(result.objects, delivery.version)
    record_measurement(limits.FIREHOSE_MISSING_RECORDS, len(result.missing), verdict=verdict(not result.missing),
                       detail=f"{result.summary()}; duplicates (at-least-once): {len(result.duplicates)}")
    record_measurement(limits.FIREHOSE_KEY_FORMAT_ERRORS, len(bad_keys), verdict=verdict(not bad_keys),
                       detail=bad_keys[0] if bad_keys else f"{len(result.objects)} keys parsed")
    record_measurement(limits.FIREHOSE_RECORD_DELIMITER_BYTES, extra, verdict=verdict(bad_body is None),
                       detail=bad_body or "every body is exactly its records' bytes concatenated")
    record_measurement(limits.FIREHOSE_DELIVERY_LATENCY_S, result.max_latency_s, verdict="info", unit="s",
                       detail=f"the longest of {len(latencies)} delivery latencies (min "
                              f"{rounded(latencies[0] if latencies else None)}, median "
                              f"{rounded(median(latencies) if latencies else None)} s): each record's "
                              f"ApproximateArrivalTimestamp (Kinesis) to the LastModified of "
                              f"the S3 object holding it, with a {delivery.buffer_seconds} s interval hint",
                       series=result)

    assert not result.missing, f"records never delivered: {result.summary()}"
    assert not bad_keys, f"keys not in the documented format: {bad_keys[:3]}"
    assert bad_body is None, bad_body
    delivered = {seed_id(r): r for o in result.objects for r in o.records}
    assert delivered[0]["interest_name"] == "관심사" and delivered[0]["interest_service_id"] is None


def size_bounds(offline: bool, record_max: int) -> tuple[float, float]:
    """Sizes allowed for an object cut by the size hint (every object but the last)."""
    if offline:  # exact: the next record did not fit
        return HINT_BYTES - record_max + 1, HINT_BYTES
    return (1 - LIVE_SIZE_TOLERANCE) * HINT_BYTES - record_max, (1 + LIVE_SIZE_TOLERANCE) * HINT_BYTES


def test_firehose_small_size_hint_gives_several_objects(make_delivery_stream, kinesis_stream, s3_bucket,
                                                        kinesis_client, kinesis_clock, kinesis_backend,
                                                        wait_for_delivery, record_measurement):
    """With the smallest size hint and a long interval, 3.5 hints' worth of records written at half a hint
    per second are cut by size: every object but the last is close to the hint (offline: more than the
    hint minus one record, at most the hint; live: within LIVE_SIZE_TOLERANCE), the last no larger."""
    hint = limits.FIREHOSE_BUFFER_MIB_MIN
    delivery = make_delivery_stream(kinesis_stream, s3_bucket, buffer_mib=hint.value,
                                    buffer_seconds=SIZE_TEST_INTERVAL_S)
    record_bytes = RECORD_BYTES.value // 10
    per_second = HINT_BYTES // (2 * record_bytes)  # half a hint a second: buffering-less objects stay small
    count = 7 * HINT_BYTES // (2 * record_bytes)  # 3.5 hints
    sent = {}
    for first in range(0, count, per_second):
        batch = []
        for i in range(first, min(first + per_second, count)):
            sent[i] = payloads.encode_json({"id": i, "pad": "x" * (record_bytes - 40)})
            batch.append({"Data": sent[i], "PartitionKey": f"k{i}"})
        outcome = probes.put_records(kinesis_client, kinesis_stream.name, batch)
        assert outcome.accepted and outcome.failed_record_count == 0, outcome.describe()
        kinesis_clock.sleep(1.0)

    result = wait_for_delivery(delivery, sent, seed_id)
    ordered = sorted(result.objects, key=lambda o: max((seed_id(r) or 0) for r in o.records) if o.records else -1)
    sizes = [len(o.body) for o in ordered]
    low, high = size_bounds(kinesis_backend.offline, max(map(len, sent.values())))
    cut = sizes[:-1]
    off = [s for s in cut if not low <= s <= high] + [s for s in sizes[-1:] if s > high]
    ok = not result.missing and len(sizes) >= 2 and not off
    record_measurement(hint, max(sizes, default=0) / limits.MIB, verdict=verdict(ok), unit="MiB",
                       detail=f"{len(sizes)} objects of {[round(s / limits.MIB, 3) for s in sizes]} MiB for "
                              f"{sum(map(len, sent.values())) / limits.MIB:.2f} MiB; all but the last must be "
                              f"{low / limits.MIB:.3f}..{high / limits.MIB:.3f} MiB"
                              f"{'' if kinesis_backend.offline else f' (live tolerance {LIVE_SIZE_TOLERANCE:.0%})'}; "
                              f"{result.summary()}", series=result)
    assert not result.missing, result.summary()
    assert len(sizes) >= 2, f"a {hint.value} MiB size hint gave {len(sizes)} object(s) for 3.5 hints of records"
    assert not off, (f"objects of {off} bytes: cut by a {hint} size hint they should be {low:.0f}..{high:.0f} "
                     f"bytes (all sizes: {sizes})")


@pytest.mark.parametrize("interval", [limits.FIREHOSE_BUFFER_SECONDS_MIN, limits.FIREHOSE_BUFFER_SECONDS_DEFAULT],
                         ids=lambda limit: f"{limit.value}s")
def test_firehose_interval_hint_bounds_latency(interval, make_delivery_stream, kinesis_stream, s3_bucket,
                                               kinesis_client, kinesis_clock, kinesis_backend, wait_for_delivery,
                                               read_records, firehose_client, record_measurement):
    """Records written within a few seconds are held for the interval hint and no longer: the oldest record
    of every object waited at least the interval minus one read period, and every record is delivered at
    most the interval plus one read period (live: plus a slack for the S3 write) after it arrived.

    Latencies are on the services' clocks: from each record's ApproximateArrivalTimestamp (read back from
    the stream) to the LastModified of the S3 object holding it. The row's number is the interval the service
    reports it took (DescribeDeliveryStream); how long records were held and delivered are its ``held_s`` and
    ``latency_max_s``.
    """
    delivery = make_delivery_stream(kinesis_stream, s3_bucket, buffer_seconds=interval.value)
    ids = range(10)
    for i in ids:
        kinesis_client.put_record(StreamName=kinesis_stream.name, Data=payloads.encode_json({"id": i}),
                                  PartitionKey=f"k{i}")
        kinesis_clock.sleep(0.5)
    result = wait_for_delivery(delivery, ids, seed_id)
    arrivals = arrivals_of(read_records, delivery, seed_id)
    latencies = result.measure_latencies(arrivals)
    waits = [wait for _, wait in fh.object_waits(result.objects, arrivals, delivery.record_id(seed_id))]
    upper = interval.value + READ_PERIOD_S + (0.0 if kinesis_backend.offline else LIVE_LATENCY_SLACK_S)
    lower = interval.value - READ_PERIOD_S
    latest = result.max_latency_s
    held = None if not waits or None in waits else min(waits)
    ok = not result.missing and latest is not None and latest <= upper and held is not None and held >= lower
    shown = [None if w is None else round(w, 2) for w in waits]
    taken = fh.described_interval_s(firehose_client, delivery.name)
    ok = ok and taken == interval.value
    record_measurement(interval, taken, verdict=verdict(ok), unit="s", held_s=held, latency_max_s=latest,
                       detail=f"an interval hint of {taken} s taken; "
                              f"the oldest record of each of {len(waits)} object(s) waited {shown} s (at least "
                              f"{max(lower, 0):g} s); records delivered "
                              f"{rounded(min(latencies.values(), default=None))} .. {rounded(latest)} s after "
                              f"arriving (at most {upper:g} s); "
                              f"ApproximateArrivalTimestamp -> S3 LastModified; {result.summary()}", series=result)
    assert not result.missing, result.summary()
    assert taken == interval.value, f"DescribeDeliveryStream reports an interval hint of {taken} s, not {interval}"
    assert latest is not None and latest <= upper, (f"delivered up to {rounded(latest)} s after arriving, more "
                                                    f"than the {interval.value} s hint allows ({upper:g} s)")
    assert held is not None and held >= lower, \
        (f"an object's oldest record waited only {rounded(held)} s: a {interval.value} s interval hint holds "
         f"records at least {lower:g} s (buffering ignored?); waits {shown}")


#: A producer in the KPL format: this many user records, aggregated this many to a Kinesis record (four records).
KPL_USER_RECORDS = 100
KPL_PER_AGGREGATE = 25


def test_firehose_kpl_aggregated_records_arrive_as_user_records(firehose_delivery_stream, kinesis_client,
                                                                wait_for_delivery, record_measurement):
    """Records a KPL producer aggregated (many user records in one Kinesis record) arrive in S3 as the user
    records, each on its own: Firehose de-aggregates before delivery."""
    delivery = firehose_delivery_stream
    sent = {n: payloads.encode_json(payloads.seed_event(n)) for n in range(KPL_USER_RECORDS)}
    batches = [list(sent.items())[at:at + KPL_PER_AGGREGATE] for at in range(0, KPL_USER_RECORDS, KPL_PER_AGGREGATE)]
    answer = kinesis_client.put_records(StreamName=delivery.source.name, Records=[
        {"Data": kpl.aggregate(kpl.UserRecord(f"user-{n}", data) for n, data in batch),
         "PartitionKey": f"user-{batch[0][0]}"} for batch in batches])
    assert answer["FailedRecordCount"] == 0, answer

    result = wait_for_delivery(delivery, sent, seed_id)
    extra, bad_body = extra_bytes(result.objects, sent, seed_id)
    aggregated = sum(o.body.count(kpl.MAGIC) for o in result.objects)
    record_measurement(limits.FIREHOSE_KPL_UNDELIVERED, len(result.missing), verdict=verdict(not result.missing),
                       detail=f"{KPL_USER_RECORDS} user records in {len(batches)} aggregated records: "
                              f"{result.summary()}; {aggregated} aggregated record(s) delivered as they were")
    assert not result.missing, f"KPL user records never delivered on their own: {result.summary()}"
    assert bad_body is None and extra == 0, bad_body


def test_firehose_direct_puts_to_a_kinesis_source_are_refused(firehose_delivery_stream, firehose_client, s3_client,
                                                              kinesis_clock, record_measurement):
    """PutRecord and PutRecordBatch to a delivery stream whose source is a Kinesis stream are refused, and
    nothing reaches S3."""
    delivery = firehose_delivery_stream
    data = payloads.encode_json(payloads.seed_event(0))
    answers = {}
    for call, kwargs in (("PutRecord", {"Record": {"Data": data}}),
                         ("PutRecordBatch", {"Records": [{"Data": data}]})):
        method = firehose_client.put_record if call == "PutRecord" else firehose_client.put_record_batch
        try:
            method(DeliveryStreamName=delivery.name, **kwargs)
            answers[call] = "accepted"
        except ClientError as exc:
            answers[call] = f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
    kinesis_clock.sleep(delivery.buffer_seconds + QUIET_S)
    new = [o.key for o in fh.list_delivered(s3_client, delivery.bucket.name, decode="raw")
           if o.key not in delivery.canary_keys]
    accepted = [call for call, answer in answers.items() if answer == "accepted"]
    record_measurement(limits.FIREHOSE_DIRECT_PUTS_ACCEPTED, len(accepted), verdict=verdict(not accepted and not new),
                       detail=f"{answers}; {len(new)} new object(s)")
    assert not accepted, f"direct puts accepted: {answers}"
    assert all(answer.startswith("InvalidArgumentException") for answer in answers.values()), answers
    assert not new, f"a refused direct put reached S3: {new}"


def test_firehose_delivery_continues_across_a_reshard(firehose_delivery_stream, kinesis_client, kinesis_transitions,
                                                      kinesis_client_no_retry, kinesis_clock, wait_for_delivery,
                                                      record_measurement, kinesis_fidelity):
    """The seed's resharding run, small (RESHARD): while ``{"test": n}`` batches are written every half second
    the source goes from 1 to 2 shards (resharding.run_scenario); the stream is ACTIVE again with 2 open
    shards, the children acknowledged records, and every acknowledged record arrives in S3 (duplicates, which
    at-least-once delivery allows, reported)."""
    delivery = firehose_delivery_stream
    stream = delivery.source.name
    if kinesis_fidelity is not None:  # offline, a two-tick reshard, as the small resharding scenarios have
        kinesis_fidelity.config.updating_seconds = 2 * RESHARD.tick_s
    scenario = RESHARD.bounded_by(kinesis_fidelity.config.updating_seconds if kinesis_fidelity else None)
    run = run_scenario(scenario, write_client=kinesis_client_no_retry, control_client=kinesis_client,
                       stream=stream, clock=kinesis_clock, require_null_iterator=True,
                       read_options=fh.source_read_options(),  # the delivery stream reads the source too
                       transitions=kinesis_transitions)
    assert run.log is not None
    summary = kinesis_client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    children = {s["ShardId"] for s in open_shards(run.listing)} - set(run.closed_expected)
    acked = [a for a in run.log.acked if not a.maybe_stored]
    by_children = sum(a.shard_id in children for a in acked)
    target = RESHARD.reshard.expected_open(RESHARD.shards)
    resharded = [] if summary["StreamStatus"] == "ACTIVE" and run.active_at is not None else [
        f"the stream is {summary['StreamStatus']} (ACTIVE after the reshard: {run.active_at is not None})"]
    if summary.get("OpenShardCount", run.shards_after) != target or run.shards_after != target:
        resharded.append(f"{run.shards_after} open shards, expected {target}")
    if not by_children:
        resharded.append(f"no record acknowledged by a child shard (children: {sorted(children) or 'none'})")

    result = wait_for_delivery(delivery, sorted({a.payload_id for a in acked}), counter_id)
    order: dict[int, list[int]] = defaultdict(list)
    for obj in result.objects:
        for record in obj.records:
            order[counter_id(record) % RESHARD.keys].append(counter_id(record))
    out_of_order = sorted(k for k, got in order.items() if got != sorted(got))
    ok = not result.missing and not resharded
    record_measurement(limits.FIREHOSE_MISSING_RECORDS, len(result.missing), verdict=verdict(ok),
                       detail=f"{RESHARD.reshard} on {stream}: {'; '.join(resharded) or 'done'} "
                              f"({run.shards_before} -> {run.shards_after} open shards, UPDATING "
                              f"{run.reshard_duration} s); {len(acked)} records acknowledged, {by_children} by "
                              f"the children; {result.summary()}; duplicates (at-least-once) "
                              f"{len(result.duplicates)}; keys out of order in S3: {out_of_order or 'none'}",
                       series=result)
    assert not resharded, f"the reshard did not happen, so delivery across it is unproven: {resharded}\n{run}"
    assert not result.missing, f"records lost across the reshard: {result.summary()}"


def _key_versions(s3_client, delivery) -> list[int]:
    """DeliveryStreamVersion of every parsable key in the bucket, leaving out the hand-over objects."""
    versions = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=delivery.bucket.name):
        for item in page.get("Contents", []):
            if item["Key"] not in delivery.canary_keys:
                try:
                    versions.append(fh.parse_key(item["Key"], delivery.name, delivery.prefix).version)
                except ValueError:
                    pass  # reported by the key-format verdict of the seed test, not here
    return versions


def test_firehose_version_in_keys_increases_after_a_destination_update(
        firehose_delivery_stream, firehose_client, kinesis_client, s3_client, kinesis_clock, kinesis_wait_policy,
        wait_for_delivery, record_measurement):
    """Objects written after UpdateDestination carry DeliveryStreamVersion + 1 in their keys; those before
    it, the version the stream started with."""
    delivery = firehose_delivery_stream
    stream = delivery.source.name

    def put(i: int) -> None:
        kinesis_client.put_record(StreamName=stream, Data=payloads.encode_json({"id": i}), PartitionKey="v")

    def version_of(result: fh.DeliveryResult, i: int) -> int | None:
        return next((o.parsed.version for o in result.objects if o.parsed
                     for r in o.records if seed_id(r) == i), None)

    put(0)
    before = wait_for_delivery(delivery, [0], seed_id)
    old = version_of(before, 0)
    described = fh.update_destination(firehose_client, delivery.name,
                                      buffer_mib=limits.FIREHOSE_BUFFER_MIB_MIN.value + 1)
    # Live, the new configuration takes effect shortly after the call: write a record, look at the keys, and
    # again with doubling pauses, until a key shows another version (bounded); then check the last record.
    deadline = kinesis_clock.now() + delivery_bound_s(delivery.buffer_seconds, kinesis_wait_policy)
    pause = delivery_poll_s(kinesis_wait_policy, delivery.buffer_seconds)
    i = 0
    while True:
        i += 1
        put(i)
        kinesis_clock.sleep(max(0.0, min(pause, deadline - kinesis_clock.now())))
        pause *= 2
        if any(v != old for v in _key_versions(s3_client, delivery)) or kinesis_clock.now() >= deadline:
            break
    after = wait_for_delivery(delivery, range(1, i + 1), seed_id)
    new = version_of(after, i)
    step = None if old is None or new is None else new - old
    ok = old == delivery.version and step == limits.FIREHOSE_VERSION_STEP.value and new == described
    record_measurement(limits.FIREHOSE_VERSION_STEP, step, verdict=verdict(ok),
                       detail=f"keys: version {old} before, {new} after UpdateDestination (described: "
                              f"{delivery.version} → {described}); {i} record(s) written after the update")
    assert not before.missing and not after.missing, f"{before.summary()} / {after.summary()}"
    assert old == delivery.version, f"keys before the update carry version {old}, not {delivery.version}"
    assert step == limits.FIREHOSE_VERSION_STEP.value and new == described, \
        f"keys after the update carry version {new}, expected {old} + 1 = {described}"
