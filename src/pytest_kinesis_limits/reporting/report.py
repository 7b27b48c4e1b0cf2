"""Measurements, the JSON report and its schema.

A test records :class:`Measurement` objects (through the ``record_measurement`` fixture); they travel to the
controller as JSON in the test report's ``user_properties`` (so pytest-xdist and junitxml carry them for free).
The per-second series behind a verdict (:mod:`pytest_kinesis_limits.reporting.series`) travel the same way under their own
property name, which the plugin takes out of the report before junitxml sees it (series can be large).
At the end of the session :func:`build_report` puts the run's metadata, the per-limit summary, the measurements
and the series into one document of ``report.schema.json`` (docs/report.md), which :func:`validate` checks.
The terminal, Markdown and HTML views are made from the same measurements (:mod:`~pytest_kinesis_limits.reporting.summary`).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from importlib import metadata, resources
from typing import Any

from pytest_kinesis_limits.limits import Limit

PROPERTY_NAME = "kinesis_measurement"
#: The ``user_properties`` name of a test's series (JSON); kept out of junitxml by the plugin.
SERIES_PROPERTY_NAME = "kinesis_series"
#: The version of the report's layout (``report.schema.json``); raised when a field changes meaning or goes away.
SCHEMA_VERSION = 1
SCHEMA_FILE = "report.schema.json"
#: Distributions whose versions a report names (``None`` where one is not installed).
VERSIONED = ("pytest-kinesis-limits", "pytest", "boto3", "botocore", "moto", "pytest-xdist", "pytest-timeout")
#: ``pass``: the backend honours the limit. ``fail``: it does not. ``inconclusive``: the client could not offer the
#: load or timing the verdict needs (never blame the service for the client). ``unsupported``: the backend does not
#: serve the service at all (an emulator without Firehose). ``info``: reported only, no documented number to judge.
VERDICTS = ("pass", "fail", "inconclusive", "unsupported", "info")
#: Verdicts whose tests a summary row names (the tests to look at), most urgent first.
ATTENTION = ("fail", "inconclusive", "unsupported")


@dataclass(frozen=True)
class Measurement:
    """One measured value beside its documented limit.

    ``verdict`` is one of :data:`VERDICTS`: ``pass`` (the backend honours the limit), ``fail`` (it does not),
    ``inconclusive`` (the client could not offer the load or timing needed), ``unsupported`` (the backend lacks
    the service), or ``info`` (reported only, e.g. a latency or which of two documented values a backend enforces).
    """

    test: str
    limit: str
    documented: float | None
    measured: float | None
    unit: str
    backend: str
    verdict: str
    detail: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")

    @classmethod
    def of(cls, limit: Limit, measured: float | None, *, test: str, backend: str, verdict: str,
           detail: str = "", unit: str | None = None, **extra: Any) -> Measurement:
        """A measurement of a catalogue ``limit`` (documented value, unit and source taken from it)."""
        return cls(test=test, limit=limit.key, documented=limit.value, measured=measured,
                   unit=unit or limit.unit, backend=backend, verdict=verdict, detail=detail,
                   source=limit.source, extra=extra)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Measurement:
        return cls(**json.loads(text))

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Measurement:
        """A report's row; fields this version does not know (a newer report's) are left out."""
        return cls(**{name: row[name] for name in _field_names(cls) if name in row})


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def judge(ok: bool, *, conclusive: bool = True) -> str:
    """The verdict of a check: ``pass`` or ``fail``, or ``inconclusive`` when the client could not give the check
    what it needs (``conclusive=False``), whatever ``ok`` says: a client-bound run never blames the service."""
    if not conclusive:
        return "inconclusive"
    return "pass" if ok else "fail"


def summary_line(measurements: Iterable[Measurement]) -> str:
    """``"71 pass, 17 info"``: how many measurements had each verdict."""
    counts = verdict_counts(measurements)
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no measurements"


def verdict_counts(measurements: Iterable[Measurement]) -> dict[str, int]:
    """Measurements per verdict, every verdict of :data:`VERDICTS` present (0 when none)."""
    counts = {v: 0 for v in VERDICTS}
    for m in measurements:
        counts[m.verdict] += 1
    return counts


# ------------------------------------------------------------------------------------------ one row per limit
@dataclass(frozen=True)
class LimitRow:
    """One limit's measurements in a run."""

    limit: str
    unit: str
    backend: str
    documented: float | None
    measured_min: float | None
    measured_max: float | None
    counts: dict[str, int]
    tests: int
    look_at: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""

    @property
    def rank(self) -> int:
        """0 for a failing limit, 1 inconclusive, 2 unsupported, 3 otherwise (the table's order)."""
        return next((i for i, v in enumerate(ATTENTION) if self.counts.get(v)), len(ATTENTION))

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> LimitRow:
        """A report's ``summary.limits`` entry; unknown fields are left out."""
        return cls(**{name: row[name] for name in _field_names(cls) if name in row})

    def to_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "unit": self.unit, "backend": self.backend, "documented": self.documented,
                "measured_min": self.measured_min, "measured_max": self.measured_max, "counts": dict(self.counts),
                "tests": self.tests, "look_at": {v: list(t) for v, t in self.look_at.items()}, "source": self.source}


def summarize(measurements: Iterable[Measurement]) -> list[LimitRow]:
    """One :class:`LimitRow` per (limit, unit, backend), those needing attention first, then by limit key."""
    groups: dict[tuple[str, str, str], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.limit, m.unit, m.backend), []).append(m)
    rows = []
    for (limit, unit, backend), cases in groups.items():
        values = [m.measured for m in cases if m.measured is not None]
        counts = {v: sum(m.verdict == v for m in cases) for v in VERDICTS}
        look_at = {v: sorted({m.test for m in cases if m.verdict == v}) for v in ATTENTION if counts[v]}
        documented = next((m.documented for m in cases if m.documented is not None), None)
        rows.append(LimitRow(limit, unit, backend, documented, min(values, default=None), max(values, default=None),
                             counts, len({m.test for m in cases}), look_at, cases[0].source))
    return sorted(rows, key=lambda r: (r.rank, r.limit, r.unit, r.backend))



# --------------------------------------------------------------------------------------------- run metadata
def utc_iso(epoch_s: float) -> str:
    """``2026-01-31T12:00:00.123Z``: an epoch second as ISO 8601 in UTC."""
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def versions() -> dict[str, str | None]:
    """Python's and every :data:`VERSIONED` distribution's version (read from metadata: nothing is imported)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def run_metadata(*, backend: str, region: str | None, endpoint: str | None, fidelity: str, started: float,
                 ended: float, args: Sequence[str], invocation_dir: str, xdist_workers: int,
                 exit_status: int | None = None, **more: Any) -> dict[str, Any]:
    """The ``run`` object of a report: what ran where, with which versions, when and for how long.

    ``started``/``ended`` are epoch seconds; ``args`` the arguments pytest was given. ``more`` adds fields
    (the schema allows them), e.g. a backend name.
    """
    return {
        "versions": versions(), "platform": platform.platform(),
        "backend": backend, "region": region, "endpoint": endpoint, "fidelity": fidelity,
        "started_at": utc_iso(started), "ended_at": utc_iso(ended), "duration_s": round(ended - started, 3),
        "xdist_workers": xdist_workers, "command_line": shlex.join(["pytest", *args]),
        "invocation_dir": invocation_dir, "exit_status": exit_status, **more,
    }


# ------------------------------------------------------------------------------------------------ the report
def build_report(measurements: Sequence[Measurement], series: Sequence[Mapping[str, Any]], run: Mapping[str, Any],
                 header: Mapping[str, Any]) -> dict[str, Any]:
    """The report document: ``schema_version``, ``run``, ``header`` (as before schema 1), the per-limit
    ``summary``, the ``measurements`` (sorted by test, then limit) and the ``series`` (sorted by test)."""
    rows = sorted(measurements, key=lambda m: (m.test, m.limit))
    return {
        "schema_version": SCHEMA_VERSION,
        "run": dict(run),
        "header": dict(header),
        "summary": {"counts": verdict_counts(rows), "tests": len({m.test for m in rows}),
                    "limits": [row.to_dict() for row in summarize(rows)]},
        "measurements": [asdict(m) for m in rows],
        "series": sorted((dict(s) for s in series), key=lambda s: (s["test"], s.get("limit") or "", s["kind"])),
    }


def write_report(path: str, report: Mapping[str, Any]) -> None:
    """Write ``report`` (from :func:`build_report`) to ``path`` as indented UTF-8 JSON."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


class ReportError(ValueError):
    """A file is not a report this version can read; the message says where and why."""


def schema() -> dict[str, Any]:
    """The report's JSON Schema (``report.schema.json``, shipped in the package)."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(report: Any) -> None:
    """Raise :class:`ReportError` unless ``report`` matches the schema (every problem listed, each with its path)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(report), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {_shortened(e.message)}" for e in errors]
    if not problems:
        problems = _inconsistencies(report)
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ReportError(f"not a pytest-kinesis-limits report of schema {SCHEMA_VERSION}: "
                          f"{'; '.join(problems[:10])}{more}")


def _shortened(message: str, width: int = 160) -> str:
    return message if len(message) <= width else message[: width - 5] + " ..."


_PER_SECOND = {"throughput": ("accepted_records", "accepted_bytes", "refused_records", "refused_bytes"),
               "resharding": ("accepted_records", "accepted_bytes")}


def _inconsistencies(report: Mapping[str, Any]) -> list[str]:
    """What the schema cannot say: every per-second list is ``length`` long, a Firehose series' two record lists
    are equally long, and every series belongs to a test with a measurement."""
    problems = []
    tests = {m["test"] for m in report["measurements"]}
    for n, series in enumerate(report["series"]):
        where = f"series/{n} ({series['test']})"
        if series["test"] not in tests:
            problems.append(f"{where}: no measurement of this test")
        for s, shard in enumerate(series.get("shards", [])):
            for name in _PER_SECOND.get(series["kind"], ()):
                if len(shard[name]) != series["length"]:
                    problems.append(f"{where}/shards/{s}/{name}: {len(shard[name])} seconds, length says "
                                    f"{series['length']}")
        if series["kind"] == "resharding" and len(series["refused_records"]) != series["length"]:
            problems.append(f"{where}/refused_records: {len(series['refused_records'])} seconds, length says "
                            f"{series['length']}")
        if series["kind"] == "firehose" and len(series["records"]["arrival_s"]) != len(series["records"]["latency_s"]):
            problems.append(f"{where}/records: arrival_s and latency_s differ in length")
    return problems


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a report file; :class:`ReportError` names the file and what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except OSError as exc:
        raise ReportError(f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReportError(f"{os.fspath(path)!r} is not JSON ({exc}): pass the file --kinesis-report wrote") from None
    try:
        validate(report)
    except ReportError as exc:
        raise ReportError(f"{os.fspath(path)!r}: {exc}. Fix: pass a file written by --kinesis-report "
                          f"(schema_version {SCHEMA_VERSION})") from None
    return report
