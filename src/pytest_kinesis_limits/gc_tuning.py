"""The cyclic garbage collector's settings for offline runs: larger young generations while a test makes records,
and the long-lived objects of boto3, botocore and moto frozen once made (issue 23, docs/fixtures.md).

No pytest here: the plugin's fixtures and hooks and the ``serve`` command use these alike.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: Allocations between two young-generation collections while an offline Kinesis test runs (CPython's default is 700).
#: Such a test makes and keeps hundreds of thousands of small containers (botocore's parsed records, moto's, the
#: layer's and the continuity check's), and at 700 the collector walked them again and again: 15-25 % of the main
#: job's CPU, and the seed's 50,000-record scenarios ran 18 % faster at 20,000 (issue 23; docs/benchmarks.md).
#: The threshold is the test's only: the user's own value is back at teardown.
OFFLINE_GC_THRESHOLD0 = 20_000
#: Young-generation collections between two collections of the middle generation while such a test runs (CPython's
#: default is 10). What survives the young generation there is mostly records the test keeps to its end, and at 10
#: the middle generation was collected twice in a 50,000-record scenario, walking them all again: 0.13-0.3 s of a
#: 2.5-3 s seed test. At 100 it is not collected in one; cyclic garbage waits at most 100 x 20,000 allocations.
OFFLINE_GC_THRESHOLD1 = 100


@contextlib.contextmanager
def gc_headroom(threshold0: int = OFFLINE_GC_THRESHOLD0, threshold1: int = OFFLINE_GC_THRESHOLD1) -> Iterator[None]:
    """Collect the young generation every ``threshold0`` allocations and the middle one every ``threshold1`` young
    collections (never more often than the process's own settings) while the block runs; the process's thresholds
    are restored after it."""
    before = gc.get_threshold()
    gc.set_threshold(max(threshold0, before[0]), max(threshold1, before[1]), *before[2:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextlib.contextmanager
def gc_paused_then_frozen() -> Iterator[None]:
    """Run the block with the cyclic collector paused (unless it was already off), then move every object alive to
    the collector's permanent generation (``gc.freeze``), where no later collection walks it again.

    The offline backend's start imports boto3, botocore and moto, loads their service models and checks moto: about
    130,000 objects that live as long as the process. Collected as they were made, they cost about 0.1 s; walked
    again by every full collection afterwards (pytest runs two at its end, Python one at exit, and a 50,000-record
    scenario several), about 0.07 s each: a pytest process with one Kinesis test took 1.8 s of CPU, 1.3 s frozen
    (issue 23; docs/benchmarks.md). Frozen objects that later become garbage in a cycle are not freed: the
    process's modules, models and session state, which nothing drops. Once per process: a later session in it (an
    in-process ``pytester`` run) imports nothing new, and freezing again would keep the earlier sessions' garbage
    for good. ``gc.unfreeze()`` in a fixture of yours undoes it (docs/fixtures.md).

    Used where a process makes them: the offline backend's start, the live or endpoint preflight, ``serve``."""
    if _FROZEN:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
    _FROZEN.append(True)


_FROZEN: list[bool] = []  # gc_paused_then_frozen has frozen this process's objects


__all__ = ["OFFLINE_GC_THRESHOLD0", "OFFLINE_GC_THRESHOLD1", "gc_headroom", "gc_paused_then_frozen"]
