"""How long the suite's clients wait for an answer: live 60 s, on an endpoint (an emulator here) 600 s."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits.backends import READ_TIMEOUT_S, Backend


@pytest.mark.parametrize(("kind", "seconds"), [("live", 60), ("endpoint", 600)])
def test_read_timeout_by_backend_kind(kind: str, seconds: int) -> None:
    """kinesis-mock serves one call at a time and spends seconds on each big PutRecords: behind a few of them a
    limit probe's call waited over 60 s and the probe failed on ReadTimeoutError, blaming the emulator for the
    client's impatience. On an endpoint the clients wait 600 s; live keeps 60 s."""
    backend = Backend(kind=kind, label=kind, region="us-east-1",
                      endpoint_url="http://127.0.0.1:9" if kind == "endpoint" else None, dummy_credentials=True)
    for retries in (True, False):
        assert backend.client("kinesis", retries=retries).meta.config.read_timeout == seconds
    assert READ_TIMEOUT_S[kind] == seconds
