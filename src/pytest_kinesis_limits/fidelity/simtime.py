"""Simulated time for a test's own code: ``time.sleep``, botocore's retries and boto3 waiters on the offline clock.

Offline, the fidelity layer counts shard budgets and UPDATING windows on a
:class:`~pytest_kinesis_limits.clock.SimulatedClock` (DESIGN.md section 7). Code that does not know that clock
sleeps with ``time.sleep``: botocore's retry backoff (``botocore.endpoint``), boto3 waiters (``botocore.waiter``)
and the backoff loops users write. While a :class:`TimeKeeper` is active (the plugin activates one around the setup,
call and teardown of each test that uses the offline backend), those sleeps move the simulated clock instead and
return at once, and ``time.time``/``time.monotonic`` (and their ``_ns`` forms) read it, so a
``while time.time() < deadline: ...; time.sleep(1)`` loop ends after the simulated seconds it asked for.

Whose time is simulated. Only the test's threads (*participants*): the thread that runs the test, and the threads
that participants start while it runs (a ``ThreadPoolExecutor``'s workers, the user's own threads). Other threads
(pytest-xdist's I/O thread, pytest-timeout's timer) and calls made by the standard library itself (``asyncio``'s
event loop, ``subprocess``, ``logging``) keep the wall clock, as does ``time.perf_counter`` (it measures real
durations). A ``from time import sleep`` done before the keeper started holds the real function: it really sleeps.

Concurrent sleeps overlap, deterministically (discrete-event scheduling). Participants run one at a time: a thread
runs until it sleeps, waits (``Thread.join``, ``Future.result``, ``Event.wait``, ``queue`` gets, a
``Condition.wait``) or ends; then the participant due first runs (earliest wake time, then the order in which they
went to sleep), and the clock moves to its wake time only then. Four threads that each sleep one second move the
clock one second, not four, in the same order every run. A participant blocked in something the keeper cannot see
(a raw ``Lock.acquire``, a socket, a real sleep) is noticed when its stack has not moved for ``stuck_after`` real
seconds while the OS does not have it runnable, and the others go on without it, so nothing deadlocks (it rejoins
the schedule at its next sleep or wait). A woken thread waits its turn too: the one that woke it runs on until it
sleeps or waits. A single-threaded test pays one lock per sleep and gets exactly the clock arithmetic of
:meth:`SimulatedClock.sleep <pytest_kinesis_limits.clock.SimulatedClock.sleep>`.

Waits with a timeout (``Event.wait(5)``, ``queue.get(timeout=5)``) keep wall-clock timeouts: sleep in a loop
instead. ``datetime.now()`` is not simulated. Other moto services (SQS visibility timeouts, DynamoDB TTL) keep
moto's wall clock.

Library code: no pytest import; the plugin's hooks drive :meth:`TimeKeeper.enter`, :meth:`TimeKeeper.exit` and
:meth:`TimeKeeper.close`. What is replaced while a phase runs, and for whom: :mod:`pytest_kinesis_limits.fidelity.timepatch`.
"""

from __future__ import annotations

import _thread
import heapq
import itertools
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter as _real_perf_counter
from typing import Any

from pytest_kinesis_limits.fidelity import timepatch
from pytest_kinesis_limits.clock import SimulatedClock

ACTIVE, READY, SLEEPING, BLOCKED = "active", "ready", "sleeping", "blocked"
WOKEN, STUCK, DONE = "woken", "stuck", "done"
#: Participants that may be running: while one is, simulated time stands still.
_RUNNING = (ACTIVE, WOKEN)


class _Participant:
    """One thread of the test, as the keeper sees it."""

    __slots__ = ("keeper", "name", "ident", "native_id", "thread", "status", "depth", "entry", "grant", "waits_on",
                 "signature", "since")

    def __init__(self, keeper: TimeKeeper, name: str, status: str, thread: threading.Thread | None) -> None:
        self.keeper = keeper
        self.name = name
        self.thread = thread
        self.ident: int | None = None
        self.native_id: int | None = None
        self.status = status
        self.depth = 0  # nesting of known waits
        self.entry: int | None = None  # the sequence number of its live heap entry
        self.grant: Any = None  # a raw lock, held until the keeper lets the thread run
        self.waits_on: int | None = None  # id() of what wakes it: a Condition waiter, a queue, a thread
        self.signature: tuple[int, int] | None = None
        self.since = 0.0

    def __repr__(self) -> str:
        return f"<participant {self.name} {self.status}>"



def active_keeper() -> TimeKeeper | None:
    """The keeper of the test phase running now in this process, if any."""
    return timepatch.active


class TimeKeeper:
    """Schedules the sleeps of a test's threads on a :class:`SimulatedClock` (see the module docstring).

    ``stuck_after`` is how long (real seconds) a running participant's stack may stay unchanged before the others
    go on without it; ``poll`` is how often waiting participants look.
    """

    def __init__(self, clock: SimulatedClock, *, stuck_after: float = 0.1, poll: float = 0.01) -> None:
        self.clock = clock
        self.stuck_after = stuck_after
        self.poll = poll
        self._lock = _thread.allocate_lock()
        self._members: list[_Participant] = []
        self._heap: list[tuple[float, int, _Participant]] = []
        self._waiting: dict[int, list[_Participant]] = {}  # id(what wakes them) -> participants, first come first
        self._seq = itertools.count()
        self._paused = True
        self._closed = False
        self._origin = (clock.now(), time.monotonic_ns())
        self.sleeps = 0  # simulated sleeps served (for tests and the curious)
        self.set_aside = 0  # times a participant was noticed stuck where the keeper cannot see

    # -------------------------------------------------------------------------------- phases (the plugin)
    def enter(self) -> None:
        """Start (or resume) a phase on the calling thread: it becomes a running participant; time is patched."""
        if self._closed:
            raise RuntimeError("this TimeKeeper is closed")
        if timepatch.active is not None and timepatch.active is not self:
            raise RuntimeError(f"another TimeKeeper is active ({timepatch.active!r})")
        member = getattr(timepatch.local, "participant", None)
        with self._lock:
            if member is None or member.keeper is not self:
                member = self._add(threading.current_thread().name, ACTIVE, threading.current_thread())
                member.ident, member.native_id = threading.get_ident(), threading.get_native_id()
                timepatch.local.participant = member
            member.status, member.depth = ACTIVE, 0
            self._paused = False
        self.clock.sleep_hook = self._clock_sleep
        timepatch.install()
        timepatch.active = self

    def exit(self) -> None:
        """End a phase: time is the wall clock again for everyone; sleeping participants stay asleep until the next
        phase (the thread that ran the phase is still running, so simulated time stands still in between)."""
        with self._lock:
            self._paused = True
        if timepatch.active is self:
            timepatch.active = None
        timepatch.uninstall()

    def close(self) -> None:
        """End the test: every participant still waiting goes on at once, on the wall clock from now on."""
        self.exit()
        with self._lock:
            self._closed = True
            for member in self._members:
                if member.grant is not None:
                    self._grant(member)
        if self.clock.sleep_hook == self._clock_sleep:
            self.clock.sleep_hook = None

    @contextmanager
    def phase(self) -> Iterator[TimeKeeper]:
        """``enter`` ... ``exit`` as a context manager."""
        self.enter()
        try:
            yield self
        finally:
            self.exit()

    # -------------------------------------------------------------------------------- what participants call
    def sleep(self, member: _Participant, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time as ``member`` (the calling thread)."""
        with self._lock:
            self.sleeps += 1
            if self._paused or self._closed or not any(m is not member and m.status != DONE for m in self._members):
                self.clock.advance(seconds)  # alone: exactly SimulatedClock.sleep
                return
            self._queue(member, SLEEPING, self.clock.now() + seconds)
            self._dispatch()
        self._await(member)

    def block(self, member: _Participant, woken_by: object) -> None:
        """``member`` is about to wait until ``woken_by`` (a Condition's waiter lock, a queue, a thread) wakes it:
        the others may run meanwhile."""
        with self._lock:
            member.depth += 1
            if member.depth == 1:
                member.status = BLOCKED
                member.waits_on = id(woken_by)
                self._waiting.setdefault(id(woken_by), []).append(member)
                self._dispatch()

    def wake(self, woken_by: object, count: int = 1) -> None:
        """Up to ``count`` participants waiting on ``woken_by`` are about to wake (called by whoever wakes them, before
        they run): until they run and wait their turn, simulated time stands still."""
        with self._lock:
            waiting = self._waiting.get(id(woken_by))
            while waiting and count > 0:
                member = waiting.pop(0)
                member.waits_on = None
                if member.status == BLOCKED:
                    member.status = WOKEN
                    member.signature = None
                    count -= 1
            if waiting == []:
                del self._waiting[id(woken_by)]

    def unblock(self, member: _Participant, *, gated: bool = True) -> None:
        """``member``'s wait returned; with ``gated`` it runs again once no other participant is running."""
        with self._lock:
            member.depth = max(0, member.depth - 1)
            if member.depth or member.status not in (BLOCKED, WOKEN):
                return
            self._unlist(member)
            if not gated or self._paused or self._closed:
                member.status = ACTIVE
                return
            self._queue(member, READY, self.clock.now())
            self._dispatch()
        self._await(member)

    # -------------------------------------------------------------------------------- threads
    def adopt(self, thread: threading.Thread) -> _Participant:
        """Register a thread the calling participant is about to start; it runs when its turn comes."""
        with self._lock:
            member = self._add(thread.name, READY, thread)
            if self._paused or self._closed:
                member.status = ACTIVE
            else:
                self._queue(member, READY, self.clock.now())
        return member

    def begin(self, member: _Participant) -> None:
        """In the adopted thread, before its target: wait for the turn."""
        member.ident, member.native_id = threading.get_ident(), threading.get_native_id()
        timepatch.local.participant = member
        self._await(member)

    def end(self, member: _Participant) -> None:
        """In the adopted thread, after its target (even when it raised): whoever joins it is about to wake."""
        with self._lock:
            member.status = DONE
            member.entry = None
            self._unlist(member)
        if member.thread is not None:
            self.wake(member.thread, count=len(self._members))
        with self._lock:
            self._dispatch()

    # -------------------------------------------------------------------------------- internals (under _lock)
    def _add(self, name: str, status: str, thread: threading.Thread | None) -> _Participant:
        member = _Participant(self, name, status, thread)
        self._members = [m for m in self._members if m.status != DONE] + [member]
        return member

    def _unlist(self, member: _Participant) -> None:
        if member.waits_on is not None:
            waiting = self._waiting.get(member.waits_on, [])
            if member in waiting:
                waiting.remove(member)
            if not waiting:
                self._waiting.pop(member.waits_on, None)
            member.waits_on = None

    def _queue(self, member: _Participant, status: str, wake: float) -> None:
        member.status = status
        member.entry = next(self._seq)
        member.grant = _thread.allocate_lock()
        member.grant.acquire()
        heapq.heappush(self._heap, (wake, member.entry, member))

    def _grant(self, member: _Participant) -> None:
        member.status = ACTIVE
        member.entry = None
        member.signature = None
        grant, member.grant = member.grant, None
        if grant is not None:
            grant.release()

    def _dispatch(self) -> None:
        """If no participant is running, run the one due first (moving the clock to its wake time)."""
        if self._paused or self._closed or any(m.status in _RUNNING for m in self._members):
            return
        while self._heap:
            wake, entry, member = heapq.heappop(self._heap)
            if member.entry != entry:
                continue  # stale: it left the queue another way
            self.clock.advance_to(wake)
            self._grant(member)
            return

    def _check_stuck(self) -> None:
        """Running participants whose stack has not moved for ``stuck_after`` are set aside (blocked where the
        keeper cannot see, or a wake that went to another thread); then dispatch."""
        if self._paused or self._closed:
            return
        frames = sys._current_frames()
        now = _real_perf_counter()
        for member in self._members:
            if member.status not in _RUNNING or member.ident is None:
                continue
            frame = frames.get(member.ident)
            if frame is None:
                member.status = DONE  # the thread is gone
                continue
            signature = (id(frame), frame.f_lasti)
            if signature != member.signature or _runnable(member.native_id):
                member.signature, member.since = signature, now
            elif now - member.since >= self.stuck_after:
                member.status = STUCK if member.status == ACTIVE else BLOCKED
                self.set_aside += 1
        del frames
        self._dispatch()

    def _await(self, member: _Participant) -> None:
        grant = member.grant
        if grant is None:
            return
        try:
            while not grant.acquire(True, self.poll):
                with self._lock:
                    if member.grant is not grant:
                        break
                    self._check_stuck()
        except BaseException:  # pytest-timeout's signal, Ctrl-C: leave the queue and run on
            with self._lock:
                if member.grant is grant:
                    member.grant = None
                    member.entry = None
                    member.status = ACTIVE
            raise

    def _clock_sleep(self, seconds: float) -> bool:
        """``SimulatedClock.sleep`` from a participant goes through the schedule too."""
        member = timepatch.member()
        if member is None:
            return False
        self.sleep(member, seconds)
        return True

    # -------------------------------------------------------------------------------- simulated readings
    def now(self) -> float:
        return self.clock.now()

    def monotonic_ns(self) -> int:
        start, mono = self._origin
        return mono + round((self.clock.now() - start) * 1e9)

    def __repr__(self) -> str:
        return f"TimeKeeper(clock={self.clock!r}, participants={len(self._members)})"


def _runnable(native_id: int | None) -> bool:
    """Whether the OS says the thread is running or waiting for a CPU (Linux: state R): on a loaded machine a
    thread may get no CPU for a while, which is not being blocked. Elsewhere (no /proc) unknown: False."""
    if native_id is None:
        return False
    try:
        with open(f"/proc/self/task/{native_id}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] == b"R"
    except (OSError, IndexError):
        return False


__all__ = ["TimeKeeper", "active_keeper"]
