"""Issue 9's tagging blocker as another repo meets it: CreateStream then AddTagsToStream at once is refused
offline (ResourceInUseException), as it is live, and the plugin's own stream fixtures pass under the strict layer."""

from __future__ import annotations

import pytest

USER_TESTS = """
import pytest
from botocore.exceptions import ClientError


def test_tagging_a_stream_right_after_creating_it_is_refused(kinesis_client):
    kinesis_client.create_stream(StreamName="orders", ShardCount=1, Tags={"team": "data"})
    with pytest.raises(ClientError) as err:
        kinesis_client.add_tags_to_stream(StreamName="orders", Tags={"owner": "me"})
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"
    assert "not ACTIVE, instead in state CREATING" in err.value.response["Error"]["Message"]


def test_the_stream_fixture_is_active_and_tagged(kinesis_client, kinesis_stream, kinesis_tags):
    summary = kinesis_client.describe_stream_summary(StreamName=kinesis_stream.name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    tags = {t["Key"]: t["Value"] for t in kinesis_client.list_tags_for_stream(StreamName=kinesis_stream.name)["Tags"]}
    assert tags == kinesis_tags
"""


def test_a_user_repo_meets_aws_lifecycle_offline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_plain_moto_lets_the_user_bug_through(pytester: pytest.Pytester) -> None:
    """The check can fail: without the fidelity layer moto tags a CREATING stream (and ignores CreateStream's
    Tags, which the fixture then adds once the stream is ACTIVE, so the fixture test still passes)."""
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--kinesis-fidelity", "off")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*DID NOT RAISE*",
                                 "FAILED test_user.py::test_tagging_a_stream_right_after_creating_it_is_refused*"])


def test_serve_runs_the_lifecycle_over_http(lifecycle_server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``pytest-kinesis-limits serve`` holds the same rules on the wall clock (windows scaled by --lifecycle-scale)."""
    import uuid

    import boto3
    from botocore.config import Config

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("kinesis", region_name="us-east-1", endpoint_url=lifecycle_server_url,
                          config=Config(retries={"total_max_attempts": 1}))
    name = f"orders-{uuid.uuid4().hex[:8]}"
    client.create_stream(StreamName=name, ShardCount=1, Tags={"team": "data"})
    with pytest.raises(client.exceptions.ResourceInUseException, match="instead in state CREATING"):
        client.add_tags_to_stream(StreamName=name, Tags={"owner": "me"})
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 40})
    client.add_tags_to_stream(StreamName=name, Tags={"owner": "me"})
    client.delete_stream(StreamName=name)
    with pytest.raises(client.exceptions.ResourceInUseException, match="already exists"):
        client.create_stream(StreamName=name, ShardCount=1)
    client.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 40})


def test_the_lifecycle_scale_setting_shortens_the_offline_windows(pytester: pytest.Pytester) -> None:
    """--kinesis-lifecycle-scale=0 ends every window at once (the same user bug goes through, as on a backend without
    a lifecycle); a bad value or a non-offline run is a usage error that says why."""
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--kinesis-lifecycle-scale=0")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*DID NOT RAISE*"])
    result = pytester.runpytest_subprocess("--kinesis-lifecycle-scale=-1")
    result.stderr.fnmatch_lines(["*invalid value '-1' for --kinesis-lifecycle-scale*0 or more*"])
    result = pytester.runpytest_subprocess("--kinesis-lifecycle-scale=0.5", "--aws-endpoint-url",
                                           "http://127.0.0.1:9")
    result.stderr.fnmatch_lines(["*--kinesis-lifecycle-scale*offline layer's windows*endpoint run*serve*"])
