"""The team's own moto for other services, in the same session as the plugin's Kinesis fixtures.

The team starts ``mock_aws()`` itself for DynamoDB, in a function-scoped fixture. Beside the plugin's session-wide
mock it behaves as it would alone: every test starts with empty moto backends, in any order, so the same table
name can be created in every test. Tests with and without Kinesis fixtures mix freely.
"""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

TABLE = "orders"


@pytest.fixture
def dynamodb(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        yield client


def copy_to_table(kinesis, dynamodb, stream_name: str) -> int:
    """The team's consumer: every record of the stream's first shard becomes an item."""
    shard = kinesis.list_shards(StreamName=stream_name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream_name, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    copied = 0
    for record in kinesis.get_records(ShardIterator=iterator)["Records"]:
        order = json.loads(record["Data"])
        dynamodb.put_item(TableName=TABLE, Item={"id": {"S": order["id"]}, "total": {"N": str(order["total"])}})
        copied += 1
    return copied


def test_table_starts_empty_without_kinesis(dynamodb):
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0
    dynamodb.put_item(TableName=TABLE, Item={"id": {"S": "left-behind"}})


def test_orders_flow_from_kinesis_to_dynamodb(dynamodb, kinesis_stream, kinesis_client):
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0, "nothing left over from another test"
    orders = [{"id": f"o-{n}", "total": n * 10} for n in range(20)]
    kinesis_client.put_records(StreamName=kinesis_stream.name,
                               Records=[{"Data": json.dumps(o).encode(), "PartitionKey": o["id"]} for o in orders])
    assert copy_to_table(kinesis_client, dynamodb, kinesis_stream.name) == 20
    assert dynamodb.scan(TableName=TABLE)["Count"] == 20


def test_table_starts_empty_again(dynamodb):
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0
