"""Records aggregated in the KPL format (aws-kinesis-agg, the KPL's own aggregator for Python) through Firehose to
S3: Firehose de-aggregates them, so the bucket holds the user records, each on its own."""

from __future__ import annotations

import json

from aws_kinesis_agg.aggregator import RecordAggregator

USER_RECORDS = 100


def test_kpl_aggregated_records_reach_s3_as_user_records(firehose_delivery_stream, kinesis_client,
                                                         wait_for_delivery):
    delivery = firehose_delivery_stream
    aggregator = RecordAggregator()
    sent, aggregated = {}, []
    for n in range(USER_RECORDS):
        sent[n] = json.dumps({"id": n, "event": "click"}).encode()
        full = aggregator.add_user_record(f"user-{n}", sent[n])
        if full is not None:
            aggregated.append(full)
    aggregated.append(aggregator.clear_and_get())
    for record in aggregated:
        partition_key, explicit_hash_key, data = record.get_contents()
        kinesis_client.put_record(StreamName=delivery.source.name, PartitionKey=partition_key, Data=data)
    assert len(aggregated) < USER_RECORDS  # many user records per Kinesis record

    result = wait_for_delivery(delivery, sent, lambda record: record.get("id"))
    assert not result.missing, result.summary()
