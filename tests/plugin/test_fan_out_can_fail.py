"""The fan-out family can fail: each verdict is FAIL against a layer that breaks its limit (issue 22).

The family file runs under pytester with a conftest that changes the offline layer's config per test
(``BREAKS="<test name part>=<break>"``): 21 consumers allowed per stream, 6 CREATING allowed at once, consumers ACTIVE
at registration (no CREATING state), 4 or 1 MiB a second per consumer, subscriptions charged to the shard's shared
read budget, no 5 s rule, 10-minute subscriptions, a record left out of the events.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAMILY = Path(__file__).parents[1] / "limits" / "test_fan_out.py"

BREAKING_CONFTEST = '''
import os

import pytest

import json

from pytest_kinesis_limits.fidelity import fan_out

BREAKS = {
    "per-stream-21": {"max_consumers_per_stream": 21},
    "creating-6": {"max_consumers_creating": 6},
    "no-creating": {"consumer_creating_seconds": 0},
    "read-4-mib": {"fan_out_read_bytes_per_s": 4 * 1024 * 1024},
    "read-1-mib": {"fan_out_read_bytes_per_s": 1024 * 1024},
    "shared-budget": {"fan_out_shares_shard_budget": True},
    "no-5-s-rule": {"fan_out_resubscribe_seconds": 0},
    "subscription-10-min": {"fan_out_subscription_seconds": 600},
}
REAL_EVENT = fan_out.event_stream.event


def _drop_the_seventh(event_type, payload):
    """Events that leave out the seventh record delivered (a subscription that loses one)."""
    records = payload.get("Records") or []
    seen = _drop_the_seventh.seen
    _drop_the_seventh.seen += len(records)
    if seen < 7 <= seen + len(records):
        payload = {**payload, "Records": [r for i, r in enumerate(records, start=seen + 1) if i != 7]}
    return REAL_EVENT(event_type, payload)


@pytest.fixture(autouse=True)
def _break_layer(request, kinesis_fidelity, monkeypatch):
    for part, name in (p.split("=") for p in os.environ["BREAKS"].split(",")):
        if part in request.node.name:
            if name == "lose-one":
                _drop_the_seventh.seen = 0
                monkeypatch.setattr(fan_out.event_stream, "event", _drop_the_seventh)
                continue
            for field, value in BREAKS[name].items():
                setattr(kinesis_fidelity.config, field, value)
'''


#: Three runs cover every break: each run breaks several tests, one break per test (by a part of its name).
RUNS = {
    "most": ("per_stream=per-stream-21,creating=creating-6,2_mib=read-4-mib,within_5_s=no-5-s-rule,"
             "5_minutes=subscription-10-min,split-1-2=lose-one", {
                 "test_fan_out_consumers_per_stream": ("fan_out.consumers_per_stream.max",
                                                       "*21 consumers registered, not 20*"),
                 "test_fan_out_consumers_creating_at_once": ("fan_out.consumers_creating.max",
                                                             "*a sixth consumer registered while five were CREATING*"),
                 "test_fan_out_consumers_each_read_2_mib_per_s_beside_a_polling_reader": (
                     "fan_out.consumer.read_bytes_per_s", "*a consumer got 4194304 bytes in one second*"),
                 "test_fan_out_resubscribe_within_5_s_is_refused_and_later_takes_over": (
                     "fan_out.resubscribe_s", "*a subscription within 5 s was not refused*"),
                 "test_fan_out_subscription_ends_after_5_minutes_and_resumes_losing_nothing": (
                     "fan_out.subscription_s", "*the subscription lasted 600.0 s, not 300 s*"),
                 "test_fan_out_consumer_reads_across_a_reshard[split-1-2]": (
                     "reshard.lost_records", "*acknowledged records the consumer never read*"),
             }),
    "no-creating-and-slow": ("creating=no-creating,2_mib=read-1-mib", {
        "test_fan_out_consumers_creating_at_once": ("fan_out.consumers_creating.max",
                                                    "*answered 'ACTIVE', not CREATING*"),
        "test_fan_out_consumers_each_read_2_mib_per_s_beside_a_polling_reader": (
            "fan_out.consumer.read_bytes_per_s", "*a consumer got only 1048576 bytes*"),
    }),
    "shared-budget": ("2_mib=shared-budget", {
        "test_fan_out_consumers_each_read_2_mib_per_s_beside_a_polling_reader": (
            "fan_out.consumer.read_bytes_per_s", "*taken from the shard's shared budget*"),
    }),
}


@pytest.mark.parametrize("run", list(RUNS))
def test_each_fan_out_verdict_fails_against_its_break(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                      run: str) -> None:
    breaks, expected = RUNS[run]
    monkeypatch.setenv("BREAKS", breaks)
    pytester.makeconftest(BREAKING_CONFTEST)
    pytester.makepyfile(test_fan_out_copy=FAMILY.read_text(encoding="utf-8"))
    report = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-report", str(report), "-k",
                                " or ".join(part for part, _ in (b.split("=") for b in breaks.split(","))))
    result.assert_outcomes(failed=len(expected))
    result.stdout.fnmatch_lines([message for _, message in expected.values()], consecutive=False)
    verdicts = {(m["test"].split("::")[-1], m["limit"]): m["verdict"]
                for m in json.loads(report.read_text(encoding="utf-8"))["measurements"]}
    for test, (limit, _) in expected.items():
        assert verdicts.get((test, limit)) == "fail", (test, limit, verdicts)
