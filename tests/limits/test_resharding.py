"""Resharding continuity: split, merge and uniform scaling while writers keep writing (``-k resharding``).

Each scenario writes a steady rate over 64 partition keys (so every child shard gets data), reshards the
stream from the test, timestamps UPDATING -> ACTIVE, keeps writing after ACTIVE, then reads every shard
(parents to their end before children) and checks record by record: nothing lost, nothing reordered per
key, duplicates and phantoms only where a retried or errored request explains them, parents closed with an
ending sequence number, children covering the parent's hash range exactly, every child fed.
The seed's scenario (500 records every 0.5 s, 100 times = 50,000 records) is a named case; offline it runs
on the simulated clock in seconds, live at the real pace (about a minute).

Live cost: every scenario makes its own 1-4 shard stream for one to a few minutes (a reshard on AWS takes
seconds to minutes) and spends one of the stream's UpdateShardCount calls; the whole family is a few
shard-hours at most, well under 1 USD. The UpdateShardCount rule tests make two more streams and two
reshards; the 24-hour call budget test runs offline only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis.reader import list_all_shards, open_shards
from pytest_kinesis_limits.kinesis.resharding import Reshard, ReshardResult, Scenario, run_scenario
from pytest_kinesis_limits.kinesis.resources import (ACCOUNT_BUSY_FIRST_PAUSE_S, ACCOUNT_BUSY_WORDING, AccountBusyError,
                                                     stream_status, wait_stream_active, wait_until,
                                                     while_account_busy)

PER_TICK = limits.PUT_RECORDS_MAX_RECORDS.value  # the seed: one full PutRecords every half second
TICK_S = 0.5
# The family's steady rate: 40 % of one shard's record capacity, below the capacity of every stream used.
STEADY = int(limits.SHARD_WRITE_RECORDS_PER_S.value * TICK_S * 0.4)

PLAIN_MOTO = pytest.mark.kinesis_gap(
    "moto-plain", reason="moto keeps writing to a closed parent, re-puts a split parent's records and copies "
    "merge parents into the child, and never nulls a closed shard's iterator")


# Offline, a small scenario's reshard lasts this many ticks instead of the catalogue's typical UPDATING window
# (lifecycle.stream.updating_s.reshard, 30 s): continuity across a split or merge does not depend on how long
# the stream is UPDATING, and the 16-tick shape keeps the family fast. The seed scenarios keep the typical window.
SMALL_UPDATING_TICKS = 2


def small(name: str, shards: int, reshard: Reshard) -> Scenario:
    """A scenario at the steady rate: 16 ticks of 0.5 s, reshard at tick 4, at least 6 ticks after ACTIVE."""
    return Scenario(name, shards, reshard, records_per_tick=STEADY, tick_s=TICK_S, ticks=16, reshard_tick=4,
                    after_active_ticks=6)


def offline_updating_s(scenario: Scenario) -> float | None:
    """The UPDATING window a scenario asks of the offline layer (None: the layer's typical one)."""
    return SMALL_UPDATING_TICKS * scenario.tick_s if scenario in SMALL_SCENARIOS else None


def seed(name: str, shards: int, reshard: Reshard) -> Scenario:
    """The seed's scenario: 500 records every 0.5 s, 100 times (50,000 records), reshard at tick 20 (10 s in), so
    that a reshard of the catalogue's typical length (lifecycle.stream.updating_s.reshard) and the 10 ticks after
    it fit the 100 ticks; a longer one extends the run."""
    return Scenario(name, shards, reshard, records_per_tick=PER_TICK, tick_s=TICK_S, ticks=100, reshard_tick=20,
                    after_active_ticks=10)


SMALL_SCENARIOS = [
    small("split-1-2", 1, Reshard.split()),
    small("merge-2-1", 2, Reshard.merge()),
    small("uniform-1-2", 1, Reshard.uniform(2)),
    small("uniform-2-1", 2, Reshard.uniform(1)),
    small("uniform-2-4", 2, Reshard.uniform(4)),
    small("uniform-4-2", 4, Reshard.uniform(2)),
]
SEED_SCENARIOS = [
    seed("seed-50k-split-1-2", 1, Reshard.split()),
    seed("seed-50k-merge-2-1", 2, Reshard.merge()),
]
SCENARIOS = SMALL_SCENARIOS + SEED_SCENARIOS


def record_result(record_measurement, result: ReshardResult) -> None:
    """The family's measurements, recorded before any assertion."""
    c = result.continuity
    assert c is not None
    counts = result.counts()
    detail = (f"{result.scenario.name}: {counts['written']} written, {counts['acknowledged']} acknowledged, "
              f"{counts['read']} read, duplicated {counts['duplicated']} ({counts['duplicated_unexplained']} "
              f"unexplained), phantom {counts['phantom']} ({counts['phantom_unexplained']} unexplained), "
              f"shards {result.shards_before}->{result.shards_after}")
    record_measurement(limits.RESHARD_LOST_RECORDS, len(c.lost), verdict="pass" if not c.lost else "fail",
                       detail=detail, series=result, **counts)
    record_measurement(limits.RESHARD_REORDERED_RECORDS, len(c.reordered),
                       verdict="pass" if not c.reordered else "fail", detail=detail)
    # Throttling is the shard's write limit, not the reshard: the seed cases write at exactly one shard's
    # capacity, so live some of their records are throttled (and retried) in every phase. Counted apart.
    during = result.write_errors("during")
    throttled = {phase: result.throttled(phase) for phase in ("before", "during", "after")}
    record_measurement(limits.RESHARD_WRITE_ERRORS, sum(during.values()), verdict="info",
                       detail=f"{result.scenario.name}: during UPDATING {during or 'none'}; before "
                              f"{result.write_errors('before') or 'none'}; after {result.write_errors('after') or 'none'}"
                              f"; throttled (not counted) before/during/after {throttled['before']}/"
                              f"{throttled['during']}/{throttled['after']}",
                       throttled_during=throttled["during"], throttled_total=sum(throttled.values()))
    record_measurement(limits.RESHARD_UPDATING_S, result.reshard_duration, verdict="info",
                       detail=f"{result.scenario.name}: {result.scenario.reshard}, UPDATING "
                              f"{'seen' if result.updating_seen else 'not seen'}, polled every "
                              f"{result.scenario.tick_s:g} s")


def require(condition: bool, what: str, result: ReshardResult) -> None:
    """Fail with ``what`` and the scenario's full report (no assertion rewriting of the result object)."""
    if not condition:
        pytest.fail(f"{what}\n{result}", pytrace=False)


@PLAIN_MOTO
@pytest.mark.parametrize("scenario", [pytest.param(s, id=s.name, marks=[pytest.mark.kinesis_long] if s in SEED_SCENARIOS
                                                   else []) for s in SCENARIOS])
def test_resharding_continuity(scenario: Scenario, make_stream, kinesis_client, kinesis_client_no_retry,
                               kinesis_transitions,
                               kinesis_clock, record_measurement, kinesis_fidelity):
    """Write, reshard, keep writing, read back: zero lost, zero reordered, lineage exact, children fed."""
    if kinesis_fidelity is not None and offline_updating_s(scenario) is not None:
        kinesis_fidelity.config.updating_seconds = offline_updating_s(scenario)
    scenario = scenario.bounded_by(kinesis_fidelity.config.updating_seconds if kinesis_fidelity else None)
    stream = make_stream(shard_count=scenario.shards)
    result = run_scenario(scenario, write_client=kinesis_client_no_retry, control_client=kinesis_client,
                          stream=stream.name, clock=kinesis_clock, require_null_iterator=True,
                          transitions=kinesis_transitions)
    record_result(record_measurement, result)
    c = result.continuity
    assert c is not None
    require(not c.lost, "acknowledged records lost across the reshard", result)
    require(not c.reordered, "records of a key read out of write order", result)
    require(not c.unexplained_duplicates and not c.unexplained_phantoms,
            "duplicates or phantoms that no retried or errored request explains", result)
    require(not result.lineage_problems, f"the shard lineage is wrong: {'; '.join(result.lineage_problems)}", result)
    require(not result.problems, "; ".join(result.problems), result)
    require(result.ok, "the scenario failed", result)


@contextlib.contextmanager
def _in_transition(transitions, policy) -> Iterator[None]:
    """A slot among the account's streams in transition for an UpdateShardCount and its settling (live: the run's
    ledger, so that the run's other workers cannot get it refused for a reason that is not the scaling rule's)."""
    lease = transitions.acquire("UpdateShardCount", policy.delay * policy.attempts) if transitions else None
    try:
        yield
    finally:
        if lease is not None:
            transitions.release(lease)


#: How many times a call refused because the account was busy (too many of its streams in transition: another
#: process's, not the scaling rule) is tried again, the pause doubling from resources.ACCOUNT_BUSY_FIRST_PAUSE_S.
BUSY_RETRIES = 8
BUSY_BOUND_S = ACCOUNT_BUSY_FIRST_PAUSE_S * (2 ** BUSY_RETRIES - 1)


def _update_shard_count(client, stream: str, target: int, clock=None) -> str | None:
    """UpdateShardCount; the error code, or None when accepted. A refusal because too many of the account's streams
    are in transition (other runs, other users: not this test's ledger) is the account's, not the scaling rule's:
    with ``clock`` it is tried again (``resources.while_account_busy``) up to ``BUSY_RETRIES`` times, then
    "AccountBusy"."""

    def call() -> None:
        client.update_shard_count(StreamName=stream, TargetShardCount=target, ScalingType="UNIFORM_SCALING")

    try:
        if clock is None:
            call()
        else:
            while_account_busy(call, clock, BUSY_BOUND_S, f"UpdateShardCount {stream} -> {target}")
    except AccountBusyError:
        return "AccountBusy"
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def _open_count(client, stream: str) -> int:
    return len(open_shards(list_all_shards(client, stream)))


def _settle(client, stream: str, target: int, clock, policy) -> bool:
    """Wait until ``stream`` is ACTIVE with ``target`` open shards (live, the status can still say ACTIVE
    right after the call); False if it never gets there within the wait policy."""
    try:
        wait_until(lambda: stream_status(client, stream) == "ACTIVE" and _open_count(client, stream) == target,
                   clock=clock, policy=policy, what=f"{stream} ACTIVE with {target} open shards")
    except TimeoutError:
        return False
    return True


# AWS documents "LimitExceededException" for UpdateShardCount's default limits; a model constraint would be a
# ValidationException. Either means "refused as beyond the limit"; the code is recorded.
SCALING_REFUSALS = {"LimitExceededException", "ValidationException"}
UP = limits.UPDATE_SHARD_COUNT_MAX_FACTOR_UP
DOWN = limits.UPDATE_SHARD_COUNT_MAX_DIVISOR_DOWN


def _factor(limit, before: int, target: int) -> float:
    """How far one UpdateShardCount call scaled, in the limit's direction (up: target/before, down: before/target)."""
    return target / before if limit is UP else before / target


@pytest.mark.kinesis_gap("moto-plain", reason="moto's UpdateShardCount has no 2x / half rule")
@pytest.mark.parametrize(("limit", "start", "over", "at"), [
    pytest.param(UP, 2, 2 * UP.value + 1, 2 * UP.value, id="up-2x"),
    pytest.param(DOWN, 2 * DOWN.value, 1, 2, id="down-half"),
])
def test_resharding_update_shard_count_factor(limit, start, over, at, make_stream, kinesis_client,
                                              kinesis_client_no_retry, kinesis_clock, kinesis_wait_policy,
                                              kinesis_transitions, record_measurement):
    """UpdateShardCount takes at most double / at least half the open shards: the boundary is taken, one
    shard beyond it is refused and changes nothing. One reshard per case.

    Measured: the largest factor the backend accepted (None when it accepted neither call)."""
    stream = make_stream(shard_count=start)
    accepted: list[tuple[int, int]] = []  # (open shards before, target) of each accepted call
    with _in_transition(kinesis_transitions, kinesis_wait_policy):
        refused = _update_shard_count(kinesis_client_no_retry, stream.name, over, kinesis_clock)
        if refused is None:
            accepted.append((start, over))
            _settle(kinesis_client, stream.name, over, kinesis_clock, kinesis_wait_policy)
    still_open = _open_count(kinesis_client, stream.name)
    with _in_transition(kinesis_transitions, kinesis_wait_policy):
        taken = _update_shard_count(kinesis_client_no_retry, stream.name, at, kinesis_clock)
        if taken is None:
            accepted.append((still_open, at))
            _settle(kinesis_client, stream.name, at, kinesis_clock, kinesis_wait_policy)
    now_open = _open_count(kinesis_client, stream.name)
    ok = refused in SCALING_REFUSALS and still_open == start and taken is None and now_open == at
    factor = max((_factor(limit, before, target) for before, target in accepted), default=None)
    busy = "AccountBusy" in (refused, taken)  # the account's streams stayed in transition: the rule was not asked
    record_measurement(limit, factor, verdict="inconclusive" if busy else "pass" if ok else "fail",
                       detail=f"{start} -> {over}: {refused or 'accepted'} ({still_open} open after); {start} -> "
                              f"{at}: {taken or 'accepted'} ({now_open} open after)")
    if busy:
        pytest.skip("inconclusive: too many of the account's streams stayed in transition (LimitExceededException "
                    f"'...{ACCOUNT_BUSY_WORDING}...') through {BUSY_RETRIES} retries: the scaling rule was never asked")
    assert refused in SCALING_REFUSALS, f"UpdateShardCount {start} -> {over} was {refused or 'accepted'}"
    assert still_open == start, f"a refused UpdateShardCount changed the stream: {still_open} open shards"
    assert taken is None, f"UpdateShardCount {start} -> {at} (the limit itself) was refused: {taken}"
    assert now_open == at, f"{now_open} open shards after UpdateShardCount to {at}"


@pytest.mark.kinesis_gap("moto-plain", reason="moto's UpdateShardCount has no daily call budget")
def test_resharding_update_shard_count_calls_per_24h(make_stream, kinesis_client, kinesis_client_no_retry,
                                                     kinesis_clock, kinesis_wait_policy, record_measurement,
                                                     kinesis_settings):
    """Ten UpdateShardCount calls per stream in a rolling 24 hours; the next is refused until the window rolls.

    Offline only: on AWS it costs ten reshards (minutes each) and the stream's daily budget (a plan of a live run,
    ``--kinesis-plan``, leaves it out too).
    """
    if not kinesis_clock.simulated or kinesis_settings.plan:
        pytest.skip("ten live reshards take many minutes; the rolling 24 h window needs the simulated clock")
    calls = limits.UPDATE_SHARD_COUNT_CALLS_PER_24H.value
    window_h = limits.UPDATE_SHARD_COUNT_WINDOW_HOURS.value
    stream = make_stream(shard_count=1)
    codes = []
    for n in range(calls + 1):
        codes.append(_update_shard_count(kinesis_client_no_retry, stream.name, 2 if n % 2 == 0 else 1))
        wait_stream_active(kinesis_client, stream.name, clock=kinesis_clock, policy=kinesis_wait_policy)
    kinesis_clock.sleep(limits.UPDATE_SHARD_COUNT_WINDOW_HOURS.value * 60 * 60)
    after_window = _update_shard_count(kinesis_client_no_retry, stream.name, 2 if calls % 2 == 0 else 1)
    accepted = sum(code is None for code in codes)
    ok = codes[:calls] == [None] * calls and codes[calls] in SCALING_REFUSALS and after_window is None
    record_measurement(limits.UPDATE_SHARD_COUNT_CALLS_PER_24H, accepted, verdict="pass" if ok else "fail",
                       detail=f"answers {codes}; after {window_h} h: {after_window or 'accepted'}")
    assert codes[:calls] == [None] * calls, f"a call within the daily budget was refused: {codes}"
    assert codes[calls] in SCALING_REFUSALS, f"call {calls + 1} in {window_h} h was {codes[calls] or 'accepted'}"
    assert after_window is None, f"a call after the {window_h} h window rolled was refused: {after_window}"
