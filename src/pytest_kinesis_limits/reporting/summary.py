"""What a run measured, one row per limit: the terminal table, the per-test rows of ``-v``, and Markdown.

:func:`summarize` groups measurements by limit (and unit and backend): the documented value, the range of
measured values over the cases, how many cases got each verdict, and the tests to look at (those that failed,
were inconclusive or unsupported). Limits needing attention come first. :func:`format_limits` lays the rows out
in at most :data:`WIDTH` columns: the backend moves into the title when the run has one backend and its column
does not fit; only as a last resort are long limit keys shortened in the middle (the JSON keeps them whole) and,
for a limit whose cases got many different verdicts, its counts continued on a second line.
The tests to look at are printed whole under their limit, so they can be pasted back to pytest.
No pytest here: the plugin passes the lines to its terminal reporter.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_kinesis_limits.reporting.report import LimitRow, Measurement, summarize, summary_line

WIDTH = 100
GAP = "  "
LABELS = {"fail": "FAIL", "inconclusive": "INCONCL", "unsupported": "UNSUPP", "pass": "PASS", "info": "INFO"}
_SHOWN_ORDER = ("fail", "inconclusive", "unsupported", "pass", "info")
_MIN_LIMIT_WIDTH = 24


def number(value: float | None) -> str:
    """``1,048,576``, ``0.93``, or ``-`` for none."""
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def measured_range(row: LimitRow) -> str:
    """``800..1,000`` over the cases, one number when they agree, ``-`` when nothing was measured."""
    low, high = number(row.measured_min), number(row.measured_max)
    return low if low == high else f"{low}..{high}"


def counts_text(counts: Mapping[str, int]) -> str:
    """``1 FAIL 7 PASS``: the non-zero verdict counts, most urgent first."""
    return " ".join(f"{counts[v]} {LABELS[v]}" for v in _SHOWN_ORDER if counts.get(v)) or "-"


def backends_of(rows: Iterable[LimitRow]) -> list[str]:
    return sorted({r.backend for r in rows})


def title(rows: Sequence[LimitRow]) -> str:
    """The table's title, naming the backend(s)."""
    names = backends_of(rows)
    return "kinesis limits: what was measured" + (f" on {', '.join(names)}" if names else "")


def _shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: (keep + 1) // 2] + "\N{HORIZONTAL ELLIPSIS}" + text[len(text) - keep // 2:]


def _layout(table: list[list[str]], right: set[int], width: int, wrap: int) -> list[list[str]]:
    """Each row's lines. Too wide: the limit column (0) gives way down to a minimum, shortening keys in the
    middle; then the ``wrap`` column's cell continues on a second line."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]

    def excess() -> int:
        return sum(widths) + len(GAP) * (len(widths) - 1) - width

    if excess() > 0:
        widths[0] = max(_MIN_LIMIT_WIDTH, widths[0] - excess())
    if excess() > 0:
        widths[wrap] = max(max(len(word) for row in table for word in row[wrap].split(" ")) + 2,
                           widths[wrap] - excess())
    laid = []
    for row in table:
        pieces = textwrap.wrap(row[wrap], widths[wrap], break_on_hyphens=False) or [""]
        lines = []
        for n, piece in enumerate(pieces):
            cells = [(_shorten(row[0], widths[0]) if n == 0 else "").ljust(widths[0])]
            for i, (cell, w) in enumerate(zip(row, widths)):
                if i:
                    text = piece if i == wrap else (cell if n == 0 else "")
                    cells.append(text.rjust(w) if i in right else text.ljust(w))
            lines.append(GAP.join(cells).rstrip())
        laid.append(lines)
    laid.insert(1, [GAP.join("-" * w for w in widths)])
    return laid


def format_limits(rows: Sequence[LimitRow], width: int = WIDTH) -> list[str]:
    """The per-limit table's lines (title not included), each failing, inconclusive or unsupported row
    followed by the tests to look at."""
    if not rows:
        return []
    header = ["limit", "documented", "measured", "unit", "verdicts", "backend"]
    cells = [[r.limit, number(r.documented), measured_range(r), r.unit, counts_text(r.counts), r.backend]
             for r in rows]
    table = [header, *cells]
    natural = sum(max(len(row[i]) for row in table) for i in range(len(header))) + len(GAP) * (len(header) - 1)
    if len(backends_of(rows)) == 1 and natural > width:  # one backend, named in the title: drop its column
        table = [row[:-1] for row in table]
    laid = _layout(table, {1, 2}, width, wrap=4)
    lines = laid[0] + laid[1]
    for row, row_lines in zip(rows, laid[2:]):
        lines += row_lines
        for verdict, tests in row.look_at.items():
            lines += [f"    {LABELS[verdict]}: {test}" for test in tests]
    return lines


def counted(n: int, word: str) -> str:
    """``1 limit``, ``2 limits``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def footer(measurements: Sequence[Measurement], rows: Sequence[LimitRow], verbose: int,
           tests_run: int | None = None, width: int = WIDTH) -> list[str]:
    """``88 measurements of 30 limits in 62 tests: 71 pass, 17 info`` and where the rest is; with ``tests_run`` (the
    session's count) ``in 77 of the 78 tests run`` when some tests measured nothing (pytest's count is then 78).
    Wrapped to ``width`` columns: a run with every verdict has a long line (an inconclusive scale test under load
    made the main job's 113 columns)."""
    hint = "" if verbose > 0 else "; -v: one row per test"
    measured = len({m.test for m in measurements})
    where = (f"{measured} of the {tests_run} tests run" if tests_run and tests_run > measured
             else counted(measured, "test"))
    return textwrap.wrap(f"{counted(len(measurements), 'measurement')} of "
                         f"{counted(len({r.limit for r in rows}), 'limit')} in {where}: "
                         f"{summary_line(measurements)}{hint}", width, subsequent_indent="  ")


def format_tests(measurements: Sequence[Measurement], *, details: bool = False, width: int = WIDTH) -> list[str]:
    """Per-test rows grouped by limit in the summary's order: verdict, measured value, test id; with
    ``details`` each row's detail follows, wrapped to ``width``."""
    by_limit: dict[tuple[str, str, str], list[Measurement]] = {}
    for m in measurements:
        by_limit.setdefault((m.limit, m.unit, m.backend), []).append(m)
    lines: list[str] = []
    for row in summarize(measurements):
        cases = sorted(by_limit[(row.limit, row.unit, row.backend)], key=lambda m: (m.test, m.measured or 0))
        lines.append(f"{row.limit}: documented {number(row.documented)} {row.unit} ({row.backend})")
        value_width = max(len(number(m.measured)) for m in cases)
        for m in cases:
            lines.append(f"  {LABELS[m.verdict]:<7}  {number(m.measured):>{value_width}}  {m.test}")
            if details and m.detail:
                lines += textwrap.wrap(m.detail, width, initial_indent=" " * 11, subsequent_indent=" " * 11)
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(measurements: Sequence[Measurement], run: Mapping[str, Any] | None = None) -> str:
    """The summary as GitHub-flavoured Markdown (for ``$GITHUB_STEP_SUMMARY``): a heading, one line about the
    run, the per-limit table and the tests to look at."""
    rows = summarize(measurements)
    lines = [f"### {title(rows).replace('kinesis limits', 'Kinesis limits', 1)}", ""]
    about = [f"{len(rows)} limits, {len(measurements)} measurements, {len({m.test for m in measurements})} tests: "
             f"{summary_line(measurements)}"]
    if run:
        found = run.get("versions", {})
        about.append(", ".join(f"{name} {found[name]}" for name in ("pytest-kinesis-limits", "boto3", "moto")
                               if found.get(name)))
        about.append(f"{run.get('duration_s', 0):.1f} s")
    lines += [" · ".join(part for part in about if part), ""]
    lines += ["| limit | documented | measured | unit | verdicts | backend |", "|---|---:|---:|---|---|---|"]
    lines += [f"| `{_md(r.limit)}` | {number(r.documented)} | {_md(measured_range(r))} | {_md(r.unit)} | "
              f"{counts_text(r.counts)} | {_md(r.backend)} |" for r in rows]
    attention = [(verdict, test, r.limit) for r in rows for verdict, tests in r.look_at.items() for test in tests]
    if attention:
        lines += ["", "**Tests to look at**", ""]
        lines += [f"- {LABELS[verdict]} `{_md(test)}` ({_md(limit)})" for verdict, test, limit in attention]
    return "\n".join(lines) + "\n"
