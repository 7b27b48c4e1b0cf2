"""Offline Firehose as strict as AWS about state: CREATING, operations refused until ACTIVE, new IAM roles not
propagated yet, and a shard's reads shared with the delivery stream (docs/fidelity.md, "Firehose")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import firehose as fh, limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity.firehose import FirehoseSimulator, activate_firehose
from pytest_kinesis_limits.firehose import provision
from pytest_kinesis_limits.fidelity.offline import activate_all
from pytest_kinesis_limits.kinesis.reader import read_stream
from pytest_kinesis_limits.kinesis.resources import WaitPolicy

from .kinesis_helpers import make_clients
from .test_firehose_sim import BUCKET_ARN, START, Env, make_env, seq

CREATING_S = limits.FIREHOSE_CREATING_S.value
DELETING_S = limits.FIREHOSE_DELETING_S.value
PROPAGATION_S = limits.IAM_PROPAGATION_S.value


@pytest.fixture
def env(aws: None) -> Iterator[Env]:
    clock = SimulatedClock(START)
    with activate_firehose(clock) as sim:
        env = make_env(clock, sim)
        clock.sleep(PROPAGATION_S)  # the role is usable: these tests are about the delivery stream
        yield env


def create_raw(env: Env, name: str = "raw", role_arn: str | None = None) -> None:
    """CreateDeliveryStream straight through boto3, as a user's own code would, with no retry and no wait."""
    env.firehose.create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": env.stream_arn, "RoleARN": role_arn or env.role_arn},
        ExtendedS3DestinationConfiguration={"RoleARN": role_arn or env.role_arn, "BucketARN": BUCKET_ARN,
                                            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})


def status(env: Env, name: str = "raw") -> str:
    return str(env.firehose.describe_delivery_stream(
        DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"])


def refused(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


# -------------------------------------------------------------------------------------------- CREATING
def test_a_new_delivery_stream_is_creating_for_the_catalogue_window(env: Env) -> None:
    create_raw(env)
    assert status(env) == "CREATING"
    env.clock.sleep(CREATING_S - 0.5)
    assert status(env) == "CREATING"
    env.clock.sleep(0.5)
    assert status(env) == "ACTIVE"


def test_delete_while_creating_is_refused_as_aws_refuses_it(env: Env) -> None:
    """API_DeleteDeliveryStream: "You can't delete a Firehose stream that is in the CREATING state"."""
    create_raw(env)
    code, message = refused(lambda: env.firehose.delete_delivery_stream(DeliveryStreamName="raw"))
    assert code == "ResourceInUseException" and "CREATING" in message and "raw" in message
    env.clock.sleep(CREATING_S)
    env.firehose.delete_delivery_stream(DeliveryStreamName="raw")
    assert status(env) == "DELETING"
    env.clock.sleep(DELETING_S)
    assert env.firehose.list_delivery_streams()["DeliveryStreamNames"] == []


def test_a_deleted_delivery_stream_is_deleting_for_minutes_and_its_name_stays_taken(env: Env) -> None:
    """API_DeleteDeliveryStream: "A Firehose stream may remain in the DELETING state for several minutes"
    (lifecycle.firehose.deleting_s): it is still described and listed, its name cannot be taken again, its
    destination cannot be updated, a second deletion is accepted, and after the window it is gone."""
    create_raw(env)
    env.clock.sleep(CREATING_S)
    env.firehose.delete_delivery_stream(DeliveryStreamName="raw")
    assert status(env) == "DELETING"
    assert env.firehose.list_delivery_streams()["DeliveryStreamNames"] == ["raw"]
    code, message = refused(lambda: create_raw(env))
    assert code == "ResourceInUseException" and "raw" in message
    description = env.firehose.describe_delivery_stream(DeliveryStreamName="raw")["DeliveryStreamDescription"]
    code, message = refused(lambda: env.firehose.update_destination(
        DeliveryStreamName="raw", CurrentDeliveryStreamVersionId=description["VersionId"],
        DestinationId=description["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 2, "IntervalInSeconds": 60}}))
    assert code == "ResourceInUseException" and "DELETING" in message
    env.firehose.delete_delivery_stream(DeliveryStreamName="raw")  # again: accepted
    env.clock.sleep(DELETING_S - 0.5)
    assert status(env) == "DELETING"
    env.clock.sleep(0.5)
    code, _ = refused(lambda: status(env))
    assert code == "ResourceNotFoundException"
    create_raw(env)  # the name is free again
    assert status(env) == "CREATING"


def test_the_fixtures_teardown_starts_the_deletion_and_does_not_wait(env: Env) -> None:
    """The fixtures' deletion returns while the delivery stream is DELETING, at no clock time (AWS: "applications
    should not wait for streams in the DELETING state"); the waiting form (sweep's) returns once it is gone."""
    create_raw(env)
    started = env.clock.now()
    policy = WaitPolicy(delay=1.0, attempts=600)
    assert fh.delete_delivery_stream_when_created(env.firehose, "raw", env.clock, policy, wait=False)
    assert status(env) == "DELETING" and env.clock.now() - started == pytest.approx(CREATING_S, abs=1.0)
    create_raw(env, "other")
    env.clock.sleep(CREATING_S)
    started = env.clock.now()
    assert fh.delete_delivery_stream_when_created(env.firehose, "other", env.clock, policy)
    assert env.clock.now() - started == pytest.approx(DELETING_S, abs=1.0)


def test_update_destination_while_creating_is_refused(env: Env) -> None:
    create_raw(env)
    description = env.firehose.describe_delivery_stream(DeliveryStreamName="raw")["DeliveryStreamDescription"]

    def update() -> Any:
        return env.firehose.update_destination(
            DeliveryStreamName="raw", CurrentDeliveryStreamVersionId=description["VersionId"],
            DestinationId=description["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 2, "IntervalInSeconds": 0}})

    code, message = refused(update)
    assert code == "ResourceInUseException" and "UpdateDestination" in message
    env.clock.sleep(CREATING_S)
    update()
    assert env.firehose.describe_delivery_stream(DeliveryStreamName="raw")["DeliveryStreamDescription"][
        "VersionId"] == "2"


def test_the_source_is_read_from_latest_once_active_not_while_creating(env: Env) -> None:
    """A Kinesis-source delivery stream starts reading at LATEST when it is ACTIVE (writing-with-kinesis-streams):
    records written while it is CREATING are never delivered."""
    create_raw(env)
    env.put(0, 3)
    env.clock.sleep(CREATING_S)
    assert status(env) == "ACTIVE"
    env.put(3, 3)
    result = fh.wait_for_records(env.s3, "dest", range(6), seq, env.clock, timeout_s=60, poll_s=5)
    assert result.missing == [0, 1, 2] and not result.unexpected, result.summary()


def test_the_window_is_configurable_and_zero_turns_it_off(aws: None) -> None:
    clock = SimulatedClock(START)
    with activate_firehose(clock, creating_s=0, propagation_s=0) as sim:
        env = make_env(clock, sim)
        create_raw(env)
        assert status(env) == "ACTIVE"


# ------------------------------------------------------------------------------------ role propagation
@pytest.fixture
def fresh(aws: None) -> Iterator[Env]:
    """A role created (with its policy) just now: not propagated yet."""
    clock = SimulatedClock(START)
    with activate_firehose(clock) as sim:
        yield make_env(clock, sim)


def test_a_new_role_is_refused_with_awss_wordings_until_it_has_propagated(fresh: Env) -> None:
    answers = [refused(lambda: create_raw(fresh)) for _ in range(2)]
    assert [code for code, _ in answers] == ["InvalidArgumentException"] * 2
    assert "The security token included in the request is invalid" in answers[0][1]
    assert f"Firehose is unable to assume role {fresh.role_arn}" in answers[1][1]
    assert all(fh.is_propagation_error(ClientError({"Error": {"Code": c, "Message": m}}, "CreateDeliveryStream"))
               for c, m in answers)
    fresh.clock.sleep(PROPAGATION_S)
    create_raw(fresh)
    assert status(fresh) == "CREATING"


def test_a_policy_put_later_is_refused_as_not_authorized_until_it_has_propagated(fresh: Env) -> None:
    fresh.clock.sleep(PROPAGATION_S)
    role = fresh.role_arn.rsplit("/", 1)[-1]
    fresh.iam.put_role_policy(RoleName=role, PolicyName="later",
                              PolicyDocument=json.dumps(fh.firehose_role_policy(fresh.stream_arn, BUCKET_ARN)))
    code, message = refused(lambda: create_raw(fresh))
    assert code == "InvalidArgumentException"
    assert message == (f"Role {fresh.role_arn} is not authorized to perform: kinesis:DescribeStream on resource: "
                       f"{fresh.stream_arn}.")
    fresh.clock.sleep(PROPAGATION_S)
    create_raw(fresh)


def test_roles_made_before_the_simulation_are_taken_as_propagated(aws: None) -> None:
    clock = SimulatedClock(START)
    iam = boto3.client("iam", region_name="us-east-1")
    arn = iam.create_role(RoleName="old", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    with activate_firehose(clock) as sim:
        env = make_env(clock, sim)
        create_raw(env, role_arn=arn)
        assert sim.roles.refused == []


def test_the_library_rides_out_propagation_and_creating_offline(fresh: Env) -> None:
    """What make_delivery_stream does live, exercised offline: the first CreateDeliveryStream calls are refused
    (both trust wordings), the retry gets through, then the wait covers CREATING."""
    start = fresh.clock.now()
    description = fh.create_delivery_stream(fresh.firehose, "lib", fresh.stream_arn, fresh.role_arn, BUCKET_ARN, 1,
                                            0, None, None, fresh.clock, 120, poll_s=1)
    assert description["DeliveryStreamStatus"] == "ACTIVE"
    wordings = {message.split(".")[0] for _, message in fresh.sim.roles.refused}
    assert len(fresh.sim.roles.refused) >= 2 and len(wordings) == 2
    assert fresh.clock.now() - start >= PROPAGATION_S + CREATING_S


def test_a_retry_that_knows_only_the_old_wordings_fails_offline_as_it_would_live(
        fresh: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Can fail: the library before this change retried two wordings; the simulation's first answer is the
    third, so creation fails at once, as hashicorp/terraform-provider-aws#47937 reports live."""
    monkeypatch.setattr(provision, "PROPAGATION_MESSAGES", ("Firehose is unable to assume role",
                                                            "is not authorized to perform"))
    with pytest.raises(ClientError, match="security token included in the request is invalid"):
        fh.create_delivery_stream(fresh.firehose, "lib", fresh.stream_arn, fresh.role_arn, BUCKET_ARN, 1, 0, None,
                                  None, fresh.clock, 120)


# ------------------------------------------------------------------------------------- the read share
@pytest.fixture
def layered(aws: None) -> Iterator[tuple[Env, FirehoseSimulator]]:
    """Both offline layers (Kinesis read limits + Firehose), a delivery stream reading a 1-shard source that
    holds 120 records."""
    clock = SimulatedClock(START)
    with activate_all(clock) as layer:
        env = make_env(clock, layer.firehose)
        env.delivery_stream(buffer_seconds=0)
        env.put(0, 120, batch=True)
        yield env, layer.firehose


def read_back(env: Env, **options: Any) -> Any:
    """Read the source 5 records a call (24+ calls: several seconds), one attempt per call (botocore's own
    retries would sleep on the wall clock and hide the throttling from the reader)."""
    _, probe = make_clients()
    return read_stream(probe, "src", clock=env.clock, limit=5, **options)


def test_a_reader_paced_with_source_read_options_leaves_firehose_its_share(
        layered: tuple[Env, FirehoseSimulator]) -> None:
    env, sim = layered
    throttled_before = sum(sim.throttled.values())
    read = read_back(env, **fh.source_read_options())
    assert len(read.records) == 120 and read.calls >= 24
    assert read.throttles == 0 and sum(sim.throttled.values()) == throttled_before, read.summary()
    assert fh.source_read_options()["calls_per_s"] == (limits.SHARD_READ_CALLS_PER_S.value
                                                       - limits.FIREHOSE_SOURCE_READS_PER_S.value)


def test_a_reader_at_the_full_shard_limit_is_throttled_beside_firehose(layered: tuple[Env, FirehoseSimulator]) -> None:
    """Can fail: the family's readers before this change took all 5 reads/s of the shard."""
    env, sim = layered
    read = read_back(env)
    assert len(read.records) == 120
    assert read.throttles + sum(sim.throttled.values()) > 0, read.summary()
