"""Fixtures of pytest-kinesis-limits: backend, clients, resources, clock and measurements.

Every fixture has a docstring, so ``pytest --fixtures`` documents the API. Session fixtures start the
backend once per process (each pytest-xdist worker has its own); resource fixtures are factories that
remember what they made and delete it at teardown, even after a failed test or Ctrl-C, warning loudly
when a deletion fails.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .clock import Clock, RealClock, SimulatedClock
from .report import PROPERTY_NAME, Measurement
from .settings import Settings

if TYPE_CHECKING:
    import boto3
    from botocore.client import BaseClient

    from .backends import Backend
    from .limits import Limit
    from .reader import ReadRecord
    from .resources import BucketInfo, Namer, ResourceTracker, StreamInfo, WaitPolicy


class KinesisCleanupWarning(UserWarning):
    """A resource this plugin made could not be deleted: it may still cost money. The message names it."""


def _settings(config: pytest.Config) -> Settings:
    from .plugin import settings_of

    return settings_of(config)


@pytest.fixture(scope="session")
def kinesis_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved pytest-kinesis-limits settings (command line > environment > ini > default)."""
    return _settings(pytestconfig)


@pytest.fixture(scope="session")
def kinesis_clock(kinesis_settings: Settings) -> Clock:
    """The clock shared by producers, readers and the offline fidelity layer.

    Offline: a :class:`~pytest_kinesis_limits.clock.SimulatedClock` (moves only when slept on, so verdicts are
    the same run after run). Live and endpoint: the wall clock.
    """
    return SimulatedClock() if kinesis_settings.offline else RealClock()


@pytest.fixture(scope="session")
def kinesis_backend(pytestconfig: pytest.Config, kinesis_settings: Settings) -> Iterator[Backend]:
    """The backend in use (``.kind``: moto, live or endpoint; ``.label`` adds moto-plain), set up for the session.

    Offline it starts ``moto.mock_aws`` for the session (the fidelity layer is applied per test, see
    ``kinesis_fidelity``); live it is the backend the preflight checked.
    """
    from .plugin import BACKEND_KEY

    if not kinesis_settings.offline:
        backend = pytestconfig.stash[BACKEND_KEY]
        assert backend is not None, "the live preflight did not run"
        yield backend
        return
    import moto

    from .backends import offline_backend

    with moto.mock_aws():
        yield offline_backend(kinesis_settings)


@pytest.fixture(autouse=True)
def _kinesis_fidelity_layer(request: pytest.FixtureRequest, kinesis_settings: Settings) -> Iterator[Any]:
    """Applies the offline fidelity layer around each test that uses a Kinesis fixture (moto, fidelity on).

    Per test rather than per session, so that other tests in the same process (unit tests with their own
    ``moto.mock_aws``) still meet plain moto; the patches cost microseconds to apply.
    """
    from .plugin import KINESIS_FIXTURES

    wanted = kinesis_settings.offline and kinesis_settings.fidelity == "on"
    if not wanted or not KINESIS_FIXTURES.intersection(request.fixturenames):
        yield None
        return
    from .offline import activate_all

    clock = request.getfixturevalue("kinesis_clock")
    with activate_all(clock) as layer:
        yield layer


@pytest.fixture
def kinesis_fidelity(_kinesis_fidelity_layer: Any) -> Any:
    """The offline fidelity layer in force for this test (to reconfigure it), or ``None`` when there is none."""
    return _kinesis_fidelity_layer


@pytest.fixture(scope="session")
def kinesis_boto_session(kinesis_backend: Backend) -> boto3.Session:
    """The boto3 session all the plugin's clients share."""
    return kinesis_backend.session()


@pytest.fixture(scope="session")
def kinesis_client(kinesis_backend: Backend, kinesis_boto_session: boto3.Session) -> BaseClient:
    """A Kinesis client with botocore's standard retries (throttling retried with backoff)."""
    return kinesis_backend.client("kinesis", session=kinesis_boto_session)


@pytest.fixture(scope="session")
def kinesis_client_no_retry(kinesis_backend: Backend, kinesis_boto_session: boto3.Session) -> BaseClient:
    """A Kinesis client that makes one attempt per call, for limit probes.

    botocore retries ProvisionedThroughputExceededException by itself and would hide the throttling a
    limit test is looking for.
    """
    return kinesis_backend.client("kinesis", retries=False, session=kinesis_boto_session)


@pytest.fixture(scope="session")
def firehose_client(kinesis_backend: Backend, kinesis_boto_session: boto3.Session) -> BaseClient:
    """A Firehose client (standard retries)."""
    return kinesis_backend.client("firehose", session=kinesis_boto_session)


@pytest.fixture(scope="session")
def s3_client(kinesis_backend: Backend, kinesis_boto_session: boto3.Session) -> BaseClient:
    """An S3 client (standard retries)."""
    return kinesis_backend.client("s3", session=kinesis_boto_session)


@pytest.fixture(scope="session")
def iam_client(kinesis_backend: Backend, kinesis_boto_session: boto3.Session) -> BaseClient:
    """An IAM client (standard retries), for the role Firehose assumes."""
    return kinesis_backend.client("iam", session=kinesis_boto_session)


@pytest.fixture(scope="session")
def kinesis_run_id(pytestconfig: pytest.Config) -> str:
    """The id of this test run, shared by all pytest-xdist workers; it is in every name and the ``run-id`` tag."""
    from .plugin import RUN_ID_KEY
    from .resources import new_run_id

    workerinput = getattr(pytestconfig, "workerinput", None)
    if workerinput is not None:
        return str(workerinput["testrunuid"])[:12]
    if RUN_ID_KEY not in pytestconfig.stash:
        pytestconfig.stash[RUN_ID_KEY] = new_run_id()
    return pytestconfig.stash[RUN_ID_KEY]


@pytest.fixture(scope="session")
def kinesis_namer(pytestconfig: pytest.Config, kinesis_settings: Settings, kinesis_run_id: str) -> Namer:
    """Makes resource names ``<prefix>-<run id>-<worker>-<n>``, unique per run and xdist worker."""
    from .resources import Namer

    worker = getattr(pytestconfig, "workerinput", {}).get("workerid", "gw")
    return Namer(kinesis_settings.prefix, kinesis_run_id, worker)


@pytest.fixture(scope="session")
def kinesis_tags(kinesis_run_id: str) -> dict[str, str]:
    """The tags put on every resource: ``created-by`` and ``run-id``."""
    from .resources import tags_for

    return tags_for(kinesis_run_id)


@pytest.fixture(scope="session")
def kinesis_wait_policy(kinesis_backend: Backend) -> WaitPolicy:
    """How long resource fixtures wait for a resource: 5 s polls live; on the simulated clock, where waiting is
    free and each check is not, a first check after 1 s and the pause doubling after each (1, 2, 4, ... s).
    Stream fixtures there first wait the catalogue's typical CREATING / DELETING time, then check."""
    from .resources import WaitPolicy

    if kinesis_backend.offline:
        return WaitPolicy(delay=1, attempts=100, max_delay=60)
    return WaitPolicy(delay=5, attempts=180)


def _report_cleanup(tracker: ResourceTracker) -> None:
    for kind, name, error in tracker.cleanup():
        warnings.warn(KinesisCleanupWarning(
            f"could not delete {kind} {name!r}: {error!r}. It is tagged created-by=pytest-kinesis-limits; "
            "delete it by hand or with a later sweep."), stacklevel=1)


@pytest.fixture
def kinesis_resources(kinesis_settings: Settings) -> Iterator[ResourceTracker]:
    """The tracker of what this test created; everything in it is deleted at teardown (unless kept)."""
    from .resources import ResourceTracker

    tracker = ResourceTracker(keep=kinesis_settings.keep_resources)
    yield tracker
    _report_cleanup(tracker)


@pytest.fixture
def make_stream(
    kinesis_client: BaseClient,
    kinesis_namer: Namer,
    kinesis_tags: dict[str, str],
    kinesis_clock: Clock,
    kinesis_wait_policy: WaitPolicy,
    kinesis_resources: ResourceTracker,
) -> Callable[..., StreamInfo]:
    """Factory: ``make_stream(shard_count=1, on_demand=False, max_record_size_kib=None)`` -> StreamInfo.

    Creates a tagged stream, waits until it is ACTIVE and deletes it at teardown.
    """
    from . import resources

    def make(shard_count: int = 1, *, on_demand: bool = False, max_record_size_kib: int | None = None) -> StreamInfo:
        name = kinesis_namer.name("s")
        kinesis_resources.add("stream", name, lambda: resources.delete_stream(
            kinesis_client, name, clock=kinesis_clock, policy=kinesis_wait_policy))
        return resources.create_stream(
            kinesis_client, name, shard_count=shard_count, on_demand=on_demand,
            max_record_size_kib=max_record_size_kib, tags=kinesis_tags, clock=kinesis_clock,
            policy=kinesis_wait_policy)

    return make


@pytest.fixture
def kinesis_stream(make_stream: Callable[..., StreamInfo]) -> StreamInfo:
    """A fresh one-shard provisioned stream (the seed's setup), deleted after the test."""
    return make_stream()


@pytest.fixture
def make_bucket(
    s3_client: BaseClient,
    kinesis_backend: Backend,
    kinesis_namer: Namer,
    kinesis_tags: dict[str, str],
    kinesis_resources: ResourceTracker,
) -> Callable[[], BucketInfo]:
    """Factory: ``make_bucket()`` -> BucketInfo; a tagged bucket, emptied and deleted at teardown."""
    from . import resources

    def make() -> BucketInfo:
        name = kinesis_namer.name("b")
        kinesis_resources.add("bucket", name, lambda: resources.delete_bucket(s3_client, name))
        return resources.create_bucket(s3_client, name, region=kinesis_backend.region, tags=kinesis_tags)

    return make


@pytest.fixture
def s3_bucket(make_bucket: Callable[[], BucketInfo]) -> BucketInfo:
    """A fresh S3 bucket, emptied and deleted after the test."""
    return make_bucket()


@pytest.fixture
def record_measurement(request: pytest.FixtureRequest, kinesis_settings: Settings) -> Callable[..., Measurement]:
    """Record what a test measured: ``record_measurement(limit, measured, verdict=..., detail=..., unit=None)``.

    ``limit`` is a catalogue :class:`~pytest_kinesis_limits.limits.Limit`. The measurement is printed in the
    session's table, written to ``--kinesis-report`` and carried to junitxml as a property.
    """

    def record(limit: Limit, measured: float | None, *, verdict: str, detail: str = "",
               unit: str | None = None, **extra: Any) -> Measurement:
        measurement = Measurement.of(limit, measured, test=request.node.nodeid,
                                     backend=kinesis_settings.backend_label, verdict=verdict, detail=detail,
                                     unit=unit, **extra)
        request.node.user_properties.append((PROPERTY_NAME, measurement.to_json()))
        return measurement

    return record


@pytest.fixture
def read_records(kinesis_client: BaseClient, kinesis_clock: Clock, kinesis_settings: Settings
                 ) -> Callable[..., list[ReadRecord]]:
    """Factory: ``read_records(stream, **options)`` -> every record of the stream, in read order.

    Reads all shards from TRIM_HORIZON, parents to their end before children, paced within the read
    limits, until caught up (see :func:`pytest_kinesis_limits.reader.read_stream`; ``options`` go to it).
    """
    from .reader import read_stream

    def read(stream: Any, **options: Any) -> list[ReadRecord]:
        name = getattr(stream, "name", stream)
        return read_stream(kinesis_client, name, clock=kinesis_clock, **options).records

    return read
