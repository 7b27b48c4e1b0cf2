"""Whole-request validation (API_PutRecords.html, API_PutRecord.html, API_CreateStream.html)."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits import limits

from .kinesis_helpers import Kinesis, make_stream, read_shard, shard_id

MIB = limits.MIB
KEY_MAX = limits.PARTITION_KEY_MAX_CHARS.value
BAD_KEY = "k" * (KEY_MAX + 1)
HASH_BITS = limits.HASH_KEY_BITS.value
RECORD_MAX = limits.RECORD_MAX_BYTES.value
LEGACY_REQUEST_MAX = limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value


def _records_with(bad: dict[str, object]) -> list[dict[str, object]]:
    good = [{"Data": b"ok", "PartitionKey": f"g{i}"} for i in range(4)]
    return good[:2] + [bad] + good[2:]


@pytest.mark.parametrize("bad, code, message", [
    ({"Data": b"x", "PartitionKey": BAD_KEY}, "ValidationException",
     "1 validation error detected: Value at 'records.3.member.partitionKey' failed to satisfy constraint: "
     f"Member must have length less than or equal to {KEY_MAX}"),
    ({"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": str(2 ** HASH_BITS)}, "InvalidArgumentException",
     f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^{HASH_BITS}-1]. "
     f"Specified value was {2 ** HASH_BITS}"),
], ids=["partition-key-over-max", "explicit-hash-key-over-max"])
def test_an_invalid_record_mid_batch_rejects_the_whole_request(kinesis: Kinesis, bad: dict[str, object],
                                                               code: str, message: str) -> None:
    name = make_stream(kinesis)
    with pytest.raises(kinesis.probe.exceptions.ClientError) as err:
        kinesis.probe.put_records(StreamName=name, Records=_records_with(bad))
    assert (err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]) == (code, message)
    assert read_shard(kinesis.client, name, shard_id(0)) == []  # nothing stored


@pytest.mark.parametrize("mode", ["fidelity", "plain"])
def test_an_oversize_record_mid_batch_rejects_the_whole_request(mode: str, request: pytest.FixtureRequest) -> None:
    # moto already does this one right: run it on both as a regression guard (no xfail).
    kin: Kinesis = request.getfixturevalue("layered" if mode == "fidelity" else "plain_moto")
    name = make_stream(kin)
    with pytest.raises(kin.probe.exceptions.ClientError) as err:
        kin.probe.put_records(StreamName=name, Records=_records_with({"Data": b"x" * RECORD_MAX, "PartitionKey": "k"}))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "'records.3.member.data'" in err.value.response["Error"]["Message"]
    assert read_shard(kin.client, name, shard_id(0)) == []


def test_single_put_record_size_is_checked(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    with pytest.raises(kinesis.probe.exceptions.ClientError) as err:
        kinesis.probe.put_record(StreamName=name, Data=b"x" * RECORD_MAX, PartitionKey="k")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == (
        "1 validation error detected: Value at 'data' failed to satisfy constraint: "
        f"Member must have length less than or equal to {RECORD_MAX}")


def test_max_record_size_in_kib_on_create_stream_is_honoured(kinesis: Kinesis) -> None:
    kib = 2 * limits.MAX_RECORD_SIZE_KIB_MIN.value  # any size in the allowed range
    cap = kib * limits.KIB
    name = make_stream(kinesis, MaxRecordSizeInKiB=kib)
    big = b"x" * ((RECORD_MAX + cap) // 2)  # over the default cap, under the stream's
    out = kinesis.probe.put_records(StreamName=name, Records=[{"Data": big, "PartitionKey": "k"}])
    assert out["FailedRecordCount"] == 0
    with pytest.raises(kinesis.probe.exceptions.ClientError):
        kinesis.probe.put_record(StreamName=name, Data=b"x" * cap, PartitionKey="k")


def test_request_size_cap_is_configurable(layered: Kinesis) -> None:
    layered.config.throttling = False
    name = make_stream(layered)
    # Records under the record cap whose sum is over the legacy request cap, under the current one.
    over = [{"Data": b"x" * (RECORD_MAX - 16), "PartitionKey": f"k{i}"} for i in range(LEGACY_REQUEST_MAX // MIB + 1)]
    with pytest.raises(layered.probe.exceptions.InvalidArgumentException) as err:
        layered.probe.put_records(StreamName=name, Records=over)
    assert err.value.response["Error"]["Message"] == f"Records size exceeds {LEGACY_REQUEST_MAX // MIB} MB limit"
    layered.config.max_request_bytes = limits.PUT_RECORDS_MAX_REQUEST_BYTES.value
    assert layered.probe.put_records(StreamName=name, Records=over)["FailedRecordCount"] == 0


LARGE_KIB = limits.MAX_RECORD_SIZE_KIB_MAX.value
LARGE_CAP = LARGE_KIB * limits.KIB  # a record's data + partition key on a MaxRecordSizeInKiB=10240 stream


def _pay_for(kin: Kinesis, nbytes: int) -> None:
    # A record larger than a second's write budget blocks its shard until paid for (large-records.html).
    kin.clock.sleep(nbytes // limits.SHARD_WRITE_BYTES_PER_S.value + 1)


def test_a_record_the_stream_accepts_fits_a_put_records_request(kinesis: Kinesis) -> None:
    # Review of issue 3: the legacy 5 MiB request cap must not refuse a record the stream's own cap admits.
    assert LEGACY_REQUEST_MAX < LARGE_CAP
    name = make_stream(kinesis, MaxRecordSizeInKiB=LARGE_KIB)
    largest = b"x" * (LARGE_CAP - 1)  # + the 1-byte partition key = the stream's record cap
    over_legacy = b"x" * (LEGACY_REQUEST_MAX + MIB)
    for data in (over_legacy, largest):
        out = kinesis.probe.put_records(StreamName=name, Records=[{"Data": data, "PartitionKey": "k"}])
        assert out["FailedRecordCount"] == 0, out["Records"]
        _pay_for(kinesis, len(data))
        assert kinesis.probe.put_record(StreamName=name, Data=data, PartitionKey="k")["SequenceNumber"]
        _pay_for(kinesis, len(data))


def test_one_byte_over_a_large_record_cap_is_refused_by_both_calls(layered: Kinesis) -> None:
    name = make_stream(layered, MaxRecordSizeInKiB=LARGE_KIB)
    over = b"x" * LARGE_CAP  # + the 1-byte partition key
    detail = f"Member must have length less than or equal to {LARGE_CAP}"
    with pytest.raises(layered.probe.exceptions.ClientError) as err:
        layered.probe.put_records(StreamName=name, Records=[{"Data": over, "PartitionKey": "k"}])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert detail in err.value.response["Error"]["Message"]
    with pytest.raises(layered.probe.exceptions.ClientError) as err:
        layered.probe.put_record(StreamName=name, Data=over, PartitionKey="k")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert detail in err.value.response["Error"]["Message"]


def test_a_request_over_a_large_record_cap_is_refused_whole(layered: Kinesis) -> None:
    # The request cap is raised to the record cap, not removed: two records that each fit but together
    # exceed it are refused as one request, nothing stored.
    name = make_stream(layered, MaxRecordSizeInKiB=LARGE_KIB)
    half = b"x" * (LARGE_CAP // 2)
    with pytest.raises(layered.probe.exceptions.InvalidArgumentException) as err:
        layered.probe.put_records(StreamName=name, Records=[{"Data": half, "PartitionKey": "a"},
                                                            {"Data": half, "PartitionKey": "b"}])
    assert err.value.response["Error"]["Message"] == f"Records size exceeds {LARGE_CAP // MIB} MB limit"
    assert read_shard(layered.client, name, shard_id(0)) == []
