"""SIGTERM handled like Ctrl-C in live and endpoint runs, so that a stopped run deletes what it made.

CI cancellation, ``timeout``, ``docker stop`` and ``kill PID`` send SIGTERM, whose default action ends a process
at once: no fixture finalizer runs and every stream, bucket, delivery stream and role of the run is left behind.
A :class:`Guard` makes SIGTERM do what Ctrl-C does, in each kind of pytest process:

- **A process that runs tests** (a plain run, or a pytest-xdist worker). The first SIGTERM raises
  KeyboardInterrupt where the test is, so pytest stops as on Ctrl-C and tears every fixture down, deleting the
  resources. A SIGTERM that comes while that cleanup runs (a second one, or one after Ctrl-C: CI runners send
  SIGINT, then SIGTERM) is ignored with a note on stderr, so it cannot cut a deletion short.
- **A pytest-xdist controller** runs no tests and owns no resources, but it stops its workers: on its own
  Ctrl-C, xdist gives them 10 s and then kills them (``NodeManager.EXIT_TIMEOUT``; and a worker whose controller
  went away ends itself after 15 s), less than deleting a stream or a delivery stream takes. So on SIGTERM or
  SIGINT the controller does not stop itself: it sends SIGTERM to each worker and keeps running, so that xdist
  collects the workers' reports and waits until every worker has finished its cleanup (each deletion has its
  own bound, the wait policy). Only once no worker is left running does a signal stop the controller itself.

Only ``kill -9`` (SIGKILL) cannot be handled: what such a run made is left for ``pytest-kinesis-limits sweep``.

Exit status: the session ends as an interrupted one (the summary, the measurement table, ``--kinesis-report``
and junitxml are written). After Ctrl-C the status is pytest's 2. After SIGTERM it is
:data:`EXIT_STATUS_SIGTERM`, 143 = 128 + 15: what a shell reports for a process ended by SIGTERM, and what
Docker, Kubernetes and the JVM report for a SIGTERM'd program, so CI and wrappers can tell "cancelled" from
pytest's own statuses (0-5). Re-raising SIGTERM at exit (the GNU C library manual's way for a handler that
cleans up) would make the parent see the signal itself, but Python can only do that from an ``atexit``
function, and those run last-registered first: every exit function registered earlier (coverage's data
file, logging's flush, execnet's cleanup) would be skipped.

Plain library code (no pytest): the plugin's hooks decide where a guard is installed (``plugin.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

PREFIX = "pytest-kinesis-limits"
#: The exit status of a run stopped by SIGTERM (128 + the signal's number, as shells report it).
EXIT_STATUS_SIGTERM = 128 + signal.SIGTERM


class Process(Protocol):
    """What a guard needs of a worker process (``subprocess.Popen`` has it)."""

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...


def worker_process(gateway: Any) -> Process | None:
    """The local process behind an execnet gateway that pytest-xdist made, or None (ssh or socket gateways:
    their pid is on another machine, and signalling the local ssh process would only cut the connection).

    xdist starts each ``popen`` worker as a child ``python -c`` process; execnet keeps its ``subprocess.Popen``
    as ``gateway._io.popen`` (execnet 2.1). ``Popen.send_signal`` checks first that the child has not ended, so a
    reused pid is never signalled.
    """
    spec = getattr(gateway, "spec", None)
    if spec is None or not getattr(spec, "popen", False) or getattr(spec, "via", None):
        return None
    popen = getattr(getattr(gateway, "_io", None), "popen", None)
    return popen if hasattr(popen, "send_signal") and hasattr(popen, "poll") else None


class Guard:
    """The SIGTERM (and, in a process that runs tests, SIGINT) handlers of one pytest process.

    ``controller``: this process is a pytest-xdist controller (see the module's text).
    """

    def __init__(self, *, controller: bool = False) -> None:
        self.controller = controller
        self.interrupted = False  # a first SIGTERM or SIGINT was seen
        self.terminated = False  # a SIGTERM was seen
        self.workers: list[Process] = []
        self._previous: dict[int, Any] = {}
        self._stderr_fd: int | None = None

    # ------------------------------------------------------------------------------------------ install
    def install(self) -> bool:
        """Install the handlers; False (and nothing changed) off the main thread or when SIGTERM already has a
        handler other than the default (the program running pytest handles it: leave it alone)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return False
        with contextlib.suppress(OSError):
            self._stderr_fd = os.dup(2)  # the terminal now: pytest's fd capture redirects fd 2 during tests
        handlers: dict[int, Callable[[int, FrameType | None], None]] = {signal.SIGTERM: self._on_signal}
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            handlers[signal.SIGINT] = self._on_signal
        for signum, handler in handlers.items():
            self._previous[signum] = signal.signal(signum, handler)
        return True

    def uninstall(self) -> None:
        """Put the previous handlers back (where ours is still in place)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, previous)
        self._previous.clear()
        if self._stderr_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._stderr_fd)
            self._stderr_fd = None

    def add_worker(self, process: Process | None) -> None:
        """A worker process the controller is to pass signals to."""
        if process is not None:
            self.workers.append(process)

    # ------------------------------------------------------------------------------------------ handling
    def _note(self, text: str) -> None:
        fd = self._stderr_fd if self._stderr_fd is not None else 2
        with contextlib.suppress(OSError):
            os.write(fd, f"\n{PREFIX}: {text}\n".encode())

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True  # pytest then reports the interrupt where the test was, not here
        name = signal.Signals(signum).name
        first = not self.interrupted
        self.interrupted = True
        if signum == signal.SIGTERM:
            self.terminated = True
        if self.controller:
            running = [w for w in self.workers if w.poll() is None]
            if running:
                for worker in running:
                    with contextlib.suppress(OSError):
                        worker.send_signal(signal.SIGTERM)
                self._note(f"{name}: stopping {len(running)} xdist worker(s); each deletes what it made first "
                           "(kill -9 would leave it to 'pytest-kinesis-limits sweep')" if first else
                           f"{name}: still waiting for {len(running)} xdist worker(s) to delete what they made "
                           "(kill -9 would leave it to 'pytest-kinesis-limits sweep')")
                return
            raise KeyboardInterrupt  # no worker (left) to wait for: stop here, as on Ctrl-C
        if signum == signal.SIGINT:
            raise KeyboardInterrupt  # what Python's default handler does
        if not first:
            self._note("SIGTERM: still deleting what this run made; a second SIGTERM does not stop that "
                       "(kill -9 would leave it to 'pytest-kinesis-limits sweep')")
            return
        self._note("SIGTERM: stopping as on Ctrl-C; deleting what this run made first")
        raise KeyboardInterrupt
