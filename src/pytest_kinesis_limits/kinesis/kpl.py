"""The Kinesis Producer Library's aggregated record format: many user records in one Kinesis record.

A KPL aggregated record is the 4 magic bytes ``F3 89 9A C2``, a protobuf ``AggregatedRecord`` (a table of partition
keys, a table of explicit hash keys, and the user records, each naming its keys by index), and the 16-byte MD5 of
the protobuf bytes (the KPL's aggregation-format.md, awslabs/amazon-kinesis-producer). Consumers that know the format
(the KCL, Firehose) de-aggregate it; a record whose digest does not match is, as the KCL treats it, not aggregated.
Firehose de-aggregates before delivery: "Use the KPL with Amazon Data Firehose", Kinesis Data Streams developer
guide (https://docs.aws.amazon.com/streams/latest/dev/kpl-with-firehose.html).

:func:`aggregate` writes the format (a producer in the KPL format for the limit family), :func:`deaggregate` reads it
(the offline Firehose). The protobuf wire format is the few lines it takes: varints and length-delimited fields.
Library code: no pytest, no moto, no protobuf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_BYTES = 16
_VARINT, _LENGTH_DELIMITED = 0, 2


@dataclass(frozen=True)
class UserRecord:
    """One record a producer put, inside an aggregated Kinesis record."""

    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None


class NotAggregated(ValueError):
    """The bytes are not a KPL aggregated record (no magic, a wrong digest, or a protobuf that does not parse)."""


# ------------------------------------------------------------------------------------------------ wire format
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _read_varint(buffer: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(buffer) or shift > 63:
            raise NotAggregated("a varint runs past the end")
        byte = buffer[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(buffer: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) for each field of a message: an int for varints, bytes for length-delimited fields."""
    at = 0
    while at < len(buffer):
        key, at = _read_varint(buffer, at)
        number, kind = key >> 3, key & 7
        if kind == _VARINT:
            value, at = _read_varint(buffer, at)
            yield number, value
        elif kind == _LENGTH_DELIMITED:
            size, at = _read_varint(buffer, at)
            if at + size > len(buffer):
                raise NotAggregated("a field runs past the end")
            yield number, buffer[at:at + size]
            at += size
        else:
            raise NotAggregated(f"wire type {kind} is not used by the aggregation format")


# ------------------------------------------------------------------------------------------------ the format
def aggregate(records: Iterable[UserRecord]) -> bytes:
    """One aggregated record holding ``records`` (keys tabled once each, as the KPL does)."""
    keys: dict[str, int] = {}
    hash_keys: dict[str, int] = {}
    body = bytearray()
    for record in records:
        entry = bytearray(_varint(1 << 3 | _VARINT) + _varint(keys.setdefault(record.partition_key, len(keys))))
        if record.explicit_hash_key is not None:
            index = hash_keys.setdefault(record.explicit_hash_key, len(hash_keys))
            entry += _varint(2 << 3 | _VARINT) + _varint(index)
        entry += _field(3, record.data)
        body += _field(3, bytes(entry))
    tables = b"".join(_field(1, key.encode()) for key in keys) + b"".join(_field(2, key.encode())
                                                                         for key in hash_keys)
    message = tables + bytes(body)
    return MAGIC + message + hashlib.md5(message).digest()  # noqa: S324 - the format's checksum, not security


def is_aggregated(data: bytes) -> bool:
    """Whether ``data`` starts with the magic and carries a matching digest."""
    if len(data) <= len(MAGIC) + DIGEST_BYTES or not data.startswith(MAGIC):
        return False
    message = data[len(MAGIC):-DIGEST_BYTES]
    return hashlib.md5(message).digest() == data[-DIGEST_BYTES:]  # noqa: S324


def deaggregate(data: bytes) -> list[UserRecord]:
    """The user records in an aggregated record; NotAggregated when ``data`` is not one."""
    if not is_aggregated(data):
        raise NotAggregated("no KPL magic, or a digest that does not match")
    keys: list[str] = []
    hash_keys: list[str] = []
    entries: list[bytes] = []
    for number, value in _fields(data[len(MAGIC):-DIGEST_BYTES]):
        if not isinstance(value, bytes):
            raise NotAggregated(f"field {number} of AggregatedRecord is not length-delimited")
        if number == 1:
            keys.append(value.decode("utf-8", "replace"))
        elif number == 2:
            hash_keys.append(value.decode("utf-8", "replace"))
        elif number == 3:
            entries.append(value)
    records = []
    for entry in entries:
        key_index = hash_index = payload = None
        for number, value in _fields(entry):
            if number == 1 and isinstance(value, int):
                key_index = value
            elif number == 2 and isinstance(value, int):
                hash_index = value
            elif number == 3 and isinstance(value, bytes):
                payload = value
        if key_index is None or payload is None or key_index >= len(keys) or (
                hash_index is not None and hash_index >= len(hash_keys)):
            raise NotAggregated("a user record lacks its partition key or data, or names a key not in the table")
        records.append(UserRecord(keys[key_index], payload,
                                  hash_keys[hash_index] if hash_index is not None else None))
    return records


def user_records(data: bytes) -> list[bytes]:
    """What a consumer that de-aggregates gets from one Kinesis record's data: the user records' data when it is
    an aggregated record, else the data itself."""
    if not data.startswith(MAGIC):  # the common case, without an exception per record
        return [data]
    try:
        return [record.data for record in deaggregate(data)]
    except NotAggregated:
        return [data]


__all__ = ["MAGIC", "NotAggregated", "UserRecord", "aggregate", "deaggregate", "is_aggregated", "user_records"]
