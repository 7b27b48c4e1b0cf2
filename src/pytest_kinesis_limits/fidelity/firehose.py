"""Offline Firehose delivery from a Kinesis source, on moto 5.2.x.

Plain moto's Firehose never reads its Kinesis source: it accepts direct puts to a Kinesis-source delivery
stream and writes every put to S3 at once (DESIGN.md section 5). :func:`activate_firehose` patches moto's
backend classes (``unittest.mock.patch.object``, restored on exit) so that, as AWS documents
(https://docs.aws.amazon.com/firehose/latest/dev/writing-with-kinesis-streams.html,
https://docs.aws.amazon.com/firehose/latest/dev/buffering-hints.html,
https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html):

* a new delivery stream is CREATING for ``creating_s`` clock seconds (catalogue ``lifecycle.firehose.creating_s``;
  moto makes it ACTIVE at once); DeleteDeliveryStream and UpdateDestination meanwhile answer
  ``ResourceInUseException`` (API_DeleteDeliveryStream.html: "You can't delete a Firehose stream that is in the
  CREATING state");
* a deleted delivery stream is DELETING for ``deleting_s`` clock seconds (catalogue ``lifecycle.firehose.deleting_s``;
  moto removes it at once): DescribeDeliveryStream and ListDeliveryStreams still show it, its name cannot be taken
  again (moto's own "already exists"), UpdateDestination answers ``ResourceInUseException``, a second
  DeleteDeliveryStream is accepted, and it delivers nothing more ("the service might continue to accept records,
  but it doesn't make any guarantees with respect to delivering the data", API_DeleteDeliveryStream.html);
* CreateDeliveryStream with a role created (or given a policy) less than ``propagation_s`` ago is refused as AWS
  refuses a role IAM has not propagated yet (:mod:`.firehose_roles`);
* direct PutRecord / PutRecordBatch to a Kinesis-source delivery stream are refused with
  ``InvalidArgumentException: This operation is not permitted on KinesisStreamAsSource delivery stream type.``
  (which also disables moto's immediate S3 write for those streams);
* once ACTIVE the delivery stream reads its source from LATEST, with one
  GetRecords per shard per clock second through ``KinesisBackend.get_records`` (so another layer's read
  limits see the calls), follows child shards once their parents are read to the end, buffers by the size and
  interval hints, and writes objects named ``<evaluated prefix><name>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>``
  through moto's S3 backend, records concatenated (``\\n`` after each only with AppendDelimiterToRecord);
* UpdateDestination first delivers what is buffered under the old version (moto already increments
  DeliveryStreamVersion);
* records the Kinesis Producer Library aggregated are delivered as their user records, each on its own (with its
  delimiter), to S3 and to the search destination alike: "Firehose de-aggregates the records before it delivers
  them to the destination" (https://docs.aws.amazon.com/streams/latest/dev/kpl-with-firehose.html).

Time is the shared clock; the work is lazy and deterministic: it catches up to ``clock.now()`` at the start of
every Kinesis, Firehose or S3 request (moto's ``BaseResponse.setup_class``) and on :meth:`FirehoseSimulator.pump`.
There are no threads. See docs/firehose.md for the model and its limits.
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import math
import random
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.firehose.objects import NEWLINE_DELIMITER, format_key, uuid4_text
from pytest_kinesis_limits.firehose.provision import s3_buffering_hints
from pytest_kinesis_limits.kinesis import kpl
from pytest_kinesis_limits.fidelity.firehose_roles import RolePropagation, role_arns, track_roles
from pytest_kinesis_limits.fidelity.moto_adapter import (BaseResponse, FirehoseBackend, InvalidArgumentException,
                                                         JsonRESTError, ResourceInUseException, ServiceException,
                                                         firehose_backends, get_partition, kinesis_backends, original,
                                                         patch_all, record_codec, s3_backends)

KINESIS_SOURCE = "KinesisStreamAsSource"
#: AWS's answer to a direct put on a Kinesis-source delivery stream (seen in aws/aws-cli#7010).
DIRECT_PUT_REFUSED = "This operation is not permitted on KinesisStreamAsSource delivery stream type."
#: Requests to these services make the simulation catch up with the clock first.
PUMPED_SERVICES = frozenset({"kinesis", "firehose", "s3"})
#: What DeleteDeliveryStream / UpdateDestination answer while the delivery stream is CREATING (and UpdateDestination
#: while it is DELETING): ResourceInUseException is the error both list; the wording is ours, in moto's "Firehose
#: <name> under account <id>" form.
NOT_ACTIVE = ("Firehose {name} under account {account} is in {state} state; {operation} is not possible until it is "
              "ACTIVE.")
#: The clock time a DELETING delivery stream is gone, noted on moto's object.
GONE_AT_ATTR = "_kinesis_fidelity_gone_at"


@dataclass
class SimulatedObject:
    """One object the simulation wrote."""

    delivery_stream: str
    bucket: str
    key: str
    version: int
    records: int
    size: int
    written_at: float


@dataclass
class _Cursor:
    shard_id: str
    iterator: str


@dataclass
class _Delivery:
    account_id: str
    region: str
    name: str
    stream_arn: str
    stream_name: str
    stream_account: str
    stream_region: str
    last_tick: int
    cursors: dict[str, _Cursor] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    buffer: list[bytes] = field(default_factory=list)
    buffer_bytes: int = 0
    buffer_records: int = 0
    buffer_start: float | None = None
    source_missing: bool = False
    buffer_arrivals: list[float] = field(default_factory=list)


def _destination(delivery_stream: Any) -> dict[str, Any]:
    destination = delivery_stream.destinations[0]
    # moto keeps the ExtendedS3 config whole and a partial "S3" copy beside it: prefer ExtendedS3.
    # The search destination (issue 14): its hints drive the buffer, the stand-in delivers it (FirehoseSimulator.search).
    return destination.get("ExtendedS3") or destination.get("S3") or destination.get("Amazonopensearchservice") or {}


def _hints(config: dict[str, Any]) -> tuple[int, int]:
    """The S3 destination's buffering hints as (bytes, seconds); the can-fail proofs replace this one name."""
    mib, seconds = s3_buffering_hints(config)
    return mib * limits.MIB, seconds


def _delimiter(config: dict[str, Any]) -> bytes:
    processing = config.get("ProcessingConfiguration") or {}
    if processing.get("Enabled") and any(p.get("Type") == "AppendDelimiterToRecord"
                                         for p in processing.get("Processors") or []):
        return NEWLINE_DELIMITER
    return b""


def _record_data(record: Any) -> bytes:
    """The bytes of a record read from the source: a moto ``Record`` (through the codec) or a GetRecords entry."""
    if isinstance(record, dict):
        data = record["Data"]
        return data if isinstance(data, bytes) else base64.b64decode(data)
    return record_codec().record_bytes(record)


class FirehoseSimulator:
    """Delivers Kinesis-source delivery streams to S3 inside moto, on a shared clock.

    Use through :func:`activate_firehose`. ``objects`` lists what was written, ``reads`` counts GetRecords
    calls per (delivery stream, shard), ``throttled`` the calls refused by another layer, ``errors`` anything
    the simulation could not do (missing bucket or source stream), never silently. ``creating`` maps the
    delivery streams still CREATING to the clock time they become ACTIVE, ``deleting`` those DELETING to the time
    they are gone; ``roles`` refuses new IAM roles.
    ``deaggregate_kpl``: records in the KPL's aggregated format are delivered as their user records, as Firehose
    does (:mod:`pytest_kinesis_limits.kinesis.kpl`); False delivers the aggregated bytes (a break for tests).
    """

    deaggregate_kpl: bool = True

    def __init__(self, clock: Clock, *, account_id: str | None = None, seed: int = 0,
                 creating_s: float = limits.FIREHOSE_CREATING_S.value,
                 deleting_s: float = limits.FIREHOSE_DELETING_S.value,
                 propagation_s: float = limits.IAM_PROPAGATION_S.value) -> None:
        self.clock = clock
        self.account_id = account_id
        self.creating_s = creating_s
        self.creating: dict[tuple[str, str, str], float] = {}
        self.deleting_s = deleting_s
        #: Delivery streams DELETING: (account, region, name) -> the clock time they are gone.
        self.deleting: dict[tuple[str, str, str], float] = {}
        self._remove: Any = None  # moto's own DeleteDeliveryStream (set by activate_firehose)
        self.roles = RolePropagation(clock, propagation_s, account_id=account_id)
        self.objects: list[SimulatedObject] = []
        self.reads: Counter[tuple[str, str]] = Counter()
        self.throttled: Counter[tuple[str, str]] = Counter()
        self.errors: list[str] = []
        self._deliveries: dict[tuple[str, str, str], _Delivery] = {}
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._local = threading.local()
        # A destination other than S3 (fidelity.search_index's stand-in) takes the buffers it handles.
        self.search: Any = None

    # ------------------------------------------------------------------------------------ public API
    def pump(self) -> int:
        """Catch every delivery stream up to ``clock.now()``; return the number of objects written."""
        if getattr(self._local, "busy", False):
            return 0
        with self._lock:
            self._local.busy = True
            try:
                before = len(self.objects)
                now = self.clock.now()
                self._activate_due(now)
                for delivery in list(self._deliveries.values()):
                    self._pump_one(delivery, now)
                if self.search is not None:
                    self.search.pump(now)
                return len(self.objects) - before
            finally:
                self._local.busy = False

    def flush(self, name: str | None = None) -> int:
        """Deliver what is buffered now (all delivery streams, or ``name``); return objects written."""
        with self._lock:
            self.pump()
            before = len(self.objects)
            for delivery in list(self._deliveries.values()):
                if name in (None, delivery.name) and delivery.buffer:
                    self._flush(delivery, self.clock.now())
            return len(self.objects) - before

    def reading(self, name: str) -> list[str]:
        """The shard ids the delivery stream ``name`` is reading now."""
        return sorted(c for d in self._deliveries.values() if d.name == name for c in d.cursors)

    def finished_shards(self, name: str) -> list[str]:
        """The shard ids of the source the delivery stream ``name`` has read to their end (or found closed)."""
        return sorted(s for d in self._deliveries.values() if d.name == name for s in d.done)

    def buffered(self, name: str) -> int:
        """Records read from the source and not yet written to S3."""
        return sum(d.buffer_records for d in self._deliveries.values() if d.name == name)

    # ------------------------------------------------------------------------------------- lifecycle
    def _created(self, backend: FirehoseBackend, name: str) -> None:
        """A delivery stream was just created: CREATING for ``creating_s``, then ACTIVE (and reading)."""
        if self.account_id is not None and backend.account_id != self.account_id:
            return
        stream = backend.delivery_streams[name]
        if self.creating_s > 0:
            stream.delivery_stream_status = "CREATING"
            self.creating[(backend.account_id, backend.region_name, name)] = self.clock.now() + self.creating_s
        elif stream.delivery_stream_type == KINESIS_SOURCE:
            self._register(backend, name)

    def _activate_due(self, now: float) -> None:
        for key, gone_at in sorted(self.deleting.items(), key=lambda item: item[1]):
            if gone_at <= now:
                del self.deleting[key]
                account, region, name = key
                backend = firehose_backends[account][region]
                if name in backend.delivery_streams:
                    self._remove(backend, name)
        for key, active_at in sorted(self.creating.items(), key=lambda item: item[1]):
            if active_at > now:
                continue
            del self.creating[key]
            account, region, name = key
            backend = firehose_backends[account][region]
            stream = backend.delivery_streams.get(name)
            if stream is None:
                continue
            stream.delivery_stream_status = "ACTIVE"
            if stream.delivery_stream_type == KINESIS_SOURCE:
                self._register(backend, name)  # it reads its source from LATEST once ACTIVE

    def refuse_unless_active(self, backend: FirehoseBackend, name: str, operation: str,
                             deleting_too: bool = True) -> None:
        """Raise ``ResourceInUseException`` if delivery stream ``name`` is still CREATING (or, with
        ``deleting_too``, DELETING)."""
        self.pump()
        key = (backend.account_id, backend.region_name, name)
        state = "CREATING" if key in self.creating else "DELETING" if deleting_too and key in self.deleting else None
        if state is not None:
            raise ResourceInUseException(NOT_ACTIVE.format(name=name, account=backend.account_id, state=state,
                                                           operation=operation))

    def _deleted(self, backend: FirehoseBackend, name: str) -> bool:
        """DeleteDeliveryStream accepted: DELETING for ``deleting_s`` (reading and delivering nothing more), then
        gone. True when moto should remove it at once (no window)."""
        key = (backend.account_id, backend.region_name, name)
        self._unregister(backend, name)
        stream = backend.delivery_streams.get(name)
        if self.deleting_s <= 0 or stream is None or (self.account_id is not None
                                                       and backend.account_id != self.account_id):
            return True
        stream.delivery_stream_status = "DELETING"
        gone_at = self.deleting.setdefault(key, self.clock.now() + self.deleting_s)
        stream.__dict__[GONE_AT_ATTR] = gone_at  # for a later simulation (the next test's) to finish the deletion
        return False

    def adopt_deleting(self) -> None:
        """Take over the deletions a previous simulation left unfinished (the delivery streams its test deleted
        at teardown, still DELETING in moto's backends), so that they end when their window does."""
        for account, regions in list(firehose_backends.items()):
            for region, backend in list(regions.items()):
                for name, stream in list(backend.delivery_streams.items()):
                    gone_at = stream.__dict__.get(GONE_AT_ATTR)
                    if gone_at is not None and self.account_id in (None, account):
                        self.deleting[(account, region, name)] = gone_at

    # --------------------------------------------------------------------------------- registration
    def _register(self, backend: FirehoseBackend, name: str) -> None:
        if self.account_id is not None and backend.account_id != self.account_id:
            return
        stream = backend.delivery_streams[name]
        source = stream.source or {}
        arn = source.get("KinesisStreamARN", "")
        parts = arn.split(":")
        if len(parts) < 6 or "/" not in parts[5]:
            self.errors.append(f"{name}: source {arn!r} is not a Kinesis stream ARN; nothing will be delivered")
            return
        now = self.clock.now()
        delivery = _Delivery(account_id=backend.account_id, region=backend.region_name, name=name, stream_arn=arn,
                             stream_name=parts[5].split("/", 1)[1], stream_account=parts[4],
                             stream_region=parts[3], last_tick=math.floor(now))
        kinesis = kinesis_backends[delivery.stream_account][delivery.stream_region]
        source_stream = kinesis.streams.get(delivery.stream_name)
        if source_stream is None:
            delivery.source_missing = True
            self.errors.append(f"{name}: source stream {arn} does not exist; nothing will be delivered")
        else:
            for shard_id, shard in list(source_stream.shards.items()):
                if not shard.is_open:
                    delivery.done.add(shard_id)  # closed before we started: nothing new can arrive there
                    continue
                iterator = kinesis.get_shard_iterator(
                    stream_arn=arn, stream_name=delivery.stream_name, shard_id=shard_id,
                    shard_iterator_type="LATEST", starting_sequence_number=None, at_timestamp=None)
                delivery.cursors[shard_id] = _Cursor(shard_id, iterator)
        self._deliveries[(delivery.account_id, delivery.region, name)] = delivery

    def _unregister(self, backend: FirehoseBackend, name: str) -> None:
        self._deliveries.pop((backend.account_id, backend.region_name, name), None)
        self.creating.pop((backend.account_id, backend.region_name, name), None)

    def _delivery_stream(self, delivery: _Delivery) -> Any:
        return firehose_backends[delivery.account_id][delivery.region].delivery_streams.get(delivery.name)

    # -------------------------------------------------------------------------------------- pumping
    def _pump_one(self, delivery: _Delivery, now: float) -> None:
        stream = self._delivery_stream(delivery)
        if stream is None:
            return
        config = _destination(stream)
        second = math.floor(now)
        if second > delivery.last_tick and not delivery.source_missing:
            # Nothing was written since the last pump without a request pumping first, so one read per shard,
            # stamped with the first second not yet read, sees what AWS would have read in that second.
            read_at = float(delivery.last_tick + 1)
            delivery.last_tick = second
            self._read(delivery, config, read_at)
        self._flush_due(delivery, config, now)

    def _read(self, delivery: _Delivery, config: dict[str, Any], read_at: float) -> None:
        kinesis = kinesis_backends[delivery.stream_account][delivery.stream_region]
        source = kinesis.streams.get(delivery.stream_name)
        if source is None:
            delivery.source_missing = True
            self.errors.append(f"{delivery.name}: source stream {delivery.stream_arn} was deleted")
            return
        pending = list(delivery.cursors.values())
        while pending:
            for cursor in pending:
                self._read_shard(delivery, config, kinesis, source, cursor, read_at)
            pending = self._start_children(delivery, kinesis, source)

    def _read_shard(self, delivery: _Delivery, config: dict[str, Any], kinesis: Any, source: Any,
                    cursor: _Cursor, read_at: float) -> None:
        key = (delivery.name, cursor.shard_id)
        try:
            answer = kinesis.get_records(stream_arn=delivery.stream_arn, shard_iterator=cursor.iterator,
                                         limit=limits.GET_RECORDS_MAX_RECORDS.value)
        except (JsonRESTError, ServiceException) as exc:
            code = getattr(exc, "error_type", None) or getattr(exc, "code", type(exc).__name__)
            if "Throughput" in str(code) or "Throttl" in str(code) or "LimitExceeded" in str(code):
                self.throttled[key] += 1  # AWS Firehose retries the next second; so do we
            else:
                self.errors.append(f"{delivery.name}: GetRecords on {cursor.shard_id} failed: {code}: {exc}")
            return
        self.reads[key] += 1
        next_iterator, records = answer[0], answer[1]
        size_limit, _ = _hints(config)
        delimiter = _delimiter(config)  # the config cannot change within one read: looked up once, not per record
        for record in records:
            data = _record_data(record)
            for piece in kpl.user_records(data) if self.deaggregate_kpl else (data,):
                self._buffer(delivery, piece + delimiter, size_limit, read_at)
        shard = source.shards.get(cursor.shard_id)
        closed = shard is not None and not shard.is_open
        # End of a closed shard: AWS returns a null NextShardIterator (a fidelity layer may too); on plain moto,
        # which never does, a closed shard is finished once a read finds nothing left in it.
        if next_iterator is None or (closed and not records):
            del delivery.cursors[cursor.shard_id]
            delivery.done.add(cursor.shard_id)
        else:
            cursor.iterator = next_iterator

    def _start_children(self, delivery: _Delivery, kinesis: Any, source: Any) -> list[_Cursor]:
        started = []
        for shard_id, shard in list(source.shards.items()):
            if shard_id in delivery.cursors or shard_id in delivery.done:
                continue
            parents = [p for p in (shard.parent, shard.adjacent_parent) if p]
            if parents and all(p in delivery.done for p in parents):
                iterator = kinesis.get_shard_iterator(
                    stream_arn=delivery.stream_arn, stream_name=delivery.stream_name, shard_id=shard_id,
                    shard_iterator_type="TRIM_HORIZON", starting_sequence_number=None, at_timestamp=None)
                cursor = _Cursor(shard_id, iterator)
                delivery.cursors[shard_id] = cursor
                started.append(cursor)
        return started

    def _buffer(self, delivery: _Delivery, piece: bytes, size_limit: int, at: float) -> None:
        """Add one record (its delimiter appended) to the buffer, flushing it when the size hint is reached."""
        if delivery.buffer and delivery.buffer_bytes + len(piece) > size_limit:
            self._flush(delivery, at)
        delivery.buffer.append(piece)
        delivery.buffer_arrivals.append(at)
        delivery.buffer_bytes += len(piece)
        delivery.buffer_records += 1
        if delivery.buffer_start is None:
            delivery.buffer_start = at
        if delivery.buffer_bytes >= size_limit:
            self._flush(delivery, at)

    def _flush_due(self, delivery: _Delivery, config: dict[str, Any], now: float) -> None:
        _, interval = _hints(config)
        if delivery.buffer and delivery.buffer_start is not None and delivery.buffer_start + interval <= now:
            self._flush(delivery, delivery.buffer_start + interval)

    def _flush(self, delivery: _Delivery, when: float) -> None:
        stream = self._delivery_stream(delivery)
        if stream is None or not delivery.buffer:
            return
        if self.search is not None and self.search.handles(stream):
            self.search.deliver(delivery.account_id, delivery.region, delivery.name, stream, delivery.buffer,
                                delivery.buffer_arrivals, when)
            self._clear(delivery)
            return
        config = _destination(stream)
        bucket = str(config.get("BucketARN", "")).split(":")[-1]
        written_at = datetime.fromtimestamp(when, timezone.utc)
        oldest = datetime.fromtimestamp(delivery.buffer_start if delivery.buffer_start is not None else when,
                                        timezone.utc)
        random_part = uuid4_text(self._rng.getrandbits(128))
        key = format_key(delivery.name, int(stream.version_id), written_at, random_part,
                         prefix=config.get("Prefix") or None, oldest_arrival=oldest)
        body = b"".join(delivery.buffer)
        s3 = s3_backends[delivery.account_id][get_partition(delivery.region)]
        try:
            fake_key = s3.put_object(bucket, key, body)
        except Exception as exc:  # AWS keeps retrying a failed delivery: keep the buffer, say why
            self.errors.append(f"{delivery.name}: writing s3://{bucket}/{key} failed: {exc!r}")
            return
        fake_key.last_modified = written_at.replace(tzinfo=None)  # moto stores naive UTC datetimes
        self.objects.append(SimulatedObject(delivery.name, bucket, key, int(stream.version_id),
                                            delivery.buffer_records, len(body), when))
        self._clear(delivery)

    @staticmethod
    def _clear(delivery: _Delivery) -> None:
        delivery.buffer, delivery.buffer_bytes, delivery.buffer_records = [], 0, 0
        delivery.buffer_start, delivery.buffer_arrivals = None, []


@contextlib.contextmanager
def activate_firehose(clock: Clock, *, account_id: str | None = None, seed: int = 0,
                      creating_s: float = limits.FIREHOSE_CREATING_S.value,
                      deleting_s: float = limits.FIREHOSE_DELETING_S.value,
                      propagation_s: float = limits.IAM_PROPAGATION_S.value) -> Iterator[FirehoseSimulator]:
    """Patch moto so delivery streams are created and Kinesis-source ones deliver like AWS; yield the
    :class:`FirehoseSimulator`.

    Enter it inside ``moto.mock_aws()`` (or with a ``ThreadedMotoServer`` in the same process), before
    creating the roles and delivery streams it should drive; ``account_id`` restricts it to one account.
    ``creating_s`` (CREATING window), ``deleting_s`` (DELETING window) and ``propagation_s`` (new IAM roles refused)
    default to the catalogue; 0 turns any of them off. The patches are class-level and undone on exit; they chain
    with other patches of the same methods.
    """
    simulator = FirehoseSimulator(clock, account_id=account_id, seed=seed, creating_s=creating_s,
                                  deleting_s=deleting_s, propagation_s=propagation_s)
    original_create = original("FirehoseBackend.create_delivery_stream")
    original_delete = original("FirehoseBackend.delete_delivery_stream")
    original_put_batch = original("FirehoseBackend.put_record_batch")
    original_update = original("FirehoseBackend.update_destination")
    original_setup = original("BaseResponse.setup_class")

    create_signature = inspect.signature(original_create)

    def create_delivery_stream(self: FirehoseBackend, *args: Any, **kwargs: Any) -> str:
        request = create_signature.bind(self, *args, **kwargs).arguments
        if simulator.account_id in (None, self.account_id):
            source = request.get("kinesis_stream_source_configuration") or {}
            simulator.roles.check(self.account_id, role_arns(source, [
                value for key, value in request.items() if key.endswith("_configuration") and key not in (
                    "kinesis_stream_source_configuration", "delivery_stream_encryption_configuration_input")]),
                source.get("KinesisStreamARN", ""))
        arn = original_create(self, *args, **kwargs)
        with simulator._lock:
            simulator._created(self, arn.split("/")[-1])
        return arn

    def delete_delivery_stream(self: FirehoseBackend, delivery_stream_name: str, *args: Any, **kwargs: Any) -> Any:
        simulator.refuse_unless_active(self, delivery_stream_name, "DeleteDeliveryStream", deleting_too=False)
        with simulator._lock:
            if (self.account_id, self.region_name, delivery_stream_name) in simulator.deleting:
                return None  # already DELETING: accepted again, nothing changes
            if delivery_stream_name in self.delivery_streams and not simulator._deleted(self, delivery_stream_name):
                return None
        return original_delete(self, delivery_stream_name, *args, **kwargs)  # gone now (or moto's not-found)

    simulator._remove = lambda backend, name: original_delete(backend, name)
    simulator.adopt_deleting()

    def put_record_batch(self: FirehoseBackend, delivery_stream_name: str, *args: Any, **kwargs: Any) -> Any:
        stream = self.delivery_streams.get(delivery_stream_name)
        if stream is not None and stream.delivery_stream_type == KINESIS_SOURCE:
            raise InvalidArgumentException(DIRECT_PUT_REFUSED)
        return original_put_batch(self, delivery_stream_name, *args, **kwargs)

    def update_destination(self: FirehoseBackend, delivery_stream_name: str, *args: Any, **kwargs: Any) -> Any:
        simulator.refuse_unless_active(self, delivery_stream_name, "UpdateDestination")
        with simulator._lock:
            simulator.flush(delivery_stream_name)  # what was buffered goes out under the old version
            return original_update(self, delivery_stream_name, *args, **kwargs)

    def setup_class(self: BaseResponse, *args: Any, **kwargs: Any) -> Any:
        result = original_setup(self, *args, **kwargs)
        if self.service_name in PUMPED_SERVICES:
            simulator.pump()
        return result

    with contextlib.ExitStack() as stack:
        patch_all(stack, [("FirehoseBackend.create_delivery_stream", create_delivery_stream),
                          ("FirehoseBackend.delete_delivery_stream", delete_delivery_stream),
                          ("FirehoseBackend.put_record_batch", put_record_batch),
                          ("FirehoseBackend.update_destination", update_destination),
                          ("BaseResponse.setup_class", setup_class)])
        stack.enter_context(track_roles(simulator.roles))
        yield simulator
