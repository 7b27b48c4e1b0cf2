"""Every misuse a new user met (issue 11) gives one clear message with the fix, never a traceback."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits.settings import SettingError, resolve

ONE_TEST = "def test_nothing():\n    pass\n"


def _usage_error(result: pytest.RunResult, *lines: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(list(lines))
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def test_infinite_timeout_is_a_usage_error_and_zero_means_none(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ONE_TEST)
    _usage_error(pytester.runpytest("--kinesis-timeout=inf"),
                 "ERROR: invalid value 'inf' for --kinesis-timeout from the command line*finite number of seconds*"
                 "give 0*Fix: give --kinesis-timeout a valid value.")
    pytester.makepyfile("""
def test_no_timeout_marker(request, kinesis_stream):
    assert request.node.get_closest_marker("timeout").args == (0.0,)  # pytest-timeout: 0 = no timeout
""")
    pytester.runpytest("--kinesis-timeout=0", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_timeout_beyond_what_pytest_timeout_can_arm_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """1e20 used to pass the check and end in pytest-timeout's OverflowError inside the run."""
    pytester.makepyfile(ONE_TEST)
    _usage_error(pytester.runpytest("--kinesis-timeout=1e20"),
                 "ERROR: invalid value '1e20' for --kinesis-timeout*at most 31536000 seconds*give 0*")


def test_an_unknown_region_offline_is_a_usage_error_before_any_test(pytester: pytest.Pytester) -> None:
    """Offline, moto has no backend for it: the first Kinesis test used to error with moto's KeyError and a cleanup
    warning that sent the user to sweep."""
    pytester.makepyfile("def test_stream(kinesis_stream):\n    pass\n")
    _usage_error(pytester.runpytest("--aws-region=xx-fake-1", "-p", "no:cacheprovider"),
                 "ERROR: --aws-region 'xx-fake-1' (from the command line (--aws-region)) is not a region where "
                 "Kinesis Data Streams is offered.*Fix: give a real region*")
    pytester.runpytest("--aws-region=eu-north-1", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_bad_value_given_with_dash_o_is_blamed_on_the_command_line(pytester: pytest.Pytester) -> None:
    """``-o key=value`` overrides an ini key from the command line: the message used to send the user to the ini file."""
    pytester.makepyfile(ONE_TEST)
    _usage_error(pytester.runpytest("-o", "kinesis_rate_window=abc"),
                 "ERROR: invalid value 'abc' for --kinesis-rate-window from the command line (-o kinesis_rate_window)*")


def test_report_naming_a_folder_fails_before_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ONE_TEST)
    pytester.mkdir("reports")
    _usage_error(pytester.runpytest("--kinesis-report", "reports"),
                 "ERROR: --kinesis-report 'reports' (from the command line*) is a folder*Fix: name a file, for "
                 "example reports/kinesis-limits.json.")


def test_an_unknown_environment_variable_names_the_setting_it_resembles(pytester: pytest.Pytester,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(ONE_TEST)
    monkeypatch.setenv("KINESIS_LIMITS_FIDELTY", "off")
    _usage_error(pytester.runpytest(), "ERROR: unknown environment variable KINESIS_LIMITS_FIDELTY*Did you mean "
                                       "KINESIS_LIMITS_FIDELITY?*Fix: rename or unset it*")


@pytest.mark.parametrize(("args", "message"), [
    (["--live", "--aws-endpoint-url", "http://127.0.0.1:9"],
     "ERROR: --live (from the command line (--live)) and --aws-endpoint-url (from the command line*) contradict*"
     "Fix: drop one of them*"),
    (["--kinesis-fidelity=off", "--aws-endpoint-url", "http://127.0.0.1:9"],
     "ERROR: --kinesis-fidelity=off (from the command line*) applies to the offline backend*endpoint run*"
     "pytest-kinesis-limits serve --fidelity off*"),
], ids=["live-and-endpoint", "fidelity-off-with-endpoint"])
def test_contradicting_settings_are_usage_errors(pytester: pytest.Pytester, args, message) -> None:
    pytester.makepyfile(ONE_TEST)
    _usage_error(pytester.runpytest(*args), message)


def test_a_bad_value_says_where_to_fix_it() -> None:
    with pytest.raises(SettingError) as from_cli:
        resolve({"fidelity": "maybe"}, {}, {})
    assert "from the command line" in str(from_cli.value) and "override" not in str(from_cli.value)
    assert str(from_cli.value).endswith("Fix: give --kinesis-fidelity a valid value.")
    with pytest.raises(SettingError) as from_env:
        resolve({}, {"KINESIS_LIMITS_FIDELITY": "maybe"}, {})
    assert "Fix it there, or override it with --kinesis-fidelity on the command line." in str(from_env.value)


MISUSE_IN_TESTS = """
from pytest_kinesis_limits import limits

def test_on_demand_with_a_shard_count(make_stream):
    make_stream(5, on_demand=True)

def test_on_demand(make_stream):
    assert make_stream(on_demand=True).on_demand

def test_catalogue_key_and_own_limit(record_measurement):
    record_measurement("put_records.max_records", 500, verdict="pass")
    record_measurement("my-consumer.lag", 1.5, verdict="pass", documented=2, unit="s", source="our SLO")
    record_measurement(limits.RECORD_MAX_BYTES, 1, verdict="info")

def test_near_miss_of_a_catalogue_key(record_measurement):
    record_measurement("put_records.max_record", 500, verdict="pass")

def test_bad_verdict(record_measurement):
    record_measurement("my-limit", 1, verdict="ok")

def test_measured_words(record_measurement):
    record_measurement("my-limit", "five hundred", verdict="pass")

def test_measured_nan(record_measurement):
    record_measurement("my-limit", float("nan"), verdict="info")
"""


def test_fixture_misuse_fails_with_the_fix_and_no_traceback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users_misuse=MISUSE_IN_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=5)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "make_stream(5, on_demand=True): an on-demand stream has no shard count*Fix: make_stream(on_demand=True)*",
        "record_measurement('put_records.max_record', ...): no catalogue limit has that key; did you mean "
        "'put_records.max_records'?*",
        "record_measurement(..., verdict='ok'): the verdict is one of pass, fail, inconclusive, unsupported, info.",
        "record_measurement(..., measured='five hundred'): measured is a finite number (int or float) or None*",
        "record_measurement(..., measured=nan): measured is a finite number*no NaN or infinity*",
        "*my-consumer.lag*2*1.50*s*PASS*",
        "*put_records.max_records*500*500*PASS*",
    ], consecutive=False)
    assert "Traceback" not in out and "def make(" not in out and "def record(" not in out
