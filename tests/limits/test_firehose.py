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

import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import firehose as fh
from pytest_kinesis_limits import limits, payloads, probes
from pytest_kinesis_limits.firehose import delivery_bound_s, delivery_poll_s

pytestmark = pytest.mark.kinesis_gap(
    "moto-plain", reason="moto's Firehose never reads its Kinesis source (nothing is delivered, the fixture's "
    "canary never arrives) and accepts direct puts to a Kinesis-source delivery stream")

MAX_RECORDS = limits.PUT_RECORDS_MAX_RECORDS
RECORD_BYTES = limits.RECORD_MAX_BYTES
READ_PERIOD_S = 1.0 / limits.FIREHOSE_SOURCE_READS_PER_S.value
#: Live only: what the interval-hint verdict allows beyond interval + one read period (the S3 write, the
#: skew between the client's send clock and S3's LastModified, Firehose's scheduling). Offline: nothing.
LIVE_LATENCY_SLACK_S = 60.0
#: How long nothing must arrive after a refused direct put (several read periods; an accepted put would be
#: delivered within the 0 s interval plus a read).
QUIET_S = 30.0
#: The size-hint test's interval: long enough that only the size hint cuts objects while it writes.
SIZE_TEST_INTERVAL_S = 60
#: The resharding scenario (the seed's 500 records every 0.5 s, scaled down): batches of records over
#: many partition keys, one batch per half second, before, during and after UpdateShardCount 1 → 2.
RESHARD_BATCH = MAX_RECORDS.value // 2
RESHARD_KEYS = 16
RESHARD_BATCHES_BEFORE = 4
RESHARD_BATCHES_AFTER = 4


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def seed_id(record: dict) -> int | None:
    return record.get("id") if isinstance(record, dict) else None


def counter_id(record: dict) -> int | None:
    return record.get("test") if isinstance(record, dict) else None


def extra_bytes(objects: list[fh.DeliveredObject], sent: dict, identify) -> tuple[int, str | None]:
    """Bytes in the bodies beyond the records' own bytes, and the first body that is not exactly them."""
    extra, first_bad = 0, None
    for obj in objects:
        expected = b"".join(sent.get(identify(r), b"") for r in obj.records)
        extra += len(obj.body) - len(expected)
        if obj.body != expected and first_bad is None:
            first_bad = (f"{obj.key}: {obj.body_error or 'body is not the records concatenated'} "
                         f"(starts {obj.body[:60]!r})")
    return extra, first_bad


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
                                           kinesis_clock, record_measurement):
    """The seed's pipeline: mobile events (Korean text, nulls, mixed types) sent with PutRecord and
    PutRecords arrive in S3 under documented keys, bodies the records' bytes back to back, none lost."""
    delivery = firehose_delivery_stream
    singles = 10
    events = [payloads.seed_event(n) for n in range(singles + MAX_RECORDS.value)]
    sent = {e["id"]: payloads.encode_json(e) for e in events}
    send_times: dict[int, float] = {}
    for event in events[:singles]:
        kinesis_client.put_record(StreamName=delivery.source.name, Data=sent[event["id"]],
                                  PartitionKey=str(event["user_id"]))
        send_times[event["id"]] = kinesis_clock.now()
    batch = [{"Data": sent[e["id"]], "PartitionKey": str(e["user_id"])} for e in events[singles:]]
    outcome = probes.put_records(kinesis_client, delivery.source.name, batch)
    send_times.update({e["id"]: kinesis_clock.now() for e in events[singles:]})
    assert outcome.accepted and outcome.failed_record_count == 0, outcome.describe()

    result = wait_for_delivery(delivery, sent, seed_id, send_times=send_times)
    extra, bad_body = extra_bytes(result.objects, sent, seed_id)
    bad_keys = key_errors(result.objects, delivery.version)
    record_measurement(limits.FIREHOSE_MISSING_RECORDS, len(result.missing), verdict=verdict(not result.missing),
                       detail=f"{result.summary()}; duplicates (at-least-once): {len(result.duplicates)}")
    record_measurement(limits.FIREHOSE_KEY_FORMAT_ERRORS, len(bad_keys), verdict=verdict(not bad_keys),
                       detail=bad_keys[0] if bad_keys else f"{len(result.objects)} keys parsed")
    record_measurement(limits.FIREHOSE_RECORD_DELIMITER_BYTES, extra, verdict=verdict(bad_body is None),
                       detail=bad_body or "every body is exactly its records' bytes concatenated")
    record_measurement(limits.FIREHOSE_BUFFER_SECONDS_MIN, result.max_latency_s, verdict="info", unit="s",
                       detail=f"delivery latency (send → LastModified) with a {delivery.buffer_seconds} s interval")

    assert not result.missing, f"records never delivered: {result.summary()}"
    assert not bad_keys, f"keys not in the documented format: {bad_keys[:3]}"
    assert bad_body is None, bad_body
    delivered = {seed_id(r): r for o in result.objects for r in o.records}
    assert delivered[0]["interest_name"] == "관심사" and delivered[0]["interest_service_id"] is None


def test_firehose_small_size_hint_gives_several_objects(make_delivery_stream, kinesis_stream, s3_bucket,
                                                        kinesis_client, kinesis_clock, wait_for_delivery,
                                                        record_measurement):
    """With the smallest size hint, a few hint's worth of records written within the interval are cut into
    several objects, none larger than the hint."""
    hint = limits.FIREHOSE_BUFFER_MIB_MIN
    delivery = make_delivery_stream(kinesis_stream, s3_bucket, buffer_mib=hint.value,
                                    buffer_seconds=SIZE_TEST_INTERVAL_S)
    record_bytes = RECORD_BYTES.value // 10
    per_second = limits.SHARD_WRITE_BYTES_PER_S.value // record_bytes - 1  # under the shard's write rate
    count = 7 * hint.value * limits.MIB // (2 * record_bytes)  # 3.5 hints
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
    sizes = [len(o.body) for o in result.objects]
    largest = max(sizes, default=0)
    ok = not result.missing and len(sizes) >= 2 and largest <= hint.value * limits.MIB
    record_measurement(hint, largest / limits.MIB, verdict=verdict(ok), unit="MiB",
                       detail=f"{len(sizes)} objects of {[round(s / limits.MIB, 2) for s in sizes]} MiB for "
                              f"{sum(map(len, sent.values())) / limits.MIB:.2f} MiB; {result.summary()}")
    assert not result.missing, result.summary()
    assert len(sizes) >= 2, f"a {hint.value} MiB size hint gave {len(sizes)} object(s) for 3.5 hints of records"
    assert largest <= hint.value * limits.MIB, f"an object of {largest} bytes exceeds the {hint} hint"


@pytest.mark.parametrize("interval", [limits.FIREHOSE_BUFFER_SECONDS_MIN, limits.FIREHOSE_BUFFER_SECONDS_DEFAULT],
                         ids=lambda limit: f"{limit.value}s")
def test_firehose_interval_hint_bounds_latency(interval, make_delivery_stream, kinesis_stream, s3_bucket,
                                               kinesis_client, kinesis_clock, kinesis_backend, wait_for_delivery,
                                               record_measurement):
    """Records written within a few seconds are delivered no later than the interval hint plus one read
    period (live: plus a slack for the S3 write and clock skew) after they were sent."""
    delivery = make_delivery_stream(kinesis_stream, s3_bucket, buffer_seconds=interval.value)
    send_times = {}
    for i in range(10):
        kinesis_client.put_record(StreamName=kinesis_stream.name, Data=payloads.encode_json({"id": i}),
                                  PartitionKey=f"k{i}")
        send_times[i] = kinesis_clock.now()
        kinesis_clock.sleep(0.5)
    result = wait_for_delivery(delivery, send_times, seed_id, send_times=send_times)
    bound = interval.value + READ_PERIOD_S + (0.0 if kinesis_backend.offline else LIVE_LATENCY_SLACK_S)
    latest = result.max_latency_s
    ok = not result.missing and latest is not None and latest <= bound
    earliest = min(result.latencies.values(), default=None)
    record_measurement(interval, latest, verdict=verdict(ok), unit="s",
                       detail=f"latency {earliest} .. {latest} s (bound {bound:g} s); {result.summary()}")
    assert not result.missing, result.summary()
    assert latest is not None and latest <= bound, \
        f"delivered up to {latest} s after sending, more than the {interval.value} s hint allows ({bound:g} s)"


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


def _put_batch(client, stream: str, first: int, acked: list[int], refused: list[str]) -> int:
    records = [{"Data": payloads.encode_json({"test": n}), "PartitionKey": f"k{n % RESHARD_KEYS}"}
               for n in range(first, first + RESHARD_BATCH)]
    answer = client.put_records(StreamName=stream, Records=records)
    for n, entry in zip(range(first, first + RESHARD_BATCH), answer["Records"]):
        if entry.get("ErrorCode"):
            refused.append(entry["ErrorCode"])
        else:
            acked.append(n)
    return first + RESHARD_BATCH


def test_firehose_delivery_continues_across_a_reshard(firehose_delivery_stream, kinesis_client, kinesis_clock,
                                                      kinesis_wait_policy, wait_for_delivery, record_measurement):
    """The seed's resharding run: while records are written every half second the source goes from 1 to 2
    shards (UpdateShardCount); every acknowledged record arrives in S3, across several objects."""
    delivery = firehose_delivery_stream
    stream = delivery.source.name
    acked: list[int] = []
    refused: list[str] = []
    n = 0
    for _ in range(RESHARD_BATCHES_BEFORE):
        n = _put_batch(kinesis_client, stream, n, acked, refused)
        kinesis_clock.sleep(0.5)
    kinesis_client.update_shard_count(StreamName=stream, TargetShardCount=2 * delivery.source.shard_count,
                                      ScalingType="UNIFORM_SCALING")
    resharded_at = kinesis_clock.now()
    for _ in range(kinesis_wait_policy.attempts):  # keep writing while the stream is UPDATING
        n = _put_batch(kinesis_client, stream, n, acked, refused)
        kinesis_clock.sleep(0.5)
        summary = kinesis_client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            break
    updating_s = kinesis_clock.now() - resharded_at
    for _ in range(RESHARD_BATCHES_AFTER):
        n = _put_batch(kinesis_client, stream, n, acked, refused)
        kinesis_clock.sleep(0.5)

    result = wait_for_delivery(delivery, acked, counter_id)
    order: dict[str, list[int]] = defaultdict(list)
    for obj in result.objects:
        for record in obj.records:
            order[f"k{counter_id(record) % RESHARD_KEYS}"].append(counter_id(record))
    out_of_order = sorted(k for k, ids in order.items() if ids != sorted(ids))
    ok = not result.missing and len(result.objects) >= 2
    record_measurement(limits.FIREHOSE_MISSING_RECORDS, len(result.missing), verdict=verdict(ok),
                       detail=f"1 → {2 * delivery.source.shard_count} shards while writing ({updating_s:.1f} s "
                              f"UPDATING); {len(acked)} acked, {len(refused)} refused; {result.summary()}; "
                              f"keys out of order in S3: {out_of_order or 'none'}")
    assert not result.missing, f"records lost across the reshard: {result.summary()}"
    assert len(result.objects) >= 2, f"{len(acked)} records in {len(result.objects)} object(s)"


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
