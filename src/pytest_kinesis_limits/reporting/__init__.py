"""Reporting: what a run measured, as a table, a JSON report, plots, an HTML page and the conformance matrix. Library
code (no pytest, no moto).

- :mod:`.report` holds the measurements, the JSON report and its schema (``report.schema.json``); :mod:`.summary`
  the one-row-per-limit table; :mod:`.series` the per-second series behind the verdicts.
- :mod:`.plots` draws the series (matplotlib, the ``plots`` extra); :mod:`.html` puts everything in one page;
  :mod:`.output` writes what a finished run asked for; :mod:`.matrix` builds docs/conformance.md from reports.
"""
