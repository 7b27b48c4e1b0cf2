"""What the :class:`~pytest_kinesis_limits.fidelity.simtime.TimeKeeper` replaces while a test phase runs, and who it reaches.

``time.sleep``, ``time.time``, ``time.time_ns``, ``time.monotonic``, ``time.monotonic_ns``: simulated for the
test's threads (participants) when the caller is the test's code or a library (botocore's retries and waiters,
moto, the user's package), real for everyone else and for the standard library and test runner calling them
itself (asyncio, subprocess, logging, pytest); a stdlib function that calls a function it was handed
(``executor.submit(time.sleep, 1)``) does not name it, and that call is the test's own.

``Thread.start`` (a participant's new thread is a participant and waits its turn), ``Thread.join``,
``Condition.wait`` / ``notify`` (CPython's ``wait``, plus the keeper: who is woken is known at ``notify``, and a
woken participant waits its turn before it takes the condition's lock back), ``queue.SimpleQueue`` (what
``ThreadPoolExecutor`` hands work through): the waits the keeper sees, so a waiting thread never holds simulated
time up. Everything here is inert outside a phase; install and uninstall leave a test's own ``monkeypatch`` alone.

No pytest import; imported by :mod:`pytest_kinesis_limits.fidelity.simtime` only.
"""

from __future__ import annotations

import _thread
import itertools
import os
import queue
import sys
import sysconfig
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.simtime import TimeKeeper, _Participant

#: Top-level modules whose calls to ``time`` keep the wall clock: the test runner and its plugins.
TOOLING_MODULES = frozenset({"_pytest", "pytest", "pluggy", "xdist", "execnet", "pytest_timeout", "py"})
_STDLIB_DIRS = tuple(sorted({os.path.join(sysconfig.get_paths()[key], "") for key in ("stdlib", "platstdlib")}))
_real_time_code: dict[tuple[Any, str], bool] = {}  # (code, function) -> whether its calls keep the wall clock

local = threading.local()  # .participant: the thread's participant; .quiet: inside Thread.start
active: TimeKeeper | None = None  # the keeper of the phase running now, if any (set by TimeKeeper.enter)


def member() -> _Participant | None:
    """The calling thread's participant in the active keeper (None: a thread that keeps real time)."""
    keeper = active
    if keeper is None or getattr(local, "quiet", False):
        return None
    found: _Participant | None = getattr(local, "participant", None)
    if found is None or found.keeper is not keeper:
        return None
    return found


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


_saved: dict[tuple[Any, str], Any] = {}


def _original(owner: Any, name: str) -> Any:
    return _saved[(owner, name)]


def _sleep(seconds: float) -> None:
    me = member()
    if me is None or not _simulated_caller("sleep"):
        return _original(time, "sleep")(seconds)  # type: ignore[no-any-return]
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    me.keeper.sleep(me, seconds)
    return None


def _time() -> float:
    me = member()
    if me is None or not _simulated_caller("time"):
        return float(_original(time, "time")())
    return me.keeper.now()


def _time_ns() -> int:
    me = member()
    if me is None or not _simulated_caller("time_ns"):
        return int(_original(time, "time_ns")())
    return round(me.keeper.now() * 1e9)


def _monotonic() -> float:
    me = member()
    if me is None or not _simulated_caller("monotonic"):
        return float(_original(time, "monotonic")())
    return me.keeper.monotonic_ns() / 1e9


def _monotonic_ns() -> int:
    me = member()
    if me is None or not _simulated_caller("monotonic_ns"):
        return int(_original(time, "monotonic_ns")())
    return me.keeper.monotonic_ns()


#: Set on the threads of the offline backend's own servers (:func:`service_thread`).
SERVICE_THREAD_ATTR = "_kinesis_limits_service_thread"


def service_thread(target: Any, name: str) -> threading.Thread:
    """A daemon thread for one of the offline backend's own servers (the search stand-in's data plane): it keeps the
    wall clock and never joins a test's schedule, even when a test's code starts it. Adopted, a server thread blocked
    in ``select`` would make every simulated sleep of the test wait for its real-time poll (0.5 s, issue 23)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    setattr(thread, SERVICE_THREAD_ATTR, True)
    return thread


def _tooling_thread(thread: threading.Thread) -> bool:
    if getattr(thread, SERVICE_THREAD_ATTR, False):
        return True
    for part in (type(thread), getattr(thread, "_target", None), getattr(thread, "function", None)):
        module = getattr(part, "__module__", None) or ""
        if module.partition(".")[0] in TOOLING_MODULES:
            return True
    return False


def _thread_start(self: threading.Thread) -> None:
    me = member()
    start = _original(threading.Thread, "start")
    if me is None or _tooling_thread(self):
        return start(self)  # type: ignore[no-any-return]
    keeper = me.keeper
    child = keeper.adopt(self)
    run = self.run

    def run_in_turn() -> None:
        keeper.begin(child)
        try:
            run()
        finally:
            keeper.end(child)

    self.run = run_in_turn  # type: ignore[method-assign]
    local.quiet = True  # Thread.start waits for the thread to signal it started: not a scheduling point
    try:
        start(self)
    except BaseException:
        keeper.end(child)
        raise
    finally:
        local.quiet = False
    return None


def _thread_join(self: threading.Thread, timeout: float | None = None) -> None:
    me = member()
    join = _original(threading.Thread, "join")
    if me is None or not self.is_alive() or self is threading.current_thread():
        return join(self, timeout)  # type: ignore[no-any-return]
    keeper = me.keeper
    keeper.block(me, self)
    try:
        return join(self, timeout)  # type: ignore[no-any-return]
    finally:
        keeper.unblock(me)


def _condition_wait(self: threading.Condition, timeout: float | None = None) -> bool:
    """``Condition.wait`` as CPython writes it, plus the keeper: the waiter is registered so that ``notify`` can say
    who wakes, and a woken participant waits its turn *before* it takes the condition's lock back (so the thread
    that woke it, still running, can use that lock)."""
    me = member()
    if (me is None or (timeout is not None and timeout <= 0)
            or not hasattr(self, "_waiters") or not hasattr(self, "_release_save")):
        return _original(threading.Condition, "wait")(self, timeout)  # type: ignore[no-any-return]
    if not self._is_owned():  # type: ignore[attr-defined]
        raise RuntimeError("cannot wait on un-acquired lock")
    keeper = me.keeper
    waiter = _thread.allocate_lock()
    waiter.acquire()
    self._waiters.append(waiter)  # type: ignore[attr-defined]
    keeper.block(me, waiter)
    saved_state = self._release_save()  # type: ignore[attr-defined]
    gotit = False
    try:
        if timeout is None:
            waiter.acquire()
            gotit = True
        else:
            gotit = waiter.acquire(True, timeout)
        keeper.unblock(me)
        return gotit
    finally:
        if me.depth:  # interrupted before unblock: leave the wait without waiting a turn
            keeper.unblock(me, gated=False)
        self._acquire_restore(saved_state)  # type: ignore[attr-defined]
        if not gotit:
            try:
                self._waiters.remove(waiter)  # type: ignore[attr-defined]
            except ValueError:
                pass


def _condition_notify(self: threading.Condition, n: int = 1) -> None:
    keeper = active
    if keeper is not None and hasattr(self, "_waiters") and self._is_owned():  # type: ignore[attr-defined]
        for waiter in list(itertools.islice(self._waiters, n)):  # type: ignore[attr-defined]
            keeper.wake(waiter)
    return _original(threading.Condition, "notify")(self, n)  # type: ignore[no-any-return]


class SimpleQueue(queue.SimpleQueue):  # type: ignore[type-arg]
    """``queue.SimpleQueue`` (what ``ThreadPoolExecutor`` hands work through) whose blocking ``get`` the keeper sees,
    so an idle pool worker neither holds simulated time up nor misses its turn when work arrives. Installed as
    ``queue.SimpleQueue`` during a phase. A participant waits on a lock of its own, released by ``put`` in arrival
    order, so the keeper knows exactly which worker a ``put`` wakes (the C queue wakes its waiters in no set order).
    """

    def __init__(self) -> None:
        self._waiters: list[Any] = []  # participants' wake locks, first come first
        self._guard = _thread.allocate_lock()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        me = member()
        if me is None or not block:
            return super().get(block, timeout)
        keeper = me.keeper
        while True:
            with self._guard:
                try:
                    return super().get(False)
                except queue.Empty:
                    waiter = _thread.allocate_lock()
                    waiter.acquire()
                    self._waiters.append(waiter)
            keeper.block(me, waiter)
            try:
                woken = waiter.acquire(True, -1 if timeout is None else timeout)
            finally:
                with self._guard:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
                keeper.unblock(me)
            if not woken:
                return super().get(False)  # the timeout passed: an item, or queue.Empty as the real one raises

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with self._guard:
            super().put(item, block, timeout)
            waiter = self._waiters.pop(0) if self._waiters else None
        if waiter is not None:
            keeper = active
            if keeper is not None:
                keeper.wake(waiter)
            waiter.release()

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


def install() -> None:
    """Put our functions in place, except where something else (a test's ``monkeypatch``) replaced what we
    restored last time: that replacement is the test's intent and wins."""
    for owner, name, replacement in _PATCHES:
        current = getattr(owner, name)
        if current is replacement:
            continue
        if (owner, name) not in _saved or current is _saved[(owner, name)]:
            _saved[(owner, name)] = current
            setattr(owner, name, replacement)


def uninstall() -> None:
    """Restore what was there before, where nothing else replaced our function meanwhile (a test's own
    ``monkeypatch`` of ``time.sleep`` is left for its own undo)."""
    for owner, name, replacement in _PATCHES:
        if getattr(owner, name) is replacement and (owner, name) in _saved:
            setattr(owner, name, _saved[(owner, name)])




__all__ = ["SimpleQueue", "install", "member", "uninstall"]
