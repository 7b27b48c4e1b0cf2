"""The fidelity layer's switches and numbers, all defaulting to the limits catalogue.

A :class:`FidelityConfig` is read on every call, so a test may change it while the layer is active
(for example double ``write_records_per_s`` to model a quota increase) and the next call obeys it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import limits


def _default(limit: limits.Limit) -> int:
    return limit.value


@dataclass
class FidelityConfig:
    """What the offline layer enforces; every number comes from :mod:`pytest_kinesis_limits.limits`.

    ``burst_seconds`` gives each shard a one-off extra allowance of ``burst_seconds * rate`` records and
    bytes, spent when a second's budget is exhausted and never refilled (0 = no burst).
    ``updating_seconds`` is how long, on the layer's clock, a resharded stream reports ``UPDATING``.
    ``max_request_bytes`` is the PutRecords request cap; on a stream whose record cap (MaxRecordSizeInKiB)
    is larger, that record cap is the request cap, so every record the stream accepts fits a request.
    """

    throttling: bool = True
    write_records_per_s: int = field(default_factory=lambda: _default(limits.SHARD_WRITE_RECORDS_PER_S))
    write_bytes_per_s: int = field(default_factory=lambda: _default(limits.SHARD_WRITE_BYTES_PER_S))
    burst_seconds: float = 0.0
    read_calls_per_s: int = field(default_factory=lambda: _default(limits.SHARD_READ_CALLS_PER_S))
    read_bytes_per_s: int = field(default_factory=lambda: _default(limits.SHARD_READ_BYTES_PER_S))
    get_records_max_records: int = field(default_factory=lambda: _default(limits.GET_RECORDS_MAX_RECORDS))
    get_records_max_bytes: int = field(default_factory=lambda: _default(limits.GET_RECORDS_MAX_BYTES))
    updating_seconds: float = 1.0
    shard_count_rules: bool = True
    max_request_bytes: int = field(
        default_factory=lambda: _default(limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY))
    max_record_bytes: int = field(default_factory=lambda: _default(limits.RECORD_MAX_BYTES))
    max_shards: int = field(default_factory=lambda: _default(limits.UPDATE_SHARD_COUNT_MAX_SHARDS))

    def __post_init__(self) -> None:
        for name in ("write_records_per_s", "write_bytes_per_s", "read_calls_per_s", "read_bytes_per_s",
                     "get_records_max_records", "get_records_max_bytes", "max_request_bytes",
                     "max_record_bytes", "max_shards"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FidelityConfig.{name} must be positive, got {getattr(self, name)!r}")
        if self.burst_seconds < 0 or self.updating_seconds < 0:
            raise ValueError("FidelityConfig.burst_seconds and updating_seconds must not be negative")
