"""Ordinary code works offline: time.sleep, botocore's retries and boto3 waiters move the simulated clock.

Each scenario of issue 11 is a test file a user would write, run through pytester as a separate project
(the plugin loads from its entry point). Sleeping an hour of simulated time under a 60 s timeout proves the
sleeps return at once without a timed assertion. pytest-xdist: CI runs docs/examples (which sleep, retry and
wait on the simulated clock, from several threads too) with ``-n 2``.
"""

from __future__ import annotations

import re

import pytest

USER_CODE = """
import math, threading, time
import pytest

from pytest_kinesis_limits import limits


@pytest.mark.timeout(60)
def test_an_hour_of_sleep_takes_no_time(kinesis_stream, kinesis_clock):
    start = kinesis_clock.now()
    assert time.time() == start, "time.time reads the simulated clock"
    time.sleep(3600)
    assert kinesis_clock.now() == start + 3600


def test_put_record_loop_on_the_retrying_client(kinesis_stream, kinesis_client, kinesis_clock):
    # 1,000 records/s per shard: spend this second's budget, then record 1001 is throttled and botocore's
    # backoff sleeps move the clock until the shard takes it.
    batch = [{"Data": b"x", "PartitionKey": str(n)} for n in range(500)]
    for _ in range(2):
        assert kinesis_client.put_records(StreamName=kinesis_stream.name, Records=batch)["FailedRecordCount"] == 0
    start = kinesis_clock.now()
    for n in range(20):
        kinesis_client.put_record(StreamName=kinesis_stream.name, Data=b"x", PartitionKey=str(n))
    assert kinesis_clock.now() > start, "the throttled call was retried after a (simulated) backoff"


@pytest.mark.timeout(60)
def test_waiter_sees_updating_end(kinesis_stream, kinesis_client, kinesis_clock):
    shard = kinesis_client.list_shards(StreamName=kinesis_stream.name)["Shards"][0]
    kinesis_client.split_shard(StreamName=kinesis_stream.name, ShardToSplit=shard["ShardId"],
                               NewStartingHashKey=str(2 ** 127))
    before = kinesis_clock.now()
    kinesis_client.get_waiter("stream_exists").wait(StreamName=kinesis_stream.name)  # 10 s between polls
    updating = limits.LIFECYCLE_STREAM_UPDATING_RESHARD_S.value  # the layer's UPDATING window (catalogue)
    assert kinesis_clock.now() - before == 10 * math.ceil(updating / 10), "the waiter's polls, each 10 s"


def test_deadline_loop(kinesis_stream):
    deadline, polls = time.monotonic() + 30, 0
    while time.monotonic() < deadline:
        polls += 1
        time.sleep(1)
    assert polls == 30


def test_threads_overlap(kinesis_stream, kinesis_clock):
    start = kinesis_clock.now()
    threads = [threading.Thread(target=time.sleep, args=(100,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kinesis_clock.now() - start == 100, "four threads sleeping 100 s together take 100 s, not 400"


def test_a_test_without_kinesis_fixtures_keeps_real_time(kinesis_clock):
    wall = time.perf_counter()
    start = kinesis_clock.now()
    time.sleep(0.05)
    assert time.perf_counter() - wall >= 0.05 and kinesis_clock.now() == start
"""


def test_sleeps_retries_and_waiters_move_the_simulated_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_CODE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["kinesis-limits time: simulated (offline): *time.sleep, botocore retries and",
                                 "*boto3 waiters move the shards' clock*--kinesis-clock=real*"])


def test_without_simulated_time_the_same_code_fails_as_the_issue_says(pytester: pytest.Pytester) -> None:
    """The can-fail proof: with the keeper switched off (and sleeps made instant, so the run is quick), the
    put_record loop and the waiter fail as in issue 11: the clock nobody moves gives no budget, no ACTIVE."""
    pytester.makepyfile(test_user=USER_CODE)
    pytester.makeconftest("""
import time
import pytest
from pytest_kinesis_limits import plugin

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[plugin.KEEPER_KEY] = None  # no TimeKeeper

@pytest.fixture(autouse=True)
def _instant_sleep(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # returns at once, moves nothing
""")
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "put_record_loop or waiter")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*ProvisionedThroughputExceeded*reached max retries*",
                                 "*WaiterError*Max attempts exceeded*"], consecutive=False)


def test_kinesis_clock_real_runs_offline_on_the_wall_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import time
from pytest_kinesis_limits.clock import RealClock

def test_wall(kinesis_stream, kinesis_clock):
    assert isinstance(kinesis_clock, RealClock)
    wall = time.perf_counter()
    time.sleep(0.05)
    assert time.perf_counter() - wall >= 0.05
""")
    # The lifecycle windows (30 s CREATING and DELETING) would be waited out for real: scaled to 0.3 s.
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-clock=real", "--kinesis-lifecycle-scale=0.01")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["kinesis-limits time: the wall clock (--kinesis-clock=real)*"])


THREADED = """
import json, threading, time

def producer(client, stream, first, log):
    pending = [{"Data": json.dumps(n).encode(), "PartitionKey": str(n)} for n in range(first, first + 400)]
    delay = 0.1
    while pending:
        out = client.put_records(StreamName=stream, Records=pending)
        pending = [r for r, res in zip(pending, out["Records"]) if "ErrorCode" in res]
        log.append((first, time.time(), len(pending)))
        if pending:
            time.sleep(delay)
            delay *= 2

def test_four_threads_one_shard(kinesis_stream, kinesis_client_no_retry, kinesis_clock):
    start = kinesis_clock.now()
    log = []
    threads = [threading.Thread(target=producer, args=(kinesis_client_no_retry, kinesis_stream.name, f, log))
               for f in range(0, 1600, 400)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(f for f, _, pending in log if pending == 0) == [0, 400, 800, 1200], "every producer finished"
    print("TIMELINE", [(f, round(t - start, 6), n) for f, t, n in log], kinesis_clock.now() - start)
"""


def test_threads_that_back_off_give_the_same_timeline_every_run(pytester: pytest.Pytester) -> None:
    """The same timeline, run after run. (It once differed under load: the timeline was ``t - start % 1000`` of
    ``time.time() % 1000``, which jumps by 1000 when the simulated clock crosses a multiple of 1000 s between the
    start and a log entry; it depended on when the session started, not on the schedule. 1 of 60 runs hit it.)"""
    pytester.makepyfile(test_threads=THREADED)
    timelines = []
    for _ in range(3):
        result = pytester.runpytest("-p", "no:cacheprovider", "-s")
        result.assert_outcomes(passed=1)
        timelines.append(re.search(r"TIMELINE (.*)", result.stdout.str()).group(1))
    assert timelines[0] == timelines[1] == timelines[2], timelines
    assert ", 0)" in timelines[0] and not timelines[0].endswith(" 0.0"), "the shard refused some, time moved"


def test_pytest_timeout_still_stops_a_hung_test(pytester: pytest.Pytester) -> None:
    """A test blocked for real (not a sleep) is still stopped by pytest-timeout, signal and thread methods."""
    pytester.makepyfile("""
import threading, pytest

@pytest.mark.timeout(3, method="signal", func_only=True)
def test_hangs_signal(kinesis_stream):
    threading.Event().wait()

@pytest.mark.timeout(3, method="thread", func_only=True)
def test_hangs_thread(kinesis_stream):
    threading.Event().wait()
""")
    # One process: the signal method fails the first test; the thread method then ends the process (os._exit).
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines(["*test_hangs_signal FAILED*", "*Timeout*", "*Stack of MainThread*"])
    assert result.ret != 0
