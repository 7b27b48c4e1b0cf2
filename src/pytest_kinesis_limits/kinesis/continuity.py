"""Continuity checking: did every acknowledged record come back exactly once, in order per partition key?

:func:`check_continuity` compares the producer's log (every record it sent and was acknowledged for, plus the
records of requests that errored and so *may* have been stored) with the records the lineage-aware reader
returned (:mod:`pytest_kinesis_limits.kinesis.reader`, parents before children). Records are matched by a payload id
the test embeds in the data (``identify``; by default the ``"id"`` or ``"test"`` field of a JSON object).

Categories and verdict (:attr:`ContinuityReport.ok`):

* **lost**: acknowledged, never read. Always fails.
* **reordered**: within a partition key, read after a record that was sent later. Always fails.
* **duplicated**: read more than once. *Explained* (passes) when the producer log holds the payload at least as
  many times as it was read (a retried request carried it again) and no copy is the same shard and sequence
  number read twice; otherwise fails.
* **phantom**: read but never acknowledged. *Explained* (passes) when the log has the payload only from a request
  that errored (the service stored it but the answer was lost); otherwise (unknown id, undecodable data) fails.

:func:`check_lineage` checks the shard lineage after a reshard from a ListShards answer. Neither function
imports pytest or moto.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis.reader import ReadRecord, hash_range, is_closed


@runtime_checkable
class AckedRecord(Protocol):
    """One entry of the producer's log, as the checker needs it.

    ``payload_id`` identifies the record's payload (unique per generated record; a retried request logs the same
    id again), ``key_order`` is the record's position in the send order of its partition key, ``shard_id`` and
    ``sequence_number`` come from the acknowledgement (``None`` when there was none), and ``maybe_stored`` is true
    when the request that carried it errored (timeout, 5xx): not acknowledged, but possibly stored. Records a
    PutRecords answer refused one by one were not stored and should not be passed.
    """

    payload_id: Hashable
    partition_key: str
    key_order: int
    shard_id: str | None
    sequence_number: str | None
    maybe_stored: bool


@dataclass(frozen=True)
class Acked:
    """A plain :class:`AckedRecord`, for callers without a producer log object of their own."""

    payload_id: Hashable
    partition_key: str
    key_order: int
    shard_id: str | None = None
    sequence_number: str | None = None
    maybe_stored: bool = False


_DECODER = json.JSONDecoder()  # one for all calls: the seed's scenarios identify 100,000 records a test


def default_identify(data: bytes) -> Hashable:
    """The ``"id"`` (else ``"test"``) field of the JSON object at the start of ``data``.

    Raises ``ValueError`` when the data is not such an object.
    """
    text = data.decode("utf-8")
    value, _ = _DECODER.raw_decode(text.lstrip())
    if isinstance(value, dict):
        for name in ("id", "test"):
            if name in value:
                found = value[name]
                return tuple(found) if isinstance(found, list) else found
    raise ValueError(f"no 'id' or 'test' field in {text[:80]!r}")


@dataclass(frozen=True)
class Lost:
    """An acknowledged record that was never read."""

    payload_id: Hashable
    partition_key: str
    key_order: int
    shard_id: str | None
    sequence_number: str | None


@dataclass(frozen=True)
class Duplicate:
    """A payload read more than once; ``explained`` when the producer sent it at least that many times."""

    payload_id: Hashable
    partition_key: str
    copies: tuple[tuple[str, str], ...]  # (shard id, sequence number) of each read copy, in read order
    times_sent: int
    explained: bool
    note: str


@dataclass(frozen=True)
class Reorder:
    """Within ``partition_key``, ``payload_id`` was read after ``after_id`` although it was sent before it."""

    partition_key: str
    payload_id: Hashable
    key_order: int
    location: tuple[str, str]
    after_id: Hashable
    after_key_order: int
    after_location: tuple[str, str]


@dataclass(frozen=True)
class Phantom:
    """A record read but never acknowledged; ``explained`` when its request errored (maybe stored)."""

    payload_id: Hashable | None
    partition_key: str
    location: tuple[str, str]
    explained: bool
    note: str


@dataclass
class ContinuityReport:
    """The checker's findings: full lists per category, counts, a verdict and a readable ``str``."""

    acknowledged: int = 0
    maybe_stored_only: int = 0
    keys: int = 0
    read: int = 0
    distinct_read: int = 0
    lost: list[Lost] = field(default_factory=list)
    duplicated: list[Duplicate] = field(default_factory=list)
    reordered: list[Reorder] = field(default_factory=list)
    phantoms: list[Phantom] = field(default_factory=list)
    max_examples: int = 5

    @property
    def unexplained_duplicates(self) -> list[Duplicate]:
        """Duplicates the producer log does not account for."""
        return [d for d in self.duplicated if not d.explained]

    @property
    def unexplained_phantoms(self) -> list[Phantom]:
        """Phantoms the producer log does not account for."""
        return [p for p in self.phantoms if not p.explained]

    @property
    def ok(self) -> bool:
        """No lost, no reordered, no unexplained duplicate and no unexplained phantom."""
        return not (self.lost or self.reordered or self.unexplained_duplicates or self.unexplained_phantoms)

    def counts(self) -> dict[str, int]:
        """Every count by name (for a measurement record or a JSON report)."""
        return {
            "acknowledged": self.acknowledged, "maybe_stored_only": self.maybe_stored_only, "keys": self.keys,
            "read": self.read, "distinct_read": self.distinct_read, "lost": len(self.lost),
            "duplicated": len(self.duplicated), "duplicated_unexplained": len(self.unexplained_duplicates),
            "reordered": len(self.reordered), "phantom": len(self.phantoms),
            "phantom_unexplained": len(self.unexplained_phantoms),
        }

    def __str__(self) -> str:
        c = self.counts()
        lines = [
            f"continuity {'OK' if self.ok else 'FAILED'}: acknowledged {c['acknowledged']} records over "
            f"{c['keys']} partition keys ({c['maybe_stored_only']} more maybe stored); read {c['read']} "
            f"({c['distinct_read']} distinct)",
            f"  lost {c['lost']}, reordered {c['reordered']}, duplicated {c['duplicated']} "
            f"({c['duplicated_unexplained']} unexplained), phantom {c['phantom']} "
            f"({c['phantom_unexplained']} unexplained)",
        ]
        n = self.max_examples
        if self.lost:
            lines.append(f"lost (first {min(n, len(self.lost))} of {len(self.lost)}):")
            lines += [f"  key {x.partition_key!r} id {x.payload_id!r} (send #{x.key_order}) acknowledged on "
                      f"{x.shard_id} seq {x.sequence_number}, never read" for x in self.lost[:n]]
        if self.reordered:
            lines.append(f"reordered (first {min(n, len(self.reordered))} of {len(self.reordered)}):")
            lines += [f"  key {x.partition_key!r} id {x.payload_id!r} (send #{x.key_order}) read from "
                      f"{_loc(x.location)} after id {x.after_id!r} (send #{x.after_key_order}) from "
                      f"{_loc(x.after_location)}" for x in self.reordered[:n]]
        dups = self.unexplained_duplicates + [d for d in self.duplicated if d.explained]
        if dups:
            lines.append(f"duplicated (first {min(n, len(dups))} of {len(dups)}, unexplained first):")
            lines += [f"  key {x.partition_key!r} id {x.payload_id!r} read {len(x.copies)}x "
                      f"[{', '.join(_loc(c) for c in x.copies)}], sent {x.times_sent}x: "
                      f"{'explained' if x.explained else 'UNEXPLAINED'} ({x.note})" for x in dups[:n]]
        phantoms = self.unexplained_phantoms + [p for p in self.phantoms if p.explained]
        if phantoms:
            lines.append(f"phantom (first {min(n, len(phantoms))} of {len(phantoms)}, unexplained first):")
            lines += [f"  key {x.partition_key!r} id {x.payload_id!r} read from {_loc(x.location)}: "
                      f"{'explained' if x.explained else 'UNEXPLAINED'} ({x.note})" for x in phantoms[:n]]
        return "\n".join(lines)


def _loc(location: tuple[str, str]) -> str:
    return f"{location[0]} seq {location[1]}"


def check_continuity(
    acked: Iterable[AckedRecord],
    read: Iterable[ReadRecord],
    *,
    identify: Callable[[bytes], Hashable] = default_identify,
    max_examples: int = 5,
) -> ContinuityReport:
    """Compare the producer log ``acked`` with the reader's records ``read`` (in read order).

    ``identify`` maps a record's data to its payload id; when it raises ``ValueError``/``KeyError``/
    ``TypeError`` (or returns ``None``) the record is an unexplained phantom. ``max_examples`` bounds the examples
    the report prints per category (the lists keep every finding).
    """
    entries: dict[Hashable, list[AckedRecord]] = defaultdict(list)
    for entry in acked:
        entries[entry.payload_id].append(entry)
    acked_ids = {pid for pid, es in entries.items() if any(not e.maybe_stored for e in es)}
    report = ContinuityReport(max_examples=max_examples, acknowledged=len(acked_ids),
                              maybe_stored_only=len(entries) - len(acked_ids))
    report.keys = len({es[0].partition_key for pid, es in entries.items() if pid in acked_ids})

    copies: dict[Hashable, list[ReadRecord]] = defaultdict(list)
    order: list[Hashable] = []  # first occurrences, in read order
    for record in read:
        report.read += 1
        location = (record.shard_id, record.sequence_number)
        try:
            pid = identify(record.data)
        except (ValueError, KeyError, TypeError) as error:
            report.phantoms.append(Phantom(None, record.partition_key, location, False,
                                           f"data not identifiable: {error}"))
            continue
        if pid is None:
            report.phantoms.append(Phantom(None, record.partition_key, location, False, "identify returned None"))
            continue
        if pid not in copies:
            order.append(pid)
        copies[pid].append(record)
    report.distinct_read = len(copies)

    for pid in order:
        records = copies[pid]
        first = records[0]
        if pid not in entries:
            report.phantoms.append(Phantom(pid, first.partition_key, (first.shard_id, first.sequence_number),
                                           False, "never sent by the producer"))
        elif pid not in acked_ids:
            report.phantoms.append(Phantom(pid, first.partition_key, (first.shard_id, first.sequence_number),
                                           True, "its request errored: stored although not acknowledged"))
        if len(records) > 1:
            report.duplicated.append(_duplicate(pid, records, entries.get(pid, [])))

    for pid, es in entries.items():
        if pid in acked_ids and pid not in copies:
            ack = next(e for e in es if not e.maybe_stored)
            report.lost.append(Lost(pid, ack.partition_key, ack.key_order, ack.shard_id, ack.sequence_number))
    report.lost.sort(key=lambda x: (x.partition_key, x.key_order))
    report.reordered = _reorders(order, copies, entries)
    return report


def _duplicate(pid: Hashable, records: list[ReadRecord], sent: list[AckedRecord]) -> Duplicate:
    locations = tuple((r.shard_id, r.sequence_number) for r in records)
    key = sent[0].partition_key if sent else records[0].partition_key
    if len(set(locations)) < len(locations):
        return Duplicate(pid, key, locations, len(sent), False, "the same shard and sequence number read twice")
    if len(records) <= len(sent):
        return Duplicate(pid, key, locations, len(sent), True, "a retried request carried it again")
    return Duplicate(pid, key, locations, len(sent), False, "stored more often than the producer sent it")


def _reorders(order: list[Hashable], copies: Mapping[Hashable, list[ReadRecord]],
              entries: Mapping[Hashable, list[AckedRecord]]) -> list[Reorder]:
    """Records read after a record of the same key that was sent later (first read copy of each payload).

    A payload sent more than once (retries) has several send positions; the smallest one not before the key's
    highest position so far is taken, so a retry does not count as a reorder when some send explains the order.
    """
    found: list[Reorder] = []
    highest: dict[str, tuple[int, Hashable, tuple[str, str]]] = {}
    for pid in order:
        sent = entries.get(pid)
        if not sent:
            continue
        key = sent[0].partition_key
        first = copies[pid][0]
        location = (first.shard_id, first.sequence_number)
        positions = sorted(e.key_order for e in sent)
        top = highest.get(key)
        if top is None:
            highest[key] = (positions[0], pid, location)
            continue
        fitting = [p for p in positions if p >= top[0]]
        if fitting:
            highest[key] = (fitting[0], pid, location)
        else:
            found.append(Reorder(key, pid, positions[-1], location, top[1], top[0], top[2]))
    return found


# --- lineage -------------------------------------------------------------------------------------------


def _cover_problems(what: str, ranges: Sequence[tuple[str, tuple[int, int]]], start: int, end: int) -> list[str]:
    """Problems when the (id, (lo, hi)) ranges, sorted, do not cover [start, end] exactly once."""
    problems: list[str] = []
    expected = start
    for sid, (lo, hi) in sorted(ranges, key=lambda x: x[1]):
        if lo > expected:
            problems.append(f"{what}: gap {expected}..{lo - 1} before {sid}")
        elif lo < expected:
            problems.append(f"{what}: {sid} overlaps {lo}..{expected - 1}")
        expected = max(expected, hi + 1)
    if expected <= end:
        problems.append(f"{what}: gap {expected}..{end} at the end")
    elif expected > end + 1:
        problems.append(f"{what}: ranges extend {expected - end - 1} hash keys past {end}")
    return problems


def check_lineage(
    shards: Iterable[Mapping[str, Any]],
    *,
    closed_parents: Iterable[str] = (),
    check_open_coverage: bool = True,
) -> list[str]:
    """Problems with the shard lineage in a ListShards ``Shards`` list (an empty list means all is well).

    Checks that every shard with children is closed (``EndingSequenceNumber``) and every closed shard has
    children; that a split's two children are contiguous and exactly cover their parent's hash range; that a
    merge's two parents are adjacent and the child's range is exactly their union; that each of
    ``closed_parents`` is listed and closed; and (``check_open_coverage``) that the open shards cover the whole
    hash key space exactly once.
    """
    listing = {s["ShardId"]: s for s in shards}
    problems: list[str] = []
    split_children: dict[str, list[str]] = defaultdict(list)
    merge_children: dict[str, list[str]] = defaultdict(list)
    for sid, shard in listing.items():
        parent, adjacent = shard.get("ParentShardId"), shard.get("AdjacentParentShardId")
        if parent and adjacent:
            merge_children[parent].append(sid)
            merge_children[adjacent].append(sid)
        elif parent:
            split_children[parent].append(sid)
    for sid in closed_parents:
        if sid not in listing:
            problems.append(f"expected closed parent {sid} is not listed")
        elif not is_closed(listing[sid]):
            problems.append(f"expected closed parent {sid} is open (no EndingSequenceNumber)")
    for sid, shard in sorted(listing.items()):
        has_children = sid in split_children or sid in merge_children
        if has_children and not is_closed(shard):
            problems.append(f"parent {sid} has children but is open (no EndingSequenceNumber)")
        if is_closed(shard) and not has_children:
            problems.append(f"closed shard {sid} has no child in the listing")
        if sid in split_children and sid in merge_children:
            problems.append(f"{sid} is the parent of both a split and a merge")
    for parent, children in sorted(split_children.items()):
        if parent not in listing:
            problems.append(f"split parent {parent} of {', '.join(children)} is not listed")
            continue
        if len(children) != 2:
            problems.append(f"split of {parent} has {len(children)} children ({', '.join(sorted(children))}), not 2")
        lo, hi = hash_range(listing[parent])
        problems += _cover_problems(f"children of {parent}", [(c, hash_range(listing[c])) for c in children],
                                    lo, hi)
    for child in sorted({c for cs in merge_children.values() for c in cs}):
        shard = listing[child]
        parents = [shard["ParentShardId"], shard["AdjacentParentShardId"]]
        missing = [p for p in parents if p not in listing]
        if missing:
            problems.append(f"merge parents {', '.join(missing)} of {child} are not listed")
            continue
        ranges = sorted(hash_range(listing[p]) for p in parents)
        if ranges[0][1] + 1 != ranges[1][0]:
            problems.append(f"merge parents {parents[0]} and {parents[1]} of {child} are not adjacent")
        if hash_range(shard) != (ranges[0][0], ranges[1][1]):
            problems.append(f"merge child {child} range {hash_range(shard)} is not the union "
                            f"{(ranges[0][0], ranges[1][1])} of {parents[0]} and {parents[1]}")
    if check_open_coverage:
        open_ranges = [(sid, hash_range(s)) for sid, s in listing.items() if not is_closed(s)]
        top = 2 ** limits.HASH_KEY_BITS.value - 1
        problems += _cover_problems("open shards", open_ranges, 0, top)
    return problems
