"""Stream lifecycle as AWS runs it: CREATING, UPDATING, DELETING on the layer's clock, and what is refused meanwhile.

Every rule here is a row of docs/fidelity.md's lifecycle table (rule, AWS source, error, test). Plain moto has
none of them (``kinesis[plain]`` is a strict expected failure), and neither had the layer before issue 9.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import moto
import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import FidelityConfig, activate

from .kinesis_helpers import START, Kinesis, make_clients, make_stream, read_shard, shard_id, wait_active

ACCOUNT = "123456789012"
HALF = 2 ** (limits.HASH_KEY_BITS.value - 1)
TAGS = {"created-by": "pytest-kinesis-limits", "run-id": "r1"}


def _status(kin: Kinesis, name: str) -> str:
    return kin.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]


def _code_and_message(call: Callable[[], Any]) -> tuple[str, str]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def _not_active(name: str, state: str) -> tuple[str, str]:
    return "ResourceInUseException", f"Stream {name} under account {ACCOUNT} not ACTIVE, instead in state {state}"


def _arn(kin: Kinesis, name: str) -> str:
    return str(kin.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"])


# ------------------------------------------------------------------------------- the tagging blocker (issue 9)
def test_tags_cannot_change_until_the_new_stream_is_active(kinesis: Kinesis) -> None:
    """CreateStream with Tags, then AddTagsToStream at once (what the plugin's fixtures did): AWS refuses it."""
    kinesis.client.create_stream(StreamName="s", ShardCount=1, Tags=TAGS)
    assert _code_and_message(lambda: kinesis.probe.add_tags_to_stream(StreamName="s", Tags=TAGS)) == \
        _not_active("s", "CREATING")
    assert _code_and_message(lambda: kinesis.probe.remove_tags_from_stream(StreamName="s", TagKeys=["run-id"])) == \
        _not_active("s", "CREATING")
    # The tags of CreateStream "take effect from the CREATING status" ...
    listed = kinesis.client.list_tags_for_stream(StreamName="s")["Tags"]
    assert {t["Key"]: t["Value"] for t in listed} == TAGS
    wait_active(kinesis, "s")
    kinesis.client.add_tags_to_stream(StreamName="s", Tags={"more": "1"})  # ... and change once ACTIVE


# --------------------------------------------------------------------------------------------- CREATING
def test_a_new_stream_is_creating_for_the_typical_window_then_active(kinesis: Kinesis) -> None:
    kinesis.client.create_stream(StreamName="s", ShardCount=1)
    assert _status(kinesis, "s") == "CREATING"
    kinesis.clock.sleep(limits.LIFECYCLE_STREAM_CREATING_S.value - 1)
    assert _status(kinesis, "s") == "CREATING"
    kinesis.clock.sleep(1)
    assert _status(kinesis, "s") == "ACTIVE"


def test_reads_and_writes_on_a_creating_stream_are_not_found(kinesis: Kinesis) -> None:
    """PutRecord(s) and GetShardIterator list ResourceNotFoundException (not ResourceInUseException)."""
    kinesis.client.create_stream(StreamName="s", ShardCount=1)
    not_found = ("ResourceNotFoundException", f"Stream s under account {ACCOUNT} not found.")
    assert _code_and_message(lambda: kinesis.probe.put_record(StreamName="s", Data=b"x", PartitionKey="k")) == \
        not_found
    assert _code_and_message(lambda: kinesis.probe.put_records(
        StreamName="s", Records=[{"Data": b"x", "PartitionKey": "k"}])) == not_found
    assert _code_and_message(lambda: kinesis.probe.get_shard_iterator(
        StreamName="s", ShardId=shard_id(0), ShardIteratorType="TRIM_HORIZON")) == not_found


# Operations whose error list has ResourceInUseException ("the resource must be in the ACTIVE state"), each
# called on stream "s" (two shards, 0 and 1) the way a user would.
NEEDS_ACTIVE: dict[str, Callable[[Kinesis], Any]] = {
    "AddTagsToStream": lambda k: k.probe.add_tags_to_stream(StreamName="s", Tags={"a": "b"}),
    "RemoveTagsFromStream": lambda k: k.probe.remove_tags_from_stream(StreamName="s", TagKeys=["a"]),
    "IncreaseStreamRetentionPeriod": lambda k: k.probe.increase_stream_retention_period(
        StreamName="s", RetentionPeriodHours=48),
    "DecreaseStreamRetentionPeriod": lambda k: k.probe.decrease_stream_retention_period(
        StreamName="s", RetentionPeriodHours=24),
    "SplitShard": lambda k: k.probe.split_shard(StreamName="s", ShardToSplit=shard_id(0),
                                                NewStartingHashKey=str(HALF // 2)),
    "MergeShards": lambda k: k.probe.merge_shards(StreamName="s", ShardToMerge=shard_id(0),
                                                  AdjacentShardToMerge=shard_id(1)),
    "UpdateShardCount": lambda k: k.probe.update_shard_count(StreamName="s", TargetShardCount=4,
                                                             ScalingType="UNIFORM_SCALING"),
    "StartStreamEncryption": lambda k: k.probe.start_stream_encryption(StreamName="s", EncryptionType="KMS",
                                                                       KeyId="alias/aws/kinesis"),
    "StopStreamEncryption": lambda k: k.probe.stop_stream_encryption(StreamName="s", EncryptionType="KMS",
                                                                     KeyId="alias/aws/kinesis"),
    "EnableEnhancedMonitoring": lambda k: k.probe.enable_enhanced_monitoring(StreamName="s",
                                                                             ShardLevelMetrics=["ALL"]),
    "DisableEnhancedMonitoring": lambda k: k.probe.disable_enhanced_monitoring(StreamName="s",
                                                                               ShardLevelMetrics=["ALL"]),
    "RegisterStreamConsumer": lambda k: k.probe.register_stream_consumer(StreamARN=_arn(k, "s"), ConsumerName="c"),
    "UpdateStreamMode": lambda k: k.probe.update_stream_mode(StreamARN=_arn(k, "s"),
                                                             StreamModeDetails={"StreamMode": "ON_DEMAND"}),
    "DeleteStream": lambda k: k.probe.delete_stream(StreamName="s"),
}


def _into(kin: Kinesis, state: str) -> None:
    """Stream "s" with two shards, brought into ``state``."""
    kin.client.create_stream(StreamName="s", ShardCount=2)
    if state == "CREATING":
        return
    wait_active(kin, "s")
    if state == "UPDATING":
        kin.client.update_shard_count(StreamName="s", TargetShardCount=2 * 2, ScalingType="UNIFORM_SCALING")
    elif state == "DELETING":
        kin.client.delete_stream(StreamName="s")


@pytest.mark.parametrize("operation", sorted(NEEDS_ACTIVE))
@pytest.mark.parametrize("state", ["CREATING", "UPDATING", "DELETING"])
def test_operations_that_need_an_active_stream_are_refused_otherwise(layered: Kinesis, state: str,
                                                                     operation: str) -> None:
    _into(layered, state)
    assert _status(layered, "s") == state
    assert _code_and_message(lambda: NEEDS_ACTIVE[operation](layered)) == _not_active("s", state)


@pytest.mark.parametrize("operation", sorted(NEEDS_ACTIVE))
def test_the_same_operations_work_once_active(layered: Kinesis, operation: str) -> None:
    _into(layered, "ACTIVE")
    NEEDS_ACTIVE[operation](layered)


@pytest.mark.parametrize("state", ["CREATING", "UPDATING", "DELETING"])
def test_plain_moto_refuses_nothing_whatever_the_state(kinesis: Kinesis, state: str) -> None:
    """The matrix above in one call per state, on both backends (plain moto: a strict expected failure)."""
    _into(kinesis, state)
    assert _code_and_message(lambda: NEEDS_ACTIVE["AddTagsToStream"](kinesis)) == _not_active("s", state)


# --------------------------------------------------------------------------------------------- UPDATING
def test_encryption_sets_the_stream_updating_for_a_few_seconds(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    kinesis.client.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert _status(kinesis, name) == "UPDATING"
    kinesis.clock.sleep(limits.LIFECYCLE_STREAM_UPDATING_ENCRYPTION_S.value)
    assert _status(kinesis, name) == "ACTIVE"


def test_parents_take_writes_until_the_reshard_completes(kinesis: Kinesis) -> None:
    """The parent is CLOSED "after a reshard operation": during UPDATING writes still land in it, and the
    children appear, with the parent's EndingSequenceNumber, when the stream is ACTIVE again."""
    name = make_stream(kinesis)
    kinesis.client.split_shard(StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
    during = kinesis.client.put_records(StreamName=name, Records=[
        {"Data": f"d{i}".encode(), "PartitionKey": f"k{i}"} for i in range(40)])["Records"]
    assert {r["ShardId"] for r in during} == {shard_id(0)}
    assert [s["ShardId"] for s in kinesis.client.list_shards(StreamName=name)["Shards"]] == [shard_id(0)]
    wait_active(kinesis, name)
    shards = {s["ShardId"]: s for s in kinesis.client.list_shards(StreamName=name)["Shards"]}
    assert set(shards) == {shard_id(0), shard_id(1), shard_id(2)}
    ending = int(shards[shard_id(0)]["SequenceNumberRange"]["EndingSequenceNumber"])
    assert max(int(r["SequenceNumber"]) for r in during) <= ending
    after = kinesis.client.put_records(StreamName=name, Records=[
        {"Data": f"a{i}".encode(), "PartitionKey": f"k{i}"} for i in range(40)])["Records"]
    assert {r["ShardId"] for r in after} == {shard_id(1), shard_id(2)}
    assert len(read_shard(kinesis.client, name, shard_id(0), clock=kinesis.clock)) == 40


# --------------------------------------------------------------------------------------------- DELETING
def test_a_deleted_stream_is_deleting_keeps_its_name_then_is_gone(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    kinesis.client.delete_stream(StreamName=name)
    assert _status(kinesis, name) == "DELETING"
    assert name in kinesis.client.list_streams()["StreamNames"]
    # "might continue to accept data read and write operations ... until the stream deletion is complete"
    assert kinesis.client.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "k"}])[
        "FailedRecordCount"] == 0
    assert _code_and_message(lambda: kinesis.probe.create_stream(StreamName=name, ShardCount=1)) == (
        "ResourceInUseException", f"Stream {name} under account {ACCOUNT} already exists.")
    kinesis.clock.sleep(limits.LIFECYCLE_STREAM_DELETING_S.value)
    assert _code_and_message(lambda: kinesis.probe.describe_stream_summary(StreamName=name)) == (
        "ResourceNotFoundException", f"Stream {name} under account {ACCOUNT} not found.")
    assert name not in kinesis.client.list_streams()["StreamNames"]
    kinesis.client.create_stream(StreamName=name, ShardCount=1)  # the name is free again


def test_a_name_in_use_gives_aws_message(kinesis: Kinesis) -> None:
    name = make_stream(kinesis)
    assert _code_and_message(lambda: kinesis.probe.create_stream(StreamName=name, ShardCount=1)) == (
        "ResourceInUseException", f"Stream {name} under account {ACCOUNT} already exists.")


# ---------------------------------------------------------------------------------------- account rules
def test_a_sixth_stream_creating_at_once_is_refused(kinesis: Kinesis) -> None:
    most = limits.STREAMS_IN_TRANSITION_MAX.value
    for n in range(most):
        kinesis.client.create_stream(StreamName=f"s{n}", ShardCount=1)
    assert _code_and_message(lambda: kinesis.probe.create_stream(StreamName="late", ShardCount=1)) == (
        "LimitExceededException", "This request would have exceed the limit on the number of streams that can "
        f"simultaneously be in CREATING or DELETING for the account {ACCOUNT}. Limit: {most}.")
    wait_active(kinesis, "s0")
    kinesis.client.create_stream(StreamName="late", ShardCount=1)


def test_streams_deleting_count_toward_the_five(layered: Kinesis) -> None:
    most = limits.STREAMS_IN_TRANSITION_MAX.value
    for n in range(most):
        make_stream(layered, f"s{n}")
    for n in range(most):
        layered.client.delete_stream(StreamName=f"s{n}")
    code, _ = _code_and_message(lambda: layered.probe.create_stream(StreamName="late", ShardCount=1))
    assert code == "LimitExceededException"


@pytest.mark.parametrize("name, problem", [
    ("my stream", f"Member must satisfy regular expression pattern: {limits.STREAM_NAME_PATTERN}"),
    ("stream/1", f"Member must satisfy regular expression pattern: {limits.STREAM_NAME_PATTERN}"),
    ("s" * (limits.STREAM_NAME_MAX_CHARS.value + 1),
     f"Member must have length less than or equal to {limits.STREAM_NAME_MAX_CHARS.value}"),
])
def test_stream_names_outside_aws_pattern_are_refused(kinesis: Kinesis, name: str, problem: str) -> None:
    code, message = _code_and_message(lambda: kinesis.probe.create_stream(StreamName=name, ShardCount=1))
    assert code == "ValidationException"
    assert message == f"1 validation error detected: Value '{name}' at 'streamName' failed to satisfy constraint: " \
                      f"{problem}"


def test_the_longest_valid_name_is_accepted(layered: Kinesis) -> None:
    name = "a-Z_0." + "s" * (limits.STREAM_NAME_MAX_CHARS.value - 6)
    layered.client.create_stream(StreamName=name, ShardCount=1)


def test_the_account_shard_quota_is_enforced(kinesis: Kinesis) -> None:
    quota = limits.SHARD_QUOTA_MAIN_REGIONS.value  # us-east-1 is one of the three main regions
    refused = ("LimitExceededException",
               f"This request would exceed the shard limit for the account {ACCOUNT} in us-east-1. Current shard "
               f"count for the account: 0. Limit: {quota}. Number of additional shards that would have resulted "
               f"from this request: {quota + 1}.")
    assert _code_and_message(lambda: kinesis.probe.create_stream(StreamName="big", ShardCount=quota + 1)) == refused


def test_the_shard_quota_counts_splits_and_shard_count_updates(layered: Kinesis) -> None:
    layered.config.shard_quota = 4
    make_stream(layered, "a", shards=2)
    make_stream(layered, "b", shards=1)
    assert _code_and_message(lambda: layered.probe.create_stream(StreamName="c", ShardCount=2))[0] == \
        "LimitExceededException"
    layered.client.split_shard(StreamName="b", ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
    # The split counts while it is still UPDATING: the account is at its quota.
    assert _code_and_message(lambda: layered.probe.create_stream(StreamName="c", ShardCount=1))[0] == \
        "LimitExceededException"
    wait_active(layered, "b")
    assert _code_and_message(lambda: layered.probe.update_shard_count(
        StreamName="a", TargetShardCount=3, ScalingType="UNIFORM_SCALING"))[0] == "LimitExceededException"


def test_other_regions_have_the_lower_default_quota() -> None:
    quota = limits.SHARD_QUOTA_OTHER_REGIONS.value
    with moto.mock_aws(), activate(SimulatedClock(START)):
        import boto3

        client = boto3.client("kinesis", region_name="ap-northeast-2")
        code, message = _code_and_message(lambda: client.create_stream(StreamName="x", ShardCount=quota + 1))
    assert code == "LimitExceededException" and f"in ap-northeast-2. Current shard count for the account: 0. " \
        f"Limit: {quota}." in message


# ------------------------------------------------------------------------------------------- the windows
def test_windows_default_to_the_catalogue_and_can_be_changed() -> None:
    config = FidelityConfig()
    assert (config.creating_seconds, config.updating_seconds, config.encryption_seconds, config.deleting_seconds) == (
        limits.LIFECYCLE_STREAM_CREATING_S.value, limits.LIFECYCLE_STREAM_UPDATING_RESHARD_S.value,
        limits.LIFECYCLE_STREAM_UPDATING_ENCRYPTION_S.value, limits.LIFECYCLE_STREAM_DELETING_S.value)
    assert FidelityConfig().scale_lifecycle(0).creating_seconds == 0
    with pytest.raises(ValueError, match="creating_seconds must not be negative"):
        FidelityConfig(creating_seconds=-1)


def test_zero_windows_make_every_transition_immediate() -> None:
    with moto.mock_aws(), activate(SimulatedClock(START), FidelityConfig().scale_lifecycle(0)):
        client, _ = make_clients()
        client.create_stream(StreamName="s", ShardCount=1)
        client.add_tags_to_stream(StreamName="s", Tags={"a": "b"})
        client.split_shard(StreamName="s", ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
        assert len(client.list_shards(StreamName="s")["Shards"]) == 3
        client.delete_stream(StreamName="s")
        assert client.list_streams()["StreamNames"] == []


def test_transitions_in_progress_complete_when_the_layer_exits() -> None:
    """moto is left as if every window had passed: the next test (or plain moto) sees a consistent stream."""
    with moto.mock_aws():
        client, _ = make_clients()
        with activate(SimulatedClock(START), FidelityConfig(creating_seconds=0)):
            client.create_stream(StreamName="kept", ShardCount=1)
            client.create_stream(StreamName="gone", ShardCount=1)
            client.split_shard(StreamName="kept", ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
            client.delete_stream(StreamName="gone")
            assert len(client.list_shards(StreamName="kept")["Shards"]) == 1
        assert client.list_streams()["StreamNames"] == ["kept"]
        assert len(client.list_shards(StreamName="kept")["Shards"]) == 3


def test_a_split_or_merge_while_five_other_streams_are_in_transition_is_refused(layered: Kinesis) -> None:
    """API_MergeShards.html: operating on too many streams in parallel with CreateStream, DeleteStream, MergeShards
    or SplitShard is a LimitExceededException. Plain moto never refuses it."""
    most = limits.STREAMS_IN_TRANSITION_MAX.value
    make_stream(layered, "resharded", shards=2)
    for n in range(most):
        layered.client.create_stream(StreamName=f"busy{n}", ShardCount=1)
    shards = [s["ShardId"] for s in layered.client.list_shards(StreamName="resharded")["Shards"]]
    code, message = _code_and_message(lambda: layered.probe.merge_shards(
        StreamName="resharded", ShardToMerge=shards[0], AdjacentShardToMerge=shards[1]))
    assert (code, message) == ("LimitExceededException", "This request would have exceed the limit on the number of "
                               "streams that can simultaneously be in CREATING, UPDATING or DELETING for the account "
                               f"{ACCOUNT}. Limit: {most}.")
    wait_active(layered, "busy0")  # one fewer in transition: the same call goes through
    layered.client.merge_shards(StreamName="resharded", ShardToMerge=shards[0], AdjacentShardToMerge=shards[1])
