"""The fidelity layer's switches and numbers, all defaulting to the limits catalogue.

A :class:`FidelityConfig` is read on every call, so a test may change it while the layer is active
(for example double ``write_records_per_s`` to model a quota increase) and the next call obeys it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_kinesis_limits import limits


def _default(limit: limits.Limit) -> int:
    return limit.value


#: The windows, in seconds of the layer's clock, that :meth:`FidelityConfig.scale_lifecycle` scales.
LIFECYCLE_WINDOWS = ("creating_seconds", "updating_seconds", "encryption_seconds", "deleting_seconds",
                     "firehose_creating_seconds", "firehose_deleting_seconds", "iam_propagation_seconds",
                     "consumer_creating_seconds",
                     "consumer_deleting_seconds")


@dataclass
class FidelityConfig:
    """What the offline layer enforces; every number comes from :mod:`pytest_kinesis_limits.limits`.

    ``burst_seconds`` gives each shard a one-off extra allowance of ``burst_seconds * rate`` records and
    bytes, spent when a second's budget is exhausted and never refilled (0 = no burst).
    ``creating_seconds``, ``updating_seconds`` (after a reshard), ``encryption_seconds`` (after Start/Stop
    StreamEncryption) and ``deleting_seconds`` are how long, on the layer's clock, a stream stays CREATING,
    UPDATING or DELETING; they default to the catalogue's typical durations (``lifecycle.stream.*``), and a test
    may shorten or lengthen them. ``max_streams_creating`` streams of an account and region may be CREATING (or
    DELETING) at once. ``shard_quota`` is the account's open-shard quota per region (None: the catalogue's
    default for the region). ``firehose_creating_seconds`` (a new delivery stream CREATING),
    ``firehose_deleting_seconds`` (a deleted one DELETING, its name still taken) and
    ``iam_propagation_seconds`` (a new IAM role that Firehose still refuses) are the Firehose simulation's windows
    (catalogue ``lifecycle.firehose.creating_s``, ``lifecycle.firehose.deleting_s``, ``lifecycle.iam.propagation_s``).
    ``consumer_creating_seconds`` / ``consumer_deleting_seconds``: how long a registered (deregistered) consumer is
    CREATING (DELETING); ``max_consumers_per_stream`` and ``max_consumers_creating`` are RegisterStreamConsumer's
    limits (catalogue ``fan_out.*``); ``fan_out_read_bytes_per_s``, ``fan_out_subscription_seconds`` and
    ``fan_out_resubscribe_seconds`` are SubscribeToShard's (a consumer's bytes a second per shard, a subscription's
    length, the window in which a second subscription is refused).
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
    updating_seconds: float = field(default_factory=lambda: float(_default(limits.LIFECYCLE_STREAM_UPDATING_RESHARD_S)))
    shard_count_rules: bool = True
    max_request_bytes: int = field(
        default_factory=lambda: _default(limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY))
    max_record_bytes: int = field(default_factory=lambda: _default(limits.RECORD_MAX_BYTES))
    max_shards: int = field(default_factory=lambda: _default(limits.UPDATE_SHARD_COUNT_MAX_SHARDS))
    creating_seconds: float = field(default_factory=lambda: float(_default(limits.LIFECYCLE_STREAM_CREATING_S)))
    deleting_seconds: float = field(default_factory=lambda: float(_default(limits.LIFECYCLE_STREAM_DELETING_S)))
    encryption_seconds: float = field(
        default_factory=lambda: float(_default(limits.LIFECYCLE_STREAM_UPDATING_ENCRYPTION_S)))
    max_streams_creating: int = field(default_factory=lambda: _default(limits.STREAMS_IN_TRANSITION_MAX))
    shard_quota: int | None = None
    firehose_creating_seconds: float = field(default_factory=lambda: float(_default(limits.FIREHOSE_CREATING_S)))
    firehose_deleting_seconds: float = field(default_factory=lambda: float(_default(limits.FIREHOSE_DELETING_S)))
    iam_propagation_seconds: float = field(default_factory=lambda: float(_default(limits.IAM_PROPAGATION_S)))
    consumer_creating_seconds: float = field(
        default_factory=lambda: float(_default(limits.LIFECYCLE_CONSUMER_CREATING_S)))
    consumer_deleting_seconds: float = field(
        default_factory=lambda: float(_default(limits.LIFECYCLE_CONSUMER_DELETING_S)))
    max_consumers_per_stream: int = field(default_factory=lambda: _default(limits.FAN_OUT_CONSUMERS_PER_STREAM))
    max_consumers_creating: int = field(default_factory=lambda: _default(limits.FAN_OUT_CONSUMERS_CREATING))
    fan_out_read_bytes_per_s: int = field(default_factory=lambda: _default(limits.FAN_OUT_CONSUMER_READ_BYTES_PER_S))
    fan_out_subscription_seconds: float = field(default_factory=lambda: float(_default(limits.FAN_OUT_SUBSCRIPTION_S)))
    fan_out_resubscribe_seconds: float = field(default_factory=lambda: float(_default(limits.FAN_OUT_RESUBSCRIBE_S)))
    #: True charges what a subscription delivers to the shard's shared read budget, as a GetRecords consumer's reads
    #: are (AWS does not): a break for the tests that prove the fan-out verdicts can fail.
    fan_out_shares_shard_budget: bool = False

    def __post_init__(self) -> None:
        for name in ("write_records_per_s", "write_bytes_per_s", "read_calls_per_s", "read_bytes_per_s",
                     "get_records_max_records", "get_records_max_bytes", "max_request_bytes",
                     "max_record_bytes", "max_shards", "max_streams_creating", "max_consumers_per_stream",
                     "max_consumers_creating", "fan_out_read_bytes_per_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FidelityConfig.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("burst_seconds", *LIFECYCLE_WINDOWS):
            if getattr(self, name) < 0:
                raise ValueError(f"FidelityConfig.{name} must not be negative, got {getattr(self, name)!r}")
        if self.shard_quota is not None and self.shard_quota <= 0:
            raise ValueError(f"FidelityConfig.shard_quota must be positive or None, got {self.shard_quota!r}")

    def scale_lifecycle(self, factor: float) -> FidelityConfig:
        """Multiply every lifecycle window (streams CREATING, UPDATING and DELETING, delivery streams CREATING, IAM
        propagation) by ``factor`` (0: every transition at once); returns ``self``. ``pytest-kinesis-limits serve
        --lifecycle-scale`` uses it on the wall clock."""
        if factor < 0:
            raise ValueError(f"a lifecycle scale must not be negative, got {factor!r}")
        for name in LIFECYCLE_WINDOWS:
            setattr(self, name, getattr(self, name) * factor)
        return self

    def scale_write_limits(self, factor: float) -> FidelityConfig:
        """Multiply the per-shard write limits (records and bytes a second) by ``factor`` (0 < factor <= 1, rounded,
        at least 1); returns ``self``. The scale family's offline rehearsal uses it, so that a swarm on one machine
        can offer twice the limits over HTTP (``--kinesis-swarm-layer-scale``, recorded in the report)."""
        if not 0 < factor <= 1:
            raise ValueError(f"a write-limit scale is greater than 0 and at most 1, got {factor!r}")
        self.write_records_per_s = max(1, round(self.write_records_per_s * factor))
        self.write_bytes_per_s = max(1, round(self.write_bytes_per_s * factor))
        return self

    def shard_quota_for(self, region: str) -> int:
        """The account's open-shard quota in ``region``: ``shard_quota``, else the catalogue's regional default."""
        if self.shard_quota is not None:
            return self.shard_quota
        main = region in limits.SHARD_QUOTA_MAIN_REGION_NAMES
        return _default(limits.SHARD_QUOTA_MAIN_REGIONS if main else limits.SHARD_QUOTA_OTHER_REGIONS)
