"""A user's own mock_aws(), in any scope and order beside the plugin's tests, behaves as it would without the plugin.

The proof compares: the user's tests alone with the plugin disabled (``-p no:kinesis_limits``: plain moto) and the
same tests interleaved with Kinesis tests under the plugin, in both orders. Each user test asserts moto's own
behaviour (a fresh mock starts empty; a module-scoped or nested mock keeps its data), so both runs must pass.
"""

from __future__ import annotations

import pytest

USER_TESTS = """
import boto3, pytest
from moto import mock_aws

def make_table(name="orders"):
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    return client

@pytest.fixture
def aws():
    with mock_aws():
        yield

@pytest.fixture(scope="module")
def module_aws():
    with mock_aws():
        yield

def test_function_mock_starts_empty(aws):
    assert make_table().list_tables()["TableNames"] == ["orders"]

@mock_aws
def test_decorated_mock_starts_empty():
    assert make_table().list_tables()["TableNames"] == ["orders"]

def test_context_manager_in_the_body():
    with mock_aws():
        make_table()
        queue = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="jobs")
        assert queue["QueueUrl"].endswith("/jobs")

def test_module_mock_keeps_data_between_its_tests_a(module_aws):
    make_table("kept")

def test_module_mock_keeps_data_between_its_tests_b(module_aws):
    # moto's own behaviour: one mock spans both tests, so the table is still there
    assert "kept" in boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]

def test_nested_mock_does_not_reset_the_outer_one(aws):
    make_table("outer")
    with mock_aws():
        assert "outer" in boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
"""

KINESIS_TESTS = """
import boto3, pytest
from moto import mock_aws

@pytest.fixture
def aws():
    with mock_aws():
        yield

def test_kinesis_then_table(kinesis_stream, kinesis_client):
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")

def test_own_mock_first_then_stream(aws, kinesis_stream, kinesis_client):
    # the user's mock started before the stream: moto was emptied, the stream is made inside it
    assert kinesis_client.list_streams()["StreamNames"] == [kinesis_stream.name]
    assert boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"] == []

def test_stream_first_then_own_mock(kinesis_stream, kinesis_client, aws):
    # the user's mock started after the stream: emptying moto would delete the stream under the test, so the
    # reset waits for the test's teardown; the stream is still there and nothing else is
    assert kinesis_client.describe_stream_summary(StreamName=kinesis_stream.name)
    assert boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"] == []
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
"""


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_users_tests_pass_on_plain_moto_without_the_plugin(pytester: pytest.Pytester, fake_credentials) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.runpytest_subprocess("-p", "no:kinesis_limits", "-p", "no:cacheprovider").assert_outcomes(passed=6)


def test_users_tests_pass_interleaved_with_kinesis_tests(pytester: pytest.Pytester, fake_credentials) -> None:
    # pytest runs files in name order: the user's module first (before the plugin's mock starts), then after a
    # Kinesis module (inside the plugin's mock) and before one, and last.
    kinds = ["user", "kinesis", "user", "kinesis", "user"]
    for name, kind in zip("abcde", kinds):
        pytester.makepyfile(**{f"test_{name}_{kind}": USER_TESTS if kind == "user" else KINESIS_TESTS})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # moto's patching stays in its process
    result.assert_outcomes(passed=6 * kinds.count("user") + 3 * kinds.count("kinesis"))


def test_without_the_guard_the_issue_comes_back(pytester: pytest.Pytester, fake_credentials) -> None:
    """The can-fail proof: with the plugin's guard off, a user's mock after a Kinesis test meets old tables."""
    pytester.makeconftest("""
import pytest
from pytest_kinesis_limits.fidelity import shared_mock as motoshare

@pytest.fixture(autouse=True)
def _no_guard(monkeypatch):
    monkeypatch.setattr(motoshare.SharedMock, "_user_started", lambda self, reset: None)
    monkeypatch.setattr(motoshare.SharedMock, "_user_stopped", lambda self, remove_data: None)
""")
    pytester.makepyfile(test_a_kinesis=KINESIS_TESTS, test_b_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k",
                                           "kinesis_then_table or function_mock_starts_empty")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Table already exists: orders*"])


def test_the_collectors_headroom_is_the_kinesis_tests_only(pytester: pytest.Pytester) -> None:
    """An offline Kinesis test runs with the young generation collected every OFFLINE_GC_THRESHOLD0 allocations and
    the middle one every OFFLINE_GC_THRESHOLD1 young collections; a user's test before and after it keeps the
    process's own thresholds, and a process that already collects less often keeps its values."""
    pytester.makepyfile("""
import gc

def test_before():
    gc.set_threshold(650, 9, 8)

def test_kinesis(kinesis_client):
    from pytest_kinesis_limits.gc_tuning import OFFLINE_GC_THRESHOLD0, OFFLINE_GC_THRESHOLD1
    assert gc.get_threshold() == (OFFLINE_GC_THRESHOLD0, OFFLINE_GC_THRESHOLD1, 8)

def test_after():
    assert gc.get_threshold() == (650, 9, 8)
    gc.set_threshold(10 ** 6, 1000, 8)

def test_kinesis_again(kinesis_client):
    assert gc.get_threshold() == (10 ** 6, 1000, 8)
""")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_the_offline_backends_objects_are_frozen_once_and_the_collector_left_as_it_was(
        pytester: pytest.Pytester) -> None:
    """The offline backend's start (boto3, botocore and moto imported, moto checked) runs with the collector paused
    and ends with its objects frozen (no later full collection walks them), once per process; a collector the user
    turned off stays off, and one left on is on again. Against the unchanged start, test_kinesis fails: nothing
    is frozen."""
    pytester.makepyfile("""
import gc
import sys

FROZEN = []

def test_before():
    assert "moto" not in sys.modules and gc.get_freeze_count() == 0

def test_kinesis(kinesis_client):
    assert gc.isenabled()
    FROZEN.append(gc.get_freeze_count())
    assert FROZEN[0] > 50_000  # botocore's models and moto's backends: about 130,000 objects

def test_a_later_session_in_this_process_freezes_nothing(pytester):
    pytester.makepyfile("def test_k(kinesis_client):\\n    pass\\n")
    before = gc.get_freeze_count()
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert gc.get_freeze_count() <= before  # nothing new (frozen objects freed by reference counts may leave)
""")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "pytester").assert_outcomes(passed=3)
    pytester.makepyfile(test_off="""
import gc

def test_off_stays_off(kinesis_client):
    assert not gc.isenabled() and gc.get_freeze_count() > 0
""")
    pytester.makeconftest("import gc\n\ndef pytest_configure(config):\n    gc.disable()\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_off.py").assert_outcomes(passed=1)


def test_against_an_endpoint_the_preflights_objects_are_frozen(pytester: pytest.Pytester,
                                                              moto_server_url: str) -> None:
    """Against an endpoint (and live) the preflight imports boto3 and botocore: it ends with them frozen, the
    collector on. Against a preflight that does not freeze, the test fails (nothing frozen)."""
    pytester.makepyfile("""
import gc

def test_endpoint(kinesis_client):
    assert gc.isenabled() and gc.get_freeze_count() > 20_000  # botocore's loaded models among them
""")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--aws-endpoint-url={moto_server_url}",
                                  "--aws-region", "us-east-1").assert_outcomes(passed=1)
