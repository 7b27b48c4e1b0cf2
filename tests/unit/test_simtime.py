"""The TimeKeeper: ordinary sleeps move the simulated clock, concurrent sleeps overlap, the same way every run."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity.simtime import TimeKeeper, active_keeper

START = 1_000_000.0


@pytest.fixture
def keeper() -> Iterator[TimeKeeper]:
    keeper = TimeKeeper(SimulatedClock(START))
    keeper.enter()
    try:
        yield keeper
    finally:
        keeper.close()
    assert active_keeper() is None


def test_a_sleep_moves_the_clock_and_returns_at_once(keeper: TimeKeeper) -> None:
    wall = time.perf_counter()
    time.sleep(1.5)
    time.sleep(0)
    assert keeper.clock.now() == START + 1.5
    assert time.time() == START + 1.5
    assert time.time_ns() == int((START + 1.5) * 1e9)
    assert time.perf_counter() - wall < 1, "perf_counter measures real time, and the sleep took none"
    with pytest.raises(ValueError):
        time.sleep(-1)


def test_monotonic_moves_with_the_sleeps(keeper: TimeKeeper) -> None:
    before = time.monotonic()
    time.sleep(30)
    assert time.monotonic() - before == pytest.approx(30)
    assert time.monotonic_ns() >= int(before * 1e9)


def test_a_deadline_loop_ends_after_the_simulated_seconds(keeper: TimeKeeper) -> None:
    deadline = time.time() + 30
    polls = 0
    while time.time() < deadline:
        polls += 1
        time.sleep(1)
    assert polls == 30


def test_the_clock_sleep_of_the_library_is_the_same_arithmetic(keeper: TimeKeeper) -> None:
    reference = SimulatedClock(START)
    for step in (0.1, 0.25, 1 / 3, 2.0):
        keeper.clock.sleep(step)
        reference.sleep(step)
    assert keeper.clock.now() == reference.now()


def test_outside_a_phase_time_is_real() -> None:
    keeper = TimeKeeper(SimulatedClock(START))
    with keeper.phase():
        time.sleep(5)
    wall = time.perf_counter()
    time.sleep(0.02)
    assert time.perf_counter() - wall >= 0.02
    assert abs(time.time() - START) > 1000
    assert keeper.clock.now() == START + 5
    keeper.close()


def _run_threads(keeper: TimeKeeper, plans: dict[str, list[float]]) -> list[tuple[str, float]]:
    log: list[tuple[str, float]] = []

    def worker(name: str, sleeps: list[float]) -> None:
        for seconds in sleeps:
            time.sleep(seconds)
            log.append((name, time.time() - START))

    threads = [threading.Thread(target=worker, args=(name, plan), name=name) for name, plan in plans.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return log


def test_concurrent_sleeps_overlap_instead_of_adding_up(keeper: TimeKeeper) -> None:
    _run_threads(keeper, {f"t{n}": [1.0] for n in range(4)})
    assert keeper.clock.now() == START + 1.0


def test_threads_that_sleep_run_in_the_same_order_every_time() -> None:
    plans = {"a": [0.5, 0.5, 2.0], "b": [1.0, 0.25, 0.25], "c": [0.75, 0.75, 0.1], "d": [1.0, 1.0]}
    logs = []
    for _ in range(5):
        keeper = TimeKeeper(SimulatedClock(START))
        with keeper.phase():
            logs.append(_run_threads(keeper, plans))
        keeper.close()
        assert keeper.clock.now() == START + 3.0
    assert all(log == logs[0] for log in logs), logs
    times = [t for _, t in logs[0]]
    assert times == sorted(times), "wakes come in simulated-time order"
    assert logs[0][:4] == [("a", 0.5), ("c", 0.75), ("b", 1.0), ("d", 1.0)]  # ties: first to sleep, first to wake


def test_a_thread_pool_with_backoff_is_deterministic() -> None:
    def task(n: int) -> float:
        for attempt in range(n):
            time.sleep(0.1 * 2 ** attempt)
        return time.time() - START

    results = []
    for _ in range(3):
        keeper = TimeKeeper(SimulatedClock(START))
        with keeper.phase():
            with concurrent.futures.ThreadPoolExecutor(3) as pool:
                results.append(list(pool.map(task, [1, 2, 3, 4, 5])))
            end = keeper.clock.now() - START
        keeper.close()
        assert end == pytest.approx(max(results[-1]))
    assert all(r == results[0] for r in results)
    assert results[0][:3] == pytest.approx([0.1, 0.3, 0.7])


def test_a_queue_consumer_and_futures_do_not_hold_time_up(keeper: TimeKeeper) -> None:
    work: queue.Queue[int | None] = queue.Queue()
    seen: list[tuple[int, float]] = []

    def consumer() -> None:
        while (item := work.get()) is not None:
            seen.append((item, time.time() - START))

    thread = threading.Thread(target=consumer)
    thread.start()
    for item in range(3):
        work.put(item)
        time.sleep(1)
    work.put(None)
    thread.join()
    assert seen == [(0, 0.0), (1, 1.0), (2, 2.0)]


def test_a_thread_blocked_where_the_keeper_cannot_see_does_not_deadlock(keeper: TimeKeeper) -> None:
    import _thread

    raw = _thread.allocate_lock()
    raw.acquire()
    got: list[float] = []

    def waits_on_a_raw_lock() -> None:
        raw.acquire()  # invisible to the keeper: it is noticed as stuck
        got.append(time.time() - START)

    thread = threading.Thread(target=waits_on_a_raw_lock)
    thread.start()
    time.sleep(2)  # the other thread is running (blocked in C); after stuck_after we go on
    raw.release()
    thread.join()
    assert got == [2.0]


def test_a_thread_started_before_the_phase_keeps_real_time() -> None:
    slept: list[float] = []
    go = threading.Event()

    def outsider() -> None:
        go.wait()
        wall = time.perf_counter()
        time.sleep(0.05)
        slept.append(time.perf_counter() - wall)

    thread = threading.Thread(target=outsider)
    thread.start()
    keeper = TimeKeeper(SimulatedClock(START))
    with keeper.phase():
        go.set()
        thread.join()
    keeper.close()
    assert slept[0] >= 0.05
    assert keeper.clock.now() == START


def test_the_standard_library_keeps_real_time(keeper: TimeKeeper) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert abs(record.created - START) > 1000, "logging timestamps stay on the wall clock"

    async def nap() -> str:
        await asyncio.sleep(0.01)  # asyncio's loop reads time.monotonic: it must stay real, or this never ends
        return "woke"

    assert asyncio.run(nap()) == "woke"
    assert keeper.clock.now() == START


def test_a_test_that_patches_sleep_itself_wins(keeper: TimeKeeper, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(time, "sleep", calls.append)
    keeper.exit()
    keeper.enter()  # a new phase does not put ours back over the test's own
    time.sleep(3)
    assert calls == [3]
    assert keeper.clock.now() == START


def test_close_wakes_sleepers_left_behind() -> None:
    keeper = TimeKeeper(SimulatedClock(START))
    done = threading.Event()

    def sleeper() -> None:
        time.sleep(1000)
        done.set()

    with keeper.phase():
        thread = threading.Thread(target=sleeper, daemon=True)
        thread.start()
        time.sleep(1)  # the sleeper runs, and sleeps until START + 1000
    keeper.close()
    assert done.wait(5), "close released the sleeper"
    thread.join(5)


def _handoff_timeline() -> list[tuple[str, float]]:
    """A producer that hands work over and sleeps at once: the woken consumer must run before time moves."""
    log: list[tuple[str, float]] = []
    keeper = TimeKeeper(SimulatedClock(START))
    with keeper.phase():
        ready = threading.Event()
        results: queue.Queue[int] = queue.Queue()

        def consumer() -> None:
            ready.wait()
            log.append(("consumer woke", time.time() - START))
            time.sleep(0.5)
            results.put(1)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(time.sleep, 0.25)
            thread = threading.Thread(target=consumer)
            thread.start()
            time.sleep(1)
            ready.set()
            time.sleep(0.1)  # the notifier sleeps straight away
            log.append(("producer", time.time() - START))
            results.get()
            log.append(("result", time.time() - START))
            first.result()
            later = pool.submit(lambda: (time.sleep(2), time.time() - START)[1])  # an idle worker gets work
            time.sleep(0.5)
            log.append(("producer again", time.time() - START))
            log.append(("later", later.result()))
            thread.join()
    keeper.close()
    assert keeper.set_aside == 0, "every wait was seen: nothing needed the stuck fallback"
    return log


def test_a_woken_thread_runs_before_time_moves_on() -> None:
    timelines = [_handoff_timeline() for _ in range(10)]
    assert all(t == timelines[0] for t in timelines), timelines
    events = [event for event, _ in timelines[0]]
    assert events == ["consumer woke", "producer", "result", "producer again", "later"]
    assert [at for _, at in timelines[0]] == pytest.approx([1.0, 1.1, 1.5, 2.0, 3.5])


def test_work_handed_to_idle_pool_workers_starts_before_time_moves() -> None:
    """Several idle workers wait on one SimpleQueue: each submit wakes exactly one, and it runs at once."""
    def run() -> tuple[list[float], int]:
        keeper = TimeKeeper(SimulatedClock(START))
        with keeper.phase():
            with concurrent.futures.ThreadPoolExecutor(3) as pool:
                warm = [pool.submit(time.sleep, 0) for _ in range(3)]  # three workers, now idle
                for future in warm:
                    future.result()
                started = []
                for n in range(6):
                    started.append(pool.submit(lambda: time.time() - START))
                    time.sleep(0.5)
                got = [f.result() for f in started]
        keeper.close()
        return got, keeper.set_aside

    runs = [run() for _ in range(5)]
    assert all(r == runs[0] for r in runs), runs
    assert runs[0] == ([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], 0)


@pytest.mark.parametrize("service", [True, False], ids=["service-thread", "ordinary-thread"])
def test_a_server_thread_of_the_offline_backend_is_never_adopted(keeper: TimeKeeper, service: bool) -> None:
    """The search stand-in's data plane may be started from a test's code; its thread keeps the wall clock instead of
    joining the test's schedule (adopted, its blocking poll held every simulated sleep up for real time: 39 s for one
    test). Can fail: an ordinary thread started the same way is adopted."""
    from pytest_kinesis_limits.fidelity.timepatch import service_thread

    stop = threading.Event()
    thread = service_thread(stop.wait, "server") if service else threading.Thread(target=stop.wait, name="server")
    thread.start()
    try:
        assert any(member.thread is thread for member in keeper._members) is not service
    finally:
        stop.set()
        thread.join()


# ------------------------------------------------------------------------------- a flowing clock (kinesis_endpoint)
def test_a_flowing_clock_moves_with_real_time_and_sleeps_still_jump() -> None:
    clock = SimulatedClock(start=1_000)
    threading.Event().wait(0.05)  # real time passes outside a flow: the clock stands still
    assert clock.now() == 1_000
    with clock.flowing():
        threading.Event().wait(0.2)
        flowed = clock.now() - 1_000
        assert 0.2 <= flowed < 5, flowed
        clock.sleep(60)  # a sleep of the test's still skips ahead at once
        assert clock.now() - 1_000 >= 60 + flowed
        clock.advance_to(clock.now() - 30)  # never backwards, flowing or not
        assert clock.now() - 1_000 >= 60 + flowed
    after = clock.now()
    threading.Event().wait(0.05)
    assert clock.now() == after  # it stands still again where it got to


def test_a_keeper_on_a_flowing_clock_overlaps_sleeps_and_never_goes_back(keeper: TimeKeeper) -> None:
    with keeper.clock.flowing():
        start = keeper.clock.now() - START
        order = _run_threads(keeper, {"a": [1.0, 1.0], "b": [1.5]})
        assert [name for name, _ in order] == ["a", "b", "a"]
        readings = [when for _, when in order]
        assert readings == sorted(readings) and readings[0] >= start + 1.0
        assert readings[-1] - start < 2.0 + 5  # overlapped: 2 simulated seconds (and what real time flowed)
