"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws


@pytest.fixture(scope="module")
def moto_kinesis() -> Iterator[Any]:
    """A moto-mocked Kinesis client with one attempt per call (as limit probes use), for one module."""
    with mock_aws():
        yield boto3.client("kinesis", config=Config(retries={"total_max_attempts": 1}), region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
