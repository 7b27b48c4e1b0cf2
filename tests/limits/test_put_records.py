"""PutRecords / PutRecord caps, each on both sides of its documented value (``-k put_records``).

Every boundary is a triple (just under / at / just over). A refused request must carry the documented
error and store nothing (checked by reading the stream back); a taken one must store every record, in
order. The seed's shapes are named cases: 1000 records refused whole, 500 ``{"test": n}`` read back in order.

The caps need a shard, not a stream of their own: they lease their worker's shared one-shard stream
(``kinesis_shared_stream``; the 2 MiB record cap, ``lease_shared_stream(max_record_size_kib=...)``), read back
only what was written after the lease began, and start on a quiet shard. The request-size probes keep their own
11-shard stream (one record per shard, so that the per-shard write rate does not interfere).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ParamValidationError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis import payloads, probes

MAX_RECORDS = limits.PUT_RECORDS_MAX_RECORDS
RECORD_BYTES = limits.RECORD_MAX_BYTES
KEY_CHARS = limits.PARTITION_KEY_MAX_CHARS
HASH_BITS = limits.HASH_KEY_BITS
LEGACY_REQUEST = limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY
MODEL_REQUEST = limits.PUT_RECORDS_MAX_REQUEST_BYTES

# AWS reports a size over the limit either as a model constraint (ValidationException) or as the service's
# own check (InvalidArgumentException, e.g. "Records size exceeds 5 MB limit"); both mean "too large".
SIZE_REFUSALS = {"ValidationException", "InvalidArgumentException"}
SIZE_WORDS = ("size", "length", "exceeds", "limit", "less than or equal")

PLAIN_MOTO_KEY = pytest.mark.kinesis_gap(
    "moto-plain", reason="moto raises InvalidArgumentException('partition_key') for a long key, after storing "
    "the records before it")


def triple(limit: limits.Limit) -> list:
    """Parameters (value, expect_taken) for just under, at and just over ``limit``."""
    return [
        pytest.param(limit.value - 1, True, id="under"),
        pytest.param(limit.value, True, id="at"),
        pytest.param(limit.value + 1, False, id="over"),
    ]


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def refused_as_documented(outcome: probes.PutOutcome, codes: set[str], words: tuple[str, ...]) -> bool:
    message = (outcome.error_message or "").lower()
    return not outcome.accepted and outcome.error_code in codes and any(w in message for w in words)


def assert_refused(outcome: probes.PutOutcome, codes: set[str], words: tuple[str, ...]) -> None:
    assert not outcome.accepted, f"expected the request to be refused, but: {outcome.describe()}"
    assert outcome.error_code in codes, f"refused with the wrong error: {outcome.describe()}"
    assert refused_as_documented(outcome, codes, words), f"the message does not say why: {outcome.describe()}"


def assert_all_taken(outcome: probes.PutOutcome) -> None:
    assert outcome.accepted and outcome.failed_record_count == 0, outcome.describe()


def judge_boundary(record_measurement, limit: limits.Limit, value: int, taken: bool, outcome: probes.PutOutcome,
                   stored: list, sent: list[dict], *, codes: set[str] = SIZE_REFUSALS,
                   words: tuple[str, ...] = SIZE_WORDS, detail: str = "") -> None:
    """Record the measurement (with its verdict) first, then assert the boundary: a taken request stored every
    record as sent and in order; a refused one carries the documented error and stored nothing."""
    sent_pairs = [(r["PartitionKey"], r["Data"]) for r in sent]
    stored_pairs = [(r.partition_key, r.data) for r in stored]
    if taken:
        ok = outcome.accepted and outcome.failed_record_count == 0 and stored_pairs == sent_pairs
    else:
        ok = refused_as_documented(outcome, codes, words) and not stored
    record_measurement(limit, value if outcome.accepted else None, verdict=verdict(ok),
                       detail=f"{detail}{outcome.describe()}; {len(stored)} read back")
    if taken:
        assert outcome.accepted and outcome.failed_record_count == 0, outcome.describe()
        assert stored_pairs == sent_pairs, f"{len(stored)} of {len(sent)} records read back as sent"
    else:
        assert_refused(outcome, codes, words)
        assert stored == [], f"a refused request stored {len(stored)} records"


@pytest.mark.parametrize(
    ("count", "taken"),
    [*triple(MAX_RECORDS), pytest.param(2 * MAX_RECORDS.value, False, id="seed-double")],
)
def test_put_records_record_count(count, taken, kinesis_client_no_retry, kinesis_shared_stream, read_records,
                                  record_measurement):
    """The seed's shape: {"test": 0..n-1}; up to the cap all are stored in order, over it nothing is."""
    records = payloads.counter_records(count, key="seed")
    outcome = probes.put_records(kinesis_client_no_retry, kinesis_shared_stream.name, records)
    stored = read_records(kinesis_shared_stream)
    judge_boundary(record_measurement, MAX_RECORDS, count, taken, outcome, stored, records,
                   codes={"ValidationException"}, words=(f"less than or equal to {MAX_RECORDS.value}",),
                   detail=f"{count} records: ")


def test_put_records_empty_request_refused_by_sdk(kinesis_client_no_retry, kinesis_shared_stream):
    """Fewer than the minimum (1) records never leaves the SDK: botocore validates the model's min."""
    with pytest.raises(ParamValidationError, match="Records"):
        kinesis_client_no_retry.put_records(StreamName=kinesis_shared_stream.name, Records=[])


KEYS = {"key1": "k", "key256ascii": "p" * KEY_CHARS.value, "key256korean": "관" * KEY_CHARS.value}
UTF8_KEY_GAP = pytest.mark.kinesis_gap("moto-plain", reason="moto counts the partition key in characters, "
                                       "not UTF-8 bytes")


@pytest.mark.parametrize(("size", "taken", "key"), [
    pytest.param(*p.values, key, id=f"{p.id}-{key_id}",
                 marks=[UTF8_KEY_GAP] if (p.id, key_id) == ("over", "key256korean") else [])
    for p in triple(RECORD_BYTES) for key_id, key in KEYS.items()
])
def test_put_records_record_size(size, taken, key, kinesis_client_no_retry, kinesis_shared_stream, read_records,
                                 record_measurement):
    """A record's size is data + partition key (UTF-8): the key's bytes count toward the cap."""
    record = payloads.sized_record(size, partition_key=key)
    outcome = probes.put_records(kinesis_client_no_retry, kinesis_shared_stream.name, [record])
    stored = read_records(kinesis_shared_stream)
    judge_boundary(record_measurement, RECORD_BYTES, size, taken, outcome, stored, [record],
                   detail=f"{len(key.encode())}-byte key: ")


CONFIGURED_KIB = 2 * limits.KIB  # a stream set to 2 MiB records (MaxRecordSizeInKiB, Oct 2025)
CONFIGURED = limits.Limit("record.max_bytes.configured", CONFIGURED_KIB * limits.KIB, "bytes",
                          "largest record on a stream created with MaxRecordSizeInKiB=2048",
                          limits.RECORD_MAX_BYTES_CONFIGURABLE.source, limits.RECORD_MAX_BYTES_CONFIGURABLE.as_of)
PLAIN_MOTO_MAX_SIZE = pytest.mark.kinesis_gap("moto-plain", reason="moto ignores MaxRecordSizeInKiB and keeps "
                                              "the 1 MiB default")


@pytest.mark.parametrize(("size", "taken"), [
    pytest.param(*p.values, id=p.id, marks=[PLAIN_MOTO_MAX_SIZE] if p.id != "over" else [])
    for p in triple(CONFIGURED)
])
def test_put_records_record_size_configured_max(size, taken, kinesis_client_no_retry, lease_shared_stream,
                                                read_records, record_measurement):
    """A stream created with a larger maximum record size takes records up to it, and refuses one byte more.

    A record above 1 MiB bursts past the shard's 1 MiB/s and is paid for in the next seconds (large-records
    page), so one such record on an idle shard is taken (the lease starts once the previous test's records are
    paid for).
    """
    stream = lease_shared_stream(max_record_size_kib=CONFIGURED_KIB)
    record = payloads.sized_record(size, partition_key="big")
    outcome = probes.put_records(kinesis_client_no_retry, stream.name, [record])
    stored = read_records(stream)
    judge_boundary(record_measurement, CONFIGURED, size, taken, outcome, stored, [record])


def _request_of(total: int, label: str, hash_keys: list[str]) -> list[dict]:
    """Records adding up to exactly ``total`` bytes, one per shard, each within the record cap; their
    partition keys start with ``label`` so that a single read-back can tell the requests apart."""
    parts = -(-total // RECORD_BYTES.value)
    if parts > len(hash_keys):
        raise ValueError(f"{total} bytes need {parts} shards, the stream has {len(hash_keys)}")
    return [payloads.sized_record(size, partition_key=f"{label}/{i}", explicit_hash_key=hash_keys[i])
            for i, size in enumerate(payloads.split_evenly(total, parts))]


REQUEST_PROBES = tuple((f"{name}-{side}", cap.value + delta)
                       for name, cap in (("legacy", LEGACY_REQUEST), ("model", MODEL_REQUEST))
                       for side, delta in (("under", -1), ("at", 0), ("over", 1)))
# What each document says of the six probes: taken (True) or refused (False).
DOCUMENTED = {
    LEGACY_REQUEST.key: {"legacy-under": True, "legacy-at": True, "legacy-over": False,
                         "model-under": False, "model-at": False, "model-over": False},
    MODEL_REQUEST.key: {"legacy-under": True, "legacy-at": True, "legacy-over": True,
                        "model-under": True, "model-at": True, "model-over": False},
}


THROTTLED = "ProvisionedThroughputExceededException"


def request_answer_problem(outcome: probes.PutOutcome, sent: int, stored: int) -> str | None:
    """What is wrong with one request-size probe's answer, throttled records aside (``None``: as documented).

    A taken request must store every record it acknowledged; a throttled record (the shard's rate, not the
    request cap) is acknowledged as refused and not stored. A refused request carries a size error and stores
    nothing."""
    if not outcome.accepted:
        if not refused_as_documented(outcome, SIZE_REFUSALS, SIZE_WORDS):
            return f"{outcome.describe()} (not a documented size refusal)"
        return f"{outcome.describe()}, yet {stored} stored" if stored else None
    other = set(outcome.record_errors) - {THROTTLED}
    if other:
        return f"{outcome.describe()} (records refused with {sorted(other)})"
    acknowledged = sent - outcome.record_errors.get(THROTTLED, 0)
    return f"{outcome.describe()}, {stored} stored" if stored != acknowledged else None


def test_put_records_request_size(kinesis_client_no_retry, make_stream, read_records, record_measurement,
                                  kinesis_clock):
    """Which request cap does the backend enforce: 5 MiB (guide until 2025) or 10 MiB (2025 model)?

    Each cap is probed just under, at and just over. Both documents agree that up to 5 MiB is taken and
    10 MiB + 1 is refused; the sizes between tell them apart. The test fails when the backend matches
    neither document. Records go one per shard (and the probes a second apart on the client's clock) so that
    the per-shard write rate should not interfere; where it still does (live, two probes can land in one
    second of the service's), a record throttled with ProvisionedThroughputExceededException is judged apart:
    the request it came in was taken, so it counts for the request cap, and it is reported, not stored.
    """
    shards = -(-(MODEL_REQUEST.value + 1) // RECORD_BYTES.value)
    stream = make_stream(shard_count=shards)
    listed = kinesis_client_no_retry.list_shards(StreamName=stream.name)["Shards"]
    hash_keys = [s["HashKeyRange"]["StartingHashKey"] for s in listed]
    outcomes: dict[str, probes.PutOutcome] = {}
    sent: dict[str, int] = {}
    for label, total in REQUEST_PROBES:
        records = _request_of(total, label, hash_keys)
        sent[label] = len(records)
        outcomes[label] = probes.put_records(kinesis_client_no_retry, stream.name, records)
        kinesis_clock.sleep(1.0)  # a new second: each shard's 1 MiB/s budget is whole again
    stored = {label: 0 for label, _ in REQUEST_PROBES}
    for record in read_records(stream):
        stored[record.partition_key.split("/")[0]] += 1
    taken = {label: outcome.accepted for label, outcome in outcomes.items()}  # the request, not its records
    throttled = {label: n for label, o in outcomes.items() if (n := o.record_errors.get(THROTTLED, 0))}
    wrong = {label: problem for label, o in outcomes.items()
             if (problem := request_answer_problem(o, sent[label], stored[label]))}
    enforced = next((cap for cap in (LEGACY_REQUEST, MODEL_REQUEST) if taken == DOCUMENTED[cap.key]), None)
    record_measurement(enforced or MODEL_REQUEST, enforced.value if enforced else None,
                       verdict=verdict(enforced is not None and not wrong),
                       detail=f"taken: {taken}" + (f"; throttled records (the shard's rate, judged apart): "
                                                   f"{throttled}" if throttled else "") + (
                           f"; wrong: {wrong}" if wrong else ""), throttled=throttled)
    assert not wrong, f"requests not answered as documented (throttled records aside): {wrong}"
    assert enforced is not None, f"the backend matches neither documented request cap: {taken}"


@pytest.mark.parametrize(("length", "taken", "char"), [
    pytest.param(*p.values, char, id=f"{p.id}-{char_id}", marks=[PLAIN_MOTO_KEY] if p.id == "over" else [])
    for p in triple(KEY_CHARS) for char_id, char in (("ascii", "k"), ("korean", "관"))
])
def test_put_records_partition_key_length(length, taken, char, kinesis_client_no_retry, kinesis_shared_stream,
                                          read_records, record_measurement):
    """Partition keys are 1-256 Unicode characters (not bytes): 256 Korean characters are taken."""
    record = {"Data": b"{}", "PartitionKey": char * length}
    outcome = probes.put_records(kinesis_client_no_retry, kinesis_shared_stream.name, [record])
    stored = read_records(kinesis_shared_stream)
    judge_boundary(record_measurement, KEY_CHARS, length, taken, outcome, stored, [record],
                   codes={"ValidationException"}, words=(f"less than or equal to {KEY_CHARS.value}",))


@pytest.mark.parametrize(("size", "taken"), [
    pytest.param(*p.values, id=p.id,
                 marks=[pytest.mark.kinesis_gap("moto-plain", reason="moto's PutRecord has no size check")]
                 if p.id == "over" else [])
    for p in triple(RECORD_BYTES)
])
def test_put_records_single_put_record_size(size, taken, kinesis_client_no_retry, kinesis_shared_stream, read_records,
                                            record_measurement):
    """PutRecord has the same record cap as PutRecords (data + partition key)."""
    record = payloads.sized_record(size, partition_key="single")
    outcome = probes.put_record(kinesis_client_no_retry, kinesis_shared_stream.name, record)
    stored = read_records(kinesis_shared_stream)
    judge_boundary(record_measurement, RECORD_BYTES, size, taken, outcome, stored, [record], detail="PutRecord: ")


HASH_KEY_REFUSALS = {"InvalidArgumentException", "ValidationException"}
HASH_KEY_WORDS = ("explicithashkey", "explicit_hash_key")  # AWS: ExplicitHashKey; moto: its parameter


@pytest.mark.parametrize(("offset", "taken"), [
    pytest.param(-1, True, id="at-2**128-1", marks=pytest.mark.kinesis_gap(
        "moto-plain", reason="moto finds no shard for a shard's EndingHashKey (start <= h < end) and crashes")),
    pytest.param(0, False, id="over-2**128"),
])
def test_put_records_explicit_hash_key_range(offset, taken, kinesis_client_no_retry, kinesis_shared_stream,
                                             read_records, record_measurement):
    """ExplicitHashKey is a 128-bit integer: 2**128 - 1 (the last shard's EndingHashKey) is taken and stored, 2**128
    is refused with a message naming ExplicitHashKey and nothing is stored. The taken case measures the bits."""
    record = {"Data": b"{}", "PartitionKey": "k", "ExplicitHashKey": str(2 ** HASH_BITS.value + offset)}
    outcome = probes.put_records(kinesis_client_no_retry, kinesis_shared_stream.name, [record])
    stored = read_records(kinesis_shared_stream)
    judge_boundary(record_measurement, HASH_BITS, HASH_BITS.value, taken, outcome, stored, [record],
                   codes=HASH_KEY_REFUSALS, words=HASH_KEY_WORDS, detail=f"ExplicitHashKey 2**128{offset:+d}: ")


def _bad_key(n: int) -> dict:
    return {"Data": b"{}", "PartitionKey": "k" * (KEY_CHARS.value + 1)}


def _bad_hash_key(n: int) -> dict:
    return {"Data": b"{}", "PartitionKey": "k", "ExplicitHashKey": str(2 ** HASH_BITS.value)}


def _bad_size(n: int) -> dict:
    return payloads.sized_record(RECORD_BYTES.value + 1, partition_key="k")


@pytest.mark.parametrize(("make_bad", "codes", "limit"), [
    pytest.param(_bad_key, {"ValidationException"}, KEY_CHARS, id="partition-key-257", marks=PLAIN_MOTO_KEY),
    pytest.param(_bad_hash_key, {"InvalidArgumentException", "ValidationException"}, HASH_BITS, id="hash-key-2**128",
                 marks=pytest.mark.kinesis_gap("moto-plain", reason="moto stores the records before a bad hash key")),
    pytest.param(_bad_size, SIZE_REFUSALS, RECORD_BYTES, id="record-over-cap"),
])
def test_put_records_invalid_record_mid_batch_rejects_whole_request(
        make_bad, codes, limit, kinesis_client_no_retry, kinesis_shared_stream, read_records, record_measurement):
    """One invalid record anywhere in a batch refuses the whole request: nothing before it is stored."""
    records = payloads.counter_records(3) + [make_bad(3)] + payloads.counter_records(2, start=4)
    outcome = probes.put_records(kinesis_client_no_retry, kinesis_shared_stream.name, records)
    stored = read_records(kinesis_shared_stream)
    ok = not outcome.accepted and outcome.error_code in codes and not stored
    record_measurement(limit, None, verdict=verdict(ok),
                       detail=f"one record over it at position 4 of 6: {outcome.describe()}; {len(stored)} stored")
    assert not outcome.accepted, outcome.describe()
    assert outcome.error_code in codes, outcome.describe()
    assert stored == [], f"a refused request stored {len(stored)} records"


def test_put_records_seed_events_round_trip(kinesis_client_no_retry, kinesis_shared_stream, read_records,
                                           record_measurement):
    """The seed's mobile-app events (Korean text, nulls, mixed types): 500 in one call, read back as sent."""
    events = [payloads.seed_event(n) for n in range(MAX_RECORDS.value)]
    records = [{"Data": payloads.encode_json(e), "PartitionKey": str(e["user_id"])} for e in events]
    outcome = probes.put_records(kinesis_client_no_retry, kinesis_shared_stream.name, records)
    stored = read_records(kinesis_shared_stream)
    record_measurement(MAX_RECORDS, len(stored), verdict=verdict(len(stored) == len(events)),
                       detail=f"seed events: {outcome.describe()}")
    assert_all_taken(outcome)
    by_key: dict[str, list[dict]] = {}
    for r in stored:
        by_key.setdefault(r.partition_key, []).append(json.loads(r.data.decode("utf-8")))
    for key, got in by_key.items():
        assert got == [e for e in events if str(e["user_id"]) == key]
    assert sum(map(len, by_key.values())) == len(events)
