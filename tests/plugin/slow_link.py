"""A slow network link on loopback: a TCP relay that adds round-trip time and caps upload bandwidth.

Used to prove that the throughput family never blames the service for the client: put it in front of
``pytest-kinesis-limits serve`` and run the family with ``--aws-endpoint-url`` pointing at it. Each direction
is delayed by half of ``latency`` (so every request/response pair pays ``latency`` more), and the bytes from
client to server pass at most ``upload_bytes_per_s`` (shared by all connections, like one uplink).

Bounded on every side: it listens on 127.0.0.1 only, relays to a 127.0.0.1 upstream only, keeps at most
``max_connections`` connections and a few chunks per direction in memory (a full queue stops reading, so
TCP pushes back on the sender), and stops by itself after ``lifetime`` seconds even if nobody stops it.
A test helper, not a product module.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from urllib.parse import urlsplit

CHUNK = 16 * 1024  # bytes read at once: small enough that a capped link sends smoothly
QUEUE_CHUNKS = 16  # chunks held per direction (bounded memory; a full queue pauses reading)


class _Uplink:
    """A store-and-forward link of ``rate`` bytes/s shared by every connection (FIFO by arrival)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.free_at = 0.0

    async def pass_bytes(self, n: int) -> None:
        if self.rate is None:
            return
        loop = asyncio.get_running_loop()
        start = max(loop.time(), self.free_at)
        self.free_at = start + n / self.rate
        await asyncio.sleep(self.free_at - loop.time())


class SlowLink:
    """``with SlowLink(upstream_url, latency=0.2) as link: link.url`` -> a relay to ``upstream_url``.

    ``latency`` seconds are added to every round trip (half each way); ``upload_bytes_per_s`` caps the client's
    upload (``None``: no cap). ``lifetime`` bounds how long it runs (it closes every connection then).
    """

    def __init__(self, upstream_url: str, *, latency: float = 0.0, upload_bytes_per_s: float | None = None,
                 lifetime: float = 300.0, max_connections: int = 64) -> None:
        parts = urlsplit(upstream_url)
        if parts.hostname != "127.0.0.1" or parts.port is None:
            raise ValueError(f"the upstream must be http://127.0.0.1:<port>, not {upstream_url!r}")
        if latency < 0 or (upload_bytes_per_s is not None and upload_bytes_per_s <= 0) or lifetime <= 0:
            raise ValueError("latency must be >= 0, upload_bytes_per_s and lifetime > 0")
        self.upstream = (parts.hostname, parts.port)
        self.one_way = latency / 2
        self.upload_bytes_per_s = upload_bytes_per_s
        self.lifetime = lifetime
        self.max_connections = max_connections
        self.connections = 0  # open now
        self.accepted = 0  # ever accepted
        self.refused = 0  # turned away (too many at once)
        self.bytes_up = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._port = 0
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> SlowLink:
        self._thread = threading.Thread(target=self._run, name="slow-link", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the slow link did not start")
        if self._error is not None:
            raise RuntimeError(f"the slow link did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    # -- the event loop's thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        uplink = _Uplink(self.upload_bytes_per_s)
        tasks: set[asyncio.Task[None]] = set()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self.connections >= self.max_connections:
                self.refused += 1
                writer.close()
                return
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            self.connections += 1
            self.accepted += 1
            try:
                await self._relay(reader, writer, uplink)
            except asyncio.CancelledError:
                writer.close()  # stopping: end quietly (asyncio logs a cancelled connection task as an error)
            finally:
                self.connections -= 1
                tasks.discard(task)

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await asyncio.wait_for(self._stop.wait(), self.lifetime)
        except TimeoutError:
            pass  # lifetime over: stop by ourselves
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, uplink: _Uplink) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(self._pump(client_r, server_w, uplink, up=True),
                                 self._pump(server_r, client_w, _Uplink(None), up=False))
        finally:
            for w in (client_w, server_w):
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Uplink, *,
                    up: bool) -> None:
        """Copy ``reader`` to ``writer``: each chunk leaves one-way latency after it came in, through ``link``."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(QUEUE_CHUNKS)

        async def receive() -> None:
            try:
                while chunk := await reader.read(CHUNK):
                    await queue.put((loop.time() + self.one_way, chunk))
            except (ConnectionError, OSError):
                pass
            await queue.put(None)

        receiving = asyncio.ensure_future(receive())
        try:
            while (item := await queue.get()) is not None:
                due, chunk = item
                await asyncio.sleep(max(0.0, due - loop.time()))
                await link.pass_bytes(len(chunk))
                if up:
                    self.bytes_up += len(chunk)
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass
        finally:
            receiving.cancel()


def wait_round_trip(link: SlowLink) -> float:
    """Seconds one tiny HTTP request takes through ``link`` (for a test's own sanity check)."""
    import http.client

    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", int(link.url.rsplit(":", 1)[1]), timeout=10)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    finally:
        connection.close()
    return time.perf_counter() - started
