"""An asyncio producer and consumer (async-kinesis, on aiobotocore) against the suite's backend, through
``kinesis_endpoint``: offline the backend served on 127.0.0.1, live AWS itself.

aiobotocore cannot be patched in-process (moto's answers are not awaitable), so it talks HTTP to the endpoint.
async-kinesis installs a pytest plugin named ``kinesis`` whose fixtures would replace ours: this repo's pytest.ini
turns it off with ``-p no:kinesis`` (docs/endpoint.md, "Fixture names").
"""

from __future__ import annotations

import asyncio
import time

import pytest
from kinesis import Consumer, Producer

RECORDS = 1_500


def clients_of(endpoint):
    """What async-kinesis needs to reach the endpoint: the URL and region (credentials come from the environment,
    which this repo's conftest sets from ``kinesis_endpoint.env``)."""
    return {"endpoint_url": endpoint.url, "region_name": endpoint.region}


async def produce(stream_name, endpoint, records):
    async with Producer(stream_name, **clients_of(endpoint)) as producer:
        for record in records:
            await producer.put(record)
        await producer.flush()


async def consume(stream_name, endpoint, expected):
    got = []
    async with Consumer(stream_name, iterator_type="TRIM_HORIZON", sleep_time_no_records=0.2, idle_timeout=3,
                        **clients_of(endpoint)) as consumer:
        deadline = time.monotonic() + 60
        while len(got) < expected and time.monotonic() < deadline:
            async for item in consumer:
                got.append(item)
    return got


@pytest.mark.asyncio
async def test_an_async_producer_and_consumer_move_1500_records(make_stream, kinesis_endpoint, endpoint_credentials):
    stream = make_stream(2)
    sent = [{"n": n, "text": f"record {n}"} for n in range(RECORDS)]
    await produce(stream.name, kinesis_endpoint, sent)
    got = await consume(stream.name, kinesis_endpoint, RECORDS)
    assert sorted(item["n"] for item in got) == list(range(RECORDS))


@pytest.mark.asyncio
async def test_an_async_consumer_reads_every_record_once_across_a_split(make_stream, kinesis_endpoint,
                                                                      kinesis_client, endpoint_credentials):
    stream = make_stream(1)
    await produce(stream.name, kinesis_endpoint, [{"n": n} for n in range(500)])
    shard = kinesis_client.list_shards(StreamName=stream.name)["Shards"][0]
    middle = (int(shard["HashKeyRange"]["StartingHashKey"]) + int(shard["HashKeyRange"]["EndingHashKey"])) // 2
    kinesis_client.split_shard(StreamName=stream.name, ShardToSplit=shard["ShardId"],
                               NewStartingHashKey=str(middle))
    kinesis_client.get_waiter("stream_exists").wait(StreamName=stream.name)  # ACTIVE again, after UPDATING
    await produce(stream.name, kinesis_endpoint, [{"n": n} for n in range(500, 1_000)])
    got = await consume(stream.name, kinesis_endpoint, 1_000)
    numbers = [item["n"] for item in got]
    assert sorted(numbers) == list(range(1_000))  # every record, none twice, from the parent and both children
