"""Resources are always cleaned up, failures to delete are loud, and other projects get the fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

THROUGHPUT_FAMILY = Path(__file__).parents[1] / "limits" / "test_throughput.py"

# A conftest that records every stream deletion in a file, so the outer test can see what was cleaned up.
RECORD_DELETES = """
import json, os
import pytest
from pytest_kinesis_limits.kinesis import resources

@pytest.fixture(autouse=True)
def _record_deletes(monkeypatch):
    real = resources.delete_stream
    def spy(client, name, **kw):
        with open(os.environ["DELETES_FILE"], "a") as f:
            f.write(json.dumps(name) + "\\n")
        if os.environ.get("BREAK_DELETE"):
            raise RuntimeError("simulated AccessDenied on DeleteStream")
        return real(client, name, **kw)
    monkeypatch.setattr(resources, "delete_stream", spy)
"""

FAILING_TEST = """
def test_fails_after_making_a_stream(make_stream):
    make_stream(shard_count=2)
    assert False, "the test fails; the stream must still be deleted"

def test_stream_is_gone(kinesis_client):
    assert kinesis_client.list_streams()["StreamNames"] == []
"""


@pytest.fixture
def deletes_file(tmp_path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "deletes.jsonl"
    monkeypatch.setenv("DELETES_FILE", str(path))
    return path


def _deleted(path) -> list[str]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_stream_deleted_after_a_failing_test(pytester: pytest.Pytester, deletes_file) -> None:
    pytester.makeconftest(RECORD_DELETES)
    pytester.makepyfile(FAILING_TEST)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    (name,) = _deleted(deletes_file)
    assert name.startswith("pkl-") and "-s1" in name


def test_stream_deleted_after_ctrl_c(pytester: pytest.Pytester, deletes_file) -> None:
    pytester.makeconftest(RECORD_DELETES)
    pytester.makepyfile("""
        def test_interrupted(make_stream):
            make_stream()
            raise KeyboardInterrupt
    """)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert len(_deleted(deletes_file)) == 1


def test_failed_deletion_is_a_loud_warning(pytester: pytest.Pytester, deletes_file, monkeypatch) -> None:
    monkeypatch.setenv("BREAK_DELETE", "1")
    pytester.makeconftest(RECORD_DELETES)
    pytester.makepyfile("def test_makes(kinesis_stream):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*KinesisCleanupWarning: could not delete stream 'pkl-*': RuntimeError('simulated AccessDenied*",
    ])


def test_a_failed_deletion_of_the_users_own_resource_does_not_send_them_to_sweep(pytester: pytest.Pytester) -> None:
    """A resource added with kinesis_resources.add carries none of this tool's tags: sweep would never find it."""
    pytester.makepyfile("""
        def test_mine(kinesis_resources):
            def fail():
                raise RuntimeError("simulated AccessDenied")
            kinesis_resources.add("queue", "my-queue", fail)
    """)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*KinesisCleanupWarning: could not delete queue 'my-queue': RuntimeError('simulated "
                                 "AccessDenied')*none of this tool's tags*will not find it: delete it by hand.*"])
    assert "It is tagged" not in result.stdout.str()


def test_keep_resources_keeps_them(pytester: pytest.Pytester, deletes_file) -> None:
    pytester.makeconftest(RECORD_DELETES)
    pytester.makepyfile("def test_makes(kinesis_stream):\n    pass\n")
    result = pytester.runpytest("--kinesis-keep-resources")
    result.assert_outcomes(passed=1)
    assert _deleted(deletes_file) == []


def test_names_are_unique_and_tagged(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_names(make_stream, kinesis_client, kinesis_run_id):
            a, b = make_stream(), make_stream()
            assert a.name != b.name and kinesis_run_id in a.name
            tags = {t["Key"]: t["Value"] for t in kinesis_client.list_tags_for_stream(StreamName=a.name)["Tags"]}
            assert tags == {"created-by": "pytest-kinesis-limits", "run-id": kinesis_run_id, "region": "us-east-1"}

        def test_bucket(s3_bucket, s3_client):
            s3_client.put_object(Bucket=s3_bucket.name, Key="k", Body=b"x")
    """)
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_separate_project_gets_the_fixtures_from_the_installed_plugin(pytester: pytest.Pytester) -> None:
    """What another repo sees after `pip install pytest-kinesis-limits`: no conftest, only the entry point."""
    pytester.makepyfile(test_their_code="""
        import json

        def test_their_producer(kinesis_stream, kinesis_client, read_records, record_measurement):
            from pytest_kinesis_limits import limits
            kinesis_client.put_record(StreamName=kinesis_stream.name, Data=json.dumps({"n": 1}), PartitionKey="a")
            (record,) = read_records(kinesis_stream)
            assert json.loads(record.data) == {"n": 1}
            record_measurement(limits.PUT_RECORDS_MAX_RECORDS, 1, verdict="info", detail="one record")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*kinesis limits: what was measured*", "*put_records.max_records*INFO*"])


def test_xdist_workers_each_have_resources_and_the_controller_prints_all(pytester: pytest.Pytester) -> None:
    """Two workers, each with its own resources; the controller's table and JSON report hold every worker's
    measurements. The throughput family runs here too, unchanged (its one-shard cases): the control run of
    tests/plugin/test_throughput_can_fail.py, whose broken backends make the same tests fail."""
    pytester.makepyfile("""
        import pytest
        from pytest_kinesis_limits import limits

        @pytest.mark.parametrize("n", range(4))
        def test_worker(n, kinesis_stream, record_measurement):
            record_measurement(limits.PUT_RECORDS_MAX_RECORDS, n, verdict="info", detail=kinesis_stream.name)
    """)
    pytester.makepyfile(test_throughput_family=THROUGHPUT_FAMILY.read_text(encoding="utf-8"))
    # The same one-second window as the broken runs of test_throughput_can_fail.py.
    result = pytester.runpytest_subprocess("-n", "2", "--kinesis-report=report.json", "-v", "-k", "not 2-shards",
                                           "--kinesis-rate-window=1")
    result.assert_outcomes(passed=4 + 9)
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    ran_on = {words[-1]: words[0].strip("[]") for words in (line.split() for line in result.stdout.lines
                                                              if " PASSED " in line)}
    assert set(ran_on.values()) == {"gw0", "gw1"}, "both workers ran tests"
    assert sorted(r["test"] for r in rows) == sorted(ran_on), "one measurement per test, from every worker"
    worker_rows = [r for r in rows if "test_worker" in r["test"]]
    assert sorted(r["measured"] for r in worker_rows) == [0, 1, 2, 3]
    assert all(r["detail"].split("-")[2] == ran_on[r["test"]] for r in worker_rows), "names carry the worker id"
    family = [r for r in rows if r["test"].startswith("test_throughput_family.py")]
    assert len(family) == 9 and {r["verdict"] for r in family} == {"pass"}
    table = result.stdout.str().split("kinesis limits: what was measured")[1]
    assert all(test in table for test in ran_on)
