"""Live, the tests that need an OpenSearch Service domain run only when asked (a domain takes 15-30 minutes).

The live preflight is replaced by a fake backend (no AWS is reached): what is checked is the plugin's decision.
"""

from __future__ import annotations

import pytest

from pytest_kinesis_limits import backends

TESTS = '''
import pytest

@pytest.mark.kinesis_search_domain
def test_marked():
    pass

def test_unmarked_but_uses_the_target(search_target):
    pass
'''


@pytest.fixture
def fake_live(monkeypatch: pytest.MonkeyPatch) -> None:
    # No AWS call is made (the skip comes first, the opt-in run deselects the fixture's user); should one be,
    # dummy credentials and no instance metadata keep any lookup on this machine.
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    live = backends.Backend(kind="live", label="live", region="us-east-1", account_id="123456789012")
    monkeypatch.setattr(backends, "preflight", lambda settings: live)


def test_live_skips_them_without_the_opt_in(pytester: pytest.Pytester, fake_live) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--live", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*creates an OpenSearch Service domain (typically 15-30 minutes*opt in with "
                                 "--kinesis-search-domain*"])


def test_the_opt_in_lets_marked_tests_run(pytester: pytest.Pytester, fake_live) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--live", "--kinesis-search-domain", "-p", "no:cacheprovider", "-k", "not unmarked")
    result.assert_outcomes(passed=1, deselected=1)


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.kinesis_search_domain: the test needs an OpenSearch Service domain*"])
