"""The search destination: Firehose from a Kinesis source into an Amazon OpenSearch Service index, every record
(or only the failed ones) backed up to S3.

The fifth layer of :mod:`pytest_kinesis_limits.firehose` (uses :mod:`.objects`, :mod:`.provision` and
:mod:`.handover`): what the destination is (:class:`SearchTarget`, :class:`SearchDestination`), its configuration
as CreateDeliveryStream takes it, the documented index names of each rotation period, the IAM statements scoped
to exactly one domain, and provisioning that domain (create, wait until it serves, delete). Reading the index is
:mod:`.search`. Plain library code: boto3 clients and a :class:`~pytest_kinesis_limits.clock.Clock`.

Sources (see docs/search-index.md): API_AmazonopensearchserviceDestinationConfiguration.html (fields, backup
modes, the failed-documents folder), API_AmazonopensearchserviceBufferingHints.html (1-100 MiB, 0-900 s),
es-index-rotation.html (index names), controlling-access.html ("Grant Firehose access to a public OpenSearch
Service destination"), gsgcreate-domain.html (15-30 minutes to initialize).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.firehose.delivery import poll_until
from pytest_kinesis_limits.firehose.handover import DeliveryStreamInfo
from pytest_kinesis_limits.firehose.provision import (SEARCH_READ_ACTIONS, SEARCH_WRITE_ACTIONS, DeliveryStreamError,
                                                      _tag_list)

#: The IndexRotationPeriod values (es-index-rotation.html), NoRotation first.
ROTATIONS = ("NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth")
#: S3BackupMode values of the OpenSearch Service destination.
BACKUP_MODES = ("AllDocuments", "FailedDocumentsOnly")
#: DocumentIdOptions.DefaultDocumentIdFormat values (API_DocumentIdOptions.html).
DOCUMENT_ID_FORMATS = ("FIREHOSE_DEFAULT", "NO_DOCUMENT_ID")
#: The folder failed documents go to, as the API reference spells it ("AmazonOpenSearchService-failed/ appended to
#: the key prefix", also botocore's model) and as the developer guide does (retry.html: "in the
#: AmazonOpenSearchService_failed/ folder"). The stand-in writes the first; verdicts accept both and report which.
FAILED_FOLDERS = ("AmazonOpenSearchService-failed/", "AmazonOpenSearchService_failed/")
#: The fields of a failed document's error record (retry.html, "For OpenSearch Service, each document has the
#: following JSON format").
ERROR_RECORD_FIELDS = ("attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp",
                       "esDocumentId", "esIndexName", "esTypeName", "rawData")
#: The inline policy that adds the domain to the Firehose role (a second policy beside provision's).
SEARCH_POLICY_NAME = "kinesis-limits-firehose-search"
#: The live target: one t3.small.search data node (the cheapest instance OpenSearch Service sells, catalogue
#: price.opensearch.t3_small_search) with the smallest gp3 volume it takes; our choice, see docs/search-index.md.
DOMAIN_INSTANCE_TYPE = "t3.small.search"
DOMAIN_VOLUME_GIB = 10
DOMAIN_ENGINE_VERSION = "OpenSearch_2.19"
#: Domain names: 3-28 characters, a lowercase letter then letters, digits and hyphens (API_CreateDomain.html).
DOMAIN_NAME_MAX_CHARS = 28


# ---------------------------------------------------------------------------------------------- types
@dataclass(frozen=True)
class SearchTarget:
    """An OpenSearch Service domain Firehose can deliver to."""

    name: str
    arn: str
    endpoint: str
    """DescribeDomain's ``Endpoint`` (a host name live; offline the stand-in's loopback address and path)."""
    region: str
    created_after_s: float = 0.0
    """Clock seconds from CreateDomain until the domain served (0 for a target made elsewhere)."""


@dataclass(frozen=True)
class SearchDestination:
    """How a delivery stream indexes into a :class:`SearchTarget` (the fixture's ``search=`` argument).

    ``retry_seconds`` defaults to 0 (no retries: a refused document goes to the S3 error folder at once, which
    keeps live runs short); AWS's default is the catalogue's ``firehose.opensearch.retry_seconds.default``.
    ``backup_buffer_mib``/``backup_buffer_seconds`` are the S3 backup's hints (the backup cannot use 0 s).
    """

    target: SearchTarget
    index_name: str = "seed"
    rotation: str = "NoRotation"
    backup_mode: str = "AllDocuments"
    retry_seconds: int = 0
    document_ids: str = "FIREHOSE_DEFAULT"
    backup_buffer_mib: int = field(default_factory=lambda: limits.FIREHOSE_BUFFER_MIB_MIN.value)
    backup_buffer_seconds: int = field(default_factory=lambda: limits.FIREHOSE_S3_BACKUP_BUFFER_SECONDS_MIN.value)

    def __post_init__(self) -> None:
        validate_search_destination(self)


@dataclass(frozen=True)
class SearchDeliveryStreamInfo(DeliveryStreamInfo):
    """A delivery stream into a search index made by ``make_delivery_stream(..., search=...)``.

    ``buffer_mib``/``buffer_seconds`` are the OpenSearch Service hints; ``bucket`` holds the S3 backup and the
    failed documents; ``canary_keys`` are the backup objects that existed at hand-over.
    """

    search: SearchDestination | None = None

    @property
    def target(self) -> SearchTarget:
        assert self.search is not None
        return self.search.target


# ----------------------------------------------------------------------------------------- validation
def _check_int(name: str, value: Any, low: limits.Limit, high: limits.Limit, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low.value <= value <= high.value:
        raise ValueError(f"{name}={value!r}: {what} must be an integer from {low.value} to {high.value} "
                         f"({low.source})")


def validate_search_hints(buffer_mib: int, buffer_seconds: int) -> None:
    """Raise ``ValueError`` unless both hints are within the OpenSearch Service destination's documented ranges."""
    _check_int("buffer_mib", buffer_mib, limits.FIREHOSE_OS_BUFFER_MIB_MIN, limits.FIREHOSE_OS_BUFFER_MIB_MAX,
               "the OpenSearch Service buffering size hint")
    _check_int("buffer_seconds", buffer_seconds, limits.FIREHOSE_OS_BUFFER_SECONDS_MIN,
               limits.FIREHOSE_OS_BUFFER_SECONDS_MAX, "the OpenSearch Service buffering interval hint")


def validate_search_destination(destination: SearchDestination) -> None:
    """Raise ``ValueError`` naming the first field of ``destination`` outside what AWS documents."""
    name = destination.index_name
    if not name or len(name) > limits.FIREHOSE_OS_INDEX_NAME_MAX_CHARS.value or name != name.lower() \
            or name[0] in "_-" or any(c in name for c in ' ,:"*+/\\|?#<>'):
        raise ValueError(f"index_name={name!r}: 1 to {limits.FIREHOSE_OS_INDEX_NAME_MAX_CHARS.value} lowercase "
                         f"characters, not starting with _ or -, without spaces or , : \" * + / \\ | ? # < > "
                         f"({limits.FIREHOSE_OS_INDEX_NAME_MAX_CHARS.source}; OpenSearch index naming rules)")
    for value, allowed, what in ((destination.rotation, ROTATIONS, "rotation"),
                                 (destination.backup_mode, BACKUP_MODES, "backup_mode"),
                                 (destination.document_ids, DOCUMENT_ID_FORMATS, "document_ids")):
        if value not in allowed:
            raise ValueError(f"{what}={value!r}: expected one of {', '.join(allowed)}")
    _check_int("retry_seconds", destination.retry_seconds, limits.FIREHOSE_OS_RETRY_SECONDS_MIN,
               limits.FIREHOSE_OS_RETRY_SECONDS_MAX, "RetryOptions.DurationInSeconds")
    _check_int("backup_buffer_mib", destination.backup_buffer_mib, limits.FIREHOSE_BUFFER_MIB_MIN,
               limits.FIREHOSE_BUFFER_MIB_MAX, "the S3 backup's buffering size hint")
    _check_int("backup_buffer_seconds", destination.backup_buffer_seconds, limits.FIREHOSE_S3_BACKUP_BUFFER_SECONDS_MIN,
               limits.FIREHOSE_BUFFER_SECONDS_MAX, "the S3 backup's buffering interval hint (no zero buffering)")


# ------------------------------------------------------------------------------------------ index names
def week_of_year(day: date, reading: str = "rule") -> tuple[int, int]:
    """``(year, week)`` of ``day`` for the OneWeek suffix.

    ``reading="rule"`` follows es-index-rotation.html's note: weeks start on Sunday and week 1 is the first week
    holding a Saturday of the year (so the week holding 1 January). ``reading="iso"`` is ISO-8601 (weeks start on
    Monday), which is what the same page's example gives (2016-02-25 -> ``2016-w08``; the rule gives week 09).
    """
    if reading == "iso":
        year, week, _ = day.isocalendar()
        return year, week
    if reading != "rule":
        raise ValueError(f"reading={reading!r}: expected 'rule' or 'iso'")
    first = date(day.year, 1, 1)
    since_sunday = (first.weekday() + 1) % 7
    return day.year, (day.timetuple().tm_yday - 1 + since_sunday) // 7 + 1


def index_name(base: str, rotation: str, arrival: datetime | float, *, week_reading: str = "rule") -> str:
    """The index a document arriving at ``arrival`` goes to: ``base`` plus the rotation period's part of the UTC
    arrival time (es-index-rotation.html: NoRotation ``myindex``, OneHour ``myindex-2016-02-25-13``, OneDay
    ``myindex-2016-02-25``, OneWeek ``myindex-2016-w08``, OneMonth ``myindex-2016-02``)."""
    when = (datetime.fromtimestamp(arrival, timezone.utc) if isinstance(arrival, (int, float))
            else arrival.astimezone(timezone.utc))
    if rotation == "NoRotation":
        return base
    if rotation == "OneHour":
        return f"{base}-{when:%Y-%m-%d-%H}"
    if rotation == "OneDay":
        return f"{base}-{when:%Y-%m-%d}"
    if rotation == "OneWeek":
        year, week = week_of_year(when.date(), week_reading)
        return f"{base}-{year}-w{week:02d}"
    if rotation == "OneMonth":
        return f"{base}-{when:%Y-%m}"
    raise ValueError(f"rotation={rotation!r}: expected one of {', '.join(ROTATIONS)}")


def index_names(base: str, rotation: str, arrival: datetime | float) -> dict[str, str]:
    """Every documented reading of the index name: ``{"rule": name}``, and ``"iso"`` too for OneWeek."""
    names = {"rule": index_name(base, rotation, arrival)}
    if rotation == "OneWeek":
        names["iso"] = index_name(base, rotation, arrival, week_reading="iso")
    return names


def index_pattern(base: str, rotation: str) -> str:
    """The index pattern that finds every index of ``base`` (``base`` itself without rotation)."""
    return base if rotation == "NoRotation" else f"{base}-*"


# --------------------------------------------------------------------------------------- configuration
def opensearch_destination_config(role_arn: str, bucket_arn: str, destination: SearchDestination,
                                  buffer_mib: int, buffer_seconds: int) -> dict[str, Any]:
    """The AmazonopensearchserviceDestinationConfiguration for ``destination`` with the given hints (validated),
    its S3 backup (uncompressed, no prefix: the documented default key names) and its document ids."""
    validate_search_hints(buffer_mib, buffer_seconds)
    validate_search_destination(destination)
    return {
        "RoleARN": role_arn, "DomainARN": destination.target.arn, "IndexName": destination.index_name,
        "IndexRotationPeriod": destination.rotation,
        "BufferingHints": {"SizeInMBs": buffer_mib, "IntervalInSeconds": buffer_seconds},
        "RetryOptions": {"DurationInSeconds": destination.retry_seconds},
        "S3BackupMode": destination.backup_mode,
        "S3Configuration": {
            "RoleARN": role_arn, "BucketARN": bucket_arn, "CompressionFormat": "UNCOMPRESSED",
            "BufferingHints": {"SizeInMBs": destination.backup_buffer_mib,
                               "IntervalInSeconds": destination.backup_buffer_seconds}},
        "DocumentIdOptions": {"DefaultDocumentIdFormat": destination.document_ids},
    }


def search_role_policy(domain_arn: str, index: str) -> dict[str, Any]:
    """The inline policy giving Firehose exactly one domain: describe it, index into it (POST/PUT), and the GETs
    Firehose makes on it (controlling-access.html, "Grant Firehose access to a public OpenSearch Service
    destination"), for the indexes of ``index``."""
    if ":es:" not in domain_arn or ":domain/" not in domain_arn or not domain_arn.startswith("arn:"):
        raise ValueError(f"not an OpenSearch Service domain ARN: {domain_arn!r}")
    gets = ["_all/_settings", "_cluster/stats", f"{index}*/_mapping/*", "_nodes", "_nodes/stats", "_nodes/*/stats",
            "_stats", f"{index}*/_stats", ""]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "DescribeAndIndexDomain", "Effect": "Allow", "Action": list(SEARCH_WRITE_ACTIONS),
         "Resource": [domain_arn, f"{domain_arn}/*"]},
        {"Sid": "ReadDomainState", "Effect": "Allow", "Action": list(SEARCH_READ_ACTIONS),
         "Resource": [f"{domain_arn}/{path}" for path in gets]},
    ]}


def put_search_policy(iam_client: Any, role_name: str, domain_arn: str, index: str) -> None:
    """Add :func:`search_role_policy` to a Firehose role (``provision.delete_firehose_role`` removes it too)."""
    iam_client.put_role_policy(RoleName=role_name, PolicyName=SEARCH_POLICY_NAME,
                               PolicyDocument=json.dumps(search_role_policy(domain_arn, index)))


# ------------------------------------------------------------------------------------ the live target
def domain_name_for(name: str) -> str:
    """A valid domain name from a resource name: kept when it fits, else shortened with a hash of the whole."""
    name = name.lower()
    if len(name) <= DOMAIN_NAME_MAX_CHARS and name[:1].isalpha():
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()
    head = "".join(c for c in name.split("-")[0] if c.isalnum())[:8] or "pkl"
    if not head[0].isalpha():
        head = "d" + head
    return f"{head}-{digest[:DOMAIN_NAME_MAX_CHARS - len(head) - 1]}"


def domain_access_policy(domain_arn: str, account_id: str, partition: str = "aws") -> str:
    """The domain's resource policy: HTTP access for the account's IAM principals whose own policies allow it
    (the Firehose role's policy names exactly this domain), nobody else."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "es:ESHttp*", "Resource": f"{domain_arn}/*"}]})


def _pages(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> list[Any]:
    """Every item under ``key`` of a NextToken-paged OpenSearch Service list (botocore has no paginator for these)."""
    items: list[Any] = []
    token = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        items += page.get(key) or []
        token = page.get("NextToken")
        if not token:
            return items


def check_search_domain_offered(opensearch_client: Any, region: str) -> None:
    """Before a domain's 15-30 minutes: does the region offer :data:`DOMAIN_ENGINE_VERSION`, and
    :data:`DOMAIN_INSTANCE_TYPE` on it? (ListVersions, ListInstanceTypeDetails.) Raises :class:`DeliveryStreamError`
    naming what is missing and the fix; nothing is made."""
    versions = _pages(opensearch_client.list_versions, "Versions")
    if DOMAIN_ENGINE_VERSION not in versions:
        offered = sorted(v for v in versions if v.startswith("OpenSearch_"))[-3:]
        raise DeliveryStreamError(
            f"OpenSearch Service in {region} does not offer {DOMAIN_ENGINE_VERSION} (the search target's engine; it "
            f"offers {', '.join(offered) or 'no OpenSearch version'}): nothing was made. Fix: run the search tests in "
            "a region that offers it, or leave out --kinesis-search-domain")
    types = {d.get("InstanceType") for d in _pages(opensearch_client.list_instance_type_details,
                                                     "InstanceTypeDetails", EngineVersion=DOMAIN_ENGINE_VERSION)}
    if DOMAIN_INSTANCE_TYPE not in types:
        raise DeliveryStreamError(
            f"OpenSearch Service in {region} does not offer {DOMAIN_INSTANCE_TYPE} for {DOMAIN_ENGINE_VERSION} (the "
            f"search target's one data node; {len(types)} other instance types are offered): nothing was made. Fix: "
            "run the search tests in a region that offers it, or leave out --kinesis-search-domain")


def create_search_domain(opensearch_client: Any, name: str, account_id: str, region: str,
                         tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None, clock: Clock, *,
                         timeout_s: float | None = None, poll_s: float = 15.0,
                         partition: str = "aws") -> SearchTarget:
    """Create the cheapest domain Firehose accepts (one t3.small.search node, 10 GiB gp3, HTTPS only) and wait,
    bounded on ``clock``, until it serves (Created, not Processing, an Endpoint); return it.

    The bound defaults to twice the catalogue's typical upper creation time (``lifecycle.opensearch.
    domain_creating_s``: "can take longer depending on the configuration"). Raises :class:`DeliveryStreamError`.
    """
    arn = f"arn:{partition}:es:{region}:{account_id}:domain/{name}"
    kwargs: dict[str, Any] = {
        "DomainName": name, "EngineVersion": DOMAIN_ENGINE_VERSION,
        "ClusterConfig": {"InstanceType": DOMAIN_INSTANCE_TYPE, "InstanceCount": 1,
                          "DedicatedMasterEnabled": False, "ZoneAwarenessEnabled": False},
        "EBSOptions": {"EBSEnabled": True, "VolumeType": "gp3", "VolumeSize": DOMAIN_VOLUME_GIB},
        "AccessPolicies": domain_access_policy(arn, account_id, partition),
        "DomainEndpointOptions": {"EnforceHTTPS": True},
    }
    if tags:
        kwargs["TagList"] = _tag_list(tags)
    start = clock.now()
    opensearch_client.create_domain(**kwargs)
    bound = 2 * limits.LIFECYCLE_OS_DOMAIN_CREATING_S.value if timeout_s is None else timeout_s
    seen: list[dict[str, Any]] = []

    def serving() -> bool:
        status = opensearch_client.describe_domain(DomainName=name)["DomainStatus"]
        seen.append(status)
        return bool(status.get("Created")) and not status.get("Processing") and bool(status.get("Endpoint"))

    if not poll_until(serving, clock, bound, poll_s, f"OpenSearch domain {name} serving"):
        last = seen[-1] if seen else {}
        raise DeliveryStreamError(f"OpenSearch domain {name!r} not serving after {bound:g} s (Created "
                                  f"{last.get('Created')}, Processing {last.get('Processing')}, Endpoint "
                                  f"{last.get('Endpoint')!r}); {limits.LIFECYCLE_OS_DOMAIN_CREATING_S}")
    status = seen[-1]
    return SearchTarget(name=name, arn=status.get("ARN", arn), endpoint=status["Endpoint"], region=region,
                        created_after_s=clock.now() - start)


def delete_search_domain(opensearch_client: Any, name: str) -> bool:
    """Delete the domain; ``False`` if it did not exist. Returns once AWS took the deletion (``Deleted`` is true
    or the domain is gone): it cannot be undone and billing stops, so teardown does not wait the minutes it takes."""
    try:
        opensearch_client.delete_domain(DomainName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise
    return True
