"""sweep is safe to run in an account others use (issue 9, item 6): one test per rule of sweep.py.

Planning rules are tested on rows (``Found``) with chosen creation times; finding and deleting against moto
in-process; the command line both in-process and (in tests/plugin/test_interrupts.py, after ``kill -9``) over
HTTP against ``pytest-kinesis-limits serve``.
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pytest_kinesis_limits import cli
from pytest_kinesis_limits.kinesis import resources
from pytest_kinesis_limits.live import sweep
from pytest_kinesis_limits.backends import Backend
from pytest_kinesis_limits.firehose import DeliveryStreamError
from pytest_kinesis_limits.kinesis.resources import tags_for
from pytest_kinesis_limits.live.sweep import DEFAULT_OLDER_THAN_S, Found, find_tagged, plan_sweep, run_started

HOUR = 3600.0
NOW = float(calendar.timegm((2027, 1, 2, 10, 0, 0)))


def _utc(*parts: int) -> float:
    return float(calendar.timegm(datetime(*parts).timetuple()))


def _row(kind: str, name: str, run: str | None, created_h_ago: float | None, region: str | None = "us-east-1"
         ) -> Found:
    return Found(kind, name, run, None if created_h_ago is None else NOW - created_h_ago * HOUR, region)


def _doomed(plan: sweep.Plan) -> list[str]:
    return [item.name for item in plan.doomed]


def _left(plan: sweep.Plan) -> dict[str, str]:
    return {item.name: reason for item, reason in plan.left}


# ------------------------------------------------------------------------------------------ age (rule 2)
def test_a_run_younger_than_older_than_is_left_and_an_older_one_swept() -> None:
    found = [_row("stream", "old-s", "old", 5), _row("stream", "new-s", "new", 0.5)]
    plan = plan_sweep(found, region="us-east-1", now=NOW)
    assert _doomed(plan) == ["old-s"]
    assert "run new is 30 min old (its newest resource), younger than --older-than 2h" in _left(plan)["new-s"]
    assert "--run-id new" in _left(plan)["new-s"]


def test_a_run_is_as_young_as_its_newest_resource() -> None:
    """A session that made its first stream 3 h ago and another 10 min ago is still running: all of it stays."""
    found = [_row("stream", "first", "busy", 3), _row("bucket", "latest", "busy", 10 / 60)]
    plan = plan_sweep(found, region="us-east-1", now=NOW)
    assert _doomed(plan) == [] and set(_left(plan)) == {"first", "latest"}


def test_run_id_names_a_run_to_sweep_whatever_its_age() -> None:
    found = [_row("stream", "mine", "mine", 0.1), _row("stream", "theirs", "theirs", 0.1)]
    plan = plan_sweep([f for f in found if f.run_id == "mine"], region="us-east-1", run_id="mine", now=NOW)
    assert _doomed(plan) == ["mine"]


def test_older_than_zero_sweeps_every_age_and_a_run_of_unknown_age_is_otherwise_left() -> None:
    found = [_row("stream", "unknown", "no-time-here", None)]
    assert _doomed(plan_sweep(found, region="us-east-1", now=NOW)) == []
    assert "its age is unknown" in _left(plan_sweep(found, region="us-east-1", now=NOW))["unknown"]
    assert _doomed(plan_sweep(found, region="us-east-1", older_than_s=0, now=NOW)) == ["unknown"]


def test_without_creation_times_the_run_id_tells_the_age() -> None:
    old_id, new_id = "01020500ab12", "01020930cd34"  # 05:00 and 09:30 UTC on 2 January; now is 10:00
    found = [_row("stream", "a", old_id, None), _row("stream", "b", new_id, None)]
    plan = plan_sweep(found, region="us-east-1", now=NOW)
    assert _doomed(plan) == ["a"] and plan.ages[new_id] == 30 * 60


@pytest.mark.parametrize(("run_id", "started"), [
    ("12311500abcd", _utc(2026, 12, 31, 15, 0)),  # New Year between the run and the sweep: last year
    ("01021000abcd", _utc(2027, 1, 2, 10, 0)),  # now
    ("01021100abcd", _utc(2027, 1, 2, 11, 0)),  # an hour ahead of this clock: skew, not last year
    ("02291200abcd", _utc(2024, 2, 29, 12, 0)),  # 29 February: the last leap year
    ("13011200abcd", None),  # no month 13
    ("0102100abcde", None),  # not the shape of resources.new_run_id
    ("a1b2c3d4e5f6", None),  # xdist's random uid
], ids=["year-wrap", "now", "clock-skew", "leap-day", "bad-month", "bad-shape", "not-a-time"])
def test_run_started_reads_the_run_id_and_handles_the_year(run_id: str, started: float | None) -> None:
    assert run_started(run_id, NOW) == started


def test_new_run_ids_read_back_as_now() -> None:
    now = time.time()
    assert now - 61 < run_started(resources.new_run_id(), now) <= now


def test_the_default_age_is_two_hours() -> None:
    assert DEFAULT_OLDER_THAN_S == 2 * HOUR
    assert cli.parse_age("2h") == cli.parse_age("120m") == DEFAULT_OLDER_THAN_S
    assert cli.parse_age("1d") == 24 * HOUR and cli.parse_age("0") == 0
    with pytest.raises(ValueError, match="unit s, m, h or d"):
        cli.parse_age("2 hours")


# ---------------------------------------------------------------------------------------- region (rule 3)
def test_buckets_of_other_regions_are_left_with_the_flag_that_sweeps_them() -> None:
    found = [_row("bucket", "here", "r", 5), _row("bucket", "there", "r", 5, region="eu-west-1")]
    plan = plan_sweep(found, region="us-east-1", now=NOW)
    assert _doomed(plan) == ["here"]
    assert _left(plan)["there"] == "the bucket is in eu-west-1, not us-east-1: sweep it with --region eu-west-1"


def test_roles_are_swept_by_their_region_tag() -> None:
    found = [_row("role", "serves-here", "a", 5), _row("role", "serves-there", "b", 5, region="eu-west-1")]
    plan = plan_sweep(found, region="us-east-1", now=NOW)
    assert _doomed(plan) == ["serves-here"]
    assert "serves eu-west-1 (its region tag)" in _left(plan)["serves-there"]
    assert "--region eu-west-1" in _left(plan)["serves-there"]


def test_a_role_without_region_tag_goes_only_with_its_runs_streams_here() -> None:
    """Roles made before the region tag: swept with a stream or delivery stream of their run in this region."""
    found = [_row("role", "with-stream", "a", 5, region=None), _row("stream", "a-stream", "a", 5),
             _row("role", "alone", "b", 5, region=None), _row("bucket", "b-bucket", "b", 5, region="eu-west-1")]
    plan = plan_sweep(found, region="us-east-1", now=NOW)
    assert _doomed(plan) == ["a-stream", "with-stream"]
    assert "IAM roles are global" in _left(plan)["alone"] and "--region" in _left(plan)["alone"]


def test_delivery_streams_come_first_then_streams_then_buckets_and_roles() -> None:
    found = [_row("role", "r", "x", 5), _row("bucket", "b", "x", 5), _row("stream", "s", "x", 5),
             _row("delivery-stream", "d", "x", 5)]
    assert _doomed(plan_sweep(found, region="us-east-1", now=NOW)) == ["d", "s", "b", "r"]


# ------------------------------------------------------------------------------------- against moto in-process
@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto in-process, credentials in the environment (as `sweep` reads them) and clients for two regions."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "KINESIS_LIMITS_AWS_REGION",
                 "KINESIS_LIMITS_AWS_ENDPOINT_URL", "KINESIS_LIMITS_AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with mock_aws():
        yield {region: {service: boto3.client(service, region_name=region)
                        for service in ("kinesis", "s3", "firehose", "iam")}
               for region in ("us-east-1", "eu-west-1")}


def _make_run(aws: dict[str, Any], run_id: str, region: str, *, region_tag: bool = True) -> dict[str, str]:
    """What a test run makes: a stream, a bucket, a role (global) and a delivery stream, tagged."""
    c = aws[region]
    tags = tags_for(run_id, region=region if region_tag else None)
    names = {kind: f"pkl-{run_id}-gw0-{kind}" for kind in ("s", "b", "fhr", "fh")}
    c["kinesis"].create_stream(StreamName=names["s"], ShardCount=1)
    c["kinesis"].add_tags_to_stream(StreamName=names["s"], Tags=tags)
    bucket = {"Bucket": names["b"]}
    if region != "us-east-1":
        bucket["CreateBucketConfiguration"] = {"LocationConstraint": region}
    c["s3"].create_bucket(**bucket)
    c["s3"].put_bucket_tagging(Bucket=names["b"], Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
    role = c["iam"].create_role(RoleName=names["fhr"], Path=sweep.ROLE_PATH, AssumeRolePolicyDocument=json.dumps({}),
                                Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["Role"]["Arn"]
    c["firehose"].create_delivery_stream(
        DeliveryStreamName=names["fh"], DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": role, "BucketARN": f"arn:aws:s3:::{names['b']}"},
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return names


def _backend(region: str) -> Backend:
    return Backend(kind="live", label="live", region=region, dummy_credentials=True)


def test_find_tagged_reads_creation_times_and_regions(aws) -> None:
    here = _make_run(aws, "01020500aaaa", "us-east-1")
    there = _make_run(aws, "01020500bbbb", "eu-west-1")
    aws["us-east-1"]["kinesis"].create_stream(StreamName="someone-elses", ShardCount=1)
    found = {(f.kind, f.name): f for f in find_tagged(_backend("us-east-1"))}
    assert set(found) == {("stream", here["s"]), ("delivery-stream", here["fh"]), ("bucket", here["b"]),
                          ("bucket", there["b"]), ("role", here["fhr"]), ("role", there["fhr"])}
    assert found[("bucket", there["b"])].region == "eu-west-1" and found[("role", there["fhr"])].region == "eu-west-1"
    assert all(abs(f.created - time.time()) < 600 for f in found.values())  # the services' own timestamps


def test_a_sweep_deletes_only_its_regions_old_runs_in_order(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    here = _make_run(aws, "01020500aaaa", "us-east-1")
    there = _make_run(aws, "01020500bbbb", "eu-west-1")
    events: list[str] = []
    real_fh, real_bucket = sweep.delete_delivery_stream_when_created, resources.delete_bucket

    def fh(client, name, clock, policy):  # noqa: ANN001
        real_fh(client, name, clock, policy)
        gone = name not in client.list_delivery_streams()["DeliveryStreamNames"]
        events.append(f"delivery stream {name} {'gone' if gone else 'still there'}")

    monkeypatch.setattr(sweep, "delete_delivery_stream_when_created", fh)
    monkeypatch.setattr(resources, "delete_bucket", lambda c, n: (events.append(f"bucket {n}"), real_bucket(c, n)))
    backend = _backend("us-east-1")
    plan = plan_sweep(find_tagged(backend), region="us-east-1", now=time.time() + 3 * HOUR)
    deleted, failures = sweep.delete_planned(backend, plan, policy=resources.WaitPolicy(delay=0.01, attempts=5))
    assert failures == []
    assert [f.name for f in deleted] == [here["fh"], here["s"], here["b"], here["fhr"]]
    assert events == [f"delivery stream {here['fh']} gone", f"bucket {here['b']}"]
    assert aws["us-east-1"]["kinesis"].list_streams()["StreamNames"] == []
    assert [b["Name"] for b in aws["us-east-1"]["s3"].list_buckets()["Buckets"]] == [there["b"]]
    assert [r["RoleName"] for r in aws["us-east-1"]["iam"].list_roles()["Roles"]] == [there["fhr"]]
    assert aws["eu-west-1"]["firehose"].list_delivery_streams()["DeliveryStreamNames"] == [there["fh"]]


def test_a_delivery_stream_that_will_not_go_keeps_its_runs_bucket_and_role(aws, monkeypatch) -> None:
    names = _make_run(aws, "01020500aaaa", "us-east-1")

    def stuck(*args: Any) -> None:
        raise DeliveryStreamError("still DELETING after 600 s")

    monkeypatch.setattr(sweep, "delete_delivery_stream_when_created", stuck)
    backend = _backend("us-east-1")
    plan = plan_sweep(find_tagged(backend), region="us-east-1", now=time.time() + 3 * HOUR)
    deleted, failures = sweep.delete_planned(backend, plan, policy=resources.WaitPolicy(delay=0.01, attempts=5))
    assert [f.name for f in deleted] == [names["s"]]
    reasons = {item.name: str(error) for item, error in failures}
    assert reasons[names["fh"]] == "still DELETING after 600 s"
    assert "delivery stream " + names["fh"] in reasons[names["b"]] and "sweep again" in reasons[names["b"]]
    assert names["fhr"] in reasons
    assert names["b"] in [b["Name"] for b in aws["us-east-1"]["s3"].list_buckets()["Buckets"]]


# ----------------------------------------------------------------------------------------- the command line
def test_sweep_leaves_a_fresh_run_by_default_and_names_its_own_flags(aws, capsys) -> None:
    names = _make_run(aws, "01020500aaaa", "us-east-1")
    assert cli.main(["sweep", "--region", "us-east-1", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"left stream {names['s']}: run 01020500aaaa is " in out and "--older-than 2h" in out
    assert names["s"] in aws["us-east-1"]["kinesis"].list_streams()["StreamNames"]
    assert cli.main(["sweep", "--region", "us-east-1", "--run-id", "01020500aaaa", "--yes"]) == 0
    assert aws["us-east-1"]["kinesis"].list_streams()["StreamNames"] == []


def test_sweep_reads_aws_region(aws, monkeypatch, capsys) -> None:
    names = _make_run(aws, "01020500bbbb", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # AWS_REGION wins, as in the AWS CLI
    assert cli.main(["sweep", "--older-than", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep of eu-west-1:") and f"found stream {names['s']}" in out


def test_sweep_without_a_region_names_its_own_flags(aws, capsys) -> None:
    assert cli.main(["sweep"]) == 2
    err = capsys.readouterr().err
    assert "no AWS region is set" in err and "pass --region REGION" in err
    assert "AWS_REGION or AWS_DEFAULT_REGION" in err and "--aws-region" not in err


def test_sweep_accepts_the_pytest_spelling_of_its_options(aws, capsys) -> None:
    assert cli.main(["sweep", "--aws-region", "eu-west-1"]) == 0
    assert capsys.readouterr().out.startswith("sweep of eu-west-1:")


def test_sweep_without_credentials_names_its_own_flags(monkeypatch: pytest.MonkeyPatch, tmp_path, capsys) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "KINESIS_LIMITS_AWS_ENDPOINT_URL", "KINESIS_LIMITS_AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert cli.main(["sweep"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sweep: no AWS credentials were found. Fix:") and "--profile" in err
    assert "--aws-profile" not in err and "--live" not in err


def _client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": code}}, "ListTags")


def test_a_resource_gone_between_listing_and_tagging_is_skipped_and_other_errors_still_stop() -> None:
    """A stream deleted after ListStreams (by the run's own teardown, another sweep) used to abort the whole sweep."""
    ours = [{"Key": k, "Value": v} for k, v in tags_for("01020500aaaa", region="us-east-1").items()]

    def tags_of(name: str) -> list[dict[str, str]]:
        if name == "gone":
            raise _client_error("ResourceNotFoundException")
        if name == "forbidden":
            raise _client_error("AccessDeniedException")
        return ours

    found = list(sweep._tagged("stream", ["gone", "kept"], tags_of, lambda name: None, lambda name, tags: "r",
                               None))
    assert [f.name for f in found] == ["kept"]
    with pytest.raises(Exception, match="AccessDeniedException"):
        list(sweep._tagged("stream", ["forbidden"], tags_of, lambda name: None, lambda name, tags: "r", None))


def test_objects_s3_would_not_delete_are_named_not_hidden() -> None:
    """DeleteObjects answers 200 and lists the keys it kept; the bucket deletion then failed as BucketNotEmpty."""

    class Paginator:
        def paginate(self, **_: Any) -> list[dict[str, Any]]:
            return [{"Versions": [{"Key": "k1", "VersionId": "v1"}]}]

    class S3:
        def get_paginator(self, name: str) -> Paginator:
            return Paginator()

        def delete_objects(self, **_: Any) -> dict[str, Any]:
            return {"Errors": [{"Key": "k1", "Code": "AccessDenied", "Message": "Access Denied"}]}

        def delete_bucket(self, **_: Any) -> None:
            raise AssertionError("the bucket cannot go before its objects")

    with pytest.raises(RuntimeError, match=r"s3://b: 1 object\(s\) could not be deleted.*k1 \(AccessDenied"):
        resources.delete_bucket(S3(), "b")


def test_an_object_that_lands_after_the_emptying_is_removed_and_the_bucket_deleted(aws) -> None:
    """Teardown does not wait for a delivery stream DELETING, which "might continue to accept records": an object
    written between the emptying and DeleteBucket (BucketNotEmpty) is removed and the deletion tried again."""
    s3 = aws["us-east-1"]["s3"]
    s3.create_bucket(Bucket="late")
    s3.put_object(Bucket="late", Key="first", Body=b"1")
    real = s3.delete_bucket
    calls = []

    def late_write_then_delete(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 1:
            s3.put_object(Bucket="late", Key="late", Body=b"2")  # Firehose's last object, just in time
        return real(**kwargs)

    s3.delete_bucket = late_write_then_delete
    resources.delete_bucket(s3, "late")
    assert len(calls) == 2
    assert "late" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_consumers_of_a_run_are_deregistered_also_on_a_stream_of_the_users(aws) -> None:
    """make_consumer may register on the user's own stream: sweep finds such a consumer (moto has no
    ListTagsForResource: by its name's run), deregisters it, and leaves the user's stream and consumer alone."""
    kinesis = aws["us-east-1"]["kinesis"]
    kinesis.create_stream(StreamName="users-stream", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="users-stream")["StreamDescriptionSummary"]["StreamARN"]
    ours = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="pkl-01020500aaaa-gw0-c1")["Consumer"]
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="users-consumer")
    found = [f for f in find_tagged(_backend("us-east-1")) if f.kind == "consumer"]
    assert [(f.name, f.run_id) for f in found] == [(ours["ConsumerARN"], "01020500aaaa")]
    plan = plan_sweep(found, region="us-east-1", run_id="01020500aaaa")
    deleted, failures = sweep.delete_planned(_backend("us-east-1"), plan)
    assert [f.kind for f in deleted] == ["consumer"] and not failures
    left = [c["ConsumerName"] for c in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]]
    assert left == ["users-consumer"]
    assert kinesis.describe_stream_summary(StreamName="users-stream")  # the user's stream stays
