"""The one door to moto: every moto name the offline layer uses, the record codec and the patch table, as data.

moto's models and responses are private code that changes in patch releases: 5.2.6 keeps a Kinesis record's
``Data`` as ``bytes`` (5.2.5 and before: the request's base64 text), its ``created_at`` as a ``datetime`` (before: epoch
seconds beside ``created_at_datetime``), and parses requests from the service model. Everything the package needs
from moto's insides is named here, and nowhere else (``tests/unit/test_import_graph.py`` keeps it so), so that a new
moto is one module to read and :mod:`.gate` can check all of it before a run relies on it:

- the classes and registries the layer reads or patches (re-exported below);
- :data:`PATCH_TARGETS`: every method any part of the layer replaces, with the parameters the replacement relies on;
  :func:`patch` refuses a target that is not in the table, so the table is complete by construction;
- :class:`RecordCodec`: how this moto stores a record's data and arrival time, found by asking moto's own
  ``Record.to_json`` (:func:`record_codec`), never by guessing from a value's type;
- the few private hooks of moto's mock the plugin's shared mock needs (:func:`mock_depth`, :func:`reset_backends`);
- moto's server application, served quietly on loopback by :mod:`.endpoint_server` (:func:`wsgi_server`, checked by
  :func:`server_problems`).

The public ``moto.mock_aws`` is used where it is needed, as any user would.
docs/fidelity.md ("Which moto") says which releases are supported and how to add one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import datetime
import functools
import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

from moto.core.exceptions import JsonRESTError, ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.firehose.exceptions import InvalidArgumentException, ResourceInUseException, ValidationException
from moto.firehose.models import FirehoseBackend, firehose_backends
from moto.firehose.responses import FirehoseResponse
from moto.iam.models import IAMBackend
from moto.kinesis.exceptions import StreamCannotBeUpdatedError
from moto.kinesis.models import Consumer, KinesisBackend, Record, Shard, Stream, kinesis_backends
from moto.kinesis.responses import KinesisResponse
from moto.kinesis.utils import compose_shard_iterator, decompose_shard_iterator
from moto.opensearch.models import OpenSearchDomain, OpenSearchServiceBackend
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

#: The releases this code was run against: the lowest the metadata admits and the newest on the registry when it was
#: written (tox -e moto-lowest, moto-newest), and the one before the newest.
TESTED_RELEASES = ("5.2.3", "5.2.5", "5.2.6")


def supported_range() -> str:
    """The moto releases the installed package's metadata admits (pyproject.toml's dependency), e.g. ``>=5.2.3,<5.3``."""
    from packaging.requirements import Requirement

    try:
        requires = metadata.requires("pytest-kinesis-limits") or []
    except metadata.PackageNotFoundError:
        requires = []
    for line in requires:
        requirement = Requirement(line)
        if requirement.name == "moto" and not requirement.marker:
            lower_first = sorted(requirement.specifier, key=lambda spec: not spec.operator.startswith(">"))
            return ",".join(str(spec) for spec in lower_first)
    return "(unknown: the package's metadata names no moto)"


def moto_version() -> str:
    """The installed moto's version (from its metadata, as pip sees it)."""
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:  # a source checkout on sys.path
        import moto

        return str(getattr(moto, "__version__", "unknown"))


# ------------------------------------------------------------------------------------------------ patch table
@dataclass(frozen=True)
class PatchTarget:
    """A moto method the layer replaces. ``params``: the parameter names (``self`` first) the replacement receives
    by position or calls the original with; ``None`` when it forwards ``*args, **kwargs`` untouched."""

    owner: type
    name: str
    params: tuple[str, ...] | None

    @property
    def key(self) -> str:
        return f"{self.owner.__name__}.{self.name}"


def _targets(owner: type, *specs: tuple[str, tuple[str, ...] | None]) -> list[PatchTarget]:
    return [PatchTarget(owner, name, params) for name, params in specs]


_SELF = ("self",)
_ARN_NAME = ("self", "stream_arn", "stream_name")
#: Every method the offline layer patches (Kinesis layer, Firehose simulation, IAM propagation, search stand-in).
PATCH_TARGETS: dict[str, PatchTarget] = {t.key: t for t in [
    *_targets(KinesisBackend,
              ("describe_stream", _ARN_NAME),
              ("create_stream", ("self", "stream_name", "shard_count", "stream_mode", "retention_period_hours")),
              ("delete_stream", _ARN_NAME),
              ("list_streams", None),
              *((name, None) for name in (
                  "add_tags_to_stream", "remove_tags_from_stream", "increase_stream_retention_period",
                  "decrease_stream_retention_period", "enable_enhanced_monitoring", "disable_enhanced_monitoring",
                  "update_stream_mode", "start_stream_encryption", "stop_stream_encryption")),
              ("register_stream_consumer", ("self", "stream_arn", "consumer_name")),
              ("deregister_stream_consumer", ("self", "stream_arn", "consumer_name", "consumer_arn")),
              ("describe_stream_consumer", ("self", "stream_arn", "consumer_name", "consumer_arn")),
              ("list_stream_consumers", ("self", "stream_arn")),
              ("put_records", (*_ARN_NAME, "records")),
              ("put_record", (*_ARN_NAME, "partition_key", "explicit_hash_key", "data")),
              ("get_records", ("self", "stream_arn", "shard_iterator", "limit")),
              ("get_shard_iterator", (*_ARN_NAME, "shard_id", "shard_iterator_type", "starting_sequence_number",
                                      "at_timestamp")),
              ("split_shard", (*_ARN_NAME, "shard_to_split", "new_starting_hash_key")),
              ("merge_shards", (*_ARN_NAME, "shard_to_merge", "adjacent_shard_to_merge")),
              ("update_shard_count", (*_ARN_NAME, "target_shard_count"))),
    *_targets(Stream,
              ("put_record", ("self", "partition_key", "explicit_hash_key", "data")),
              ("split_shard", ("self", "shard_to_split", "new_starting_hash_key")),
              ("merge_shards", ("self", "shard_to_merge", "adjacent_shard_to_merge")),
              ("to_json", None), ("to_json_summary", _SELF)),
    *_targets(Shard, ("to_json", _SELF)),
    *_targets(Consumer, ("to_json", ("self", "include_stream_arn"))),
    *_targets(KinesisResponse, ("get_records", _SELF), ("put_records", _SELF), ("create_stream", _SELF)),
    *_targets(FirehoseBackend,
              ("create_delivery_stream", (
                  "self", "region", "delivery_stream_name", "delivery_stream_type",
                  "kinesis_stream_source_configuration", "delivery_stream_encryption_configuration_input",
                  "s3_destination_configuration", "extended_s3_destination_configuration",
                  "redshift_destination_configuration", "elasticsearch_destination_configuration",
                  "splunk_destination_configuration", "http_endpoint_destination_configuration",
                  "snowflake_destination_configuration", "iceberg_destination_configuration", "tags")),
              ("delete_delivery_stream", ("self", "delivery_stream_name")),
              ("put_record_batch", ("self", "delivery_stream_name")),
              ("update_destination", ("self", "delivery_stream_name"))),
    *_targets(FirehoseResponse, ("create_delivery_stream", _SELF)),
    *_targets(BaseResponse, ("setup_class", None)),
    *_targets(IAMBackend, ("create_role", ("self", "role_name")), ("put_role_policy", ("self", "role_name")),
              ("attach_role_policy", ("self", "policy_arn", "role_name"))),
    *_targets(OpenSearchDomain, ("to_dict", _SELF)),
    *_targets(OpenSearchServiceBackend, ("create_domain", None), ("delete_domain", ("self", "domain_name"))),
]}


#: Methods the layer *adds* to moto (moto lacks the operation): each must still be missing, or moto now implements
#: it and the layer's would hide moto's (the gate says so).
ADDED_METHODS: dict[str, tuple[type, str]] = {
    "KinesisResponse.subscribe_to_shard": (KinesisResponse, "subscribe_to_shard"),
}


def target_problems(targets: dict[str, PatchTarget] | None = None) -> list[str]:
    """What is wrong with this moto for the patch table: each missing method or changed signature, one line each;
    an added method moto now has; a stubber that cannot stream an answer."""
    problems = [f"moto now implements {key}: review the layer's own before it hides moto's"
                for key, (owner, name) in ADDED_METHODS.items() if targets is None and hasattr(owner, name)]
    if targets is None:
        problems += _stubber_problems()
    for key, target in (PATCH_TARGETS if targets is None else targets).items():
        found = getattr(target.owner, target.name, None)
        if not callable(found):
            problems.append(f"{key} is missing")
            continue
        if target.params is None:
            continue
        try:
            names = tuple(inspect.signature(found).parameters)
        except (TypeError, ValueError):
            problems.append(f"{key} has no readable signature")
            continue
        if names[:len(target.params)] != target.params:
            missing = [name for name in target.params if name not in names]
            problems.append(f"{key} has no parameter {', '.join(missing)}" if missing else
                            f"{key}{_signature(names[:len(target.params)])} is not {key}{_signature(target.params)}")
    return problems


def add_method(stack: contextlib.ExitStack, key: str, method: Callable[..., Any]) -> None:
    """Add ``method`` (``self`` first) as the :data:`ADDED_METHODS` entry ``key``, removed when ``stack`` closes."""
    owner, name = ADDED_METHODS[key]
    if hasattr(owner, name):
        raise IncompatibleMoto(f"moto now implements {key}: review the layer's own before it hides moto's")
    stack.enter_context(mock.patch.object(owner, name, _as_method(method), create=True))


# ------------------------------------------------------------------------------- answers streamed as they are made
class LazyBody:
    """An answer's body made while the client reads it (an event stream): ``chunks`` yields bytes. moto's in-memory
    answers hold bytes; :func:`stream_lazy_bodies` lets its stubber hand the client this instead, and moto's server
    streams any iterable body already."""

    def __init__(self, chunks: Any) -> None:
        self.chunks = iter(chunks)

    def __iter__(self) -> Any:
        return self.chunks


def _stubber_problems() -> list[str]:
    from moto.core import botocore_stubber

    raw = getattr(botocore_stubber, "MockRawResponse", None)
    if not isinstance(raw, type) or not callable(getattr(raw, "stream", None)):
        return ["moto.core.botocore_stubber.MockRawResponse (with stream()) is missing: SubscribeToShard's event "
                "stream cannot reach an in-process client"]
    return []


def stream_lazy_bodies(stack: contextlib.ExitStack) -> None:
    """While ``stack`` is open, moto's in-memory answers with a :class:`LazyBody` stream it chunk by chunk (botocore
    reads an event stream through ``raw.stream()``), so the body is made as the client reads it."""
    from moto.core import botocore_stubber

    base = botocore_stubber.MockRawResponse

    class LazyRawResponse(base):  # type: ignore[misc, valid-type]
        def __init__(self, response_input: Any) -> None:
            self._lazy = response_input if isinstance(response_input, LazyBody) else None
            super().__init__(b"" if self._lazy is not None else response_input)

        def stream(self, **kwargs: Any) -> Any:
            if self._lazy is None:
                yield from super().stream(**kwargs)
                return
            for chunk in self._lazy:
                if chunk:
                    yield chunk

        def close(self) -> None:
            lazy, self._lazy = self._lazy, None
            if lazy is not None:
                getattr(lazy.chunks, "close", lambda: None)()
            super().close()

    stack.enter_context(mock.patch.object(botocore_stubber, "MockRawResponse", LazyRawResponse))


def _signature(names: tuple[str, ...]) -> str:
    return f"({', '.join(names)})"


def original(key: str) -> Callable[..., Any]:
    """The method a target names, as it is now (call before patching to keep the original)."""
    target = PATCH_TARGETS[key]
    return getattr(target.owner, target.name)  # type: ignore[no-any-return]


def _as_method(func: Callable[..., Any]) -> Callable[..., Any]:
    # functools.partial objects are not descriptors: wrap them so ``instance.method(...)`` binds ``self``.
    if inspect.isfunction(func):
        return func

    @functools.wraps(func)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return func(self, *args, **kwargs)

    return method


def patch(stack: contextlib.ExitStack, key: str, replacement: Callable[..., Any]) -> None:
    """Replace the method ``key`` names (``"KinesisBackend.put_records"``) class-wide until ``stack`` closes
    (``unittest.mock.patch.object``: undone on exit, chains with other patches). Only targets of
    :data:`PATCH_TARGETS` can be patched: a new one is added there, where the gate checks it."""
    target = PATCH_TARGETS[key]
    stack.enter_context(mock.patch.object(target.owner, target.name, _as_method(replacement)))


def patch_all(stack: contextlib.ExitStack, table: list[tuple[str, Callable[..., Any]]]) -> None:
    """:func:`patch` for each ``(key, replacement)`` of ``table``."""
    for key, replacement in table:
        patch(stack, key, replacement)


# ----------------------------------------------------------------------------------------------- record codec
class IncompatibleMoto(RuntimeError):
    """This moto stores or parses something in a way the layer does not know (the gate turns it into one line)."""


@dataclass(frozen=True)
class RecordCodec:
    """How this moto keeps a Kinesis record: ``Data`` as base64 text or as raw bytes (in what its request parser
    hands the backend, in ``Record.data`` and in ``Stream.put_record``'s argument alike), arrival as epoch seconds
    (``created_at`` plus ``created_at_datetime``) or as a naive UTC ``datetime`` (``created_at``).

    The layer keeps moto's form of a record's data (no decoding on the write path) and asks the codec for its size,
    its bytes and its base64 text; a value of the wrong type is an error, never a size of 0.
    """

    base64_data: bool
    datetime_arrival: bool

    # Data -------------------------------------------------------------------------------------------------
    def size(self, value: object) -> int:
        """Bytes of data in ``value`` (moto's form of a record's ``Data``; None or empty: 0)."""
        if type(value) is bytes and not self.base64_data:  # the common case first: every stored record's data
            return len(value)
        if value is None or value == "" or value == b"":
            return 0
        if self.base64_data:
            if not isinstance(value, str):
                raise IncompatibleMoto(f"moto handed the layer {type(value).__name__} data where its codec expects "
                                       "base64 text")
            n = len(value)
            return n * 3 // 4 - (2 if value.endswith("==") else 1 if value.endswith("=") else 0)
        if not isinstance(value, (bytes, bytearray)):
            raise IncompatibleMoto(f"moto handed the layer {type(value).__name__} data where its codec expects bytes")
        return len(value)

    def to_bytes(self, value: object) -> bytes:
        """The data's bytes."""
        if type(value) is bytes and not self.base64_data:  # already the bytes (immutable): no check, no copy
            return value
        if value is None or value == "" or value == b"":
            return b""
        self.size(value)  # the type check
        return base64.b64decode(value) if self.base64_data else bytes(value)  # type: ignore[arg-type]

    def to_base64(self, value: object) -> str:
        """The data as base64 text (what a JSON 1.1 answer carries for a blob)."""
        if self.base64_data:
            self.size(value)
            return value or ""  # type: ignore[return-value]
        return binascii.b2a_base64(self.to_bytes(value), newline=False).decode("ascii")

    def from_bytes(self, data: bytes) -> str | bytes:
        """moto's form of ``data`` (what its own callers pass to ``Stream.put_record``)."""
        return base64.b64encode(data).decode("ascii") if self.base64_data else bytes(data)

    @staticmethod
    def request_time(value: object) -> float:
        """A request's timestamp (GetShardIterator ``Timestamp``) as epoch seconds: moto 5.2.6 parses it into a
        ``datetime`` from the service model, earlier releases hand over the JSON number."""
        if isinstance(value, datetime.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)).timestamp()
        return float(value)  # type: ignore[arg-type]

    # Records ----------------------------------------------------------------------------------------------
    @staticmethod
    def stamp(arrival_s: float) -> tuple[float, datetime.datetime]:
        """An arrival for :meth:`new_record`: epoch seconds of the layer's clock and moto's naive UTC datetime (made
        once for all the records of a request)."""
        return arrival_s, datetime.datetime.fromtimestamp(arrival_s, datetime.timezone.utc).replace(tzinfo=None)

    def new_record(self, partition_key: str, data: object, sequence_number: int, explicit_hash_key: str | None,
                   arrival: tuple[float, datetime.datetime]) -> Record:
        """A moto ``Record`` as moto itself would hold it, arrived at ``arrival`` (:meth:`stamp`: the layer's clock;
        moto stamps the wall clock). ``data`` is already in moto's form."""
        # object.__new__, not Record.__new__: moto's model base class keeps every instance it makes in a class-level
        # list (for its CloudFormation and reset machinery), which kept every record of a run alive and made cyclic
        # garbage collection walk hundreds of thousands of them (issue 23: about 15 % of the main job's CPU).
        record = object.__new__(Record)
        record.partition_key = partition_key
        record.data = data
        record.sequence_number = sequence_number
        record.explicit_hash_key = explicit_hash_key
        seconds, arrived = arrival
        if self.datetime_arrival:
            record.created_at = arrived
        else:
            record.created_at_datetime = arrived
            record.created_at = seconds
        record.__dict__[_ARRIVAL_ATTR] = seconds
        return record

    def arrival(self, record: Record) -> float:
        """The record's arrival, epoch seconds (the layer's own note, else moto's stamp)."""
        seconds = record.__dict__.get(_ARRIVAL_ATTR)
        if seconds is not None:
            return float(seconds)
        stamp = record.created_at
        if isinstance(stamp, datetime.datetime):
            return (stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)).timestamp()
        return float(stamp)

    def record_bytes(self, record: Record) -> bytes:
        return self.to_bytes(record.data)

    def json_record(self, record: Record) -> dict[str, Any]:
        """A record as the JSON 1.1 protocol sends it (GetRecords, SubscribeToShardEvent): the blob as base64 text,
        the timestamp as epoch seconds."""
        return {"Data": self.to_base64(record.data), "PartitionKey": record.partition_key,
                "SequenceNumber": str(record.sequence_number), "ApproximateArrivalTimestamp": self.arrival(record)}

    def json_records(self, records: Iterable[Record]) -> str:
        """The records as a JSON array, each as :meth:`json_record` gives it, written directly (ASCII, as json.dumps
        writes it). A GetRecords answer carries up to 10,000: JSON's encoder walking a dict made for each was a
        fifth of a 50,000-record scenario's read (issue 23)."""
        quote, arrival, data = json.encoder.encode_basestring_ascii, self.arrival, self.to_base64
        return "[" + ",".join([
            f'{{"Data":"{data(r.data)}","PartitionKey":{quote(r.partition_key)},'
            f'"SequenceNumber":"{r.sequence_number}","ApproximateArrivalTimestamp":{arrival(r)!r}}}'
            for r in records]) + "]"

    def record_size(self, record: Record) -> int:
        """Data + partition key bytes of a stored record (the size every Kinesis limit counts)."""
        return self.size(record.data) + len(record.partition_key.encode("utf-8"))


_ARRIVAL_ATTR = "_kinesis_fidelity_arrival"
_PROBE = b"\x00probe\xff"


@functools.cache
def record_codec() -> RecordCodec:
    """This moto's codec, found by asking moto's own ``Record`` (its constructor and ``to_json``, which answers
    GetRecords) what it makes of a base64 text and of a timestamp. :class:`IncompatibleMoto` if neither form fits."""
    text = base64.b64encode(_PROBE).decode("ascii")
    record = Record("k", text, 1, None)  # type: ignore[arg-type]
    try:
        answered = record.to_json()["Data"]
    except Exception as exc:  # noqa: BLE001 - any failure here means moto's record is not what we know
        raise IncompatibleMoto(f"moto's Record.to_json failed on a probe record: {exc!r}") from exc
    if answered == _PROBE:
        base64_data = True  # moto decodes the stored text on the way out
    elif answered in (text, text.encode("ascii")):
        base64_data = False  # moto hands back what it stores: raw bytes
    else:
        raise IncompatibleMoto(f"moto's Record.to_json answered {answered!r} for stored base64 text {text!r}")
    stamp = record.created_at
    if isinstance(stamp, datetime.datetime):
        datetime_arrival = True
    elif isinstance(stamp, (int, float)) and isinstance(getattr(record, "created_at_datetime", None),
                                                        datetime.datetime):
        datetime_arrival = False
    else:
        raise IncompatibleMoto(f"moto's Record.created_at is a {type(stamp).__name__}, neither epoch seconds "
                               "(with created_at_datetime) nor a datetime")
    return RecordCodec(base64_data=base64_data, datetime_arrival=datetime_arrival)


# --------------------------------------------------------------------------------------- moto's mock, privately
def mock_depth() -> int:
    """How many ``mock_aws`` are active now (moto's ``MockAWS._nested_count``)."""
    from moto.core.models import MockAWS

    return int(MockAWS._nested_count)


def mock_class() -> type:
    """moto's ``MockAWS`` (the class ``mock_aws()`` returns an instance of), whose start and stop the shared mock
    guards."""
    from moto.core.models import MockAWS

    return MockAWS


def reset_backends(remove_data: bool) -> None:
    """Empty every moto backend, as moto does when the outermost ``mock_aws`` starts (and, with ``remove_data``,
    stops)."""
    from moto.core.base_backend import BackendDict
    from moto.core.model_instances import reset_model_data

    BackendDict.reset()
    if remove_data:
        reset_model_data()


def in_memory_answer(request: Any, service_url: str) -> Any:
    """moto's answer to a botocore request, without a mock and without a network: moto's own ``before-send``
    handler (``BotocoreStubber``), enabled for this one call, answers it as if sent to ``service_url`` (the AWS
    address moto routes by). A ``botocore.awsrequest.AWSResponse``, or None when no moto backend serves it."""
    from moto.core.botocore_stubber import BotocoreStubber

    stubber = BotocoreStubber()
    stubber.enabled = True
    routed = copy.copy(request)
    sent, aws = urlsplit(request.url), urlsplit(service_url)
    routed.url = urlunsplit((aws.scheme, aws.netloc, sent.path, sent.query, sent.fragment))
    return stubber(event_name="before-send", request=routed)


# --------------------------------------------------------------------------------------- moto's server, privately
#: What the offline endpoint takes from moto's server (``moto.moto_server.werkzeug_app``): the application that
#: answers every service moto has, routed by each request's signature, and (moto 5.2.6; not 5.2.3) the request handler
#: that keeps S3's underscored metadata headers; moto 5.2.3's server uses werkzeug's own handler, and so does the
#: endpoint on it. ``ThreadedMotoServer`` (public) is built from the same, but logs every request to standard error
#: and cannot be stopped from answering (``shutdown`` only).
_SERVER_NAMES = ("DomainDispatcherApplication", "create_backend_app")


def server_problems() -> list[str]:
    """What this moto's server lacks for :func:`wsgi_server`, one line each (empty: it can serve)."""
    try:
        from moto.moto_server import werkzeug_app
    except ImportError as exc:
        return [f"moto.moto_server.werkzeug_app cannot be imported ({exc}); install moto[server]"]
    problems = [f"moto.moto_server.werkzeug_app.{name} is missing" for name in _SERVER_NAMES
                if not hasattr(werkzeug_app, name)]
    if not problems:
        from werkzeug.serving import WSGIRequestHandler

        if not issubclass(_request_handler(), WSGIRequestHandler):
            problems.append("moto's MotoRequestHandler is no longer a werkzeug WSGIRequestHandler")
        if tuple(inspect.signature(werkzeug_app.DomainDispatcherApplication).parameters)[:1] != ("create_app",):
            problems.append("moto's DomainDispatcherApplication no longer takes create_app first")
    return problems


def _request_handler() -> type:
    """moto's request handler for its server where it has one (5.2.6), else werkzeug's, which moto 5.2.3's server
    uses."""
    from moto.moto_server import werkzeug_app
    from werkzeug.serving import WSGIRequestHandler

    return getattr(werkzeug_app, "MotoRequestHandler", WSGIRequestHandler)  # type: ignore[no-any-return]


def wsgi_server(host: str, port: int) -> Any:
    """A werkzeug server (bound, not yet serving) of moto's application on ``host:port`` (0: a free port), quiet: no
    line per request. IncompatibleMoto naming what is missing when this moto's server cannot be built."""
    problems = server_problems()
    if problems:
        raise IncompatibleMoto("; ".join(problems))
    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class QuietHandler(_request_handler()):  # type: ignore[misc]
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass  # werkzeug logs every request at INFO: a throughput test would print thousands of lines

    return make_server(host, port, DomainDispatcherApplication(create_backend_app), threaded=True,
                       request_handler=QuietHandler)


def lambda_backend(account_id: str, region: str) -> Any:
    """moto's Lambda backend (for Kinesis event-source mappings); imported when a stream has one."""
    from moto.awslambda.utils import get_backend

    return get_backend(account_id, region)


__all__ = [
    "ADDED_METHODS", "LazyBody", "PATCH_TARGETS", "TESTED_RELEASES", "ActionResult", "BaseResponse", "Consumer", "FirehoseBackend",
    "FirehoseResponse", "IAMBackend", "IncompatibleMoto", "InvalidArgumentException", "JsonRESTError",
    "KinesisBackend", "KinesisResponse", "OpenSearchDomain", "OpenSearchServiceBackend", "PatchTarget", "Record",
    "RecordCodec", "ResourceInUseException", "ServiceException", "Shard", "Stream", "StreamCannotBeUpdatedError",
    "ValidationException", "compose_shard_iterator", "decompose_shard_iterator", "firehose_backends",
    "get_partition", "in_memory_answer", "kinesis_backends", "lambda_backend", "mock_class", "mock_depth", "moto_version", "original",
    "add_method", "patch", "patch_all", "record_codec", "stream_lazy_bodies", "reset_backends", "s3_backends", "server_problems", "supported_range",
    "target_problems", "wsgi_server",
]
