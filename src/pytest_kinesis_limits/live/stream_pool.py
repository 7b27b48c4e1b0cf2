"""Streams made ahead: while a worker runs a test, the streams its next test will ask for are being made.

A live stream takes about 30 s to become ACTIVE (catalogue ``lifecycle.stream.creating_s``). The plan of a live run
(``--kinesis-plan``, made by the budget guard before the run) knows the shapes of the streams each test makes
(shard count, on-demand, MaxRecordSizeInKiB). A :class:`StreamPool` makes the next test's shapes in background
threads while the current test runs; when the next test calls ``make_stream`` with a shape the pool holds, it gets
that stream (waiting for it if it is still CREATING) instead of making one. A shape nobody asked for is deleted at
the end of the session with the pool's other leftovers, the same way as every other resource.

The pool only makes what the caller's ``make`` does (name, tags, deletion registered before creation, the account's
transition slots): it adds threads, nothing else. Library code: no pytest, no boto3.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

#: A stream's shape: (shard count, 0 for on-demand; on-demand; MaxRecordSizeInKiB or None).
Shape = tuple[int, bool, "int | None"]
#: How many streams a pool makes at once (a worker's next test makes at most a few).
THREADS = 4


def shape_of(shard_count: int | None, on_demand: bool, max_record_size_kib: int | None) -> Shape:
    """The shape key of a make_stream call (an on-demand stream has no shard count of its own)."""
    return (0 if on_demand else int(1 if shard_count is None else shard_count), bool(on_demand),
            max_record_size_kib or None)


class StreamPool:
    """Streams made ahead of the tests that will ask for them (see the module docstring).

    ``make(shape, owner)`` makes one stream of ``shape`` for the test ``owner`` and returns its StreamInfo; it runs
    in the pool's threads.
    """

    def __init__(self, make: Callable[[Shape, str], Any], *, threads: int = THREADS) -> None:
        self._make = make
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kinesis-limits-pool")
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, Shape], list[Future[Any]]] = {}
        self._prepared: set[str] = set()
        self.taken = 0  # how many streams a test got from the pool (for tests and the curious)
        self._closed = False

    def prepare(self, owner: str, shapes: Sequence[Sequence[Any]]) -> None:
        """Start making ``shapes`` for the test ``owner`` (once per test)."""
        with self._lock:
            if self._closed or owner in self._prepared:
                return
            self._prepared.add(owner)
            for raw in shapes:
                shape = shape_of(int(raw[0]), bool(raw[1]), raw[2])
                future = self._executor.submit(self._make, shape, owner)
                self._waiting.setdefault((owner, shape), []).append(future)

    def take(self, owner: str, shape: Shape) -> Any | None:
        """The stream of ``shape`` made ahead for ``owner`` (waiting while it is made), or None: none was made, or
        making it failed (the caller then makes its own; a failed one's deletion is already registered)."""
        with self._lock:
            futures = self._waiting.get((owner, shape))
            future = futures.pop(0) if futures else None
        if future is None:
            return None
        try:
            info = future.result()
        except Exception:  # noqa: BLE001 - the test makes its own stream and meets the error itself
            return None
        self.taken += 1
        return info

    def close(self) -> None:
        """Stop making streams: what was not started is dropped, what is being made is waited for."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)


__all__ = ["Shape", "StreamPool", "shape_of"]
