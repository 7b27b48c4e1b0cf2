"""Reading what a search delivery stream delivered: the index (through opensearch-py), the S3 backup and the
failed documents, and the hand-over proof that the delivery stream is indexing.

The last layer of :mod:`pytest_kinesis_limits.firehose` (uses every layer before it). Queries go through
opensearch-py, the optional extra (``pip install 'pytest-kinesis-limits[opensearch]'``), the same live (HTTPS,
SigV4-signed for service ``es``), against an emulator and offline (the fidelity layer's stand-in serves the few
REST calls used here on 127.0.0.1): ``_cat/indices``, ``_count``, ``_search`` with a scroll, ``_doc/<id>``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.firehose.delivery import DeliveryResult, compare_delivery, poll_until
from pytest_kinesis_limits.firehose.destinations import (ERROR_RECORD_FIELDS, FAILED_FOLDERS, SearchDeliveryStreamInfo,
                                                         index_pattern)
from pytest_kinesis_limits.firehose.handover import (CANARY, CANARY_FIELD, ReadingProof, canary_handover, is_canary,
                                                     without_canaries)
from pytest_kinesis_limits.firehose.objects import DeliveredObject, list_delivered

#: What to install for the search destination's queries.
EXTRA = "pip install 'pytest-kinesis-limits[opensearch]'"
#: Documents per scroll page (OpenSearch refuses a window beyond index.max_result_window, 10,000 by default).
SCROLL_PAGE = 5000
#: Leaves canaries out of a query.
NOT_CANARY = {"bool": {"must_not": [{"exists": {"field": CANARY_FIELD}}]}}


#: What to run when the installed opensearch-py cannot be imported: the extra's bound in the package metadata skips
#: the releases known to fail (2.4.0 imports aiohttp, which it does not require).
UPGRADE = "pip install --upgrade 'pytest-kinesis-limits[opensearch]'"


class OpenSearchExtraMissing(ImportError):
    """opensearch-py is not installed, or cannot be imported; the message says which, and what to install."""


def opensearchpy_module() -> ModuleType:
    """opensearch-py, or :class:`OpenSearchExtraMissing` naming the extra (it is optional)."""
    try:
        import opensearchpy  # the optional extra: imported only where a search destination is used
    except ImportError as exc:
        missing = exc.name or ""
        if missing and missing != "opensearchpy" and not missing.startswith("opensearchpy."):
            # Installed, but a module it imports is not: a release the extra's bound does not admit, or a broken venv.
            raise OpenSearchExtraMissing(
                f"the search destination queries its index with opensearch-py, which is installed "
                f"({_installed('opensearch-py')}) but cannot be imported: it needs {missing!r}, which is not "
                f"installed ({exc}). Fix: {UPGRADE}") from None
        raise OpenSearchExtraMissing(
            f"the search destination queries its index with opensearch-py, which is not installed ({exc}). "
            f"Fix: {EXTRA}") from None
    return opensearchpy


def _installed(distribution: str) -> str:
    """``"<name> <version>"`` of an installed distribution, or ``"<name>, version unknown"``."""
    import importlib.metadata  # only on this error's path: it is not free at start-up

    try:
        return f"{distribution} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{distribution}, version unknown"


def opensearch_client(endpoint_url: str, *, credentials: Any = None, region: str | None = None,
                      timeout_s: float = 30.0) -> Any:
    """An ``opensearchpy.OpenSearch`` for ``endpoint_url`` (``https://<DescribeDomain Endpoint>`` live), requests
    signed with SigV4 (service ``es``) when ``credentials`` (botocore credentials) are given."""
    osp = opensearchpy_module()
    secure = endpoint_url.startswith("https://")
    auth = osp.AWSV4SignerAuth(credentials, region, "es") if credentials is not None else None
    return osp.OpenSearch(hosts=[endpoint_url], http_auth=auth, use_ssl=secure, verify_certs=secure,
                          connection_class=osp.RequestsHttpConnection, timeout=timeout_s)


# ------------------------------------------------------------------------------------------ the index
@dataclass(frozen=True)
class IndexedDocument:
    """One document found in the index."""

    index: str
    id: str
    source: Any


@dataclass
class IndexResult:
    """What the index holds compared with what was expected (canaries left out)."""

    expected: int
    documents: list[IndexedDocument]
    missing: list[Hashable]
    duplicates: dict[Hashable, int]
    """Ids indexed more than once (the Firehose-generated document id should prevent it), with their counts."""
    unexpected: list[Hashable]
    timed_out: bool = False
    waited_s: float = 0.0
    polls: int = 0
    located: dict[Hashable, IndexedDocument] = field(default_factory=dict)

    @property
    def indices(self) -> Counter[str]:
        """Documents per index name."""
        return Counter(d.index for d in self.documents)

    def summary(self) -> str:
        """One line for messages."""
        found = self.expected - len(self.missing)
        parts = [f"{found}/{self.expected} indexed as {len(self.documents)} document(s) in "
                 f"{len(self.indices)} index(es)"]
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {self.missing[:5]})")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} indexed more than once (e.g. {list(self.duplicates)[:5]})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected")
        if self.timed_out:
            parts.append(f"gave up after {self.waited_s:.0f} s")
        return "; ".join(parts)


class SearchIndex:
    """The indexes a search delivery stream writes (``base`` and, with rotation, ``base-*``), read through an
    opensearch-py client. Canary documents (the fixtures' hand-over proof) are left out unless asked for."""

    def __init__(self, client: Any, base: str, rotation: str = "NoRotation", *, pattern: str | None = None) -> None:
        self.client = client
        self.base = base
        self.rotation = rotation
        self.pattern = pattern or index_pattern(base, rotation)
        """What the queries name: ``base`` (NoRotation) or ``base-*``, unless given."""

    def _errors(self) -> tuple[type[Exception], ...]:
        return (opensearchpy_module().NotFoundError,)

    def indices(self) -> list[str]:
        """The names of the indexes that exist (``_cat/indices``), sorted."""
        try:
            rows = self.client.cat.indices(index=self.pattern, format="json")
        except self._errors():
            return []
        return sorted(row["index"] for row in rows)

    def _query(self, canaries: bool) -> dict[str, Any]:
        return {"match_all": {}} if canaries else NOT_CANARY

    def count(self, *, canaries: bool = False) -> int:
        """Documents in the indexes (``_count``); 0 while none exists."""
        try:
            answer = self.client.count(index=self.pattern, body={"query": self._query(canaries)},
                                       params={"ignore_unavailable": "true", "allow_no_indices": "true"})
        except self._errors():
            return 0
        return int(answer["count"])

    def documents(self, *, canaries: bool = False, query: dict[str, Any] | None = None) -> list[IndexedDocument]:
        """Every document (a scroll over ``_search``, :data:`SCROLL_PAGE` at a time)."""
        helpers = opensearchpy_module().helpers
        body = {"query": query or self._query(canaries)}
        try:
            hits = list(helpers.scan(self.client, index=self.pattern, query=body, size=SCROLL_PAGE,
                                     scroll="2m", ignore_unavailable=True, allow_no_indices=True))
        except self._errors():
            return []
        return [IndexedDocument(h["_index"], h["_id"], h.get("_source")) for h in hits]

    def get(self, index: str, doc_id: str) -> Any:
        """The ``_source`` of one document (``GET <index>/_doc/<id>``), or ``None`` when it is not there."""
        try:
            answer = self.client.get(index=index, id=doc_id)
        except self._errors():
            return None
        return answer.get("_source") if answer.get("found") else None

    def compare(self, documents: list[IndexedDocument], expected_ids: Iterable[Hashable],
                identify: Callable[[Any], Hashable]) -> IndexResult:
        """``documents`` against ``expected_ids`` (``identify`` maps a ``_source`` to its id)."""
        wanted = list(expected_ids)
        wanted_set = set(wanted)
        counts: Counter[Hashable] = Counter()
        located: dict[Hashable, IndexedDocument] = {}
        for doc in documents:
            rid = identify(doc.source)
            counts[rid] += 1
            located.setdefault(rid, doc)
        return IndexResult(expected=len(wanted_set), documents=documents,
                           missing=[rid for rid in wanted if rid not in counts],
                           duplicates={rid: n for rid, n in counts.items() if n > 1},
                           unexpected=[rid for rid in counts if rid not in wanted_set], located=located)

    def wait_for(self, expected_ids: Iterable[Hashable], identify: Callable[[Any], Hashable], clock: Clock,
                 timeout_s: float, poll_s: float) -> IndexResult:
        """Poll ``_count`` until at least the expected number of documents is there (or ``timeout_s`` passed on
        ``clock``), then read them all once and compare. Never raises on the bound."""
        wanted = list(expected_ids)
        start = clock.now()
        polls = [0]

        def enough() -> bool:
            polls[0] += 1
            return self.count() >= len(set(wanted))

        complete = poll_until(enough, clock, timeout_s, poll_s, f"documents in {self.pattern}")
        result = self.compare(self.documents(), wanted, identify)
        result.timed_out, result.waited_s, result.polls = not complete, clock.now() - start, polls[0]
        return result


# ------------------------------------------------------------------------------------ the S3 backup
def is_failed_key(key: str) -> str | None:
    """The failed-documents folder in ``key`` (either documented spelling), or ``None``."""
    return next((folder for folder in FAILED_FOLDERS if folder in key), None)


def wait_for_backup(s3_client: Any, delivery: SearchDeliveryStreamInfo, expected_ids: Iterable[Hashable],
                    identify: Callable[[Any], Hashable], clock: Clock, timeout_s: float,
                    poll_s: float) -> DeliveryResult:
    """Poll the backup bucket until every expected record is in a backup object (failed-document objects left
    out), or ``timeout_s`` passed; keys are checked against the documented S3 naming. Canaries left out."""
    wanted = list(expected_ids)
    needed = set(wanted) - {CANARY}
    ids = (lambda r: CANARY if is_canary(r) else identify(r))
    cache: dict[str, DeliveredObject] = {}
    found: set[Hashable] = set()  # the ids in the objects seen so far, each object identified once (keys are final)
    identified: set[str] = set()
    last: dict[str, Any] = {"objects": [], "waited_s": 0.0, "polls": 0}
    start = clock.now()

    def arrived() -> bool:
        objects = [o for o in list_delivered(s3_client, delivery.bucket.name, stream_name=delivery.name,
                                             _cache=cache) if is_failed_key(o.key) is None]
        for obj in objects:
            if obj.key not in identified:
                identified.add(obj.key)
                found.update(map(ids, obj.records))
        last.update(objects=objects, waited_s=clock.now() - start, polls=last["polls"] + 1)
        return needed <= found

    complete = poll_until(arrived, clock, timeout_s, poll_s, f"backup records in s3://{delivery.bucket.name}")
    result = compare_delivery(last["objects"], wanted, ids, timed_out=not complete, waited_s=last["waited_s"],
                              polls=last["polls"])
    return without_canaries(result, delivery, identify, wanted)


@dataclass
class FailedDocument:
    """One error record found under the failed-documents folder."""

    key: str
    folder: str
    record: dict[str, Any]
    raw: bytes | None
    """``rawData`` decoded, or ``None`` when it is not base64."""
    shape_errors: list[str]


def _error_records(body: bytes) -> list[Any]:
    decoder = json.JSONDecoder()
    text = body.decode("utf-8", "replace")
    out, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        value, pos = decoder.raw_decode(text, pos)
        out.append(value)


def check_error_record(record: Any) -> tuple[bytes | None, list[str]]:
    """``(rawData decoded, problems)`` of an error record against the documented shape (retry.html)."""
    if not isinstance(record, dict):
        return None, [f"not a JSON object: {record!r:.60}"]
    problems = [f"no {name}" for name in ERROR_RECORD_FIELDS if name not in record]
    raw = None
    try:
        raw = base64.b64decode(str(record.get("rawData", "")), validate=True)
    except (binascii.Error, ValueError):
        problems.append("rawData is not base64")
    return raw, problems


def failed_documents(s3_client: Any, bucket: str) -> list[FailedDocument]:
    """Every error record under a failed-documents folder of ``bucket`` (either documented spelling)."""
    out = []
    for obj in list_delivered(s3_client, bucket, decode="raw"):
        folder = is_failed_key(obj.key)
        if folder is None:
            continue
        try:
            records = _error_records(obj.body)
        except ValueError as exc:
            out.append(FailedDocument(obj.key, folder, {}, None, [f"body is not JSON: {exc}"]))
            continue
        for record in records:
            raw, problems = check_error_record(record)
            out.append(FailedDocument(obj.key, folder, record if isinstance(record, dict) else {}, raw, problems))
    return out


# ------------------------------------------------------------------------------------------ hand-over
def prove_indexing(kinesis_client: Any, index: SearchIndex, stream_name: str, delivery_stream: str, clock: Clock,
                   timeout_s: float, poll_s: float) -> ReadingProof:
    """Show that ``delivery_stream`` indexes what its source receives: :func:`~.handover.canary_handover` until one
    canary of each open shard is a document in the index. As :func:`~.handover.prove_reading` for S3."""
    query = {"bool": {"filter": [{"exists": {"field": CANARY_FIELD}}]}}

    def in_index(written: dict[str, list[bytes]]) -> list[str]:
        return [d.source.get("shard") for d in index.documents(query=query)
                if isinstance(d.source, dict) and d.source.get(CANARY_FIELD) == delivery_stream]

    def failure(missing: list[str], shards: int, count: int) -> str:
        return (f"index {index.pattern}: no canary of {len(missing)} of {shards} shard(s) ({', '.join(missing)}) "
                f"indexed within {timeout_s:g} s ({count} written): the delivery stream is not indexing its "
                "source (offline: is the fidelity layer on?)")

    written, polls, waited = canary_handover(kinesis_client, stream_name, delivery_stream, clock, timeout_s, poll_s,
                                             in_index, failure)
    return ReadingProof(keys=[], canaries_written=written, polls=polls, waited_s=waited)


def search_bound_s(buffer_seconds: int, span_s: float) -> float:
    """How long to wait for a document: the interval hint, one source read period and the wait span."""
    return buffer_seconds + 1.0 / limits.FIREHOSE_SOURCE_READS_PER_S.value + span_s
