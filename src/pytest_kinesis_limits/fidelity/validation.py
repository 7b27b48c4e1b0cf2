"""Request validation for PutRecord and PutRecords, done in full before anything is stored.

AWS validates the whole request first: a bad member anywhere in a PutRecords batch fails the request and
no record is written (API_PutRecords.html; the seed test saw 1000 records rejected whole). moto validates
sizes up front but partition keys and hash keys per record while storing, so a bad key mid-batch leaves
the records before it stored; its single PutRecord has no size check, and an ExplicitHashKey equal to a
shard's EndingHashKey crashes it. Messages follow AWS's request-model wording ("1 validation error
detected: Value at 'records.1.member.partitionKey' failed to satisfy constraint: ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from hashlib import md5

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import errors
from pytest_kinesis_limits.fidelity.moto_adapter import RecordCodec

_HASH_KEY_PATTERN = r"0|([1-9]\d{0,38})"
_HASH_KEY_RE = re.compile(rf"(?:{_HASH_KEY_PATTERN})\Z")


@dataclass(frozen=True)
class PreparedRecord:
    """A validated record: its data in moto's form (see :class:`~.moto_adapter.RecordCodec`), its hash key and its
    metered size (data bytes + partition key bytes)."""

    partition_key: str
    explicit_hash_key: str | None
    data: object
    hash_key: int
    size: int


def _member_errors(where: str, partition_key: object, explicit_hash_key: object) -> list[str]:
    messages = []
    key_min, key_max = limits.PARTITION_KEY_MIN_CHARS.value, limits.PARTITION_KEY_MAX_CHARS.value
    if not isinstance(partition_key, str) or len(partition_key) < key_min:
        messages.append(f"Value at '{where}partitionKey' failed to satisfy constraint: "
                        f"Member must have length greater than or equal to {key_min}")
    elif len(partition_key) > key_max:
        messages.append(f"Value at '{where}partitionKey' failed to satisfy constraint: "
                        f"Member must have length less than or equal to {key_max}")
    if explicit_hash_key is not None and (
            not isinstance(explicit_hash_key, str) or not _HASH_KEY_RE.match(explicit_hash_key)):
        messages.append(f"Value '{explicit_hash_key}' at '{where}explicitHashKey' failed to satisfy constraint: "
                        f"Member must satisfy regular expression pattern: {_HASH_KEY_PATTERN}")
    return messages


def _hash_key(partition_key: str, explicit_hash_key: str | None) -> int:
    if explicit_hash_key is not None:
        value = int(explicit_hash_key)
        # API_PutRecord.html: ExplicitHashKey is a 128-bit integer; kinesalite mirrors AWS's message.
        bits = limits.HASH_KEY_BITS.value
        if value >= 2 ** bits:
            raise errors.invalid_argument(
                f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^{bits}-1]. "
                f"Specified value was {explicit_hash_key}")
        return value
    return _md5_hash_key(partition_key)


@lru_cache(maxsize=65_536)  # producers reuse their keys: the seed scenarios send 50,000 records under 64
def _md5_hash_key(partition_key: str) -> int:
    # API_PutRecord.html: "MD5 hash function is used to map partition keys to 128-bit integer values".
    return int.from_bytes(md5(partition_key.encode("utf-8")).digest(), "big")


def prepare_records(entries: list[dict[str, object]], max_record_bytes: int, max_request_bytes: int,
                    codec: RecordCodec) -> list[PreparedRecord]:
    """Validate a PutRecords request as a whole; raise AWS's error or return every record prepared. Data is sized
    by ``codec`` (moto's form: base64 text or bytes); a value of another type is an error, never 0 bytes."""
    max_records = limits.PUT_RECORDS_MAX_RECORDS.value
    if len(entries) > max_records:
        raise errors.validation([f"Value at 'records' failed to satisfy constraint: "
                                 f"Member must have length less than or equal to {max_records}"])
    key_min, key_max = limits.PARTITION_KEY_MIN_CHARS.value, limits.PARTITION_KEY_MAX_CHARS.value
    size_of = codec.size
    messages: list[str] = []
    sizes: list[int] = []
    for position, entry in enumerate(entries, start=1):
        pk, ehk = entry.get("PartitionKey"), entry.get("ExplicitHashKey")
        # Record size counts the partition key (service-sizes-and-limits.html); moto's message shape.
        size = size_of(entry.get("Data")) + len(str(pk or "").encode("utf-8"))
        sizes.append(size)
        if (isinstance(pk, str) and key_min <= len(pk) <= key_max and size <= max_record_bytes
                and (ehk is None or (isinstance(ehk, str) and _HASH_KEY_RE.match(ehk)))):
            continue  # the common case: nothing to say about this member
        where = f"records.{position}.member."
        messages += _member_errors(where, pk, ehk)
        if size > max_record_bytes:
            messages.append(f"Value at '{where}data' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {max_record_bytes}")
    if messages:
        raise errors.validation(messages)
    if sum(sizes) > max_request_bytes:
        # moto's and the pre-2025 developer guide's cap; see limits.PUT_RECORDS_MAX_REQUEST_BYTES*.
        raise errors.invalid_argument(f"Records size exceeds {max_request_bytes // limits.MIB} MB limit")
    empty = codec.from_bytes(b"")
    prepared = []
    for entry, size in zip(entries, sizes, strict=True):
        pk, ehk = entry["PartitionKey"], entry.get("ExplicitHashKey")
        ehk_str = None if ehk is None else str(ehk)
        prepared.append(PreparedRecord(pk, ehk_str, entry.get("Data") or empty, _hash_key(pk, ehk_str), size))
    return prepared


def prepare_record(partition_key: object, explicit_hash_key: object, data: object, max_record_bytes: int,
                   codec: RecordCodec) -> PreparedRecord:
    """Validate a single PutRecord (moto checks no size here) and return it prepared (data sized by ``codec``)."""
    messages = _member_errors("", partition_key, explicit_hash_key)
    size = codec.size(data) + len(str(partition_key or "").encode("utf-8"))
    if size > max_record_bytes:
        messages.append("Value at 'data' failed to satisfy constraint: "
                        f"Member must have length less than or equal to {max_record_bytes}")
    if messages:
        raise errors.validation(messages)
    pk = str(partition_key)
    ehk = None if explicit_hash_key is None else str(explicit_hash_key)
    return PreparedRecord(pk, ehk, data or codec.from_bytes(b""), _hash_key(pk, ehk), size)


def validate_limit(limit: object, max_records: int) -> int:
    """GetRecords ``Limit``: 1..max (model constraint), default max; moto accepts any value."""
    if limit is None:
        return max_records
    value = int(limit)  # type: ignore[call-overload]
    if value < 1:
        raise errors.validation([f"Value '{value}' at 'limit' failed to satisfy constraint: "
                                 "Member must have value greater than or equal to 1"])
    if value > max_records:
        raise errors.validation([f"Value '{value}' at 'limit' failed to satisfy constraint: "
                                 f"Member must have value less than or equal to {max_records}"])
    return value


def validate_max_record_size_kib(value: object) -> int | None:
    """CreateStream ``MaxRecordSizeInKiB`` (1024-10240, API_CreateStream.html); bytes, or None if absent."""
    if value is None:
        return None
    kib = int(value)  # type: ignore[call-overload]
    low, high = limits.MAX_RECORD_SIZE_KIB_MIN.value, limits.MAX_RECORD_SIZE_KIB_MAX.value
    if kib < low or kib > high:
        bound = f"greater than or equal to {low}" if kib < low else f"less than or equal to {high}"
        raise errors.validation([f"Value '{kib}' at 'maxRecordSizeInKiB' failed to satisfy constraint: "
                                 f"Member must have value {bound}"])
    return kib * limits.KIB
