"""What a run used: streams and their shards over time, delivery streams, buckets, roles, search domains, enhanced
fan-out consumers, PUT payload units and Firehose ingestion, metered from the run's own API calls.

A :class:`UsageMeter` hooks botocore's events of the clients it is given (``before-parameter-build`` keeps the
request's parameters, ``after-call`` reads the answer), so the same meter counts a live run, a run against an
endpoint and the plan's offline run alike, on the run's clock (simulated in the plan). Only the operations that
make, change or remove something, and the writes, are hooked: a read costs nothing extra.

A shard counts from the call that opened it (CreateStream, or the reshard that made it) to the end of the typical
window after the call that closed it (DeleteStream: ``lifecycle.stream.deleting_s``; a reshard's parents:
``lifecycle.stream.updating_s.reshard``), so what the meter counts is what a bill can hold (pricing.SHARD_HOUR_RULE).
A consumer counts a consumer-shard-hour for every hour one of its stream's shards is open while it is registered
(RegisterStreamConsumer to DeregisterStreamConsumer, or its stream's deletion). What it retrieves is counted as every
byte its stream took, once per consumer (the meter does not see the event stream: an upper estimate).
Each resource is owned by the test running when it was made (``owner``, a node id; "" for the session), or by a
pool or shared fixture that says so (:meth:`UsageMeter.attribute`, :meth:`UsageMeter.sharing`).

Library code: no pytest, no boto3 import (clients are duck-typed).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_kinesis_limits import families as families_registry, limits
from pytest_kinesis_limits.live import pricing
from pytest_kinesis_limits.clock import Clock

PARAMS_KEY = "pytest_kinesis_limits.live.usage.params"

#: The operations the meter hooks, per botocore service id.
HOOKED = {
    "kinesis": ("CreateStream", "DeleteStream", "UpdateShardCount", "SplitShard", "MergeShards", "PutRecord",
                "PutRecords", "DescribeStreamSummary", "DescribeStream", "RegisterStreamConsumer",
                "DeregisterStreamConsumer"),
    "firehose": ("CreateDeliveryStream", "DeleteDeliveryStream"),
    "s3": ("CreateBucket", "DeleteBucket"),
    "iam": ("CreateRole", "DeleteRole"),
    "opensearch": ("CreateDomain", "DeleteDomain"),
}
#: The kinds of resources besides streams, by (service, create operation, delete operation, name parameter).
OTHER_KINDS = {
    ("firehose", "CreateDeliveryStream"): ("delivery-stream", "DeliveryStreamName"),
    ("firehose", "DeleteDeliveryStream"): ("delivery-stream", "DeliveryStreamName"),
    ("s3", "CreateBucket"): ("bucket", "Bucket"),
    ("s3", "DeleteBucket"): ("bucket", "Bucket"),
    ("iam", "CreateRole"): ("role", "RoleName"),
    ("iam", "DeleteRole"): ("role", "RoleName"),
    ("opensearch", "CreateDomain"): ("search-domain", "DomainName"),
    ("opensearch", "DeleteDomain"): ("search-domain", "DomainName"),
}
KINDS = ("delivery-stream", "bucket", "role", "search-domain")


@dataclass
class ShardSpan:
    """One shard's life: opened at ``start``, billed until ``end`` (None: still open)."""

    start: float
    end: float | None = None


@dataclass
class StreamUse:
    """One stream: who made it, when, when it was first seen ACTIVE and deleted, and its shards."""

    name: str
    owner: str
    created: float
    shards: list[ShardSpan] = field(default_factory=list)
    shared: str | None = None
    active: float | None = None
    deleted: float | None = None
    on_demand: bool = False
    max_record_size_kib: int | None = None
    initial_shards: int = 0
    by_fixture: bool = False  # made by make_stream (a pool can make it ahead), not by the test's own call
    bytes_written: int = 0  # data and keys of the records it took (what its consumers may retrieve)

    def open_spans(self) -> list[ShardSpan]:
        return [s for s in self.shards if s.end is None]

    def shard_seconds(self, now: float) -> float:
        return sum(max(0.0, (now if s.end is None else s.end) - s.start) for s in self.shards)


@dataclass
class ResourceUse:
    """A delivery stream, bucket, role or search domain: who made it and when it was made and deleted."""

    kind: str
    name: str
    owner: str
    created: float
    shared: str | None = None
    deleted: float | None = None


@dataclass
class ConsumerUse:
    """An enhanced fan-out consumer: its stream, who registered it, when, and when it was deregistered."""

    stream: str
    name: str
    owner: str
    created: float
    deleted: float | None = None


def _consumer_key(params: Mapping[str, Any]) -> tuple[str, str]:
    """(stream, consumer) of a Register/DeregisterStreamConsumer request (by ARN, or stream ARN and name)."""
    arn = str(params.get("ConsumerARN") or "")
    if arn:  # arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<created>
        parts = arn.split("/")
        return parts[1] if len(parts) > 3 else "", parts[-1].rsplit(":", 1)[0]
    return _name_of(params), str(params.get("ConsumerName") or "")


def _name_of(params: Mapping[str, Any]) -> str:
    name = params.get("StreamName")
    if name:
        return str(name)
    arn = str(params.get("StreamARN") or "")
    return arn.rsplit("/", 1)[-1]


def _record_size(record: Mapping[str, Any]) -> int:
    data = record.get("Data", b"")
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    return size + len(str(record.get("PartitionKey", "")).encode("utf-8"))


class UsageMeter:
    """Counts what the instrumented clients make and write, on ``clock`` (see the module docstring)."""

    def __init__(self, clock: Clock, *, deleting_s: float | None = None, updating_s: float | None = None) -> None:
        self.clock = clock
        self.deleting_s = float(limits.LIFECYCLE_STREAM_DELETING_S.value if deleting_s is None else deleting_s)
        self.updating_s = float(limits.LIFECYCLE_STREAM_UPDATING_RESHARD_S.value if updating_s is None
                                else updating_s)
        self.owner = ""  # the test running now (set by the plugin)
        self.streams: dict[str, StreamUse] = {}
        self.others: dict[tuple[str, str], ResourceUse] = {}
        self.consumers: dict[tuple[str, str], ConsumerUse] = {}
        self.counts: dict[str, Counter[str]] = {}  # owner -> put_payload_units, records, firehose/on-demand bytes
        self.shared_costs: dict[str, float] = {}  # shared key -> seconds its making took
        self.uses: dict[str, set[str]] = {}  # owner -> shared keys it used
        self.firehose_sources: Counter[str] = Counter()  # stream name -> delivery streams reading it
        self._sources_of: dict[str, str] = {}  # delivery stream -> its source stream
        self._lock = threading.Lock()
        self._local = threading.local()

    # ------------------------------------------------------------------------------------------ attribution
    def current_owner(self) -> str:
        return getattr(self._local, "owner", None) or self.owner

    @contextmanager
    def attribute(self, owner: str) -> Iterator[None]:
        """Resources this thread makes inside the block belong to ``owner`` (a pool making streams ahead)."""
        previous = getattr(self._local, "owner", None)
        self._local.owner = owner
        try:
            yield
        finally:
            self._local.owner = previous

    @contextmanager
    def sharing(self, key: str) -> Iterator[None]:
        """Resources made inside the block are shared under ``key`` (one per worker, used by many tests); the
        block's duration on the clock is what making them costs (kept once per key)."""
        previous = getattr(self._local, "shared", None)
        self._local.shared = key
        started = self.clock.now()
        try:
            yield
        finally:
            self._local.shared = previous
            with self._lock:
                self.shared_costs.setdefault(key, self.clock.now() - started)

    @contextmanager
    def made_by_fixture(self) -> Iterator[None]:
        """Streams this thread makes inside the block are make_stream's (what a stream pool can make ahead)."""
        previous = getattr(self._local, "fixture", False)
        self._local.fixture = True
        try:
            yield
        finally:
            self._local.fixture = previous

    def uses_shared(self, key: str, owner: str | None = None) -> None:
        """The test ``owner`` (default: the current one) uses the shared resource ``key``."""
        with self._lock:
            self.uses.setdefault(owner if owner is not None else self.current_owner(), set()).add(key)

    def adopt(self, name: str, owner: str) -> None:
        """A stream made ahead (by a pool) now belongs to the test ``owner``."""
        with self._lock:
            use = self.streams.get(name)
            if use is not None:
                use.owner = owner

    # ------------------------------------------------------------------------------------------ botocore
    def instrument(self, client: Any) -> Any:
        """Hook the client's operations that make, change or remove something (see :data:`HOOKED`)."""
        events = client.meta.events
        service = client.meta.service_model.service_id.hyphenize()
        for operation in HOOKED.get(service, ()):
            events.register(f"before-parameter-build.{service}.{operation}", self._keep_params,
                            unique_id=f"pkl-usage-params-{service}-{operation}")
            events.register(f"after-call.{service}.{operation}", self._after_call,
                            unique_id=f"pkl-usage-{service}-{operation}")
        return client

    @staticmethod
    def _keep_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[PARAMS_KEY] = params

    def _after_call(self, http_response: Any, parsed: Mapping[str, Any], model: Any, context: Mapping[str, Any],
                    event_name: str = "", **_: Any) -> None:
        if getattr(http_response, "status_code", 500) >= 300:
            return
        params = context.get(PARAMS_KEY) or {}
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        self.note(service, model.name, params, parsed)

    # ------------------------------------------------------------------------------------------ accounting
    def note(self, service: str, operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        """Account one successful call (public so that tests and non-botocore clients can feed the meter)."""
        now = self.clock.now()
        owner = self.current_owner()
        shared = getattr(self._local, "shared", None)
        with self._lock:
            if (service, operation) in OTHER_KINDS:
                self._other(service, operation, params, now, owner, shared)
            elif operation == "CreateStream":
                self._create_stream(params, now, owner, shared)
            elif operation in ("DescribeStreamSummary", "DescribeStream"):
                description = parsed.get("StreamDescriptionSummary") or parsed.get("StreamDescription") or {}
                use = self.streams.get(str(description.get("StreamName") or _name_of(params)))
                if use is not None and use.active is None and description.get("StreamStatus") == "ACTIVE":
                    use.active = now
            elif operation == "DeleteStream":
                use = self.streams.get(_name_of(params))
                if use is not None and use.deleted is None:
                    use.deleted = now
                    for span in use.open_spans():
                        span.end = now + self.deleting_s
                    for consumer in self.consumers.values():  # deleted with it (EnforceConsumerDeletion)
                        if consumer.stream == use.name and consumer.deleted is None:
                            consumer.deleted = now
            elif operation in ("UpdateShardCount", "SplitShard", "MergeShards"):
                self._reshard(operation, params, now)
            elif operation in ("PutRecords", "PutRecord"):
                self._writes(operation, params, parsed, owner)
            elif operation == "RegisterStreamConsumer":
                stream, name = _consumer_key(params)
                self.consumers[(stream, name)] = ConsumerUse(stream=stream, name=name, owner=owner, created=now)
            elif operation == "DeregisterStreamConsumer":
                consumer = self.consumers.get(_consumer_key(params))
                if consumer is not None and consumer.deleted is None:
                    consumer.deleted = now

    def _create_stream(self, params: Mapping[str, Any], now: float, owner: str, shared: str | None) -> None:
        name = _name_of(params)
        mode = (params.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
        count = 0 if mode == "ON_DEMAND" else int(params.get("ShardCount") or 0)
        self.streams[name] = StreamUse(
            name=name, owner=owner, created=now, shards=[ShardSpan(now) for _ in range(count)], shared=shared,
            on_demand=mode == "ON_DEMAND", max_record_size_kib=params.get("MaxRecordSizeInKiB"),
            initial_shards=count, by_fixture=bool(getattr(self._local, "fixture", False)))

    def _reshard(self, operation: str, params: Mapping[str, Any], now: float) -> None:
        use = self.streams.get(_name_of(params))
        if use is None:
            return
        open_spans = use.open_spans()
        if operation == "UpdateShardCount":
            closing, opening = len(open_spans), int(params.get("TargetShardCount") or 0)
        elif operation == "SplitShard":
            closing, opening = 1, 2
        else:
            closing, opening = 2, 1
        for span in open_spans[:closing]:
            span.end = now + self.updating_s
        use.shards.extend(ShardSpan(now) for _ in range(opening))

    def _writes(self, operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any], owner: str) -> None:
        name = _name_of(params)
        if operation == "PutRecord":
            records, answers = [params], [parsed]
        else:
            records, answers = list(params.get("Records") or []), list(parsed.get("Records") or [])
        for record, answer in zip(records, answers):
            self._count_writes(owner, name, 1, _record_size(record), int("SequenceNumber" in answer))

    def _count_writes(self, owner: str, stream: str, records: int, size: int, accepted: int) -> None:
        """``records`` records of ``size`` bytes written to ``stream``, ``accepted`` of them accepted (under the
        lock): each is PUT payload units; what is accepted is the stream's bytes, Firehose's and on-demand's."""
        counts = self.counts.setdefault(owner, Counter())
        counts["records"] += records
        counts["put_payload_units"] += records * pricing.put_payload_units(size)
        if not accepted:
            return
        use = self.streams.get(stream)
        if use is not None:
            use.bytes_written += accepted * size
        if self.firehose_sources.get(stream, 0) > 0:
            counts["firehose_billed_bytes"] += accepted * pricing.firehose_billed_bytes(size)
        if use is not None and use.on_demand:
            counts["on_demand_bytes"] += accepted * (-(-size // 1024) * 1024)

    def note_writes(self, stream: str, records: int, size: int, accepted: int) -> None:
        """Account ``records`` records of ``size`` bytes each written to ``stream`` by writers the meter cannot hook (a
        Locust swarm in other processes), ``accepted`` of them accepted; what :meth:`note` counts per PutRecords."""
        with self._lock:
            self._count_writes(self.current_owner(), stream, records, size, accepted)

    def _other(self, service: str, operation: str, params: Mapping[str, Any], now: float, owner: str,
               shared: str | None) -> None:
        kind, key = OTHER_KINDS[(service, operation)]
        name = str(params.get(key) or "")
        if operation.startswith("Create"):
            self.others[(kind, name)] = ResourceUse(kind=kind, name=name, owner=owner, created=now, shared=shared)
            if kind == "delivery-stream":
                source = str(((params.get("KinesisStreamSourceConfiguration") or {}).get("KinesisStreamARN") or "")
                             ).rsplit("/", 1)[-1]
                if source:
                    self._sources_of[name] = source
                    self.firehose_sources[source] += 1
            return
        use = self.others.get((kind, name))
        if use is not None and use.deleted is None:
            use.deleted = now
        source = self._sources_of.pop(name, None) if kind == "delivery-stream" else None
        if source:
            self.firehose_sources[source] -= 1

    # ------------------------------------------------------------------------------------------ reading
    def totals(self, now: float | None = None, owners: set[str] | None = None) -> dict[str, float]:
        """What was used (by ``owners``, default everyone), with open shards and resources counted until ``now``."""
        now = self.clock.now() if now is None else now
        with self._lock:
            streams = [s for s in self.streams.values() if owners is None or s.owner in owners]
            others = [o for o in self.others.values() if owners is None or o.owner in owners]
            counts: Counter[str] = Counter()
            for owner, counter in self.counts.items():
                if owners is None or owner in owners:
                    counts.update(counter)
            consumers = [c for c in self.consumers.values() if owners is None or c.owner in owners]
            all_streams = list(self.streams.values())
        return summarize(streams, others, counts, now, consumers, all_streams)

    def to_json(self) -> dict[str, Any]:
        """Everything the meter holds (an xdist worker hands it to the controller; the report keeps totals)."""
        with self._lock:
            return {"now": self.clock.now(), "streams": [asdict(s) for s in self.streams.values()],
                    "others": [asdict(o) for o in self.others.values()],
                    "consumers": [asdict(c) for c in self.consumers.values()],
                    "counts": {owner: dict(c) for owner, c in self.counts.items()},
                    "shared_costs": dict(self.shared_costs),
                    "uses": {owner: sorted(keys) for owner, keys in self.uses.items()}}


def _consumer_shard_seconds(consumer: ConsumerUse, streams: Mapping[str, StreamUse], now: float) -> float:
    """Seconds of the consumer's stream's shards while it was registered."""
    use = streams.get(consumer.stream)
    if use is None:
        return 0.0
    ended = now if consumer.deleted is None else consumer.deleted
    return sum(max(0.0, min(ended, now if s.end is None else s.end) - max(consumer.created, s.start))
               for s in use.shards)


def summarize(streams: list[StreamUse], others: list[ResourceUse], counts: Mapping[str, float],
              now: float, consumers: list[ConsumerUse] | tuple[ConsumerUse, ...] = (),
              all_streams: list[StreamUse] | None = None) -> dict[str, float]:
    """Totals of some uses: counts per kind, shards opened, shard-seconds (and their metered and whole-hour
    shard-hours), search-domain instance-hours (whole hours, each domain), enhanced fan-out consumers (their
    consumer-shard-hours and, as an upper estimate, retrieval), writes and ingestion. ``all_streams``: where the
    consumers' streams are found (default ``streams``)."""
    spans = [(s.start, now if s.end is None else s.end) for use in streams for s in use.shards]
    totals: dict[str, float] = {
        "streams": len(streams),
        "shards": len(spans),
        "shard_seconds": round(sum(max(0.0, end - start) for start, end in spans), 3),
        "shard_hours": round(sum(pricing.metered_hours(end - start) for start, end in spans), 6),
        "shard_hours_whole": sum(pricing.whole_hours(end - start) for start, end in spans),
        "on_demand_stream_hours": round(sum(pricing.metered_hours((now if u.deleted is None else u.deleted)
                                                                  - u.created) for u in streams if u.on_demand), 6),
    }
    for kind in KINDS:
        totals[kind.replace("-", "_") + "s"] = sum(1 for o in others if o.kind == kind)
    totals["search_instance_hours"] = sum(pricing.whole_hours((now if o.deleted is None else o.deleted) - o.created)
                                          for o in others if o.kind == "search-domain")
    for key in ("records", "put_payload_units", "firehose_billed_bytes", "on_demand_bytes"):
        totals[key] = int(counts.get(key, 0))
    by_name = {s.name: s for s in (streams if all_streams is None else all_streams)}
    totals["consumers"] = len(consumers)
    totals["consumer_shard_hours"] = round(sum(pricing.metered_hours(_consumer_shard_seconds(c, by_name, now))
                                               for c in consumers), 6)
    totals["efo_bytes"] = sum(by_name[c.stream].bytes_written for c in consumers if c.stream in by_name)
    return totals


def load(data: Mapping[str, Any]) -> tuple[list[StreamUse], list[ResourceUse], dict[str, Counter[str]]]:
    """The streams, other resources and per-owner counts of a :meth:`UsageMeter.to_json` document."""
    streams = [StreamUse(**{**s, "shards": [ShardSpan(**span) for span in s["shards"]]}) for s in data["streams"]]
    others = [ResourceUse(**o) for o in data["others"]]
    counts = {owner: Counter(c) for owner, c in data.get("counts", {}).items()}
    return streams, others, counts


def load_consumers(data: Mapping[str, Any]) -> list[ConsumerUse]:
    """The consumers of a :meth:`UsageMeter.to_json` document."""
    return [ConsumerUse(**c) for c in data.get("consumers", [])]


def merge_totals(documents: list[Mapping[str, Any]]) -> dict[str, Any]:
    """What several meters (an xdist run's workers) used: ``totals`` and the same per ``families`` (by the owner's
    family), each document's open shards counted until its own ``now``."""
    families: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for document in documents:
        streams, others, counts = load(document)
        consumers = load_consumers(document)
        now = float(document.get("now", 0.0))
        owners = {s.owner for s in streams} | {o.owner for o in others} | set(counts) | {c.owner for c in consumers}
        for owner in owners:
            part = summarize([s for s in streams if s.owner == owner], [o for o in others if o.owner == owner],
                             counts.get(owner, Counter()), now, [c for c in consumers if c.owner == owner], streams)
            families.setdefault(family_of(owner), Counter()).update(part)
            totals.update(part)
    rounded = {k: round(v, 6) for k, v in totals.items()}
    return {"totals": rounded, "families": {name: {k: round(v, 6) for k, v in row.items()}
                                           for name, row in families.items()}}


def family_of(owner: str) -> str:
    """The family of a test node id (:func:`pytest_kinesis_limits.families.family_of`): ``tests/limits/
    test_put_records.py::...`` -> ``put_records``; a test of no family by its file (``test_mine.py`` -> ``mine``);
    the session's own resources -> ``session``."""
    if not owner:
        return "session"
    family = families_registry.family_of(owner)
    if family is not None:
        return family.name
    module = owner.split("::", 1)[0].rsplit("/", 1)[-1]
    stem = module[:-3] if module.endswith(".py") else module
    return stem[5:] if stem.startswith("test_") else stem


__all__ = ["KINDS", "ConsumerUse", "ResourceUse", "ShardSpan", "StreamUse", "UsageMeter", "family_of", "load",
           "load_consumers", "merge_totals", "summarize"]
