"""The account's streams in transition across a run's processes (transitions.py): at most five CREATING or DELETING,
CreateStream and DeleteStream at most five calls a second; shown with real processes sharing one ledger."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from pytest_kinesis_limits.live.transitions import TransitionLimiter

HOLD_S = 0.4


def _hold_a_slot(folder: str, capacity: int) -> tuple[float, float]:
    limiter = TransitionLimiter(folder, capacity=capacity, rates={}, poll_s=0.02)
    lease = limiter.acquire("CreateStream", hold_s=30)
    began = time.monotonic()
    time.sleep(HOLD_S)
    ended = time.monotonic()
    limiter.release(lease)
    return began, ended


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(b, 1) for b, _ in spans] + [(e, -1) for _, e in spans])
    most = held = 0
    for _, step in events:
        held += step
        most = max(most, held)
    return most


@pytest.mark.parametrize(("capacity", "most"), [(5, 5), (8, 8)])
def test_eight_processes_never_hold_more_than_the_capacity(tmp_path, capacity, most):
    """With the account's five, eight workers make streams in two waves; with eight slots (the rule broken) the
    same processes hold eight at once, so the check can fail."""
    with ProcessPoolExecutor(max_workers=8) as pool:
        spans = list(pool.map(_hold_a_slot, [str(tmp_path)] * 8, [capacity] * 8))
    assert _most_at_once(spans) == most


class _FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_calls_are_kept_under_five_a_second(tmp_path):
    fake = _FakeTime()
    limiter = TransitionLimiter(str(tmp_path), capacity=100, now=fake.now, sleep=fake.sleep)
    for _ in range(6):
        limiter.release(limiter.acquire("DeleteStream", hold_s=30))
    assert fake.t >= 1001.0 and limiter.waited_s >= 1.0  # the sixth call waited for the first to age out


def test_a_slot_lapses_after_its_hold(tmp_path):
    fake = _FakeTime()
    limiter = TransitionLimiter(str(tmp_path), capacity=1, rates={}, now=fake.now, sleep=fake.sleep)
    limiter.acquire("DeleteStream", hold_s=30)  # never released: lapses after the typical DELETING window
    limiter.acquire("CreateStream", hold_s=30)
    assert fake.t >= 1030.0


def test_a_slot_goes_with_the_process_that_held_it(tmp_path):
    limiter = TransitionLimiter(str(tmp_path), capacity=10, rates={})
    mine = limiter.acquire("CreateStream", hold_s=3600)
    with ProcessPoolExecutor(max_workers=1) as pool:  # a worker that held a slot and died
        pool.submit(_take_and_exit, str(tmp_path)).result()
        assert limiter.in_transition() == 2
    assert limiter.in_transition() == 1  # this process's own; the dead one's is gone
    limiter.release(mine)
    assert limiter.in_transition() == 0


def _take_and_exit(folder: str) -> int:
    TransitionLimiter(folder, capacity=10, rates={}).acquire("CreateStream", hold_s=3600)
    return os.getpid()


def test_a_stuck_account_ends_in_a_clear_error(tmp_path):
    fake = _FakeTime()
    limiter = TransitionLimiter(str(tmp_path), capacity=1, rates={}, now=fake.now, sleep=fake.sleep, bound_s=5)
    limiter.acquire("CreateStream", hold_s=3600)
    with pytest.raises(TimeoutError, match="no slot among the account's 1 streams in transition"):
        limiter.acquire("CreateStream", hold_s=30)


def test_a_delete_slot_is_held_while_its_stream_is_deleting_and_frees_once_it_is_gone(tmp_path):
    """AWS counts a DELETING stream among the five: a delete slot outlives the typical window while the stream
    exists (so the sixth waits), and frees at once when it is gone (issue 20, item 4)."""
    fake = _FakeTime()
    existing = {"s0", "s1"}
    limiter = TransitionLimiter(str(tmp_path), capacity=2, rates={}, now=fake.now, sleep=fake.sleep,
                                gone=lambda name: name not in existing)
    for name in ("s0", "s1"):
        limiter.acquire("DeleteStream", hold_s=30, stream=name)
    fake.t += 60  # past the typical window: the streams are still DELETING, so the slots still count
    with pytest.raises(TimeoutError):
        TransitionLimiter(str(tmp_path), capacity=2, rates={}, now=fake.now, sleep=fake.sleep, bound_s=10,
                          gone=lambda name: name not in existing).acquire("CreateStream", hold_s=30)
    existing.discard("s1")  # one deletion is over
    waited = fake.t
    limiter.acquire("CreateStream", hold_s=30)
    assert fake.t == waited  # taken at once: the gone stream's slot was dropped


def test_without_a_check_a_delete_slot_lapses_after_the_typical_window(tmp_path):
    fake = _FakeTime()
    limiter = TransitionLimiter(str(tmp_path), capacity=1, rates={}, now=fake.now, sleep=fake.sleep)
    limiter.acquire("DeleteStream", hold_s=30, stream="s0")
    started = fake.t
    limiter.acquire("CreateStream", hold_s=30)
    assert 30 <= fake.t - started <= 31


def test_a_killed_runs_folder_is_removed_by_the_next_run(tmp_path):
    """kill -9 leaves a run's ledger folder behind: the next run removes the folders whose owner is gone, and keeps
    those of runs still going (and an owner-less folder until it is a day old)."""
    import subprocess
    import sys

    from pytest_kinesis_limits.live.transitions import OWNER_FILE, new_run_folder, remove_abandoned

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = tmp_path / "pytest-kinesis-limits-run-killed"
    killed.mkdir()
    (killed / OWNER_FILE).write_text(dead.stdout.strip())
    running = tmp_path / "pytest-kinesis-limits-run-running"
    running.mkdir()
    (running / OWNER_FILE).write_text(str(os.getpid()))
    old_release = tmp_path / "pytest-kinesis-limits-run-older"
    old_release.mkdir()
    mine = new_run_folder(str(tmp_path))
    assert not killed.exists() and running.exists() and old_release.exists()
    assert (tmp_path / mine).joinpath(OWNER_FILE).read_text() == str(os.getpid())
    assert remove_abandoned(str(tmp_path), now=time.time() + 2 * 86_400) == [str(old_release)]
