"""The live budget's model (plan.py): xdist's scheduling, the account's transition limit, shared resources, the
closing line. Each property is checked against a schedule that breaks it (the limit off, one worker)."""

from __future__ import annotations

import re

import pytest

from pytest_kinesis_limits.live import plan
from pytest_kinesis_limits.live.plan import Creation, SharedRecord
from pytest_kinesis_limits.live.plan import TestRecord as Record  # not a test class

LINE = re.compile(r"^predicted live run: (\d+\.\d) min wall with -n (\d+), (\d+\.\d\d) shard-hours, "
                  r"(\d+\.\d\d\d) USD in ([a-z0-9-]+)$")


def _test(n: int, duration: float = 100.0, creations: int = 0, window: float = 30.0, shared=(), deletions=0):
    return Record(nodeid=f"tests/limits/test_fam.py::test_{n}", outcome="passed", duration_s=duration,
                      teardown_s=1.0, creations=[Creation(offset_s=0.0, window_s=window, shards=1)
                                                 for _ in range(creations)],
                      deletions=deletions, shared=list(shared), order=n)


def test_one_process_runs_the_tests_one_after_another():
    tests = [_test(n, duration=10.0 * (n + 1)) for n in range(4)]
    schedule = plan.simulate(tests, {}, 0)
    assert schedule.wall_s == pytest.approx(100.0)
    assert [schedule.placed[t.nodeid][1] for t in tests] == [0.0, 10.0, 30.0, 60.0]


def test_workers_share_the_tests_and_each_runs_once():
    tests = [_test(n) for n in range(40)]
    schedule = plan.simulate(tests, {}, 8)
    assert set(schedule.placed) == {t.nodeid for t in tests}
    assert {worker for worker, _, _ in schedule.placed.values()} == set(range(8))
    assert schedule.wall_s == pytest.approx(500.0)  # 40 tests of 100 s on 8 workers


def test_at_most_five_streams_are_in_transition_at_once():
    """Ten workers each make a stream at once: the account takes five CREATING, the others wait a window."""
    tests = [_test(n, duration=30.0, creations=1, window=30.0) for n in range(10)]
    limited = plan.simulate(tests, {}, 10)
    unlimited = plan.simulate(tests, {}, 10, transitions=100)
    assert unlimited.wall_s == pytest.approx(30.0)  # the model can break the rule ...
    assert limited.wall_s == pytest.approx(60.0)  # ... and keeps it: a second wave
    assert limited.waited_s == pytest.approx(5 * 30.0)
    starts = sorted(start for _, start, _ in limited.placed.values())
    assert starts.count(0.0) == 10  # all asked at once; five got a slot later


def test_deletions_take_slots_too():
    tests = [_test(n, duration=30.0, creations=1, deletions=1) for n in range(5)]
    schedule = plan.simulate(tests, {}, 5, deleting_s=30.0)
    assert schedule.waited_s == 0.0
    more = [_test(n, duration=30.0, creations=1, deletions=1) for n in range(10)]
    assert plan.simulate(more, {}, 10, deleting_s=30.0).waited_s > 0


def test_a_shared_stream_is_made_once_per_worker_and_billed_for_its_life():
    shared = {"stream:shared": SharedRecord(key="stream:shared", kind="stream", window_s=30.0, shards=1)}
    tests = [_test(n, duration=10.0, shared=["stream:shared"]) for n in range(6)]
    one = plan.simulate(tests, shared, 0, deleting_s=30.0)
    assert one.shared_made["stream:shared"] == 1
    assert one.wall_s == pytest.approx(30.0 + 60.0)
    assert one.shared_use["stream:shared"]["shard_seconds"] == pytest.approx(60.0 + 30.0 + 30.0)
    two = plan.simulate(tests, shared, 2)
    assert two.shared_made["stream:shared"] == 2


def test_a_search_domain_costs_its_making_and_whole_instance_hours():
    domain = SharedRecord(key="search-domain", kind="search-domain", window_s=1.0)
    assert domain.making_s == plan.SHARED_KINDS["search-domain"] >= 900
    schedule = plan.simulate([_test(0, shared=["search-domain"])], {"search-domain": domain}, 0)
    assert schedule.shared_use["search-domain"]["search_instance_hours"] == 1


def test_the_plan_prices_its_use_and_ends_with_the_line_scripts_read():
    tests = [_test(n, duration=600.0, creations=1) for n in range(3)]
    for test in tests:
        test.usage = {"streams": 1, "shards": 1, "shard_seconds": 660.0, "shard_hours": 660 / 3600,
                      "shard_hours_whole": 1}
    built = plan.build_plan(tests, {}, 2, "ap-northeast-2")
    lines = plan.format_plan(built)
    match = LINE.match(lines[-1])
    assert match, lines[-1]
    minutes, workers, shard_hours, usd, region = match.groups()
    assert (workers, region) == ("2", "ap-northeast-2")
    assert float(shard_hours) == pytest.approx(0.55)
    assert float(usd) == pytest.approx(0.55 * 0.0195, abs=0.001)
    assert float(minutes) == pytest.approx(2 * 600 / 60, abs=0.1)  # a worker runs two of the three
    assert all(len(line) <= 100 for line in lines), [line for line in lines if len(line) > 100]
    assert "unverified" in "\n".join(lines)  # Seoul's price is Tokyo's, and says so
    assert built.to_json()["line"] == lines[-1]


def test_records_survive_json():
    record = _test(3, creations=2, shared=["stream:shared"])
    assert Record.from_json(record.to_json()) == record


def test_a_plan_that_makes_nothing_says_so():
    built = plan.build_plan([_test(0, duration=1.0)], {}, 0, "us-east-1")
    assert LINE.match(built.line()).groups()[2:4] == ("0.00", "0.000")
    assert built.to_json()["totals"]["streams"] == 0


def test_streams_made_ahead_shorten_the_wall_and_only_make_stream_s_are():
    """The next test's make_stream streams are made while the current test runs; a stream a test makes with its
    own client call is not (a pool cannot know it)."""
    def pair(poolable: bool) -> list:
        tests = [_test(0, duration=60.0), _test(1, duration=60.0, creations=1, window=30.0)]
        tests[1].creations[0].poolable = poolable
        return tests

    assert plan.simulate(pair(True), {}, 0, ahead=False).wall_s == pytest.approx(120.0)
    assert plan.simulate(pair(True), {}, 0, ahead=True).wall_s == pytest.approx(90.0)
    assert plan.simulate(pair(False), {}, 0, ahead=True).wall_s == pytest.approx(120.0)
    built = plan.build_plan(pair(True), {}, 0, "us-east-1")
    assert built.streams_by_test == {pair(True)[1].nodeid: [[1, False, None]]}
