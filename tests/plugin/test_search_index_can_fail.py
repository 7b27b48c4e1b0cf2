"""The search_index family can fail: each of its verdicts is FAIL against a destination broken in one way.

The family file runs under pytester with a conftest that breaks the stand-in index (or the delivery simulation
in front of it) per test (``BREAKS="<test name part>=<break>,..."``): a document dropped, every document indexed
twice, a record missing from the backup, index names without the documented suffix, failed documents in another
folder or without a documented field, hints over the maximum accepted or at the maximum refused, a longer or an
ignored interval, a split that does nothing. The measurements (``--kinesis-report``) must carry a ``fail``
verdict for the limit each break violates, the tests must fail, and verdicts not broken stay ``pass``.

The seed's 50,000-record reshard is swapped for a 12-tick one (``SMALL_RESHARD``): the verdict's code is the
same, and a second 50,000-record run would only add time (the family itself runs the full one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAMILY = Path(__file__).parents[1] / "limits" / "test_search_index.py"

BREAKING_CONFTEST = '''
import json, os

import pytest
from moto.kinesis.models import KinesisBackend
from moto.firehose.exceptions import ValidationException

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import firehose as sim, search_index as si
from pytest_kinesis_limits.kinesis.resharding import Reshard, Scenario

REAL_INDEX_ONE, REAL_BACK_UP, REAL_ERROR_RECORD = (si.SearchIndexStandIn._index_one, si.SearchIndexStandIn._back_up,
                                                   si.error_record)
REAL_VALIDATE, REAL_HINTS = si.validate_config, sim._hints


def _seventh(raw):
    try:
        payload = json.loads(raw)
    except ValueError:
        return False
    return isinstance(payload, dict) and 7 in (payload.get("id"), payload.get("test"))


def _drop(self, domain, key, raw, *rest):
    return True if _seventh(raw) else REAL_INDEX_ONE(self, domain, key, raw, *rest)


def _twice(self, *args):
    REAL_INDEX_ONE(self, *args)
    return REAL_INDEX_ONE(self, *args)


def _backup_drop(self, key, stream, raw, *rest):
    if not _seventh(raw):
        REAL_BACK_UP(self, key, stream, raw, *rest)


def _drop_both(mp):
    mp.setattr(si.SearchIndexStandIn, "_index_one", _drop)
    mp.setattr(si.SearchIndexStandIn, "_back_up", _backup_drop)


def _no_index_name(record, config, ending):
    out = REAL_ERROR_RECORD(record, config, ending)
    out.pop("esIndexName")
    return out


def _accept_all(config):
    out = json.loads(json.dumps(config))
    out.setdefault("IndexRotationPeriod", "OneDay")
    return out


def _refuse_max(config):
    hints = config.get("BufferingHints", {})
    if hints.get("SizeInMBs") == limits.FIREHOSE_OS_BUFFER_MIB_MAX.value \\
            or hints.get("IntervalInSeconds") == limits.FIREHOSE_OS_BUFFER_SECONDS_MAX.value:
        raise ValidationException("1 validation error detected: a broken destination refuses the maximum")
    return REAL_VALIDATE(config)


def _refuse_all(config):
    raise ValidationException("Exactly one destination configuration is supported for a Firehose")


def _split_nothing(self, stream_arn, stream_name, shard_to_split, new_starting_hash_key):
    return None


BREAKS = {
    "drop": lambda mp: mp.setattr(si.SearchIndexStandIn, "_index_one", _drop),
    "drop-both": _drop_both,
    "duplicate": lambda mp: mp.setattr(si.SearchIndexStandIn, "_index_one", _twice),
    "backup-drop": lambda mp: mp.setattr(si.SearchIndexStandIn, "_back_up", _backup_drop),
    "rotation": lambda mp: mp.setattr(si, "index_name", lambda base, rotation, arrival: f"{base}-x"),
    "error-folder": lambda mp: mp.setattr(si, "FAILED_FOLDER", "errors/"),
    "error-shape": lambda mp: mp.setattr(si, "error_record", _no_index_name),
    "accept-all": lambda mp: mp.setattr(si, "validate_config", _accept_all),
    "refuse-max": lambda mp: mp.setattr(si, "validate_config", _refuse_max),
    "refuse-all": lambda mp: mp.setattr(si, "validate_config", _refuse_all),
    "interval": lambda mp: mp.setattr(sim, "_hints", lambda config: (REAL_HINTS(config)[0],
                                                                    REAL_HINTS(config)[1] + 30)),
    "ignore-buffering": lambda mp: mp.setattr(sim, "_hints", lambda config: (REAL_HINTS(config)[0], 0)),
    "split-noop": lambda mp: mp.setattr(KinesisBackend, "split_shard", _split_nothing),
}
SMALL_RESHARD = Scenario("search-small-split-1-2", 1, Reshard.split(), records_per_tick=100, tick_s=0.5, ticks=12,
                         reshard_tick=4, after_active_ticks=4)


@pytest.fixture(autouse=True)
def _break_destination(request, kinesis_fidelity, monkeypatch):
    monkeypatch.setattr(request.module, "SEED_RESHARD", SMALL_RESHARD)
    # A two-tick UPDATING window for the small scenario, as the resharding family gives its small ones: a split
    # that never happens is then given up after 30 such windows (30 s simulated), not 30 of the typical 30 s.
    monkeypatch.setattr(kinesis_fidelity.config, "updating_seconds", 2 * SMALL_RESHARD.tick_s)
    for part, name in (p.split("=") for p in os.environ["BREAKS"].split(",")):
        if part in request.node.name:
            BREAKS[name](monkeypatch)
'''


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, breaks: str, *args: str):
    monkeypatch.setenv("BREAKS", breaks)
    pytester.makeconftest(BREAKING_CONFTEST)
    pytester.makepyfile(test_search_copy=FAMILY.read_text(encoding="utf-8"))  # not the family's module name
    report = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-report", str(report), *args)
    verdicts = {(m["test"].split("::")[-1], m["limit"]): m["verdict"]
                for m in json.loads(report.read_text(encoding="utf-8"))["measurements"]}
    return result, verdicts


SEED = "test_search_index_seed_events_indexed_once_and_backed_up"
RESHARD = "test_search_index_seed_reshard_indexed_and_backed_up_once"
MALFORMED = "test_search_index_malformed_record_goes_to_the_error_folder"


def test_every_family_verdict_fails_against_its_break(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    result, verdicts = _run(pytester, monkeypatch, ",".join((
        "seed_events=drop", "rotation=rotation", "malformed=error-folder", "bounds=accept-all",
        "interval_hint=interval", "reshard=drop-both")))
    result.assert_outcomes(failed=12, passed=2)  # the two hints at their maximum are still accepted
    expected = {
        (SEED, "firehose.opensearch.missing_documents"): "fail",
        (SEED, "firehose.opensearch.duplicate_documents"): "pass",
        (SEED, "firehose.opensearch.backup_missing_records"): "pass",
        (MALFORMED, "firehose.opensearch.failed_document_errors"): "fail",
        ("test_search_index_buffering_hint_bounds[size-at-max]", "firehose.opensearch.buffer_mib.max"): "pass",
        ("test_search_index_buffering_hint_bounds[size-over-max]", "firehose.opensearch.buffer_mib.max"): "fail",
        ("test_search_index_buffering_hint_bounds[interval-at-max]", "firehose.opensearch.buffer_seconds.max"): "pass",
        ("test_search_index_buffering_hint_bounds[interval-over-max]",
         "firehose.opensearch.buffer_seconds.max"): "fail",
        ("test_search_index_interval_hint_holds_documents[0s]", "firehose.opensearch.buffer_seconds.min"): "fail",
        ("test_search_index_interval_hint_holds_documents[300s]",
         "firehose.opensearch.buffer_seconds.default"): "fail",
        (RESHARD, "firehose.opensearch.missing_documents"): "fail",
        (RESHARD, "firehose.opensearch.backup_missing_records"): "fail",
    }
    expected.update({(f"test_search_index_rotation_names[{r}]", "firehose.opensearch.index_name_errors"): "fail"
                     for r in ("NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth")})
    assert {key: verdicts.get(key) for key in expected} == expected
    result.stdout.fnmatch_lines([  # in the family's order
        "*records never indexed*1 missing (e.g. ?7?)*",
        "*NoRotation: documents in indexes not named as documented: ??pkl-*-rot*-x (documented*",
        "*the malformed record's error record*not in a failed-documents folder*errors/*",
        "*SizeInMBs=101: accepted; documented range ends at firehose.opensearch.buffer_mib.max = 100 MiB*",
        "*more than the hint allows (2 s)*",
        "*index across the split*1 missing*",
    ])


def test_seed_verdicts_fail_on_duplicates_or_a_short_backup(pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Every document indexed twice: the exactly-once verdict fails (and only it); a record left out of the
    backup: the backup verdict fails. Also a failed document's error record without esIndexName, the hints'
    maximum refused, and an interval hint ignored (the 0 s case is then right and passes)."""
    result, verdicts = _run(pytester, monkeypatch, ",".join((
        "seed_events=duplicate", "malformed=error-shape", "bounds=refuse-max", "interval_hint=ignore-buffering")),
        "-k", "seed_events or malformed or bounds or interval_hint")
    result.assert_outcomes(failed=5, passed=3)
    assert verdicts[(SEED, "firehose.opensearch.duplicate_documents")] == "fail"
    assert verdicts[(SEED, "firehose.opensearch.missing_documents")] == "pass"
    assert verdicts[(MALFORMED, "firehose.opensearch.failed_document_errors")] == "fail"
    assert verdicts[("test_search_index_buffering_hint_bounds[size-at-max]",
                     "firehose.opensearch.buffer_mib.max")] == "fail"
    assert verdicts[("test_search_index_buffering_hint_bounds[size-over-max]",
                     "firehose.opensearch.buffer_mib.max")] == "pass"
    assert verdicts[("test_search_index_interval_hint_holds_documents[0s]",
                     "firehose.opensearch.buffer_seconds.min")] == "pass"
    assert verdicts[("test_search_index_interval_hint_holds_documents[300s]",
                     "firehose.opensearch.buffer_seconds.default")] == "fail"
    result.stdout.fnmatch_lines(["*not indexed exactly once*indexed more than once*",
                                 "*the malformed record's error record: ['no esIndexName'*",
                                 "*SizeInMBs=100: ValidationException*",
                                 "*searchable after 1.00 s: a 300 s interval hint holds records at least 299 s*"])

    result, verdicts = _run(pytester, monkeypatch, "seed_events=backup-drop", "-k", "seed_events")
    result.assert_outcomes(failed=1)
    assert verdicts[(SEED, "firehose.opensearch.backup_missing_records")] == "fail"
    assert verdicts[(SEED, "firehose.opensearch.missing_documents")] == "pass"
    result.stdout.fnmatch_lines(["*records missing from the AllDocuments backup*1 missing (e.g. ?7?)*"])


def test_reshard_verdicts_fail_when_the_split_does_nothing(pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """SplitShard answered but the stream keeps one shard: every record is still indexed and backed up, yet
    both verdicts fail, because delivery across a split that never happened proves nothing."""
    result, verdicts = _run(pytester, monkeypatch, "reshard=split-noop", "-k", "reshard")
    result.assert_outcomes(failed=1)
    assert verdicts == {(RESHARD, "firehose.opensearch.missing_documents"): "fail",
                        (RESHARD, "firehose.opensearch.backup_missing_records"): "fail"}
    result.stdout.fnmatch_lines(["*the split did not happen*1 open shards (expected 2), 0 records acknowledged*"])


def test_a_refusal_for_another_reason_does_not_prove_a_hint_s_maximum(pytester: pytest.Pytester,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain moto refuses every OpenSearch destination ("Exactly one destination configuration is supported"):
    the hints over their maximum are refused too, but not for being over it, so their verdicts fail as well."""
    result, verdicts = _run(pytester, monkeypatch, "bounds=refuse-all", "-k", "bounds")
    result.assert_outcomes(failed=4)
    assert set(verdicts.values()) == {"fail"} and len(verdicts) == 4, verdicts
