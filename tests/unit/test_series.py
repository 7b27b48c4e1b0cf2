"""The series behind the verdicts, built from the objects the families already hold (no backend: fakes on a
simulated clock), and the report document they go into, checked against its schema."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from test_resharding_runner import LAG_SCENARIO, LaggingKinesis
from throughput_fake import FakeKinesis

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.reporting import series
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.firehose import DeliveredObject, compare_delivery
from pytest_kinesis_limits.kinesis.key_spread import KeySpread, generate_records
from pytest_kinesis_limits.kinesis.meter import measure_stream
from pytest_kinesis_limits.kinesis.producer import Producer, Rate
from pytest_kinesis_limits.reporting.report import Measurement, ReportError, build_report, run_metadata, validate
from pytest_kinesis_limits.kinesis.resharding import run_scenario

T0 = 1_700_000_000
LIMIT = limits.SHARD_WRITE_RECORDS_PER_S


def overload(shards: int = 2, seconds: int = 6):
    clock = SimulatedClock(start=T0)
    fake = FakeKinesis(clock, shards=shards, records_per_s=LIMIT.value, burst_records=LIMIT.value)
    result = Producer(fake, "s", clock=clock).run(generate_records(50, KeySpread.from_stream(fake, "s")),
                                                   rate=Rate.records_per_s(2 * LIMIT.value * shards), duration=seconds)
    return measure_stream(fake, "s", clock=clock, produce=result), result


def test_throughput_series_counts_what_the_verdict_counted_and_places_every_refusal() -> None:
    m, result = overload()
    s = series.throughput(m)
    assert s["kind"] == "throughput" and s["clock"] == "service" and s["origin_epoch_s"] == T0
    assert s["window"] == [m.window[0] - T0, m.window[1] - T0] == [1, 5]
    assert [shard["shard_id"] for shard in s["shards"]] == sorted(m.shards)
    for shard in s["shards"]:
        assert len(shard["accepted_records"]) == s["length"] == 6
        # the fake lets a burst of one more second's worth through in the first second, then holds the limit
        assert shard["accepted_records"] == [2 * LIMIT.value] + [LIMIT.value] * 5
        assert shard["accepted_records"][1:5] == [LIMIT.value] * 4  # the window the verdict averaged
        assert shard["sustained_records_per_s"] == m.shards[shard["shard_id"]].sustained_records_per_s
        assert shard["refused_records"] == [0] + [LIMIT.value] * 5  # offered 2x: what was not taken
        assert sum(shard["accepted_bytes"]) == 50 * sum(shard["accepted_records"])
    refused = sum(sum(shard["refused_records"]) for shard in s["shards"])
    assert refused + s["refused_unplaced"]["records"] == result.sent - result.accepted
    assert s["offered"]["refused_by_code"] == result.refused


def test_a_refusal_whose_keys_were_never_accepted_is_counted_unplaced() -> None:
    m, result = overload(shards=1, seconds=3)
    refused = next(o for o in result.outcomes if not o.accepted)
    refused.partition_key, refused.explicit_hash_key = "never-accepted", None
    s = series.throughput(m)
    assert s["refused_unplaced"] == {"records": 1, "bytes": refused.size}
    assert sum(s["shards"][0]["refused_records"]) == result.sent - result.accepted - 1


def test_resharding_series_has_the_reshard_the_lineage_and_writes_moving_to_the_children() -> None:
    clock = SimulatedClock(start=T0)
    fake = LaggingKinesis(clock, lag_s=1.0, updating_s=3.0)
    result = run_scenario(LAG_SCENARIO, write_client=fake, control_client=fake, stream="s", clock=clock)
    s = series.resharding(result)
    assert s["reshard"]["operation"] == "SplitShard" and s["reshard"]["closed_parents"] == ["shardId-0"]
    assert s["reshard"]["issued_s"] == 1.0 and s["reshard"]["active_s"] == 4.0  # tick 2 of 0.5 s; done 3 s later
    by_id = {shard["shard_id"]: shard for shard in s["shards"]}
    assert by_id["shardId-0"]["closed"] is True and by_id["shardId-0"]["parent"] is None
    assert by_id["shardId-1"]["parent"] == by_id["shardId-2"]["parent"] == "shardId-0"
    assert sum(sum(shard["accepted_records"]) for shard in s["shards"]) == result.acknowledged
    first_child_second = min(i for i, n in enumerate(by_id["shardId-1"]["accepted_records"]) if n)
    assert first_child_second == 4 and sum(by_id["shardId-0"]["accepted_records"][first_child_second + 1:]) == 0
    assert all(len(shard["accepted_records"]) == s["length"] for shard in s["shards"])


def _object(key: str, records: list, at: float) -> DeliveredObject:
    body = b"".join(json.dumps(r).encode() for r in records)
    return DeliveredObject(key, None, None, body, records, None, datetime.fromtimestamp(at, timezone.utc))


def test_firehose_series_keeps_objects_and_each_records_arrival_and_latency() -> None:
    objects = [_object("b", [{"id": 2}], T0 + 9.5), _object("a", [{"id": 0}, {"id": 1}], T0 + 4.0)]
    result = compare_delivery(objects, [0, 1, 2, 3], lambda r: r["id"])
    result.measure_latencies({0: T0 + 0.5, 1: T0 + 1.0, 2: T0 + 2.0})
    s = series.firehose(result)
    assert s["origin_epoch_s"] == T0
    assert [(o["key"], o["delivered_s"], o["records"]) for o in s["objects"]] == [("a", 4.0, 2), ("b", 9.5, 1)]
    assert s["records"] == {"arrival_s": [0.5, 1.0, 2.0], "latency_s": [3.5, 3.0, 7.5]}
    assert (s["expected"], s["delivered"], s["missing"]) == (4, 3, 1)


def test_build_dispatches_and_refuses_what_it_cannot_draw() -> None:
    m, _ = overload(shards=1, seconds=3)
    assert series.build(m)["kind"] == "throughput"
    assert series.build({"kind": "firehose", "x": 1}) == {"kind": "firehose", "x": 1}
    with pytest.raises(TypeError, match="meter.Measurement.*ReshardResult.*DeliveryResult"):
        series.build(42)


def _report(*series_entries: dict) -> dict:
    rows = [Measurement.of(LIMIT, 1000, test="t.py::a", backend="moto", verdict="pass")]
    run = run_metadata(backend="moto", region="us-east-1", endpoint=None, fidelity="on", started=T0, ended=T0 + 2.5,
                       args=["tests/limits"], invocation_dir="/x", xdist_workers=2, exit_status=0)
    return build_report(rows, list(series_entries), run, {"backend": "moto"})


def test_a_built_report_matches_the_schema_and_each_break_is_named() -> None:
    m, _ = overload(shards=1, seconds=3)
    entry = json.loads(series.for_measurement(m, Measurement.of(LIMIT, 1000, test="t.py::a", backend="moto",
                                                                  verdict="pass")))
    report = _report(entry)
    validate(report)
    assert report["run"]["started_at"] == "2023-11-14T22:13:20.000Z" and report["run"]["duration_s"] == 2.5
    assert report["run"]["command_line"] == "pytest tests/limits"
    assert report["summary"]["limits"][0]["counts"]["pass"] == 1
    breaks = {
        "schema_version": lambda r: r.update(schema_version=2),
        "verdict": lambda r: r["measurements"][0].update(verdict="ok"),
        "run/started_at": lambda r: r["run"].update(started_at="yesterday"),
        "series/0/kind": lambda r: r["series"][0].update(kind="latency"),
        "shards/0/accepted_records": lambda r: r["series"][0]["shards"][0]["accepted_records"].pop(),
        "no measurement of this test": lambda r: r["series"][0].update(test="t.py::other"),
    }
    for where, spoil in breaks.items():
        broken = json.loads(json.dumps(report))
        spoil(broken)
        with pytest.raises(ReportError, match=where.replace("[", r"\[")):
            validate(broken)


def test_a_newer_report_with_added_fields_still_validates_and_renders() -> None:
    from pytest_kinesis_limits.reporting.html import page
    from pytest_kinesis_limits.reporting.output import measurements_of

    report = _report()
    report["run"]["backend_name"] = "kinesis-mock 0.4"
    report["measurements"][0]["backend_name"] = "kinesis-mock 0.4"
    report["summary"]["limits"][0]["median"] = 1000
    validate(report)
    assert measurements_of(report)[0].measured == 1000
    assert "shard.write.records_per_s" in page(report)
