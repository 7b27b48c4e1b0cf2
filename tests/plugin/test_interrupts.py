"""Interruptions lose nothing: real signals to real pytest processes on the live code path (issue 9, item 3).

Each test runs pytest in a subprocess with ``--aws-endpoint-url`` pointed at ``pytest-kinesis-limits serve`` (moto's
server with the fidelity layer: the live code path over HTTP), signals it mid-test or mid-teardown with
``os.kill``, waits for it to end, and asks the server what is left under the run's prefix. Only ``kill -9`` may
leave anything, and ``sweep`` then removes it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

from pytest_kinesis_limits import cli
from pytest_kinesis_limits.live.interrupts import EXIT_STATUS_SIGTERM

# A spy on resources.delete_stream: the first deletion of each process notes that teardown has begun and, with
# SLOW_DELETE_S, takes that long first (a stream or delivery stream deletion takes seconds to minutes on AWS);
# with SLOW_RETRY_S, the second call (the retry of a deletion an interrupt cut short) takes that long too.
# Polls every 0.2 s instead of the live 5 s, so that the Firehose fixture is ready in about a second.
CONFTEST = """
import os, time
import pytest
from pytest_kinesis_limits.kinesis import resources

@pytest.fixture(scope="session")
def kinesis_wait_policy():
    return resources.WaitPolicy(delay=0.2, attempts=300)

@pytest.fixture(autouse=True)
def _slow_first_stream_deletion(monkeypatch):
    real = resources.delete_stream
    calls = []
    def spy(client, name, **kw):
        calls.append(name)
        if len(calls) == 1:
            with open(os.path.join(os.environ["MARKS"], f"teardown-{os.getpid()}"), "w") as f:
                f.write(name)
            time.sleep(float(os.environ.get("SLOW_DELETE_S", "0")))
        elif len(calls) == 2:
            time.sleep(float(os.environ.get("SLOW_RETRY_S", "0")))
        return real(client, name, **kw)
    monkeypatch.setattr(resources, "delete_stream", spy)
"""

# Each test makes its resources, says so (with its pid), then runs for BODY_S seconds.
TEST_STREAMS_AND_BUCKET = """
import os, time, pytest

@pytest.mark.parametrize("n", range(int(os.environ.get("TESTS", "1"))))
def test_makes_resources(n, kinesis_stream, s3_bucket, make_stream):
    make_stream()
    with open(os.path.join(os.environ["MARKS"], f"ready-{os.getpid()}-{n}"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(float(os.environ.get(f"BODY_S_{n}", os.environ["BODY_S"])))
"""

TEST_WITH_FIREHOSE = """
import os, time, pytest

@pytest.mark.parametrize("n", range(int(os.environ.get("TESTS", "1"))))
def test_makes_resources(n, firehose_delivery_stream, make_stream):
    make_stream()
    with open(os.path.join(os.environ["MARKS"], f"ready-{os.getpid()}-{n}"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(float(os.environ.get(f"BODY_S_{n}", os.environ["BODY_S"])))
"""

START_S = 90  # bound for the inner run to make its resources (Firehose polls every 5 s on the live path)
END_S = 120  # bound for it to clean up and end


class Run:
    """One pytest subprocess against the endpoint, with its own resource prefix and marker folder."""

    def __init__(self, pytester: pytest.Pytester, url: str, test_source: str, *args: str, tests: int = 1,
                 body_s: float = 120, slow_delete_s: float = 0, slow_retry_s: float = 0, group: bool = False) -> None:
        pytester.makeconftest(CONFTEST)
        pytester.makepyfile(test_inner=test_source)
        self.url = url
        self.prefix = "sig" + uuid.uuid4().hex[:6]
        self.marks = pytester.path / "marks"
        self.marks.mkdir()
        self.output = pytester.path / "output.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KINESIS_LIMITS_"))}
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true",
                   MARKS=str(self.marks), TESTS=str(tests), BODY_S=str(body_s), SLOW_DELETE_S=str(slow_delete_s),
                   SLOW_RETRY_S=str(slow_retry_s))
        env.pop("AWS_PROFILE", None)
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-rA",
                   "--aws-endpoint-url", url, "--aws-region", "us-east-1", "--kinesis-prefix", self.prefix,
                   *args, "test_inner.py"]
        with self.output.open("w") as out:
            self.process = subprocess.Popen(command, cwd=pytester.path, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=group)

    def wait_for(self, pattern: str, count: int = 1) -> list[Path]:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            found = sorted(self.marks.glob(pattern))
            if len(found) >= count:
                return found
            if self.process.poll() is not None:
                pytest.fail(f"the inner run ended early ({self.process.returncode}):\n{self.text()}")
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"no {count} {pattern} marker(s) after {START_S} s:\n{self.text()}")

    def signal(self, sig: int, *, group: bool = False) -> None:
        if group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)

    def end(self) -> int:
        try:
            return self.process.wait(timeout=END_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the inner run did not end within {END_S} s of the signal:\n{self.text()}")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def worker_pids(self) -> set[int]:
        return {int(p.read_text()) for p in self.marks.glob("ready-*")}

    def left(self) -> dict[str, list[str]]:
        """What the endpoint still holds under this run's prefix."""
        return left_on(self.url, self.prefix)


def left_on(url: str, prefix: str) -> dict[str, list[str]]:
    kw = {"region_name": "us-east-1", "endpoint_url": url, "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}
    return {kind: sorted(name for name in names if name.startswith(prefix)) for kind, names in (
        ("streams", boto3.client("kinesis", **kw).list_streams()["StreamNames"]),
        ("buckets", [b["Name"] for b in boto3.client("s3", **kw).list_buckets()["Buckets"]]),
        ("delivery streams", boto3.client("firehose", **kw).list_delivery_streams()["DeliveryStreamNames"]),
        ("roles", [r["RoleName"] for r in boto3.client("iam", **kw).list_roles()["Roles"]]),
    )}


NOTHING = {"streams": [], "buckets": [], "delivery streams": [], "roles": []}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


# ------------------------------------------------------------------------------------------- one process
def test_sigterm_mid_test_deletes_everything_and_exits_143(pytester: pytest.Pytester,
                                                                  moto_server_url: str) -> None:
    """What CI cancellation and `timeout` do: the run stops as on Ctrl-C, deletes its stream, bucket, delivery
    stream and role, writes its summary, and exits 143 (128 + SIGTERM)."""
    run = Run(pytester, moto_server_url, TEST_WITH_FIREHOSE)
    run.wait_for("ready-*")
    assert all(run.left().values()), "the run made a stream, a bucket, a delivery stream and a role"
    run.signal(signal.SIGTERM)
    assert run.end() == EXIT_STATUS_SIGTERM, run.text()
    assert run.left() == NOTHING, run.text()
    text = run.text()
    assert "pytest-kinesis-limits: SIGTERM: stopping as on Ctrl-C" in text
    assert re.search(r"test_inner\.py:\d+: KeyboardInterrupt", text), "the interrupt is shown where the test was"


def test_sigterm_mid_teardown_still_deletes_every_entry_and_a_second_one_is_ignored(
        pytester: pytest.Pytester, moto_server_url: str) -> None:
    """The signal lands in the first deletion of the teardown (a slow stream deletion): that entry and every
    other one are still deleted; a second SIGTERM during the cleanup (the 5 s retry of the cut deletion) does not
    cut it short."""
    run = Run(pytester, moto_server_url, TEST_STREAMS_AND_BUCKET, body_s=0, slow_delete_s=30, slow_retry_s=5)
    run.wait_for("teardown-*")
    run.signal(signal.SIGTERM)
    time.sleep(0.5)
    run.signal(signal.SIGTERM)
    assert run.end() == EXIT_STATUS_SIGTERM, run.text()
    assert run.left() == NOTHING, run.text()
    assert "a second SIGTERM does not stop that" in run.text()


def test_a_timeout_during_teardown_does_not_stop_the_cleanup(pytester: pytest.Pytester, moto_server_url: str) -> None:
    """pytest-timeout's own --timeout covers setup and teardown: its Failed cuts the slow (30 s) deletion at 5 s,
    and every entry is still deleted (the test errors with the timeout, nothing is left)."""
    started = time.monotonic()
    run = Run(pytester, moto_server_url, TEST_STREAMS_AND_BUCKET, "--timeout", "5", body_s=0, slow_delete_s=30)
    assert run.end() == pytest.ExitCode.TESTS_FAILED, run.text()
    assert list(run.marks.glob("teardown-*")) and time.monotonic() - started < 25, "cut in teardown"
    assert re.search(r"ERROR test_inner\.py::test_makes_resources\[0\] - Failed: Timeout", run.text()), run.text()
    assert run.left() == NOTHING, run.text()


def test_the_plugins_timeout_bounds_the_test_body_not_setup_and_teardown(
        pytester: pytest.Pytester, moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """--kinesis-timeout times the test's body only (func_only): setup and teardown, bounded by the wait
    policy, are never cut. The first test's 2 s deletion (and its setup) outlast the 1 s timeout, its body does
    not: it passes. The second test's body outlasts it: it fails with the timeout, and its resources go too."""
    monkeypatch.setenv("BODY_S_0", "0")
    monkeypatch.setenv("BODY_S_1", "30")
    run = Run(pytester, moto_server_url, TEST_STREAMS_AND_BUCKET, "--kinesis-timeout", "1", tests=2,
              slow_delete_s=2)
    assert run.end() == pytest.ExitCode.TESTS_FAILED, run.text()
    assert re.search(r"PASSED test_inner\.py::test_makes_resources\[0\]", run.text()), run.text()
    assert re.search(r"FAILED test_inner\.py::test_makes_resources\[1\] - Failed: Timeout", run.text()), run.text()
    assert run.left() == NOTHING


# ---------------------------------------------------------------------------------------------- pytest-xdist
def test_sigterm_to_the_xdist_controller_reaches_the_workers_cleanup(pytester: pytest.Pytester,
                                                                      moto_server_url: str) -> None:
    """`kill PID` of the controller alone. Its workers get SIGTERM and clean up, and the controller waits for
    them: their deletions take 12 s here, longer than xdist gives a worker on its own interrupt path (10 s, then
    SIGKILL) or execnet a worker whose controller is gone (5 s, SIGINT, 10 s more, exit). (Ctrl-C to the
    controller takes the same path: tests/unit/test_interrupt_guard.py.)"""
    run = Run(pytester, moto_server_url, TEST_STREAMS_AND_BUCKET, "-n", "2", tests=2, slow_delete_s=12)
    run.wait_for("ready-*", count=2)
    workers = run.worker_pids()
    assert len(workers) == 2
    run.signal(signal.SIGTERM)
    assert run.end() == EXIT_STATUS_SIGTERM, run.text()
    assert run.left() == NOTHING, run.text()
    assert len(list(run.marks.glob("teardown-*"))) == 2, "both workers ran their cleanup"
    assert not [pid for pid in workers if _alive(pid)], "no worker outlives the controller"
    assert "stopping 2 xdist worker(s); each deletes what it made first" in run.text()


def test_sigterm_to_the_whole_process_group_cleans_up_every_worker(pytester: pytest.Pytester,
                                                                   moto_server_url: str) -> None:
    """What `timeout` and CI runners do: SIGTERM to the controller and every worker at once."""
    run = Run(pytester, moto_server_url, TEST_WITH_FIREHOSE, "-n", "2", tests=2, group=True)
    run.wait_for("ready-*", count=2)
    run.signal(signal.SIGTERM, group=True)
    assert run.end() == EXIT_STATUS_SIGTERM, run.text()
    assert run.left() == NOTHING, run.text()


# --------------------------------------------------------------------------------------------------- kill -9
def test_only_kill_9_leaves_resources_and_sweep_removes_them(pytester: pytest.Pytester, moto_server_url: str,
                                                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    run = Run(pytester, moto_server_url, TEST_WITH_FIREHOSE)
    run.wait_for("ready-*")
    run.signal(signal.SIGKILL)
    assert run.end() == -signal.SIGKILL
    left = run.left()
    assert all(left.values()), left
    run_id = left["streams"][0].split("-")[1]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sweep = ["sweep", "--endpoint-url", moto_server_url, "--region", "us-east-1"]
    assert cli.main(sweep + ["--yes"]) == 0
    out = capsys.readouterr().out
    assert f"left stream {left['streams'][0]}: run {run_id} is " in out, "a fresh run is left alone by default"
    assert run.left() == left
    assert cli.main(sweep + ["--run-id", run_id, "--yes"]) == 0
    out = capsys.readouterr().out
    assert run.left() == NOTHING, out
    kinds = [line.split()[1] for line in out.splitlines() if line.startswith("deleting ")]
    assert kinds == ["delivery-stream", "stream", "stream", "bucket", "role"], out


def test_sigterm_while_the_pool_holds_the_next_tests_streams_deletes_them_too(pytester: pytest.Pytester,
                                                                            moto_server_url: str) -> None:
    """With a plan (the budget guard's), the pool makes the second test's two streams while the first one runs;
    SIGTERM then finds streams no test has taken yet, and they are deleted like the others."""
    run = Run(pytester, moto_server_url, TEST_STREAMS_AND_BUCKET, "--kinesis-max-cost-usd", "1", tests=2)
    run.wait_for("ready-*-0")
    deadline = time.monotonic() + START_S
    while len(run.left()["streams"]) < 4 and time.monotonic() < deadline:  # two of the first test, two ahead
        time.sleep(0.2)
    assert len(run.left()["streams"]) == 4, run.text()
    run.signal(signal.SIGTERM)
    assert run.end() == EXIT_STATUS_SIGTERM, run.text()
    assert run.left() == NOTHING, run.text()
