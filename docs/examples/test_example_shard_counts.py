"""A parametrized test over shard counts: the team's partition keys spread over every shard.

``make_stream(n)`` makes an n-shard provisioned stream (ACTIVE, deleted after the test); ``read_records`` reads
every shard back. The same test runs offline and live.
"""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("shards", [1, 2, 4], ids=lambda n: f"{n}-shards")
def test_keys_spread_over_every_shard(make_stream, kinesis_client, read_records, shards):
    stream = make_stream(shards)
    records = [{"Data": json.dumps({"n": n}).encode(), "PartitionKey": f"customer-{n}"} for n in range(400)]
    response = kinesis_client.put_records(StreamName=stream.name, Records=records)
    assert response["FailedRecordCount"] == 0

    read = read_records(stream)
    assert sorted(json.loads(r.data)["n"] for r in read) == list(range(400))
    per_shard = {r.shard_id for r in read}
    assert len(per_shard) == shards, f"400 keys land on all {shards} shards"
