"""The scale family's swarm, set up wrong: each way stops with one line that names the problem and the fix, and
nothing is started (no Locust process, no stream)."""

from __future__ import annotations

import pytest

TEST = """
def test_scale_uses_the_swarm(kinesis_swarm):
    raise AssertionError("never reached: the swarm fixture stops first")
"""


def test_a_master_that_does_not_answer_fails_naming_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-swarm-master", "http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--kinesis-swarm-master: the Locust master at http://127.0.0.1:9 did not answer "
                                 "/kinesis/status*Fix: start the master with this package's locustfile*"])


def test_without_locust_the_scale_tests_are_skipped_naming_the_extra(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
import importlib.util

import pytest

real = importlib.util.find_spec


@pytest.fixture(autouse=True, scope="session")
def _no_locust():
    importlib.util.find_spec = lambda name, *a: None if name == "locust" else real(name, *a)
    yield
    importlib.util.find_spec = real
""")
    pytester.makepyfile(test_it=TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*the scale tests need Locust, in the extra pytest-kinesis-limits?load?. "
                                 "Fix: pip install*"])


@pytest.mark.parametrize("value", ["0", "1.5", "x"])
def test_a_layer_scale_that_is_no_factor_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile(test_it=TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--kinesis-swarm-layer-scale={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*invalid value '{value}' for --kinesis-swarm-layer-scale*"])


def test_a_layer_scale_given_for_a_live_run_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--live", "--kinesis-swarm-layer-scale=0.5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--kinesis-swarm-layer-scale*this is a live run*Fix: drop it.*"])


STARTER = """
import sys, time
from pathlib import Path
from pytest_kinesis_limits.load.swarm import LocalSwarm
swarm = LocalSwarm(1, env={"AWS_REGION": "us-east-1"}, log_dir=Path(sys.argv[1]))
swarm.start()
print(swarm.master_process.pid, *swarm.worker_pids, flush=True)
time.sleep(600)
"""


def test_a_swarm_whose_test_process_is_killed_ends_too(tmp_path) -> None:
    """SIGKILL gives the test process no time to stop its swarm: the master and workers see their parent gone and end
    within seconds, instead of listening on 127.0.0.1 for ever."""
    import signal
    import subprocess
    import sys
    import time

    starter = subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    pids = [int(pid) for pid in starter.stdout.readline().split()]
    assert len(pids) == 2, pids
    starter.send_signal(signal.SIGKILL)
    starter.wait()
    deadline = time.monotonic() + 15
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in pids if _running(pid)]
    assert not alive, f"still running after their parent was killed: {alive}"


def _running(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:  # a zombie (ended, not yet reaped by init) is gone
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_a_stopped_swarm_leaves_no_process_and_stops_once(tmp_path) -> None:
    """stop() ends the master and every worker (SIGKILL, reaped: no zombie left to the test process); a second stop
    finds nothing to do."""
    import importlib.util

    from pytest_kinesis_limits.load.swarm import LocalSwarm

    if importlib.util.find_spec("locust") is None:  # never imported here: it patches the process with gevent
        pytest.skip("Locust is not installed (the 'scale' extra)")

    swarm = LocalSwarm(2, env={"AWS_REGION": "us-east-1"}, log_dir=tmp_path)
    swarm.start()
    processes = [swarm.master_process, *swarm.worker_processes]
    try:
        assert all(p.poll() is None for p in processes)
    finally:
        swarm.stop()
    assert all(p.returncode is not None for p in processes)
    assert not any(_running(p.pid) for p in processes)
    assert swarm.master is None and swarm.worker_pids == []
    swarm.stop()
