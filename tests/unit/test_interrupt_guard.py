"""The signal handlers of interrupts.Guard, with real signals sent to this process (issue 9, item 3).

The end-to-end proofs (a pytest subprocess signalled mid-test and mid-teardown, what the endpoint still holds
afterwards, pytest-xdist) are in tests/plugin/test_interrupts.py.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator

import pytest

from pytest_kinesis_limits.live.interrupts import Guard, worker_process


class FakeWorker:
    """Stands for a worker's subprocess.Popen."""

    def __init__(self, running: bool = True) -> None:
        self.running = running
        self.signals: list[int] = []

    def poll(self) -> int | None:
        return None if self.running else 0

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)


@pytest.fixture
def installed() -> Iterator[Callable[[Guard], Guard]]:
    """Installs the guards a test makes (checking that they really handle SIGTERM, so that a signal sent to this
    process can never end it) and uninstalls them afterwards."""
    guards: list[Guard] = []
    # As pytest starts from a terminal: Ctrl-C raises KeyboardInterrupt. A shell's background job starts with SIGINT
    # ignored (POSIX: asynchronous lists of a non-interactive shell), where the guard rightly leaves SIGINT alone.
    started_with = signal.signal(signal.SIGINT, signal.default_int_handler)

    def install(guard: Guard) -> Guard:
        assert guard.install()
        assert signal.getsignal(signal.SIGTERM) == guard._on_signal
        guards.append(guard)
        return guard

    try:
        yield install
    finally:
        for guard in guards:
            guard.uninstall()
        signal.signal(signal.SIGINT, started_with)


def test_the_first_sigterm_interrupts_like_ctrl_c_and_later_ones_are_ignored(installed, capfd) -> None:
    guard = installed(Guard())
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)
    assert guard.interrupted and guard.terminated
    signal.raise_signal(signal.SIGTERM)  # during the cleanup: noted, not raised
    assert "a second SIGTERM does not stop that" in capfd.readouterr().err


def test_a_sigterm_after_ctrl_c_does_not_cut_the_cleanup(installed) -> None:
    """CI runners cancel with SIGINT, then SIGTERM a few seconds later."""
    guard = installed(Guard())
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert guard.interrupted and not guard.terminated
    signal.raise_signal(signal.SIGTERM)
    assert guard.terminated


def test_the_xdist_controller_passes_the_signal_to_its_workers_and_keeps_running(installed) -> None:
    """SIGTERM or Ctrl-C to the controller: SIGTERM to every running worker, no KeyboardInterrupt (xdist would
    kill the workers 10 s later), until no worker is left."""
    guard = installed(Guard(controller=True))
    running, ended = FakeWorker(), FakeWorker(running=False)
    guard.add_worker(running)
    guard.add_worker(ended)
    signal.raise_signal(signal.SIGINT)
    signal.raise_signal(signal.SIGTERM)
    assert running.signals == [signal.SIGTERM, signal.SIGTERM] and ended.signals == []
    running.running = False
    with pytest.raises(KeyboardInterrupt):  # nothing left to wait for: the controller stops itself
        signal.raise_signal(signal.SIGTERM)


def test_a_controller_with_no_worker_yet_stops_itself(installed) -> None:
    installed(Guard(controller=True))
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)


def test_a_handler_already_there_is_left_alone() -> None:
    def theirs(signum, frame):  # noqa: ANN001
        pass

    previous = signal.signal(signal.SIGTERM, theirs)
    try:
        assert not Guard().install()
        assert signal.getsignal(signal.SIGTERM) is theirs
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_uninstall_puts_the_defaults_back(installed) -> None:
    guard = installed(Guard())
    guard.uninstall()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_only_local_popen_workers_are_signalled() -> None:
    class Spec:
        def __init__(self, popen: bool, via: str | None = None) -> None:
            self.popen, self.via = popen, via

    class Io:
        popen = FakeWorker()

    class Gateway:
        def __init__(self, spec: Spec) -> None:
            self.spec, self._io = spec, Io()

    assert worker_process(Gateway(Spec(popen=True))) is Io.popen
    assert worker_process(Gateway(Spec(popen=False))) is None  # ssh or socket: the pid is on another machine
    assert worker_process(Gateway(Spec(popen=True, via="gw0"))) is None
