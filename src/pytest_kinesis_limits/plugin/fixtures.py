"""Fixtures of pytest-kinesis-limits: backend, clients, resources, clock and measurements.

Each docstring says in a line or two how the fixture behaves offline (moto, simulated time) and live: it is
the reference ``pytest --fixtures`` prints.

Every fixture has a docstring, so ``pytest --fixtures`` documents the API. Session fixtures start the
backend once per process (each pytest-xdist worker has its own); resource fixtures are factories that
remember what they made and delete it at teardown, even after a failed test or Ctrl-C, warning loudly
when a deletion fails.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kinesis_limits.reporting.report import PROPERTY_NAME, SERIES_PROPERTY_NAME, Measurement
from pytest_kinesis_limits.settings import Settings
from pytest_kinesis_limits.plugin.session import (BACKEND_KEY, GATE_OUTPUT, METER_KEY, POOL_KEY, RUN_ID_KEY,
                                                  RUN_ID_WORKERINPUT, clock_of, settings_of)
from pytest_kinesis_limits.families import KINESIS_FIXTURES
from pytest_kinesis_limits.gc_tuning import gc_headroom, gc_paused_then_frozen

if TYPE_CHECKING:
    import boto3
    from botocore.client import BaseClient

    from pytest_kinesis_limits.clock import Clock
    from pytest_kinesis_limits.fidelity.shared_mock import SharedMock
    from pytest_kinesis_limits.backends import Backend
    from pytest_kinesis_limits.limits import Limit
    from pytest_kinesis_limits.kinesis.reader import ReadRecord
    from pytest_kinesis_limits.kinesis.resources import (BucketInfo, Namer, ResourceTracker, StreamInfo, Transitions,
                                                         WaitPolicy)


class KinesisCleanupWarning(UserWarning):
    """A resource this plugin made could not be deleted: it may still cost money. The message names it."""


def _settings(config: pytest.Config) -> Settings:
    return settings_of(config)


@pytest.fixture(scope="session")
def kinesis_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved settings (command line > environment > ini > default): ``.live``, ``.backend_label``,
    ``.effective_timeout``, ... and ``.source_of(name)``. The same object offline, live and against an endpoint."""
    return _settings(pytestconfig)


@pytest.fixture(scope="session")
def kinesis_clock(pytestconfig: pytest.Config) -> Clock:
    """The clock of producers, readers, the offline layer and your sleeps. Offline a SimulatedClock: in tests using the
    Kinesis fixtures time.sleep (so botocore retries and waiters) moves it at once. Live/endpoint: the wall clock.

    Offline, ``time.time``/``time.monotonic`` of the test's threads read it too, and threads sleeping together
    overlap, in the same order every run (``--kinesis-clock=real`` runs offline on the wall clock instead). Not
    reached: ``from time import sleep`` bound before the test, ``datetime.now()``, waits with a timeout
    (``Event.wait(5)``), and the standard library's own timing (asyncio, subprocess): docs/fixtures.md.
    """
    return clock_of(pytestconfig)


# The trackers of the tests running now; while one holds a resource, a user's mock_aws() must not empty moto.
_LIVE_TRACKERS: list[ResourceTracker] = []
_SHARED_MOCK: list[SharedMock] = []


def _plugin_resources_in_use() -> bool:
    return any(tracker.names for tracker in _LIVE_TRACKERS)


def _metered(config: pytest.Config, client: BaseClient) -> BaseClient:
    """The client, its calls that make or remove something counted by the run's usage meter when there is one
    (live and endpoint runs, a plan's run: budget_hooks.py)."""
    meter = config.stash.get(METER_KEY, None)
    return meter.instrument(client) if meter is not None else client


@pytest.fixture(scope="session")
def kinesis_backend(request: pytest.FixtureRequest, pytestconfig: pytest.Config,
                    kinesis_settings: Settings) -> Iterator[Backend]:
    """The backend: ``.kind`` moto/live/endpoint (``.label`` adds moto-plain), ``.region``, ``.account_id``. Offline
    moto's mock_aws stays on for the session (your own mock_aws() still starts empty); live, the preflight's.

    Offline: moto in this process, its ``mock_aws`` active from the first Kinesis test to the end of the session;
    your own ``mock_aws()`` beside it starts and ends empty, as without the plugin. Live and endpoint: the backend
    the preflight checked (credentials, region, identity) before any test ran.
    """
    if not kinesis_settings.offline:
        backend = pytestconfig.stash[BACKEND_KEY]
        assert backend is not None, "the live preflight did not run"
        yield backend
        return
    with gc_paused_then_frozen():  # boto3's, botocore's and moto's objects: made once, kept for the process
        from pytest_kinesis_limits.backends import offline_backend
        from pytest_kinesis_limits.fidelity.shared_mock import SharedMock

        if kinesis_settings.fidelity == "on":
            _check_moto(request.session)
        shared = SharedMock(busy=_plugin_resources_in_use)
        shared.start()
    _SHARED_MOCK.append(shared)
    try:
        yield offline_backend(kinesis_settings)
    finally:
        _SHARED_MOCK.remove(shared)
        shared.stop()


def _check_moto(session: pytest.Session) -> None:
    """Stop the run with one line (exit status 4) when the installed moto is one the fidelity layer cannot drive.
    Under xdist the worker stops its session (``shouldstop``, which xdist hands to the controller without calling it
    a crash) and tells the controller, which ends the run with status 4 too (plugin.pytest_testnodedown)."""
    from pytest_kinesis_limits.fidelity import MotoGateError, check_moto
    try:
        check_moto()
    except MotoGateError as exc:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            session.shouldstop = exc.line
            workeroutput[GATE_OUTPUT] = exc.line
        pytest.exit(exc.line, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(autouse=True)
def _kinesis_fidelity_layer(request: pytest.FixtureRequest, kinesis_settings: Settings) -> Iterator[Any]:
    """Applies the offline fidelity layer around each test that uses a Kinesis fixture (moto, fidelity on).

    Per test rather than per session, so that other tests in the same process (unit tests with their own
    ``moto.mock_aws``) still meet plain moto; the patches cost microseconds to apply. The test also runs with
    :func:`.gc_tuning.gc_headroom` (the collector's younger generations larger), fidelity on or off. In a test that uses
    ``kinesis_endpoint`` the simulated clock also moves with the wall clock (``SimulatedClock.flowing``), fidelity on
    or off: a client in another process cannot move it by sleeping.
    """
    if not kinesis_settings.offline or not KINESIS_FIXTURES.intersection(request.fixturenames):
        yield None
        return
    clock = request.getfixturevalue("kinesis_clock")
    if getattr(clock, "simulated", False):
        # Each test starts on a whole second of the simulated clock: per-second budgets, and the simulated Firehose
        # that reads and delivers on whole seconds, then meet its records alike whatever tests ran before it in this
        # process (which xdist decides anew each run), so every measured number is the same in any order.
        clock.advance_to(math.ceil(clock.now()))
    with contextlib.ExitStack() as stack:
        stack.enter_context(gc_headroom())
        if "kinesis_endpoint" in request.fixturenames and getattr(clock, "flowing", None) is not None:
            stack.enter_context(clock.flowing())
        if kinesis_settings.fidelity != "on":
            yield None
            return
        from pytest_kinesis_limits.fidelity import FidelityConfig
        from pytest_kinesis_limits.fidelity.offline import activate_all

        config = FidelityConfig().scale_lifecycle(kinesis_settings.lifecycle_scale)
        yield stack.enter_context(activate_all(clock, config))


@pytest.fixture
def kinesis_fidelity(_kinesis_fidelity_layer: Any, kinesis_settings: Settings) -> Any:
    """Offline (fidelity on): the fidelity layer in force for this test; change ``.config`` (e.g.
    ``write_records_per_s``) and the next call obeys it; ``.firehose`` is the delivery simulation. Else ``None``
    (also in a plan's run, ``--kinesis-plan``: tests run there as they run live, untuned)."""
    return None if kinesis_settings.plan else _kinesis_fidelity_layer


@pytest.fixture(scope="session")
def kinesis_boto_session(kinesis_backend: Backend) -> boto3.Session:
    """The boto3 session all the plugin's clients share: dummy credentials offline (moto), your credential chain
    and region live, dummy credentials against an endpoint unless you configured some."""
    return kinesis_backend.session()


@pytest.fixture(scope="session")
def kinesis_client(kinesis_backend: Backend, kinesis_boto_session: boto3.Session,
                   pytestconfig: pytest.Config) -> BaseClient:
    """A Kinesis client with botocore's standard retries (8 attempts, jittered exponential backoff). Offline the
    backoff moves the simulated clock, so a throttled shard has budget again, at no wall time; live, real waits.

    For limit probes, which must see every refusal, use ``kinesis_client_no_retry``.
    """
    return _metered(pytestconfig, kinesis_backend.client("kinesis", session=kinesis_boto_session))


@pytest.fixture(scope="session")
def kinesis_client_no_retry(kinesis_backend: Backend, kinesis_boto_session: boto3.Session,
                            pytestconfig: pytest.Config) -> BaseClient:
    """A Kinesis client that makes one attempt per call, offline and live alike: your code (or a limit probe) sees
    every ProvisionedThroughputExceededException, which botocore would otherwise retry and hide."""
    return _metered(pytestconfig, kinesis_backend.client("kinesis", retries=False, session=kinesis_boto_session))


@pytest.fixture(scope="session")
def firehose_client(kinesis_backend: Backend, kinesis_boto_session: boto3.Session,
                    pytestconfig: pytest.Config) -> BaseClient:
    """A Firehose client (standard retries; offline on moto with the delivery simulation, live on your account)."""
    return _metered(pytestconfig, kinesis_backend.client("firehose", session=kinesis_boto_session))


@pytest.fixture(scope="session")
def s3_client(kinesis_backend: Backend, kinesis_boto_session: boto3.Session,
              pytestconfig: pytest.Config) -> BaseClient:
    """An S3 client (standard retries; offline moto's S3, live your account's)."""
    return _metered(pytestconfig, kinesis_backend.client("s3", session=kinesis_boto_session))


@pytest.fixture(scope="session")
def iam_client(kinesis_backend: Backend, kinesis_boto_session: boto3.Session,
               pytestconfig: pytest.Config) -> BaseClient:
    """An IAM client (standard retries), for the role Firehose assumes (offline moto's IAM, live your account's)."""
    return _metered(pytestconfig, kinesis_backend.client("iam", session=kinesis_boto_session))


@pytest.fixture(scope="session")
def kinesis_run_id(pytestconfig: pytest.Config) -> str:
    """The id of this test run, shared by all pytest-xdist workers; it is in every name and the ``run-id`` tag
    (``pytest-kinesis-limits sweep --run-id`` finds a killed run's leftovers live)."""
    from pytest_kinesis_limits.kinesis.resources import new_run_id

    workerinput = getattr(pytestconfig, "workerinput", None)
    if workerinput is not None:  # the controller's id (see plugin.pytest_configure_node), else xdist's uid
        return str(workerinput.get(RUN_ID_WORKERINPUT) or workerinput["testrunuid"])[:12]
    if RUN_ID_KEY not in pytestconfig.stash:
        pytestconfig.stash[RUN_ID_KEY] = new_run_id()
    return pytestconfig.stash[RUN_ID_KEY]


@pytest.fixture(scope="session")
def kinesis_namer(pytestconfig: pytest.Config, kinesis_settings: Settings, kinesis_run_id: str) -> Namer:
    """Makes resource names ``<prefix>-<run id>-<worker>-<n>`` (``.name(kind)``), unique per run and xdist worker,
    valid for Kinesis, Firehose, S3 and IAM alike."""
    from pytest_kinesis_limits.kinesis.resources import Namer

    worker = getattr(pytestconfig, "workerinput", {}).get("workerid", "gw")
    return Namer(kinesis_settings.prefix, kinesis_run_id, worker)


@pytest.fixture(scope="session")
def kinesis_tags(kinesis_run_id: str, kinesis_backend: Backend) -> dict[str, str]:
    """The tags put on every resource: ``created-by=pytest-kinesis-limits``, ``run-id`` and ``region`` (a sweep
    deletes only what carries them; the region tells a sweep of one region which global IAM roles are its own)."""
    from pytest_kinesis_limits.kinesis.resources import tags_for

    return tags_for(kinesis_run_id, region=kinesis_backend.region)


@pytest.fixture(scope="session")
def kinesis_wait_policy(kinesis_backend: Backend, kinesis_settings: Settings) -> WaitPolicy:
    """How long resource fixtures wait for a resource: 5 s polls live, for at most 15 minutes; on an endpoint 0.5 s
    polls for at most 2 minutes (an emulator's state changes are configured delays of about a second); on the
    simulated clock, where waiting is free and each check is not, a first check after 1 s and the pause doubling
    after each (1, 2, 4, ... s). Stream fixtures there first wait the catalogue's typical CREATING / DELETING time,
    then check. Firehose waits add the buffering interval to the span. A plan's run (``--kinesis-plan``) waits as
    live runs do, on the simulated clock."""
    from pytest_kinesis_limits.kinesis.resources import WaitPolicy

    if kinesis_backend.offline and not kinesis_settings.plan:
        return WaitPolicy(delay=1, attempts=100, max_delay=60)
    if kinesis_backend.kind == "endpoint":  # kinesalite/kinesis-mock: 500 ms per state change; serve: scaled windows
        return WaitPolicy(delay=0.5, attempts=240)
    return WaitPolicy(delay=5, attempts=180)


def _report_cleanup(tracker: ResourceTracker) -> None:
    """Delete what the tracker holds and warn about each failure; an interruption (Ctrl-C, SIGTERM, a timeout)
    during the cleanup does not stop it (see ``ResourceTracker.cleanup``) and is re-raised after the warnings."""
    try:
        tracker.cleanup()
    finally:
        for kind, name, error in tracker.failures:
            where = ("It is tagged created-by=pytest-kinesis-limits; delete it by hand or with 'pytest-kinesis-limits "
                     "sweep'." if (kind, name) in tracker.tagged else
                     "You added it with kinesis_resources.add and it carries none of this tool's tags, so "
                     "'pytest-kinesis-limits sweep' will not find it: delete it by hand.")
            warnings.warn(KinesisCleanupWarning(f"could not delete {kind} {name!r}: {error!r}. {where}"), stacklevel=1)


@pytest.fixture
def kinesis_resources(kinesis_settings: Settings) -> Iterator[ResourceTracker]:
    """The tracker of what this test created; ``.add(kind, name, delete)`` adds your own. Everything in it is deleted
    at teardown, newest first, also after a failure (``--kinesis-keep-resources`` keeps it); a failed deletion is a
    KinesisCleanupWarning."""
    from pytest_kinesis_limits.kinesis.resources import ResourceTracker

    tracker = ResourceTracker(keep=kinesis_settings.keep_resources)
    _LIVE_TRACKERS.append(tracker)
    try:
        yield tracker
        _report_cleanup(tracker)
    finally:
        _LIVE_TRACKERS.remove(tracker)
        for shared in _SHARED_MOCK:
            shared.settle()


@pytest.fixture
def make_stream(
    kinesis_client: BaseClient,
    kinesis_namer: Namer,
    kinesis_tags: dict[str, str],
    kinesis_clock: Clock,
    kinesis_wait_policy: WaitPolicy,
    kinesis_resources: ResourceTracker,
    kinesis_transitions: Transitions | None,
    pytestconfig: pytest.Config,
    request: pytest.FixtureRequest,
) -> Callable[..., StreamInfo]:
    """Factory: ``make_stream(shard_count=1, *, on_demand=False, max_record_size_kib=None)`` -> StreamInfo, ACTIVE,
    tagged, deleted at teardown (the deletion started, not waited for). Offline on moto with the fidelity layer
    (simulated waits); live in your account. A live run with a plan hands out the streams its pool made ahead.

    On-demand streams take no shard count (AWS starts them with 4 shards). StreamInfo: name, arn, shard_count,
    on_demand, max_record_size_kib, max_record_bytes.
    """

    from pytest_kinesis_limits.kinesis import resources
    from pytest_kinesis_limits.live.stream_pool import shape_of

    meter = pytestconfig.stash.get(METER_KEY, None)
    owner = request.node.nodeid

    def deletion(name: str) -> Callable[[], None]:
        return resources.stream_deletion(kinesis_client, name, clock=kinesis_clock, policy=kinesis_wait_policy,
                                         transitions=kinesis_transitions)

    def make(shard_count: int | None = None, *, on_demand: bool = False,
             max_record_size_kib: int | None = None) -> StreamInfo:
        __tracebackhide__ = True
        if on_demand and shard_count is not None:
            pytest.fail(f"make_stream({shard_count}, on_demand=True): an on-demand stream has no shard count (AWS "
                        "chooses it: 4 shards at first, then scales). Fix: make_stream(on_demand=True) for an "
                        f"on-demand stream, or make_stream({shard_count}) for a provisioned one.", pytrace=False)
        pooled = pytestconfig.stash.get(POOL_KEY, None)
        if pooled is not None:
            pool, pool_tracker = pooled
            info = pool.take(owner, shape_of(shard_count, on_demand, max_record_size_kib))
            if info is not None:  # the test's tracker deletes it now (registered before the pool lets go)
                kinesis_resources.add_tagged("stream", info.name, deletion(info.name))
                pool_tracker.hand_over("stream", info.name)
                return info
        name = kinesis_namer.name("s")
        kinesis_resources.add_tagged("stream", name, deletion(name))
        with meter.made_by_fixture() if meter is not None else contextlib.nullcontext():
            return resources.create_stream(
                kinesis_client, name, shard_count=1 if shard_count is None else shard_count, on_demand=on_demand,
                max_record_size_kib=max_record_size_kib, tags=kinesis_tags, clock=kinesis_clock,
                policy=kinesis_wait_policy, transitions=kinesis_transitions)

    return make


@pytest.fixture
def kinesis_stream(make_stream: Callable[..., StreamInfo]) -> StreamInfo:
    """A fresh one-shard provisioned stream (the seed's setup), deleted after the test: 1,000 records/s and 1 MiB/s
    of writes, throttled per simulated second offline, by AWS live."""
    return make_stream()


@pytest.fixture
def make_bucket(
    s3_client: BaseClient,
    kinesis_backend: Backend,
    kinesis_namer: Namer,
    kinesis_tags: dict[str, str],
    kinesis_resources: ResourceTracker,
) -> Callable[[], BucketInfo]:
    """Factory: ``make_bucket()`` -> BucketInfo(name, arn); a tagged bucket in the run's region, emptied (every
    version) and deleted at teardown. Offline in moto's S3, live in your account."""
    from pytest_kinesis_limits.kinesis import resources

    def make() -> BucketInfo:
        name = kinesis_namer.name("b")
        kinesis_resources.add_tagged("bucket", name, lambda: resources.delete_bucket(s3_client, name))
        return resources.create_bucket(s3_client, name, region=kinesis_backend.region, tags=kinesis_tags)

    return make


@pytest.fixture
def s3_bucket(make_bucket: Callable[[], BucketInfo]) -> BucketInfo:
    """A fresh S3 bucket (see ``make_bucket``), emptied and deleted after the test."""
    return make_bucket()


@pytest.fixture
def record_measurement(request: pytest.FixtureRequest, kinesis_settings: Settings) -> Callable[..., Measurement]:
    """Record a measurement (a row of the session's table, --kinesis-report and junitxml), offline and live alike:
    ``record_measurement(limit, measured, *, verdict, detail="", unit=None, documented=None, source="",
    series=None)``.

    ``limit``: a catalogue ``Limit`` (``limits.PUT_RECORDS_MAX_RECORDS``) or its key (``"put_records.max_records"``),
    or a name of your own (``"my-consumer.lag_s"``, with ``documented=`` and ``unit=`` if it has a number).
    ``verdict``: pass, fail, inconclusive (the client could not offer what the check needs), unsupported or info.
    ``series`` (a meter ``Measurement``, a ``ReshardResult`` or a Firehose ``DeliveryResult``) adds the per-second
    series behind the verdict to the report, its plots and its HTML page (:mod:`pytest_kinesis_limits.reporting.series`;
    not in junitxml).
    """
    from pytest_kinesis_limits.limits import CATALOGUE, Limit
    from pytest_kinesis_limits.reporting.report import VERDICTS

    def record(limit: Limit | str, measured: float | None, *, verdict: str, detail: str = "",
               unit: str | None = None, documented: float | None = None, source: str = "",
               series: Any = None, **extra: Any) -> Measurement:
        __tracebackhide__ = True
        if verdict not in VERDICTS:
            pytest.fail(f"record_measurement(..., verdict={verdict!r}): the verdict is one of "
                        f"{', '.join(VERDICTS)}.", pytrace=False)
        for name, value in (("measured", measured), ("documented", documented)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                pytest.fail(f"record_measurement(..., {name}={value!r}): {name} is a finite number (int or float) "
                            "or None (nothing measured); the report is strict JSON, which has no NaN or infinity. "
                            "Fix: pass the number, or None with the reason in detail=.", pytrace=False)
        if isinstance(limit, str):
            limit = _limit_named(limit, documented=documented, unit=unit, source=source)
        elif isinstance(limit, Limit):
            if documented is not None or source:
                pytest.fail(f"record_measurement({limit.key!r}, ..., documented=/source=): a catalogue limit carries "
                            "its own documented value and source. Fix: drop them, or name a limit of your own.",
                            pytrace=False)
        else:
            pytest.fail(f"record_measurement({limit!r}, ...): the limit is a catalogue Limit "
                        "(pytest_kinesis_limits.limits), a catalogue key, or a name of your own (a str); "
                        f"catalogue keys: {', '.join(sorted(CATALOGUE))}.", pytrace=False)
        measurement = Measurement.of(limit, measured, test=request.node.nodeid,
                                     backend=kinesis_settings.effective_backend_name, verdict=verdict, detail=detail,
                                     unit=unit, **extra)
        request.node.user_properties.append((PROPERTY_NAME, measurement.to_json()))
        if series is not None:
            from pytest_kinesis_limits.reporting.series import for_measurement

            request.node.user_properties.append((SERIES_PROPERTY_NAME, for_measurement(series, measurement)))
        return measurement

    return record


def _limit_named(name: str, *, documented: float | None, unit: str | None, source: str) -> Limit:
    """The catalogue limit with key ``name``, or a limit of the user's own (not in the catalogue)."""
    import difflib

    from pytest_kinesis_limits.limits import CATALOGUE, Limit

    __tracebackhide__ = True
    if name in CATALOGUE:
        if documented is not None or source:
            pytest.fail(f"record_measurement({name!r}, ..., documented=/source=): {name!r} is a catalogue limit "
                        "with its own documented value and source. Fix: drop them, or use a name of your own.",
                        pytrace=False)
        return CATALOGUE[name]
    near = difflib.get_close_matches(name, sorted(CATALOGUE), n=1, cutoff=0.85)
    if near and documented is None:
        pytest.fail(f"record_measurement({name!r}, ...): no catalogue limit has that key; did you mean {near[0]!r}? "
                    "Fix: correct the key, or give a limit of your own a name that is not this close to a "
                    "catalogue key.", pytrace=False)
    if not name.strip():
        pytest.fail("record_measurement('', ...): a limit needs a name.", pytrace=False)
    return Limit(key=name, value=documented, unit=unit or "", description="", source=source,  # type: ignore[arg-type]
                 as_of="")


@pytest.fixture
def read_records(kinesis_client: BaseClient, kinesis_clock: Clock, kinesis_settings: Settings
                 ) -> Callable[..., list[ReadRecord]]:
    """Factory: ``read_records(stream, **options)`` -> every record (ReadRecord), parents before children, paced
    within the read limits (5 calls/s per shard: simulated seconds offline, instant; real seconds live).

    Reads all shards from TRIM_HORIZON until caught up (a ``kinesis_shared_stream`` lease: from where the stream
    stood when the lease began); ``options`` go to :func:`pytest_kinesis_limits.kinesis.reader.read_stream`.
    ``read_records(stream, consumer=make_consumer(stream))`` reads through enhanced fan-out instead (SubscribeToShard,
    renewed, following child shards: :func:`pytest_kinesis_limits.kinesis.fan_out_reader.read_stream_fan_out`), with
    the same result.
    """
    from pytest_kinesis_limits.kinesis.fan_out_reader import read_stream_fan_out
    from pytest_kinesis_limits.kinesis.reader import read_stream

    def read(stream: Any, **options: Any) -> list[ReadRecord]:
        name = getattr(stream, "name", stream)
        lease = stream if hasattr(stream, "note_read") else None  # a shared stream's lease: what came after it began
        if lease is not None:
            options.setdefault("start_after", lease.after)
        consumer = options.pop("consumer", None)
        if consumer is not None:
            records = read_stream_fan_out(kinesis_client, name, getattr(consumer, "arn", consumer),
                                          clock=kinesis_clock, **options).records
        else:
            records = read_stream(kinesis_client, name, clock=kinesis_clock, **options).records
        if lease is not None and options["start_after"] == lease.after:
            lease.note_read(records)
        return records

    return read
