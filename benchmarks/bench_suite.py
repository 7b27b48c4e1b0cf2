"""Offline suite time, this tree against another checkout (for example the commit before a change).

Runs a pytest command in each tree, alternately, ``runs`` times, and prints per tree the median wall time
and the median CPU time (user + system of pytest and its xdist workers, from ``getrusage(RUSAGE_CHILDREN)``).
CPU time moves far less than wall time when other jobs share the machine, so it is the number to compare on
a busy host. The other tree is imported through ``PYTHONPATH`` (it wins over this venv's editable install),
so both run with the same interpreter and packages:

    git archive <commit> | tar -x -C /tmp/base
    python benchmarks/bench_suite.py --base /tmp/base --runs 3 -- tests/limits -n 2
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def run_once(tree: Path, pytest_args: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, pytest's last line) of one run in ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), PYTHONDONTWRITEBYTECODE="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
                          cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    return wall, cpu, lines[-1] if lines else done.stderr.strip()[-200:]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (its src/ is imported)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("pytest_args", nargs="*", default=["tests/limits", "-n", "2"])
    args = parser.parse_args(argv)
    trees = {"base": args.base.resolve(), "this": HERE}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for run in range(args.runs):
        for name, tree in trees.items():
            wall, cpu, last = run_once(tree, args.pytest_args)
            results[name].append((wall, cpu))
            print(f"run {run + 1} {name}: wall {wall:.1f} s, cpu {cpu:.1f} s  ({last})", flush=True)
    print("| tree | median wall (s) | median CPU (s) |\n|---|---:|---:|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(v[0] for v in values):.1f} "
              f"| {statistics.median(v[1] for v in values):.1f} |")
    base_cpu = statistics.median(v[1] for v in results["base"])
    this_cpu = statistics.median(v[1] for v in results["this"])
    print(f"CPU change: {100 * (this_cpu - base_cpu) / base_cpu:+.1f} %")


if __name__ == "__main__":
    main(sys.argv[1:])
