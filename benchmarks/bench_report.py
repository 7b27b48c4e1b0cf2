"""What the report costs the main job: wall and CPU time with series collected (plots off), and with plots and
the HTML page on, against a baseline checkout (a commit before the report's series).

Runs the main job (``pytest <repo>/tests/limits -n 2 --kinesis-report=...``) of each variant in turn, round
after round (interleaved, so that the load of a shared machine hits every variant alike), and prints medians of
wall time and of the CPU time of the whole process tree. Then it times ``pytest-kinesis-limits plot`` redrawing
the last report (plots alone) and prints the sizes of what was written.

    python benchmarks/bench_report.py --baseline-repo DIR --baseline-python DIR/.venv/bin/python [--rounds 5]

The baseline is any other checkout with its own venv, e.g. ``git archive main | tar -x -C /tmp/base`` and
``python3 -m venv /tmp/base/.venv && /tmp/base/.venv/bin/pip install -e /tmp/base``.
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

HERE = Path(__file__).resolve().parents[1]


def run(python: str, repo: Path, cwd: Path, *extra: str) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the process tree) of one main job."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([python, "-m", "pytest", str(repo / "tests" / "limits"), "-n", "2", "-p",
                           "no:cacheprovider", "-q", "--kinesis-report=report.json", *extra], cwd=cwd,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the main job failed in {cwd} ({' '.join(extra) or 'no options'}):\n{done.stdout[-4000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-repo", type=Path, required=True)
    parser.add_argument("--baseline-python", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip the first, unmeasured run of each variant (file cache and .pyc already warm)")
    args = parser.parse_args()
    variants = {
        "baseline (no series)": (args.baseline_python, args.baseline_repo, ()),
        "this branch, plots off": (sys.executable, HERE, ()),
        "this branch, plots + HTML": (sys.executable, HERE, ("--kinesis-plots=plots", "--kinesis-report-html=p.html")),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {name: Path(tmp, str(n)) for n, name in enumerate(variants)}
        for path in dirs.values():
            path.mkdir()
        for name, (python, repo, extra) in variants.items() if args.warm_up else ():  # file cache, .pyc files
            run(python, repo, dirs[name], *extra)
        for round_ in range(args.rounds):
            for name, (python, repo, extra) in variants.items():
                times[name].append(run(python, repo, dirs[name], *extra))
            print(f"round {round_ + 1}: " + "; ".join(f"{n} {t[-1][0]:.1f} s" for n, t in times.items()), flush=True)
        last = dirs["this branch, plots + HTML"]
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest_kinesis_limits", "plot", "report.json", "again"], cwd=last,
                       check=True, capture_output=True)
        redraw = time.perf_counter() - start
        pngs = list((last / "plots").glob("*.png"))
        sizes = {"JSON report (this branch)": (last / "report.json").stat().st_size,
                 "JSON report (baseline)": (dirs["baseline (no series)"] / "report.json").stat().st_size,
                 f"{len(pngs)} PNG plots": sum(p.stat().st_size for p in pngs),
                 "HTML page": (last / "p.html").stat().st_size}
    base_wall = statistics.median(w for w, _ in times["baseline (no series)"])
    base_cpu = statistics.median(c for _, c in times["baseline (no series)"])
    print(f"\nmain job (tests/limits -n 2), median of {args.rounds} interleaved rounds, {os.cpu_count()} CPUs")
    print(f"{'variant':<28}{'wall s':>9}{'vs base':>9}{'CPU s':>9}{'vs base':>9}")
    for name, values in times.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"{name:<28}{wall:>9.1f}{(wall / base_wall - 1):>+9.1%}{cpu:>9.1f}{(cpu / base_cpu - 1):>+9.1%}")
    print(f"\npytest-kinesis-limits plot (redraw every plot from the JSON, one process): {redraw:.1f} s")
    for what, size in sizes.items():
        print(f"{what:<28}{size / 1024:>9.0f} KiB")


if __name__ == "__main__":
    main()
