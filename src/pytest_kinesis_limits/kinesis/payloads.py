"""Record payloads: the seed's mobile-app events, ``{"test": n}`` counters, and records of an exact size.

Sizes follow Kinesis's accounting: a record's size is its data blob plus its partition key, the key
counted in UTF-8 bytes (AWS: "the partition key counts toward the record size").
"""

from __future__ import annotations

import json
from typing import Any

SEED_USER_IDS = (3322, 1187, 90210)
SEED_EVENTS = ("interest_service_click", "interest_service_view", "app_open")


def record_size(data: bytes, partition_key: str) -> int:
    """Bytes a record counts toward record, request and shard limits: data + UTF-8 partition key."""
    return len(data) + len(partition_key.encode("utf-8"))


def seed_event(n: int) -> dict[str, Any]:
    """The n-th mobile-app event shaped like the seed's (non-ASCII text, nulls, mixed types)."""
    return {
        "id": n,
        "user_id": SEED_USER_IDS[n % len(SEED_USER_IDS)],
        "app_version": "v1.5.16(90)",
        "device_id": f"d3v1c3-{n:06d}",
        "device_manufacturer": "LG",
        "device_os": "Android",
        "event": SEED_EVENTS[n % len(SEED_EVENTS)],
        "interest_id": 1201 + n % 7,
        "interest_name": "관심사",
        "interest_service_id": None,
        "score": round(n * 0.25, 2),
        "timestamp": "2019-04-30T07:30:00Z",
    }


#: One encoder for every payload (``json.dumps`` with options builds one per call: 50,000 a seed scenario).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_json(payload: Any) -> bytes:
    """UTF-8 JSON with non-ASCII text kept as is (the seed used ``ensure_ascii=False``), no spaces."""
    return _ENCODER.encode(payload).encode("utf-8")


def counter_records(count: int, *, start: int = 0, key: str | None = None) -> list[dict[str, Any]]:
    """PutRecords entries ``{"test": n}`` for n in start..start+count-1 (the seed's 500-record test)."""
    return [{"Data": encode_json({"test": n}), "PartitionKey": key or f"k{n}"} for n in range(start, start + count)]


def sized_record(total_bytes: int, *, partition_key: str = "k", fill: bytes = b"x",
                 explicit_hash_key: str | None = None) -> dict[str, Any]:
    """A PutRecords entry whose data + partition key is exactly ``total_bytes``."""
    data_bytes = total_bytes - len(partition_key.encode("utf-8"))
    if data_bytes < 0:
        raise ValueError(f"a {total_bytes}-byte record cannot hold the partition key {partition_key!r}")
    entry: dict[str, Any] = {"Data": (fill * (data_bytes // len(fill) + 1))[:data_bytes],
                             "PartitionKey": partition_key}
    if explicit_hash_key is not None:
        entry["ExplicitHashKey"] = explicit_hash_key
    return entry


def split_evenly(total_bytes: int, parts: int) -> list[int]:
    """``parts`` sizes that add up to ``total_bytes`` and differ by at most one byte."""
    if parts < 1:
        raise ValueError("parts must be at least 1")
    base, extra = divmod(total_bytes, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
