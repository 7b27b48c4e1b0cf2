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
