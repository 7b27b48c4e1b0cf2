"""One self-contained HTML page of a report (``--kinesis-report-html FILE``): the run, the per-limit summary, the
plots and every measurement, to attach to a ticket or a CI run.

Nothing is fetched: styles and a few lines of script are inline, plots are PNG ``data:`` URIs, and the page's
Content-Security-Policy forbids every other source, so a browser could not load anything from the network even
if a later edit tried to. Links to the AWS documentation are plain links (followed only when clicked).
The script only marks, on ``<body>``, how many images the browser decoded (``data-images-decoded``): what the
project's browser test reads.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from pytest_kinesis_limits.reporting.plots import Plot
from pytest_kinesis_limits.reporting.report import ATTENTION, LimitRow, Measurement
from pytest_kinesis_limits.reporting.summary import LABELS, counts_text, measured_range, number, title

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.fail td { background: #fdecea; } tr.inconclusive td { background: #fff6e0; } tr.unsupported td { background: #eef; }
code, .test { font-family: ui-monospace, monospace; font-size: .92em; word-break: break-all; }
.verdict-fail { color: #b00020; font-weight: bold; } .verdict-pass { color: #1b5e20; }
.verdict-inconclusive, .verdict-unsupported { color: #8a5a00; font-weight: bold; }
dl.run { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; } dl.run dt { color: #555; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 0 1em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
.detail { color: #444; font-size: .9em; }
"""
SCRIPT = """
window.addEventListener("load", function () {
  var decoded = Array.prototype.filter.call(document.images, function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-decoded", String(decoded.length));
  document.body.setAttribute("data-images", String(document.images.length));
});
"""


def _run(run: Mapping[str, Any]) -> str:
    found = run.get("versions", {})
    items = [
        ("backend", run.get("backend")), ("region", run.get("region")), ("endpoint", run.get("endpoint") or "-"),
        ("started (UTC)", run.get("started_at")), ("ended (UTC)", run.get("ended_at")),
        ("duration", f"{run.get('duration_s', 0):.1f} s"), ("xdist workers", run.get("xdist_workers")),
        ("command line", run.get("command_line")),
        ("versions", ", ".join(f"{name} {version}" for name, version in found.items() if version)),
    ]
    rows = "".join(f"<dt>{escape(name)}</dt><dd><code>{escape(str(value))}</code></dd>" for name, value in items)
    return f'<dl class="run">{rows}</dl>'


def _limit_row(row: LimitRow) -> str:
    css = next((v for v in ATTENTION if row.counts.get(v)), "")
    look = "".join(f'<div><span class="verdict-{v}">{LABELS[v]}</span> <span class="test">{escape(t)}</span></div>'
                   for v, tests in row.look_at.items() for t in tests)
    return (f'<tr class="{css}"><td><code>{escape(row.limit)}</code></td><td class="num">{number(row.documented)}</td>'
            f'<td class="num">{escape(measured_range(row))}</td><td>{escape(row.unit)}</td>'
            f"<td>{escape(counts_text(row.counts))}</td><td>{escape(row.backend)}</td><td>{look}</td></tr>")


def _measurement_row(m: Measurement, plot_of: Mapping[str, str]) -> str:
    source = (f'<a href="{escape(m.source)}">source</a>' if m.source.startswith("https://")
              else escape(m.source))
    plot = f' <a href="#{escape(plot_of[m.test])}">plot</a>' if m.test in plot_of else ""
    return (f'<tr class="{m.verdict}"><td class="test">{escape(m.test)}{plot}</td><td><code>{escape(m.limit)}'
            f'</code></td><td class="verdict-{m.verdict}">{LABELS[m.verdict]}</td>'
            f'<td class="num">{number(m.measured)}</td><td class="num">{number(m.documented)}</td>'
            f'<td>{escape(m.unit)}</td><td class="detail">{escape(m.detail)}</td><td>{source}</td></tr>')


def _figure(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    return (f'<figure id="{escape(plot.name)}"><img src="data:image/png;base64,{data}" alt="{escape(plot.title)}">'
            f"<figcaption>{escape(plot.kind)}: <span class=\"test\">{escape(plot.test)}</span></figcaption></figure>")


def page(report: Mapping[str, Any], plots: Sequence[Plot] = (), *, plots_note: str | None = None) -> str:
    """The HTML page of ``report`` (a :func:`~pytest_kinesis_limits.reporting.report.build_report` document) with
    ``plots`` inline; ``plots_note`` says why there are none (e.g. matplotlib missing)."""
    rows = [LimitRow.from_dict(r) for r in report["summary"]["limits"]]
    measurements = [Measurement.from_dict(m) for m in report["measurements"]]
    plot_of = {}
    for plot in plots:
        plot_of.setdefault(plot.test, plot.name)
    counts = ", ".join(f"{n} {v}" for v, n in report["summary"]["counts"].items() if n) or "no measurements"
    heading = escape(title(rows).replace("kinesis limits", "Kinesis limits", 1))
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{heading}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        f"<h1>{heading}</h1>",
        f"<p>{len(rows)} limits, {len(measurements)} measurements in {report['summary']['tests']} tests: "
        f"{escape(counts)}. Report schema {report['schema_version']}.</p>",
        _run(report["run"]),
        "<h2>One row per limit</h2>",
        "<table><thead><tr><th>limit</th><th>documented</th><th>measured</th><th>unit</th><th>verdicts</th>"
        "<th>backend</th><th>tests to look at</th></tr></thead><tbody>",
        *(_limit_row(r) for r in rows), "</tbody></table>",
        "<h2>Plots</h2>",
    ]
    if plots:
        parts += ['<div class="plots">', *(_figure(p) for p in plots), "</div>"]
    else:
        parts.append(f"<p>{escape(plots_note or 'No series were recorded in this run.')}</p>")
    parts += [
        "<h2>Every measurement</h2>",
        "<table><thead><tr><th>test</th><th>limit</th><th>verdict</th><th>measured</th><th>documented</th>"
        "<th>unit</th><th>detail</th><th>source</th></tr></thead><tbody>",
        *(_measurement_row(m, plot_of) for m in sorted(measurements, key=lambda m: (m.test, m.limit))),
        "</tbody></table>",
        "<p class=\"detail\">Written by pytest-kinesis-limits. The plots and this page can be made again from the "
        "JSON report: <code>pytest-kinesis-limits plot REPORT.json DIR --html PAGE.html</code>.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write(path: str, report: Mapping[str, Any], plots: Sequence[Plot] = (), *, plots_note: str | None = None) -> None:
    """Write :func:`page` to ``path``."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(page(report, plots, plots_note=plots_note))
