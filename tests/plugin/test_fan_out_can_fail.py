"""The fan-out family can fail: each verdict is FAIL against a layer that breaks its limit (issue 22).

The family file runs under pytester with a conftest that changes the offline layer's config per test
(``BREAKS="<test name part>=<break>"``): 21 consumers allowed per stream, 6 CREATING allowed at once, consumers ACTIVE
at registration (no CREATING state).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAMILY = Path(__file__).parents[1] / "limits" / "test_fan_out.py"

BREAKING_CONFTEST = '''
import os

import pytest

BREAKS = {
    "per-stream-21": {"max_consumers_per_stream": 21},
    "creating-6": {"max_consumers_creating": 6},
    "no-creating": {"consumer_creating_seconds": 0},
}


@pytest.fixture(autouse=True)
def _break_layer(request, kinesis_fidelity):
    for part, name in (p.split("=") for p in os.environ["BREAKS"].split(",")):
        if part in request.node.name:
            for field, value in BREAKS[name].items():
                setattr(kinesis_fidelity.config, field, value)
'''


@pytest.mark.parametrize(("breaks", "limit", "message"), [
    ("per_stream=per-stream-21", "fan_out.consumers_per_stream.max", "*21 consumers registered, not 20*"),
    ("creating=creating-6", "fan_out.consumers_creating.max",
     "*a sixth consumer registered while five were CREATING*"),
    ("creating=no-creating", "fan_out.consumers_creating.max", "*answered 'ACTIVE', not CREATING*"),
], ids=["21-per-stream", "6-creating", "no-creating-state"])
def test_each_fan_out_verdict_fails_against_its_break(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                      breaks: str, limit: str, message: str) -> None:
    monkeypatch.setenv("BREAKS", breaks)
    pytester.makeconftest(BREAKING_CONFTEST)
    pytester.makepyfile(test_fan_out_copy=FAMILY.read_text(encoding="utf-8"))
    report = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-report", str(report), "-k",
                                breaks.split("=")[0])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])
    verdicts = {m["limit"]: m["verdict"] for m in json.loads(report.read_text(encoding="utf-8"))["measurements"]}
    assert verdicts == {limit: "fail"}
