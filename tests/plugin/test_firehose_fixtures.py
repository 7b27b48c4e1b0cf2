"""The Firehose fixtures: what they make, that they always delete it, and what plain moto does to them."""

from __future__ import annotations

import pytest

INNER = '''
import json

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.live import sweep
from pytest_kinesis_limits.firehose import CANARY_FIELD


def test_role_is_scoped_tagged_and_on_the_sweep_path(firehose_delivery_stream, iam_client, firehose_client,
                                                      kinesis_tags, kinesis_resources):
    d = firehose_delivery_stream
    role = iam_client.get_role(RoleName=d.role_name)["Role"]
    assert role["Path"] == sweep.ROLE_PATH
    tags = {t["Key"]: t["Value"] for t in iam_client.list_role_tags(RoleName=d.role_name)["Tags"]}
    assert tags == kinesis_tags
    (policy_name,) = iam_client.list_role_policies(RoleName=d.role_name)["PolicyNames"]
    document = iam_client.get_role_policy(RoleName=d.role_name, PolicyName=policy_name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    resources = sorted(r for statement in document["Statement"] for r in statement["Resource"])
    assert resources == sorted([d.source.arn, d.bucket.arn, d.bucket.arn + "/*"])
    description = firehose_client.describe_delivery_stream(DeliveryStreamName=d.name)["DeliveryStreamDescription"]
    assert description["DeliveryStreamStatus"] == "ACTIVE" and description["Source"]
    # deleted newest first: the delivery stream before its role
    assert [kind for kind, _ in kinesis_resources.names][-2:] == ["role", "delivery-stream"]


def test_the_canary_proves_every_shard_is_read(make_delivery_stream, make_stream, s3_bucket, s3_client):
    d = make_delivery_stream(make_stream(shard_count=3), s3_bucket)
    bodies = b"".join(s3_client.get_object(Bucket=s3_bucket.name, Key=k)["Body"].read() for k in d.canary_keys)
    assert bodies.count(CANARY_FIELD.encode()) == 3


def test_fails_after_making_one(firehose_delivery_stream):
    assert False, "the test fails; the delivery stream and its role must still be deleted"


def test_everything_was_deleted(firehose_client, iam_client, kinesis_clock):
    # The delivery streams' deletions were started, not waited for (DELETING for minutes, AWS: "applications should
    # not wait"); the roles are gone; once the DELETING window has passed, so are the delivery streams.
    names = firehose_client.list_delivery_streams()["DeliveryStreamNames"]
    assert len(names) == 3
    assert {firehose_client.describe_delivery_stream(DeliveryStreamName=n)["DeliveryStreamDescription"][
        "DeliveryStreamStatus"] for n in names} == {"DELETING"}
    assert iam_client.list_roles(PathPrefix=sweep.ROLE_PATH)["Roles"] == []
    kinesis_clock.sleep(limits.FIREHOSE_DELETING_S.value)
    assert firehose_client.list_delivery_streams()["DeliveryStreamNames"] == []
'''


def test_fixtures_make_scoped_resources_and_always_delete_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(INNER)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*the delivery stream and its role must still be deleted*"])


def test_plain_moto_never_delivers_the_canary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses(firehose_delivery_stream):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-fidelity=off")
    result.assert_outcomes(failed=1)  # the backend broke a documented behaviour: FAILED, not ERROR (plugin.py)
    result.stdout.fnmatch_lines(["*DeliveryStreamError*no canary record of 1 of 1 shard(s)*delivered within "
                                 "100 s (101 written, rewritten every 1 s)*use --kinesis-fidelity=on*"])


CN_INNER = '''
import json


def test_every_arn_is_in_the_streams_partition(firehose_delivery_stream, iam_client, firehose_client):
    d = firehose_delivery_stream
    assert d.source.arn.startswith("arn:aws-cn:kinesis:cn-north-1:")
    assert d.bucket.arn == f"arn:aws-cn:s3:::{d.bucket.name}"
    (policy_name,) = iam_client.list_role_policies(RoleName=d.role_name)["PolicyNames"]
    document = iam_client.get_role_policy(RoleName=d.role_name, PolicyName=policy_name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    resources = [r for statement in document["Statement"] for r in statement["Resource"]]
    assert resources and all(r.startswith("arn:aws-cn:") for r in resources), resources
    destination = firehose_client.describe_delivery_stream(DeliveryStreamName=d.name)[
        "DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == d.bucket.arn
'''


def test_fixtures_build_every_arn_in_the_streams_partition(pytester: pytest.Pytester) -> None:
    """aws-cn (the preflight accepts it): the bucket ARN, the role policy and the destination are all aws-cn;
    before, the bucket ARN was arn:aws:s3::: whatever the region."""
    pytester.makepyfile(CN_INNER)
    result = pytester.runpytest("-p", "no:cacheprovider", "--aws-region", "cn-north-1")
    result.assert_outcomes(passed=1)
