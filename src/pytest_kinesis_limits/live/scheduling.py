"""The xdist scheduler of live and endpoint runs with ``--dist loadgroup``: one family stays on one worker.

The throughput family's verdicts need its producers to offer a load on the wall clock, which producers of the
same family on other workers (a 2-core machine, one emulator process) would compete for. The plugin marks the
family ``xdist_group``, but pytest-xdist 3.8 turns that marker into a group by appending ``@group`` to the
worker's node ids, which pytest 9.2's structured node ids no longer take (pytest-dev/pytest-xdist#1386): the
family then spread over every worker without a word. This scheduler decides the group on the controller from
the node id itself (the test's name, as the plugin's marker does), and keeps xdist's ``@group`` suffix
where a pytest still carries it.

Library code: no pytest import; xdist is imported when a scheduler is made (only inside an xdist run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def nodeid_name(nodeid: str) -> str:
    """The test's name in a node id (``path::Class::name[params]`` -> ``name[params]``), ``@group`` left out."""
    name = nodeid.rsplit("::", 1)[-1]
    if name.rfind("@") > name.rfind("]"):
        name = name[:name.rfind("@")]
    return name


def scope_of(nodeid: str, families: str | Sequence[str]) -> str:
    """The unit of work of a node id: the family prefix (one, or one of several) its test's name starts with, the
    group of an ``@group`` suffix (xdist's loadgroup on a pytest that keeps it), else the test itself (spread as
    ``load``)."""
    if nodeid.rfind("@") > nodeid.rfind("]"):
        return nodeid.rsplit("@", 1)[-1]
    name = nodeid_name(nodeid)
    for family in (families,) if isinstance(families, str) else families:
        if name.startswith(family):
            return family
    return nodeid


def first_chunk(items: int, workers: int, max_chunk: int | None = None) -> int:
    """How many tests pytest-xdist's ``load`` scheduling first sends each worker, in collection order (its
    ``LoadScheduling.schedule``: a quarter of a worker's share, at least 2); with fewer than two tests per worker it
    deals them one by one (1)."""
    if items < 2 * workers:
        return 1
    chunk = (items // workers) // 4
    return max(min(chunk, max_chunk if max_chunk is not None else items), 2)


def deal_long_first(groups: Sequence[Sequence[int]], others: Sequence[int], *, workers: int, chunk: int,
                    alone: Sequence[Sequence[int]] = ()) -> list[int]:
    """An order of test indices in which xdist's ``load`` scheduling starts the long tests first, spread over the
    workers: each group in ``alone`` (a family whose tests wait on the wall clock, such as the scale family's swarm)
    takes the first chunk of a worker of its own, as long as a worker is left for the rest; each of the other groups
    of long tests (one test each, or a family kept together) goes to the first chunk of the worker with the fewest
    long tests so far, largest group first; the other tests fill the chunks and follow in their order. (xdist hands
    the first ``chunk`` tests to the first worker, the next ``chunk`` to the second, and later tests to whichever
    worker runs short: :func:`first_chunk`.)"""
    dealt: list[list[int]] = [[] for _ in range(max(1, workers))]
    overflow: list[int] = []
    shared = list(dealt)
    for group in alone:
        if len(shared) > 1 and len(group) <= chunk:
            shared.pop(0).extend(group)
        else:
            overflow.extend(group)
    for group in sorted(groups, key=len, reverse=True):
        target = min(shared, key=len)
        if len(target) + len(group) <= chunk:
            target.extend(group)
        else:
            overflow.extend(group)  # more long tests than the first chunks hold: they still come early
    rest = list(overflow) + list(others)
    order: list[int] = []
    for share in dealt:
        take = chunk - len(share)
        order += share + rest[:take]
        rest = rest[take:]
    return order + rest


def worksteal_blocks(items: int, workers: int) -> list[int]:
    """The sizes of the contiguous blocks in which pytest-xdist's ``worksteal`` scheduling first deals the collection
    (``WorkStealingScheduling.check_schedule``: the pending tests split evenly over the idle workers, in order)."""
    sizes: list[int] = []
    left = items
    for index in range(max(1, workers)):
        sizes.append(left // (max(1, workers) - index))
        left -= sizes[-1]
    return sizes


def deal_into_blocks(groups: Sequence[Sequence[int]], others: Sequence[int], *, workers: int,
                     alone: Sequence[Sequence[int]] = ()) -> list[int]:
    """An order of test indices for xdist's ``worksteal`` scheduling (:func:`worksteal_blocks`): each group in
    ``alone`` (a family whose tests wait on the wall clock) heads a block of its own, from the last, as long as a
    block is left for the rest; the other groups of long tests head the remaining blocks, largest first, each to the
    block with the fewest long tests so far; the other tests fill the blocks in their order. A worker that runs dry
    takes the second half of the longest queue (its tail), so the heads stay where they were dealt, and the short
    tests behind them even the workers out."""
    total = sum(map(len, groups)) + sum(map(len, alone)) + len(others)
    sizes = worksteal_blocks(total, workers)
    heads: list[list[int]] = [[] for _ in sizes]
    free = list(range(len(sizes)))
    overflow: list[int] = []
    for group in alone:
        if len(free) > 1 and len(group) <= sizes[free[-1]]:
            heads[free.pop()].extend(group)
        else:
            overflow.extend(group)
    for group in sorted(groups, key=len, reverse=True):
        target = min(free, key=lambda block: len(heads[block]))
        if len(heads[target]) + len(group) <= sizes[target]:
            heads[target].extend(group)
        else:
            overflow.extend(group)  # more long tests than a block holds: they still come early
    rest = overflow + list(others)
    order: list[int] = []
    for head, size in zip(heads, sizes):
        take = size - len(head)
        order += head + rest[:take]
        rest = rest[take:]
    return order + rest


def family_scheduler(config: Any, log: Any, family: str | Sequence[str]) -> Any:
    """An xdist ``LoadGroupScheduling`` whose units are :func:`scope_of` the node ids (``family``: the prefixes of
    the families kept on one worker each)."""
    from xdist.scheduler import LoadGroupScheduling

    class FamilyGroupScheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid, family)

    return FamilyGroupScheduling(config, log)
