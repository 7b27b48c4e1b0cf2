"""Endpoints as emulators are: Kinesis-only endpoints, botocore's per-service endpoints, unsupported services.

Everything here talks to 127.0.0.1 only: a fake Kinesis-only endpoint (conftest ``kinesis_only_url``, answering
like kinesalite: STS, Firehose, S3 and IAM get an empty 403) and ``pytest-kinesis-limits serve``.
"""

from __future__ import annotations

import json
import socket

import pytest

from pytest_kinesis_limits.backends import PreflightError, offline_backend, preflight
from pytest_kinesis_limits.settings import resolve


@pytest.fixture
def bare_aws(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No AWS credentials, profile, region, endpoint or config of the caller's; no metadata lookups."""
    import os

    for name in list(os.environ):
        if name.startswith(("AWS_", "KINESIS_LIMITS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _endpoint(url: str, **more):
    return preflight(resolve({"aws_endpoint_url": url, "aws_region": "us-east-1", **more}, {}, {}))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- 1. preflight of an endpoint without STS ----------------------------------------------------------------

def test_kinesis_only_endpoint_passes_the_preflight_with_a_kinesis_probe(kinesis_only_url: str, bare_aws) -> None:
    """kinesalite answers STS with an empty 403: that used to stop the run as 'refused the credentials (: )'."""
    backend = _endpoint(kinesis_only_url)
    assert backend.kind == "endpoint" and backend.account_id is None
    assert "identity=none (no STS)" in backend.describe()
    assert {service for service, _ in backend.unserved} == {"firehose", "s3", "iam", "opensearch"}
    assert "ListDeliveryStreams answered HTTP 403" in backend.why_unserved("firehose")


def test_endpoint_that_is_not_kinesis_says_what_failed(nothing_served_url: str, bare_aws) -> None:
    with pytest.raises(PreflightError) as caught:
        _endpoint(nothing_served_url)
    message = str(caught.value)
    assert f"the endpoint {nothing_served_url} does not answer as Kinesis" in message
    assert "STS GetCallerIdentity" in message and "Kinesis ListStreams" in message and "HTTP 403" in message
    assert "refused the credentials" not in message


def test_unreachable_endpoint_names_this_projects_servers(bare_aws) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(PreflightError, match=f"cannot connect to the endpoint {url}") as caught:
        _endpoint(url)
    message = str(caught.value)
    assert "pytest-kinesis-limits serve" in message and "pytest-kinesis-limits emulator kinesalite" in message
    assert "moto_server" not in message


def test_moto_server_serves_every_service(moto_server_url: str, bare_aws) -> None:
    backend = _endpoint(moto_server_url)
    assert backend.unserved == () and backend.account_id == "123456789012"


# --- 1. botocore's per-service endpoint settings ----------------------------------------------------------

def test_per_service_environment_endpoint_wins_over_the_run_endpoint(
        kinesis_only_url: str, moto_server_url: str, bare_aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kinesis on a Kinesis-only emulator, S3 on moto's server (AWS_ENDPOINT_URL_S3)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # global: --aws-endpoint-url beats it
    backend = _endpoint(kinesis_only_url)
    assert backend.client("s3").meta.endpoint_url == moto_server_url
    assert backend.client("kinesis").meta.endpoint_url == kinesis_only_url
    assert backend.serves("s3") and not backend.serves("firehose")
    assert f"s3={moto_server_url}" in backend.describe()


def test_per_service_config_file_section_is_honoured(kinesis_only_url: str, moto_server_url: str, bare_aws,
                                                     tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text(f"[default]\nservices = local\n\n[services local]\nfirehose =\n  endpoint_url = "
                      f"{moto_server_url}\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    backend = _endpoint(kinesis_only_url)
    assert backend.client("firehose").meta.endpoint_url == moto_server_url
    assert backend.serves("firehose") and not backend.serves("s3")


def test_ignore_configured_endpoint_urls_sends_every_service_to_the_run_endpoint(
        kinesis_only_url: str, moto_server_url: str, bare_aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server_url)
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    backend = _endpoint(kinesis_only_url)
    assert backend.client("s3").meta.endpoint_url == kinesis_only_url and not backend.serves("s3")


def test_offline_clients_never_follow_a_configured_endpoint(bare_aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto runs in-process: an AWS_ENDPOINT_URL left in the shell (LocalStack users) must not take it elsewhere."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:9")
    client = offline_backend(resolve({}, {}, {})).client("kinesis")
    assert client.meta.endpoint_url == "https://kinesis.us-east-1.amazonaws.com"


# --- 1. a family whose service the endpoint does not serve --------------------------------------------------

UNSERVED_FAMILY = """
def test_firehose_needs_firehose(firehose_client):
    raise AssertionError("must not run: the endpoint serves no Firehose")

def test_bucket_needs_s3(s3_bucket):
    raise AssertionError("must not run: the endpoint serves no S3")

def test_kinesis_runs(kinesis_stream, record_measurement):
    pass
"""


def test_unserved_family_is_skipped_and_reported_unsupported(pytester: pytest.Pytester, kinesis_only_url: str,
                                                             bare_aws, tmp_path) -> None:
    pytester.makepyfile(test_family=UNSERVED_FAMILY)
    report = tmp_path / "report.json"
    result = pytester.runpytest_subprocess("--aws-endpoint-url", kinesis_only_url, "--aws-region", "us-east-1",
                                           "--kinesis-backend-name", "fake-kinesis", f"--kinesis-report={report}",
                                           "-k", "not kinesis_runs", "-rs", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["kinesis-limits: not served by this endpoint, so their tests are skipped and "
                                 "reported as unsupported: Firehose at *ListDeliveryStreams answered HTTP 403*"])
    result.assert_outcomes(skipped=2)  # never an ERROR
    result.stdout.fnmatch_lines(["*SKIPPED*unsupported by this endpoint: Firehose at*"])
    rows = json.loads(report.read_text(encoding="utf-8"))["measurements"]
    assert sorted((r["limit"], r["verdict"], r["backend"]) for r in rows) == [
        ("service.firehose", "unsupported", "fake-kinesis"), ("service.s3", "unsupported", "fake-kinesis")]


def test_served_services_run_their_tests(pytester: pytest.Pytester, moto_server_url: str, bare_aws) -> None:
    """The skip depends on the probe: against moto's server the same tests run (and fail, as written)."""
    pytester.makepyfile(test_family=UNSERVED_FAMILY)
    result = pytester.runpytest_subprocess("--aws-endpoint-url", moto_server_url, "--aws-region", "us-east-1",
                                           "-k", "needs", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)


# --- 2. a name per backend ---------------------------------------------------------------------------------

NAMED = """
import pytest
from pytest_kinesis_limits import limits

@pytest.mark.kinesis_gap("moto", reason="the gap matches the kind, whatever the name")
def test_gap(record_measurement, kinesis_stream):
    record_measurement(limits.PUT_RECORDS_MAX_RECORDS, 501, verdict="fail")
    assert False

def test_breaks_before_measuring(kinesis_stream):
    raise RuntimeError("the backend broke it")
"""


def test_backend_name_labels_header_table_and_report(pytester: pytest.Pytester, tmp_path) -> None:
    pytester.makepyfile(test_named=NAMED)
    report = tmp_path / "r.json"
    result = pytester.runpytest_subprocess("--kinesis-backend-name", "my-moto@5.2", f"--kinesis-report={report}",
                                           "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["kinesis-limits: backend=my-moto@5.2 (moto) region=us-east-1 (offline, moto)",
                                 "put_records.max_records *1 FAIL*my-moto@5.2",
                                 "*FAIL: test_named.py::test_gap"])
    result.assert_outcomes(xfailed=1, failed=1)
    payload = json.loads(report.read_text(encoding="utf-8"))
    assert payload["header"]["backend_name"] == "my-moto@5.2" and payload["header"]["backend"] == "moto"
    assert {r["backend"] for r in payload["measurements"]} == {"my-moto@5.2"}
    broke = [r for r in payload["measurements"] if r["test"].endswith("test_breaks_before_measuring")]
    assert [(r["limit"], r["verdict"]) for r in broke] == [("test.no_measurement", "fail")]
    assert "RuntimeError: the backend broke it" in broke[0]["detail"]


def test_gap_marker_naming_an_emulator_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest
@pytest.mark.kinesis_gap("kinesalite", reason="would hide a failure of the matrix")
def test_x(kinesis_stream):
    pass
""")
    result = pytester.runpytest_subprocess("--kinesis-backend-name", "kinesalite", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*kinesis_gap names 'kinesalite'; a known gap matches a backend kind only*"])


def test_bad_backend_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--kinesis-backend-name", "two words")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid value 'two words' for --kinesis-backend-name*kinesalite@3.3.3*"])


# --- 5. the wall-clock family stays on one xdist worker in endpoint runs ------------------------------------

def test_throughput_family_is_one_xdist_group_on_an_endpoint(pytester: pytest.Pytester, kinesis_only_url: str,
                                                             bare_aws) -> None:
    pytester.makeconftest("""
import pytest
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    for item in items:
        group = item.get_closest_marker("xdist_group")
        print(f"GROUP {item.name} {group.args[0] if group else None}")
""")
    pytester.makepyfile("def test_throughput_a(kinesis_stream): pass\ndef test_resharding_b(kinesis_stream): pass\n")
    result = pytester.runpytest_subprocess("--aws-endpoint-url", kinesis_only_url, "--aws-region", "us-east-1",
                                           "--collect-only", "-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["GROUP test_throughput_a test_throughput", "GROUP test_resharding_b None"])
    offline = pytester.runpytest_subprocess("--collect-only", "-s", "-p", "no:cacheprovider")
    offline.stdout.fnmatch_lines(["GROUP test_throughput_a None"])  # offline runs stay spread: simulated clock


def test_throughput_family_runs_on_one_worker_with_loadgroup(pytester: pytest.Pytester, kinesis_only_url: str,
                                                             bare_aws) -> None:
    """The group must reach xdist's scheduler, not only the item: pytest-xdist 3.8 groups by a node id suffix that
    pytest 9.2's node ids no longer take (pytest-dev/pytest-xdist#1386), so the family ran on several workers at
    once. The plugin's scheduler groups it from the node ids. Each test records the worker that ran it."""
    pytester.makepyfile("""
import os, time
def _note(name):
    with open(os.path.join(os.path.dirname(__file__), name + ".worker"), "w") as f:
        f.write(os.environ.get("PYTEST_XDIST_WORKER", "none"))
    time.sleep(0.3)
def test_throughput_a():
    _note("a")
def test_throughput_b():
    _note("b")
def test_throughput_c():
    _note("c")
def test_other_d():
    _note("d")
""")
    result = pytester.runpytest_subprocess("--aws-endpoint-url", kinesis_only_url, "--aws-region", "us-east-1",
                                           "-n", "3", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    workers = {name: (pytester.path / f"{name}.worker").read_text() for name in "abc"}
    assert len(set(workers.values())) == 1, f"the throughput family ran on several workers: {workers}"


SCHEDULER_CONFTEST = """
def pytest_sessionfinish(session):
    dsession = session.config.pluginmanager.getplugin("dsession")
    if dsession is not None:
        with open("scheduler.txt", "w") as out:
            out.write(type(dsession.sched).__name__)
"""


@pytest.mark.parametrize(("args", "scheduler"), [
    pytest.param([], "WorkStealingScheduling", id="offline-no-dist"),
    pytest.param(["--dist", "load"], "LoadScheduling", id="offline-dist-load-given"),
    pytest.param(["--kinesis-fidelity=off", "--dist=load"], "LoadScheduling", id="plain-moto-dist-load-given"),
])
def test_offline_runs_schedule_with_worksteal_unless_a_dist_is_given(pytester: pytest.Pytester, args: list[str],
                                                                     scheduler: str) -> None:
    """Offline with the mode -n implies, the plugin schedules with xdist's worksteal (the scale family waits on one
    worker while the other takes the queue); a --dist the user gave is kept (endpoint and live runs keep xdist's
    own: _offline_worksteal asks for an offline backend)."""
    pytester.makeconftest(SCHEDULER_CONFTEST)
    pytester.makepyfile("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert (pytester.path / "scheduler.txt").read_text() == scheduler


def test_a_delivery_stream_that_never_delivers_fails_the_test_not_its_setup(pytester: pytest.Pytester) -> None:
    """Plain moto's Firehose never reads its source: the fixture's canary never arrives. That is the backend
    breaking a documented behaviour (FAILED, a matrix cell), not a broken test setup (ERROR)."""
    pytester.makepyfile("def test_delivery(firehose_delivery_stream):\n    pass\n")
    result = pytester.runpytest_subprocess("--kinesis-fidelity=off", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, errors=0)
    result.stdout.fnmatch_lines(["*DeliveryStreamError*"])


def test_long_tests_start_first_under_xdist_and_keep_their_place_in_one_process(pytester: pytest.Pytester,
                                                                               kinesis_only_url: str, bare_aws) -> None:
    """A kinesis_long test (the seed's 50,000-record scenarios) is moved to the front of an endpoint run's
    collection, and of an offline xdist worker's, so that xdist starts it first instead of leaving it to end the run
    alone; offline in one process the order is the file's."""
    pytester.makepyfile("""
import pytest
def test_a(): pass
@pytest.mark.kinesis_long
def test_long(): pass
def test_b(): pass
""")
    endpoint = pytester.runpytest_subprocess("--aws-endpoint-url", kinesis_only_url, "--aws-region", "us-east-1",
                                             "--collect-only", "-q", "-p", "no:cacheprovider")
    endpoint.stdout.fnmatch_lines(["*::test_long", "*::test_a", "*::test_b"], consecutive=True)
    offline = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    offline.stdout.fnmatch_lines(["*::test_a", "*::test_long", "*::test_b"], consecutive=True)
    worker = pytester.runpytest_subprocess("-n", "1", "-v", "-p", "no:cacheprovider")
    worker.stdout.fnmatch_lines(["*PASSED*::test_long*", "*PASSED*::test_a*", "*PASSED*::test_b*"])
