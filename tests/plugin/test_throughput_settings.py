"""The throughput family's settings: validation errors that say what to fix, defaults, and that they are used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_kinesis_limits.settings import resolve

FAMILY = Path(__file__).parents[1] / "limits" / "test_throughput.py"
# The copy of the family gets its own module name (test_throughput_family) so that it does not clash with
# tests/limits/test_throughput.py. (boto3 and moto are imported by the root conftest: see there why.)


@pytest.mark.parametrize(("value", "says"), [
    ("--kinesis-rate-tolerance-below=1.5", "fraction between 0 and 1"),
    ("--kinesis-rate-tolerance-below=0", "greater than 0"),
    ("--kinesis-rate-window=2.5", "whole number of seconds"),
    ("--kinesis-rate-window=0", "at least 1"),
    ("--kinesis-rate-window=soon", "whole number of seconds"),
    ("--kinesis-rate-tick=2", "at most 1"),
    ("--kinesis-rate-tick=0", "greater than 0"),
    ("--kinesis-rate-tick=fast", "expected a number"),
    ("--kinesis-rate-min-offered=1.5", "fraction between 0 and 1"),
    ("--kinesis-rate-min-offered=0", "greater than 0"),
    ("--kinesis-rate-in-flight=0", "whole number of calls from 1 to 64"),
    ("--kinesis-rate-in-flight=65", "pooled connections"),
    ("--kinesis-rate-in-flight=2.5", "whole number of calls"),
])
def test_bad_throughput_option_is_a_usage_error(pytester: pytest.Pytester, value: str, says: str) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    option, raw = value.split("=")
    result.stderr.fnmatch_lines([f"*invalid value '{raw}' for {option} from the command line*{says}*"])
    assert "Traceback" not in result.stderr.str()


def test_bad_throughput_env_and_ini_values_name_their_source(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_x(): pass")
    monkeypatch.setenv("KINESIS_LIMITS_RATE_TICK", "1.5")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'1.5' for --kinesis-rate-tick from the environment variable "
                                 "KINESIS_LIMITS_RATE_TICK*at most 1*"])
    monkeypatch.delenv("KINESIS_LIMITS_RATE_TICK")
    ini = pytester.makeini("[pytest]\nkinesis_rate_tolerance_below = -0.1\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*'-0.1' for --kinesis-rate-tolerance-below from the ini option "
                                 f"kinesis_rate_tolerance_below in {ini}*greater than 0*"])


def test_throughput_defaults_offline_and_live() -> None:
    offline = resolve({}, {}, {})
    assert (offline.effective_rate_tolerance, offline.effective_rate_tolerance_below,
            offline.effective_rate_window, offline.effective_rate_tick) == (0.02, 0.02, 3, 1.0)
    live = resolve({"live": True}, {}, {})
    assert (live.effective_rate_tolerance, live.effective_rate_tolerance_below,
            live.effective_rate_window, live.effective_rate_tick) == (0.25, 0.25, 20, 0.1)
    chosen = resolve({}, {"KINESIS_LIMITS_RATE_WINDOW": "7"}, {"rate_tick": "0.25", "rate_tolerance_below": "0.3"})
    assert (chosen.effective_rate_window, chosen.effective_rate_tick, chosen.effective_rate_tolerance_below) == (
        7, 0.25, 0.3)
    assert chosen.source_of("rate_window") == "the environment variable KINESIS_LIMITS_RATE_WINDOW"


def test_offered_share_and_in_flight_defaults_offline_and_live() -> None:
    offline = resolve({}, {}, {})
    assert (offline.effective_rate_min_offered, offline.effective_rate_in_flight) == (0.75, 1)
    live = resolve({"live": True}, {}, {})
    assert (live.effective_rate_min_offered, live.effective_rate_in_flight) == (0.75, 16)
    endpoint = resolve({"aws_endpoint_url": "http://127.0.0.1:5000"}, {}, {})
    assert endpoint.effective_rate_in_flight == 16
    chosen = resolve({"rate_in_flight": "4"}, {"KINESIS_LIMITS_RATE_IN_FLIGHT": "8",
                                               "KINESIS_LIMITS_RATE_MIN_OFFERED": "0.9"}, {"rate_min_offered": "0.5"})
    assert (chosen.effective_rate_in_flight, chosen.effective_rate_min_offered) == (4, 0.9)


def test_a_higher_min_offered_share_makes_the_offline_verdicts_inconclusive_only_when_unmet(
        pytester: pytest.Pytester) -> None:
    """Offline the service answers exactly the target (share 1.0): even the strictest setting leaves the
    verdicts judged, and the share is in the report."""
    pytester.makepyfile(test_throughput_family=FAMILY.read_text(encoding="utf-8"))
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "above and records-per-s-1-shard",
                                "--kinesis-rate-window=1", "--kinesis-rate-min-offered=0.99",
                                "--kinesis-report=report.json")
    result.assert_outcomes(passed=1)
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    assert [(r["verdict"], r["extra"]["offered"]) for r in rows] == [("pass", 1.0)]


def test_the_family_uses_the_window_and_tick_settings(pytester: pytest.Pytester) -> None:
    """A 2 s window with a 0.5 s tick: the family measures 2 s, and the half-second ticks still pass."""
    pytester.makepyfile(test_throughput_family=FAMILY.read_text(encoding="utf-8"))
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "records-per-s-1-shard",
                                "--kinesis-rate-window=2", "--kinesis-rate-tick=0.5",
                                "--kinesis-report=report.json")
    result.assert_outcomes(passed=2)
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    assert [r["extra"]["window_s"] for r in rows] == [2, 2]
