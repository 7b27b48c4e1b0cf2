"""A producer plus Firehose: every record the team's code writes to the stream reaches S3.

``firehose_delivery_stream`` is a delivery stream reading ``kinesis_stream`` into ``s3_bucket``, already proven
to be reading; ``wait_for_delivery`` polls the bucket until every expected id is there (or its bound passes) and
says what is missing or duplicated. Offline the delivery simulation runs on the simulated clock.
"""

from __future__ import annotations

import json


def test_every_record_reaches_s3(firehose_delivery_stream, kinesis_client, wait_for_delivery):
    stream = firehose_delivery_stream.source.name
    events = [{"id": n, "event": "interest_service_click", "interest_name": "관심사", "interest_service_id": None}
              for n in range(300)]
    for start in range(0, len(events), 100):
        batch = [{"Data": json.dumps(e, ensure_ascii=False).encode(), "PartitionKey": str(e["id"])}
                 for e in events[start:start + 100]]
        assert kinesis_client.put_records(StreamName=stream, Records=batch)["FailedRecordCount"] == 0

    result = wait_for_delivery(firehose_delivery_stream, [e["id"] for e in events], lambda record: record["id"])
    assert not result.missing, f"missing from S3: {result.missing_examples()}"
    assert result.complete, "every object's key and body are in the documented format"
