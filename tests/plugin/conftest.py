"""Fixtures for the plugin's own tests: a moto server on 127.0.0.1 for the live code path over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """A moto server on 127.0.0.1 (an OS-chosen port) in this process, with the offline fidelity layer on.

    The layer patches moto's backends in this process, and the server serves those backends, so a
    ``--aws-endpoint-url`` run in a subprocess meets Kinesis-like behaviour over real HTTP.
    """
    from moto.server import ThreadedMotoServer

    from pytest_kinesis_limits import fidelity
    from pytest_kinesis_limits.clock import RealClock

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with fidelity.activate_all(RealClock()):
            yield f"http://{host}:{port}"
    finally:
        server.stop()
