"""Firehose fixtures: a Kinesis-source delivery stream to S3, provisioned, proven to be reading, cleaned up.

``make_delivery_stream`` creates, live and offline alike, the IAM role Firehose assumes (path
``sweep.ROLE_PATH``, the run's tags, an inline policy scoped to exactly the source stream's and the bucket's
ARNs), then the delivery stream (IAM propagation ridden out, waited until ACTIVE), and hands it over only once
it is really reading its source: a delivery stream starts reading at LATEST, so records written before it
reads are never delivered. The proof is a *canary*: one small JSON record per open source shard, written
after ACTIVE and again at every poll for the shards whose canary has not arrived (Firehose may take its
LATEST position after the first write), until one per shard is in an S3 object (bounded). The objects that
exist at hand-over are remembered in ``DeliveryStreamInfo.canary_keys``; ``wait_for_delivery`` leaves them,
and canary records anywhere, out of every result, so tests see only their own records.

Fixtures only: the library parts (canaries, bounds, hand-over types) live in the
:mod:`pytest_kinesis_limits.firehose` package (no pytest). It is imported inside the fixtures, not at the top,
only to keep the plugin's start-up cheap (it pulls in botocore); there is no cycle to dodge
(``tests/unit/test_import_graph.py`` checks the graph with these imports included).

Offline the same code runs against moto with the delivery simulation (applied with the Kinesis fidelity
layer per test by ``offline.activate_all``). With ``--kinesis-fidelity=off`` nothing reads the source, the
canary never arrives and the fixture raises ``firehose.DeliveryStreamError`` after its bound
(simulated seconds): that is plain moto's documented gap.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.plugin.session import METER_KEY, SEARCH_DOMAIN_SKIP, is_worker, settings_of

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from pytest_kinesis_limits import firehose as fh
    from pytest_kinesis_limits.clock import Clock
    from pytest_kinesis_limits.firehose import DeliveryStreamInfo
    from pytest_kinesis_limits.kinesis.resources import BucketInfo, Namer, ResourceTracker, StreamInfo, WaitPolicy


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def make_delivery_stream(
    firehose_client: BaseClient,
    iam_client: BaseClient,
    kinesis_client: BaseClient,
    s3_client: BaseClient,
    kinesis_namer: Namer,
    kinesis_tags: dict[str, str],
    kinesis_clock: Clock,
    kinesis_wait_policy: WaitPolicy,
    kinesis_resources: ResourceTracker,
    request: pytest.FixtureRequest,
) -> Callable[..., DeliveryStreamInfo]:
    """Factory: ``make_delivery_stream(source_stream, bucket, buffer_mib=1, buffer_seconds=0, prefix=None,
    append_delimiter=False, search=None)`` -> DeliveryStreamInfo, Kinesis source to S3, proven reading. Offline the
    delivery simulation on the simulated clock; live a real delivery stream and IAM role (billed per GB ingested).

    ``search=firehose.SearchDestination(search_target, "index", ...)`` makes the search destination instead
    (OpenSearch Service, ``bucket`` holding the S3 backup): see ``make_search_delivery_stream`` below, whose
    SearchDeliveryStreamInfo it returns; the hints are then the OpenSearch ones (1-100 MiB, 0-900 s).

    Makes the IAM role (path ``/pytest-kinesis-limits/``, tagged, policy scoped to exactly the stream's and
    bucket's ARNs, both in the stream's partition) and a Kinesis-source delivery stream to S3 (uncompressed; the
    defaults are the shortest buffering S3 allows), retrying only while Firehose refuses the new role as not
    propagated (every wording, bounded by the catalogue), waits until ACTIVE, then writes a canary to
    each open source shard, again at every poll for the shards still missing, until one of each is in S3
    (bounded), so the stream handed over is really reading (it starts at LATEST). Delivery stream, then role
    and policy, are deleted at teardown, also after failures; the delivery stream's deletion is started, not waited
    for (it stays DELETING for minutes: catalogue ``lifecycle.firehose.deleting_s``). Offline it runs on moto with
    the delivery simulation; with --kinesis-fidelity=off the canaries never arrive and it raises
    DeliveryStreamError.
    """
    from pytest_kinesis_limits.firehose import (DeliveryStreamInfo, bucket_arn_for, create_delivery_stream,
                                                create_firehose_role, creating_poll_s,
                                                delete_delivery_stream_when_created, delete_firehose_role,
                                                delivery_bound_s, delivery_poll_s, prove_reading,
                                                validate_buffering_hints)
    from pytest_kinesis_limits.live.sweep import ROLE_PATH

    span = kinesis_wait_policy.delay * kinesis_wait_policy.attempts

    def make(source_stream: StreamInfo, bucket: BucketInfo,
             buffer_mib: int = limits.FIREHOSE_BUFFER_MIB_MIN.value,
             buffer_seconds: int = limits.FIREHOSE_BUFFER_SECONDS_MIN.value,
             prefix: str | None = None, append_delimiter: bool = False,
             search: fh.SearchDestination | None = None) -> DeliveryStreamInfo:
        if search is not None:  # the search destination (issue 14)
            make_search: Callable[..., DeliveryStreamInfo] = request.getfixturevalue("make_search_delivery_stream")
            return make_search(source_stream, bucket, search, buffer_mib=buffer_mib, buffer_seconds=buffer_seconds)
        validate_buffering_hints(buffer_mib, buffer_seconds)
        bucket_arn = bucket_arn_for(source_stream.arn, bucket.name, bucket.arn)  # the stream's partition
        role_name = kinesis_namer.name("fhr")
        name = kinesis_namer.name("fh")
        kinesis_resources.add_tagged("role", role_name, lambda: delete_firehose_role(iam_client, role_name))
        role_arn = create_firehose_role(iam_client, role_name, source_stream.arn, bucket_arn, kinesis_tags,
                                        path=ROLE_PATH)
        kinesis_resources.add_tagged("delivery-stream", name, lambda: delete_delivery_stream_when_created(
            firehose_client, name, kinesis_clock, kinesis_wait_policy, wait=False))
        started = kinesis_clock.now()
        description = create_delivery_stream(
            firehose_client, name, source_stream.arn, role_arn, bucket_arn, buffer_mib, buffer_seconds, prefix,
            kinesis_tags, kinesis_clock, span, append_delimiter=append_delimiter,
            poll_s=creating_poll_s(kinesis_wait_policy, kinesis_clock),
            # the role was made just now: retrying before IAM typically propagates only collects refusals
            first_backoff_s=limits.IAM_PROPAGATION_S.value)
        proof = prove_reading(kinesis_client, s3_client, source_stream.name, bucket.name, name, kinesis_clock,
                              delivery_bound_s(buffer_seconds, kinesis_wait_policy),
                              delivery_poll_s(kinesis_wait_policy, buffer_seconds))
        return DeliveryStreamInfo(
            name=name, arn=description["DeliveryStreamARN"], version=int(description["VersionId"]),
            source=source_stream, bucket=bucket, role_name=role_name, role_arn=role_arn, buffer_mib=buffer_mib,
            buffer_seconds=buffer_seconds, prefix=prefix, append_delimiter=append_delimiter,
            canary_keys=frozenset(proof.keys), ready_after_s=kinesis_clock.now() - started,
            canaries_written=proof.canaries_written)

    return make


@pytest.fixture
def firehose_delivery_stream(make_delivery_stream: Callable[..., DeliveryStreamInfo], kinesis_stream: StreamInfo,
                             s3_bucket: BucketInfo) -> DeliveryStreamInfo:
    """A delivery stream reading ``kinesis_stream`` into ``s3_bucket`` with the shortest buffering (1 MiB, 0 s),
    already proven to be reading (see ``make_delivery_stream``; offline simulated, live real); deleted after."""
    return make_delivery_stream(kinesis_stream, s3_bucket)


@pytest.fixture
def wait_for_delivery(s3_client: BaseClient, kinesis_clock: Clock, kinesis_wait_policy: WaitPolicy
                      ) -> Callable[..., fh.DeliveryResult]:
    """Factory: ``wait_for_delivery(delivery, expected_ids, identify, *, send_times=None, timeout_s=None)``
    -> DeliveryResult (delivered, missing, duplicates); polls S3, in simulated seconds offline, real ones live.

    Polls the delivery stream's bucket until every expected id arrived or the bound passed (default: the
    interval hint plus the wait policy's span), checking keys against the documented format (name, prefix)
    and bodies against the configured delimiter. The canary objects and records are left out. Never raises
    on a timeout: the result says what is missing, duplicated (at-least-once) or malformed. ``send_times``
    are client-clock starts; for latencies on the services' clocks call ``result.measure_latencies(
    firehose.arrival_times(read_records(delivery.source), delivery.record_id(identify)))``.
    """
    from pytest_kinesis_limits.firehose import (CANARY, delivery_bound_s, delivery_poll_s, wait_for_records,
                                                without_canaries)

    def wait(delivery: DeliveryStreamInfo, expected_ids: Iterable[Hashable], identify: Callable[[Any], Hashable],
             *, send_times: Mapping[Hashable, float] | None = None,
             timeout_s: float | None = None) -> fh.DeliveryResult:
        wanted = list(expected_ids)
        bound = delivery_bound_s(delivery.buffer_seconds, kinesis_wait_policy) if timeout_s is None else timeout_s
        result = wait_for_records(
            s3_client, delivery.bucket.name, wanted,
            lambda r: CANARY if delivery.is_canary(r) else identify(r), kinesis_clock, bound,
            delivery_poll_s(kinesis_wait_policy, delivery.buffer_seconds), stream_name=delivery.name,
            key_prefix=delivery.prefix, delimiter=delivery.delimiter, send_times=send_times)
        return without_canaries(result, delivery, identify, wanted, send_times)

    return wait


# ------------------------------------------------------------------------------ the search destination
# Firehose into an OpenSearch Service index with an S3 backup (issue 14; docs/search-index.md). Live, the domain
# takes 15-30 minutes to create: it is made once per run (whatever the number of xdist workers), and only for tests
# marked kinesis_search_domain when --kinesis-search-domain is given. Offline it is the fidelity layer's stand-in, made
# per test (it costs nothing); queries go through opensearch-py (the optional extra) on every backend.
#: The usage meter's key of the search domain (shared by the run's tests live; a plan makes one per run).
SEARCH_DOMAIN_KEY = "search-domain"


def _search_target_scope(fixture_name: str, config: pytest.Config) -> str:
    return "function" if settings_of(config).offline else "session"


@pytest.fixture(scope=_search_target_scope)
def search_target(kinesis_settings: Any, kinesis_backend: Any, kinesis_boto_session: Any, kinesis_namer: Namer,
                  kinesis_tags: dict[str, str], kinesis_clock: Clock, kinesis_wait_policy: WaitPolicy,
                  request: pytest.FixtureRequest) -> Iterator[fh.SearchTarget]:
    """An OpenSearch Service domain Firehose can deliver to (firehose.SearchTarget: name, arn, endpoint).

    Live: one t3.small.search node with 10 GiB gp3, HTTPS only, its access policy leaving access to IAM (the
    Firehose roles name exactly this domain), tagged, made once per run (the first xdist worker that needs it makes
    it, the others use it: live/shared_domain.py) after checking that the region offers the engine and the
    instance type, and deleted at the run's end; it takes 15-30 minutes (catalogue
    lifecycle.opensearch.domain_creating_s), so live runs need --kinesis-search-domain (else the test is skipped).
    Offline: moto's domain served by the fidelity layer's stand-in index (per test); against an endpoint: whatever
    the emulator serves.
    """
    import contextlib

    from pytest_kinesis_limits.firehose import (check_search_domain_offered, create_search_domain,
                                                delete_search_domain)
    from pytest_kinesis_limits.firehose.destinations import domain_name_for
    from pytest_kinesis_limits.live.shared_domain import SharedDomain
    from pytest_kinesis_limits.plugin.budget_hooks import RUN_DIR_KEY
    from pytest_kinesis_limits.plugin.fixtures import _metered, _report_cleanup
    from pytest_kinesis_limits.kinesis.resources import ResourceTracker

    if kinesis_backend.kind == "live" and not kinesis_settings.search_domain:
        pytest.skip(SEARCH_DOMAIN_SKIP)
    client = _metered(request.config, kinesis_backend.client("opensearch", session=kinesis_boto_session))
    meter = request.config.stash.get(METER_KEY, None)
    if meter is not None:  # one domain per run live: a plan charges its making once
        meter.uses_shared(SEARCH_DOMAIN_KEY)
    name = domain_name_for(kinesis_namer.name("os"))

    def make(name: str) -> fh.SearchTarget:
        if kinesis_backend.kind == "live":  # the region offers the engine and the instance type, before 15-30 min
            check_search_domain_offered(client, kinesis_backend.region)
        return create_search_domain(client, name, kinesis_backend.account_id or "000000000000",
                                    kinesis_backend.region, kinesis_tags, kinesis_clock,
                                    poll_s=kinesis_wait_policy.delay,
                                    partition=kinesis_boto_session.get_partition_for_region(kinesis_backend.region))

    folder = request.config.stash.get(RUN_DIR_KEY, None)
    tracker = ResourceTracker(keep=kinesis_settings.keep_resources)
    try:
        with meter.sharing(SEARCH_DOMAIN_KEY) if meter is not None else contextlib.nullcontext():
            if folder is None:  # offline: the stand-in, per test
                tracker.add_tagged("search-domain", name, lambda: delete_search_domain(client, name))
                target = make(name)
            else:  # live or an endpoint: one per run, whatever the number of workers (live/shared_domain.py)
                shared = SharedDomain(folder)
                if not is_worker(request.config):  # else the controller deletes it once every worker is done
                    tracker.add_tagged("search-domain", name, lambda: shared.delete(
                        lambda made: delete_search_domain(client, made)))
                target, _ = shared.get_or_make(name, make)
        yield target
    finally:
        _report_cleanup(tracker)


@pytest.fixture(scope="session")
def _search_connect(kinesis_backend: Any, kinesis_boto_session: Any, kinesis_settings: Any
                    ) -> Callable[[fh.SearchTarget], Any]:
    """target -> opensearch-py client: HTTPS and SigV4 live; the endpoint's scheme (signed with its dummy
    credentials) against an emulator; plain HTTP to the stand-in on 127.0.0.1 offline."""
    from urllib.parse import urlsplit

    from pytest_kinesis_limits.firehose import OpenSearchExtraMissing, opensearch_client

    clients: dict[str, Any] = {}

    def connect(target: fh.SearchTarget) -> Any:
        if target.endpoint not in clients:
            if kinesis_backend.kind == "moto":
                scheme, credentials = "http", None
            else:
                scheme = urlsplit(kinesis_settings.aws_endpoint_url).scheme if kinesis_backend.endpoint_url \
                    else "https"
                credentials = kinesis_boto_session.get_credentials()
            try:
                clients[target.endpoint] = opensearch_client(f"{scheme}://{target.endpoint}",
                                                             credentials=credentials, region=target.region)
            except OpenSearchExtraMissing as exc:
                pytest.fail(str(exc), pytrace=False)
        return clients[target.endpoint]

    return connect


@pytest.fixture
def search_index(_search_connect: Callable[[fh.SearchTarget], Any]) -> Callable[..., fh.SearchIndex]:
    """Factory: ``search_index(delivery)`` (a SearchDeliveryStreamInfo) or ``search_index(target, index_name,
    rotation="NoRotation")`` -> firehose.SearchIndex: ``count()``, ``documents()``, ``indices()``, ``get(index,
    id)``, ``wait_for(ids, identify, clock, timeout_s, poll_s)`` through opensearch-py (live: HTTPS, SigV4).
    ``pattern=`` overrides the indexes queried (default: the index, or ``<index>-*`` with rotation).

    Canary documents (the hand-over proof) are left out unless asked for. Without opensearch-py the test fails
    with the fix: pip install 'pytest-kinesis-limits[opensearch]'.
    """
    from pytest_kinesis_limits.firehose import SearchDeliveryStreamInfo, SearchIndex

    def make(where: Any, index_name: str | None = None, rotation: str = "NoRotation", *,
             pattern: str | None = None) -> fh.SearchIndex:
        if isinstance(where, SearchDeliveryStreamInfo) and where.search is not None:
            return SearchIndex(_search_connect(where.target), where.search.index_name, where.search.rotation,
                               pattern=pattern)
        if index_name is None:
            raise TypeError("search_index(target, index_name): name the index (or pass a search delivery stream)")
        return SearchIndex(_search_connect(where), index_name, rotation, pattern=pattern)

    return make


@pytest.fixture
def make_search_delivery_stream(
    firehose_client: BaseClient,
    iam_client: BaseClient,
    kinesis_client: BaseClient,
    kinesis_namer: Namer,
    kinesis_tags: dict[str, str],
    kinesis_clock: Clock,
    kinesis_wait_policy: WaitPolicy,
    kinesis_resources: ResourceTracker,
    search_index: Callable[..., fh.SearchIndex],
) -> Callable[..., DeliveryStreamInfo]:
    """Factory: ``make_search_delivery_stream(source_stream, bucket, search, buffer_mib=1, buffer_seconds=0)``
    -> firehose.SearchDeliveryStreamInfo (also reached as ``make_delivery_stream(..., search=...)``).

    A Kinesis-source delivery stream into ``search.target`` (an OpenSearch Service domain, e.g. ``search_target``)
    with the given OpenSearch hints, index name, rotation, document ids and retry, backing up AllDocuments or
    FailedDocumentsOnly to ``bucket`` (uncompressed, documented key names, the backup's own hints). Its IAM role
    (path /pytest-kinesis-limits/, tagged) may read exactly the stream, write exactly the bucket and index into
    exactly the domain. Handed over once a canary per open shard is a document in the index (bounded); deleted,
    then the role, at teardown, also after failures.
    """
    from pytest_kinesis_limits.firehose import (SearchDeliveryStreamInfo, create_firehose_role,
                                                create_kinesis_source_delivery_stream, creating_poll_s,
                                                delete_delivery_stream_when_created, delete_firehose_role,
                                                delivery_poll_s, opensearch_destination_config, prove_indexing,
                                                validate_search_hints)
    from pytest_kinesis_limits.firehose.destinations import put_search_policy
    from pytest_kinesis_limits.firehose.search import search_bound_s
    from pytest_kinesis_limits.live.sweep import ROLE_PATH

    span = kinesis_wait_policy.delay * kinesis_wait_policy.attempts

    def make(source_stream: StreamInfo, bucket: BucketInfo, search: fh.SearchDestination,
             buffer_mib: int = limits.FIREHOSE_OS_BUFFER_MIB_MIN.value,
             buffer_seconds: int = limits.FIREHOSE_OS_BUFFER_SECONDS_MIN.value) -> DeliveryStreamInfo:
        validate_search_hints(buffer_mib, buffer_seconds)
        role_name = kinesis_namer.name("fhr")
        name = kinesis_namer.name("fh")
        kinesis_resources.add_tagged("role", role_name, lambda: delete_firehose_role(iam_client, role_name))
        role_arn = create_firehose_role(iam_client, role_name, source_stream.arn, bucket.arn, kinesis_tags,
                                        path=ROLE_PATH)
        put_search_policy(iam_client, role_name, search.target.arn, search.index_name)
        kinesis_resources.add_tagged("delivery-stream", name, lambda: delete_delivery_stream_when_created(
            firehose_client, name, kinesis_clock, kinesis_wait_policy, wait=False))
        started = kinesis_clock.now()
        config = opensearch_destination_config(role_arn, bucket.arn, search, buffer_mib, buffer_seconds)
        description = create_kinesis_source_delivery_stream(
            firehose_client, name, source_stream.arn, role_arn,
            {"AmazonopensearchserviceDestinationConfiguration": config}, kinesis_tags, kinesis_clock, span,
            poll_s=creating_poll_s(kinesis_wait_policy, kinesis_clock))
        # Canaries are looked for in every index: where documents go is the rotation verdict's business.
        index = search_index(search.target, search.index_name, pattern="*")
        proof = prove_indexing(kinesis_client, index, source_stream.name, name, kinesis_clock,
                               search_bound_s(buffer_seconds, span), delivery_poll_s(kinesis_wait_policy,
                                                                                     buffer_seconds))
        return SearchDeliveryStreamInfo(
            name=name, arn=description["DeliveryStreamARN"], version=int(description["VersionId"]),
            source=source_stream, bucket=bucket, role_name=role_name, role_arn=role_arn, buffer_mib=buffer_mib,
            buffer_seconds=buffer_seconds, prefix=None, append_delimiter=False, canary_keys=frozenset(),
            ready_after_s=kinesis_clock.now() - started, canaries_written=proof.canaries_written, search=search)

    return make
