"""Scale: every shard of an N-shard stream takes its per-shard write limit under a distributed load (``-k scale``).

A Locust swarm (``kinesis_swarm``: a master and worker processes, on this machine or on many hosts) offers a share of
the per-shard records/s limit to every shard of a ``--kinesis-swarm-shards`` stream (default 4), each record's
explicit hash key inside one shard's range. Every record is counted by the swarm (accepted, throttled or failed, per
shard and second of the workers' clocks), and the stream is read back and measured on the service's clock
(``ApproximateArrivalTimestamp``, first second left out), as the throughput family measures one producer:

* below the limit (80 % offered): no record is refused;
* above it (200 % offered): each shard's sustained accepted rate is the limit within the tolerance settings, so the
  stream as a whole takes shards x limit, and the excess is refused per record with
  ProvisionedThroughputExceededException;
* both: the records the swarm counted accepted are exactly the records read back, per shard.

Verdicts never blame the service for the client: when the swarm did not offer the load (per shard, less than
``--kinesis-rate-min-offered`` of the target answered in the window, or, over the limit, a second in which a shard was
offered less than its limit) the verdict is ``inconclusive``. A worker lost mid-run leaves the counts it had not yet
reported out, so then the swarm's counts may fall short of the stream, never exceed it.

Offline the swarm writes to ``kinesis_endpoint`` over HTTP, on the wall clock, and the fidelity layer's per-shard
limits are scaled by ``--kinesis-swarm-layer-scale`` (default 0.1: 100 records/s per shard), which the report records.

Both tests are judged on one swarm run (``scale_part``): a stream of ``--kinesis-swarm-shards`` shards per test the
session runs, each half offered its own share from the same users at the same time (``kinesis_swarm.run`` with a share
per shard), each test judging its half alone. The swarm's wait on the wall clock is paid once, not once per test.
"""

from __future__ import annotations

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis.key_spread import open_shard_ranges
from pytest_kinesis_limits.kinesis.meter import within_tolerance
from pytest_kinesis_limits.reporting.report import judge
from pytest_kinesis_limits.reporting.series import swarm as swarm_series

UNDER_LOAD = 0.8
OVER_LOAD = 2.0
LIMIT = limits.SHARD_WRITE_RECORDS_PER_S
BELOW = "test_scale_below_the_limit_nothing_is_refused"
ABOVE = "test_scale_above_the_limit_every_shard_takes_the_limit"
#: Each test's share of the per-shard limit, in the order the stream's shards are dealt to them.
SIDES = {BELOW: UNDER_LOAD, ABOVE: OVER_LOAD}
_RUNS = pytest.StashKey[dict]()


def _case(item) -> str:
    callspec = getattr(item, "callspec", None)
    return callspec.id if callspec is not None else ""


@pytest.fixture
def scale_part(request, make_stream, kinesis_swarm, kinesis_settings, kinesis_client):
    """This test's half of the session's one swarm run (module doc). The first scale test to run makes the stream
    and runs the swarm for every scale test of its case the session runs (a parametrized case: those with the same
    id); the others take their part of that run, or its skip or failure."""
    name, case = request.node.originalname, _case(request.node)
    runs = request.config.stash.setdefault(_RUNS, {})
    if case not in runs:
        sides = [side for side in SIDES if any(getattr(item, "originalname", None) == side and _case(item) == case
                                                for item in request.session.items)] or [name]
        try:
            n = kinesis_settings.swarm_shards
            stream = make_stream(shard_count=n * len(sides))
            shards = sorted(r.shard_id for r in open_shard_ranges(kinesis_client, stream.name))
            parts = {side: shards[i * n:(i + 1) * n] for i, side in enumerate(sides)}
            run = kinesis_swarm.run(stream, share={sid: SIDES[side] for side, ids in parts.items() for sid in ids})
        except BaseException as exc:  # a plan's skip, a swarm that failed: the same for the tests that share the run
            runs[case] = exc
            raise
        runs[case] = (run, parts)
    done = runs[case]
    if isinstance(done, BaseException):
        raise done
    run, parts = done
    return run.part(parts[name])


def _counts(run) -> tuple[bool, str]:
    """Whether the swarm's accepted counts match the stream, per shard (at most the stream's with a lost worker)."""
    pairs = run.counted_and_read()
    lost = bool(run.result.lost)
    ok = all(c <= r if lost else c == r for c, r in pairs.values())
    said = ", ".join(f"{sid[-3:]}: {c:,}/{r:,}" for sid, (c, r) in pairs.items())
    return ok, f"counted/read per shard {said}" + (" (a worker was lost: its unreported counts are missing)"
                                                   if lost else "")


def _record(record_measurement, run, verdict: str, detail: str, **extra) -> None:
    m = run.measured
    totals = run.result.tally.totals()
    loaded = sorted(set(run.result.job.shard_weights.values()))
    together = f" (of {run.stream.shard_count} loaded at once, in the ratio {':'.join(map(str, loaded))})" \
        if len(loaded) > 1 else ""
    record_measurement(LIMIT, m.min_sustained() if run.share > 1 else m.max_sustained(), verdict=verdict,
                       detail=f"{len(run.shards)} shards{together}, {run.share:.0%} of {run.limit:,.0f} records/s "
                       f"per shard (layer scale {run.layer_scale:g}) from {run.result.describe()}; {detail}; "
                       f"{run.offer.describe()}",
                       shards=len(run.shards), load=run.share, layer_scale=run.layer_scale,
                       limit_in_force=run.limit, window_s=m.window_seconds, workers=len(run.result.workers),
                       lost_workers=len(run.result.lost), counted=totals["accepted"], read=m.records_read,
                       throttled=totals["throttled"], failed=totals["failed"], offered=run.offer.least,
                       stream_sustained=sum(m.sustained().values()), wall_clock=True,
                       series=swarm_series(m, run.result.tally, limit_in_force=run.limit,
                                           layer_scale=run.layer_scale), **extra)


def _skip_if_inconclusive(run) -> None:
    if not run.offer.enough:
        pytest.skip(f"inconclusive: the swarm did not offer the load: {run.offer.describe()}; add workers "
                    "(--kinesis-swarm-workers, or a master with workers on other hosts: docs/scale.md)")


@pytest.mark.kinesis_long
def test_scale_below_the_limit_nothing_is_refused(scale_part, record_measurement):
    """80 % of the limit to every shard from the whole swarm: no record refused, every record counted is read back."""
    run = scale_part
    tally = run.result.tally
    totals = tally.totals()
    counts_ok, counts = _counts(run)
    every_shard = len(run.measured.sustained()) == len(run.shards)
    ok = totals["throttled"] == 0 and totals["failed"] == 0 and counts_ok and every_shard
    # Throttled on shards that took their whole budget in some second: the load arrived in bursts there (workers or
    # the network stalled, then caught up), so the refusals are the shard's due, not a verdict on the limit.
    refusing = {sid for sid in tally.shards if tally.totals(sid)["throttled"]}
    bursts = bool(refusing) and totals["failed"] == 0 and refusing <= run.full_seconds()
    _record(record_measurement, run, judge(ok, conclusive=run.offer.enough and not bursts),
            f"{totals['throttled'] + totals['failed']:,} refused {dict(tally.errors)}"
            + (" in seconds where the shard had accepted its whole budget (bursts)" if bursts else "")
            + f"; {counts}")
    _skip_if_inconclusive(run)
    if bursts:
        pytest.skip(f"inconclusive: the swarm's load reached the limit within a second on {sorted(refusing)} (it "
                    "arrived in bursts: workers or the network stalled and caught up), so the refusals there say "
                    "nothing about a limit below the documented one; run on a quieter machine or with more workers")
    assert totals["throttled"] == 0 and totals["failed"] == 0, (
        f"records refused below the limit: {dict(run.result.tally.errors)}\n{run.measured.summary()}")
    assert every_shard, f"not every shard took records\n{run.measured.summary()}"
    assert counts_ok, counts


@pytest.mark.kinesis_long
@pytest.mark.kinesis_gap("moto-plain", reason="plain moto never throttles writes")
def test_scale_above_the_limit_every_shard_takes_the_limit(scale_part, kinesis_settings, record_measurement):
    """200 % of the limit to every shard: each shard's sustained accepted rate is the limit (within the tolerance
    settings), the stream takes shards x limit, and the excess is refused per record, throttled on every shard."""
    run = scale_part
    above, below = kinesis_settings.effective_rate_tolerance, kinesis_settings.effective_rate_tolerance_below
    rates = run.measured.sustained()
    at_limit = (len(rates) == len(run.shards) and run.measured.window_seconds == run.window_s
                and all(within_tolerance(rate, run.limit, above=above, below=below) for rate in rates.values()))
    tally = run.result.tally
    throttled_everywhere = all(tally.totals(sid)["throttled"] > 0 for sid in rates)
    only_throttled = tally.totals()["failed"] == 0
    counts_ok, counts = _counts(run)
    ok = at_limit and throttled_everywhere and only_throttled and counts_ok
    per_shard = ", ".join(f"{sid[-3:]}: {rate:,.1f}" for sid, rate in sorted(rates.items()))
    _record(record_measurement, run, judge(ok, conclusive=run.offer.enough),
            f"sustained per shard {per_shard} (tolerance +{above:.0%}/-{below:.0%}); refused "
            f"{dict(tally.errors)}; {counts}", max_sustained=run.measured.max_sustained())
    _skip_if_inconclusive(run)
    assert at_limit, (f"sustained accepted rate not within +{above:.0%}/-{below:.0%} of {run.limit:,.0f} records/s "
                      f"on every shard: {per_shard}\n{run.measured.summary()}")
    assert throttled_everywhere, f"a shard refused nothing at {OVER_LOAD:.0%} of its limit: {dict(tally.errors)}"
    assert only_throttled, f"records refused otherwise than throttled: {dict(tally.errors)}"
    assert counts_ok, counts
