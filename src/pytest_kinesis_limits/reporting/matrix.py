"""The conformance matrix: several JSON reports (one per backend) as one Markdown table.

A row per limit and test case, a column per backend; each cell is the verdict and the measured value. Reports
are ``--kinesis-report`` files: ``{"schema_version": 1, "run": {...}, "measurements": [...]}`` or the older
``{"header": {...}, "measurements": [...]}``; the backend's name, versions and dates come from ``run`` when
present, else ``header``, else the measurements. Two kinds of measurement stand for a whole test case rather
than one limit: ``service.<name>`` (the endpoint does not serve that service: ``unsupported``) and
``test.no_measurement`` (the test failed before it measured anything: ``fail``); the matrix shows them in every
row of that test case. Library code: no pytest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_kinesis_limits.families import family_rank

UNSUPPORTED_PREFIX = "service."
NO_MEASUREMENT_LIMIT = "test.no_measurement"
# Worst first: a cell with several measurements shows the worst verdict.
_SEVERITY = ("fail", "inconclusive", "unsupported", "pass", "info")
_KIND_ORDER = {"live": 0, "moto": 1, "moto-plain": 2, "endpoint": 3}


class ReportError(ValueError):
    """A file is not a report the matrix can read; the message names it and why."""


@dataclass
class Report:
    """One backend's report."""

    path: Path
    name: str
    kind: str
    endpoint: str | None
    versions: dict[str, str]
    finished: str
    measurements: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {verdict: 0 for verdict in _SEVERITY}
        for m in self.measurements:
            counts[m["verdict"]] = counts.get(m["verdict"], 0) + 1
        return counts


def load(path: Path) -> Report:
    """Read one report; :class:`ReportError` when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ReportError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("measurements"), list):
        raise ReportError(f"{path}: not a --kinesis-report file (no 'measurements' list)")
    meta = {**(data.get("header") or {}), **(data.get("run") or {})}
    rows = data["measurements"]
    for n, row in enumerate(rows):
        missing = [k for k in ("limit", "verdict", "test") if not isinstance(row, dict) or k not in row]
        if missing:
            raise ReportError(f"{path}: measurement {n} lacks {', '.join(missing)}")
    from_rows = sorted({str(r.get("backend")) for r in rows if r.get("backend")})
    name = meta.get("backend_name") or (from_rows[0] if len(from_rows) == 1 else None) or meta.get("backend")
    if not name:
        raise ReportError(f"{path}: names no backend (run.backend_name, header.backend or the measurements)")
    kind = meta.get("backend_kind") or meta.get("backend") or ("endpoint" if meta.get("endpoint") else "moto")
    versions = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
    finished = str(meta.get("ended_at") or meta.get("finished") or meta.get("started_at") or "")
    return Report(path, str(name), str(kind), meta.get("endpoint"), {str(k): str(v) for k, v in versions.items()},
                  finished, rows)


def load_all(paths: Iterable[Path]) -> list[Report]:
    """Reports from files and folders (every ``*.json`` in a folder), ordered live, moto, moto-plain, endpoints."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise ReportError(f"{path}: a folder with no *.json report in it")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise ReportError(f"{path}: no such file or folder")
    reports = [load(f) for f in files]
    names = [r.name for r in reports]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ReportError(f"several reports name the backend {', '.join(twice)}: give each run its own "
                          "--kinesis-backend-name, or pass one report per backend")
    return sorted(reports, key=lambda r: (_KIND_ORDER.get(r.kind, 9), r.name))


def case_of(nodeid: str) -> str:
    """``tests/limits/test_put_records.py::test_x[at]`` -> ``test_x[at]``."""
    return nodeid.rsplit("::", 1)[-1]


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def _test_level(limit: str) -> bool:
    return limit == NO_MEASUREMENT_LIMIT or limit.startswith(UNSUPPORTED_PREFIX)


def cell(found: Sequence[dict[str, Any]]) -> str:
    """One cell: the worst verdict of the measurements, and their measured values (fail in bold)."""
    if not found:
        return "—"
    worst = min((m["verdict"] for m in found), key=lambda v: _SEVERITY.index(v) if v in _SEVERITY else 0)
    values = ", ".join(dict.fromkeys(_fmt(m.get("measured")) for m in found if m.get("measured") is not None))
    label = f"**{worst.upper()}**" if worst == "fail" else worst
    return f"{label} {values}".strip()


@dataclass(frozen=True)
class Row:
    limit: str
    case: str
    documented: Any
    unit: str


def rows_and_cells(reports: Sequence[Report]) -> tuple[list[Row], dict[tuple[Row, str], list[dict[str, Any]]]]:
    """Rows (limit, test case) over all reports, and each (row, backend)'s measurements. A test-level measurement
    (unsupported service, failed before measuring) fills every row of its case where that backend has none."""
    rows: dict[tuple[str, str], Row] = {}
    cells: dict[tuple[Row, str], list[dict[str, Any]]] = {}
    test_level: list[tuple[str, str, dict[str, Any]]] = []
    for report in reports:
        for m in report.measurements:
            case = case_of(str(m["test"]))
            if _test_level(str(m["limit"])):
                test_level.append((report.name, case, m))
                continue
            row = rows.setdefault((m["limit"], case), Row(m["limit"], case, m.get("documented"), m.get("unit", "")))
            cells.setdefault((row, report.name), []).append(m)
    for name, case, m in test_level:
        targets = [row for (limit, c), row in rows.items() if c == case]
        if not targets:
            targets = [rows.setdefault((m["limit"], case), Row(m["limit"], case, None, ""))]
        for row in targets:
            if not cells.get((row, name)) or all(_test_level(str(x["limit"])) for x in cells[(row, name)]):
                cells.setdefault((row, name), []).append(m)
    ordered = sorted(rows.values(), key=lambda r: (family_rank(r.case), r.limit, r.case))
    return ordered, cells


def _versions(report: Report) -> str:
    wanted = [k for k in report.versions if k not in ("python", "pytest")]
    if report.kind == "endpoint" and not report.name.startswith("serve"):
        wanted = [k for k in wanted if k != "moto"]  # the emulator's own version is in its name
    return ", ".join(f"{k} {report.versions[k]}" for k in wanted) or "not recorded"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(reports: Sequence[Report], *, command: str = "pytest-kinesis-limits matrix",
           details: bool = True) -> str:
    """The Markdown page: the backends, the matrix, and (``details``) each failing cell's detail."""
    rows, cells = rows_and_cells(reports)
    names = [r.name for r in reports]
    out = ["# Conformance matrix", "",
           f"Generated by `{command}` from {len(reports)} report(s); every cell comes from a run. A cell is the "
           "verdict (pass, **FAIL**, inconclusive, unsupported, info) and the measured value; `—`: the backend "
           "did not run that case (skipped, or not in its run). A test that failed before it measured anything has "
           "one `test.no_measurement` row; a service the endpoint does not serve, one `service.*` row "
           "(`unsupported`) filling its test's cells.", "",
           "Regenerate: `tox -e conformance` runs every backend into `reports/conformance/` and writes this page; "
           "`tox -e kinesalite` (or `kinesis-mock`, `serve-fidelity-on`, `serve-fidelity-off`, `moto`, "
           "`moto-plain`, `live`) reruns one, `tox -e matrix` rewrites the page from the reports there. The npm "
           "emulators need node and npm; their versions are pinned in `src/pytest_kinesis_limits/emulators.py`.",
           "",
           "## Backends", "",
           "| backend | kind | endpoint | finished (UTC) | versions | pass | fail | inconclusive | unsupported "
           "| info |",
           "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in reports:
        c = r.counts()
        out.append(f"| {r.name} | {r.kind} | {r.endpoint or ''} | {r.finished.replace('+00:00', '')} | "
                   f"{_versions(r)} | {c['pass']} | {c['fail']} | {c['inconclusive']} | {c['unsupported']} | "
                   f"{c['info']} |")
    out += ["", "## Limits and behaviours", "",
            "| limit | documented | unit | test case | " + " | ".join(names) + " |",
            "|---|---:|---|---|" + "---|" * len(names)]
    for row in rows:
        shown = [cell(cells.get((row, name), [])) for name in names]
        out.append(f"| `{row.limit}` | {_fmt(row.documented)} | {row.unit} | `{_escape(row.case)}` | "
                   + " | ".join(shown) + " |")
    if details:
        out += ["", "## Why each cell failed", ""]
        for report in reports:
            failing = [m for m in report.measurements if m["verdict"] == "fail"]
            if not failing:
                continue
            out.append(f"### {report.name}")
            out.append("")
            for m in sorted(failing, key=lambda m: (family_rank(case_of(m['test'])), m["limit"], m["test"])):
                detail = _escape(str(m.get("detail", "")))
                out.append(f"- `{m['limit']}` `{_escape(case_of(m['test']))}`: "
                           f"{detail[:400]}{'…' if len(detail) > 400 else ''}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"
