"""What the main job measured, in the form a later run must repeat exactly (tests/plugin/expected-main-job.json).

Offline every number of the main job is deterministic: the simulated clock, and each test starting on a whole
second of it, make the report's rows and series the same in one process and under xdist, whatever the order
(test_report_outputs.py checks both). So a change that is meant only to make the suite faster or cleaner must leave
them as they were; this file is the record of "as they were".

Kept per test: each row's limit, measured value, unit, verdict and extra numbers (the detail text is wording,
left out), and a digest of its series (the per-second numbers of the plots). The scale family's rows are the
exception: a Locust swarm in other processes drives them over HTTP on the wall clock (``wall_clock`` in their extra),
so only their limit and unit are kept, and their series are left out. Regenerate after a change that is meant to
change what is measured, and say why in the commit:

    .venv/bin/pytest tests/limits -n 2 -p no:cacheprovider --kinesis-report=r.json
    .venv/bin/python tests/plugin/expected_report.py r.json > tests/plugin/expected-main-job.json
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

EXPECTED = Path(__file__).with_name("expected-main-job.json")
ROW_FIELDS = ("limit", "measured", "unit", "verdict", "extra")
WALL_CLOCK_FIELDS = ("limit", "unit")  # a row measured on the wall clock (the scale family): what it measured
# Differ from run to run by design: the series' absolute origin (the clock starts at the current second) and the
# Firehose object keys (the stream's name and the date).
SERIES_VARYING = ("origin_epoch_s",)


def _series_digest(series: dict[str, Any]) -> str:
    kept = {k: v for k, v in series.items() if k not in SERIES_VARYING}
    kept["objects"] = [{k: v for k, v in obj.items() if k != "key"} for obj in series.get("objects", [])]
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def comparable(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{test: {"rows": [...], "series": [digest, ...]}} of a ``--kinesis-report`` file's content."""
    tests: dict[str, dict[str, Any]] = {}
    wall_clock = set()
    for row in report["measurements"]:
        entry = tests.setdefault(row["test"], {"rows": [], "series": []})
        if (row.get("extra") or {}).get("wall_clock"):
            wall_clock.add(row["test"])
            entry["rows"].append({k: row.get(k) for k in WALL_CLOCK_FIELDS})
        else:
            entry["rows"].append({k: row.get(k) for k in ROW_FIELDS})
    for series in report["series"]:
        if series["test"] not in wall_clock:
            tests.setdefault(series["test"], {"rows": [], "series": []})["series"].append(_series_digest(series))
    return dict(sorted(tests.items()))


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """One line per test whose rows or series differ (or that is missing on one side)."""
    lines = []
    for test in sorted(set(expected) | set(actual)):
        want, got = expected.get(test), actual.get(test)
        if want == got:
            continue
        if want is None or got is None:
            lines.append(f"{test}: {'not in the expected report' if want is None else 'not measured in this run'}")
            continue
        if want["rows"] != got["rows"]:
            lines.append(f"{test}: rows {want['rows']} -> {got['rows']}")
        if want["series"] != got["series"]:
            lines.append(f"{test}: series digests {want['series']} -> {got['series']}")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    print(json.dumps(comparable(report), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
