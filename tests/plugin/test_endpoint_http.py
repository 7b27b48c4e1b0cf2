"""The live code path over real HTTP: the PutRecords family through --aws-endpoint-url on 127.0.0.1.

Live AWS cannot be reached from CI, so the same clients, preflight (STS over HTTP), waiters and
cleanup that --live uses are pointed at a moto server in another process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FAMILY = Path(__file__).parents[1] / "limits" / "test_put_records.py"



def test_put_records_family_over_http(pytester: pytest.Pytester, moto_server_url: str, endpoint_env) -> None:
    pytester.makepyfile(test_put_records=FAMILY.read_text(encoding="utf-8"))
    # Three workers: the family's leases of the shared stream wait out a quiet second each on the wall clock, and
    # each worker has its own shared stream (42 s in one process, 18 s with three).
    result = pytester.runpytest_subprocess("--aws-endpoint-url", moto_server_url, "--aws-region", "us-east-1",
                                           "-k", "put_records", "-p", "no:cacheprovider", "-n", "3")
    result.stdout.fnmatch_lines([f"kinesis-limits: backend=endpoint region=us-east-1 account=123456789012 "
                                 f"endpoint={moto_server_url}"])
    outcomes = result.parseoutcomes()
    assert set(outcomes) == {"passed"}, outcomes  # every case passes over HTTP: none fails, errors or skips
    result.stdout.fnmatch_lines(["*kinesis limits: what was measured on endpoint*", "put_records.max_records *"])


def test_plain_moto_server_fails_the_family_where_moto_has_gaps(
        pytester: pytest.Pytester, plain_moto_server_url: str, endpoint_env) -> None:
    """An emulator that breaks documented caps fails those tests: the family can tell emulators apart."""
    pytester.makepyfile(test_put_records=FAMILY.read_text(encoding="utf-8"))
    result = pytester.runpytest_subprocess("--aws-endpoint-url", plain_moto_server_url, "--aws-region",
                                           "us-east-1", "-p", "no:cacheprovider",
                                           "-k", "single_put_record_size or invalid_record_mid_batch")
    result.stdout.fnmatch_lines([
        "FAILED *test_put_records_single_put_record_size[[]over[]]*",
        "FAILED *test_put_records_invalid_record_mid_batch_rejects_whole_request[[]partition-key-257[]]*",
    ])
