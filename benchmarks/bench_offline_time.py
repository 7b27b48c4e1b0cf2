"""Offline run time of test selections, this checkout against another revision, interleaved.

Exports the other revision with ``git archive`` into a temporary directory and runs the same pytest
selection there (its own tests, its own ``src`` first on ``PYTHONPATH``) and here, one after the other,
``runs`` times, so that machine load hits both alike. Prints the medians of the wall time and of the CPU time
(user + system of the pytest process: less sensitive to other jobs on a shared machine) and the change.

    python benchmarks/bench_offline_time.py --against main --runs 5 tests/limits
    python benchmarks/bench_offline_time.py --against main tests/limits/test_firehose.py tests/plugin/test_firehose_fixtures.py
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(root: Path, selection: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``pytest -q`` of ``selection`` in ``root`` (its ``src`` first), and its last
    line (the outcome counts)."""
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection], cwd=root,
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode != 0:
        raise SystemExit(f"pytest failed in {root}: {last}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return wall, cpu, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default="main", help="the git revision to compare with (default: main)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("selection", nargs="+", help="pytest arguments (paths, -k ...)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp)
        archive = subprocess.run(["git", "archive", args.against], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
        results: dict[str, list[tuple[float, float]]] = {args.against: [], "this checkout": []}
        lines = {}
        for _ in range(args.runs):
            for label, root in ((args.against, other), ("this checkout", ROOT)):
                wall, cpu, lines[label] = run_once(root, args.selection)
                results[label].append((wall, cpu))
    print(f"pytest {' '.join(args.selection)}: median of {args.runs} interleaved runs")
    medians = {}
    for label, samples in results.items():
        wall, cpu = statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)
        medians[label] = (wall, cpu)
        print(f"  {label:15} wall {wall:6.2f} s  cpu {cpu:6.2f} s  ({lines[label]})")
    (w0, c0), (w1, c1) = medians[args.against], medians["this checkout"]
    print(f"  change          wall {100 * (w1 - w0) / w0:+6.1f} %  cpu {100 * (c1 - c0) / c0:+6.1f} %")


if __name__ == "__main__":
    main()
