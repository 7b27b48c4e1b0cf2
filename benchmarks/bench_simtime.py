"""Benchmark: simulated time for the test's own code (a plain script, not a test).

    .venv/bin/python benchmarks/bench_simtime.py [--sleeps 100000] [--skip-examples]

Prints (1) what a ``time.sleep`` costs under the TimeKeeper (one thread: the fast path; four threads: the
discrete-event schedule) against ``SimulatedClock.sleep`` and the bare loop, and (2) the wall time of each
docs/examples test offline (simulated clock) and with ``--kinesis-clock=real``, from pytest's ``--durations``
(setup + call + teardown), so the producer example's 5,000 records into one shard can be read off directly.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity.simtime import TimeKeeper

ROOT = Path(__file__).parents[1]


def per_call_us(total_s: float, calls: int) -> float:
    return total_s / calls * 1e6


def bench_sleeps(n: int) -> None:
    clock = SimulatedClock(0)
    started = time.perf_counter()
    for _ in range(n):
        clock.sleep(0.001)
    bare = time.perf_counter() - started

    keeper = TimeKeeper(SimulatedClock(0))
    with keeper.phase():
        started = time.perf_counter()
        for _ in range(n):
            time.sleep(0.001)
        one_thread = time.perf_counter() - started
        simulated_one = keeper.clock.now()

        per_thread = n // 40

        def sleeper() -> None:
            for _ in range(per_thread):
                time.sleep(0.001)

        threads = [threading.Thread(target=sleeper) for _ in range(4)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        four_threads = time.perf_counter() - started
        simulated_four = keeper.clock.now() - simulated_one
    keeper.close()
    print(f"{'what':<44} {'calls':>8} {'wall s':>8} {'us/call':>8} {'simulated s':>12}")
    print(f"{'SimulatedClock.sleep (no keeper)':<44} {n:>8} {bare:>8.3f} {per_call_us(bare, n):>8.2f} "
          f"{clock.now():>12.1f}")
    print(f"{'time.sleep under the keeper, 1 thread':<44} {n:>8} {one_thread:>8.3f} "
          f"{per_call_us(one_thread, n):>8.2f} {simulated_one:>12.1f}")
    print(f"{'time.sleep under the keeper, 4 threads':<44} {4 * per_thread:>8} {four_threads:>8.3f} "
          f"{per_call_us(four_threads, 4 * per_thread):>8.2f} {simulated_four:>12.1f}  (overlapping)")
    print(f"keeper: {keeper.set_aside} waits needed the stuck fallback")


def bench_examples(extra: list[str]) -> dict[str, float]:
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-m", "pytest", "docs/examples", "-p", "no:cacheprovider", "-q",
                          "--durations=0", "--durations-min=0", *extra], cwd=ROOT, env=env, text=True,
                         capture_output=True, check=False)
    if out.returncode != 0:
        print(out.stdout[-3000:], out.stderr[-3000:])
        raise SystemExit(f"the examples failed with {extra}")
    times: dict[str, float] = {}
    for seconds, test in re.findall(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+)", out.stdout, re.M):
        times[test] = times.get(test, 0.0) + float(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sleeps", type=int, default=100_000)
    parser.add_argument("--skip-examples", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus, "
          f"load {os.getloadavg()[0]:.1f}")
    bench_sleeps(args.sleeps)
    if args.skip_examples:
        return
    simulated = bench_examples([])
    real = bench_examples(["--kinesis-clock=real"])
    print(f"\n{'docs/examples test (wall s: setup+call+teardown)':<100} {'simulated':>10} {'real':>8}")
    for test in sorted(simulated):
        print(f"{test.split('docs/examples/')[-1]:<100} {simulated[test]:>10.2f} {real.get(test, 0.0):>8.2f}")


if __name__ == "__main__":
    main()
