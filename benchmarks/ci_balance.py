"""Where the project tests' time goes under xdist: CPU per test file, the longest tests, and when each worker ended.

Runs the README's project-tests command (``pytest -n 4 --dist worksteal -p no:cacheprovider --ignore=tests/limits``,
or the pytest arguments given after ``--``) with a small plugin in every xdist worker that notes, per test, its wall
time, the worker's own CPU time and the CPU time of the child processes it waited for (pytester subprocesses, the main
job, serve, emulators), then prints:

* CPU per test file, most first (on two cores the run cannot end before half the CPU of all its processes has passed);
* the longest tests by wall time, with when they started (a long test started late runs alone at the end);
* each worker's last end, from the first test's start: workers that end far apart are a scheduling problem, not work.

    python benchmarks/ci_balance.py                       # the README's project tests
    python benchmarks/ci_balance.py --top 20 -- -n 4 --dist load -p no:cacheprovider --ignore=tests/limits

A child's CPU is counted when it is waited for, so a process reaped by a later test (an orphan the session ends) is
charged to that test. The totals are close to ``/usr/bin/time``'s for the whole run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = ["-n", "4", "--dist", "worksteal", "-p", "no:cacheprovider", "--ignore=tests/limits"]

PLUGIN = '''
import json, os, resource, time

import pytest

_OUT = os.environ["CI_BALANCE_OUT"]


def _cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    own, children = _cpu()
    start = time.time()
    yield
    own_after, children_after = _cpu()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.path.join(_OUT, worker + ".jsonl"), "a", encoding="utf-8") as out:
        out.write(json.dumps({"test": item.nodeid, "worker": worker, "start": start, "wall": time.time() - start,
                              "own": own_after - own, "children": children_after - children}) + "\\n")
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=12, help="rows per table (default 12)")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments (default: the README's)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "ci_balance_plugin.py").write_text(PLUGIN, encoding="utf-8")
        out = Path(tmp, "out")
        out.mkdir()
        env = {**os.environ, "CI_BALANCE_OUT": str(out),
               "PYTHONPATH": os.pathsep.join(filter(None, [tmp, os.environ.get("PYTHONPATH")]))}
        args = options.pytest_args or DEFAULT
        before = os.times()
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "ci_balance_plugin", *args], cwd=REPO,
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = os.times()
        rows = [json.loads(line) for path in out.glob("*.jsonl") for line in path.read_text().splitlines()]
    summary = next((line for line in reversed(done.stdout.splitlines()) if " in " in line), "(no summary)")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    print(f"pytest {' '.join(args)}: exit {done.returncode}, {summary.strip('= ')}")
    print(f"{wall:.1f} s wall, {cpu:.1f} s CPU of the whole process tree; {len(rows)} tests noted")
    if not rows:
        print(done.stdout[-2000:] + done.stderr[-2000:])
        return 1
    by_file: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for row in rows:
        entry = by_file[row["test"].split("::")[0]]
        entry[0] += row["own"] + row["children"]
        entry[1] += row["wall"]
        entry[2] += 1
    print("\n| file | CPU (s) | wall in tests (s) | tests |\n|---|---:|---:|---:|")
    for name, (file_cpu, file_wall, count) in sorted(by_file.items(), key=lambda kv: -kv[1][0])[:options.top]:
        print(f"| {name} | {file_cpu:.1f} | {file_wall:.1f} | {count} |")
    origin = min(row["start"] for row in rows)
    print("\n| longest tests | started (s) | wall (s) | CPU (s) |\n|---|---:|---:|---:|")
    for row in sorted(rows, key=lambda r: -r["wall"])[:options.top]:
        cost = row["own"] + row["children"]
        print(f"| {row['test']} | {row['start'] - origin:.1f} | {row['wall']:.1f} | {cost:.1f} |")
    print("\n| worker | tests | last end (s) |\n|---|---:|---:|")
    for worker in sorted({row["worker"] for row in rows}):
        mine = [row for row in rows if row["worker"] == worker]
        print(f"| {worker} | {len(mine)} | {max(r['start'] + r['wall'] for r in mine) - origin:.1f} |")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
