"""The conformance matrix: reports of several backends as one table (``pytest-kinesis-limits matrix``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_kinesis_limits import cli
from pytest_kinesis_limits.reporting.matrix import NO_MEASUREMENT_LIMIT, ReportError, load_all, render, rows_and_cells


def _row(test: str, limit: str, verdict: str, measured=None, backend="x", documented=500, detail=""):
    return {"test": f"tests/limits/test_put_records.py::{test}", "limit": limit, "documented": documented,
            "measured": measured, "unit": "records", "backend": backend, "verdict": verdict, "detail": detail}


def _write(path: Path, payload: dict) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """Three backends in both report shapes: today's ``header`` and the agreed ``run`` (schema_version 1)."""
    folder = tmp_path / "reports"
    folder.mkdir()
    _write(folder / "moto.json", {"header": {"backend": "moto", "backend_name": "moto", "endpoint": None,
                                             "versions": {"moto": "5.2.5", "boto3": "1.44.8"},
                                             "finished": "2026-11-29T10:00:00+00:00"},
                                  "measurements": [_row("test_put_records_record_count[over]", "put_records.max_records",
                                                        "pass", backend="moto"),
                                                   _row("test_firehose_seed", "firehose.missing_records", "pass", 0,
                                                        backend="moto")]})
    _write(folder / "kinesalite.json", {
        "schema_version": 1,
        "run": {"backend_name": "kinesalite@3.3.3", "backend": "endpoint", "endpoint": "http://127.0.0.1:1",
                "versions": {"botocore": "1.44.8"}, "ended_at": "2026-11-29T11:00:00+00:00"},
        "measurements": [
            _row("test_put_records_record_count[over]", "put_records.max_records", "fail", 501,
                 backend="kinesalite@3.3.3", detail="request taken | 501 stored"),
            _row("test_firehose_seed", "service.firehose", "unsupported", backend="kinesalite@3.3.3"),
            _row("test_put_records_request_size", NO_MEASUREMENT_LIMIT, "fail", backend="kinesalite@3.3.3",
                 detail="call failed before measuring: boom")]})
    return folder


def test_one_column_per_backend_one_row_per_limit_and_case(reports: Path) -> None:
    loaded = load_all([reports])
    assert [r.name for r in loaded] == ["moto", "kinesalite@3.3.3"]  # moto first, then the endpoints
    text = render(loaded)
    assert "| limit | documented | unit | test case | moto | kinesalite@3.3.3 |" in text
    assert ("| `put_records.max_records` | 500 | records | `test_put_records_record_count[over]` | pass | "
            "**FAIL** 501 |") in text


def test_unsupported_and_failed_before_measuring_fill_their_case(reports: Path) -> None:
    text = render(load_all([reports]))
    assert "| `firehose.missing_records` | 500 | records | `test_firehose_seed` | pass 0 | unsupported |" in text
    assert "| `test.no_measurement` |  |  | `test_put_records_request_size` | — | **FAIL** |" in text


def test_backends_table_has_versions_dates_and_counts(reports: Path) -> None:
    text = render(load_all([reports]))
    assert "| moto | moto |  | 2026-11-29T10:00:00 | moto 5.2.5, boto3 1.44.8 | 2 | 0 | 0 | 0 | 0 |" in text
    assert ("| kinesalite@3.3.3 | endpoint | http://127.0.0.1:1 | 2026-11-29T11:00:00 | botocore 1.44.8 | 0 | 2 | 0 "
            "| 1 | 0 |") in text


def test_failing_cells_are_explained_with_their_detail(reports: Path) -> None:
    text = render(load_all([reports]))
    assert "- `put_records.max_records` `test_put_records_record_count[over]`: request taken \\| 501 stored" in text


def test_a_pass_never_hides_a_fail_in_the_same_cell(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.json", {"header": {"backend_name": "a"}, "measurements": [
        _row("t", "put_records.max_records", "pass", 1), _row("t", "put_records.max_records", "fail", 2)]})
    rows, cells = rows_and_cells(load_all([path]))
    assert len(rows) == 1
    assert "**FAIL** 1, 2" in render(load_all([path]))


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not JSON"),
    ('{"header": {}}', "no 'measurements' list"),
    ('{"header": {}, "measurements": [{"limit": "x"}]}', "measurement 0 lacks verdict, test"),
])
def test_a_file_that_is_not_a_report_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReportError, match=message):
        load_all([path])


def test_two_reports_of_one_backend_name_are_refused(reports: Path, tmp_path: Path) -> None:
    copy = _write(tmp_path / "again.json", json.loads((reports / "moto.json").read_text(encoding="utf-8")))
    with pytest.raises(ReportError, match="several reports name the backend moto"):
        load_all([reports, copy])


def test_cli_writes_the_page_and_reports_bad_input(reports: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "conformance.md"
    assert cli.main(["matrix", str(reports), "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Conformance matrix")
    assert cli.main(["matrix", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: no such file or folder" in capsys.readouterr().err
