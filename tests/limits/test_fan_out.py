"""Enhanced fan-out: registered consumers at their documented limits (``-k fan_out``, issue 22).

The seed's list of limits ends with "up to 20 consumers per stream can use enhanced fan-out". RegisterStreamConsumer
(API reference) documents it, and a second limit beside it: at most 5 consumers of the account CREATING at once.
Each test registers through ``make_consumer(..., retries=False)`` (one attempt: a LimitExceededException reaches
the test instead of botocore's retries) and records its measurement before asserting.

Plain moto registers any number of consumers, ACTIVE at once: the family is a strict expected failure there.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis import consumers

pytestmark = pytest.mark.kinesis_gap(
    "moto-plain", reason="moto registers any number of consumers per stream, ACTIVE at once (no CREATING, so no "
    "limit on consumers CREATING)")

PER_STREAM = limits.FAN_OUT_CONSUMERS_PER_STREAM
CREATING = limits.FAN_OUT_CONSUMERS_CREATING
#: RegisterStreamConsumer's rate: at most this many calls in any second, so that a refusal is the limit under test.
CALLS_PER_S = limits.FAN_OUT_REGISTER_CALLS_PER_S.value


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def refusal(exc: ClientError) -> str:
    return f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"


def test_fan_out_consumers_per_stream(kinesis_stream, make_consumer, kinesis_client, kinesis_clock,
                                      kinesis_wait_policy, record_measurement):
    """20 consumers register on one stream and the 21st is refused with LimitExceededException. They are registered
    five at a time (each wave ACTIVE before the next: at most 5 may be CREATING) and at most five calls a second."""
    registered, refused = [], None
    while refused is None and len(registered) <= PER_STREAM.value:
        wave = []
        for _ in range(min(CREATING.value, PER_STREAM.value + 1 - len(registered))):
            try:
                wave.append(make_consumer(kinesis_stream, wait=False, retries=False))
            except ClientError as exc:
                refused = exc
                break
        kinesis_clock.sleep(1.0)  # the next wave's calls fall in another second
        for consumer in wave:
            consumers.wait_active(kinesis_client, consumer, clock=kinesis_clock, policy=kinesis_wait_policy)
        registered += wave
    code = refused.response["Error"]["Code"] if refused is not None else None
    ok = len(registered) == PER_STREAM.value and code == "LimitExceededException"
    record_measurement(PER_STREAM, len(registered), verdict=verdict(ok),
                       detail=f"{len(registered)} registered, then " + (refusal(refused) if refused is not None else
                                                                       f"a {len(registered) + 1}th not tried"))
    assert len(registered) == PER_STREAM.value, f"{len(registered)} consumers registered, not {PER_STREAM.value}"
    assert code == "LimitExceededException", (f"consumer {PER_STREAM.value + 1} was not refused with "
                                               f"LimitExceededException: {refusal(refused) if refused else 'accepted'}")


def test_fan_out_consumers_creating_at_once(kinesis_stream, make_consumer, kinesis_client, kinesis_clock,
                                            kinesis_wait_policy, record_measurement):
    """Five consumers CREATING at once, and a sixth registered meanwhile is refused with LimitExceededException;
    once they are ACTIVE, the sixth registers. A sixth that meets one of the five already ACTIVE tested nothing:
    ``inconclusive`` (live, a consumer may become ACTIVE within the second the calls take)."""
    first = [make_consumer(kinesis_stream, wait=False, retries=False) for _ in range(CREATING.value)]
    kinesis_clock.sleep(1.0 / CALLS_PER_S)  # the sixth call within the rate, while the five are still CREATING
    try:
        make_consumer(kinesis_stream, wait=False, retries=False)
        sixth = "accepted"
    except ClientError as exc:
        sixth = refusal(exc)
    statuses = [consumers.status(kinesis_client, c) for c in first]
    still_creating = statuses.count("CREATING")
    for consumer in first:
        consumers.wait_active(kinesis_client, consumer, clock=kinesis_clock, policy=kinesis_wait_policy)
    try:
        make_consumer(kinesis_stream, wait=False, retries=False)
        after = "accepted"
    except ClientError as exc:
        after = refusal(exc)
    refused = sixth.startswith("LimitExceededException")
    never_creating = [c.name for c in first if c.registered_status != "CREATING"]
    if not refused and never_creating:
        outcome = "fail"  # the backend has no CREATING state to count (AWS answers CREATING): nothing the client did
    elif not refused and still_creating < CREATING.value:
        outcome = "inconclusive"  # the client could not hold five CREATING while it asked for a sixth
    else:
        outcome = verdict(refused and after == "accepted")
    record_measurement(CREATING, CREATING.value if refused else CREATING.value + 1, verdict=outcome,
                       detail=f"sixth while {still_creating} of {CREATING.value} were CREATING: {sixth}; once ACTIVE: "
                              f"{after}" + (f"; {len(never_creating)} answered "
                                            f"{first[0].registered_status or 'no status'} at registration, not "
                                            "CREATING" if never_creating else ""))
    if outcome == "inconclusive":
        pytest.skip(f"inconclusive: only {still_creating} of the five were still CREATING at the sixth call")
    assert not never_creating, (f"RegisterStreamConsumer answered {first[0].registered_status!r}, not CREATING, for "
                                f"{len(never_creating)} consumers: there was no CREATING state to limit")
    assert refused, f"a sixth consumer registered while five were CREATING: {sixth}"
    assert after == "accepted", f"the sixth was still refused once the five were ACTIVE: {after}"
