"""The scenario runner without a backend: the attempt log's classification, the reshard calls, and a whole
run against a fake whose stream status lags the reshard call."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.kinesis import payloads
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.kinesis.reader import THROTTLED
from pytest_kinesis_limits.kinesis.resharding import AttemptLog, Reshard, ReshardResult, Scenario, run_scenario

TOP = 2 ** limits.HASH_KEY_BITS.value - 1


def _entries(*ids: int) -> list[dict]:
    return [{"Data": payloads.encode_json({"test": n}), "PartitionKey": f"k{n % 2}"} for n in ids]


class FakeClient:
    """Answers PutRecords with a canned answer or error; records the other calls."""

    def __init__(self, answer=None, error: Exception | None = None) -> None:
        self.answer, self.error, self.calls = answer, error, []

    def put_records(self, **kwargs):
        if self.error:
            raise self.error
        return self.answer

    def __getattr__(self, name):
        return lambda **kwargs: self.calls.append((name, kwargs))


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "PutRecords")


def test_acknowledged_refused_and_positions_per_key() -> None:
    answer = {"FailedRecordCount": 1, "Records": [
        {"ShardId": "s0", "SequenceNumber": "1"},
        {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"},
        {"ShardId": "s0", "SequenceNumber": "2"},
    ]}
    log = AttemptLog(FakeClient(answer))
    log.put_records(StreamName="s", Records=_entries(0, 1, 2))
    assert [(a.payload_id, a.partition_key, a.key_order, a.maybe_stored) for a in log.acked] == \
        [(0, "k0", 0, False), (2, "k0", 1, False)]
    assert log.errors_in("before") == {} and log.throttled_in("before") == 1  # throttling is counted apart
    log.phase = "during"
    log.put_records(StreamName="s", Records=_entries(1))  # the retry: key k1's second send
    assert log.acked[-1].key_order == 1
    assert log.acknowledged == {"before": 2, "during": 1}


@pytest.mark.parametrize(("error", "maybe_stored"), [
    pytest.param(_client_error("InternalFailure", 500), True, id="5xx"),
    pytest.param(ReadTimeoutError(endpoint_url="http://127.0.0.1"), True, id="timeout"),
    pytest.param(_client_error("ValidationException", 400), False, id="4xx"),
])
def test_errored_requests_are_maybe_stored_unless_refused_as_such(error, maybe_stored) -> None:
    log = AttemptLog(FakeClient(error=error))
    log.phase = "during"
    with pytest.raises(type(error)):
        log.put_records(StreamName="s", Records=_entries(0, 1))
    assert sum(log.errors_in("during").values()) == 2
    assert [a.maybe_stored for a in log.acked] == ([True, True] if maybe_stored else [])


def test_split_at_the_midpoint_merge_adjacent_and_uniform() -> None:
    one = [{"ShardId": "a", "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(TOP)},
            "SequenceNumberRange": {"StartingSequenceNumber": "1"}}]
    client = FakeClient()
    assert Reshard.split().issue(client, "s", one) == ["a"]
    assert client.calls[-1] == ("split_shard", {"StreamName": "s", "ShardToSplit": "a",
                                                "NewStartingHashKey": str(2 ** (limits.HASH_KEY_BITS.value - 1))})
    half = 2 ** (limits.HASH_KEY_BITS.value - 1)
    two = [{"ShardId": "b", "HashKeyRange": {"StartingHashKey": str(half), "EndingHashKey": str(TOP)}},
           {"ShardId": "a", "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(half - 1)}},
           {"ShardId": "old", "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(TOP)},
            "SequenceNumberRange": {"EndingSequenceNumber": "9"}}]
    assert Reshard.merge().issue(client, "s", two) == ["a", "b"]
    assert client.calls[-1][1]["ShardToMerge"] == "a"
    assert Reshard.uniform(4).issue(client, "s", two) == ["a", "b"]
    assert client.calls[-1] == ("update_shard_count", {"StreamName": "s", "TargetShardCount": 4,
                                                       "ScalingType": "UNIFORM_SCALING"})
    assert (Reshard.split().expected_open(1), Reshard.merge().expected_open(2), Reshard.uniform(4).expected_open(2)) \
        == (2, 1, 4)


def test_scenario_records_are_the_seed_payloads_over_many_keys() -> None:
    scenario = Scenario("x", 1, Reshard.split(), records_per_tick=10, tick_s=0.5, ticks=2, reshard_tick=1, keys=3)
    records = [next(r) for r in [scenario.records()] for _ in range(4)]
    assert [r.data for r in records[:2]] == [b'{"test":0}', b'{"test":1}']
    assert [r.partition_key for r in records] == ["pk-0", "pk-1", "pk-2", "pk-0"]
    with pytest.raises(ValueError):
        Scenario("bad", 1, Reshard.split(), records_per_tick=10, tick_s=0.5, ticks=2, reshard_tick=2)


def test_throttling_is_reported_apart_from_the_write_errors_a_reshard_causes() -> None:
    answer = {"FailedRecordCount": 3, "Records": [
        {"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded"},
        {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."},
        {"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded"},
    ]}
    log = AttemptLog(FakeClient(answer))
    log.phase = "during"
    log.put_records(StreamName="s", Records=_entries(0, 1, 2))
    result = ReshardResult(Scenario("x", 1, Reshard.split(), records_per_tick=3, tick_s=0.5, ticks=2,
                                    reshard_tick=0), "s", log=log)
    assert result.write_errors("during") == {"InternalFailure": 1}
    assert result.throttled("during") == 2 and result.throttled("after") == 0
    counts = result.counts()
    assert (counts["write_errors_during"], counts["write_errors_total"]) == (1, 1)
    assert (counts["throttled_during"], counts["throttled_total"]) == (2, 2)


class LaggingKinesis:
    """One stream, one shard, SplitShard done ``updating_s`` after the call, as on AWS: the children appear and
    the parent closes only then. DescribeStreamSummary lags the call: it still says ACTIVE for ``lag_s``, then
    UPDATING until the split is done (``lag_s >= updating_s``: UPDATING is never seen). ``done=False``: the split
    never happens (a backend that accepts the call and ignores it)."""

    def __init__(self, clock: SimulatedClock, *, lag_s: float, updating_s: float, done: bool = True) -> None:
        self.clock, self.lag_s, self.updating_s, self.done = clock, lag_s, updating_s, done
        self.shards: dict[str, dict[str, Any]] = {}
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.seq = 100
        self.split_at: float | None = None
        self.pending: tuple[str, int] | None = None
        self._add("shardId-0", 0, 2 ** limits.HASH_KEY_BITS.value - 1)

    def _add(self, sid: str, lo: int, hi: int, parent: str | None = None) -> None:
        self.shards[sid] = {"ShardId": sid, "HashKeyRange": {"StartingHashKey": str(lo), "EndingHashKey": str(hi)},
                            "SequenceNumberRange": {"StartingSequenceNumber": str(self.seq)}}
        if parent:
            self.shards[sid]["ParentShardId"] = parent
        self.records[sid] = []

    def _settle(self) -> None:
        if self.pending and self.done and self.clock.now() >= self.split_at + self.updating_s:
            parent, key = self.pending
            self.pending = None
            self.shards[parent]["SequenceNumberRange"]["EndingSequenceNumber"] = str(self.seq)
            self.seq += 1
            top = int(self.shards[parent]["HashKeyRange"]["EndingHashKey"])
            self._add("shardId-1", 0, key - 1, parent)
            self._add("shardId-2", key, top, parent)

    def _open(self) -> list[dict[str, Any]]:
        return [s for s in self.shards.values() if "EndingSequenceNumber" not in s["SequenceNumberRange"]]

    def split_shard(self, *, StreamName: str, ShardToSplit: str, NewStartingHashKey: str) -> None:
        self.split_at, self.pending = self.clock.now(), (ShardToSplit, int(NewStartingHashKey))

    def describe_stream_summary(self, *, StreamName: str) -> dict[str, Any]:
        self._settle()
        now = self.clock.now()
        updating = (self.split_at is not None and self.split_at + self.lag_s <= now
                    and (self.pending is not None or now < self.split_at + self.updating_s))
        return {"StreamDescriptionSummary": {"StreamStatus": "UPDATING" if updating else "ACTIVE",
                                             "OpenShardCount": len(self._open())}}

    def list_shards(self, *, StreamName: str) -> dict[str, Any]:
        self._settle()
        return {"Shards": list(self.shards.values())}

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self._settle()
        out = []
        for entry in Records:
            hash_key = int(hashlib.md5(entry["PartitionKey"].encode()).hexdigest(), 16)
            shard = next(s for s in self._open() if int(s["HashKeyRange"]["StartingHashKey"]) <= hash_key
                         <= int(s["HashKeyRange"]["EndingHashKey"]))
            self.seq += 1
            self.records[shard["ShardId"]].append({
                "SequenceNumber": str(self.seq), "PartitionKey": entry["PartitionKey"], "Data": entry["Data"],
                "ApproximateArrivalTimestamp": dt.datetime.fromtimestamp(self.clock.now(), dt.timezone.utc)})
            out.append({"ShardId": shard["ShardId"], "SequenceNumber": str(self.seq)})
        return {"FailedRecordCount": 0, "Records": out}

    def get_shard_iterator(self, *, StreamName: str, ShardId: str, ShardIteratorType: str) -> dict[str, Any]:
        return {"ShardIterator": f"{ShardId}|0"}

    def get_records(self, *, ShardIterator: str) -> dict[str, Any]:
        sid, pos = ShardIterator.split("|")
        page = self.records[sid][int(pos):]
        answer: dict[str, Any] = {"Records": page, "MillisBehindLatest": 0,
                                  "NextShardIterator": f"{sid}|{int(pos) + len(page)}"}
        if "EndingSequenceNumber" in self.shards[sid]["SequenceNumberRange"] and not page:
            answer["NextShardIterator"] = None
            answer["ChildShards"] = [{"ShardId": c, "ParentShards": [sid]} for c, s in self.shards.items()
                                     if s.get("ParentShardId") == sid]
        return answer


LAG_SCENARIO = Scenario("lag", 1, Reshard.split(), records_per_tick=40, tick_s=0.5, ticks=8, reshard_tick=2,
                        after_active_ticks=3, keys=16, max_updating_s=10.0)


@pytest.mark.parametrize(("lag_s", "seen"), [
    pytest.param(1.0, True, id="status-lags-then-updating"),
    pytest.param(5.0, False, id="updating-never-seen"),
])
def test_a_lagging_status_does_not_end_the_reshard_before_the_children_exist(lag_s, seen) -> None:
    """ACTIVE right after the call is the status lagging, not the end: "after" starts when UPDATING has been
    seen and ends, or when the shard list shows the split; writes after it reach the children."""
    clock = SimulatedClock(start=1_700_000_000)
    fake = LaggingKinesis(clock, lag_s=lag_s, updating_s=3.0)
    result = run_scenario(LAG_SCENARIO, write_client=fake, control_client=fake, stream="s", clock=clock)
    assert result.updating_seen is seen
    assert result.reshard_duration == 3.0, str(result)  # polls every 0.5 s; the split is done at +3.0 s
    assert result.log is not None and result.log.acknowledged["after"] >= 3 * LAG_SCENARIO.records_per_tick
    assert result.ok, str(result)
    assert result.shards_after == 2


def test_a_scenario_not_read_back_makes_no_read_and_judges_what_it_wrote() -> None:
    """``read_back=False`` (a test whose verdict is where the records went next): the stream is never read, there is
    no continuity report to pass or fail, and the runner's own checks of the reshard still run."""
    clock = SimulatedClock(start=1_700_000_000)
    fake = LaggingKinesis(clock, lag_s=1.0, updating_s=3.0)
    reads: list[str] = []
    fake.get_shard_iterator = lambda **kwargs: reads.append(kwargs["ShardId"])  # type: ignore[method-assign]
    result = run_scenario(LAG_SCENARIO, write_client=fake, control_client=fake, stream="s", clock=clock,
                          read_back=False)
    assert reads == [] and result.read is None and result.continuity is None
    assert result.ok and result.shards_after == 2, str(result)
    assert "read" not in result.wall_s and "OK" in str(result)
    stuck = LaggingKinesis(clock, lag_s=1.0, updating_s=3.0, done=False)
    never_done = run_scenario(LAG_SCENARIO, write_client=stuck, control_client=stuck, stream="s", clock=clock,
                              read_back=False)
    assert not never_done.ok and never_done.shards_after == 1, str(never_done)


class LedgerSpy:
    """A ledger of the account's streams in transition (``transitions.TransitionLimiter``'s face), noting when."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.events: list[tuple[str, str, float]] = []

    def acquire(self, operation: str, hold_s: float) -> str:
        self.events.append(("acquire", operation, self.clock.now()))
        return operation

    def release(self, lease: str) -> None:
        self.events.append(("release", lease, self.clock.now()))


@pytest.mark.parametrize("done", [True, False], ids=["active-again", "never-done"])
def test_the_reshard_holds_a_slot_among_the_streams_in_transition_until_active(done: bool) -> None:
    """SplitShard and MergeShards count toward the account's five streams in transition (API_MergeShards.html):
    live, the run's other workers must not get the reshard refused. The slot is taken before the call and given
    back when the stream is ACTIVE again, or when the scenario gives up on it."""
    clock = SimulatedClock(start=1_700_000_000)
    fake = LaggingKinesis(clock, lag_s=1.0, updating_s=3.0, done=done)
    ledger = LedgerSpy(clock)
    result = run_scenario(LAG_SCENARIO, write_client=fake, control_client=fake, stream="s", clock=clock,
                          transitions=ledger)
    assert [(kind, op) for kind, op, _ in ledger.events] == [("acquire", "SplitShard"), ("release", "SplitShard")]
    assert ledger.events[0][2] <= result.issued_at
    if done:
        assert ledger.events[1][2] == result.active_at  # given back as soon as the stream is ACTIVE again
    else:
        assert result.active_at is None and ledger.events[1][2] >= result.issued_at + LAG_SCENARIO.max_updating_s


def test_a_reshard_that_never_shows_is_bounded() -> None:
    clock = SimulatedClock(start=1_700_000_000)
    fake = LaggingKinesis(clock, lag_s=1.0, updating_s=3.0, done=False)
    result = run_scenario(LAG_SCENARIO, write_client=fake, control_client=fake, stream="s", clock=clock)
    assert result.active_at is None
    assert any("did not complete within 10 s" in p for p in result.problems), result.problems
    assert clock.now() - result.issued_at <= LAG_SCENARIO.max_updating_s + 2 * LAG_SCENARIO.tick_s


def test_a_known_updating_window_bounds_the_wait_and_none_keeps_the_live_bound() -> None:
    from pytest_kinesis_limits.kinesis.resharding import UPDATING_WINDOWS, Reshard, Scenario

    scenario = Scenario("s", 1, Reshard.split(), records_per_tick=10, tick_s=0.5, ticks=4, reshard_tick=1)
    assert scenario.bounded_by(None) is scenario
    assert scenario.bounded_by(1.0).max_updating_s == UPDATING_WINDOWS * 1.0
    assert scenario.bounded_by(10**6).max_updating_s == scenario.max_updating_s  # never longer than the live bound


@pytest.mark.parametrize("bad", [{"records_per_tick": 0}, {"tick_s": 0.0}, {"keys": 0}, {"reshard_tick": 8}])
def test_a_scenario_that_cannot_run_is_refused_when_made(bad: dict[str, Any]) -> None:
    """The checks sat after bounded_by's return (never run): a scenario with no records per tick was accepted."""
    shape = {"records_per_tick": 100, "tick_s": 0.5, "keys": 4, "reshard_tick": 1} | bad
    with pytest.raises(ValueError, match="must be"):
        Scenario("bad", shards=1, reshard=Reshard.split(), ticks=8, **shape)
