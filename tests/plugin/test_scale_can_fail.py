"""The scale family's verdicts fail against a broken backend, and a worker killed mid-run never makes a false verdict.

The family file (tests/limits/test_scale.py) runs unchanged under pytester with a real swarm (a Locust master and
three worker processes on 127.0.0.1, writing over HTTP to ``kinesis_endpoint``). A conftest runs each family test once
per scenario of ``SCALE_SCENARIOS`` (its name in the test id), after the swarm fixture has scaled the layer:

- ``no-throttling``: the layer never throttles: 200 % is all accepted, and the over-limit test fails;
- ``strict-bytes``: the layer refuses bytes far below the documented 1 MiB/s (5,000 B/s per shard, scaled: the 80 %
  case writes 8,000): the below-limit test fails on refusals;
- ``kill-1`` / ``kill-2``: one / two of the three workers are killed (SIGKILL) in the middle of the measured window.
  With one lost, the other two still offer 133 % of the limit in every second: the verdict stays ``pass``, and the
  swarm's counts fall short of the stream by what the dead worker had not reported. With two lost, the last one
  offers 67 %: the verdict is ``inconclusive`` (the test is skipped saying so), never ``fail``.

One pytester session: the swarm starts once, and a dead worker is replaced before the next run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAMILY = Path(__file__).parents[1] / "limits" / "test_scale.py"
ABOVE = "test_scale_above_the_limit_every_shard_takes_the_limit"
BELOW = "test_scale_below_the_limit_nothing_is_refused"

BREAK_CONFTEST = """
import json
import os
import subprocess

import pytest

SCENARIOS = json.loads(os.environ["SCALE_SCENARIOS"])
KILL_AFTER_S = 3.5  # from the test's start: the swarm's lead (1 s), then 2.5 s into its 5 s of sending


def pytest_generate_tests(metafunc):
    for test, names in SCENARIOS.items():
        if metafunc.function.__name__ == test:
            metafunc.parametrize("scale_break", names, indirect=True)


@pytest.fixture(autouse=True)
def scale_break(request, kinesis_swarm, kinesis_fidelity):
    name = getattr(request, "param", "")
    config = kinesis_fidelity.config
    killer = None
    if name == "no-throttling":
        config.throttling = False
    elif name == "strict-bytes":
        config.write_bytes_per_s = 5000
    elif name.startswith("kill-"):
        kinesis_swarm.local.ensure_workers()
        pids = kinesis_swarm.worker_pids[:int(name.split("-")[1])]
        killer = subprocess.Popen(["sh", "-c", f"sleep {KILL_AFTER_S}; kill -9 {' '.join(map(str, pids))}"])
    elif name:
        raise ValueError(f"unknown scenario {name!r}")
    yield name
    if killer is not None:
        killer.wait()
"""


def test_broken_backends_fail_and_lost_workers_never_make_a_false_verdict(pytester: pytest.Pytester,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(BREAK_CONFTEST)
    pytester.makepyfile(test_scale_family=FAMILY.read_text(encoding="utf-8"))
    monkeypatch.setenv("SCALE_SCENARIOS", json.dumps({ABOVE: ["no-throttling", "kill-1", "kill-2"],
                                                      BELOW: ["strict-bytes"]}))
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-report=report.json", "--kinesis-swarm-workers=3")
    passed, skipped, failed = result.reprec.listoutcomes()
    name = lambda report: report.nodeid.split("::")[-1]  # noqa: E731
    failures = {name(r): str(r.longrepr) for r in failed}
    assert set(failures) == {f"{ABOVE}[no-throttling]", f"{BELOW}[strict-bytes]"}, result.stdout.str()[-3000:]
    assert "sustained accepted rate not within" in failures[f"{ABOVE}[no-throttling]"]
    assert "records refused below the limit: {'ProvisionedThroughputExceededException'" in failures[
        f"{BELOW}[strict-bytes]"]
    assert {name(r) for r in passed} == {f"{ABOVE}[kill-1]"}
    assert {name(r) for r in skipped} == {f"{ABOVE}[kill-2]"}
    assert "inconclusive: the swarm did not offer the load" in skipped[0].longrepr[2]

    rows = {r["test"].split("::")[-1]: r for r in json.loads((pytester.path / "report.json").read_text())[
        "measurements"]}
    assert {test: row["verdict"] for test, row in rows.items()} == {
        f"{ABOVE}[no-throttling]": "fail", f"{BELOW}[strict-bytes]": "fail", f"{ABOVE}[kill-1]": "pass",
        f"{ABOVE}[kill-2]": "inconclusive"}
    one, two = rows[f"{ABOVE}[kill-1]"]["extra"], rows[f"{ABOVE}[kill-2]"]["extra"]
    assert (one["lost_workers"], one["workers"], two["lost_workers"]) == (1, 3, 2)
    assert one["counted"] <= one["read"]  # the dead worker's last counts never reached the master
    assert rows[f"{ABOVE}[no-throttling]"]["extra"]["throttled"] == 0
