"""Clocks shared by the producer, the reader and the offline fidelity layer.

Live runs use :class:`RealClock`. Offline runs use :class:`SimulatedClock`: time moves only when
somebody sleeps on it, so a paced producer and the fidelity layer's per-second throttling see the
same seconds run after run, whatever the machine load (DESIGN.md section 7). A simulated sleep returns
at once, which also keeps the offline suite fast. The test's own ``time.sleep`` (and so botocore's retries and
waiters) reaches the same clock through :mod:`pytest_kinesis_limits.fidelity.simtime`.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from time import perf_counter as _real_seconds  # never simulated: what a flowing clock follows
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the library needs of time: the current epoch second and a way to wait."""

    simulated: bool

    def now(self) -> float:
        """Seconds since the epoch (UTC), as a float."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (never negative)."""
        ...


class RealClock:
    """Wall-clock time: ``time.time`` and ``time.sleep``."""

    simulated = False

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "RealClock()"


class SimulatedClock:
    """A clock that only moves when slept on; thread-safe.

    It starts at a whole second (by default the current one, so that timestamps look recent), which keeps
    per-second buckets aligned the same way in every run.

    ``sleep_hook``, when set, is offered every sleep first (it returns True when it took care of it): the
    plugin's :class:`~pytest_kinesis_limits.fidelity.simtime.TimeKeeper` uses it so that sleeps of several threads of a
    test overlap instead of adding up. Without one (and for a single thread) a sleep is :meth:`advance`.

    While :meth:`flowing`, it also moves with the wall clock, one second per real second, besides the jumps sleeps
    make: a client in another process (or an asyncio client, whose waits are real) sees time pass as it really does,
    and a sleep of the test's still skips ahead at once (the ``kinesis_endpoint`` fixture's tests, docs/endpoint.md).
    """

    simulated = True

    def __init__(self, start: float | None = None) -> None:
        self._now = float(math.floor(time.time() if start is None else start))
        self._lock = threading.Lock()
        self._flows = 0  # nested flowing() contexts
        self._flow_from = 0.0  # the real second the flow started (perf_counter)
        self.sleep_hook: Callable[[float], bool] | None = None

    def _flowed(self) -> float:
        """Real seconds flowed since the flow started (0 when not flowing); under the lock."""
        return _real_seconds() - self._flow_from if self._flows else 0.0

    def now(self) -> float:
        with self._lock:
            return self._now + self._flowed()

    @contextlib.contextmanager
    def flowing(self) -> Iterator[SimulatedClock]:
        """Within: the clock also moves with real time (class doc); outside, it stands still again where it got to."""
        with self._lock:
            if not self._flows:
                self._flow_from = _real_seconds()
            self._flows += 1
        try:
            yield self
        finally:
            with self._lock:
                if self._flows == 1:
                    self._now += self._flowed()
                self._flows -= 1

    @property
    def is_flowing(self) -> bool:
        """Whether the clock moves with real time now (:meth:`flowing`)."""
        return self._flows > 0

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time ({seconds} s)")
        hook = self.sleep_hook
        if hook is not None and hook(seconds):
            return
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move ``seconds`` forward at once (what a sleep does when nothing else is scheduled)."""
        with self._lock:
            self._now += seconds

    def advance_to(self, when: float) -> None:
        """Move to ``when`` if it is later than now (never backwards)."""
        with self._lock:
            self._now = max(self._now, when - self._flowed())

    def __repr__(self) -> str:
        flowing = ", flowing" if self._flows else ""
        return f"SimulatedClock(now={self.now()!r}{flowing})"
