"""Kinesis → Firehose → an OpenSearch Service index, every record backed up to S3 (``-k search_index``).

The seed's other destination (docs/search-index.md). The delivery stream comes from ``make_delivery_stream(...,
search=SearchDestination(search_target, ...))``: already proven to be indexing (a canary per shard is a
document; ``search_index`` leaves canaries out). Every test records what it measured, with its verdict, before
asserting. Offline the target is the fidelity layer's stand-in index on 127.0.0.1, queried through opensearch-py
as live; waiting out buffering costs nothing on the simulated clock. Live the domain takes 15-30 minutes to
create, so the family runs only with --kinesis-search-domain (marker ``kinesis_search_domain``).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import firehose as fh, limits
from pytest_kinesis_limits.kinesis import payloads, probes
from pytest_kinesis_limits.firehose import SearchDestination, delivery_poll_s
from pytest_kinesis_limits.firehose.search import search_bound_s
from pytest_kinesis_limits.kinesis.resharding import Reshard, Scenario, open_shards, run_scenario

pytestmark = [
    pytest.mark.kinesis_search_domain,
    pytest.mark.kinesis_gap("moto-plain", reason="moto 5.2.5 refuses AmazonopensearchserviceDestinationConfiguration "
                            "and its Firehose never reads a Kinesis source"),
]

MAX_RECORDS = limits.PUT_RECORDS_MAX_RECORDS
#: The seed test sent its first events one at a time with PutRecord, the rest with PutRecords.
SEED_SINGLES = 10
READ_PERIOD_S = 1.0 / limits.FIREHOSE_SOURCE_READS_PER_S.value
#: Live only: what the interval verdict allows beyond interval + one read period + one poll (the bulk request,
#: OpenSearch's refresh and Firehose's scheduling). Offline: nothing.
LIVE_LATENCY_SLACK_S = 60.0
#: How often the interval test looks at ``_count`` (one read period: documents appear at most once a second).
COUNT_POLL_S = READ_PERIOD_S
#: The seed's resharding run (500 ``{"test": n}`` records every half second, 100 times: 0 to 49999) with the
#: console's split of the one shard at tick 40, ten ticks after ACTIVE.
SEED_RESHARD = Scenario("search-seed-50k-split-1-2", 1, Reshard.split(), records_per_tick=MAX_RECORDS.value,
                        tick_s=0.5, ticks=100, reshard_tick=40, after_active_ticks=10)
#: A record that is not JSON: OpenSearch refuses it, Firehose writes it to the error folder.
MALFORMED = b'{"id": "malformed", "unterminated'


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def seed_id(source) -> int | str | None:
    return source.get("id") if isinstance(source, dict) else None


def counter_id(source) -> int | None:
    return source.get("test") if isinstance(source, dict) else None


def span_s(policy) -> float:
    return policy.delay * policy.attempts


def backup_bound_s(delivery, policy) -> float:
    """How long a record may take to reach the S3 backup: both intervals, a read period and the wait span."""
    assert delivery.search is not None
    return delivery.buffer_seconds + delivery.search.backup_buffer_seconds + READ_PERIOD_S + span_s(policy)


def put_all(kinesis_client, stream: str, sent: dict, key) -> None:
    entries = [{"Data": data, "PartitionKey": key(rid)} for rid, data in sent.items()]
    for first in range(0, len(entries), MAX_RECORDS.value):
        outcome = probes.put_records(kinesis_client, stream, entries[first:first + MAX_RECORDS.value])
        assert outcome.accepted and outcome.failed_record_count == 0, outcome.describe()


@pytest.fixture
def seed_delivery(make_delivery_stream, kinesis_stream, s3_bucket, search_target, kinesis_namer):
    """The seed's setup: one index, no rotation, every record backed up to S3, the shortest buffering. Each
    test has its own index (live, the domain is shared by the session). A factory the test calls: a backend
    that refuses the destination fails the test (a FAIL cell), it does not error its setup."""
    return lambda: make_delivery_stream(kinesis_stream, s3_bucket, search=SearchDestination(
        search_target, kinesis_namer.name("seed"), rotation="NoRotation", backup_mode="AllDocuments"))


def test_search_index_seed_events_indexed_once_and_backed_up(seed_delivery, kinesis_client, search_index,
                                                             s3_client, kinesis_clock, kinesis_wait_policy,
                                                             record_measurement):
    """The seed's pipeline: mobile events (Korean text, nulls, mixed types) sent with PutRecord and PutRecords
    are each indexed exactly once (the count, and every event id once, under distinct document ids), read back
    by id unchanged, and every record is in the AllDocuments backup under the documented S3 names."""
    delivery = seed_delivery()
    sent, outcomes = probes.send_seed_events(kinesis_client, delivery.source.name, SEED_SINGLES + MAX_RECORDS.value,
                                             singles=SEED_SINGLES)
    assert probes.all_stored(outcomes), [o.describe() for o in outcomes]

    index = search_index(delivery)
    poll = delivery_poll_s(kinesis_wait_policy, delivery.buffer_seconds)
    result = index.wait_for(sent, seed_id, kinesis_clock, search_bound_s(delivery.buffer_seconds,
                                                                        span_s(kinesis_wait_policy)), poll)
    count = index.count()
    doc_ids = [d.id for d in result.documents]
    reused_ids = len(doc_ids) - len(set(doc_ids))
    first = result.located.get(0)
    read_back = index.get(first.index, first.id) if first else None
    backup = fh.wait_for_backup(s3_client, delivery, sent, seed_id, kinesis_clock,
                                backup_bound_s(delivery, kinesis_wait_policy), poll)
    bad_keys = [o.key_error for o in backup.objects if o.key_error]
    short, extra = max(0, len(sent) - count), max(0, count - len(sent))
    record_measurement(limits.FIREHOSE_OS_MISSING_DOCUMENTS, len(result.missing) + short,
                       verdict=verdict(not result.missing and not short),
                       detail=f"{result.summary()}; _count {count} for {len(sent)} records")
    record_measurement(limits.FIREHOSE_OS_DUPLICATE_DOCUMENTS, len(result.duplicates) + reused_ids + extra,
                       verdict=verdict(not result.duplicates and not reused_ids and not extra),
                       detail=f"{len(result.duplicates)} event id(s) indexed more than once, {reused_ids} document "
                              f"id(s) reused, _count {count} for {len(sent)} records; indexes "
                              f"{dict(result.indices)}")
    record_measurement(limits.FIREHOSE_OS_BACKUP_MISSING_RECORDS, len(backup.missing) + len(bad_keys),
                       verdict=verdict(not backup.missing and not bad_keys),
                       detail=f"{backup.summary()}; keys not in the documented format: {bad_keys[:1] or 'none'}")

    assert not result.missing, f"records never indexed: {result.summary()}"
    assert count == len(sent) and not result.duplicates and not reused_ids, \
        f"not indexed exactly once: _count {count} for {len(sent)} records; {result.summary()}"
    assert set(result.indices) == {delivery.search.index_name}, \
        f"NoRotation indexes into {delivery.search.index_name!r} alone, found {dict(result.indices)}"
    assert read_back == payloads.seed_event(0), f"document {first} read back by id as {read_back!r}"
    assert not backup.missing, f"records missing from the AllDocuments backup: {backup.summary()}"
    assert not bad_keys, f"backup keys not in the documented format: {bad_keys[:3]}"


@pytest.mark.parametrize("rotation", fh.ROTATIONS)
def test_search_index_rotation_names(rotation, make_delivery_stream, kinesis_stream, s3_bucket, search_target,
                                     kinesis_client, search_index, read_records, kinesis_clock, kinesis_wait_policy,
                                     kinesis_namer, record_measurement):
    """Each document is in IndexName plus the rotation period's part of its UTC arrival time (NoRotation:
    IndexName itself; OneHour -YYYY-MM-DD-HH; OneDay -YYYY-MM-DD; OneWeek -YYYY-wWW; OneMonth -YYYY-MM),
    for an arrival between the record's ApproximateArrivalTimestamp and the moment it was found."""
    base = kinesis_namer.name("rot")
    delivery = make_delivery_stream(kinesis_stream, s3_bucket, search=SearchDestination(
        search_target, base, rotation=rotation, backup_mode="FailedDocumentsOnly"))
    sent = {i: payloads.encode_json({"id": i}) for i in range(5)}
    put_all(kinesis_client, kinesis_stream.name, sent, lambda rid: f"k{rid}")
    index = search_index(delivery, pattern=f"{base}*")  # whatever the suffix, so that a wrong one is seen
    result = index.wait_for(sent, seed_id, kinesis_clock,
                            search_bound_s(delivery.buffer_seconds, span_s(kinesis_wait_policy)),
                            delivery_poll_s(kinesis_wait_policy, delivery.buffer_seconds))
    found_at = kinesis_clock.now()
    arrivals = fh.arrival_times(read_records(delivery.source), delivery.record_id(seed_id))
    wrong, readings = [], set()
    for doc in result.documents:
        allowed = {}
        for when in (arrivals.get(seed_id(doc.source), found_at), found_at):
            allowed.update({name: reading for reading, name in fh.index_names(base, rotation, when).items()})
        if doc.index in allowed:
            readings.add(allowed[doc.index])
        else:
            wrong.append(f"{doc.index} (documented: {sorted(allowed)})")
    record_measurement(limits.FIREHOSE_OS_INDEX_NAME_ERRORS, len(wrong) + len(result.missing),
                       verdict=verdict(not wrong and not result.missing),
                       detail=f"{rotation}: indexes {sorted(result.indices)}; "
                              f"{'OneWeek reading ' + '/'.join(sorted(readings)) + '; ' if rotation == 'OneWeek' else ''}"
                              f"{result.summary()}; {wrong[0] if wrong else 'every name as documented'}")
    assert not result.missing, result.summary()
    assert not wrong, f"{rotation}: documents in indexes not named as documented: {wrong[:3]}"


def test_search_index_malformed_record_goes_to_the_error_folder(make_delivery_stream, kinesis_stream, s3_bucket,
                                                                search_target, kinesis_client, search_index,
                                                                s3_client, kinesis_clock, kinesis_wait_policy,
                                                                kinesis_namer, record_measurement):
    """A record that is not JSON, in one PutRecords with valid ones: the valid ones are indexed, the malformed
    one is not, and it is in the S3 error folder as the documented error record (every field; rawData its
    bytes; esIndexName the intended index)."""
    delivery = make_delivery_stream(kinesis_stream, s3_bucket, search=SearchDestination(
        search_target, kinesis_namer.name("bad"), backup_mode="FailedDocumentsOnly"))
    intended = delivery.search.index_name
    valid = {i: payloads.encode_json({"id": i}) for i in range(5)}
    entries = [{"Data": data, "PartitionKey": f"k{i}"} for i, data in valid.items()]
    entries.insert(2, {"Data": MALFORMED, "PartitionKey": "bad"})
    outcome = probes.put_records(kinesis_client, kinesis_stream.name, entries)
    assert outcome.accepted and outcome.failed_record_count == 0, outcome.describe()

    index = search_index(delivery)
    poll = delivery_poll_s(kinesis_wait_policy, delivery.buffer_seconds)
    result = index.wait_for(valid, seed_id, kinesis_clock,
                            search_bound_s(delivery.buffer_seconds, span_s(kinesis_wait_policy)), poll)
    failed: list[fh.FailedDocument] = []

    def routed() -> bool:
        failed[:] = fh.failed_documents(s3_client, delivery.bucket.name)
        return any(f.raw == MALFORMED for f in failed)

    bound = backup_bound_s(delivery, kinesis_wait_policy) + delivery.search.retry_seconds
    fh.poll_until(routed, kinesis_clock, bound, poll, "the malformed record in the error folder")
    ours = [f for f in failed if f.raw == MALFORMED]
    problems = [p for f in ours for p in f.shape_errors]
    problems += [f"esIndexName {f.record.get('esIndexName')!r}, expected {intended!r}" for f in ours
                 if "esIndexName" in f.record and f.record["esIndexName"] != intended]
    if not ours:
        keys = [o.key for o in fh.list_delivered(s3_client, delivery.bucket.name, decode="raw")]
        problems.append(f"not in a failed-documents folder ({' or '.join(fh.FAILED_FOLDERS)}); keys in the "
                        f"bucket: {keys[:3] or 'none'}")
    if len(ours) > 1:
        problems.append(f"written {len(ours)} times")
    strays = [f.record for f in failed if f.raw != MALFORMED]
    malformed_indexed = [d for d in result.documents if seed_id(d.source) == "malformed"]
    errors = len(problems) + len(result.missing) + len(strays) + len(malformed_indexed)
    folders = sorted({f.folder for f in ours})
    record_measurement(limits.FIREHOSE_OS_FAILED_DOCUMENT_ERRORS, errors, verdict=verdict(not errors),
                       detail=f"folder {folders or 'none'}, errorCode "
                              f"{[f.record.get('errorCode') for f in ours] or 'none'}; {result.summary()}; "
                              f"{'; '.join(problems) or 'error record as documented'}; "
                              f"{len(strays)} valid record(s) in the error folder")
    assert not result.missing, f"valid records of the malformed one's batch not indexed: {result.summary()}"
    assert not malformed_indexed, f"the malformed record was indexed: {malformed_indexed}"
    assert not problems, f"the malformed record's error record: {problems}"
    assert not strays, f"valid records in the error folder: {strays[:2]}"


BOUNDS = [
    pytest.param("SizeInMBs", limits.FIREHOSE_OS_BUFFER_MIB_MAX, 0, True, id="size-at-max"),
    pytest.param("SizeInMBs", limits.FIREHOSE_OS_BUFFER_MIB_MAX, 1, False, id="size-over-max"),
    pytest.param("IntervalInSeconds", limits.FIREHOSE_OS_BUFFER_SECONDS_MAX, 0, True, id="interval-at-max"),
    pytest.param("IntervalInSeconds", limits.FIREHOSE_OS_BUFFER_SECONDS_MAX, 1, False, id="interval-over-max"),
]


@pytest.mark.parametrize(("hint", "limit", "over", "accepted"), BOUNDS)
def test_search_index_buffering_hint_bounds(hint, limit, over, accepted, kinesis_stream, s3_bucket, search_target,
                                            firehose_client, iam_client, kinesis_namer, kinesis_tags, kinesis_clock,
                                            kinesis_wait_policy, kinesis_resources, record_measurement):
    """CreateDeliveryStream takes the OpenSearch Service hints at their documented maximum (100 MiB, 900 s)
    and refuses one more (the minimums, 1 MiB and 0 s, botocore already refuses below)."""
    from pytest_kinesis_limits.firehose.destinations import put_search_policy
    from pytest_kinesis_limits.live.sweep import ROLE_PATH

    role_name, name = kinesis_namer.name("fhr"), kinesis_namer.name("fh")
    kinesis_resources.add("role", role_name, lambda: fh.delete_firehose_role(iam_client, role_name))
    role_arn = fh.create_firehose_role(iam_client, role_name, kinesis_stream.arn, s3_bucket.arn, kinesis_tags,
                                       path=ROLE_PATH)
    put_search_policy(iam_client, role_name, search_target.arn, "bounds")
    kinesis_resources.add("delivery-stream", name, lambda: fh.delete_delivery_stream_when_created(
        firehose_client, name, kinesis_clock, kinesis_wait_policy, wait=False))
    config = fh.opensearch_destination_config(role_arn, s3_bucket.arn, SearchDestination(search_target, "bounds"),
                                              limits.FIREHOSE_OS_BUFFER_MIB_MIN.value,
                                              limits.FIREHOSE_OS_BUFFER_SECONDS_MIN.value)
    config["BufferingHints"][hint] = limit.value + over
    answer = "accepted"
    try:
        fh.create_kinesis_source_delivery_stream(
            firehose_client, name, kinesis_stream.arn, role_arn,
            {"AmazonopensearchserviceDestinationConfiguration": config}, kinesis_tags, kinesis_clock,
            span_s(kinesis_wait_policy), poll_s=fh.creating_poll_s(kinesis_wait_policy, kinesis_clock))
    except ClientError as exc:
        answer = f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
    # A refusal counts only when it is about this hint (AWS's ValidationException names the member's path:
    # "...bufferingHints.sizeInMBs..."): plain moto refuses the whole destination for another reason.
    ok = (answer == "accepted") == accepted and (accepted or (answer.startswith(
        ("ValidationException", "InvalidArgumentException")) and hint.lower() in answer.lower()))
    # Measured: what the service took (a refused value is not measured, as with every other boundary probe).
    record_measurement(limit, limit.value + over if answer == "accepted" else None, verdict=verdict(ok),
                       detail=f"{hint}={limit.value + over}: {answer} (expected "
                              f"{'accepted' if accepted else 'refused'})")
    assert ok, f"{hint}={limit.value + over}: {answer}; documented range ends at {limit}"


@pytest.mark.parametrize("interval", [limits.FIREHOSE_OS_BUFFER_SECONDS_MIN, limits.FIREHOSE_OS_BUFFER_SECONDS_DEFAULT],
                         ids=lambda limit: f"{limit.value}s")
def test_search_index_interval_hint_holds_documents(interval, make_delivery_stream, kinesis_stream, s3_bucket,
                                                    search_target, kinesis_client, search_index, kinesis_clock,
                                                    kinesis_backend, kinesis_wait_policy, kinesis_namer,
                                                    firehose_client, record_measurement):
    """Records written at once become searchable no sooner than the interval hint minus one read period after
    they were written, and no later than the hint plus one read period and one poll (live: plus a slack). The row's
    number is the interval the service reports it took (DescribeDeliveryStream); how long the records were held is
    its ``held_s``."""
    delivery = make_delivery_stream(kinesis_stream, s3_bucket, buffer_seconds=interval.value,
                                    search=SearchDestination(search_target, kinesis_namer.name("held"),
                                                             backup_mode="FailedDocumentsOnly"))
    index = search_index(delivery)
    sent = {i: payloads.encode_json({"id": i}) for i in range(5)}
    written_from = kinesis_clock.now()
    put_all(kinesis_client, kinesis_stream.name, sent, lambda rid: f"k{rid}")
    written_to = kinesis_clock.now()
    seen_at: list[float] = []

    def searchable() -> bool:
        if index.count() >= len(sent):
            seen_at.append(kinesis_clock.now())
        return bool(seen_at)

    fh.poll_until(searchable, kinesis_clock, search_bound_s(interval.value, span_s(kinesis_wait_policy)),
                  COUNT_POLL_S, f"{len(sent)} documents in {index.pattern}")
    held = seen_at[0] - written_from if seen_at else None
    lower = interval.value - READ_PERIOD_S
    upper = interval.value + READ_PERIOD_S + COUNT_POLL_S + (0.0 if kinesis_backend.offline else LIVE_LATENCY_SLACK_S)
    latest = seen_at[0] - written_to if seen_at else None
    taken = fh.described_interval_s(firehose_client, delivery.name)
    ok = held is not None and latest is not None and held >= lower and latest <= upper and taken == interval.value
    record_measurement(interval, taken, verdict=verdict(ok), unit="s", held_s=held,
                       detail=f"an interval hint of {taken} s taken; "
                              f"{len(sent)} records written in {written_to - written_from:.2f} s were searchable "
                              f"{held if held is None else round(held, 2)} s after the first write (at least "
                              f"{max(lower, 0):g} s, at most {upper:g} s after the last; client clock, _count "
                              f"polled every {COUNT_POLL_S:g} s)")
    assert held is not None, f"the documents never became searchable within the bound ({index.count()} found)"
    assert taken == interval.value, f"DescribeDeliveryStream reports an interval hint of {taken} s, not {interval}"
    assert held >= lower, (f"searchable after {held:.2f} s: a {interval.value} s interval hint holds records at "
                           f"least {lower:g} s (buffering ignored?)")
    assert latest <= upper, f"searchable {latest:.2f} s after the last write, more than the hint allows ({upper:g} s)"


@pytest.mark.kinesis_long
def test_search_index_seed_reshard_indexed_and_backed_up_once(seed_delivery, kinesis_client, kinesis_transitions,
                                                               kinesis_client_no_retry, kinesis_clock, search_index,
                                                               s3_client, kinesis_wait_policy, kinesis_fidelity,
                                                               record_measurement):
    """The seed's resharding run: 500 ``{"test": n}`` records every half second, 100 times (0 to 49999), the
    one shard split in two at tick 40; the split happened, and every acknowledged record is found exactly once
    in the index and in the AllDocuments backup. The stream itself is not read back: its continuity across the seed's
    split (50,000 records, at tick 20 there) is test_resharding_continuity[seed-50k-split-1-2]'s verdict."""
    delivery = seed_delivery()
    stream = delivery.source.name
    scenario = SEED_RESHARD.bounded_by(kinesis_fidelity.config.updating_seconds if kinesis_fidelity else None)
    run = run_scenario(scenario, write_client=kinesis_client_no_retry, control_client=kinesis_client,
                       stream=stream, clock=kinesis_clock, transitions=kinesis_transitions, read_back=False)
    assert run.log is not None
    children = {s["ShardId"] for s in open_shards(run.listing)} - set(run.closed_expected)
    acked = sorted({a.payload_id for a in run.log.acked if not a.maybe_stored})
    by_children = sum(a.shard_id in children for a in run.log.acked if not a.maybe_stored)
    target = SEED_RESHARD.reshard.expected_open(SEED_RESHARD.shards)
    resharded = [] if run.shards_after == target and by_children else [
        f"{run.shards_after} open shards (expected {target}), {by_children} records acknowledged by a child"]

    index = search_index(delivery)
    poll = delivery_poll_s(kinesis_wait_policy, delivery.buffer_seconds)
    result = index.wait_for(acked, counter_id, kinesis_clock,
                            search_bound_s(delivery.buffer_seconds, span_s(kinesis_wait_policy)), poll)
    backup = fh.wait_for_backup(s3_client, delivery, acked, counter_id, kinesis_clock,
                                backup_bound_s(delivery, kinesis_wait_policy), poll)
    index_ok = not result.missing and not result.duplicates and not resharded
    backup_ok = not backup.missing and not backup.duplicates and not resharded
    what = (f"{SEED_RESHARD.reshard} on {stream}: {'; '.join(resharded) or 'done'} ({run.shards_before} -> "
            f"{run.shards_after} open shards, UPDATING {run.reshard_duration} s); {len(acked)} records acknowledged "
            f"(values {acked[0] if acked else '-'}..{acked[-1] if acked else '-'})")
    record_measurement(limits.FIREHOSE_OS_MISSING_DOCUMENTS, len(result.missing), verdict=verdict(index_ok),
                       detail=f"{what}; index: {result.summary()}")
    record_measurement(limits.FIREHOSE_OS_BACKUP_MISSING_RECORDS, len(backup.missing), verdict=verdict(backup_ok),
                       detail=f"{what}; backup: {backup.summary()}; duplicates {len(backup.duplicates)}")
    assert not resharded, f"the split did not happen, so delivery across it is unproven: {resharded}\n{run}"
    assert not result.missing and not result.duplicates, f"index across the split: {result.summary()}"
    assert not backup.missing and not backup.duplicates, \
        f"backup across the split: {backup.summary()}; duplicates {len(backup.duplicates)}"
