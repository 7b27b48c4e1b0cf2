"""The plugin's surface, tested the way pytest plugins are: --help, precedence, validation, markers, header."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits.settings import SPECS, SettingError, resolve

SHOW_PREFIX = """
def test_show(kinesis_settings):
    print("PREFIX=" + kinesis_settings.prefix + " FROM=" + kinesis_settings.source_of("prefix"))
"""


def test_help_lists_every_setting_with_its_env_and_ini(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    text = result.stdout.str()
    assert "Kinesis limits (pytest-kinesis-limits)" in text
    for spec in SPECS:
        assert spec.option in text
        assert spec.env in text.replace("\n", " ").replace("  ", "")
        assert spec.ini in text  # also listed under [pytest] ini-options


@pytest.mark.parametrize(
    ("cli", "env", "ini", "expected", "source"),
    [
        (None, None, None, "pkl", "default"),
        (None, None, "fromini", "fromini", "the ini option kinesis_prefix in"),
        (None, "fromenv", "fromini", "fromenv", "the environment variable KINESIS_LIMITS_PREFIX"),
        ("fromcli", "fromenv", "fromini", "fromcli", "the command line (--kinesis-prefix)"),
    ],
    ids=["default", "ini", "env-beats-ini", "cli-beats-env"],
)
def test_precedence_cli_over_env_over_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                          cli, env, ini, expected, source) -> None:
    if ini:
        pytester.makeini(f"[pytest]\nkinesis_prefix = {ini}\n")
    if env:
        monkeypatch.setenv("KINESIS_LIMITS_PREFIX", env)
    else:
        monkeypatch.delenv("KINESIS_LIMITS_PREFIX", raising=False)
    pytester.makepyfile(SHOW_PREFIX)
    args = ["-s"] + ([f"--kinesis-prefix={cli}"] if cli else [])
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*PREFIX={expected} FROM={source}*"])


def test_bad_cli_value_is_a_usage_error_naming_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--kinesis-fidelity=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid value 'maybe' for --kinesis-fidelity from the command line*on, off*"])
    assert "Traceback" not in result.stderr.str()


def test_bad_env_value_names_the_variable(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINESIS_LIMITS_AWS_REGION", "Seoul")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'Seoul' for --aws-region from the environment variable KINESIS_LIMITS_AWS_REGION*"])


def test_bad_ini_value_names_the_file(pytester: pytest.Pytester) -> None:
    ini = pytester.makeini("[pytest]\nkinesis_rate_tolerance = 2\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*from the ini option kinesis_rate_tolerance in {ini}*fraction*"])


def test_resolve_reports_the_first_bad_source_only() -> None:
    # A bad ini value does not matter when the command line overrides it.
    settings = resolve({"timeout": 7.0}, {}, {"timeout": "soon"})
    assert settings.timeout == 7.0
    with pytest.raises(SettingError, match="KINESIS_LIMITS_LIVE"):
        resolve({}, {"KINESIS_LIMITS_LIVE": "perhaps"}, {})


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("yes", True), ("off", False), ("FALSE", False)])
def test_boolean_spellings(raw: str, value: bool) -> None:
    assert resolve({}, {"KINESIS_LIMITS_KEEP_RESOURCES": raw}, {}).keep_resources is value


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*kinesis_gap(*backends, reason)*strict expected failure*"])


def test_header_names_backend_and_chosen_settings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--kinesis-fidelity=off", "--aws-region=eu-west-1")
    result.stdout.fnmatch_lines([
        "kinesis-limits: backend=moto-plain region=eu-west-1 (offline, moto)",
        "kinesis-limits settings: *fidelity='off' (the command line (--kinesis-fidelity))*",
    ])


GAP_TEST = """
import pytest

@pytest.mark.kinesis_gap("moto-plain", reason="plain moto lacks it")
def test_gap():
    pass
"""


@pytest.mark.parametrize(("fidelity", "outcome"), [("on", {"passed": 1}), ("off", {"failed": 1})])
def test_known_gap_is_a_strict_xfail_only_on_its_backend(pytester: pytest.Pytester, fidelity, outcome) -> None:
    """On the named backend a passing gap test is an XPASS(strict): a fixed gap cannot go unnoticed."""
    pytester.makepyfile(GAP_TEST)
    result = pytester.runpytest(f"--kinesis-fidelity={fidelity}")
    result.assert_outcomes(**outcome)


def test_kinesis_tests_get_a_default_timeout_unless_one_is_set(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        def test_default(request, kinesis_client):
            assert request.node.get_closest_marker("timeout").args == (33.0,)

        @pytest.mark.timeout(5)
        def test_own(request, kinesis_client):
            assert request.node.get_closest_marker("timeout").args == (5,)

        def test_not_kinesis(request):
            assert request.node.get_closest_marker("timeout") is None
    """)
    result = pytester.runpytest("--kinesis-timeout=33")
    result.assert_outcomes(passed=3)


def test_no_flag_on_the_command_line_beats_the_environment(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINESIS_LIMITS_KEEP_RESOURCES", "1")
    pytester.makepyfile("""
        def test_show(kinesis_settings):
            assert kinesis_settings.keep_resources is False
            assert kinesis_settings.source_of("keep_resources") == "the command line (--kinesis-keep-resources)"
    """)
    pytester.runpytest("--no-kinesis-keep-resources").assert_outcomes(passed=1)


def test_report_into_a_missing_folder_is_a_usage_error_before_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--kinesis-report=/nonexistent/folder/report.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--kinesis-report '/nonexistent/folder/report.json'*does not exist*Fix*"])
