"""Everything a finished run writes besides the terminal table: the JSON report, the plots, the HTML page and
the GitHub step summary, from one report document. Used by the plugin at the end of a session and by
``pytest-kinesis-limits plot`` (which redraws from a saved report).

Each output is independent: one that cannot be written is reported (a note) and the others are still written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_kinesis_limits.reporting import plots as plotting
from pytest_kinesis_limits.reporting.html import write as write_html
from pytest_kinesis_limits.reporting.report import Measurement, write_report
from pytest_kinesis_limits.reporting.summary import markdown


def measurements_of(report: Mapping[str, Any]) -> list[Measurement]:
    """The report's measurement rows as :class:`~pytest_kinesis_limits.reporting.report.Measurement` objects."""
    return [Measurement.from_dict(row) for row in report["measurements"]]


def render_plots(report: Mapping[str, Any]) -> tuple[list[plotting.Plot], str | None]:
    """The report's plots, or none and why (matplotlib missing, or no series in the report)."""
    if not report["series"]:
        return [], "No throughput, resharding or Firehose series were recorded in this run."
    if not plotting.available():
        return [], f"No plots: matplotlib is not installed. Fix: {plotting.EXTRA}"
    return plotting.render(report["series"]), None


#: How every note of an output that could not be written begins.
OUTPUT_FAILED = "could not "


def write_outputs(report: Mapping[str, Any], *, json_path: str | None = None, plots_dir: str | None = None,
                  html_path: str | None = None, step_summary: str | None = None) -> list[str]:
    """Write the outputs asked for; one note per output (what was written where, or what went wrong)."""
    notes: list[str] = []
    if json_path:
        try:
            write_report(json_path, report)
            notes.append(f"report written to {json_path}")
        except OSError as exc:
            notes.append(f"could not write the report {json_path}: {exc}")
    plots: list[plotting.Plot] = []
    why_none: str | None = None
    if plots_dir or html_path:
        try:
            plots, why_none = render_plots(report)
        except Exception as exc:  # noqa: BLE001 - a plotting failure must not lose the report and the page
            why_none = f"the plots could not be drawn: {type(exc).__name__}: {exc}"
            notes.append(why_none)
    if plots_dir:
        if plots:
            try:
                written = plotting.write(plots, plots_dir)
                notes.append(f"{len(written)} plot{'' if len(written) == 1 else 's'} written to {plots_dir}")
            except OSError as exc:
                notes.append(f"could not write the plots to {plots_dir}: {exc}")
        elif why_none and "could not" not in why_none:
            notes.append(f"no plots written to {plots_dir}: {why_none}")
    if html_path:
        try:
            write_html(html_path, report, plots, plots_note=why_none)
            notes.append(f"HTML page written to {html_path}" + ("" if plots or not why_none else f" ({why_none})"))
        except OSError as exc:
            notes.append(f"could not write the HTML page {html_path}: {exc}")
    if step_summary and report["measurements"]:
        try:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(markdown(measurements_of(report), report["run"]))
        except OSError as exc:
            notes.append(f"could not append to GITHUB_STEP_SUMMARY {step_summary}: {exc}")
    return notes
