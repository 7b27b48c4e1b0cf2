"""The swarm's accounts (load/tally.py): jobs, the wire form Locust carries, and the offer check of the scale family."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.load.tally import SwarmJob, SwarmTally, shape_job, weighted_order


def _job(**changes) -> SwarmJob:
    values = dict(job_id="j1", stream="s", region="eu-west-1", records_per_s=800, record_size=100, batch=25, users=8,
                  seconds=5)
    values.update(changes)
    return SwarmJob(**values)


def test_a_job_goes_through_json_and_starts_lead_s_after_the_master_accepts_it() -> None:
    job = _job()
    assert SwarmJob.from_json(job.to_json()) == job
    started = job.starting(1000.0)
    assert started.start_at == 1000.0 + job.lead_s and started.end_at == started.start_at + 5
    assert job.pacing_s == pytest.approx(25 * 8 / 800)


@pytest.mark.parametrize(("changes", "words"), [
    ({"records_per_s": 0}, "positive rate"),
    ({"batch": limits.PUT_RECORDS_MAX_RECORDS.value + 1}, "over PutRecords"),
    ({"seconds": 0}, "positive length"),
    ({"job_id": ""}, "job id"),
])
def test_a_job_that_cannot_run_is_refused_saying_why(changes, words) -> None:
    with pytest.raises(ValueError, match=words):
        _job(**changes)
    with pytest.raises(ValueError, match="not a swarm job"):
        SwarmJob.from_json('{"stream": "s"}')


@pytest.mark.parametrize(("rate", "size", "workers"), [(800, 100, 2), (1_000_000, 100, 64), (40, 50_000, 2)])
def test_shape_job_offers_the_rate_exactly_within_the_request_caps(rate, size, workers) -> None:
    job = shape_job(job_id="j", stream="s", region="r", records_per_s=rate, record_size=size, workers=workers,
                    seconds=5)
    assert job.users >= workers and job.batch <= limits.PUT_RECORDS_MAX_RECORDS.value
    assert job.batch * size <= limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value
    assert job.users * job.batch / job.pacing_s == pytest.approx(rate)


def test_deltas_merged_on_the_master_add_up_to_every_record_counted_once() -> None:
    worker_a, worker_b, master = SwarmTally("j"), SwarmTally("j"), SwarmTally("j")
    worker_a.count("s0", 10, accepted=3, accepted_bytes=300)
    worker_a.error("ProvisionedThroughputExceededException", 2)
    worker_a.count("s0", 10, throttled=2)
    master.merge(worker_a.take_delta())
    worker_a.count("s1", 11, accepted=1, accepted_bytes=100)  # after the first delta: only in the second
    worker_b.count("s0", 10, failed=1)
    worker_b.mismatched += 1
    for delta in (worker_a.take_delta(), worker_b.take_delta(), worker_a.take_delta()):  # the last one is empty
        master.merge(delta)
    assert master.totals() == {"accepted": 4, "throttled": 2, "failed": 1, "accepted_bytes": 400}
    assert master.totals("s0")["accepted"] == 3 and master.mismatched == 1
    assert SwarmTally.from_wire(master.to_wire()) == master


def _steady(tally: SwarmTally, shard: str, seconds: range, judged: int) -> None:
    for second in seconds:
        tally.count(shard, second, accepted=min(judged, 100), throttled=max(0, judged - 100))


def test_the_offer_is_enough_only_when_every_shard_got_its_share() -> None:
    tally = SwarmTally("j")
    _steady(tally, "s0", range(100, 106), 200)
    _steady(tally, "s1", range(100, 106), 140)  # 70 % of a 200 target: below the 75 % needed
    offer = tally.offer(target_per_shard=200, start=101, seconds=3, needed=0.75)
    assert offer.fractions == {"s0": 1.0, "s1": 0.7} and not offer.enough
    assert "least: s1" in offer.describe() or "70.0%" in offer.describe()
    assert tally.offer(target_per_shard=200, start=101, seconds=3, needed=0.75, shards=["s0"]).enough


def test_over_the_limit_one_thin_second_makes_the_offer_not_enough() -> None:
    tally = SwarmTally("j")
    _steady(tally, "s0", range(100, 106), 200)
    tally.seconds["s0"][102] = [90, 0, 0, 9000]  # one second offered less than the limit: the shard's rate is ours
    offer = tally.offer(target_per_shard=200, start=101, seconds=3, needed=0.75, floor=100)
    assert offer.least is not None and offer.least > 0.75
    assert not offer.enough and "thinnest second offered 90" in offer.describe()
    assert tally.offer(target_per_shard=200, start=101, seconds=3, needed=0.75).enough  # without the floor


def test_weighted_order_gives_each_shard_its_share_in_any_run_of_consecutive_slots() -> None:
    order = weighted_order([2, 2, 5, 5])
    assert sorted(order) == [0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]
    cycle = order * 10
    for length in (5, 14, 35):  # a batch of 35 records (the scale family's, offline) from any position
        for start in range(len(order)):
            window = cycle[start:start + length]
            for index, weight in enumerate([2, 2, 5, 5]):
                assert abs(window.count(index) - length * weight / 14) <= 1.5, (length, start, index)
    assert weighted_order([1, 1, 1]) == [0, 1, 2]


def test_a_part_of_a_tally_keeps_its_shards_counts_and_refusals_and_the_wire_carries_them() -> None:
    worker = SwarmTally("j1")
    worker.count("s0", 100, accepted=10, accepted_bytes=1000)
    worker.count("s1", 100, throttled=4)
    worker.error("ProvisionedThroughputExceededException", 4, shard="s1")
    worker.count("s2", 100, failed=1)
    worker.error("InternalFailure", 1, shard="s2")
    master = SwarmTally("j1")
    master.merge(worker.take_delta())
    assert master.errors == {"ProvisionedThroughputExceededException": 4, "InternalFailure": 1}
    part = master.only(["s1", "s2"])
    assert part.shards == ["s1", "s2"] and part.totals() == {"accepted": 0, "throttled": 4, "failed": 1,
                                                              "accepted_bytes": 0}
    assert part.errors == {"ProvisionedThroughputExceededException": 4, "InternalFailure": 1}
    assert master.only(["s0"]).errors == {} and master.only(["s0"]).totals()["accepted"] == 10


def test_a_job_with_shard_weights_goes_through_json_and_refuses_weights_that_are_no_whole_numbers() -> None:
    job = shape_job(job_id="j", stream="s", region="r", records_per_s=1120, record_size=100, workers=2, seconds=5,
                    shard_weights={"a": 2, "b": 5})
    assert SwarmJob.from_json(job.to_json()).shard_weights == {"a": 2, "b": 5}
    with pytest.raises(ValueError, match="whole numbers"):
        _job(shard_weights={"a": 0})
    with pytest.raises(ValueError, match="whole numbers"):
        _job(shard_weights={"a": 1.5})


def test_a_run_that_offered_two_shares_is_judged_by_parts() -> None:
    from collections import namedtuple

    from pytest_kinesis_limits.kinesis.meter import measure
    from pytest_kinesis_limits.load.swarm import SwarmResult
    from pytest_kinesis_limits.plugin.load_fixtures import ScaleRun, _weights

    assert _weights({"a": 0.8, "b": 2.0}) == {"a": 2, "b": 5} and _weights({"a": 1.5, "b": 1.5}) == {"a": 1, "b": 1}
    Record = namedtuple("Record", "shard_id sequence_number partition_key data arrival")
    records = [Record("a", str(i), "k", b"x" * 98, 100 + i / 80) for i in range(400)]
    records += [Record("b", str(i), "k", b"x" * 98, 100 + i / 100) for i in range(500)]
    tally = SwarmTally("j1")
    for second in range(100, 105):
        tally.count("a", second, accepted=80, accepted_bytes=8000)
        tally.count("b", second, accepted=100, accepted_bytes=10000, throttled=100)
        tally.error("ProvisionedThroughputExceededException", 100, shard="b")
    job = _job(shard_weights={"a": 2, "b": 5})
    run = ScaleRun(None, {"a": 0.8, "b": 2.0}, 100.0, 0.1, 3, SwarmResult(job, tally, {"w1": "final"}),
                   measure(records), start=101, needed=0.75)
    with pytest.raises(ValueError, match="several shares"):
        run.offer
    below, above = run.part(["a"]), run.part(["b"])
    assert (below.share, above.share, below.shards, above.shards) == (0.8, 2.0, ["a"], ["b"])
    assert below.counted_and_read() == {"a": (400, 400)} and above.counted_and_read() == {"b": (500, 500)}
    assert below.offer.target == 80 and below.offer.enough and below.offer.floor is None
    assert above.offer.target == 200 and above.offer.enough and above.offer.floor == 100
    assert below.result.tally.errors == {} and above.result.tally.errors["ProvisionedThroughputExceededException"]
    assert above.full_seconds() == {"b"} and below.full_seconds() == set()
    assert set(above.measured.shards) == {"b"} and above.measured.records_read == 500
    with pytest.raises(ValueError, match="not shards of this run"):
        run.part(["c"])
