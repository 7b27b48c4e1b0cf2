"""The Firehose family can fail: each of its verdicts is FAIL against a delivery broken in one way.

The family file runs under pytester with a conftest that breaks the offline delivery simulation per test
(``BREAKS="<test name part>=<break>,..."``): a newline after every record, a record dropped, keys in another
format, a stale version in keys, a longer interval, a bigger size hint, direct puts let through, the
interval hint ignored, KPL-aggregated records delivered as they are, UpdateShardCount doing nothing. The
measurements (``--kinesis-report``) must carry a ``fail`` verdict for the limit each break violates, and the
tests must fail. Also: a delivery that ignores the buffering hints (each read written out at once) and a
reshard that does nothing. Five runs cover all verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAMILY = Path(__file__).parents[1] / "limits" / "test_firehose.py"

BREAKING_CONFTEST = '''
import json, os
from unittest import mock

import pytest
from moto.firehose.models import FirehoseBackend
from moto.kinesis.models import KinesisBackend

from pytest_kinesis_limits.fidelity import firehose as sim

MOTO_PUT_RECORD_BATCH = FirehoseBackend.put_record_batch  # before any simulation patches it
REAL_RECORD_DATA, REAL_HINTS, REAL_FORMAT_KEY = sim._record_data, sim._hints, sim.format_key


def _drop_seven(record):
    data = REAL_RECORD_DATA(record)
    payload = json.loads(data)
    return b"" if 7 in (payload.get("id"), payload.get("test")) else data


BREAKS = {
    "delimiter": lambda mp: mp.setattr(sim, "_delimiter", lambda config: b"\\n"),
    "drop": lambda mp: mp.setattr(sim, "_record_data", _drop_seven),
    "key-format": lambda mp: mp.setattr(sim, "format_key", lambda name, version, when, rnd, **kw: f"{name}-{rnd}"),
    "stale-version": lambda mp: mp.setattr(sim, "format_key", lambda name, version, *a, **kw: REAL_FORMAT_KEY(
        name, 1, *a, **kw)),
    "interval": lambda mp: mp.setattr(sim, "_hints", lambda config: (REAL_HINTS(config)[0],
                                                                    REAL_HINTS(config)[1] + 30)),
    "size": lambda mp: mp.setattr(sim, "_hints", lambda config: (4 * REAL_HINTS(config)[0],
                                                                REAL_HINTS(config)[1])),
    # Every read is written out at once, whatever the interval hint says.
    "ignore-buffering": lambda mp: mp.setattr(sim, "_hints", lambda config: (REAL_HINTS(config)[0], 0)),
    # KPL-aggregated records are delivered as the aggregated bytes, not as their user records.
    "no-deaggregate": lambda mp: mp.setattr(sim.FirehoseSimulator, "deaggregate_kpl", False),
    # UpdateShardCount is accepted and answered, but the stream keeps its shards.
    "reshard-noop": lambda mp: mp.setattr(KinesisBackend, "update_shard_count", _update_nothing),
}


def _update_nothing(self, stream_arn=None, stream_name=None, target_shard_count=None):
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    return len([s for s in stream.shards.values() if s.is_open])


@pytest.fixture(autouse=True)
def _break_delivery(request, kinesis_fidelity, monkeypatch):
    chosen = [b for part, b in (p.split("=") for p in os.environ["BREAKS"].split(",")) if part in request.node.name]
    for name in chosen:
        if name != "direct-put":
            BREAKS[name](monkeypatch)
    if "direct-put" in chosen:  # moto's own method: takes the put and writes it to S3 at once
        with mock.patch.object(FirehoseBackend, "put_record_batch", MOTO_PUT_RECORD_BATCH):
            yield
    else:
        yield
'''


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, breaks: str, *args: str):
    monkeypatch.setenv("BREAKS", breaks)
    pytester.makeconftest(BREAKING_CONFTEST)
    pytester.makepyfile(test_firehose_copy=FAMILY.read_text(encoding="utf-8"))  # not the family's module name
    report = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-report", str(report), "--durations=8", *args)
    verdicts = {(m["test"].split("::")[-1], m["limit"]): m["verdict"]
                for m in json.loads(report.read_text(encoding="utf-8"))["measurements"]}
    return result, verdicts


def test_every_family_verdict_fails_against_its_break(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    result, verdicts = _run(pytester, monkeypatch, ",".join((
        "seed=delimiter", "reshard=drop", "size_hint=size", "interval_hint=interval", "direct_puts=direct-put",
        "version=stale-version", "kpl=no-deaggregate")))
    result.assert_outcomes(failed=8)
    expected_fails = {
        ("test_firehose_seed_events_arrive_in_s3", "firehose.s3.record_delimiter_bytes"),
        ("test_firehose_delivery_continues_across_a_reshard", "firehose.delivery.missing_records"),
        ("test_firehose_small_size_hint_gives_several_objects", "firehose.s3.buffer_mib.min"),
        ("test_firehose_interval_hint_bounds_latency[0s]", "firehose.s3.buffer_seconds.min"),
        ("test_firehose_interval_hint_bounds_latency[300s]", "firehose.s3.buffer_seconds.default"),
        ("test_firehose_direct_puts_to_a_kinesis_source_are_refused", "firehose.kinesis_source.direct_puts_accepted"),
        ("test_firehose_version_in_keys_increases_after_a_destination_update", "firehose.version.step"),
        ("test_firehose_kpl_aggregated_records_arrive_as_user_records",
         "firehose.kpl.user_records_undelivered"),
    }
    assert {key: verdicts.get(key) for key in expected_fails} == {key: "fail" for key in expected_fails}
    result.stdout.fnmatch_lines([  # in the family's order
        "*records never delivered*newline-delimited*",
        "*a 1 MiB size hint gave 1 object(s)*",
        "*more than the 0 s hint allows*",
        "*more than the 300 s hint allows*",
        "*KPL user records never delivered on their own*100 missing*",
        "*direct puts accepted*",
        "*records lost across the reshard*1 missing*",
        "*keys after the update carry version 1, expected 1 + 1 = 2*",
    ])


@pytest.mark.parametrize(("break_name", "limit", "message"), [
    ("drop", "firehose.delivery.missing_records", "*records never delivered*1 missing (e.g. ?7?)*"),
    ("key-format", "firehose.s3.key_format_errors", "*keys not in the documented format*YYYY/MM/DD/HH/*"),
])
def test_seed_verdicts_fail_against_a_dropped_record_or_wrong_keys(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   break_name: str, limit: str, message: str) -> None:
    result, verdicts = _run(pytester, monkeypatch, f"seed={break_name}", "-k", "seed")
    result.assert_outcomes(failed=1)
    assert verdicts[("test_firehose_seed_events_arrive_in_s3", limit)] == "fail"
    result.stdout.fnmatch_lines([message])


def test_buffering_verdicts_fail_when_the_hints_are_ignored(pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A Firehose that writes every read out at once: the 300 s case's records wait about a second (not
    299 s or more) and the size-hint objects are half a hint each; the 0 s case is right and passes."""
    result, verdicts = _run(pytester, monkeypatch, "size_hint=ignore-buffering,interval_hint=ignore-buffering",
                            "-k", "size_hint or interval_hint")
    result.assert_outcomes(failed=2, passed=1)
    assert verdicts == {
        ("test_firehose_small_size_hint_gives_several_objects", "firehose.s3.buffer_mib.min"): "fail",
        ("test_firehose_interval_hint_bounds_latency[0s]", "firehose.s3.buffer_seconds.min"): "pass",
        ("test_firehose_interval_hint_bounds_latency[300s]", "firehose.s3.buffer_seconds.default"): "fail",
    }
    result.stdout.fnmatch_lines([
        "*objects of * bytes: cut by a firehose.s3.buffer_mib.min = 1 MiB size hint they should be*",
        "*an object's oldest record waited only 1.0 s: a 300 s interval hint holds records at least 299 s*",
    ])


def test_reshard_verdict_fails_when_the_reshard_does_nothing(pytester: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """UpdateShardCount answered but the stream keeps one shard: every record still arrives, yet the verdict
    fails, because delivery across a reshard that never happened proves nothing."""
    result, verdicts = _run(pytester, monkeypatch, "reshard=reshard-noop", "-k", "reshard")
    result.assert_outcomes(failed=1)
    assert verdicts == {("test_firehose_delivery_continues_across_a_reshard",
                         "firehose.delivery.missing_records"): "fail"}
    result.stdout.fnmatch_lines(["*the reshard did not happen*1 open shards, expected 2*"
                                 "no record acknowledged by a child shard*"])
