"""The continuity checker and the lineage helper: each broken case is detected, a clean run reports nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis.continuity import (
    Acked,
    AckedRecord,
    check_continuity,
    check_lineage,
    default_identify,
)
from pytest_kinesis_limits.kinesis.reader import ReadRecord

TOP = 2 ** limits.HASH_KEY_BITS.value - 1
HALF = TOP // 2


def _scenario(keys: int = 3, per_key: int = 6) -> tuple[list[Acked], list[ReadRecord]]:
    """A clean split: each key's first half in the parent, second half in a child, read parent first."""
    acked: list[Acked] = []
    parent: list[ReadRecord] = []
    child: list[ReadRecord] = []
    seq = {"shard-0": 100, "shard-1": 500}
    n = 0
    for i in range(per_key):
        for k in range(keys):
            shard = "shard-0" if i < per_key // 2 else "shard-1"
            seq[shard] += 1
            key = f"key-{k}"
            acked.append(Acked(n, key, i, shard, str(seq[shard])))
            record = ReadRecord(shard, str(seq[shard]), key, json.dumps({"id": n, "text": "관심사"},
                                                                      ensure_ascii=False).encode(), 1.0)
            (parent if shard == "shard-0" else child).append(record)
            n += 1
    return acked, parent + child


def test_clean_run_reports_nothing() -> None:
    acked, read = _scenario()
    report = check_continuity(acked, read)
    assert report.ok, str(report)
    assert report.counts() == {"acknowledged": 18, "maybe_stored_only": 0, "keys": 3, "read": 18,
                               "distinct_read": 18, "lost": 0, "duplicated": 0, "duplicated_unexplained": 0,
                               "reordered": 0, "phantom": 0, "phantom_unexplained": 0}
    assert str(report).startswith("continuity OK")
    assert isinstance(acked[0], AckedRecord)


def test_loss_is_detected() -> None:
    acked, read = _scenario()
    dropped = read.pop(4)
    report = check_continuity(acked, read)
    assert not report.ok and len(report.lost) == 1
    lost = report.lost[0]
    assert (lost.payload_id, lost.shard_id, lost.sequence_number) == (4, dropped.shard_id, dropped.sequence_number)
    text = str(report)
    assert "FAILED" in text and "lost 1" in text and "id 4" in text and dropped.sequence_number in text


def test_unexplained_duplicate_is_detected() -> None:
    acked, read = _scenario()
    copy = read[2]
    read.append(ReadRecord("shard-1", "999", copy.partition_key, copy.data, 2.0))  # e.g. moto re-puts on split
    report = check_continuity(acked, read)
    assert not report.ok and len(report.unexplained_duplicates) == 1
    assert report.duplicated[0].copies == ((copy.shard_id, copy.sequence_number), ("shard-1", "999"))
    assert "UNEXPLAINED" in str(report) and "read 2x" in str(report)


def test_same_record_read_twice_is_an_unexplained_duplicate() -> None:
    acked, read = _scenario()
    read.append(read[0])
    report = check_continuity(acked, read)
    assert not report.ok and "same shard and sequence number" in report.duplicated[0].note


def test_duplicate_from_a_retried_request_is_explained() -> None:
    acked, read = _scenario()
    # The first request carrying id 3 timed out after being stored; the retry was acknowledged too.
    acked.append(Acked(3, "key-0", 1, None, None, maybe_stored=True))
    read.insert(4, ReadRecord("shard-0", "150", "key-0", read[3].data, 1.0))
    report = check_continuity(acked, read)
    assert report.ok, str(report)
    assert len(report.duplicated) == 1 and report.duplicated[0].explained
    assert "explained (a retried request" in str(report)


def test_reordering_within_a_key_is_detected() -> None:
    acked, read = _scenario()
    # Swap key-0's send #1 (id 3) and send #4 (id 12): child read before parent, for example.
    i, j = next(n for n, r in enumerate(read) if r.data.startswith(b'{"id": 3,')), \
        next(n for n, r in enumerate(read) if r.data.startswith(b'{"id": 12,'))
    read[i], read[j] = read[j], read[i]
    report = check_continuity(acked, read)
    assert not report.ok and report.reordered
    first = report.reordered[0]
    assert first.partition_key == "key-0" and first.after_id == 12
    assert "reordered" in str(report) and "after id 12 (send #4)" in str(report)


def test_order_across_keys_is_free() -> None:
    acked, read = _scenario()
    read.sort(key=lambda r: (r.partition_key, json.loads(r.data)["id"]), reverse=False)
    assert check_continuity(acked, read).ok


def test_unknown_record_is_an_unexplained_phantom() -> None:
    acked, read = _scenario()
    read.append(ReadRecord("shard-1", "777", "key-9", b'{"id": 12345}', 3.0))
    read.append(ReadRecord("shard-1", "778", "key-9", b"\x00not json", 3.0))
    report = check_continuity(acked, read)
    assert not report.ok and len(report.unexplained_phantoms) == 2
    assert "never sent" in str(report) and "not identifiable" in str(report)


def test_phantom_from_an_errored_request_is_explained() -> None:
    acked, read = _scenario()
    acked.append(Acked(500, "key-1", 99, maybe_stored=True))
    acked.append(Acked(501, "key-1", 100, maybe_stored=True))  # errored and not stored: not lost either
    read.append(ReadRecord("shard-1", "800", "key-1", b'{"id": 500}', 3.0))
    report = check_continuity(acked, read)
    assert report.ok, str(report)
    assert len(report.phantoms) == 1 and report.phantoms[0].explained and report.maybe_stored_only == 2


def test_examples_are_bounded_but_counts_are_full() -> None:
    acked, read = _scenario(keys=4, per_key=10)
    report = check_continuity(acked, read[:5], max_examples=3)
    assert len(report.lost) == 35
    text = str(report)
    assert "lost (first 3 of 35)" in text and text.count("never read") == 3


@pytest.mark.parametrize("data, expected", [
    (b'{"id": 7, "x": null}', 7), (b'{"test": 0}', 0), (b'  {"id": "a"}{"id": "b"}', "a"),
])
def test_default_identify(data: bytes, expected: Any) -> None:
    assert default_identify(data) == expected


def test_default_identify_refuses_other_data() -> None:
    with pytest.raises(ValueError):
        default_identify(b'{"user_id": 1}')


# --- lineage ---------------------------------------------------------------------------------------


def _shard(sid: str, lo: int, hi: int, *, parent: str | None = None, adjacent: str | None = None,
           closed: bool = False) -> dict[str, Any]:
    shard: dict[str, Any] = {"ShardId": sid, "HashKeyRange": {"StartingHashKey": str(lo), "EndingHashKey": str(hi)},
                             "SequenceNumberRange": {"StartingSequenceNumber": "1"}}
    if closed:
        shard["SequenceNumberRange"]["EndingSequenceNumber"] = "99"
    if parent:
        shard["ParentShardId"] = parent
    if adjacent:
        shard["AdjacentParentShardId"] = adjacent
    return shard


def test_clean_split_and_merge_lineage() -> None:
    split = [_shard("p", 0, TOP, closed=True), _shard("a", 0, HALF, parent="p"), _shard("b", HALF + 1, TOP, parent="p")]
    assert check_lineage(split, closed_parents=["p"]) == []
    merge = [_shard("a", 0, HALF, closed=True), _shard("b", HALF + 1, TOP, closed=True),
             _shard("c", 0, TOP, parent="b", adjacent="a")]
    assert check_lineage(merge, closed_parents=["a", "b"]) == []


def test_gap_between_split_children_is_detected() -> None:
    shards = [_shard("p", 0, TOP, closed=True), _shard("a", 0, HALF - 1, parent="p"),
              _shard("b", HALF + 1, TOP, parent="p")]
    problems = check_lineage(shards)
    assert any("children of p: gap" in p for p in problems)
    assert any("open shards: gap" in p for p in problems)


def test_overlap_between_split_children_is_detected() -> None:
    shards = [_shard("p", 0, TOP, closed=True), _shard("a", 0, HALF + 5, parent="p"),
              _shard("b", HALF + 1, TOP, parent="p")]
    assert any("children of p: b overlaps" in p for p in check_lineage(shards))


def test_open_parent_is_detected() -> None:
    shards = [_shard("p", 0, TOP), _shard("a", 0, HALF, parent="p"), _shard("b", HALF + 1, TOP, parent="p")]
    problems = check_lineage(shards, closed_parents=["p"], check_open_coverage=False)
    assert "expected closed parent p is open (no EndingSequenceNumber)" in problems
    assert "parent p has children but is open (no EndingSequenceNumber)" in problems


def test_bad_merge_is_detected() -> None:
    shards = [_shard("a", 0, 10, closed=True), _shard("b", 20, TOP, closed=True),
              _shard("c", 0, TOP - 1, parent="b", adjacent="a")]
    problems = check_lineage(shards, check_open_coverage=False)
    assert any("not adjacent" in p for p in problems) and any("not the union" in p for p in problems)


def test_closed_shard_without_children_and_missing_parent_are_detected() -> None:
    shards = [_shard("x", 0, TOP, closed=True), _shard("a", 0, TOP, parent="gone")]
    problems = check_lineage(shards, closed_parents=["nope"])
    assert "closed shard x has no child in the listing" in problems
    assert "split parent gone of a is not listed" in problems
    assert "expected closed parent nope is not listed" in problems
