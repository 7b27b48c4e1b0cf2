"""``kinesis_endpoint``: the offline backend over HTTP for clients the plugin cannot patch (issue 19).

Real processes: the offline runs are pytest subprocesses whose tests start a server on 127.0.0.1 and hand it to
another client (boto3 over HTTP, the AWS CLI in a subprocess); the live-path run points at ``serve``.
"""

from __future__ import annotations

import shutil

import pytest

SAME_BACKEND = '''
import subprocess

import boto3
import pytest
from botocore.exceptions import ClientError

ONE_MIB = 1024 * 1024


def over_http(endpoint):
    return boto3.client("kinesis", endpoint_url=endpoint.url, region_name=endpoint.region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_the_same_streams_at_the_url(make_stream, kinesis_endpoint, read_records):
    assert kinesis_endpoint.url.startswith("http://127.0.0.1:")
    stream = make_stream(2)
    client = over_http(kinesis_endpoint)
    assert stream.name in client.list_streams()["StreamNames"]
    answer = client.put_records(StreamName=stream.name, Records=[
        {"Data": f"record-{n}".encode(), "PartitionKey": f"key-{n}"} for n in range(50)])
    assert answer["FailedRecordCount"] == 0
    assert sorted(r.data for r in read_records(stream)) == sorted(f"record-{n}".encode() for n in range(50))


def test_the_fidelity_layer_answers_at_the_url(make_stream, kinesis_endpoint):
    stream = make_stream(1)
    client = over_http(kinesis_endpoint)
    # A record is its data and its partition key, at most 1 MiB: at the limit taken, one byte over refused.
    client.put_record(StreamName=stream.name, Data=b"x" * (ONE_MIB - 1), PartitionKey="k")
    with pytest.raises(ClientError) as refused:
        client.put_record(StreamName=stream.name, Data=b"x" * ONE_MIB, PartitionKey="k")
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_time_flows_with_the_endpoint(kinesis_endpoint, kinesis_clock):
    before = kinesis_clock.now()
    __import__("threading").Event().wait(0.3)  # a real wait, as a client in another process waits
    assert kinesis_clock.now() - before >= 0.3


def test_without_the_endpoint_the_simulated_clock_stands_still(make_stream, kinesis_clock):
    before = kinesis_clock.now()
    __import__("threading").Event().wait(0.3)
    assert kinesis_clock.now() == before
'''


def test_the_offline_backend_at_a_url_serves_the_same_streams_with_the_layer(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_same_backend=SAME_BACKEND)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    # The layer's refusal is what made the second test pass: with the layer off it fails.
    off = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--kinesis-fidelity=off", "-k", "layer_answers")
    off.assert_outcomes(failed=1)
    off.stdout.fnmatch_lines(["*DID NOT RAISE*"])


def test_each_xdist_worker_serves_its_own_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_workers='''
import os
import threading

import boto3


def test_a(kinesis_endpoint, worker_id, make_stream):
    stream = make_stream(1)
    with open("urls.txt", "a") as seen:
        seen.write(f"{worker_id} {os.getpid()} {kinesis_endpoint.url}\\n")
    threading.Event().wait(0.5)  # both workers hold their server at once
    # Each worker's server serves that worker's moto: the stream it made, and not the other's.
    client = boto3.client("kinesis", endpoint_url=kinesis_endpoint.url, **{
        "region_name": kinesis_endpoint.region, "aws_access_key_id": "t", "aws_secret_access_key": "t"})
    assert client.list_streams()["StreamNames"] == [stream.name]
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=2)  # --dist each: every worker runs the test
    lines = (pytester.path / "urls.txt").read_text().split("\n")
    seen = dict(line.split(" ", 1) for line in lines if line)
    assert set(seen) == {"gw0", "gw1"}
    assert len({entry.split()[1] for entry in seen.values()}) == 2, seen  # two servers, two ports


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed (pip install awscli)")
def test_the_aws_cli_in_a_subprocess_writes_what_read_records_reads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cli='''
import json
import subprocess


def aws(endpoint, *args):
    done = subprocess.run(["aws", *args, "--output", "json"], env=endpoint.environ(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_cli(make_stream, kinesis_endpoint, read_records):
    stream = make_stream(1)
    assert stream.name in aws(kinesis_endpoint, "kinesis", "list-streams")["StreamNames"]
    for n in range(3):
        aws(kinesis_endpoint, "kinesis", "put-record", "--stream-name", stream.name, "--partition-key", f"k{n}",
            "--data", f"from-the-cli-{n}")
    assert [r.data for r in read_records(stream)] == [f"from-the-cli-{n}".encode() for n in range(3)]
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_against_an_endpoint_the_fixture_names_it_and_starts_nothing(
        pytester: pytest.Pytester, moto_server_url: str, endpoint_env: None) -> None:
    pytester.makepyfile(test_named=f'''
def test_named(kinesis_endpoint):
    assert kinesis_endpoint.kind == "endpoint"
    assert kinesis_endpoint.url == {moto_server_url!r}
    assert kinesis_endpoint.env["AWS_ENDPOINT_URL_KINESIS"] == {moto_server_url!r}
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--aws-endpoint-url", moto_server_url,
                                           "--aws-region", "us-east-1")
    result.assert_outcomes(passed=1)
