"""The search destination's live code path over real HTTP: the search_index family through --aws-endpoint-url.

``pytest-kinesis-limits serve`` runs moto's server with the fidelity layer, whose stand-in index serves its data
plane on a second loopback port; DescribeDomain reports it as the domain's Endpoint, so the fixtures find it as
they find a real domain's, and every query goes through opensearch-py over HTTP (SigV4-signed with the dummy
credentials), as live. The server runs on the wall clock: the cases that wait for the S3 backup (its interval
is at least 60 s) or for the 300 s interval, and the 50,000-record reshard, are left to the offline run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FAMILY = Path(__file__).parents[1] / "limits" / "test_search_index.py"
#: One case of each kind that does not wait on the wall clock (a few seconds each over HTTP).
FAST = "rotation_names and OneWeek or malformed or size-over-max or interval_hint_holds_documents and not 300s"



def _domains(url: str) -> list[str]:
    import boto3

    client = boto3.client("opensearch", endpoint_url=url, region_name="us-east-1")
    return sorted(d["DomainName"] for d in client.list_domain_names()["DomainNames"])


def test_search_index_family_over_http(pytester: pytest.Pytester, moto_server_url: str, endpoint_env) -> None:
    """On two xdist workers, which share one domain (issue 20, item 5): one CreateDomain for the run, the
    controller deletes it at the end."""
    pytester.makepyfile(test_search_index=FAMILY.read_text(encoding="utf-8"))
    report = pytester.path / "report.json"
    before = _domains(moto_server_url)
    result = pytester.runpytest_subprocess("--aws-endpoint-url", moto_server_url, "--aws-region", "us-east-1",
                                           "-k", FAST, "-p", "no:cacheprovider", "--kinesis-report", str(report),
                                           "-n", "2", "-v")
    deleted = [line for line in result.outlines if "deleted the run's OpenSearch domain" in line]
    assert len(deleted) == 1, result.stdout.str()[-3000:]
    assert _domains(moto_server_url) == before  # deleted (moto's server removes it at once)
    workers = {line.split("]")[0] for line in result.outlines if line.startswith("[gw") and " PASSED " in line}
    assert workers == {"[gw0", "[gw1"}, workers  # both workers ran search tests, on the one domain
    result.stdout.fnmatch_lines([f"kinesis-limits: backend=endpoint region=us-east-1 account=123456789012 "
                                 f"endpoint={moto_server_url}"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 4 and set(outcomes) <= {"passed", "deselected"}, outcomes
    result.stdout.fnmatch_lines(["*firehose.opensearch.buffer_mib.max*100*-*PASS*endpoint*",  # 101 refused: not measured
                                 "*firehose.opensearch.buffer_seconds.min*PASS*endpoint*",
                                 "*firehose.opensearch.failed_document_errors*PASS*endpoint*",
                                 "*firehose.opensearch.index_name_errors*PASS*endpoint*"])


def test_serve_says_where_the_search_data_plane_is() -> None:
    """The listening line names the stand-in's data plane (what DescribeDomain reports as Endpoints)."""
    import re
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "pytest_kinesis_limits", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert re.search(r"listening on http://127\.0\.0\.1:\d+ \(fidelity on\); search index data plane "
                     r"http://127\.0\.0\.1:\d+/<domain>", line), line
