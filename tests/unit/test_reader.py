"""The lineage-aware reader against small in-memory Kinesis fakes and, for one simple case, moto."""

from __future__ import annotations

import collections
import datetime as dt
import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.kinesis.reader import (
    END_CAUGHT_UP,
    END_CLOSED_CAUGHT_UP,
    END_EMPTY_POLLS,
    END_NULL_ITERATOR,
    ReaderBoundError,
    list_all_shards,
    read_stream,
)

TOP = 2 ** limits.HASH_KEY_BITS.value - 1
HALF = TOP // 2


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetRecords")


class FakeKinesis:
    """A tiny Kinesis: shards with parents and hash ranges, records, paged ListShards and GetRecords.

    ``null_at_end`` (AWS): a closed shard's page that reaches its end has ``NextShardIterator`` null and
    ``ChildShards``; without it (plain moto) the iterator never nulls and ``ChildShards`` is never sent.
    ``unlisted`` shards are left out of ListShards (created after it), so only ChildShards reveal them.
    ``throttle`` maps a shard to how many of its next GetRecords calls fail with throttling; ``enforce_rate``
    throttles any call beyond the documented calls per second per shard (on ``clock``).
    """

    def __init__(self, clock: SimulatedClock, *, null_at_end: bool = True, list_page: int = 2,
                 enforce_rate: bool = True) -> None:
        self.clock = clock
        self.null_at_end = null_at_end
        self.list_page = list_page
        self.enforce_rate = enforce_rate
        self.shards: dict[str, dict[str, Any]] = {}
        self.records: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        self.unlisted: set[str] = set()
        self.throttle: dict[str, int] = {}
        self.expire: dict[str, int] = {}
        self.calls: list[tuple[float, str]] = []
        self.rate_throttles = 0
        self.next_seq = 1000

    def add_shard(self, sid: str, lo: int, hi: int, *, parent: str | None = None,
                  adjacent: str | None = None) -> None:
        shard: dict[str, Any] = {"ShardId": sid, "HashKeyRange": {"StartingHashKey": str(lo), "EndingHashKey": str(hi)},
                                 "SequenceNumberRange": {"StartingSequenceNumber": str(self.next_seq)}}
        if parent:
            shard["ParentShardId"] = parent
        if adjacent:
            shard["AdjacentParentShardId"] = adjacent
        self.shards[sid] = shard

    def close(self, sid: str) -> None:
        self.shards[sid]["SequenceNumberRange"]["EndingSequenceNumber"] = str(self.next_seq)
        self.next_seq += 1

    def put(self, sid: str, key: str, payload: dict[str, Any]) -> str:
        seq = str(self.next_seq)
        self.next_seq += 1
        self.records[sid].append({"SequenceNumber": seq, "PartitionKey": key, "Data": json.dumps(payload).encode(),
                                  "ApproximateArrivalTimestamp": dt.datetime.fromtimestamp(self.clock.now(),
                                                                                           dt.timezone.utc)})
        return seq

    # --- the client surface ---
    def list_shards(self, StreamName: str | None = None, NextToken: str | None = None) -> dict[str, Any]:
        assert (StreamName is None) != (NextToken is None), "ListShards takes StreamName or NextToken, not both"
        visible = [s for sid, s in sorted(self.shards.items()) if sid not in self.unlisted]
        start = int(NextToken or 0)
        page = visible[start:start + self.list_page]
        answer: dict[str, Any] = {"Shards": page}
        if start + self.list_page < len(visible):
            answer["NextToken"] = str(start + self.list_page)
        return answer

    def get_shard_iterator(self, StreamName: str, ShardId: str, ShardIteratorType: str,
                           StartingSequenceNumber: str | None = None) -> dict[str, Any]:
        if ShardIteratorType == "AFTER_SEQUENCE_NUMBER":
            seqs = [r["SequenceNumber"] for r in self.records[ShardId]]
            return {"ShardIterator": f"{ShardId}|{seqs.index(StartingSequenceNumber) + 1}"}
        assert ShardIteratorType == "TRIM_HORIZON"
        return {"ShardIterator": f"{ShardId}|0"}

    def _children(self, sid: str) -> list[dict[str, Any]]:
        children = []
        for child, shard in sorted(self.shards.items()):
            parents = [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]
            if sid in parents:
                children.append({"ShardId": child, "ParentShards": parents, "HashKeyRange": shard["HashKeyRange"]})
        return children

    def get_records(self, ShardIterator: str, Limit: int | None = None) -> dict[str, Any]:
        sid, pos_text = ShardIterator.split("|")
        now = self.clock.now()
        self.calls.append((now, sid))
        if self.throttle.get(sid, 0) > 0:
            self.throttle[sid] -= 1
            raise _error("ProvisionedThroughputExceededException")
        if self.expire.get(sid, 0) > 0:
            self.expire[sid] -= 1
            raise _error("ExpiredIteratorException")
        recent = [t for t, s in self.calls if s == sid and now - t < 1.0]
        if self.enforce_rate and len(recent) > limits.SHARD_READ_CALLS_PER_S.value:
            self.rate_throttles += 1
            raise _error("ProvisionedThroughputExceededException")
        pos = int(pos_text)
        stored = self.records[sid]
        page = stored[pos:pos + (Limit or limits.GET_RECORDS_MAX_RECORDS.value)]
        pos += len(page)
        answer: dict[str, Any] = {"Records": page, "MillisBehindLatest": 0 if pos >= len(stored) else 1000,
                                  "NextShardIterator": f"{sid}|{pos}"}
        closed = "EndingSequenceNumber" in self.shards[sid]["SequenceNumberRange"]
        if self.null_at_end and closed and pos >= len(stored):
            answer["NextShardIterator"] = None
            answer["ChildShards"] = self._children(sid)
        return answer


def _fill(fake: FakeKinesis, sid: str, key: str, ids: range) -> None:
    for n in ids:
        fake.put(sid, key, {"id": n})


def _ids(result: Any) -> list[int]:
    return [json.loads(r.data)["id"] for r in result.records]


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(start=1_700_000_000)


def _split_stream(clock: SimulatedClock, **kwargs: Any) -> FakeKinesis:
    """shard-0 split into shard-1 (low half) and shard-2 (high half); key 'k' lives in the high half."""
    fake = FakeKinesis(clock, **kwargs)
    fake.add_shard("shard-0", 0, TOP)
    _fill(fake, "shard-0", "k", range(0, 25))
    fake.close("shard-0")
    fake.add_shard("shard-1", 0, HALF, parent="shard-0")
    fake.add_shard("shard-2", HALF + 1, TOP, parent="shard-0")
    _fill(fake, "shard-2", "k", range(25, 40))
    _fill(fake, "shard-1", "j", range(100, 105))
    return fake


def test_split_parent_read_to_its_end_before_children(clock: SimulatedClock) -> None:
    fake = _split_stream(clock)
    result = read_stream(fake, "s", clock=clock, limit=10)
    assert result.shard_order == ["shard-0", "shard-1", "shard-2"]
    assert _ids(result) == list(range(25)) + list(range(100, 105)) + list(range(25, 40))
    parent = result.shards["shard-0"]
    assert parent.ended and parent.end_reason == END_NULL_ITERATOR
    assert parent.child_shard_ids == ("shard-1", "shard-2") and parent.records_read == 25
    assert result.shards["shard-2"].parents == ("shard-0",)
    assert not result.shards["shard-2"].ended and result.shards["shard-2"].end_reason == END_CAUGHT_UP
    assert result.records[0].arrival == 1_700_000_000.0  # from ApproximateArrivalTimestamp, as epoch seconds
    assert result.closed_shards_ended


def test_merge_child_waits_for_both_parents(clock: SimulatedClock) -> None:
    fake = FakeKinesis(clock)
    fake.add_shard("shard-0", 0, HALF)
    fake.add_shard("shard-1", HALF + 1, TOP)
    _fill(fake, "shard-0", "a", range(0, 5))
    _fill(fake, "shard-1", "b", range(10, 15))
    fake.close("shard-0")
    fake.close("shard-1")
    fake.add_shard("shard-0a", 0, TOP, parent="shard-1", adjacent="shard-0")
    _fill(fake, "shard-0a", "a", range(5, 8))
    result = read_stream(fake, "s", clock=clock)
    # "shard-0a" sorts before "shard-1" by id, yet must wait for its second parent.
    assert result.shard_order == ["shard-0", "shard-1", "shard-0a"]
    assert result.shards["shard-0a"].parents == ("shard-1", "shard-0")
    assert _ids(result)[-3:] == [5, 6, 7]


def test_child_known_only_from_child_shards_is_followed(clock: SimulatedClock) -> None:
    fake = _split_stream(clock)
    fake.unlisted = {"shard-1", "shard-2"}
    result = read_stream(fake, "s", clock=clock)
    assert result.shard_order == ["shard-0", "shard-1", "shard-2"]
    assert not result.shards["shard-2"].listed
    assert sorted(_ids(result)) == list(range(40)) + list(range(100, 105))


def test_plain_moto_like_backend_does_not_hang(clock: SimulatedClock) -> None:
    fake = _split_stream(clock, null_at_end=False)
    result = read_stream(fake, "s", clock=clock, limit=7)
    parent = result.shards["shard-0"]
    assert parent.ended and parent.end_reason == END_CLOSED_CAUGHT_UP
    assert parent.child_shard_ids == ()
    assert result.shard_order == ["shard-0", "shard-1", "shard-2"]
    assert len(result.records) == 45


def test_require_null_iterator_does_not_trust_caught_up_closed_shards(clock: SimulatedClock) -> None:
    fake = _split_stream(clock, null_at_end=False)
    result = read_stream(fake, "s", clock=clock, require_null_iterator=True, max_empty_polls=3)
    parent = result.shards["shard-0"]
    assert not parent.ended and parent.end_reason == END_EMPTY_POLLS and parent.calls == 4
    assert not result.closed_shards_ended
    # Against AWS semantics the same setting ends the parent normally.
    aws = read_stream(_split_stream(clock), "s", clock=clock, require_null_iterator=True)
    assert aws.shards["shard-0"].end_reason == END_NULL_ITERATOR and aws.closed_shards_ended


def test_reader_paces_calls_on_the_clock(clock: SimulatedClock) -> None:
    fake = FakeKinesis(clock)
    fake.add_shard("shard-0", 0, TOP)
    _fill(fake, "shard-0", "k", range(60))
    start = clock.now()
    result = read_stream(fake, "s", clock=clock, limit=2)
    assert fake.rate_throttles == 0 and result.throttles == 0
    per_second = limits.SHARD_READ_CALLS_PER_S.value
    assert result.calls == 31
    # 31 calls at most `per_second` a second need at least 6 whole seconds on the clock.
    assert clock.now() - start >= (result.calls - 1) // per_second


def test_unpaced_calls_would_be_throttled(clock: SimulatedClock) -> None:
    """The rate-enforcing fake is able to catch a reader that does not pace."""
    fake = FakeKinesis(clock)
    fake.add_shard("shard-0", 0, TOP)
    _fill(fake, "shard-0", "k", range(20))
    result = read_stream(fake, "s", clock=clock, limit=2, calls_per_s=100)
    assert fake.rate_throttles > 0 and result.throttles == fake.rate_throttles
    assert _ids(result) == list(range(20))  # throttled calls were retried after a back-off


def test_throttling_backs_off_retries_and_counts(clock: SimulatedClock) -> None:
    fake = _split_stream(clock)
    fake.throttle = {"shard-0": 3, "shard-2": 1}
    start = clock.now()
    result = read_stream(fake, "s", clock=clock)
    assert result.throttles == 4
    assert result.shards["shard-0"].throttles == 3 and result.shards["shard-2"].throttles == 1
    assert sorted(_ids(result)) == list(range(40)) + list(range(100, 105))
    assert clock.now() > start


def test_persistent_throttling_raises_a_bound_error(clock: SimulatedClock) -> None:
    fake = _split_stream(clock)
    fake.throttle = {"shard-0": 10_000}
    with pytest.raises(ReaderBoundError, match="throttled 5 times in a row") as caught:
        read_stream(fake, "s", clock=clock, max_consecutive_throttles=5)
    assert caught.value.partial.throttles == 5


def test_max_calls_bound(clock: SimulatedClock) -> None:
    fake = _split_stream(clock)
    with pytest.raises(ReaderBoundError, match="max_calls=3"):
        read_stream(fake, "s", clock=clock, limit=1, max_calls=3)


def test_open_shard_gives_up_after_empty_polls(clock: SimulatedClock) -> None:
    fake = FakeKinesis(clock)
    fake.add_shard("shard-0", 0, TOP)
    original = fake.get_records

    def never_caught_up(**kwargs: Any) -> dict[str, Any]:
        answer = original(**kwargs)
        answer["MillisBehindLatest"] = 5000
        return answer

    fake.get_records = never_caught_up  # type: ignore[method-assign]
    result = read_stream(fake, "s", clock=clock, max_empty_polls=4)
    assert result.calls == 4 and result.shards["shard-0"].end_reason == END_EMPTY_POLLS


def test_list_all_shards_follows_next_token(clock: SimulatedClock) -> None:
    fake = FakeKinesis(clock, list_page=1)
    for n in range(5):
        fake.add_shard(f"shard-{n}", n, n)
    assert [s["ShardId"] for s in list_all_shards(fake, "s")] == [f"shard-{n}" for n in range(5)]


@pytest.fixture
def moto_kinesis(monkeypatch: pytest.MonkeyPatch) -> Any:
    import moto  # a dependency of the package: never skipped
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        yield boto3.client("kinesis", region_name="us-east-1")


@pytest.fixture
def stream_name() -> str:
    """A unique name: a session-wide moto mock (the plugin's) may be active, and nested mocks do not reset."""
    return f"reader-{uuid.uuid4().hex[:8]}"


def test_one_shard_on_moto(moto_kinesis: Any, clock: SimulatedClock, stream_name: str) -> None:
    client = moto_kinesis
    client.create_stream(StreamName=stream_name, ShardCount=1)
    client.put_records(StreamName=stream_name, Records=[{"PartitionKey": f"k{n % 3}", "Data": json.dumps({"id": n}).encode()}
                                                for n in range(30)])
    result = read_stream(client, stream_name, clock=clock, limit=7)
    assert _ids(result) == list(range(30))
    (shard,) = result.shards.values()
    assert not shard.ended and shard.end_reason == END_CAUGHT_UP and shard.records_read == 30
    assert [int(r.sequence_number) for r in result.records] == sorted(int(r.sequence_number) for r in result.records)
    assert result.records[0].partition_key == "k0" and result.records[0].arrival > 0


def test_split_on_plain_moto_terminates_parent_first(moto_kinesis: Any, clock: SimulatedClock, stream_name: str) -> None:
    client = moto_kinesis
    client.create_stream(StreamName=stream_name, ShardCount=1)
    client.put_records(StreamName=stream_name, Records=[{"PartitionKey": "k", "Data": json.dumps({"id": n}).encode()}
                                                for n in range(10)])
    (shard,) = client.list_shards(StreamName=stream_name)["Shards"]
    client.split_shard(StreamName=stream_name, ShardToSplit=shard["ShardId"], NewStartingHashKey=str(HALF + 1))
    result = read_stream(client, stream_name, clock=clock)
    parent = result.shards[shard["ShardId"]]
    assert result.shard_order[0] == shard["ShardId"] and parent.ended
    assert parent.end_reason == END_CLOSED_CAUGHT_UP and len(result.shard_order) == 3


def test_lineage_cycle_raises_instead_of_hanging(clock: SimulatedClock) -> None:
    fake = FakeKinesis(clock)
    fake.add_shard("shard-a", 0, HALF, parent="shard-b")
    fake.add_shard("shard-b", HALF + 1, TOP, parent="shard-a")
    with pytest.raises(ReaderBoundError, match="cannot order shards"):
        read_stream(fake, "s", clock=clock)


def test_expired_iterator_resumes_after_the_last_record(clock: SimulatedClock) -> None:
    fake = FakeKinesis(clock)
    fake.add_shard("shard-0", 0, TOP)
    _fill(fake, "shard-0", "k", range(10))
    original = fake.get_records

    def expire_after_first_page(**kwargs: Any) -> dict[str, Any]:
        answer = original(**kwargs)
        fake.expire["shard-0"] = 1 if len(fake.calls) == 1 else 0
        return answer

    fake.get_records = expire_after_first_page  # type: ignore[method-assign]
    result = read_stream(fake, "s", clock=clock, limit=4)
    assert _ids(result) == list(range(10))
