"""The plugin's clients read Kinesis's epoch timestamps as UTC datetimes: the same instants botocore's default parser
gives (in the local zone), and S3's text timestamps as before."""

from __future__ import annotations

import datetime

import botocore.utils
import pytest

from pytest_kinesis_limits.backends import offline_backend, utc_timestamp
from pytest_kinesis_limits.settings import resolve


@pytest.mark.parametrize("value", [0, 1_700_000_000, 1_700_000_000.123, "2024-01-01T00:00:00Z",
                                   "Mon, 01 Jan 2024 00:00:00 GMT"])
def test_the_same_instant_as_botocores_parser(value: object) -> None:
    ours, theirs = utc_timestamp(value), botocore.utils.parse_timestamp(value)
    assert ours == theirs and ours.utcoffset() == datetime.timedelta(0)


def test_the_backends_clients_use_it(aws: None) -> None:
    client = offline_backend(resolve(cli={}, env={}, ini={})).client("kinesis")
    client.create_stream(StreamName="s", ShardCount=1)
    described = client.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]
    assert described["StreamCreationTimestamp"].tzinfo is datetime.timezone.utc
