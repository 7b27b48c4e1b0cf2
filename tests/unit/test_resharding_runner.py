"""The scenario runner's pieces without a backend: the attempt log's classification and the reshard calls."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from pytest_kinesis_limits import limits, payloads
from pytest_kinesis_limits.resharding import AttemptLog, Reshard, Scenario

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
    assert log.errors_in("before") == {"ProvisionedThroughputExceededException": 1}
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
