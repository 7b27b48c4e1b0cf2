"""The resharding family fails against backends that break continuity, and passes where errors are explained.

Each test runs a few cases of tests/limits/test_resharding.py (copied with pytester) against the offline
fidelity layer with one behaviour broken by a conftest (an autouse fixture that requests ``kinesis_fidelity``
and patches the layer), or against plain moto with the family's gap markers taken off.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAMILY = Path(__file__).parents[1] / "limits" / "test_resharding.py"
SMALL_SPLIT_AND_MERGE = "continuity and not seed and (split or merge)"

LOSE_ONE_RECORD = """
import pytest

@pytest.fixture(autouse=True)
def _lose_one_acknowledged_record(kinesis_fidelity):
    assert kinesis_fidelity is not None, "this proof needs the fidelity layer"
    dropped = []

    def lossy(call):
        # After the reshard has started (a shard is closed), acknowledge one record without storing it.
        if not dropped and call.resharding:
            dropped.append(call.partition_key)
            return call.skip()
        return call.store()

    kinesis_fidelity.store_fault = lossy  # the layer's fault-injection hook (docs/fidelity.md)
"""

WRITE_TO_CLOSED_PARENT = """
import pytest
from pytest_kinesis_limits.fidelity import sequence

@pytest.fixture(autouse=True)
def _keep_writing_to_the_closed_parent(kinesis_fidelity, monkeypatch):
    assert kinesis_fidelity is not None, "this proof needs the fidelity layer"
    real = sequence.StreamState.route

    def to_parent(self, stream, hash_key):
        shard = real(self, stream, hash_key)
        parent = stream.shards.get(shard.parent) if shard is not None and shard.parent else None
        return parent if parent is not None else shard

    monkeypatch.setattr(sequence.StreamState, "route", to_parent)
"""

STORE_ONE_TWICE = """
import pytest

@pytest.fixture(autouse=True)
def _store_one_record_twice(kinesis_fidelity):
    assert kinesis_fidelity is not None, "this proof needs the fidelity layer"
    doubled = []

    def twice(call):
        seq = call.store()
        if not doubled and call.resharding:
            doubled.append(seq)
            call.store()
        return seq

    kinesis_fidelity.store_fault = twice  # the layer's fault-injection hook (docs/fidelity.md)
"""

NO_SHARD_COUNT_RULES = """
import pytest

@pytest.fixture(autouse=True)
def _no_update_shard_count_rules(kinesis_fidelity):
    assert kinesis_fidelity is not None, "this proof needs the fidelity layer"
    kinesis_fidelity.config.shard_count_rules = False
"""

# A shard write limit one record/s below the small scenarios' rate (40 % of the documented limit): before a
# merge each parent takes half of it, from the merge on the child takes all of it and throttles some records
# (retried by the producer), during and after the reshard. That is the shard's limit, not the reshard:
# reshard.write_errors must stay 0 and the throttles be reported apart.
LOW_WRITE_LIMIT = """
import pytest
from pytest_kinesis_limits import limits

@pytest.fixture(autouse=True)
def _low_write_limit(kinesis_fidelity):
    assert kinesis_fidelity is not None, "this proof needs the fidelity layer"
    # Below half the family's steady rate (40 % of a shard): while the merge is UPDATING each parent takes about
    # half of it, and the merged child all of it.
    kinesis_fidelity.config.write_records_per_s = int(limits.SHARD_WRITE_RECORDS_PER_S.value * 0.4 / 2) - 1
"""

# During the reshard, one PutRecords request is stored and then answered HTTP 500 (the answer is "lost"):
# the producer retries it, so its records are read twice. The log explains the duplicates: the family passes
# and reports the write errors.
STORED_THEN_500 = """
import pytest
from moto.kinesis.models import KinesisBackend
from pytest_kinesis_limits.fidelity import errors

class InternalFailure(errors.KinesisError):
    code = 500

@pytest.fixture(autouse=True)
def _store_then_fail_once(kinesis_fidelity, monkeypatch):
    assert kinesis_fidelity is not None, "this proof needs the fidelity layer"
    layered = KinesisBackend.put_records  # the layer's patched method
    failed = []

    def flaky(self, stream_arn, stream_name, records):
        answer = layered(self, stream_arn, stream_name, records)
        stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
        if not failed and any(not s.is_open for s in stream.shards.values()):
            failed.append(len(records))
            raise InternalFailure("InternalFailure", "stored, but the answer was lost")
        return answer

    monkeypatch.setattr(KinesisBackend, "put_records", flaky)
"""


def _family(pytester: pytest.Pytester, *, conftest: str | None = None, keep_gaps: bool = True) -> None:
    text = FAMILY.read_text(encoding="utf-8")
    if not keep_gaps:
        # Aim the gap markers at the live backend (an unknown label is a usage error): plain moto must now pass or
        # fail for real.
        text = text.replace('kinesis_gap(\n    "moto-plain"', 'kinesis_gap(\n    "live"')
        text = text.replace('kinesis_gap("moto-plain"', 'kinesis_gap("live"')
        assert "moto-plain" not in text
    pytester.makepyfile(test_resharding_copy=text)  # a basename the outer session has not imported
    if conftest:
        pytester.makeconftest(conftest)


def _measurements(pytester: pytest.Pytester) -> list[dict]:
    return json.loads((pytester.path / "report.json").read_text())["measurements"]


def test_clean_layer_passes_the_selection(pytester: pytest.Pytester) -> None:
    """The control: without an injected fault the same selection passes (so the failures below are the faults')."""
    _family(pytester)
    pytester.runpytest("-p", "no:cacheprovider", "-k", SMALL_SPLIT_AND_MERGE).assert_outcomes(passed=2)


def test_fails_when_one_acknowledged_record_is_lost_during_the_reshard(pytester: pytest.Pytester) -> None:
    _family(pytester, conftest=LOSE_ONE_RECORD)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", SMALL_SPLIT_AND_MERGE,
                                "--kinesis-report=report.json")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*acknowledged records lost across the reshard*",
                                 "*lost 1, reordered 0*", "*never read*"])
    lost = [m for m in _measurements(pytester) if m["limit"] == "reshard.lost_records"]
    assert [(m["measured"], m["verdict"]) for m in lost] == [(1, "fail"), (1, "fail")]


def test_fails_when_the_backend_keeps_writing_to_the_closed_parent(pytester: pytest.Pytester) -> None:
    _family(pytester, conftest=WRITE_TO_CLOSED_PARENT)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", SMALL_SPLIT_AND_MERGE)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*records acknowledged by a closed shard beyond its EndingSequenceNumber*"])
    result.stdout.fnmatch_lines(["*new shard shardId-* received no records*"])


def test_fails_on_plain_moto_once_the_gap_markers_are_off(pytester: pytest.Pytester) -> None:
    """Plain moto keeps writing to the closed parent (split) and copies both parents into the child (merge)."""
    _family(pytester, keep_gaps=False)
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-fidelity=off", "-k", SMALL_SPLIT_AND_MERGE)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*new shard shardId-000000000001 received no records*"])
    result.stdout.fnmatch_lines(["*duplicates or phantoms that no retried or errored request explains*",
                                 "*UNEXPLAINED (stored more often than the producer sent it)*"])


def test_fails_when_a_record_is_stored_twice(pytester: pytest.Pytester) -> None:
    _family(pytester, conftest=STORE_ONE_TWICE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "continuity and not seed and split-1-2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*duplicated 1 (1 unexplained)*"])


def test_update_shard_count_rules_fail_without_them(pytester: pytest.Pytester) -> None:
    _family(pytester, conftest=NO_SHARD_COUNT_RULES)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "update_shard_count", "--kinesis-report=report.json")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*UpdateShardCount 2 -> 5 was accepted*"])
    result.stdout.fnmatch_lines(["*UpdateShardCount 4 -> 1 was accepted*"])
    result.stdout.fnmatch_lines(["*call 11 in 24 h was accepted*"])
    # The table shows what the backend accepted, not the test's own boundary: 2 -> 5 (x2.5), 4 -> 1 (/4).
    rows = {m["limit"]: (m["measured"], m["verdict"]) for m in _measurements(pytester)}
    assert rows["update_shard_count.max_factor_up"] == (2.5, "fail")
    assert rows["update_shard_count.max_divisor_down"] == (4, "fail")
    assert rows["update_shard_count.calls_per_24h"] == (11, "fail")


def test_throttling_is_not_counted_as_a_write_error_of_the_reshard(pytester: pytest.Pytester) -> None:
    """Parents (while the merge is UPDATING) and the merged child whose limit is below what they are offered
    throttle writes during and after the merge: the family passes (refused records are retried),
    reshard.write_errors stays 0 and the throttles are reported apart."""
    _family(pytester, conftest=LOW_WRITE_LIMIT)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "continuity and not seed and merge-2-1",
                                "--kinesis-report=report.json")
    result.assert_outcomes(passed=1)
    errors = {m["limit"]: m for m in _measurements(pytester)}["reshard.write_errors"]
    assert errors["measured"] == 0, errors
    assert errors["extra"]["throttled_during"] > 0 and errors["extra"]["throttled_total"] > 0, errors
    assert "throttled (not counted)" in errors["detail"]


def test_errored_request_during_the_reshard_is_reported_and_explained(pytester: pytest.Pytester) -> None:
    """A request stored but answered 500 while UPDATING: counted as write errors, its duplicates explained."""
    _family(pytester, conftest=STORED_THEN_500)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "continuity and not seed and split-1-2",
                                "--kinesis-report=report.json")
    result.assert_outcomes(passed=1)
    rows = {m["limit"]: m for m in _measurements(pytester)}
    errors = rows["reshard.write_errors"]
    assert errors["measured"] > 0 and "InternalFailure" in errors["detail"], errors
    assert rows["reshard.lost_records"]["extra"]["duplicated"] == errors["measured"]
    assert rows["reshard.lost_records"]["extra"]["duplicated_unexplained"] == 0


ACCOUNT_BUSY_FIRST = """
import pytest
from pytest_kinesis_limits.fidelity import errors
from pytest_kinesis_limits.fidelity.moto_adapter import KinesisBackend


@pytest.fixture(autouse=True)
def _others_streams_in_transition(kinesis_fidelity, monkeypatch):
    # Another process's streams fill the account's five in transition for the first {busy} calls (what a
    # second run in the account causes live): AWS's LimitExceededException for that, not the scaling rule's.
    layers = KinesisBackend.update_shard_count  # the fidelity layer's, with the scaling rules
    calls = []

    def busy(self, *args, **kwargs):
        calls.append(1)
        if len(calls) <= {busy}:
            raise errors.too_many_creating(self.account_id, 5)
        return layers(self, *args, **kwargs)

    monkeypatch.setattr(KinesisBackend, "update_shard_count", busy)
"""


@pytest.mark.parametrize(("busy", "outcome"), [(2, "pass"), (100, "inconclusive")], ids=["waited-out", "never-free"])
def test_a_refusal_for_the_accounts_streams_in_transition_is_never_the_scaling_rules_verdict(
        pytester: pytest.Pytester, busy: int, outcome: str) -> None:
    """Issue 20, item 2: a LimitExceededException because other streams of the account are in transition is waited
    out (the verdict is then the scaling rule's), or, when the account stays busy, ``inconclusive``; never a FAIL.
    (Before, the refused call at the limit was read as the rule refusing it.)"""
    _family(pytester, conftest=ACCOUNT_BUSY_FIRST.replace("{busy}", str(busy)))
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "update_shard_count_factor and up-2x",
                                "--kinesis-report", str(pytester.path / "report.json"))
    result.assert_outcomes(**({"passed": 1} if outcome == "pass" else {"skipped": 1}))
    assert [m["verdict"] for m in _measurements(pytester)] == [outcome]
