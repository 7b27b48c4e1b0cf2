"""The write and read paths: routing, throttling, sequence numbers, arrival times and bounded reads.

Each function takes the active layer (for its clock, config and state) and moto's objects; the patches in
:mod:`.layer` bind them to moto's methods.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import errors, lifecycle
from pytest_kinesis_limits.fidelity.moto_adapter import (KinesisBackend, Record, Shard, Stream, compose_shard_iterator,
                                                         decompose_shard_iterator, lambda_backend)
from pytest_kinesis_limits.fidelity.sequence import ShardState, StreamState, shard_state, stream_state
from pytest_kinesis_limits.fidelity.validation import PreparedRecord, prepare_record, prepare_records, validate_limit

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.layer import FidelityLayer


def max_record_bytes(layer: FidelityLayer, stream: Stream) -> int:
    """The stream's record size cap: its MaxRecordSizeInKiB if set at creation, else the config's."""
    return stream_state(layer, stream).max_record_bytes or layer.config.max_record_bytes


def max_request_bytes(layer: FidelityLayer, stream: Stream) -> int:
    """The stream's PutRecords request cap: the config's, raised to the stream's record cap if that is larger.

    A record the stream accepts must fit a request: on a stream created with MaxRecordSizeInKiB=10240 a
    single 6 MiB record is accepted by PutRecord and by PutRecords alike (large-records.html), so the legacy
    5 MiB request cap (the config's default) cannot apply to it.
    """
    return max(layer.config.max_request_bytes, max_record_bytes(layer, stream))


def _store(layer: FidelityLayer, st: StreamState, sst: ShardState, shard: Shard, rec: PreparedRecord,
           arrival: tuple[float, datetime.datetime]) -> int:
    """Append one record to ``shard`` with the stream's next number (stream lock held, ``sst`` synced with moto's
    dict under it). O(1), no scan.

    ApproximateArrivalTimestamp is the layer's clock (API_Record.html: set when the stream accepts the record), so
    offline meters measure simulated seconds; moto stamps the wall clock."""
    seq = st.next_sequence()
    record = layer.codec.new_record(rec.partition_key, rec.data, seq, rec.explicit_hash_key, arrival)
    # Dict, then numbers, then times: a lock-free reader that finds a number in the index finds its record,
    # and ShardState.sync, which takes this lock, cannot index the record between these lines.
    shard.records[seq] = record
    sst.seqs.append(seq)
    sst.times.append(arrival[0])
    return seq


def _synced(layer: FidelityLayer, st: StreamState, shard: Shard) -> ShardState:
    """The shard's state, its indexes caught up with moto's dict (call with the stream's lock held: no record can
    reach the dict meanwhile, so one sync serves every record of a request)."""
    sst = shard_state(layer, st, shard)
    sst.sync(shard, layer.codec)
    return sst


@dataclass(frozen=True)
class StoreCall:
    """An accepted record the layer is about to store, as a fault injected with :attr:`FidelityLayer.store_fault`
    sees it: where it goes, whether a reshard of its stream has begun (a shard is closed), its partition key, and
    two actions. ``store()`` stores it and returns its sequence number (call it twice to store it twice);
    ``skip()`` returns a fresh number without storing anything (the record is acknowledged but lost)."""

    stream_name: str
    shard_id: str
    partition_key: str
    resharding: bool
    store: Callable[[], int]
    skip: Callable[[], int]


def _store_accepted(layer: FidelityLayer, stream: Stream, st: StreamState, sst: ShardState, shard: Shard,
                    rec: PreparedRecord, arrival: tuple[float, datetime.datetime]) -> int:
    """Store an accepted record, through the layer's injected fault if a test set one (stream lock held)."""
    fault = layer.store_fault
    if fault is None:
        return _store(layer, st, sst, shard, rec, arrival)
    return fault(StoreCall(
        stream_name=stream.stream_name, shard_id=shard.shard_id, partition_key=rec.partition_key,
        resharding=any(not s.is_open for s in stream.shards.values()),
        store=lambda: _store(layer, st, sst, shard, rec, arrival),
        skip=st.next_sequence))


def _route(st: StreamState, stream: Stream, rec: PreparedRecord) -> Shard:
    shard = st.route(stream, rec.hash_key)
    if shard is None:  # cannot happen while open shards cover 0..2**128-1; never crash like moto does
        raise errors.invalid_argument(f"No open shard of stream {stream.stream_name} covers hash key {rec.hash_key}")
    return shard


def _notify_lambda(layer: FidelityLayer, stream: Stream, shard_id: str, rec: PreparedRecord, seq: str) -> None:
    # Keep moto's Lambda event-source-mapping delivery (Stream.put_record does it after storing; base64 text).
    if not stream.lambda_event_source_mappings:
        return
    for arn, esm in stream.lambda_event_source_mappings.items():
        lambda_backend(stream.account_id, arn.split(":")[3]).send_kinesis_message(
            function_name=esm.function_arn, kinesis_stream=stream.arn, kinesis_data=layer.codec.to_base64(rec.data),
            kinesis_shard_id=shard_id, kinesis_partition_key=rec.partition_key, kinesis_sequence_number=seq)


def put_records(layer: FidelityLayer, backend: KinesisBackend, stream_arn: str | None, stream_name: str | None,
                entries: list[dict[str, Any]]) -> dict[str, Any]:
    """PutRecords: validate all, then store or refuse each record by its shard's budget."""
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    lifecycle.require_readable(layer, stream)
    config = layer.config
    prepared = prepare_records(entries, max_record_bytes(layer, stream), max_request_bytes(layer, stream), layer.codec)
    st = stream_state(layer, stream)
    out: list[dict[str, str]] = []
    failed = 0
    stored: list[tuple[str, PreparedRecord, str]] = []
    throttling = config.throttling
    with st.lock:
        now = layer.clock.now()
        arrival = layer.codec.stamp(now)
        states: dict[str, ShardState] = {}  # the request's shards, each synced once
        for rec in prepared:
            shard = _route(st, stream, rec)
            sst = states.get(shard.shard_id)
            if sst is None:
                sst = states[shard.shard_id] = _synced(layer, st, shard)
            if throttling and not sst.write.admit(now, rec.size, config):
                # API_PutRecords.html: throttled records get ErrorCode/ErrorMessage and are not written.
                failed += 1
                out.append({"ErrorCode": "ProvisionedThroughputExceededException",
                            "ErrorMessage": errors.write_throttled_message(
                                shard.shard_id, stream.stream_name, stream.account_id)})
                continue
            seq = str(_store_accepted(layer, stream, st, sst, shard, rec, arrival))
            out.append({"SequenceNumber": seq, "ShardId": shard.shard_id})
            stored.append((shard.shard_id, rec, seq))
    for shard_id, rec, seq in stored:
        _notify_lambda(layer, stream, shard_id, rec, seq)
    return {"FailedRecordCount": failed, "Records": out}


def put_record(layer: FidelityLayer, backend: KinesisBackend, stream_arn: str | None, stream_name: str | None,
               partition_key: str, explicit_hash_key: str | None, data: str) -> tuple[str, str]:
    """PutRecord: validate (size included), then store or raise ProvisionedThroughputExceededException."""
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    lifecycle.require_readable(layer, stream)
    rec = prepare_record(partition_key, explicit_hash_key, data, max_record_bytes(layer, stream), layer.codec)
    return store_one(layer, stream, rec, throttle=True)


def store_one(layer: FidelityLayer, stream: Stream, rec: PreparedRecord, throttle: bool) -> tuple[str, str]:
    """Route and store one prepared record; with ``throttle``, refuse it over the shard's budget."""
    config = layer.config
    st = stream_state(layer, stream)
    with st.lock:
        now = layer.clock.now()
        shard = _route(st, stream, rec)
        sst = _synced(layer, st, shard)
        if throttle and config.throttling and not sst.write.admit(now, rec.size, config):
            raise errors.write_throttled(shard.shard_id, stream.stream_name, stream.account_id)
        seq = str(_store_accepted(layer, stream, st, sst, shard, rec, layer.codec.stamp(now)))
    _notify_lambda(layer, stream, shard.shard_id, rec, seq)
    return seq, shard.shard_id


def stream_put_record(layer: FidelityLayer, stream: Stream, partition_key: str, explicit_hash_key: str | None,
                      data: str) -> tuple[str, str]:
    """moto's internal ``Stream.put_record`` (CloudWatch Logs subscriptions...): routed and numbered, not throttled."""
    ehk = explicit_hash_key or None
    rec = prepare_record(partition_key, ehk, data, limits.RECORD_MAX_BYTES_CONFIGURABLE.value, layer.codec)
    return store_one(layer, stream, rec, throttle=False)


def get_shard_iterator(layer: FidelityLayer, original: Callable[..., str], backend: KinesisBackend,
                       stream_arn: str | None, stream_name: str | None, shard_id: str, shard_iterator_type: str,
                       starting_sequence_number: Any, at_timestamp: Any) -> str:
    """GetShardIterator: LATEST and AT_TIMESTAMP find their position in the layer's index (bisect; moto lists
    every key or walks the records), then become AFTER_SEQUENCE_NUMBER; validation and errors stay moto's.
    A stream still CREATING is not found yet."""
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    lifecycle.require_readable(layer, stream)
    if shard_iterator_type == "LATEST" or (shard_iterator_type == "AT_TIMESTAMP" and at_timestamp is not None):
        shard = stream.shards.get(shard_id)
        if shard is not None:  # else moto raises its ResourceNotFoundException
            sst = shard_state(layer, stream_state(layer, stream), shard)
            sst.sync(shard, layer.codec)
            if shard_iterator_type == "LATEST":
                seqs = sst.seqs
                last = seqs[-1] if seqs else 0
            else:
                # API_GetShardIterator.html: AT_TIMESTAMP starts at the first record at or after Timestamp.
                last = sst.sequence_before(layer.codec.request_time(at_timestamp))
            shard_iterator_type, starting_sequence_number, at_timestamp = "AFTER_SEQUENCE_NUMBER", last, None
    return original(backend, stream_arn, stream_name, shard_id, shard_iterator_type, starting_sequence_number,
                    at_timestamp)


def get_records(layer: FidelityLayer, backend: KinesisBackend, stream_arn: str | None, shard_iterator: str,
                limit: int | None) -> tuple[str | None, list[Record], int]:
    """GetRecords: read budget, capped batch, bisect start; None as next iterator at a closed shard's end."""
    config = layer.config
    # API_GetRecords.html: Limit is 1..10,000 (request model); moto accepts anything.
    wanted = min(validate_limit(limit, limits.GET_RECORDS_MAX_RECORDS.value), config.get_records_max_records)
    stream_name, shard_id, last = decompose_shard_iterator(shard_iterator)
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    shard = stream.get_shard(shard_id)
    st = stream_state(layer, stream)
    sst = shard_state(layer, st, shard)
    meter = sst.read
    with meter.lock:
        now = layer.clock.now()
        if config.throttling and not meter.admit_call(now, config):
            raise errors.read_throttled(shard.shard_id, stream.stream_name, stream.account_id)
        sst.sync(shard, layer.codec)
        seqs = sst.seqs
        count = len(seqs)
        i = sst.index_after(int(last))
        batch: list[Record] = []
        total = 0
        # API_GetRecords.html: at most 10,000 records and 10 MiB per call.
        while i < count and len(batch) < wanted:
            record = shard.records[seqs[i]]
            size = layer.codec.record_size(record)
            if batch and total + size > config.get_records_max_bytes:
                break
            batch.append(record)
            total += size
            i += 1
        if config.throttling:
            meter.account(total, config)
    last_seq = batch[-1].sequence_number if batch else int(last)
    behind = 0
    if batch and i < count:
        # The newest record's time from moto's dict: ``times`` may still lack the number ``seqs`` shows.
        codec = layer.codec
        behind = int((codec.arrival(shard.records[seqs[count - 1]]) - codec.arrival(batch[-1])) * 1000)
    # API_GetRecords.html: "If the shard has been closed, ... GetRecords returns null in NextShardIterator".
    if not shard.is_open and i >= count:
        return None, batch, behind
    return compose_shard_iterator(stream_name, shard, last_seq), batch, behind
