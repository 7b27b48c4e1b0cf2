"""docs/examples: the tests a team would write, run by CI offline and here over HTTP against ``serve``.

CI collects them directly (``testpaths`` names docs/examples), offline on the simulated clock. This module runs
the same files, unchanged, as another project would, against ``pytest-kinesis-limits serve`` (moto's server with
the fidelity layer) through the endpoint backend: real HTTP and the wall clock, so their backoff really waits.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("test_*.py"))


def test_ci_collects_the_examples_and_getting_started_links_each() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "docs/examples" in pyproject["tool"]["pytest"]["ini_options"]["testpaths"]
    assert len(EXAMPLES) >= 5
    guide = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    unlinked = [p.name for p in EXAMPLES if f"examples/{p.name}" not in guide]
    assert not unlinked, f"docs/getting-started.md does not link {unlinked}"


def test_the_examples_pass_over_http_on_the_wall_clock(pytester: pytest.Pytester, moto_server_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for path in EXAMPLES:
        pytester.makepyfile(**{path.stem: path.read_text(encoding="utf-8")})
    result = pytester.runpytest_subprocess("--aws-endpoint-url", moto_server_url, "--aws-region", "us-east-1",
                                           "-p", "no:cacheprovider", "-n", "2")
    result.stdout.fnmatch_lines([f"*backend=endpoint region=us-east-1*endpoint={moto_server_url}*"])
    outcomes = result.parseoutcomes()
    assert set(outcomes) == {"passed"} and outcomes["passed"] >= 11, outcomes
