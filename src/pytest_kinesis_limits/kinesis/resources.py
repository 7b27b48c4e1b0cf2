"""Provisioning: unique names, tags, create-and-wait and delete for streams and buckets, and cleanup.

Every resource gets a name ``<prefix>-<run id>-<worker>-<n>`` and the tags ``created-by`` and ``run-id``,
so that a sweep only ever touches what this tool made. A :class:`ResourceTracker` remembers what was made
and deletes it in reverse order; failures to delete are returned, never swallowed.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import Clock

if TYPE_CHECKING:
    from botocore.client import BaseClient

CREATED_BY = "pytest-kinesis-limits"
TAG_CREATED_BY = "created-by"
TAG_RUN_ID = "run-id"
#: The region a resource serves. IAM roles are global and S3 lists buckets account-wide: a sweep of one region
#: tells its roles by this tag (see ``sweep``).
TAG_REGION = "region"


def new_run_id() -> str:
    """A short id for one test session: UTC time to the minute plus 4 random hex characters."""
    return time.strftime("%m%d%H%M", time.gmtime()) + secrets.token_hex(2)


class Namer:
    """Makes names unique per run and worker, valid for Kinesis, Firehose, S3 and IAM alike."""

    def __init__(self, prefix: str, run_id: str, worker: str = "gw0") -> None:
        self.base = re.sub(r"[^a-z0-9-]", "-", f"{prefix}-{run_id}-{worker}".lower())
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        shortest = min(limits.BUCKET_NAME_MAX_CHARS.value, limits.DELIVERY_STREAM_NAME_MAX_CHARS.value,
                       limits.IAM_ROLE_NAME_MAX_CHARS.value, limits.STREAM_NAME_MAX_CHARS.value)
        if len(self.base) + 8 > shortest:
            raise ValueError(f"resource name base {self.base!r} is too long for S3/IAM names")

    def name(self, kind: str = "") -> str:
        """The next name, e.g. ``pkl-11251830ab12-gw0-3`` (``kind`` adds a short tag like ``s`` or ``fh``)."""
        with self._lock:
            n = next(self._counter)
        tag = re.sub(r"[^a-z0-9]", "", kind.lower())[:3]
        return f"{self.base}-{tag}{n}" if tag else f"{self.base}-{n}"


def tags_for(run_id: str, region: str | None = None) -> dict[str, str]:
    """The tags of every resource of a run: ``created-by``, ``run-id`` and, given one, the ``region`` it serves."""
    tags = {TAG_CREATED_BY: CREATED_BY, TAG_RUN_ID: run_id}
    if region:
        tags[TAG_REGION] = region
    return tags


@dataclass(frozen=True)
class StreamInfo:
    """A provisioned stream."""

    name: str
    arn: str
    shard_count: int
    on_demand: bool = False
    max_record_size_kib: int | None = None

    @property
    def max_record_bytes(self) -> int:
        if self.max_record_size_kib:
            return self.max_record_size_kib * limits.KIB
        return limits.RECORD_MAX_BYTES.value


@dataclass(frozen=True)
class BucketInfo:
    """A provisioned S3 bucket."""

    name: str
    arn: str


@dataclass(frozen=True)
class WaitPolicy:
    """How to wait for a resource: poll every ``delay`` seconds, at most ``attempts`` times.

    With ``max_delay`` the pause doubles after each check that fails, up to ``max_delay`` (the exponential
    backoff of the AWS SDKs' waiters): short waits stay short and long ones (a stream CREATING for tens of
    seconds) take a few checks instead of one per ``delay``.
    """

    delay: float = 5.0
    attempts: int = 120
    max_delay: float | None = None

    def delays(self) -> Iterator[float]:
        """The pauses between checks, in order (``attempts - 1`` of them)."""
        delay = self.delay
        for _ in range(self.attempts - 1):
            yield delay
            if self.max_delay is not None:
                delay = min(delay * 2, max(self.max_delay, self.delay))


def wait_until(
    check: Callable[[], bool], *, clock: Clock, policy: WaitPolicy, what: str
) -> None:
    """Poll ``check`` on ``clock`` until it is true; raise TimeoutError naming ``what``.

    Used where botocore has no waiter, or where the clock is simulated (botocore's waiters sleep on the
    wall clock, which does not move a simulated one).
    """
    started = clock.now()
    pauses = policy.delays()
    for _attempt in range(policy.attempts):
        if check():
            return
        pause = next(pauses, None)
        if pause is not None:
            clock.sleep(pause)
    spacing = (f"{policy.delay:g} s apart" if policy.max_delay is None
               else f"{policy.delay:g} s to {policy.max_delay:g} s apart, {clock.now() - started:g} s in all")
    raise TimeoutError(f"{what}: not ready after {policy.attempts} checks {spacing}")


def stream_status(client: BaseClient, name: str) -> str:
    return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]


def wait_stream_active(client: BaseClient, name: str, *, clock: Clock, policy: WaitPolicy,
                       expect_s: float = 0.0) -> None:
    """Wait until the stream is ACTIVE: botocore's ``stream_exists`` waiter live, polling on a simulated clock.

    ``expect_s``: on a simulated clock, how long the transition typically takes (a catalogue ``lifecycle.*``
    entry); the first check comes after it, as the developer guide's example sleeps before its first
    DescribeStream, since there waiting is free and checks are not. Live it is ignored (emulators take a
    fraction of a second).
    """
    if clock.simulated:
        clock.sleep(expect_s)
        wait_until(lambda: stream_status(client, name) == "ACTIVE", clock=clock, policy=policy,
                   what=f"stream {name} ACTIVE")
        return
    client.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": policy.delay, "MaxAttempts": policy.attempts})


#: The words of AWS's LimitExceededException when too many of the account's streams are in transition ("This request
#: would have exceed the limit on the number of streams that can simultaneously be in CREATING or DELETING for the
#: account ... Limit: 5."; SplitShard and MergeShards count UPDATING too): the account's state, which other runs and
#: other users share, not a limit the call itself broke.
ACCOUNT_BUSY_WORDING = "simultaneously"
#: The first pause before a call the busy account refused is tried again; it doubles after each refusal.
ACCOUNT_BUSY_FIRST_PAUSE_S = 1.0


class AccountBusyError(RuntimeError):
    """Too many of the account's streams stayed in transition for the whole bound: the call was never judged, so a
    test that needed it is inconclusive, never failed (the plugin reports it as a skip saying so)."""


def account_busy(error: BaseException) -> bool:
    """Whether ``error`` is AWS's refusal because too many of the account's streams are in transition."""
    if not isinstance(error, ClientError):
        return False
    details = error.response.get("Error", {})
    return details.get("Code") == "LimitExceededException" and ACCOUNT_BUSY_WORDING in str(details.get("Message", ""))


def while_account_busy(call: Callable[[], Any], clock: Clock, bound_s: float, what: str) -> Any:
    """``call()``; when the account is busy (:func:`account_busy`), again after a pause that doubles from
    :data:`ACCOUNT_BUSY_FIRST_PAUSE_S`, for at most ``bound_s`` seconds on ``clock``; then :class:`AccountBusyError`
    naming ``what``. Any other error is raised at once."""
    start = clock.now()
    pause = ACCOUNT_BUSY_FIRST_PAUSE_S
    refusals = 0
    while True:
        try:
            return call()
        except ClientError as error:
            if not account_busy(error):
                raise
            refusals += 1
            waited = clock.now() - start
            if waited + pause > bound_s:
                raise AccountBusyError(
                    f"{what}: refused {refusals} time(s) over {waited:.0f} s because too many of the account's streams "
                    f"were in transition (LimitExceededException: {error.response['Error'].get('Message', '')}); "
                    "other runs or users hold them, so this is not a verdict on the call. Fix: run when the "
                    "account is quieter, or with fewer xdist workers") from error
            clock.sleep(pause)
            pause *= 2


class Transitions(Protocol):
    """What limits the account's streams in transition (``transitions.TransitionLimiter``): a slot is taken before
    CreateStream (given back once the stream is ACTIVE) and before DeleteStream (it frees once the stream is gone,
    or lapses by itself)."""

    def acquire(self, operation: str, hold_s: float, *, stream: str | None = None) -> Any: ...

    def release(self, lease: Any) -> None: ...


def create_stream(
    client: BaseClient,
    name: str,
    *,
    shard_count: int = 1,
    on_demand: bool = False,
    max_record_size_kib: int | None = None,
    tags: dict[str, str],
    clock: Clock,
    policy: WaitPolicy,
    transitions: Transitions | None = None,
) -> StreamInfo:
    """Create a tagged stream and wait until it is ACTIVE.

    The tags go in CreateStream only: AWS applies them from the CREATING status, and AddTagsToStream on a
    stream that is not ACTIVE is refused (ResourceInUseException, not retried). A backend that ignores
    CreateStream's Tags (moto) gets the missing ones once the stream is ACTIVE, so that a sweep finds it.
    With ``transitions``, a slot of the account's streams in transition is held from the call until ACTIVE.
    """
    kwargs: dict[str, Any] = {"StreamName": name, "Tags": tags}
    if on_demand:
        kwargs["StreamModeDetails"] = {"StreamMode": "ON_DEMAND"}
    else:
        kwargs["ShardCount"] = shard_count
        kwargs["StreamModeDetails"] = {"StreamMode": "PROVISIONED"}
    if max_record_size_kib is not None:
        low, high = limits.MAX_RECORD_SIZE_KIB_MIN.value, limits.MAX_RECORD_SIZE_KIB_MAX.value
        if not low <= max_record_size_kib <= high:
            raise ValueError(f"max_record_size_kib={max_record_size_kib} is outside {low}..{high} "
                             f"({limits.MAX_RECORD_SIZE_KIB_MAX.source})")
        kwargs["MaxRecordSizeInKiB"] = max_record_size_kib
    lease = transitions.acquire("CreateStream", policy.delay * policy.attempts) if transitions else None
    try:
        while_account_busy(lambda: client.create_stream(**kwargs), clock, policy.delay * policy.attempts,
                           f"CreateStream {name}")
        wait_stream_active(client, name, clock=clock, policy=policy,
                           expect_s=limits.LIFECYCLE_STREAM_CREATING_S.value)
    finally:
        if transitions is not None:
            transitions.release(lease)
    tag_missing(client, name, tags)
    summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    return StreamInfo(
        name=name,
        arn=summary["StreamARN"],
        shard_count=summary.get("OpenShardCount", shard_count),
        on_demand=on_demand,
        max_record_size_kib=max_record_size_kib,
    )


def stream_tags(client: BaseClient, name: str) -> dict[str, str]:
    """Every tag of the stream (ListTagsForStream, all pages)."""
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"StreamName": name}
    while True:
        page = client.list_tags_for_stream(**kwargs)
        tags.update({t["Key"]: t.get("Value", "") for t in page.get("Tags", [])})
        if not page.get("HasMoreTags") or not page.get("Tags"):
            return tags
        kwargs["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]


def tag_missing(client: BaseClient, name: str, tags: dict[str, str]) -> dict[str, str]:
    """Add the tags of ``tags`` the ACTIVE stream lacks (or has with another value); return what was added."""
    present = stream_tags(client, name)
    missing = {k: v for k, v in tags.items() if present.get(k) != v}
    if missing:
        client.add_tags_to_stream(StreamName=name, Tags=missing)
    return missing


def _status_if_exists(client: BaseClient, name: str) -> str | None:
    try:
        return stream_status(client, name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def stream_gone(client: BaseClient, name: str) -> bool:
    """Whether a stream no longer exists: its deletion is over, and AWS no longer counts it among the account's
    streams in transition."""
    return _status_if_exists(client, name) is None


def delete_stream(client: BaseClient, name: str, *, clock: Clock, policy: WaitPolicy, wait: bool = True,
                  transitions: Transitions | None = None) -> None:
    """Delete a stream (and its consumers) and wait until it is gone; a stream already gone is fine.

    A stream still CREATING or UPDATING (a test that failed mid-reshard) refuses DeleteStream with
    ResourceInUseException: wait until it is ACTIVE, then delete it, rather than leave it behind. One already
    DELETING (deleted by the test itself) is waited for. With ``wait=False`` (the fixtures' teardown) it returns
    once the deletion has started (the stream DELETING or gone): AWS finishes it, and a sweep is the backstop.
    With ``transitions``, a slot of the account's streams in transition is taken before the call (held while the
    stream is DELETING, as AWS counts it).
    """
    for attempt in (1, 2):
        lease = transitions.acquire("DeleteStream", limits.LIFECYCLE_STREAM_DELETING_S.value, stream=name) \
            if transitions else None
        try:
            while_account_busy(lambda: client.delete_stream(StreamName=name, EnforceConsumerDeletion=True), clock,
                               policy.delay * policy.attempts, f"DeleteStream {name}")
            break
        except AccountBusyError:
            if transitions is not None:
                transitions.release(lease)
            raise
        except ClientError as exc:
            if transitions is not None:
                transitions.release(lease)
            code = exc.response["Error"]["Code"]
            if code == "ResourceNotFoundException":
                return
            if code != "ResourceInUseException" or attempt == 2:
                raise
            status = _status_if_exists(client, name)
            if status is None:
                return
            if status == "DELETING":
                break
            wait_stream_active(client, name, clock=clock, policy=policy)
    if not wait:
        wait_until(lambda: _status_if_exists(client, name) in (None, "DELETING"), clock=clock, policy=policy,
                   what=f"stream {name} DELETING")
        return

    def gone() -> bool:
        try:
            client.describe_stream_summary(StreamName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return True
            raise
        return False

    if clock.simulated:
        clock.sleep(limits.LIFECYCLE_STREAM_DELETING_S.value)  # as wait_stream_active's expect_s
        wait_until(gone, clock=clock, policy=policy, what=f"stream {name} deleted")
    else:
        client.get_waiter("stream_not_exists").wait(
            StreamName=name, WaiterConfig={"Delay": policy.delay, "MaxAttempts": policy.attempts})


def create_bucket(client: BaseClient, name: str, *, region: str, tags: dict[str, str]) -> BucketInfo:
    """Create a tagged S3 bucket in ``region`` and wait until it exists."""
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    client.create_bucket(**kwargs)
    client.get_waiter("bucket_exists").wait(Bucket=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    client.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
    return BucketInfo(name=name, arn=f"arn:{client.meta.partition}:s3:::{name}")  # the region's partition


#: DeleteBucket attempts when objects arrived after the bucket was emptied (a delivery stream DELETING "might continue
#: to accept records", API_DeleteDeliveryStream.html, and teardown does not wait for it to be gone).
BUCKET_EMPTY_ATTEMPTS = 3


def _empty_bucket(client: BaseClient, name: str) -> None:
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=name):
        doomed = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                  for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            answer = client.delete_objects(Bucket=name, Delete={"Objects": doomed, "Quiet": True})
            errors = answer.get("Errors") or []  # DeleteObjects answers 200 and lists the keys it kept
            if errors:
                first = ", ".join(f"{e.get('Key')} ({e.get('Code')}: {e.get('Message')})" for e in errors[:3])
                raise RuntimeError(f"s3://{name}: {len(errors)} object(s) could not be deleted, so the bucket "
                                   f"cannot be: {first}")


def delete_bucket(client: BaseClient, name: str) -> None:
    """Empty the bucket (every object version) and delete it; a bucket already gone is fine. Objects that arrive
    between the emptying and DeleteBucket (``BucketNotEmpty``) are removed and the deletion tried again, up to
    :data:`BUCKET_EMPTY_ATTEMPTS` times."""
    for attempt in range(1, BUCKET_EMPTY_ATTEMPTS + 1):
        try:
            _empty_bucket(client, name)
            client.delete_bucket(Bucket=name)
            return
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("NoSuchBucket", "404"):
                return
            if code != "BucketNotEmpty" or attempt == BUCKET_EMPTY_ATTEMPTS:
                raise


@dataclass
class _Entry:
    kind: str
    name: str
    delete: Callable[[], None]


def stream_deletion(client: BaseClient, name: str, *, clock: Clock, policy: WaitPolicy,
                    transitions: Transitions | None = None) -> Callable[[], None]:
    """The deletion a tracker runs for a stream the fixtures made: started (DELETING or gone), not waited for,
    taking one of the account's transition slots when ``transitions`` is given."""
    return lambda: delete_stream(client, name, clock=clock, policy=policy, wait=False, transitions=transitions)


@dataclass
class ResourceTracker:
    """Remembers what was created and deletes it, newest first.

    :meth:`cleanup` attempts every deletion and returns ``(kind, name, error)`` for each that failed, so the
    caller can report it loudly (also kept in :attr:`failures`). With ``keep=True`` it deletes nothing.

    An interruption while deleting (KeyboardInterrupt from Ctrl-C or SIGTERM, a pytest-timeout failure, any
    ``BaseException``) does not stop the cleanup: an interruption usually cuts a wait short, often before the
    delete request was sent (a stream still CREATING is waited for first), so that entry is tried once more,
    the other entries follow, and the interruption is re-raised at the end (a KeyboardInterrupt before any
    other kind), so the run still stops.
    """

    keep: bool = False
    _entries: list[_Entry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    failures: list[tuple[str, str, BaseException]] = field(default_factory=list)
    #: ``(kind, name)`` of the entries this tool tagged (:meth:`add_tagged`).
    tagged: set[tuple[str, str]] = field(default_factory=set)

    def add(self, kind: str, name: str, delete: Callable[[], None]) -> None:
        """Delete ``kind`` ``name`` with ``delete()`` at cleanup (a resource of your own, which carries none of this
        tool's tags: ``sweep`` cannot find it if its deletion fails)."""
        with self._lock:
            self._entries.append(_Entry(kind, name, delete))

    def add_tagged(self, kind: str, name: str, delete: Callable[[], None]) -> None:
        """:meth:`add` for a resource this tool made and tagged (``created-by``, ``run-id``): ``sweep`` finds it."""
        with self._lock:
            self._entries.append(_Entry(kind, name, delete))
            self.tagged.add((kind, name))

    def hand_over(self, kind: str, name: str) -> Callable[[], None] | None:
        """Forget ``kind`` ``name`` and return its deletion, for another tracker to take (a stream made ahead by a
        pool goes to the test that uses it); None if this tracker does not hold it."""
        with self._lock:
            for entry in self._entries:
                if (entry.kind, entry.name) == (kind, name):
                    self._entries.remove(entry)
                    return entry.delete
        return None

    @property
    def names(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(e.kind, e.name) for e in self._entries]

    def _newest(self) -> _Entry | None:
        with self._lock:
            return self._entries[-1] if self._entries else None

    def _done(self, entry: _Entry) -> None:
        with self._lock:
            if self._entries and self._entries[-1] is entry:
                self._entries.pop()

    def cleanup(self) -> list[tuple[str, str, BaseException]]:
        if self.keep:
            with self._lock:
                self._entries.clear()
            return []
        failures: list[tuple[str, str, BaseException]] = []
        interruptions: list[BaseException] = []
        while True:
            try:
                # An entry leaves the list only once dealt with, so an interruption even between two deletions
                # loses nothing (deleting something already gone is fine for every kind).
                while (entry := self._newest()) is not None:
                    for attempt in (1, 2):
                        try:
                            entry.delete()
                        except Exception as exc:  # reported to the caller, never swallowed
                            failures.append((entry.kind, entry.name, exc))
                        except BaseException as exc:  # an interruption: this entry once more, then the others
                            interruptions.append(exc)
                            if attempt == 2:
                                failures.append((entry.kind, entry.name, exc))
                            continue
                        break
                    self._done(entry)
            except BaseException as exc:  # between two deletions: note it, go on
                interruptions.append(exc)
                continue
            break
        self.failures.extend(failures)
        if interruptions:
            first = next((i for i in interruptions if isinstance(i, KeyboardInterrupt)), interruptions[0])
            raise first
        return failures
