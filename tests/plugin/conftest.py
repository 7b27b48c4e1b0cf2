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


class _KinesisOnly:
    """A fake endpoint that answers Kinesis ListStreams only, as kinesalite and kinesis-mock do: every other
    service (STS, Firehose, S3, IAM) gets an HTTP 403 with an empty body (kinesalite's answer to STS)."""

    def __init__(self, kinesis: bool = True) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        serve_kinesis = kinesis

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                if serve_kinesis and target == "Kinesis_20131202.ListStreams":
                    body = json.dumps({"StreamNames": [], "HasMoreStreams": False}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                else:
                    body = b""
                    self.send_response(403)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST  # noqa: N815 - S3 ListBuckets is a GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kinesis_only_url() -> Iterator[str]:
    """A fake Kinesis-only endpoint on 127.0.0.1 (no STS, Firehose, S3 or IAM), like kinesalite."""
    fake = _KinesisOnly()
    yield fake.url
    fake.close()


@pytest.fixture
def nothing_served_url() -> Iterator[str]:
    """A fake endpoint on 127.0.0.1 that refuses everything with an empty 403 (not Kinesis at all)."""
    fake = _KinesisOnly(kinesis=False)
    yield fake.url
    fake.close()


@pytest.fixture(scope="session")
def lifecycle_server_url() -> Iterator[str]:
    """``pytest-kinesis-limits serve --lifecycle-scale 0.05``: CREATING, UPDATING and DELETING for 1.5 s of wall
    clock (the catalogue's typical 30 s scaled), long enough for a test to act inside each window."""
    yield from _serve("on", lifecycle_scale="0.05")


@pytest.fixture
def endpoint_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials for a run against a loopback endpoint, and never a credential lookup off this machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
