"""Measurements: what a test measured against which documented limit, and the table the session prints.

A test records :class:`Measurement` objects (through the ``record_measurement`` fixture); they travel
to the controller as JSON in the test report's ``user_properties`` (so pytest-xdist and junitxml carry
them for free) and are printed as one table at the end of the session and optionally written as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .limits import Limit

PROPERTY_NAME = "kinesis_measurement"
#: ``pass``: the backend honours the limit. ``fail``: it does not. ``inconclusive``: the client could not offer the
#: load or timing the verdict needs (never blame the service for the client). ``unsupported``: the backend does not
#: serve the service at all (an emulator without Firehose). ``info``: reported only, no documented number to judge.
VERDICTS = ("pass", "fail", "inconclusive", "unsupported", "info")


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


def judge(ok: bool, *, conclusive: bool = True) -> str:
    """The verdict of a check: ``pass`` or ``fail``, or ``inconclusive`` when the client could not give the check
    what it needs (``conclusive=False``), whatever ``ok`` says: a client-bound run never blames the service."""
    if not conclusive:
        return "inconclusive"
    return "pass" if ok else "fail"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def format_table(measurements: Sequence[Measurement]) -> str:
    """A fixed-width table, one row per measurement, sorted by limit then test."""
    header = ("limit", "documented", "measured", "unit", "verdict", "backend", "test")
    rows = [header] + [
        (m.limit, _fmt(m.documented), _fmt(m.measured), m.unit, m.verdict.upper(), m.backend, m.test)
        for m in sorted(measurements, key=lambda m: (m.limit, m.test))
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.rjust(w) if i in (1, 2) else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_line(measurements: Iterable[Measurement]) -> str:
    counts = {v: 0 for v in VERDICTS}
    for m in measurements:
        counts[m.verdict] += 1
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no measurements"


def write_json(path: str, measurements: Sequence[Measurement], header: dict[str, Any]) -> None:
    """Write ``{"header": ..., "measurements": [...]}`` to ``path``."""
    payload = {"header": header, "measurements": [asdict(m) for m in measurements]}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
