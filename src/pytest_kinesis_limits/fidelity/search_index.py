"""An in-process stand-in for an Amazon OpenSearch Service domain as a Firehose destination, on moto 5.2.x.

It is a stand-in, not OpenSearch: it keeps JSON documents in dictionaries, per domain and index, and models only
what Firehose documents about this destination (docs/search-index.md lists what it does not model):

* moto 5.2.5 refuses ``AmazonopensearchserviceDestinationConfiguration`` ("Exactly one destination configuration
  is supported"): :func:`activate_search_index` accepts it, checks it against the API's constraints
  (ValidationException in AWS's wording: buffering 1-100 MiB and 0-900 s, retry 0-7200 s, index name 1-80
  characters, the DomainARN pattern), fills AWS's defaults and describes it as
  ``AmazonopensearchserviceDestinationDescription``;
* the delivery simulation (:mod:`.firehose`) buffers by the destination's hints and hands each buffer here as
  one bulk request (:meth:`SearchIndexStandIn.deliver`): each record is indexed under ``IndexName`` plus the
  rotation suffix of its arrival time (es-index-rotation.html), with a Firehose-generated document id
  (FIREHOSE_DEFAULT) or one the "domain" generates (NO_DOCUMENT_ID); a record that is not one JSON object is
  refused (HTTP 400, mapper_parsing_exception), retried for RetryOptions.DurationInSeconds, then written to the
  S3 bucket under ``AmazonOpenSearchService-failed/`` as the documented error record (retry.html);
* with S3BackupMode AllDocuments every record is also written to S3, buffered by the S3 configuration's hints,
  under the documented object names (s3-object-name.html), records concatenated;
* moto's OpenSearch domains report ``Created: false``/``Processing: true`` for ``creating_seconds`` on the clock,
  then an ``Endpoint`` that is this stand-in's data plane on loopback (:mod:`.search_http`), path ``/<domain>``.

Time is the delivery simulation's clock; work happens when it pumps. Thread-safe (one lock).
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.firehose.destinations import FAILED_FOLDERS, index_name
from pytest_kinesis_limits.firehose.objects import format_key, uuid4_text
from pytest_kinesis_limits.firehose.provision import s3_buffering_hints
from pytest_kinesis_limits.fidelity.moto_adapter import (ActionResult, FirehoseResponse, InvalidArgumentException,
                                                         OpenSearchDomain, OpenSearchServiceBackend,
                                                         ValidationException, firehose_backends, get_partition,
                                                         original, patch_all, s3_backends)
from pytest_kinesis_limits.fidelity.search_http import start_data_plane

#: Where moto keeps the destination after we rename its Elasticsearch slot (DescribeDeliveryStream then says
#: AmazonopensearchserviceDestinationDescription, as AWS does).
DESTINATION_KEY = "Amazonopensearchservice"
CONFIG_PARAM = "AmazonopensearchserviceDestinationConfiguration"
#: The folder the stand-in writes failed documents to (the API reference's spelling).
FAILED_FOLDER = FAILED_FOLDERS[0]
#: What OpenSearch answers for a document that is not a JSON object (an HTTP 400 per bulk item).
NOT_JSON_CODE = "400"
NOT_JSON_MESSAGE = json.dumps({"type": "mapper_parsing_exception", "reason": "failed to parse", "caused_by": {
    "type": "not_x_content_exception", "reason": "Compressor detection can only be called on some xcontent bytes "
    "or compressed xcontent bytes"}})
_DOMAIN_ARN = r"arn:.*:es:[a-zA-Z0-9\-]+:\d{12}:domain/[a-z][-0-9a-z]{2,27}"


@dataclass
class StoredDocument:
    """One indexed document."""

    index: str
    id: str
    source: Any
    arrival: float
    indexed_at: float
    delivery_stream: str


@dataclass
class BulkRequest:
    """One bulk request the delivery stream sent (one per buffer flushed)."""

    delivery_stream: str
    domain: str
    at: float
    documents: int
    size: int
    failed: int


@dataclass
class StandInDomain:
    """A domain the stand-in serves (created through moto's OpenSearch API)."""

    account_id: str
    region: str
    name: str
    arn: str
    created_at: float
    indexes: dict[str, dict[str, StoredDocument]] = field(default_factory=dict)


@dataclass
class _Failure:
    delivery: tuple[str, str, str]
    raw: bytes
    arrival: float
    index: str
    doc_id: str
    first_attempt: float
    attempts: int = 1


@dataclass
class _Backup:
    pieces: list[bytes] = field(default_factory=list)
    size: int = 0
    start: float | None = None


def _s3_config(config: dict[str, Any]) -> dict[str, Any]:
    return config.get("S3DestinationDescription") or config.get("S3Configuration") or {}


def _bucket(config: dict[str, Any]) -> str:
    return str(_s3_config(config).get("BucketARN", "")).split(":")[-1]


def _constraint(where: str, value: Any, rule: str) -> ValidationException:
    return ValidationException(f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy "
                               f"constraint: {rule}")


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with AWS's defaults filled in, or ValidationException / InvalidArgumentException for the
    first value outside the API's constraints (API_AmazonopensearchserviceDestinationConfiguration.html)."""
    where = "amazonopensearchserviceDestinationConfiguration"
    out = json.loads(json.dumps(config))
    hints = out.setdefault("BufferingHints", {})
    hints.setdefault("SizeInMBs", limits.FIREHOSE_OS_BUFFER_MIB_DEFAULT.value)
    hints.setdefault("IntervalInSeconds", limits.FIREHOSE_OS_BUFFER_SECONDS_DEFAULT.value)
    checks = [
        (f"{where}.bufferingHints.sizeInMBs", hints["SizeInMBs"], limits.FIREHOSE_OS_BUFFER_MIB_MIN,
         limits.FIREHOSE_OS_BUFFER_MIB_MAX),
        (f"{where}.bufferingHints.intervalInSeconds", hints["IntervalInSeconds"],
         limits.FIREHOSE_OS_BUFFER_SECONDS_MIN, limits.FIREHOSE_OS_BUFFER_SECONDS_MAX),
        (f"{where}.retryOptions.durationInSeconds", out.setdefault("RetryOptions", {}).setdefault(
            "DurationInSeconds", limits.FIREHOSE_OS_RETRY_SECONDS_DEFAULT.value),
         limits.FIREHOSE_OS_RETRY_SECONDS_MIN, limits.FIREHOSE_OS_RETRY_SECONDS_MAX),
    ]
    for path, value, low, high in checks:
        if int(value) > int(high):
            raise _constraint(path, value, f"Member must have value less than or equal to {high.value}")
        if int(value) < int(low):
            raise _constraint(path, value, f"Member must have value greater than or equal to {low.value}")
    name = str(out.get("IndexName", ""))
    if not 1 <= len(name) <= limits.FIREHOSE_OS_INDEX_NAME_MAX_CHARS.value:
        raise _constraint(f"{where}.indexName", name, "Member must have length less than or equal to "
                          f"{limits.FIREHOSE_OS_INDEX_NAME_MAX_CHARS.value}")
    if bool(out.get("DomainARN")) == bool(out.get("ClusterEndpoint")):
        raise InvalidArgumentException("Exactly one of DomainARN or ClusterEndpoint must be specified "
                                       "(the stand-in's wording; the API: 'Specify either this ClusterEndpoint "
                                       "or the DomainARN field')")
    if out.get("DomainARN") and not re.fullmatch(_DOMAIN_ARN, out["DomainARN"]):
        raise _constraint(f"{where}.domainARN", out["DomainARN"],
                          f"Member must satisfy regular expression pattern: {_DOMAIN_ARN}")
    out.setdefault("IndexRotationPeriod", "OneDay")  # the API's default
    out.setdefault("S3BackupMode", "FailedDocumentsOnly")
    out.setdefault("DocumentIdOptions", {"DefaultDocumentIdFormat": "FIREHOSE_DEFAULT"})
    s3 = out.get("S3Configuration") or {}
    s3.setdefault("BufferingHints", {"SizeInMBs": limits.FIREHOSE_BUFFER_MIB_DEFAULT.value,
                                     "IntervalInSeconds": limits.FIREHOSE_BUFFER_SECONDS_DEFAULT.value})
    s3.setdefault("CompressionFormat", "UNCOMPRESSED")
    _, backup_interval = s3_buffering_hints(s3)
    if backup_interval < limits.FIREHOSE_S3_BACKUP_BUFFER_SECONDS_MIN.value:
        raise InvalidArgumentException(
            f"S3Configuration.BufferingHints.IntervalInSeconds {backup_interval}: zero buffering is not available for "
            f"the Amazon S3 backup destination (the stand-in's wording; {limits.FIREHOSE_S3_BACKUP_BUFFER_SECONDS_MIN})")
    return out


def error_record(failure: _Failure, config: dict[str, Any], ending_ms: int) -> dict[str, Any]:
    """The documented error record of a refused document (retry.html, OpenSearch Service)."""
    return {"attemptsMade": failure.attempts, "arrivalTimestamp": int(failure.arrival * 1000),
            "errorCode": NOT_JSON_CODE, "errorMessage": NOT_JSON_MESSAGE, "attemptEndingTimestamp": ending_ms,
            "esDocumentId": failure.doc_id, "esIndexName": failure.index, "esTypeName": config.get("TypeName", ""),
            "rawData": base64.b64encode(failure.raw).decode("ascii")}


class SearchIndexStandIn:
    """The domains, their documents, the bulk requests and the S3 writes of the search destination.

    ``errors`` lists what could not be done (an unknown domain, an S3 write that failed), never silently.
    """

    def __init__(self, clock: Clock, *, seed: int = 0, creating_seconds: float = 1.0) -> None:
        self.clock = clock
        self.creating_seconds = creating_seconds
        self.domains: dict[str, StandInDomain] = {}
        self.bulk_requests: list[BulkRequest] = []
        self.s3_writes: list[tuple[str, str, float]] = []
        self.errors: list[str] = []
        self.data_plane: str | None = None
        """``host:port`` of the HTTP data plane, once started (:mod:`.search_http`)."""
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self._failures: list[_Failure] = []
        self._backups: dict[tuple[str, str, str], _Backup] = {}
        self.pumps: list[Any] = []
        """Callables that catch the delivery simulation up with the clock (a query pumps first, as moto's
        requests do: the simulation is lazy)."""

    def catch_up(self) -> None:
        """Run the delivery simulation up to the clock's now (before answering a query)."""
        for pump in list(self.pumps):
            pump()

    # --------------------------------------------------------------------------------- domains
    def add_domain(self, domain: OpenSearchDomain, account_id: str, region: str) -> None:
        with self.lock:
            self.domains[domain.arn] = StandInDomain(account_id, region, domain.domain_name, domain.arn,
                                                     self.clock.now())
            domain.endpoint = self.endpoint_of(domain.domain_name)

    def endpoint_of(self, name: str) -> str:
        """The Endpoint DescribeDomain reports: the data plane's ``host:port/<domain>``."""
        return f"{self.data_plane or 'search-index-stand-in.invalid'}/{name}"

    def creating(self, arn: str) -> bool:
        """Whether the domain is still initializing on the clock."""
        domain = self.domains.get(arn)
        return domain is not None and self.clock.now() < domain.created_at + self.creating_seconds

    def domain_named(self, name: str) -> StandInDomain | None:
        return next((d for d in self.domains.values() if d.name == name), None)

    # -------------------------------------------------------------------------------- delivery
    @staticmethod
    def handles(delivery_stream: Any) -> bool:
        """Whether moto's delivery stream has the OpenSearch Service destination."""
        return DESTINATION_KEY in delivery_stream.destinations[0]

    def _id_maker(self, config: dict[str, Any]) -> Callable[[], str]:
        """A maker of the delivery stream's document ids, one per bulk item, from the stand-in's seeded generator."""
        fmt = (config.get("DocumentIdOptions") or {}).get("DefaultDocumentIdFormat", "FIREHOSE_DEFAULT")
        bits = self._rng.getrandbits
        if fmt == "NO_DOCUMENT_ID":  # the domain makes one (20 URL-safe characters, as OpenSearch's look)
            return lambda: base64.urlsafe_b64encode(bits(120).to_bytes(15, "big")).decode()
        return lambda: uuid4_text(bits(128))  # stand-in format: AWS documents none

    def deliver(self, account_id: str, region: str, name: str, stream: Any, pieces: list[bytes],
                arrivals: list[float], when: float) -> None:
        """Index one buffer as one bulk request; back it up (AllDocuments); route refused documents. What the
        delivery stream's config decides (index rotation, id format, backup hints) is read once per request."""
        with self.lock:
            config = stream.destinations[0][DESTINATION_KEY]
            key = (account_id, region, name)
            domain = self.domains.get(str(config.get("DomainARN")))
            if domain is None:
                self.errors.append(f"{name}: domain {config.get('DomainARN')} is unknown to the stand-in; "
                                   f"{len(pieces)} record(s) not indexed")
                return
            base, rotation = config["IndexName"], config.get("IndexRotationPeriod", "OneDay")
            targets: dict[float, str] = {}  # a buffer's records share a few arrival seconds
            new_id = self._id_maker(config)
            failed = 0
            for raw, arrival in zip(pieces, arrivals):
                target = targets.get(arrival)
                if target is None:
                    target = targets[arrival] = index_name(base, rotation, arrival)
                failed += not self._index_one(domain, key, raw, arrival, when, target, new_id)
            self.bulk_requests.append(BulkRequest(name, domain.name, when, len(pieces), sum(map(len, pieces)),
                                                  failed))
            if config.get("S3BackupMode") == "AllDocuments":
                size_limit = s3_buffering_hints(_s3_config(config))[0] * limits.MIB
                for raw, arrival in zip(pieces, arrivals):
                    self._back_up(key, stream, raw, arrival, size_limit)
            self._give_up(when)

    def _index_one(self, domain: StandInDomain, key: tuple[str, str, str], raw: bytes, arrival: float, when: float,
                   target: str, new_id: Callable[[], str]) -> bool:
        """One bulk item: index the record under a new id, or queue it as refused (not one JSON object); whether
        indexed."""
        doc_id = new_id()
        try:
            source = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            source = None
        if not isinstance(source, dict):
            self._failures.append(_Failure(key, raw, arrival, target, doc_id, when))
            return False
        domain.indexes.setdefault(target, {})[doc_id] = StoredDocument(target, doc_id, source, arrival, when,
                                                                        key[2])
        return True

    def pump(self, now: float) -> None:
        """Retry refused documents once per clock second until their retry duration has passed, then write them
        to the error folder; write backups whose interval hint has passed."""
        with self.lock:
            self._give_up(now)
            for key, backup in list(self._backups.items()):
                stream = self._stream(key)
                if stream is None or backup.start is None:
                    continue
                _, interval = s3_buffering_hints(_s3_config(stream.destinations[0][DESTINATION_KEY]))
                if backup.start + interval <= now:
                    self._write_backup(key, stream, backup.start + interval)

    # ---------------------------------------------------------------------------------- S3 side
    @staticmethod
    def _stream(key: tuple[str, str, str]) -> Any:
        account_id, region, name = key
        return firehose_backends[account_id][region].delivery_streams.get(name)

    def _back_up(self, key: tuple[str, str, str], stream: Any, raw: bytes, arrival: float, size_limit: int) -> None:
        """Add one record to the backup buffer (``size_limit``: the backup's size hint in bytes)."""
        backup = self._backups.setdefault(key, _Backup())
        if backup.pieces and backup.size + len(raw) > size_limit:
            self._write_backup(key, stream, arrival)
        backup.pieces.append(raw)
        backup.size += len(raw)
        if backup.start is None:
            backup.start = arrival
        if backup.size >= size_limit:
            self._write_backup(key, stream, arrival)

    def _write_backup(self, key: tuple[str, str, str], stream: Any, when: float) -> None:
        backup = self._backups.pop(key, None)
        if backup is None or not backup.pieces:
            return
        config = stream.destinations[0][DESTINATION_KEY]
        prefix = _s3_config(config).get("Prefix") or None
        self._put(key, stream, config, b"".join(backup.pieces), when, prefix,
                  backup.start if backup.start is not None else when)

    def _give_up(self, now: float) -> None:
        due: dict[tuple[str, str, str], list[_Failure]] = {}
        keep = []
        for failure in self._failures:
            stream = self._stream(failure.delivery)
            if stream is None:
                continue
            retry = int((stream.destinations[0][DESTINATION_KEY].get("RetryOptions") or {}).get(
                "DurationInSeconds", limits.FIREHOSE_OS_RETRY_SECONDS_DEFAULT.value))
            if now - failure.first_attempt >= retry:
                due.setdefault(failure.delivery, []).append(failure)
            else:
                failure.attempts = 1 + int(now - failure.first_attempt)  # one attempt per second
                keep.append(failure)
        self._failures = keep
        for key, failures in due.items():
            stream = self._stream(key)
            config = stream.destinations[0][DESTINATION_KEY]
            ending = int(now * 1000)
            body = b"".join(json.dumps(error_record(f, config, ending)).encode() + b"\n" for f in failures)
            s3 = _s3_config(config)
            prefix = (s3.get("ErrorOutputPrefix") or s3.get("Prefix") or "") + FAILED_FOLDER
            self._put(key, stream, config, body, now, prefix, min(f.arrival for f in failures))

    def _put(self, key: tuple[str, str, str], stream: Any, config: dict[str, Any], body: bytes, when: float,
             prefix: str | None, oldest: float) -> None:
        account_id, region, name = key
        bucket = _bucket(config)
        written_at = datetime.fromtimestamp(when, timezone.utc)
        object_key = format_key(name, int(stream.version_id), written_at,
                                uuid4_text(self._rng.getrandbits(128)), prefix=prefix,
                                oldest_arrival=datetime.fromtimestamp(oldest, timezone.utc))
        try:
            fake = s3_backends[account_id][get_partition(region)].put_object(bucket, object_key, body)
        except Exception as exc:  # AWS would keep retrying: say why
            self.errors.append(f"{name}: writing s3://{bucket}/{object_key} failed: {exc!r}")
            return
        fake.last_modified = written_at.replace(tzinfo=None)
        self.s3_writes.append((bucket, object_key, when))


_stand_in_lock = threading.Lock()
_stand_in: SearchIndexStandIn | None = None


def stand_in(clock: Clock) -> SearchIndexStandIn:
    """The process's stand-in (domains outlive one test, as moto's session does), now on ``clock``."""
    global _stand_in
    with _stand_in_lock:
        if _stand_in is None:
            _stand_in = SearchIndexStandIn(clock)
        _stand_in.clock = clock
        return _stand_in


@contextlib.contextmanager
def activate_search_index(clock: Clock, simulator: Any = None, *,
                          host: str = "127.0.0.1") -> Iterator[SearchIndexStandIn]:
    """Patch moto for the search destination (see the module doc), start the data plane on ``host`` if it is not
    running, attach the stand-in to the Firehose ``simulator`` (its ``search`` hook); undo the patches on exit."""
    store = stand_in(clock)
    start_data_plane(store, host)
    original_create = original("FirehoseResponse.create_delivery_stream")
    original_to_dict = original("OpenSearchDomain.to_dict")
    original_create_domain = original("OpenSearchServiceBackend.create_domain")
    original_delete_domain = original("OpenSearchServiceBackend.delete_domain")

    def create_delivery_stream(self: FirehoseResponse) -> Any:
        config = self._get_param(CONFIG_PARAM)
        if not config:
            return original_create(self)
        config = validate_config(config)
        if config.get("DomainARN") and config["DomainARN"] not in store.domains:
            raise InvalidArgumentException(f"Domain {config['DomainARN']} is not found (the stand-in's wording)")
        backend = self.firehose_backend
        name = self._get_param("DeliveryStreamName")
        arn = backend.create_delivery_stream(
            region=self.region, delivery_stream_name=name,
            delivery_stream_type=self._get_param("DeliveryStreamType"),
            kinesis_stream_source_configuration=self._get_param("KinesisStreamSourceConfiguration"),
            delivery_stream_encryption_configuration_input=self._get_param(
                "DeliveryStreamEncryptionConfigurationInput"),
            s3_destination_configuration=None, extended_s3_destination_configuration=None,
            redshift_destination_configuration=None, elasticsearch_destination_configuration=config,
            splunk_destination_configuration=None, http_endpoint_destination_configuration=None,
            snowflake_destination_configuration=None, iceberg_destination_configuration=None,
            tags=self._get_param("Tags"))
        destination = backend.delivery_streams[name].destinations[0]
        destination[DESTINATION_KEY] = destination.pop("Elasticsearch")
        return ActionResult({"DeliveryStreamARN": arn})

    def to_dict(self: OpenSearchDomain) -> dict[str, Any]:
        out = original_to_dict(self)
        if store.creating(self.arn):
            out.update(Created=False, Processing=True)
            out.pop("Endpoint", None)
        return out

    def create_domain(self: OpenSearchServiceBackend, *args: Any, **kwargs: Any) -> OpenSearchDomain:
        domain = original_create_domain(self, *args, **kwargs)
        store.add_domain(domain, self.account_id, self.region_name)
        return domain

    def delete_domain(self: OpenSearchServiceBackend, domain_name: str) -> OpenSearchDomain:
        domain = original_delete_domain(self, domain_name)
        with store.lock:
            store.domains.pop(domain.arn, None)
        return domain

    with contextlib.ExitStack() as stack:
        patch_all(stack, [("FirehoseResponse.create_delivery_stream", create_delivery_stream),
                          ("OpenSearchDomain.to_dict", to_dict), ("OpenSearchServiceBackend.create_domain", create_domain),
                          ("OpenSearchServiceBackend.delete_domain", delete_domain)])
        if simulator is not None:
            simulator.search = store
            store.pumps.append(simulator.pump)
        try:
            yield store
        finally:
            if simulator is not None:
                simulator.search = None
                store.pumps.remove(simulator.pump)


__all__ = ["BulkRequest", "SearchIndexStandIn", "StandInDomain", "StoredDocument", "activate_search_index",
           "stand_in", "validate_config"]
