"""The layer's mechanics: scoped patches, one layer at a time, HTTP through an in-process moto server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import moto
import pytest
from moto.kinesis.models import Consumer, KinesisBackend, Shard, Stream
from moto.kinesis.responses import KinesisResponse
from moto.server import ThreadedMotoServer

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import FidelityAlreadyActive, FidelityConfig, activate, active_layer, check_moto

from .kinesis_helpers import START, make_clients, shard_id

CLASSES = (KinesisBackend, Stream, Shard, KinesisResponse, Consumer)
HALF = 2 ** (limits.HASH_KEY_BITS.value - 1)
BATCH = limits.PUT_RECORDS_MAX_RECORDS.value
RECORDS_PER_S = limits.SHARD_WRITE_RECORDS_PER_S.value


def _snapshot() -> dict[tuple[type, str], Any]:
    return {(cls, name): value for cls in CLASSES for name, value in vars(cls).items()}


def test_no_patch_is_left_behind_even_after_an_error() -> None:
    # The gate first: its round trip is moto's first answer in this process, and moto fills in a class's
    # ``__annotations__`` on its first answer (its own lazy state, not a patch).
    check_moto()
    before = _snapshot()
    with activate(SimulatedClock(START)):
        assert _snapshot() != before  # it does patch
    assert _snapshot() == before
    with pytest.raises(KeyError), activate(SimulatedClock(START)):
        raise KeyError("boom")
    assert _snapshot() == before
    assert active_layer() is None


def test_the_documented_patch_list_is_exact() -> None:
    # docs/fidelity.md lists every method the layer patches, one table row each (`Class.method`).
    docs = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
    documented = set(re.findall(r"^\| `(\w+)\.(\w+)` \|", docs.read_text(encoding="utf-8"), flags=re.MULTILINE))
    check_moto()  # moto's first answer fills in lazy class state (see above)
    before = _snapshot()
    with activate(SimulatedClock(START)):
        after = _snapshot()
    patched = {(cls.__name__, name) for (cls, name), value in after.items() if before.get((cls, name)) is not value}
    assert documented == patched


def test_a_second_layer_is_refused_while_one_is_active() -> None:
    with activate(SimulatedClock(START)) as first:
        with pytest.raises(FidelityAlreadyActive, match="already active"), activate(SimulatedClock(START)):
            pass
        assert active_layer() is first
    with activate(SimulatedClock(START)):
        pass


def test_child_shards_helper_by_name_and_arn() -> None:
    with moto.mock_aws(), activate(SimulatedClock(START)) as layer:
        client, _ = make_clients()
        client.create_stream(StreamName="c", ShardCount=2)
        layer.clock.sleep(layer.config.creating_seconds)
        client.merge_shards(StreamName="c", ShardToMerge=shard_id(0), AdjacentShardToMerge=shard_id(1))
        layer.clock.sleep(layer.config.updating_seconds)
        arn = client.describe_stream_summary(StreamName="c")["StreamDescriptionSummary"]["StreamARN"]
        expected = [{"ShardId": shard_id(2), "ParentShards": [shard_id(0), shard_id(1)],
                     "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(2 * HALF - 1)}}]
        assert layer.child_shards("c", shard_id(1)) == expected
        assert layer.child_shards(arn, shard_id(0)) == expected
        assert layer.child_shards("c", shard_id(2)) == []


def test_the_layer_works_through_an_in_process_moto_server() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        clock = SimulatedClock(START)
        with activate(clock, FidelityConfig()) as layer:
            _, probe = make_clients(f"http://{host}:{port}")
            probe.create_stream(StreamName="h", ShardCount=1)
            clock.sleep(layer.config.creating_seconds)
            # One batch more than a second's write budget holds: the extra records are throttled.
            out = [probe.put_records(StreamName="h", Records=[
                {"Data": b"x", "PartitionKey": str(i)} for i in range(BATCH)])
                for _ in range(RECORDS_PER_S // BATCH + 1)]
            assert sum(BATCH - o["FailedRecordCount"] for o in out) == RECORDS_PER_S
            probe.split_shard(StreamName="h", ShardToSplit=shard_id(0), NewStartingHashKey=str(HALF))
            clock.sleep(layer.config.updating_seconds)
            it = probe.get_shard_iterator(StreamName="h", ShardId=shard_id(0),
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            page = probe.get_records(ShardIterator=it)
            assert len(page["Records"]) == RECORDS_PER_S
            assert "NextShardIterator" not in page and len(page["ChildShards"]) == 2
    finally:
        server.stop()
