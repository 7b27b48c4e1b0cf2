"""Fixtures of the live budget (issue 12; docs/live-budget.md), registered by the plugin beside fixtures.py.

* ``kinesis_transitions``: the account's streams in transition across xdist workers (transitions.py);
* ``_kinesis_stream_pool``: live and endpoint runs with a plan make each test's streams while the test before it
  runs (pool.py);
* ``lease_shared_stream`` and ``kinesis_shared_stream``: a worker's shared one-shard streams (shared.py), for tests
  that need a shard but no stream of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kinesis_limits.plugin.fixtures import _report_cleanup
from pytest_kinesis_limits.settings import Settings
from pytest_kinesis_limits.plugin.session import METER_KEY, POOL_KEY, POOL_SHAPES_KEY

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from pytest_kinesis_limits.clock import Clock
    from pytest_kinesis_limits.kinesis.resources import Namer, StreamInfo, Transitions, WaitPolicy
    from pytest_kinesis_limits.live.shared_streams import SharedStreams, StreamLease


@pytest.fixture(scope="session")
def kinesis_transitions(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Transitions | None:
    """Live and endpoint runs: the account's streams in transition, across xdist workers (at most five CREATING or
    DELETING, CreateStream and DeleteStream at most five calls a second): the stream fixtures take a slot before
    each call; a deleted stream's slot frees once it is gone. Offline ``None`` (the offline layer enforces the rule
    per process)."""
    from pytest_kinesis_limits.plugin.budget_hooks import RUN_DIR_KEY
    from pytest_kinesis_limits.kinesis.resources import stream_gone
    from pytest_kinesis_limits.live.transitions import TransitionLimiter

    folder = pytestconfig.stash.get(RUN_DIR_KEY, None)
    if not folder:
        return None
    client = request.getfixturevalue("kinesis_client")
    return TransitionLimiter(folder, gone=lambda name: stream_gone(client, name))


@pytest.fixture(scope="session", autouse=True)
def _kinesis_stream_pool(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Live and endpoint runs with a plan (the budget guard's): the pool that makes each test's streams while the
    test before it runs (pool.py). Anything else: None, and nothing is asked of the backend."""
    if not pytestconfig.stash.get(POOL_SHAPES_KEY, None):
        yield None
        return
    import contextlib

    from pytest_kinesis_limits.kinesis import resources
    from pytest_kinesis_limits.live.stream_pool import StreamPool

    settings: Settings = request.getfixturevalue("kinesis_settings")
    client: BaseClient = request.getfixturevalue("kinesis_client")
    namer: Namer = request.getfixturevalue("kinesis_namer")
    tags: dict[str, str] = request.getfixturevalue("kinesis_tags")
    clock: Clock = request.getfixturevalue("kinesis_clock")
    policy: WaitPolicy = request.getfixturevalue("kinesis_wait_policy")
    transitions: Transitions | None = request.getfixturevalue("kinesis_transitions")
    meter = pytestconfig.stash.get(METER_KEY, None)
    tracker = resources.ResourceTracker(keep=settings.keep_resources)

    def make(shape: tuple[int, bool, int | None], owner: str) -> StreamInfo:
        name = namer.name("s")
        tracker.add_tagged("stream", name, resources.stream_deletion(client, name, clock=clock, policy=policy,
                                                              transitions=transitions))
        with contextlib.ExitStack() as stack:
            if meter is not None:
                stack.enter_context(meter.attribute(owner))
                stack.enter_context(meter.made_by_fixture())
            return resources.create_stream(
                client, name, shard_count=shape[0] or 1, on_demand=shape[1], max_record_size_kib=shape[2],
                tags=tags, clock=clock, policy=policy, transitions=transitions)

    pool = StreamPool(make)
    pytestconfig.stash[POOL_KEY] = (pool, tracker)
    try:
        yield pool
    finally:
        pytestconfig.stash[POOL_KEY] = None
        try:
            pool.close()
        finally:
            _report_cleanup(tracker)


@pytest.fixture(scope="session")
def _kinesis_shared_streams(
    pytestconfig: pytest.Config,
    kinesis_settings: Settings,
    kinesis_client: BaseClient,
    kinesis_namer: Namer,
    kinesis_tags: dict[str, str],
    kinesis_clock: Clock,
    kinesis_wait_policy: WaitPolicy,
    kinesis_transitions: Transitions | None,
) -> Iterator[SharedStreams]:
    """The session's (an xdist worker's) shared streams, made at their first lease, deleted at the session's end."""
    import contextlib

    from pytest_kinesis_limits.kinesis import resources
    from pytest_kinesis_limits.kinesis.reader import read_stream
    from pytest_kinesis_limits.live.shared_streams import SharedStreams, shared_key

    tracker = resources.ResourceTracker(keep=kinesis_settings.keep_resources)
    meter = pytestconfig.stash.get(METER_KEY, None)

    def make(max_record_size_kib: int | None) -> StreamInfo:
        name = kinesis_namer.name("s")
        tracker.add_tagged("stream", name, resources.stream_deletion(
            kinesis_client, name, clock=kinesis_clock, policy=kinesis_wait_policy, transitions=kinesis_transitions))
        with meter.sharing(shared_key(max_record_size_kib)) if meter is not None else contextlib.nullcontext():
            return resources.create_stream(
                kinesis_client, name, shard_count=1, max_record_size_kib=max_record_size_kib, tags=kinesis_tags,
                clock=kinesis_clock, policy=kinesis_wait_policy, transitions=kinesis_transitions)

    def read(name: str, after: Any) -> list[Any]:
        return read_stream(kinesis_client, name, clock=kinesis_clock, start_after=after).records

    def exists(name: str) -> bool:
        return resources._status_if_exists(kinesis_client, name) is not None

    try:
        yield SharedStreams(make, read, kinesis_clock, exists=exists if kinesis_settings.offline else None)
    finally:
        _report_cleanup(tracker)


@pytest.fixture
def lease_shared_stream(_kinesis_shared_streams: SharedStreams, pytestconfig: pytest.Config
                        ) -> Iterator[Callable[..., StreamLease]]:
    """Factory: ``lease_shared_stream(max_record_size_kib=None)`` -> StreamLease of this worker's shared one-shard
    stream of that shape (made at its first lease, deleted at the session's end), for tests that need a shard but
    no stream of their own. ``read_records(lease)`` reads only what was written after the lease began; each lease
    starts on a quiet shard (a second, plus one per MiB the previous test stored beyond the first; none after a
    test that stored nothing: ``shared.quiet_pause_s``). Offline and live alike."""
    from pytest_kinesis_limits.live.shared_streams import shared_key

    meter = pytestconfig.stash.get(METER_KEY, None)
    leases: list[StreamLease] = []

    def lease(max_record_size_kib: int | None = None) -> StreamLease:
        if meter is not None:
            meter.uses_shared(shared_key(max_record_size_kib))
        leases.append(_kinesis_shared_streams.lease(max_record_size_kib))
        return leases[-1]

    yield lease
    for held in reversed(leases):
        _kinesis_shared_streams.release(held)


@pytest.fixture
def kinesis_shared_stream(lease_shared_stream: Callable[..., StreamLease]) -> StreamLease:
    """A lease of this worker's shared one-shard stream (see ``lease_shared_stream``): for tests that write a little
    and read back what they wrote, such as the PutRecords caps; ``read_records(kinesis_shared_stream)`` returns only
    this test's records."""
    return lease_shared_stream()
