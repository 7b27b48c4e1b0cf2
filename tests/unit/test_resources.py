"""Resource helpers: a stream mid-reshard is still deleted, names stay valid, cleanup reports failures."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.kinesis.resources import (
    Namer,
    ResourceTracker,
    WaitPolicy,
    create_stream,
    delete_stream,
    wait_until,
)


class UpdatingStream:
    """A fake Kinesis client whose stream is UPDATING for ``polls`` status checks, refusing DeleteStream
    until it is ACTIVE, as AWS does."""

    def __init__(self, polls: int) -> None:
        self.polls, self.deleted, self.calls = polls, False, []

    def _error(self, code: str, op: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, op)

    def describe_stream_summary(self, StreamName: str) -> dict[str, Any]:
        self.calls.append("describe")
        if self.deleted:
            raise self._error("ResourceNotFoundException", "DescribeStreamSummary")
        status = "UPDATING" if self.polls > 0 else "ACTIVE"
        self.polls -= 1
        return {"StreamDescriptionSummary": {"StreamStatus": status}}

    def delete_stream(self, StreamName: str, EnforceConsumerDeletion: bool) -> None:
        self.calls.append("delete")
        if self.polls > 0:
            raise self._error("ResourceInUseException", "DeleteStream")
        self.deleted = True


def test_a_stream_still_updating_is_deleted_once_active() -> None:
    fake = UpdatingStream(polls=3)
    delete_stream(fake, "s", clock=SimulatedClock(0), policy=WaitPolicy(delay=1, attempts=10))
    assert fake.deleted and fake.calls[0] == "delete" and fake.calls.count("delete") == 2


def test_a_stream_that_never_settles_is_an_error_not_a_hang() -> None:
    fake = UpdatingStream(polls=10**6)
    with pytest.raises(TimeoutError, match="stream s ACTIVE"):
        delete_stream(fake, "s", clock=SimulatedClock(0), policy=WaitPolicy(delay=1, attempts=5))


def test_names_fit_every_service_and_are_unique() -> None:
    namer = Namer("pkl", "11251830ab12", "gw12")
    names = {namer.name("fh") for _ in range(1000)}
    assert len(names) == 1000
    longest = max(names, key=len)
    assert len(longest) <= limits.BUCKET_NAME_MAX_CHARS.value and longest == longest.lower()


def test_cleanup_reports_every_failure_and_deletes_newest_first() -> None:
    order: list[str] = []
    tracker = ResourceTracker()
    tracker.add("stream", "a", lambda: order.append("a"))
    tracker.add("role", "b", lambda: (_ for _ in ()).throw(RuntimeError("denied")))
    tracker.add("bucket", "c", lambda: order.append("c"))
    failures = tracker.cleanup()
    assert order == ["c", "a"]
    assert [(kind, name, str(error)) for kind, name, error in failures] == [("role", "b", "denied")]


# --- interruptions lose nothing (issue 9, item 3) ---------------------------------------------------------------
class _Flaky:
    """A deletion that raises ``exc`` on its first ``times`` calls, then succeeds; counts its calls."""

    def __init__(self, name: str, order: list[str], exc: BaseException | None = None, times: int = 1) -> None:
        self.name, self.order, self.exc, self.times, self.calls = name, order, exc, times, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.exc is not None and self.calls <= self.times:
            raise self.exc
        self.order.append(self.name)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), pytest.fail.Exception("Timeout >1800.0s"),
                                          SystemExit(143)], ids=["ctrl-c-or-sigterm", "pytest-timeout", "exit"])
def test_an_interruption_during_cleanup_deletes_every_entry_then_is_reraised(interruption: BaseException) -> None:
    order: list[str] = []
    tracker = ResourceTracker()
    tracker.add("stream", "a", _Flaky("a", order))
    tracker.add("role", "b", _Flaky("b", order, interruption))  # interrupted once: tried again
    tracker.add("bucket", "c", _Flaky("c", order))
    with pytest.raises(type(interruption)):
        tracker.cleanup()
    assert order == ["c", "b", "a"]  # the interrupted entry deleted on its second try, in its place
    assert tracker.failures == []


def test_an_entry_interrupted_twice_is_reported_and_the_rest_still_deleted() -> None:
    order: list[str] = []
    tracker = ResourceTracker()
    tracker.add("stream", "a", _Flaky("a", order))
    tracker.add("role", "b", _Flaky("b", order, KeyboardInterrupt(), times=2))
    with pytest.raises(KeyboardInterrupt):
        tracker.cleanup()
    assert order == ["a"]
    assert [(kind, name, type(error)) for kind, name, error in tracker.failures] == [
        ("role", "b", KeyboardInterrupt)]


def test_a_keyboard_interrupt_wins_over_a_timeout_when_both_come() -> None:
    """A timeout then Ctrl-C: the run must stop (a re-raised timeout alone would let pytest go on)."""
    tracker = ResourceTracker()
    tracker.add("stream", "a", _Flaky("a", [], KeyboardInterrupt()))
    tracker.add("stream", "b", _Flaky("b", [], pytest.fail.Exception("Timeout")))
    with pytest.raises(KeyboardInterrupt):
        tracker.cleanup()


def test_an_interruption_between_two_deletions_loses_no_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal can land after one deletion and before the next one starts: the entry in hand is not lost."""
    order: list[str] = []
    tracker = ResourceTracker()
    tracker.add("stream", "a", _Flaky("a", order))
    tracker.add("bucket", "b", _Flaky("b", order))
    real_done, calls = tracker._done, []

    def interrupted_once(entry) -> None:  # noqa: ANN001
        calls.append(entry.name)
        if len(calls) == 1:
            raise KeyboardInterrupt  # after "b" was deleted, before it left the list
        real_done(entry)

    monkeypatch.setattr(tracker, "_done", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        tracker.cleanup()
    assert order == ["b", "b", "a"] and tracker.names == []  # "b" deleted again (already gone is fine), then "a"


class LifecycleStream:
    """A fake Kinesis client as strict as AWS about tags: CREATING for ``creating_polls`` status checks, and
    AddTagsToStream refused until ACTIVE. ``keeps_tags=False`` models a backend that ignores CreateStream's Tags."""

    def __init__(self, creating_polls: int = 2, keeps_tags: bool = True, initial: dict[str, str] | None = None):
        self.creating_polls, self.keeps_tags = creating_polls, keeps_tags
        self.tags: dict[str, str] = dict(initial or {})
        self.calls: list[tuple[str, Any]] = []

    def create_stream(self, **kwargs: Any) -> None:
        self.calls.append(("create", kwargs.get("Tags")))
        if self.keeps_tags:
            self.tags.update(kwargs.get("Tags") or {})

    def describe_stream_summary(self, StreamName: str) -> dict[str, Any]:
        status = "CREATING" if self.creating_polls > 0 else "ACTIVE"
        self.creating_polls -= 1
        return {"StreamDescriptionSummary": {"StreamStatus": status, "StreamARN": f"arn:aws:kinesis:::stream/{StreamName}",
                                             "OpenShardCount": 1}}

    def list_tags_for_stream(self, StreamName: str, **_: Any) -> dict[str, Any]:
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()], "HasMoreTags": False}

    def add_tags_to_stream(self, StreamName: str, Tags: dict[str, str]) -> None:
        self.calls.append(("add_tags", Tags))
        if self.creating_polls >= 0:
            raise ClientError({"Error": {"Code": "ResourceInUseException", "Message": "not ACTIVE"}},
                              "AddTagsToStream")
        self.tags.update(Tags)


TAGS = {"created-by": "pytest-kinesis-limits", "run-id": "r1"}


def _create(fake: LifecycleStream) -> None:
    create_stream(fake, "s", tags=TAGS, clock=SimulatedClock(0), policy=WaitPolicy(delay=1, attempts=10))


def test_create_stream_tags_in_create_stream_only() -> None:
    """The fixtures' blocker (issue 9): no AddTagsToStream while the stream is CREATING."""
    fake = LifecycleStream()
    _create(fake)
    assert fake.calls == [("create", TAGS)] and fake.tags == TAGS


def test_create_stream_adds_only_missing_tags_once_active() -> None:
    fake = LifecycleStream(keeps_tags=False, initial={"run-id": "other"})
    _create(fake)
    assert fake.calls == [("create", TAGS), ("add_tags", TAGS)]
    fake = LifecycleStream(keeps_tags=False, initial={"created-by": "pytest-kinesis-limits"})
    _create(fake)
    assert fake.calls[-1] == ("add_tags", {"run-id": "r1"}) and fake.tags == TAGS


def test_wait_policy_backs_off_up_to_its_ceiling() -> None:
    assert list(WaitPolicy(delay=1, attempts=7, max_delay=10).delays()) == [1, 2, 4, 8, 10, 10]
    assert list(WaitPolicy(delay=0.5, attempts=4).delays()) == [0.5, 0.5, 0.5]
    clock = SimulatedClock(0)
    with pytest.raises(TimeoutError, match=r"not ready after 4 checks 1 s to 10 s apart, 7 s in all"):
        wait_until(lambda: False, clock=clock, policy=WaitPolicy(delay=1, attempts=4, max_delay=10), what="x")


class DeletingStream(UpdatingStream):
    """A stream someone already deleted: DeleteStream is refused (DELETING) and it is gone two checks later."""

    def __init__(self) -> None:
        super().__init__(polls=0)
        self.left = 2

    def describe_stream_summary(self, StreamName: str) -> dict[str, Any]:
        self.calls.append("describe")
        self.left -= 1
        if self.left < 0:
            raise self._error("ResourceNotFoundException", "DescribeStreamSummary")
        return {"StreamDescriptionSummary": {"StreamStatus": "DELETING"}}

    def delete_stream(self, StreamName: str, EnforceConsumerDeletion: bool) -> None:
        self.calls.append("delete")
        raise self._error("ResourceInUseException", "DeleteStream")


def test_a_stream_already_deleting_is_waited_for_not_an_error() -> None:
    fake = DeletingStream()
    delete_stream(fake, "s", clock=SimulatedClock(0), policy=WaitPolicy(delay=1, attempts=10))
    assert fake.calls.count("delete") == 1 and fake.left < 0
