"""The ``kinesis_endpoint`` fixture: the backend as a URL, for clients the plugin cannot patch in-process.

Offline, the first test that asks for it starts moto's server on 127.0.0.1 (a free port) in this process, so it
serves the very backends the in-process fixtures use: a stream ``make_stream`` made is at the URL, a record written
at the URL is read by ``read_records``. One server per process (each xdist worker has its own), stopped at the end of
the session. Live and against ``--aws-endpoint-url`` nothing is started: the value names the backend's own
endpoints. docs/endpoint.md says what a client in another process sees of the simulated clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_kinesis_limits.backends import Backend
    from pytest_kinesis_limits.endpoint import KinesisEndpoint


@pytest.fixture(scope="session")
def kinesis_endpoint(kinesis_backend: Backend) -> Iterator[KinesisEndpoint]:
    """The backend as a URL for another client: ``.url`` (Kinesis), ``.url_for("firehose")``, ``.env`` (endpoint
    variables ``AWS_ENDPOINT_URL_<SERVICE>``, region, dummy credentials offline) and ``.environ()`` for a subprocess.

    Offline: moto's server on 127.0.0.1 in this process (started at first use, one per xdist worker), serving the same
    streams and buckets as the other fixtures, with the fidelity layer while a test using it runs; in those tests the
    simulated clock also moves with the wall clock, so a client in another process sees time pass. Live: AWS's own
    regional endpoints, nothing served. ``--aws-endpoint-url``: that endpoint.
    """
    from pytest_kinesis_limits.endpoint import backend_endpoint, served_endpoint

    if not kinesis_backend.offline:
        yield backend_endpoint(kinesis_backend)
        return
    from pytest_kinesis_limits.fidelity.endpoint_server import EndpointServer
    from pytest_kinesis_limits.fidelity.moto_adapter import IncompatibleMoto

    server = EndpointServer("127.0.0.1", 0)
    try:
        server.start()
    except IncompatibleMoto as exc:
        pytest.fail(f"kinesis_endpoint: this moto's server cannot be served: {exc}. Fix: pip install "
                    "'moto[server]' in the range pytest-kinesis-limits supports (docs/fidelity.md, 'Which moto')",
                    pytrace=False)
    try:
        yield served_endpoint(server.url, kinesis_backend.region)
    finally:
        server.stop()
