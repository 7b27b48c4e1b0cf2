"""What the plugin costs a repo that installs it but runs no Kinesis test.

Runs ``pytest`` on a throw-away project with one trivial test, with the plugin loaded (the entry point)
and without it (``-p no:kinesis_limits``), several times each, and prints the medians. It also lists
which heavy modules the plugin's import pulls in (none of boto3, botocore or moto should appear).

    python benchmarks/bench_startup.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("boto3", "botocore", "moto")


def _time_run(args: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=cwd,
                   check=True, capture_output=True)
    return time.perf_counter() - start


def heavy_imports() -> list[str]:
    code = ("import sys; import pytest_kinesis_limits.plugin, pytest_kinesis_limits.plugin.fixtures; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    return [m for m in out.split(",") if m]


def main(runs: int = 15) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "test_trivial.py").write_text("def test_trivial():\n    pass\n")
        _time_run([], tmp)  # warm the file cache
        with_plugin, without = [], []
        for _ in range(runs):  # interleaved, so that machine load hits both alike
            with_plugin.append(_time_run([], tmp))
            without.append(_time_run(["-p", "no:kinesis_limits"], tmp))
    a, b = statistics.median(with_plugin), statistics.median(without)
    print(f"pytest start-up, one trivial test, median of {runs} runs")
    print(f"  with the plugin     {a * 1000:7.1f} ms")
    print(f"  without the plugin  {b * 1000:7.1f} ms")
    print(f"  plugin cost         {(a - b) * 1000:7.1f} ms")
    print(f"heavy modules imported by the plugin: {heavy_imports() or 'none'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
