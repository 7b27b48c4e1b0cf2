"""The live budget as a user meets it: ``--kinesis-plan`` offline and after an endpoint's preflight, what an
endpoint run (the live code path over HTTP) used beside its plan, and the guard that refuses a run over budget
before anything is made."""

from __future__ import annotations

import json
import re

import boto3
import pytest

LINE = re.compile(r"^predicted live run: (\d+\.\d) min wall with -n (\d+), (\d+\.\d\d) shard-hours, "
                  r"(\d+\.\d\d\d) USD in ([a-z0-9-]+)$", re.MULTILINE)
COUNTED = ("streams", "shards", "delivery_streams", "buckets", "roles")
#: What SMALL_RUN makes: its own 2-shard stream, one shared stream for the two leases, a bucket.
OFFLINE_PLAN = {"streams": 2, "shards": 3, "delivery_streams": 0, "buckets": 1, "roles": 0}

SMALL_RUN = '''
def test_own_stream(make_stream, kinesis_client):
    stream = make_stream(2)
    kinesis_client.put_records(StreamName=stream.name, Records=[{"Data": b"x", "PartitionKey": "k"}])


def test_shared_a(kinesis_shared_stream, kinesis_client, read_records):
    kinesis_client.put_record(StreamName=kinesis_shared_stream.name, Data=b"a", PartitionKey="k")
    assert [r.data for r in read_records(kinesis_shared_stream)] == [b"a"]


def test_shared_b(kinesis_shared_stream, kinesis_client, read_records):
    kinesis_client.put_record(StreamName=kinesis_shared_stream.name, Data=b"b", PartitionKey="k")
    assert [r.data for r in read_records(kinesis_shared_stream)] == [b"b"]


def test_bucket(s3_bucket):
    assert s3_bucket.name
'''


def _report(pytester: pytest.Pytester, name: str) -> dict:
    return json.loads((pytester.path / name).read_text(encoding="utf-8"))


def test_the_plan_counts_the_resources_and_ends_with_the_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_small=SMALL_RUN)
    result = pytester.runpytest_subprocess("--kinesis-plan", "--aws-region", "ap-northeast-2", "-p",
                                           "no:cacheprovider", "--kinesis-report", "plan.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*kinesis-limits plan: a live run of these tests*", "family *", "small *",
                                 "total *"])
    lines = [line for line in result.stdout.lines if LINE.match(line)]
    assert len(lines) == 1, result.stdout.str()
    assert result.stdout.lines[-2] == lines[0]  # the last line before pytest's own summary
    assert LINE.match(lines[0]).group(5) == "ap-northeast-2"
    plan = _report(pytester, "plan.json")["run"]["plan"]
    assert {key: plan["totals"].get(key, 0) for key in COUNTED} == OFFLINE_PLAN
    assert plan["line"] == lines[0]


def test_an_endpoint_run_uses_what_its_plan_predicted(pytester: pytest.Pytester, moto_server_url: str,
                                                      endpoint_env) -> None:
    """The guard plans the run (``--kinesis-plan`` with the same arguments: offline, after the endpoint's
    preflight), the run goes over HTTP, and the resources it made match the plan's counts, which are the offline
    plan's (test_the_plan_counts_the_resources_and_ends_with_the_line)."""
    pytester.makepyfile(test_small=SMALL_RUN)
    endpoint = ("--aws-endpoint-url", moto_server_url, "--aws-region", "us-east-1", "-p", "no:cacheprovider")
    result = pytester.runpytest_subprocess(*endpoint, "--kinesis-max-cost-usd", "1", "--kinesis-report", "run.json")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*kinesis-limits: what this run made (beside its plan)*", "used *", "predicted *"])
    run = _report(pytester, "run.json")["run"]
    used = {key: run["usage"]["totals"].get(key, 0) for key in COUNTED}
    assert used == {key: run["plan"]["totals"].get(key, 0) for key in COUNTED} == OFFLINE_PLAN


def test_the_guard_refuses_a_run_over_budget_and_makes_nothing(pytester: pytest.Pytester, moto_server_url: str,
                                                                 endpoint_env) -> None:
    pytester.makepyfile(test_small=SMALL_RUN)
    kinesis = boto3.client("kinesis", endpoint_url=moto_server_url, region_name="us-east-1")
    s3 = boto3.client("s3", endpoint_url=moto_server_url, region_name="us-east-1")
    result = pytester.runpytest_subprocess("--aws-endpoint-url", moto_server_url, "--aws-region", "us-east-1",
                                           "-p", "no:cacheprovider", "--kinesis-prefix", "guarded",
                                           "--kinesis-max-cost-usd", "0.00001")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*predicted live run: *", "*--kinesis-max-cost-usd 1e-05 (from the command line*"
                                 "over the budget;", "nothing was made. Fix: *"])
    streams = kinesis.list_streams()["StreamNames"]
    buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    assert not [n for n in streams + buckets if n.startswith("guarded")]


def test_a_plan_refuses_settings_it_cannot_honour(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_small=SMALL_RUN)
    result = pytester.runpytest_subprocess("--kinesis-plan", "--kinesis-clock", "real", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--kinesis-plan (from the command line*) and --kinesis-clock*contradict*Fix:*"])


AHEAD = '''
import time


def test_first(make_stream):
    make_stream()
    time.sleep(1.5)


def test_second(make_stream, kinesis_client):
    asked = time.time()
    stream = make_stream(2)
    summary = kinesis_client.describe_stream_summary(StreamName=stream.name)["StreamDescriptionSummary"]
    with open("ahead.txt", "w") as out:
        out.write(str(asked - summary["StreamCreationTimestamp"].timestamp()))
'''


@pytest.mark.parametrize(("budget", "ahead"), [("1", True), ("off", False)])
def test_the_next_test_s_streams_are_made_while_the_current_one_runs(
        pytester: pytest.Pytester, moto_server_url: str, endpoint_env, budget: str, ahead: bool) -> None:
    """With a plan (the guard's), the second test's stream exists before the test asks for it; without one (the
    guard off) it is made when asked, so the check can fail."""
    pytester.makepyfile(test_ahead=AHEAD)
    result = pytester.runpytest_subprocess("--aws-endpoint-url", moto_server_url, "--aws-region", "us-east-1",
                                           "-p", "no:cacheprovider", "--kinesis-max-cost-usd", budget,
                                           "--kinesis-report", "run.json")
    result.assert_outcomes(passed=2)
    made_before = float((pytester.path / "ahead.txt").read_text())
    assert (made_before > 1.0) is ahead, made_before
    assert _report(pytester, "run.json")["run"]["usage"]["totals"]["streams"] == 2  # nothing made twice


def test_a_plan_counts_the_swarm_of_the_scale_family_without_starting_one(pytester: pytest.Pytester) -> None:
    """A plan models a scale test: its swarm's seconds (while the stream is open) and PUT payload units are counted, no
    Locust process starts, and the plan says so instead of calling the test skipped live."""
    from pathlib import Path

    family = Path(__file__).parents[1] / "limits" / "test_scale.py"
    pytester.makepyfile(test_scale=family.read_text(encoding="utf-8"))
    result = pytester.runpytest_subprocess("--kinesis-plan", "--kinesis-swarm-shards", "50", "-p", "no:cacheprovider",
                                           "--kinesis-report", "plan.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["model run: 2 modelled", "*M units x 0.014 USD/1M units*",
                                 "modelled: 2 scale test(s): a swarm's time and PUT payload units counted, not run"])
    assert "skipped live too" not in result.stdout.str()
    plan = _report(pytester, "plan.json")["run"]["plan"]
    assert plan["totals"]["streams"] == 1 and plan["totals"]["shards"] == 100  # both tests' halves in one run
    # 22 s at 80 % and at 200 % of 1,000 records/s on 50 shards each, 100-byte records: one unit each
    assert plan["totals"]["put_payload_units"] == round(0.8 * 1000 * 50 * 22) + round(2.0 * 1000 * 50 * 22)
