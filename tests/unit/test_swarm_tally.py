"""The swarm's accounts (load/tally.py): jobs, the wire form Locust carries, and the offer check of the scale family."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.load.tally import SwarmJob, SwarmTally, shape_job


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
