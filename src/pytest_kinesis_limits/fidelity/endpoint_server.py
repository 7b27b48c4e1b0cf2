"""The offline backend over HTTP: moto's server application on a port of this process, for clients that cannot be
patched in-process (the AWS CLI, an SDK of another language, an asyncio client, a producer in a subprocess).

It serves moto's backends of *this* process: the same streams, buckets and delivery streams the in-process
``mock_aws`` of the plugin's fixtures sees, and, while the fidelity layer is active, with its corrections (they patch
moto's classes, which the server's threads call too). ``pytest-kinesis-limits serve`` and the ``kinesis_endpoint``
fixture both run one.

Its threads keep the wall clock and never join a test's simulated-time schedule (:func:`.timepatch.service_thread`):
a server thread waiting for requests must not hold a test's simulated sleeps up.

Library code: no pytest; moto only through :mod:`.moto_adapter`.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from pytest_kinesis_limits.fidelity import moto_adapter
from pytest_kinesis_limits.fidelity.timepatch import service_thread


#: How often the serving thread looks for a stop (werkzeug's default, 0.5 s, would be every test session's cost).
_POLL_S = 0.05


class EndpointServer:
    """moto's server on ``host:port`` (0: a free port), started with :meth:`start` (or ``with``), until :meth:`stop`.

    ``url`` is where clients send (``http://host:port``); every service moto serves answers there.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the endpoint server is not started")
        host = self._server.server_address[0]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self._server.server_address[1]}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> EndpointServer:
        """Bind (OSError when the address cannot be listened on; IncompatibleMoto when this moto's server cannot
        be built) and serve in a daemon thread. Returns self."""
        if self._server is not None:
            return self
        self._server = moto_adapter.wsgi_server(self.host, self.port)
        serve = functools.partial(self._server.serve_forever, poll_interval=_POLL_S)
        self._thread = service_thread(serve, f"kinesis-endpoint-{self._server.server_port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and close the socket (a request in progress finishes first)."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> EndpointServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["EndpointServer"]
