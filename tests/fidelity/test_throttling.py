"""Per-shard write limits (service-sizes-and-limits.html): 1,000 records/s and 1 MiB/s per shard."""

from __future__ import annotations

import boto3
import botocore.endpoint
from botocore.config import Config
import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import FidelityConfig, activate

from .kinesis_helpers import Kinesis, make_clients, make_stream, read_shard, shard_id

RECORDS_PER_S = limits.SHARD_WRITE_RECORDS_PER_S.value
BATCH = limits.PUT_RECORDS_MAX_RECORDS.value
THROTTLED = "ProvisionedThroughputExceededException"
RECORD_SIZE = limits.SHARD_WRITE_BYTES_PER_S.value // RECORDS_PER_S  # both budgets bind at once


def _batch(n: int, start: int = 0, size: int = 10) -> list[dict[str, object]]:
    return [{"Data": b"x" * size, "PartitionKey": f"k{start + i}"} for i in range(n)]


def test_records_over_the_per_second_budget_are_refused_per_record(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    outcomes = [kinesis.probe.put_records(StreamName=name, Records=_batch(BATCH, i * BATCH)) for i in range(3)]
    accepted = sum(BATCH - r["FailedRecordCount"] for r in outcomes)
    assert accepted == RECORDS_PER_S
    failed = [e for r in outcomes for e in r["Records"] if "ErrorCode" in e]
    assert len(failed) == 3 * BATCH - RECORDS_PER_S
    assert failed[0]["ErrorCode"] == THROTTLED
    assert failed[0]["ErrorMessage"] == (
        f"Rate exceeded for shard {shard_id(0)} in stream {name} under account 123456789012.")
    if kinesis.layer:
        kinesis.config.throttling = False  # read back without meeting the read limits
    assert len(read_shard(kinesis.client, name, shard_id(0))) == RECORDS_PER_S  # refused = not stored


def test_bytes_over_the_per_second_budget_are_refused(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    third = limits.SHARD_WRITE_BYTES_PER_S.value // 3 - 8  # leaves room for the keys
    result = kinesis.probe.put_records(StreamName=name, Records=_batch(4, size=third))
    assert [("ErrorCode" in e) for e in result["Records"]] == [False, False, False, True]
    assert result["FailedRecordCount"] == 1


def test_budget_renews_each_second_and_follows_config_changes(layered: Kinesis) -> None:
    name = make_stream(layered)
    first = [layered.probe.put_records(StreamName=name, Records=_batch(BATCH))["FailedRecordCount"]
             for _ in range(3)]
    assert first == [0, 0, BATCH]
    layered.clock.sleep(1)
    layered.config.write_records_per_s = 2 * RECORDS_PER_S  # a test may change the quota at run time
    again = [layered.probe.put_records(StreamName=name, Records=_batch(BATCH))["FailedRecordCount"]
             for _ in range(5)]
    assert again == [0, 0, 0, 0, BATCH]


def test_burst_allowance_is_spent_once(layered: Kinesis) -> None:
    layered.config.burst_seconds = 0.5
    name = make_stream(layered)
    accepted = [BATCH - layered.probe.put_records(StreamName=name, Records=_batch(BATCH))["FailedRecordCount"]
                for _ in range(4)]
    assert sum(accepted) == RECORDS_PER_S + RECORDS_PER_S // 2
    layered.clock.sleep(1)
    accepted = [BATCH - layered.probe.put_records(StreamName=name, Records=_batch(BATCH))["FailedRecordCount"]
                for _ in range(4)]
    assert sum(accepted) == RECORDS_PER_S


def test_single_put_record_raises_a_throttle_the_sdk_retries(kinesis: Kinesis,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)  # no real backoff waits
    name = make_stream(kinesis)
    kinesis.probe.put_records(StreamName=name, Records=_batch(BATCH))
    kinesis.probe.put_records(StreamName=name, Records=_batch(BATCH))
    with pytest.raises(kinesis.probe.exceptions.ProvisionedThroughputExceededException) as no_retry:
        kinesis.probe.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert no_retry.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert no_retry.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    # Explicit retry settings: botocore's default retry mode differs between releases.
    five = boto3.client("kinesis", config=Config(retries={"mode": "standard", "total_max_attempts": 5}))
    with pytest.raises(five.exceptions.ProvisionedThroughputExceededException) as retried:
        five.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert retried.value.response["ResponseMetadata"]["RetryAttempts"] == 4  # throttles are retried
    # Config(retries={"max_attempts": 1}) means one *retry* in botocore: it does retry a throttle.
    once = boto3.client("kinesis", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(once.exceptions.ProvisionedThroughputExceededException) as one_retry:
        once.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert one_retry.value.response["ResponseMetadata"]["RetryAttempts"] == 1


def _run_once() -> list[int]:
    import moto
    from moto.core.base_backend import BackendDict

    clock = SimulatedClock(1_700_000_000.5)
    with moto.mock_aws(), activate(clock, FidelityConfig(burst_seconds=0.25)) as layer:
        BackendDict.reset()  # a nested mock (the plugin's may be active) does not start empty by itself
        client, probe = make_clients()
        client.create_stream(StreamName="d", ShardCount=1)
        clock.sleep(layer.config.creating_seconds)
        failures = []
        for step in range(6):
            r = probe.put_records(StreamName="d", Records=_batch(BATCH, step * BATCH, size=RECORD_SIZE))
            failures.append(r["FailedRecordCount"])
            clock.sleep(0.4)
        return failures


def test_same_calls_on_a_simulated_clock_give_the_same_outcome() -> None:
    first, second = _run_once(), _run_once()
    assert first == second
    assert sum(first) > 0  # the scenario really throttles
