"""Fixture names that cannot be taken: an installed plugin defining one of ours stops the run at start (issue 19).

The other plugin here is installed for real, as pip would: a distribution on the path with a ``pytest11`` entry
point, the shape of async-kinesis's ``kinesis`` plugin (function-scoped ``kinesis_backend`` and ``kinesis_stream``).
"""

from __future__ import annotations

import pytest

OTHER_PLUGIN = '''
import pytest


@pytest.fixture
def kinesis_backend():
    return "someone else's backend"


@pytest.fixture(name="kinesis_stream")
def _their_stream(kinesis_backend):
    return "someone else's stream"


@pytest.fixture
def their_own_fixture():
    return 1
'''

USER_TEST = '''
def test_ours(kinesis_stream, kinesis_backend):
    assert kinesis_backend.kind == "moto"
    assert kinesis_stream.shard_count == 1
'''


@pytest.fixture
def other_plugin_installed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    site = pytester.mkdir("site")
    (site / "otherkinesis").mkdir()
    (site / "otherkinesis" / "__init__.py").write_text("")
    (site / "otherkinesis" / "testing.py").write_text(OTHER_PLUGIN)
    info = site / "otherkinesis-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: otherkinesis\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nkinesis = otherkinesis.testing\n")
    (info / "RECORD").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(site))
    pytester.makepyfile(test_user=USER_TEST)


def test_a_plugin_that_takes_our_fixture_names_stops_the_run_in_one_line(
        pytester: pytest.Pytester, other_plugin_installed: None) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: pytest-kinesis-limits: the plugin 'kinesis' (otherkinesis 2.0) defines the fixtures kinesis_backend, "
        "kinesis_stream, which would silently replace pytest-kinesis-limits' own. Fix: -p no:kinesis *"])
    assert "ScopeMismatch" not in result.stdout.str() + result.stderr.str()


def test_turning_the_other_plugin_off_runs_our_fixtures(pytester: pytest.Pytester,
                                                        other_plugin_installed: None) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:kinesis")
    result.assert_outcomes(passed=1)


def test_a_conftest_overriding_our_fixture_is_the_users_choice(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
import pytest

@pytest.fixture
def kinesis_stream():
    return "mine"
''')
    pytester.makepyfile(test_user="def test_mine(kinesis_stream):\n    assert kinesis_stream == 'mine'\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
