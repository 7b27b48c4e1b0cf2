"""Fixtures for the plugin's own tests: a Kinesis-like endpoint on 127.0.0.1 for the live code path over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest


def _serve(fidelity: str, lifecycle_scale: str = "0") -> Iterator[str]:
    # Lifecycle windows off by default: over HTTP the fixtures wait with botocore's waiters, whose 5 s polls
    # would make every stream cost two of them (lifecycle_server_url has windows).
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_kinesis_limits", "serve", "--host", "127.0.0.1", "--port", "0",
         "--fidelity", fidelity, "--lifecycle-scale", lifecycle_scale],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, f"the server did not start: {line!r}"
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """``pytest-kinesis-limits serve`` (moto's server with the fidelity layer) on 127.0.0.1, in its own process."""
    yield from _serve("on")


@pytest.fixture(scope="session")
def plain_moto_server_url() -> Iterator[str]:
    """moto's server without the fidelity layer on 127.0.0.1: an emulator with moto's known gaps."""
    yield from _serve("off")


@pytest.fixture(scope="session")
def lifecycle_server_url() -> Iterator[str]:
    """``pytest-kinesis-limits serve --lifecycle-scale 0.05``: CREATING, UPDATING and DELETING for 1.5 s of wall
    clock (the catalogue's typical 30 s scaled), long enough for a test to act inside each window."""
    yield from _serve("on", lifecycle_scale="0.05")
