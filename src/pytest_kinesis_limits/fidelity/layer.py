"""The layer object and :func:`activate`, which patches moto's Kinesis classes for the duration of a block.

Patches are class-level (``unittest.mock.patch.object``), so they reach every backend instance, including
the ones a ``moto.server.ThreadedMotoServer`` started in the same process serves over HTTP, and they are
all undone on exit, even after an error. They are ``KinesisBackend`` methods except where a behaviour
cannot live there (response fields the backend cannot return, a parameter moto drops before the backend,
model serialization, moto's own callers of model methods): docs/fidelity.md lists every patch and why.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits.fidelity import consumers, fan_out, gate, lifecycle, resharding, streams
from pytest_kinesis_limits.fidelity.config import FidelityConfig
from pytest_kinesis_limits.fidelity.moto_adapter import (ActionResult, KinesisBackend, KinesisResponse, RecordCodec,
                                                         Shard, Stream, decompose_shard_iterator, kinesis_backends,
                                                         add_method, original, patch_all, record_codec,
                                                         stream_lazy_bodies)
from pytest_kinesis_limits.fidelity.resharding import child_shards_of, open_shard_count
from pytest_kinesis_limits.fidelity.sequence import MAX_RECORD_ATTR, stream_state
from pytest_kinesis_limits.fidelity.validation import validate_max_record_size_kib

if TYPE_CHECKING:
    from pytest_kinesis_limits.clock import Clock


class FidelityAlreadyActive(RuntimeError):
    """Raised by :func:`activate` while another layer is active (patches are process-wide)."""


class FidelityLayer:
    """An active fidelity layer: its clock, its (mutable) config and helpers for other modules."""

    def __init__(self, clock: Clock, config: FidelityConfig, codec: RecordCodec | None = None) -> None:
        self.clock = clock
        self.config = config
        #: How this moto keeps a record's data and arrival (:mod:`.moto_adapter`).
        self.codec = codec if codec is not None else record_codec()
        #: The fault-injection hook for tests that prove a verdict can fail (docs/fidelity.md, "Fault injection"):
        #: ``store_fault(call)`` replaces the storing of every accepted record; ``call`` is a
        #: :class:`.streams.StoreCall` (``call.store()``, ``call.skip()``) and it returns the record's sequence number.
        self.store_fault: Callable[[streams.StoreCall], int] | None = None
        # The Firehose delivery simulation running beside this layer (set by offline.activate_all), if any.
        self.firehose: Any = None
        #: SubscribeToShard's subscriptions (:mod:`.fan_out`): what they delivered.
        self.fan_out = fan_out.FanOut(self)

    def find_stream(self, stream_name_or_arn: str) -> Stream:
        """The moto stream named by ARN, or by name in whichever account/region holds it (must be unique)."""
        if stream_name_or_arn.startswith("arn:"):
            _, _, _, region, account, _ = stream_name_or_arn.split(":", 5)
            stream: Stream = kinesis_backends[account][region].describe_stream(
                stream_arn=stream_name_or_arn, stream_name=None)
            return stream
        found = [backend.streams[stream_name_or_arn]
                 for regions in list(kinesis_backends.values()) for backend in list(regions.values())
                 if stream_name_or_arn in backend.streams]
        if len(found) != 1:
            raise LookupError(f"{len(found)} streams named {stream_name_or_arn!r}; pass the stream ARN")
        return found[0]

    def child_shards(self, stream_name_or_arn: str, shard_id: str) -> list[dict[str, Any]]:
        """The AWS ``ChildShards`` list of ``shard_id`` (ShardId, ParentShards, HashKeyRange); [] if none."""
        return child_shards_of(self.find_stream(stream_name_or_arn), shard_id)

    def stream_status(self, stream: Stream) -> str:
        """The stream's status on the layer clock: CREATING, UPDATING, DELETING or ACTIVE (moto: always ACTIVE)."""
        return lifecycle.status(self, stream)

    def __repr__(self) -> str:
        return f"FidelityLayer(clock={self.clock!r}, config={self.config!r})"


_active_lock = threading.Lock()
_active: FidelityLayer | None = None


def active_layer() -> FidelityLayer | None:
    """The layer currently active in this process, if any."""
    return _active


def _shard_to_json(layer: FidelityLayer, shard: Shard) -> dict[str, Any]:
    # Shard JSON with a fixed StartingSequenceNumber and, once closed, the EndingSequenceNumber
    # (API_SequenceNumberRange.html); moto derives both from the records it holds, with a scan.
    sst = shard.__dict__.get("_kinesis_fidelity")
    if sst is None or sst.owner is not layer:
        return _ORIGINAL_SHARD_TO_JSON[0](shard)
    out: dict[str, Any] = {
        "HashKeyRange": {"EndingHashKey": str(shard.ending_hash), "StartingHashKey": str(shard.starting_hash)},
        "SequenceNumberRange": {"StartingSequenceNumber": str(sst.starting_sequence)},
        "ShardId": shard.shard_id,
    }
    if shard.parent:
        out["ParentShardId"] = shard.parent
    if shard.adjacent_parent:
        out["AdjacentParentShardId"] = shard.adjacent_parent
    if not shard.is_open and sst.ending_sequence is not None:
        out["SequenceNumberRange"]["EndingSequenceNumber"] = str(sst.ending_sequence)
    return out


def _stream_to_json(layer: FidelityLayer, original: Callable[..., dict[str, Any]], stream: Stream,
                    *args: Any, **kwargs: Any) -> dict[str, Any]:
    stream_state(layer, stream)
    out = original(stream, *args, **kwargs)
    out["StreamDescription"]["StreamStatus"] = layer.stream_status(stream)
    return out


def _stream_to_json_summary(layer: FidelityLayer, original: Callable[..., dict[str, Any]],
                            stream: Stream) -> dict[str, Any]:
    out = original(stream)
    summary = out["StreamDescriptionSummary"]
    summary["StreamStatus"] = layer.stream_status(stream)
    # OpenShardCount counts shards still open (API_StreamDescriptionSummary.html); moto reports the
    # last UpdateShardCount target, or the creation count.
    summary["OpenShardCount"] = open_shard_count(stream)
    return out


_JSON_1_1 = "application/x-amz-json-1.1"
_JSON = json.JSONEncoder(separators=(",", ":"))  # ASCII (ensure_ascii), as json.dumps writes it


def _speaks_json(response: KinesisResponse) -> bool:
    return str(response.headers.get("Content-Type", "")).startswith(_JSON_1_1)


def _json_result(response: KinesisResponse, body: dict[str, Any], fallback: Callable[[], dict[str, Any]], *,
                 records: Callable[[], str] | None = None) -> Any:
    """The response as JSON 1.1 when the client speaks it, else through moto's serializer. ``records`` writes a
    GetRecords answer's ``Records`` array (:meth:`.moto_adapter.RecordCodec.json_records`), put before ``body``'s
    fields.

    moto's generic serializer walks the service model for every field of every record: for 500-record
    PutRecords and 10,000-record GetRecords answers it was half the time of an offline 50,000-record
    scenario. These two answers are flat (strings, numbers, base64 blobs, epoch timestamps), so they are
    written directly; any other protocol gets moto's own path (``fallback`` builds its body).

    The JSON goes back as bytes, with moto's status and headers (status 200, as for a text answer): moto runs an
    XML request-id regex over every text answer, which a JSON answer never needs (about 5 % of a seed scenario's
    CPU, over 10,000-record GetRecords bodies), and hands any other body on as it is, as it does the event
    stream's (fan_out.py). The gate's round trip (PutRecords and GetRecords through moto) proves this moto does.
    """
    if _speaks_json(response):
        text = _JSON.encode(body)
        if records is not None:
            text = '{"Records":' + records() + ("," + text[1:] if body else "}")
        return 200, {}, text.encode("ascii")
    return ActionResult(fallback())


def _response_put_records(layer: FidelityLayer, response: KinesisResponse) -> Any:
    out = response.kinesis_backend.put_records(response._get_param("StreamARN"), response._get_param("StreamName"),
                                               response._get_param("Records"))
    return _json_result(response, out, lambda: out)


def _response_get_records(layer: FidelityLayer, response: KinesisResponse) -> Any:
    stream_arn = response._get_param("StreamARN")
    shard_iterator = response._get_param("ShardIterator")
    limit = response._get_param("Limit")
    next_iterator, records, behind = response.kinesis_backend.get_records(stream_arn, shard_iterator, limit)
    body: dict[str, Any] = {"MillisBehindLatest": behind}
    if next_iterator is None:
        # API_GetRecords.html: at a closed shard's end NextShardIterator is null and ChildShards is set.
        stream_name, shard_id, _ = decompose_shard_iterator(shard_iterator)
        stream = response.kinesis_backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
        body["ChildShards"] = child_shards_of(stream, shard_id)
    else:
        body["NextShardIterator"] = next_iterator
    return _json_result(response, body, lambda: {"Records": [r.to_json() for r in records], **body},
                        records=lambda: layer.codec.json_records(records))


def _response_create_stream(layer: FidelityLayer, original: Callable[..., Any], response: KinesisResponse) -> Any:
    # MaxRecordSizeInKiB (API_CreateStream.html, 1024-10240) is dropped by moto; keep it for the size check.
    # Tags too: AWS applies them "from the CREATING status of the stream" (API_CreateStream.html).
    max_bytes = validate_max_record_size_kib(response._get_param("MaxRecordSizeInKiB"))
    tags = response._get_param("Tags")
    result = original(response)
    if max_bytes is not None or tags:
        stream = response.kinesis_backend.streams[response._get_param("StreamName")]
        if max_bytes is not None:
            stream_state(layer, stream).max_record_bytes = max_bytes
            stream.__dict__[MAX_RECORD_ATTR] = max_bytes  # for the next test's layer (a session's shared stream)
        if tags:
            stream.tags.update(tags)
    return result


#: moto's own ``Shard.to_json`` (for a shard the active layer does not know), kept when the layer activates.
_ORIGINAL_SHARD_TO_JSON: list[Callable[..., Any]] = []


def _patches(layer: FidelityLayer) -> list[tuple[str, Callable[..., Any]]]:
    """The layer's patches, ``(target, replacement)``: targets are keys of :data:`.moto_adapter.PATCH_TARGETS`."""
    o = original
    o_split, o_merge = o("KinesisBackend.split_shard"), o("KinesisBackend.merge_shards")
    o_usc, o_iterator = o("KinesisBackend.update_shard_count"), o("KinesisBackend.get_shard_iterator")
    o_describe, o_to_json = o("KinesisBackend.describe_stream"), o("Stream.to_json")
    o_summary, o_create = o("Stream.to_json_summary"), o("KinesisResponse.create_stream")

    def describe_stream(backend: KinesisBackend, stream_arn: str | None = None,
                        stream_name: str | None = None) -> Stream:
        stream = o_describe(backend, stream_arn=stream_arn, stream_name=stream_name)
        stream_state(layer, stream)
        if not lifecycle.settle(layer, backend, stream):  # its DELETING window is over: gone
            return o_describe(backend, stream_arn=stream_arn, stream_name=stream_name)  # raises not found
        return stream

    p = functools.partial
    active = lifecycle.when_active
    b = "KinesisBackend."
    # Keep docs/fidelity.md's table of patches in step (tests/fidelity/test_layer.py compares them).
    return [
        (b + "describe_stream", describe_stream),
        (b + "create_stream", p(lifecycle.create_stream, layer, o(b + "create_stream"))),
        (b + "delete_stream", p(lifecycle.delete_stream, layer, o(b + "delete_stream"))),
        (b + "list_streams", p(lifecycle.list_streams, layer, o(b + "list_streams"))),
        *((b + name, p(active, layer, o(b + name))) for name in (
            "add_tags_to_stream", "remove_tags_from_stream", "increase_stream_retention_period",
            "decrease_stream_retention_period", "enable_enhanced_monitoring", "disable_enhanced_monitoring",
            "update_stream_mode")),
        (b + "register_stream_consumer",
         p(active, layer, p(consumers.register, layer, o(b + "register_stream_consumer")))),
        (b + "deregister_stream_consumer", p(consumers.deregister, layer, o(b + "deregister_stream_consumer"))),
        (b + "describe_stream_consumer", p(consumers.describe, layer, o(b + "describe_stream_consumer"))),
        (b + "list_stream_consumers", p(consumers.list_consumers, layer, o(b + "list_stream_consumers"))),
        ("Consumer.to_json", p(consumers.to_json, layer, o("Consumer.to_json"))),
        *((b + name, p(lifecycle.when_active_then_updating, layer, o(b + name)))
          for name in ("start_stream_encryption", "stop_stream_encryption")),
        (b + "put_records", p(streams.put_records, layer)),
        (b + "put_record", p(streams.put_record, layer)),
        (b + "get_records", p(streams.get_records, layer)),
        (b + "get_shard_iterator", p(streams.get_shard_iterator, layer, o_iterator)),
        (b + "split_shard", p(resharding.backend_split_or_merge, layer, o_split)),
        (b + "merge_shards", p(resharding.backend_split_or_merge, layer, o_merge)),
        (b + "update_shard_count", p(resharding.backend_update_shard_count, layer, o_usc)),
        # Model and response exceptions, each explained in docs/fidelity.md:
        ("Stream.put_record", p(streams.stream_put_record, layer)),
        ("Stream.split_shard", p(resharding.split_shard, layer)),
        ("Stream.merge_shards", p(resharding.merge_shards, layer)),
        ("Stream.to_json", p(_stream_to_json, layer, o_to_json)),
        ("Stream.to_json_summary", p(_stream_to_json_summary, layer, o_summary)),
        ("Shard.to_json", p(_shard_to_json, layer)),
        ("KinesisResponse.get_records", p(_response_get_records, layer)),
        ("KinesisResponse.put_records", p(_response_put_records, layer)),
        ("KinesisResponse.create_stream", p(_response_create_stream, layer, o_create)),
    ]


def check_moto() -> gate.GateResult:
    """Check once per process that the installed moto is one the layer can drive (:mod:`.gate`); raise
    :class:`.gate.MotoGateError` otherwise. :func:`activate` calls it; the plugin calls it before the first test."""
    return gate.ensure(_activate_unchecked)


@contextlib.contextmanager
def activate(clock: Clock, config: FidelityConfig | None = None) -> Iterator[FidelityLayer]:
    """Patch moto's Kinesis backend (class-level, ``unittest.mock.patch.object``), yield the layer, restore
    everything on exit. One layer at a time: a nested or concurrent call raises :class:`FidelityAlreadyActive`.

    The first activation in a process runs :func:`.gate.ensure`: a moto the layer cannot drive raises
    :class:`.gate.MotoGateError` (one line: the versions, the problem, the fix) before anything is patched."""
    result = check_moto()
    with _activate_unchecked(clock, config if config is not None else FidelityConfig(), result.codec) as layer:
        yield layer


@contextlib.contextmanager
def _activate_unchecked(clock: Clock, config: FidelityConfig, codec: RecordCodec) -> Iterator[FidelityLayer]:
    global _active
    layer = FidelityLayer(clock, config, codec)
    with _active_lock:
        if _active is not None:
            raise FidelityAlreadyActive(f"a fidelity layer is already active ({_active!r}); exit it first")
        _active = layer
    try:
        _ORIGINAL_SHARD_TO_JSON[:] = [original("Shard.to_json")]
        with contextlib.ExitStack() as stack:
            patch_all(stack, _patches(layer))
            add_method(stack, "KinesisResponse.subscribe_to_shard", layer.fan_out.subscribe)
            stream_lazy_bodies(stack)
            stack.callback(setattr, layer.fan_out, "closed", True)  # open subscriptions end with the layer
            # Runs first on exit, while the patches are still in place: queued reshards and deletions complete.
            stack.callback(lifecycle.finish_all, layer)
            yield layer
    finally:
        with _active_lock:
            _active = None


__all__ = ["FidelityAlreadyActive", "FidelityLayer", "activate", "active_layer", "check_moto"]
