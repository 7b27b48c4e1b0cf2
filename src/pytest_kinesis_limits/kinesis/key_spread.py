"""Records to produce and how their keys spread over a stream's shards.

A :class:`Record` is what the producer sends: a payload, a partition key and, optionally, an explicit
hash key. A :class:`KeySpread` decides the keys of record ``i``: many partition keys (the service spreads
them by MD5, roughly evenly once there are many), or explicit hash keys placed inside each open shard's
hash range (exactly even, which a per-shard throughput test needs). :func:`generate_records` makes an
endless, deterministic stream of records of a given size.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis import payloads
from pytest_kinesis_limits.kinesis.reader import hash_range, list_all_shards, open_shards
from pytest_kinesis_limits.kinesis.reader import stream_kwargs as stream_kwargs  # re-exported: its home is the reader


@dataclass(frozen=True)
class Record:
    """One record to put: ``index`` identifies it in the producer's log (and, by default, in its payload)."""

    index: int
    data: bytes
    partition_key: str
    explicit_hash_key: str | None = None

    @property
    def size(self) -> int:
        """Bytes the service counts against its caps: data plus the partition key (UTF-8)."""
        return payloads.record_size(self.data, self.partition_key)

    def entry(self) -> dict[str, Any]:
        """This record as one entry of a PutRecords ``Records`` list."""
        entry: dict[str, Any] = {"Data": self.data, "PartitionKey": self.partition_key}
        if self.explicit_hash_key is not None:
            entry["ExplicitHashKey"] = self.explicit_hash_key
        return entry


@dataclass(frozen=True)
class ShardRange:
    """An open shard and its inclusive hash key range."""

    shard_id: str
    start: int
    end: int


def open_shard_ranges(client: Any, stream: str) -> list[ShardRange]:
    """The open shards of ``stream`` (every ListShards page), ordered by their starting hash key.

    A shard is open when its sequence number range has no end (closed parents after a reshard have one).
    """
    return [ShardRange(s["ShardId"], *hash_range(s)) for s in open_shards(list_all_shards(client, stream))]


@dataclass(frozen=True)
class KeySpread:
    """How record ``i`` gets its keys: ``partition_keys[i % n]`` and, if set, ``explicit_hash_keys[i % n]``.

    Consecutive records go to different keys (and, with :meth:`over_shards`, to different shards), so any
    run of ``n`` records is spread evenly.
    """

    partition_keys: tuple[str, ...]
    explicit_hash_keys: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.partition_keys:
            raise ValueError("a KeySpread needs at least one partition key")
        if self.explicit_hash_keys is not None and len(self.explicit_hash_keys) != len(self.partition_keys):
            raise ValueError("explicit_hash_keys must be as many as partition_keys")

    def keys_for(self, index: int) -> tuple[str, str | None]:
        """The partition key and explicit hash key (or ``None``) of record ``index``."""
        slot = index % len(self.partition_keys)
        hash_key = None if self.explicit_hash_keys is None else self.explicit_hash_keys[slot]
        return self.partition_keys[slot], hash_key

    @classmethod
    def single(cls, key: str = "pk") -> KeySpread:
        """Every record under one partition key (one shard, one ordered sequence)."""
        return cls((key,))

    @classmethod
    def many(cls, count: int, prefix: str = "pk-") -> KeySpread:
        """``count`` partition keys ``<prefix>0 ...``; the service spreads them over shards by MD5."""
        if count < 1:
            raise ValueError("count must be at least 1")
        return cls(tuple(f"{prefix}{i}" for i in range(count)))

    @classmethod
    def over_shards(cls, ranges: Sequence[ShardRange], keys_per_shard: int = 4) -> KeySpread:
        """Explicit hash keys spread evenly over ``ranges``: ``keys_per_shard`` points inside each range.

        Points sit strictly inside a range (never on its ends: moto 5.2 crashes on a hash key equal to a
        shard's end), and records cycle over shards first, so each shard gets exactly ``1/len(ranges)`` of
        any run of ``len(ranges) * keys_per_shard`` records. Partition keys name shard and point
        (``s<shard>-k<point>``) so that per-key order stays checkable.
        """
        if not ranges:
            raise ValueError("no shard ranges to spread over")
        if keys_per_shard < 1:
            raise ValueError("keys_per_shard must be at least 1")
        partition_keys: list[str] = []
        hash_keys: list[str] = []
        for point in range(keys_per_shard):
            for number, shard in enumerate(ranges):
                width = shard.end - shard.start
                hash_keys.append(str(shard.start + width * (2 * point + 1) // (2 * keys_per_shard)))
                partition_keys.append(f"s{number}-k{point}")
        return cls(tuple(partition_keys), tuple(hash_keys))

    @classmethod
    def from_stream(cls, client: Any, stream: str, keys_per_shard: int = 4) -> KeySpread:
        """:meth:`over_shards` on the open shards ListShards reports for ``stream``."""
        return cls.over_shards(open_shard_ranges(client, stream), keys_per_shard)


def json_payload(index: int, data_size: int) -> bytes:
    """Exactly ``data_size`` bytes of JSON naming ``index`` (read it back with :func:`payload_index`).

    ``{"i":<index>,"p":"xxx…"}`` when it fits, else the bare number padded with leading spaces.
    """
    head = b'{"i":%d,"p":"' % index
    pad = data_size - len(head) - 2
    if pad >= 0:
        return head + b"x" * pad + b'"}'
    number = b"%d" % index
    if len(number) > data_size:
        raise ValueError(f"data_size {data_size} is too small for a payload naming index {index}")
    return number.rjust(data_size)


def payload_index(data: bytes) -> int:
    """The index a :func:`json_payload` payload names."""
    value = json.loads(data)
    return value["i"] if isinstance(value, dict) else int(value)


def generate_records(record_size: int, keys: KeySpread, *, start: int = 0, step: int = 1,
                     payload: Callable[[int, int], bytes] = json_payload) -> Iterator[Record]:
    """Endless records ``start, start+step, …``, each exactly ``record_size`` bytes (data + partition key).

    ``payload(index, data_size)`` makes the data (default: :func:`json_payload`). ``step`` lets several
    processes produce disjoint indices (process ``p`` of ``n``: ``start=p, step=n``).
    """
    if record_size > limits.RECORD_MAX_BYTES_CONFIGURABLE.value:
        raise ValueError(f"record_size {record_size} exceeds {limits.RECORD_MAX_BYTES_CONFIGURABLE}")
    for index in itertools.count(start, step):
        partition_key, hash_key = keys.keys_for(index)
        data = payload(index, record_size - payloads.record_size(b"", partition_key))
        yield Record(index, data, partition_key, hash_key)
