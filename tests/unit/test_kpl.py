"""The KPL aggregated record format: ours against aws-kinesis-agg (the KPL's own Python aggregator, from PyPI)."""

from __future__ import annotations

import base64

import pytest

from pytest_kinesis_limits.kinesis import kpl

USERS = [kpl.UserRecord(f"key-{n % 7}", f'{{"id": {n}}}'.encode(), str(n) if n % 3 == 0 else None)
         for n in range(100)]


def test_a_round_trip_keeps_every_user_record_its_key_and_hash_key() -> None:
    data = kpl.aggregate(USERS)
    assert data.startswith(kpl.MAGIC) and kpl.is_aggregated(data)
    assert kpl.deaggregate(data) == USERS
    assert kpl.user_records(data) == [u.data for u in USERS]


@pytest.mark.parametrize("data", [b'{"id": 1}', kpl.MAGIC + b"\x00" * 20, b""], ids=["json", "bad-digest", "empty"])
def test_records_that_are_not_aggregated_are_themselves(data: bytes) -> None:
    assert not kpl.is_aggregated(data)
    assert kpl.user_records(data) == [data]
    with pytest.raises(kpl.NotAggregated):
        kpl.deaggregate(data)


def test_a_message_that_does_not_parse_is_refused_not_misread() -> None:
    import hashlib

    message = b"\x1a\x05\x08\x00\x1a"  # a user record whose data field runs past the end
    data = kpl.MAGIC + message + hashlib.md5(message).digest()
    with pytest.raises(kpl.NotAggregated, match="past the end"):
        kpl.deaggregate(data)
    assert kpl.user_records(data) == [data]


def test_the_format_is_the_kpls_own_both_ways() -> None:
    """aws-kinesis-agg (installed with the 'clients' extra) reads what we write, and we read what it writes."""
    # The project's venv lacks the clients (constraints.txt's botocore is newer than async-kinesis admits): this runs,
    # nothing skipped, in tests/plugin/test_real_clients.py's venv.
    aggregator = pytest.importorskip("aws_kinesis_agg.aggregator", reason="aws-kinesis-agg is not installed: "
                                     "tests/plugin/test_real_clients.py runs this in a venv with the clients extra")
    from aws_kinesis_agg.deaggregator import deaggregate_records

    theirs = aggregator.RecordAggregator()
    for user in USERS:
        assert theirs.add_user_record(user.partition_key, user.data, explicit_hash_key=user.explicit_hash_key) is None
    assert kpl.deaggregate(theirs.clear_and_get().get_contents()[2]) == USERS

    event = {"eventSource": "aws:kinesis", "kinesis": {
        "data": base64.b64encode(kpl.aggregate(USERS)).decode(), "partitionKey": "key-0", "sequenceNumber": "1",
        "kinesisSchemaVersion": "1.0", "approximateArrivalTimestamp": 1.0}}
    read = deaggregate_records([event])
    assert [base64.b64decode(r["kinesis"]["data"]) for r in read] == [u.data for u in USERS]
    assert [r["kinesis"]["partitionKey"] for r in read] == [u.partition_key for u in USERS]
