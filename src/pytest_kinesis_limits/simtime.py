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
seconds, and the others go on without it, so nothing deadlocks. A thread woken from a plain ``Condition.wait`` runs
at once beside the one that woke it. A single-threaded test pays one lock per sleep and gets exactly the clock
arithmetic of :meth:`SimulatedClock.sleep <pytest_kinesis_limits.clock.SimulatedClock.sleep>`.

Waits with a timeout (``Event.wait(5)``, ``queue.get(timeout=5)``) keep wall-clock timeouts: sleep in a loop
instead. ``datetime.now()`` is not simulated. Other moto services (SQS visibility timeouts, DynamoDB TTL) keep
moto's wall clock.

Library code: no pytest import; the plugin's hooks drive :meth:`TimeKeeper.enter`, :meth:`TimeKeeper.exit` and
:meth:`TimeKeeper.close`.
"""

from __future__ import annotations

import _thread
import heapq
import itertools
import queue
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter as _real_perf_counter
from typing import Any

from .clock import SimulatedClock

#: Top-level modules whose calls to ``time`` keep the wall clock: the test runner and its plugins.
TOOLING_MODULES = frozenset({"_pytest", "pytest", "pluggy", "xdist", "execnet", "pytest_timeout", "py"})
_STDLIB_DIRS = tuple(sorted({os.path.join(sysconfig.get_paths()[key], "") for key in ("stdlib", "platstdlib")}))
_real_time_code: dict[tuple[Any, str], bool] = {}  # (code, function) -> whether its calls keep the wall clock

ACTIVE, READY, SLEEPING, BLOCKED, WOKEN, STUCK, DONE = "active", "ready", "sleeping", "blocked", "woken", "stuck", "done"
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


_local = threading.local()
_active: TimeKeeper | None = None  # the keeper of the phase running now, if any


def active_keeper() -> TimeKeeper | None:
    """The keeper of the test phase running now in this process, if any."""
    return _active


def _member() -> _Participant | None:
    """The calling thread's participant in the active keeper (None: a thread that keeps real time)."""
    keeper = _active
    if keeper is None or getattr(_local, "quiet", False):
        return None
    member: _Participant | None = getattr(_local, "participant", None)
    if member is None or member.keeper is not keeper:
        return None
    return member


def _simulated_caller(name: str) -> bool:
    """Whether the caller of the patched ``time.<name>`` (two frames up) gets simulated time: not when it is the
    standard library (by file: a user's package may be named like a stdlib module) or the test runner and its plugins
    (by module) calling ``time.<name>`` itself; a stdlib function that calls a function it was handed
    (``executor.submit(time.sleep, 1)``) does not name it, and the call is the test's own."""
    code = sys._getframe(2).f_code
    real = _real_time_code.get((code, name))
    if real is None:
        filename = code.co_filename
        module = sys._getframe(2).f_globals.get("__name__", "") or ""
        machinery = (filename.startswith("<frozen") or module.partition(".")[0] in TOOLING_MODULES
                     or (filename.startswith(_STDLIB_DIRS) and "site-packages" not in filename))
        real = machinery and name in code.co_names
        if len(_real_time_code) < 4096:
            _real_time_code[(code, name)] = real
    return not real


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
        global _active
        if self._closed:
            raise RuntimeError("this TimeKeeper is closed")
        if _active is not None and _active is not self:
            raise RuntimeError(f"another TimeKeeper is active ({_active!r})")
        member = getattr(_local, "participant", None)
        with self._lock:
            if member is None or member.keeper is not self:
                member = self._add(threading.current_thread().name, ACTIVE, threading.current_thread())
                member.ident, member.native_id = threading.get_ident(), threading.get_native_id()
                _local.participant = member
            member.status, member.depth = ACTIVE, 0
            self._paused = False
        self.clock.sleep_hook = self._clock_sleep
        _install()
        _active = self

    def exit(self) -> None:
        """End a phase: time is the wall clock again for everyone; sleeping participants stay asleep until the next
        phase (the thread that ran the phase is still running, so simulated time stands still in between)."""
        global _active
        with self._lock:
            self._paused = True
        if _active is self:
            _active = None
        _uninstall()

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
        _local.participant = member
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
        member = _member()
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


# ------------------------------------------------------------------------------------------------ patches
_saved: dict[tuple[Any, str], Any] = {}


def _original(owner: Any, name: str) -> Any:
    return _saved[(owner, name)]


def _sleep(seconds: float) -> None:
    member = _member()
    if member is None or not _simulated_caller("sleep"):
        return _original(time, "sleep")(seconds)  # type: ignore[no-any-return]
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    member.keeper.sleep(member, seconds)
    return None


def _time() -> float:
    member = _member()
    if member is None or not _simulated_caller("time"):
        return float(_original(time, "time")())
    return member.keeper.now()


def _time_ns() -> int:
    member = _member()
    if member is None or not _simulated_caller("time_ns"):
        return int(_original(time, "time_ns")())
    return round(member.keeper.now() * 1e9)


def _monotonic() -> float:
    member = _member()
    if member is None or not _simulated_caller("monotonic"):
        return float(_original(time, "monotonic")())
    return member.keeper.monotonic_ns() / 1e9


def _monotonic_ns() -> int:
    member = _member()
    if member is None or not _simulated_caller("monotonic_ns"):
        return int(_original(time, "monotonic_ns")())
    return member.keeper.monotonic_ns()


def _tooling_thread(thread: threading.Thread) -> bool:
    for part in (type(thread), getattr(thread, "_target", None), getattr(thread, "function", None)):
        module = getattr(part, "__module__", None) or ""
        if module.partition(".")[0] in TOOLING_MODULES:
            return True
    return False


def _thread_start(self: threading.Thread) -> None:
    member = _member()
    start = _original(threading.Thread, "start")
    if member is None or _tooling_thread(self):
        return start(self)  # type: ignore[no-any-return]
    keeper = member.keeper
    child = keeper.adopt(self)
    run = self.run

    def run_in_turn() -> None:
        keeper.begin(child)
        try:
            run()
        finally:
            keeper.end(child)

    self.run = run_in_turn  # type: ignore[method-assign]
    _local.quiet = True  # Thread.start waits for the thread to signal it started: not a scheduling point
    try:
        start(self)
    except BaseException:
        keeper.end(child)
        raise
    finally:
        _local.quiet = False
    return None


def _thread_join(self: threading.Thread, timeout: float | None = None) -> None:
    member = _member()
    join = _original(threading.Thread, "join")
    if member is None or not self.is_alive() or self is threading.current_thread():
        return join(self, timeout)  # type: ignore[no-any-return]
    keeper = member.keeper
    keeper.block(member, self)
    try:
        return join(self, timeout)  # type: ignore[no-any-return]
    finally:
        keeper.unblock(member)


def _condition_wait(self: threading.Condition, timeout: float | None = None) -> bool:
    """``Condition.wait`` as CPython writes it, plus the keeper: the waiter is registered so that ``notify`` can say
    who wakes, and a woken participant waits its turn *before* it takes the condition's lock back (so the thread
    that woke it, still running, can use that lock)."""
    member = _member()
    if (member is None or (timeout is not None and timeout <= 0)
            or not hasattr(self, "_waiters") or not hasattr(self, "_release_save")):
        return _original(threading.Condition, "wait")(self, timeout)  # type: ignore[no-any-return]
    if not self._is_owned():  # type: ignore[attr-defined]
        raise RuntimeError("cannot wait on un-acquired lock")
    keeper = member.keeper
    waiter = _thread.allocate_lock()
    waiter.acquire()
    self._waiters.append(waiter)  # type: ignore[attr-defined]
    keeper.block(member, waiter)
    saved_state = self._release_save()  # type: ignore[attr-defined]
    gotit = False
    try:
        if timeout is None:
            waiter.acquire()
            gotit = True
        else:
            gotit = waiter.acquire(True, timeout)
        keeper.unblock(member)
        return gotit
    finally:
        if member.depth:  # interrupted before unblock: leave the wait without waiting a turn
            keeper.unblock(member, gated=False)
        self._acquire_restore(saved_state)  # type: ignore[attr-defined]
        if not gotit:
            try:
                self._waiters.remove(waiter)  # type: ignore[attr-defined]
            except ValueError:
                pass


def _condition_notify(self: threading.Condition, n: int = 1) -> None:
    keeper = _active
    if keeper is not None and hasattr(self, "_waiters") and self._is_owned():  # type: ignore[attr-defined]
        for waiter in list(itertools.islice(self._waiters, n)):  # type: ignore[attr-defined]
            keeper.wake(waiter)
    return _original(threading.Condition, "notify")(self, n)  # type: ignore[no-any-return]


class SimpleQueue(queue.SimpleQueue):  # type: ignore[type-arg]
    """``queue.SimpleQueue`` (what ``ThreadPoolExecutor`` hands work through) whose blocking ``get`` and ``put`` the
    keeper sees, so an idle pool worker neither holds simulated time up nor misses its turn when work arrives.
    Installed as ``queue.SimpleQueue`` during a phase."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        member = _member()
        if member is None or not block:
            return super().get(block, timeout)
        try:
            return super().get(False)
        except queue.Empty:
            pass
        keeper = member.keeper
        keeper.block(member, self)
        try:
            return super().get(block, timeout)
        finally:
            keeper.unblock(member)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        keeper = _active
        if keeper is not None:
            keeper.wake(self)

    def put_nowait(self, item: Any) -> None:
        self.put(item, False)


_PATCHES: tuple[tuple[Any, str, Any], ...] = (
    (time, "sleep", _sleep),
    (time, "time", _time),
    (time, "time_ns", _time_ns),
    (time, "monotonic", _monotonic),
    (time, "monotonic_ns", _monotonic_ns),
    (threading.Thread, "start", _thread_start),
    (threading.Thread, "join", _thread_join),
    (threading.Condition, "wait", _condition_wait),
    (threading.Condition, "notify", _condition_notify),
    (queue, "SimpleQueue", SimpleQueue),
)


def _install() -> None:
    """Put our functions in place, except where something else (a test's ``monkeypatch``) replaced what we
    restored last time: that replacement is the test's intent and wins."""
    for owner, name, replacement in _PATCHES:
        current = getattr(owner, name)
        if current is replacement:
            continue
        if (owner, name) not in _saved or current is _saved[(owner, name)]:
            _saved[(owner, name)] = current
            setattr(owner, name, replacement)


def _uninstall() -> None:
    """Restore what was there before, where nothing else replaced our function meanwhile (a test's own
    ``monkeypatch`` of ``time.sleep`` is left for its own undo)."""
    for owner, name, replacement in _PATCHES:
        if getattr(owner, name) is replacement and (owner, name) in _saved:
            setattr(owner, name, _saved[(owner, name)])


__all__ = ["SimpleQueue", "TimeKeeper", "active_keeper"]
