"""Clocks shared by the producer, the reader and the offline fidelity layer.

Live runs use :class:`RealClock`. Offline runs use :class:`SimulatedClock`: time moves only when
somebody sleeps on it, so a paced producer and the fidelity layer's per-second throttling see the
same seconds run after run, whatever the machine load (DESIGN.md section 7). A simulated sleep returns
at once, which also keeps the offline suite fast. The test's own ``time.sleep`` (and so botocore's retries and
waiters) reaches the same clock through :mod:`pytest_kinesis_limits.fidelity.simtime`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
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
    """

    simulated = True

    def __init__(self, start: float | None = None) -> None:
        self._now = float(math.floor(time.time() if start is None else start))
        self._lock = threading.Lock()
        self.sleep_hook: Callable[[float], bool] | None = None

    def now(self) -> float:
        with self._lock:
            return self._now

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
            self._now = max(self._now, when)

    def __repr__(self) -> str:
        return f"SimulatedClock(now={self._now!r})"
