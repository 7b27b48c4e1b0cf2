"""Per-shard read limits (API_GetRecords.html, service-sizes-and-limits.html)."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits import limits

from .kinesis_helpers import Kinesis, make_stream, shard_id

# One record of a second's whole write budget (data + 1-byte partition key).
RECORD_BYTES = limits.SHARD_WRITE_BYTES_PER_S.value
PER_CALL = limits.GET_RECORDS_MAX_BYTES.value // RECORD_BYTES  # such records one GetRecords may return


def _iterator(kin: Kinesis, name: str) -> str:
    return kin.client.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]


def _put_big(kin: Kinesis, name: str, count: int) -> None:
    for i in range(count):  # one record per simulated second, each a whole second's write budget
        kin.client.put_record(StreamName=name, Data=b"x" * (RECORD_BYTES - 1), PartitionKey="k")
        kin.clock.sleep(1)


def test_sixth_get_records_in_a_second_is_throttled(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    it = _iterator(kinesis, name)
    for _ in range(limits.SHARD_READ_CALLS_PER_S.value):
        it = kinesis.probe.get_records(ShardIterator=it)["NextShardIterator"]
    with pytest.raises(kinesis.probe.exceptions.ProvisionedThroughputExceededException):
        kinesis.probe.get_records(ShardIterator=it)
    kinesis.clock.sleep(1)
    kinesis.probe.get_records(ShardIterator=it)


def test_limit_above_10000_is_a_validation_error(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    with pytest.raises(kinesis.probe.exceptions.ClientError) as err:
        kinesis.probe.get_records(ShardIterator=_iterator(kinesis, name),
                                  Limit=limits.GET_RECORDS_MAX_RECORDS.value + 1)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert (f"Member must have value less than or equal to {limits.GET_RECORDS_MAX_RECORDS.value}"
            in err.value.response["Error"]["Message"])


def test_one_call_returns_at_most_10_mib_then_the_shard_pays_for_it(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    _put_big(kinesis, name, PER_CALL + 1)
    page = kinesis.probe.get_records(ShardIterator=_iterator(kinesis, name))
    assert sum(len(r["Data"]) + len(r["PartitionKey"]) for r in page["Records"]) <= limits.GET_RECORDS_MAX_BYTES.value
    assert len(page["Records"]) == PER_CALL
    # API_GetRecords.html: after a 10 MiB response, calls in the next 5 seconds are throttled.
    kinesis.clock.sleep(limits.GET_RECORDS_PENALTY_S.value - 1)
    with pytest.raises(kinesis.probe.exceptions.ProvisionedThroughputExceededException):
        kinesis.probe.get_records(ShardIterator=page["NextShardIterator"])
    kinesis.clock.sleep(1)
    rest = kinesis.probe.get_records(ShardIterator=page["NextShardIterator"])
    assert len(rest["Records"]) == 1


def test_one_call_returns_at_most_10000_records(layered: Kinesis) -> None:
    layered.config.throttling = False  # fill fast; the record cap does not depend on throttling
    name = make_stream(layered)
    total = limits.GET_RECORDS_MAX_RECORDS.value + limits.PUT_RECORDS_MAX_RECORDS.value
    for start in range(0, total, limits.PUT_RECORDS_MAX_RECORDS.value):
        layered.client.put_records(StreamName=name, Records=[
            {"Data": b"r", "PartitionKey": str(i)} for i in range(start, start + limits.PUT_RECORDS_MAX_RECORDS.value)])
    page = layered.client.get_records(ShardIterator=_iterator(layered, name))
    assert len(page["Records"]) == limits.GET_RECORDS_MAX_RECORDS.value
    layered.config.get_records_max_records = 100  # configurable
    assert len(layered.client.get_records(ShardIterator=page["NextShardIterator"])["Records"]) == 100


def test_reading_2_mib_spends_the_seconds_read_budget(layered: Kinesis) -> None:
    name = make_stream(layered)
    in_budget = limits.SHARD_READ_BYTES_PER_S.value // RECORD_BYTES
    _put_big(layered, name, in_budget)
    page = layered.probe.get_records(ShardIterator=_iterator(layered, name))
    assert len(page["Records"]) == in_budget
    with pytest.raises(layered.probe.exceptions.ProvisionedThroughputExceededException):
        layered.probe.get_records(ShardIterator=page["NextShardIterator"])
    layered.clock.sleep(1)
    layered.probe.get_records(ShardIterator=page["NextShardIterator"])
