"""Find and delete leftovers, safely in an account others use too.

Rules, in the order they are applied (each has a test in ``tests/unit/test_sweep.py``):

1. **Ours only.** Only resources tagged ``created-by=pytest-kinesis-limits`` are ever touched (and, with a run id,
   only that run's, by its ``run-id`` tag). Enhanced fan-out consumers are read on every stream of the region (a
   test may register one on a stream of the user's); where a backend cannot list a consumer's tags, one named as
   ``make_consumer`` names them (``<prefix>-<run id>-<worker>-c<n>``) is taken as tagged with that run.
2. **Finished runs only.** A run is swept only when its newest resource is older than ``older_than_s``
   (``sweep --older-than``, default 2 h), by the services' own creation timestamps (``StreamCreationTimestamp``,
   ``CreateTimestamp``, ``CreationDate``, ``CreateDate``): a session that is still running keeps making
   resources, so it is left alone, as is a run whose age cannot be told. A run named by ``--run-id`` is swept
   whatever its age.
3. **This region only.** Streams and delivery streams are listed in the swept region only. Buckets are listed
   account-wide and swept only when they are in this region. IAM roles are global: a role is swept when its
   ``region`` tag names this region, or, for a role without that tag, when its run has a stream or delivery
   stream swept here.
4. **Order.** Delivery streams first, each waited for until it is gone (its last flush writes to the bucket and
   search domain), then OpenSearch domains, consumers, streams, buckets and roles; the domains, buckets and roles of
   a run whose delivery stream could not be deleted are left for the next sweep.

Plain library code (no pytest); ``pytest-kinesis-limits sweep`` is its command line.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pytest_kinesis_limits.kinesis import resources
from pytest_kinesis_limits.clock import Clock, RealClock
from pytest_kinesis_limits.firehose.destinations import delete_search_domain
from pytest_kinesis_limits.firehose.provision import delete_delivery_stream_when_created, delete_firehose_role
from pytest_kinesis_limits.kinesis.resources import CREATED_BY, TAG_CREATED_BY, TAG_REGION, TAG_RUN_ID

if TYPE_CHECKING:
    import boto3
    from botocore.client import BaseClient

    from pytest_kinesis_limits.backends import Backend

ROLE_PATH = "/pytest-kinesis-limits/"

#: The default of ``--older-than``. A live session makes resources every few minutes: each test makes its own,
#: and a test's body is bounded by --kinesis-timeout (1800 s live) and each wait around it by the wait policy
#: (900 s live). A run whose newest resource is two hours old has ended (or was killed).
DEFAULT_OLDER_THAN_S = 2 * 60 * 60

#: Deletion order: a delivery stream's last flush writes to its bucket (and search domain), and it reads with its
#: role.
KINDS = ("delivery-stream", "search-domain", "consumer", "stream", "bucket", "role")

#: S3's legacy location constraints (GetBucketLocation): no constraint is us-east-1, ``EU`` is eu-west-1.
_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}

_RUN_ID_TIME = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d{2})")


@dataclass(frozen=True)
class Found:
    """One tagged resource: what it is, its run, when the service says it was made and where it lives."""

    kind: str  # one of KINDS
    name: str
    run_id: str | None
    created: float | None  # epoch seconds, from the service; None when it gives none
    region: str | None  # where it lives (streams, buckets) or, for a role, the region its tag says it serves

    @property
    def run(self) -> str:
        """The run it belongs to (a resource without a run-id tag is a run of its own)."""
        return self.run_id or f"{self.kind}:{self.name}"


@dataclass
class Plan:
    """What a sweep of ``region`` deletes (in order) and what it leaves, each with the reason."""

    region: str
    doomed: list[Found] = field(default_factory=list)
    left: list[tuple[Found, str]] = field(default_factory=list)
    ages: dict[str, float | None] = field(default_factory=dict)  # run -> age in seconds (None: unknown)


def format_age(seconds: float) -> str:
    """``3 h 05 min``, ``12 min``, ``40 s`` (negative ages, a clock ahead of ours, read as 0 s)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def spell_age(seconds: float) -> str:
    """An age as ``--older-than`` takes it: ``2h``, ``90m``, ``1d``, ``45s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def run_started(run_id: str, now: float) -> float | None:
    """When a run began, from its id (``resources.new_run_id``: UTC ``%m%d%H%M`` then 4 hex digits), or None.

    The id has no year: it is the latest such moment not more than a day after ``now`` (a day of clock skew
    between the machine that ran the tests and this one), so a run from 31 December swept on 2 January is two
    days old, not minus a year; 29 February looks back to the last leap year.
    """
    match = _RUN_ID_TIME.match(run_id)
    if not match or len(run_id) != 12:
        return None
    month, day, hour, minute = (int(g) for g in match.groups())
    year = time.gmtime(now).tm_year + 1
    for candidate in range(year, year - 9, -1):
        try:
            moment = calendar.timegm(datetime(candidate, month, day, hour, minute).timetuple())
        except ValueError:
            continue  # not a date in that year (29 February, 31 April, month 13)
        if moment <= now + 86400:
            return float(moment)
    return None


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _tags(pairs: Sequence[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in pairs}


def _ours(tags: dict[str, str], run_id: str | None) -> bool:
    return tags.get(TAG_CREATED_BY) == CREATED_BY and (run_id is None or tags.get(TAG_RUN_ID) == run_id)


# ------------------------------------------------------------------------------------------------- finding
#: The error codes of a resource that no longer exists (Kinesis and Firehose, IAM, S3).
GONE = frozenset({"ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket"})


def _tagged(kind: str, names: Iterable[str], tags_of: Callable[[str], Sequence[dict[str, str]]],
            created_of: Callable[[str], Any], region_of: Callable[[str, dict[str, str]], str | None],
            run_id: str | None, *, unreadable_tags_skip: bool = False) -> Iterator[Found]:
    """The resources of one kind that this tool tagged (of ``run_id``, if given): each name's tags (``tags_of``; a
    ClientError propagates, unless ``unreadable_tags_skip``: then the resource is not ours), then its creation time
    (``created_of``; a ClientError: unknown) and region."""
    for name in names:
        try:
            tags = _tags(tags_of(name))
        except ClientError as exc:
            # Gone between the listing and this call (another sweep, the run's own teardown): nothing to do.
            if not unreadable_tags_skip and exc.response.get("Error", {}).get("Code") not in GONE:
                raise
            continue
        if not _ours(tags, run_id):
            continue
        try:
            created = created_of(name)
        except ClientError:
            created = None
        yield Found(kind, name, tags.get(TAG_RUN_ID), _epoch(created), region_of(name, tags))


def _streams(client: BaseClient, run_id: str | None, region: str) -> Iterator[Found]:
    summaries: dict[str, dict[str, Any]] = {}

    def names() -> Iterator[str]:
        for page in client.get_paginator("list_streams").paginate():
            summaries.update((s["StreamName"], s) for s in page.get("StreamSummaries", []))
            yield from page.get("StreamNames", [])

    def created(name: str) -> Any:
        listed = summaries.get(name, {}).get("StreamCreationTimestamp")
        return listed if listed is not None else client.describe_stream_summary(
            StreamName=name)["StreamDescriptionSummary"].get("StreamCreationTimestamp")

    yield from _tagged("stream", names(), lambda name: client.list_tags_for_stream(StreamName=name).get("Tags", []),
                       created, lambda name, tags: region, run_id)


#: A consumer ``make_consumer`` named: ``<prefix>-<run id>-<worker>-c<n>`` (kinesis.resources.Namer, new_run_id).
_CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9-]*?-(?P<run>\d{8}[0-9a-f]{4})-[a-z0-9-]+-c\d+$")


def _consumer_tags(client: BaseClient, arn: str, name: str) -> dict[str, str] | None:
    """A consumer's tags (ListTagsForResource); where the backend has no such operation (moto, the emulators), the
    tags its name implies when it is named as ``make_consumer`` names (None: not ours)."""
    try:
        return _tags(client.list_tags_for_resource(ResourceARN=arn).get("Tags", []))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in GONE:
            return None
        if code not in ("UnknownOperationException", "NotImplemented", "InternalFailure", "InvalidAction"):
            raise
    except NotImplementedError:  # moto in-process
        pass
    match = _CONSUMER_NAME.match(name)
    return {TAG_CREATED_BY: CREATED_BY, TAG_RUN_ID: match.group("run")} if match else None


def _consumers(client: BaseClient, run_id: str | None, region: str) -> Iterator[Found]:
    """Consumers this tool registered, on any stream of the region: on its own streams they go with the stream, but
    ``make_consumer`` also registers on a stream of the user's, where a killed run would leave them billed per
    consumer-shard-hour. ``name`` is the consumer's ARN (what DeregisterStreamConsumer takes)."""
    for page in client.get_paginator("list_streams").paginate():
        for summary in page.get("StreamSummaries", []):
            try:
                consumers = [consumer for page in client.get_paginator("list_stream_consumers").paginate(
                    StreamARN=summary["StreamARN"]) for consumer in page.get("Consumers", [])]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in GONE:
                    continue
                raise
            for consumer in consumers:
                tags = _consumer_tags(client, consumer["ConsumerARN"], consumer["ConsumerName"])
                if tags is None or not _ours(tags, run_id):
                    continue
                yield Found("consumer", consumer["ConsumerARN"], tags.get(TAG_RUN_ID),
                            _epoch(consumer.get("ConsumerCreationTimestamp")), region)


def _bucket_region(client: BaseClient, bucket: dict[str, Any]) -> str | None:
    if bucket.get("BucketRegion"):
        return str(bucket["BucketRegion"])
    try:
        location = client.get_bucket_location(Bucket=bucket["Name"]).get("LocationConstraint")
    except ClientError:
        return None
    return _LEGACY_LOCATIONS.get(location, location)


def _buckets(client: BaseClient, run_id: str | None) -> Iterator[Found]:
    pages = client.get_paginator("list_buckets").paginate() if client.can_paginate("list_buckets") else \
        [client.list_buckets()]  # ListBuckets pages (ContinuationToken) since 2024; older botocore: one page
    buckets = {bucket["Name"]: bucket for page in pages for bucket in page.get("Buckets", [])}
    # An untagged bucket answers NoSuchTagSet: a ClientError, skipped like one not ours to read.
    yield from _tagged("bucket", buckets, lambda name: client.get_bucket_tagging(Bucket=name).get("TagSet", []),
                       lambda name: buckets[name].get("CreationDate"),
                       lambda name, tags: _bucket_region(client, buckets[name]), run_id, unreadable_tags_skip=True)


def _delivery_stream_names(client: BaseClient) -> Iterator[str]:
    """Every delivery stream name (ListDeliveryStreams has no botocore paginator)."""
    kwargs: dict[str, str] = {}
    while True:
        page = client.list_delivery_streams(**kwargs)
        names = page.get("DeliveryStreamNames", [])
        yield from names
        if not page.get("HasMoreDeliveryStreams") or not names:
            return
        kwargs["ExclusiveStartDeliveryStreamName"] = names[-1]


def _delivery_streams(client: BaseClient, run_id: str | None, region: str) -> Iterator[Found]:
    yield from _tagged(
        "delivery-stream", _delivery_stream_names(client),
        lambda name: client.list_tags_for_delivery_stream(DeliveryStreamName=name).get("Tags", []),
        lambda name: client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"].get(
            "CreateTimestamp"),
        lambda name, tags: region, run_id)


def _roles(client: BaseClient, run_id: str | None) -> Iterator[Found]:
    roles = {role["RoleName"]: role for page in client.get_paginator("list_roles").paginate(PathPrefix=ROLE_PATH)
             for role in page.get("Roles", [])}
    yield from _tagged("role", roles, lambda name: client.list_role_tags(RoleName=name).get("Tags", []),
                       lambda name: roles[name].get("CreateDate"), lambda name, tags: tags.get(TAG_REGION), run_id)


def _search_domains(client: BaseClient, run_id: str | None, region: str) -> Iterator[Found]:
    """Tagged OpenSearch Service domains (the search destination's target, billed by the hour) of this region;
    none where OpenSearch is not served. DescribeDomain gives no creation time: the run id's time ages them."""
    try:
        names = [d["DomainName"] for d in client.list_domain_names().get("DomainNames", [])]
    except (BotoCoreError, ClientError):  # an emulator without OpenSearch: nothing of ours can be there
        return
    for name in names:
        arn = client.describe_domain(DomainName=name)["DomainStatus"]["ARN"]
        tags = _tags(client.list_tags(ARN=arn).get("TagList", []))
        if _ours(tags, run_id):
            yield Found("search-domain", name, tags.get(TAG_RUN_ID), None, region)


def find_tagged(backend: Backend, *, run_id: str | None = None, session: boto3.Session | None = None) -> list[Found]:
    """Every stream, delivery stream and OpenSearch domain of the backend's region, and every bucket and role anywhere, carrying
    this tool's tag (and ``run_id``'s, if given), with creation times and regions."""
    session = session or backend.session()
    region = backend.region
    found = list(_delivery_streams(backend.client("firehose", session=session), run_id, region))
    kinesis = backend.client("kinesis", session=session)
    found += _consumers(kinesis, run_id, region)
    found += _streams(kinesis, run_id, region)
    found += _buckets(backend.client("s3", session=session), run_id)
    found += _roles(backend.client("iam", session=session), run_id)
    found += _search_domains(backend.client("opensearch", session=session), run_id, region)
    return found


# ------------------------------------------------------------------------------------------------ planning
def _run_ages(found: Sequence[Found], now: float) -> dict[str, float | None]:
    """Each run's age: since its newest resource was made, else since its id's time, else unknown (None)."""
    made: dict[str, list[float]] = {}
    ids: dict[str, str | None] = {}
    for item in found:
        made.setdefault(item.run, [])
        if item.created is not None:
            made[item.run].append(item.created)
        ids[item.run] = item.run_id
    ages: dict[str, float | None] = {}
    for run, times in made.items():
        run_id = ids[run]
        newest = max(times) if times else (run_started(run_id, now) if run_id else None)
        ages[run] = None if newest is None else now - newest
    return ages


def plan_sweep(found: Sequence[Found], *, region: str, run_id: str | None = None,
               older_than_s: float = DEFAULT_OLDER_THAN_S, now: float | None = None) -> Plan:
    """Apply the rules of this module to what :func:`find_tagged` found; messages name ``sweep``'s options."""
    now = time.time() if now is None else now
    plan = Plan(region=region, ages=_run_ages(found, now))
    old_enough: list[Found] = []
    for item in found:
        age = plan.ages[item.run]
        if run_id is not None or older_than_s <= 0 or (age is not None and age >= older_than_s):
            old_enough.append(item)
        elif age is None:
            plan.left.append((item, f"run {item.run}: its age is unknown (no creation time from the service, no "
                                    f"time in the run id); name it with --run-id {item.run} to sweep it"))
        else:
            plan.left.append((item, f"run {item.run} is {format_age(age)} old (its newest resource), younger than "
                                    f"--older-than {spell_age(older_than_s)}: it may still be running; name it "
                                    f"with --run-id {item.run} to sweep it anyway"))
    here = {i.run for i in old_enough if i.kind in ("stream", "delivery-stream", "search-domain")}
    for item in old_enough:
        if item.kind == "bucket" and item.region != region:
            where = item.region or "an unknown region"
            plan.left.append((item, f"the bucket is in {where}, not {region}"
                                    + (f": sweep it with --region {item.region}" if item.region else "")))
        elif item.kind == "role" and item.region is not None and item.region != region:
            plan.left.append((item, f"the role serves {item.region} (its {TAG_REGION} tag), not {region}: sweep "
                                    f"it with --region {item.region}"))
        elif item.kind == "role" and item.region is None and item.run not in here:
            plan.left.append((item, f"IAM roles are global and this one has no {TAG_REGION} tag; run {item.run} has "
                                    f"no stream or delivery stream in {region}: sweep it with --region set to the "
                                    "region that run used"))
        else:
            plan.doomed.append(item)
    plan.doomed.sort(key=lambda i: KINDS.index(i.kind))
    return plan


# ------------------------------------------------------------------------------------------------ deleting
def _deregister(client: BaseClient, consumer_arn: str) -> None:
    """DeregisterStreamConsumer; a consumer already gone (with its stream, or another sweep) is fine."""
    try:
        client.deregister_stream_consumer(ConsumerARN=consumer_arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in GONE:
            raise


def delete_planned(backend: Backend, plan: Plan, *, policy: resources.WaitPolicy | None = None,
                   clock: Clock | None = None, session: boto3.Session | None = None
                   ) -> tuple[list[Found], list[tuple[Found, BaseException | str]]]:
    """Delete what ``plan`` dooms, in its order, waiting until each delivery stream is gone before its run's
    buckets and roles. Returns ``(deleted, failures)``; a failure is an exception or the reason it was left."""
    session = session or backend.session()
    clients = {kind: backend.client(service, session=session)
               for kind, service in (("stream", "kinesis"), ("bucket", "s3"), ("delivery-stream", "firehose"),
                                     ("role", "iam"), ("search-domain", "opensearch"))}
    policy = policy or resources.WaitPolicy(delay=5, attempts=120)
    clock = clock or RealClock()
    deleters = {
        "delivery-stream": lambda n: delete_delivery_stream_when_created(clients["delivery-stream"], n, clock,
                                                                         policy),
        "consumer": lambda arn: _deregister(clients["stream"], arn),
        "stream": lambda n: resources.delete_stream(clients["stream"], n, clock=clock, policy=policy),
        "bucket": lambda n: resources.delete_bucket(clients["bucket"], n),
        "role": lambda n: delete_firehose_role(clients["role"], n),
        "search-domain": lambda n: delete_search_domain(clients["search-domain"], n),
    }
    deleted: list[Found] = []
    failures: list[tuple[Found, BaseException | str]] = []
    blocked: dict[str, str] = {}  # run -> its delivery stream that is still there
    for item in plan.doomed:
        if item.kind in ("search-domain", "bucket", "role") and item.run in blocked:
            failures.append((item, f"left: delivery stream {blocked[item.run]} of run {item.run} could not be "
                                   "deleted, and it may still write to this bucket or domain or use this role; sweep again"))
            continue
        try:
            deleters[item.kind](item.name)
        except Exception as exc:  # reported, not swallowed
            failures.append((item, exc))
            if item.kind == "delivery-stream":
                blocked[item.run] = item.name
        else:
            deleted.append(item)
    return deleted, failures
