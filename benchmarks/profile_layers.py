"""Where an offline run's CPU goes, by layer: cProfile over one pytest process, self time summed per layer.

Runs ``pytest -p no:xdist -p no:cacheprovider -q <selection>`` in this process under cProfile (one process, so the
profile sees every test), then sums each function's own time (``tottime``) into the layer its file belongs to:
botocore (the SDK's serialization and parsing), moto (its models and responses), the fidelity layer, the simulated
clock and its time patching, the search stand-in, the plugin's clients (producer, reader, continuity), reporting,
pytest itself, and the rest (the standard library, split by module). Prints the table and the top functions.

    python benchmarks/profile_layers.py                      # the main job, tests/limits
    python benchmarks/profile_layers.py --top 40 -- "tests/limits/test_resharding.py::test_resharding_continuity"
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
from pathlib import Path

#: (layer, a part of the file's path), first match wins. Paths use "/" (this runs on Linux and macOS).
LAYERS = (
    ("search stand-in", "/fidelity/search_"),
    ("clock and time patching", "/fidelity/simtime.py"),
    ("clock and time patching", "/fidelity/timepatch.py"),
    ("clock and time patching", "/pytest_kinesis_limits/clock.py"),
    ("fidelity layer: Firehose", "/fidelity/firehose"),
    ("fidelity layer: adapter to moto", "/fidelity/moto_adapter.py"),
    ("fidelity layer: Kinesis", "/fidelity/"),
    ("plugin clients (producer, reader, continuity)", "/pytest_kinesis_limits/kinesis/"),
    ("plugin clients: Firehose", "/pytest_kinesis_limits/firehose/"),
    ("reporting", "/pytest_kinesis_limits/reporting/"),
    ("plugin (fixtures, settings, hooks)", "/pytest_kinesis_limits/"),
    ("the tests", "/tests/"),
    ("botocore", "/botocore/"),
    ("boto3", "/boto3/"),
    ("moto", "/moto/"),
    ("dateutil", "/dateutil/"),
    ("pytest and plugins", "/_pytest/"),
    ("pytest and plugins", "/pluggy/"),
    ("pytest and plugins", "/pytest_timeout"),
    ("pytest and plugins", "/xdist/"),
    ("json", "/json/"),
    ("hashing, base64, regex (C)", "~:0(<built-in method _hashlib"),
)


def layer_of(filename: str, name: str) -> str:
    """The layer of a profiled function (its file, or its name for a built-in)."""
    where = filename if filename != "~" else f"~:0({name}"
    for layer, part in LAYERS:
        if part in where:
            return layer
    if filename == "~":
        if "gc" in name or "collect" in name:
            return "built-ins: gc"
        return "built-ins (C): " + name.split(" of ")[0].replace("<built-in method ", "").rstrip(">")[:40]
    stem = Path(filename).name
    return f"stdlib and others: {stem}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=25, help="how many layers and functions to print")
    parser.add_argument("--save", help="also write the raw profile here (for pstats or snakeviz)")
    parser.add_argument("selection", nargs="*", default=["tests/limits"], help="pytest arguments")
    args = parser.parse_args()

    import pytest

    gc_time = [0.0, 0.0]  # total, start of the current collection

    def on_gc(phase: str, _info: dict) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    gc.callbacks.append(on_gc)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    code = pytest.main(["-p", "no:xdist", "-p", "no:cacheprovider", "-q", *args.selection])
    profile.disable()
    wall = time.perf_counter() - start
    gc.callbacks.remove(on_gc)
    stats = pstats.Stats(profile)
    if args.save:
        stats.dump_stats(args.save)
    per_layer: dict[str, float] = {}
    rows = []
    total = 0.0
    entries = stats.stats.items()  # type: ignore[attr-defined]
    for (filename, line, name), (_cc, _nc, tottime, cumtime, _callers) in entries:
        layer = layer_of(filename, name)
        per_layer[layer] = per_layer.get(layer, 0.0) + tottime
        total += tottime
        rows.append((tottime, cumtime, f"{Path(filename).name}:{line}({name})", layer))
    print(f"\npytest {' '.join(args.selection)} (exit {code}): {wall:.1f} s wall under cProfile, "
          f"{total:.1f} s of profiled self time; cyclic garbage collection {gc_time[0]:.2f} s (not in the "
          f"profile: measured with gc.callbacks)\n")
    print("| layer | self time (s) | share |\n|---|---:|---:|")
    for layer, seconds in sorted(per_layer.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"| {layer} | {seconds:.2f} | {100 * seconds / total:.1f} % |")
    print(f"\nTop {args.top} functions by self time:")
    for tottime, cumtime, where, layer in sorted(rows, reverse=True)[:args.top]:
        print(f"  {tottime:7.2f} s self {cumtime:7.2f} s cum  {where}  [{layer}]")


if __name__ == "__main__":
    main()
