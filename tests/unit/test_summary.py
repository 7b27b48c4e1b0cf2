"""The per-limit table, the per-test rows and the Markdown summary, on made-up measurements."""

from __future__ import annotations

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.reporting.report import Measurement, summarize
from pytest_kinesis_limits.reporting.summary import WIDTH, counts_text, format_limits, format_tests, markdown, title

RECORDS = limits.SHARD_WRITE_RECORDS_PER_S
LONGEST = max(limits.CATALOGUE.values(), key=lambda limit: len(limit.key))


def m(limit, measured, verdict="pass", test="tests/limits/test_x.py::test_a", backend="moto", **kw) -> Measurement:
    return Measurement.of(limit, measured, test=test, backend=backend, verdict=verdict, **kw)


def test_one_row_per_limit_with_the_range_and_the_verdict_counts() -> None:
    rows = summarize([m(RECORDS, 800, test="t::below"), m(RECORDS, 1000, test="t::above"),
                      m(RECORDS, None, verdict="info", test="t::none"), m(limits.PUT_RECORDS_MAX_RECORDS, 500)])
    assert [r.limit for r in rows] == ["put_records.max_records", "shard.write.records_per_s"]
    row = rows[1]
    assert (row.measured_min, row.measured_max, row.tests) == (800, 1000, 3)
    assert row.counts == {"pass": 2, "fail": 0, "inconclusive": 0, "unsupported": 0, "info": 1}
    lines = format_limits(rows)
    assert len(lines) == 2 + 2, lines  # header, rule, one line per limit
    assert "800..1,000" in lines[3] and lines[3].endswith("2 PASS 1 INFO  moto")


def test_failing_limits_come_first_and_name_the_tests_to_look_at() -> None:
    measurements = [
        m(limits.PUT_RECORDS_MAX_RECORDS, 500),
        m(RECORDS, 1000, test="t::fine"), m(RECORDS, 1500, verdict="fail", test="t::broken"),
        m(limits.SHARD_WRITE_BYTES_PER_S, 9, verdict="inconclusive", test="t::slow-client"),
        m(limits.FIREHOSE_MISSING_RECORDS, None, verdict="unsupported", test="t::no-firehose"),
    ]
    rows = summarize(measurements)
    assert [r.limit for r in rows] == ["shard.write.records_per_s", "shard.write.bytes_per_s",
                                       "firehose.delivery.missing_records", "put_records.max_records"]
    lines = format_limits(rows)
    assert lines[2].startswith("shard.write.records_per_s") and "1 FAIL 1 PASS" in lines[2]
    assert lines[3] == "    FAIL: t::broken"
    assert lines[5] == "    INCONCL: t::slow-client" and lines[7] == "    UNSUPP: t::no-firehose"
    assert counts_text(rows[0].counts) == "1 FAIL 1 PASS"


def test_the_widest_catalogue_rows_fit_in_100_columns() -> None:
    """Every catalogue limit, the widest numbers, all five verdicts in one row, the widest backend label: the
    table still fits, shortening only what it must (test ids, named whole under their row, are short here)."""
    measurements = [m(limit, 10_485_760.25, test=f"t::{limit.key}", backend="moto-plain")
                    for limit in limits.CATALOGUE.values()]
    measurements += [m(LONGEST, 1.5, verdict=v, backend="moto-plain", test=f"t::{v}")
                     for v in ("fail", "inconclusive", "unsupported", "info")]
    lines = format_limits(summarize(measurements))
    assert max(len(line) for line in lines) <= WIDTH, "\n".join(lines)
    assert lines[2].startswith(LONGEST.key[:10]) and "1 FAIL" in lines[2] and lines[3].startswith(" ")
    assert "moto-plain" in title(summarize(measurements))


def test_a_run_on_one_backend_names_it_in_the_title_and_keeps_the_column_while_it_fits() -> None:
    narrow = summarize([m(limits.PUT_RECORDS_MAX_RECORDS, 500, backend="endpoint")])
    assert title(narrow) == "kinesis limits: what was measured on endpoint"
    assert format_limits(narrow)[0].endswith("backend")
    wide = summarize([m(LONGEST, 1_048_576), m(LONGEST, 838_848.5), m(RECORDS, 1, verdict="fail")])
    assert not format_limits(wide)[0].endswith("backend")  # dropped rather than past 100 columns


def test_several_backends_keep_their_column_and_rows() -> None:
    rows = summarize([m(RECORDS, 1000, backend="moto"), m(RECORDS, 999, backend="live")])
    assert len(rows) == 2 and {r.backend for r in rows} == {"moto", "live"}
    assert format_limits(rows)[0].endswith("backend")
    assert title(rows) == "kinesis limits: what was measured on live, moto"


def test_per_test_rows_and_details() -> None:
    measurements = [m(RECORDS, 1000, test="t::a", detail="a " * 80), m(RECORDS, 800, test="t::b")]
    lines = format_tests(measurements)
    assert lines == ["shard.write.records_per_s: documented 1,000 records/s (moto)",
                     "  PASS     1,000  t::a", "  PASS       800  t::b"]
    detailed = format_tests(measurements, details=True)
    assert len(detailed) > len(lines) and all(len(line) <= WIDTH for line in detailed)


def test_markdown_table_for_the_step_summary() -> None:
    text = markdown([m(RECORDS, 1000), m(RECORDS, 1500, verdict="fail", test="t::b|c")],
                    {"versions": {"pytest-kinesis-limits": "0.1.0", "boto3": "1.0", "moto": "5.2.5"},
                     "duration_s": 12.34})
    lines = text.splitlines()
    assert lines[0] == "### Kinesis limits: what was measured on moto"
    assert "pytest-kinesis-limits 0.1.0, boto3 1.0, moto 5.2.5" in lines[2] and "12.3 s" in lines[2]
    assert "| `shard.write.records_per_s` | 1,000 | 1,000..1,500 | records/s | 1 FAIL 1 PASS | moto |" in lines
    assert "- FAIL `t::b\\|c` (shard.write.records_per_s)" in lines


def test_the_footer_says_when_some_tests_measured_nothing() -> None:
    """pytest counted 78 tests where the footer said 77: the one that measured nothing is now accounted for."""
    from pytest_kinesis_limits.reporting.summary import footer

    ms = [m(limits.PUT_RECORDS_MAX_RECORDS, 500, test="t.py::a"), m(limits.PUT_RECORDS_MAX_RECORDS, 500, test="t.py::b")]
    rows = summarize(ms)
    assert footer(ms, rows, 0, tests_run=3)[0].startswith("2 measurements of 1 limit in 2 of the 3 tests run: 2 pass")
    assert footer(ms, rows, 0, tests_run=2)[0].startswith("2 measurements of 1 limit in 2 tests: 2 pass")
    assert footer(ms, rows, 1) == ["2 measurements of 1 limit in 2 tests: 2 pass"]


def test_the_footer_fits_100_columns_whatever_the_verdicts() -> None:
    """The main job under load once had an inconclusive scale test, and its footer took 113 columns: it wraps."""
    from pytest_kinesis_limits.reporting.report import VERDICTS
    from pytest_kinesis_limits.reporting.summary import WIDTH, footer

    ms = [m(RECORDS, 1000, verdict=verdict, test=f"t.py::{verdict}{i}") for verdict in VERDICTS for i in range(250)]
    lines = footer(ms, summarize(ms), 0, tests_run=2000)
    assert len(lines) > 1 and all(len(line) <= WIDTH for line in lines), lines
    text = " ".join(line.strip() for line in lines)
    assert text == ("1250 measurements of 1 limit in 1250 of the 2000 tests run: 250 pass, 250 fail, "
                    "250 inconclusive, 250 unsupported, 250 info; -v: one row per test")
