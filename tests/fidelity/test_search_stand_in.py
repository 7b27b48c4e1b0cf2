"""The stand-in search destination: what plain moto refuses, the API's constraints, bulk batches, ids, retries,
the creation window and the data plane's limits (docs/search-index.md)."""

from __future__ import annotations

import json

import boto3
import moto
import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import firehose as fh, limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.firehose.search import opensearchpy_module
from pytest_kinesis_limits.fidelity.offline import activate_all

from .kinesis_helpers import REGION, START

ROLE = "arn:aws:iam::123456789012:role/r"
BUCKET = "stand-in-bucket"


def clients():
    return {name: boto3.client(name, region_name=REGION) for name in ("kinesis", "firehose", "s3", "opensearch")}


def setup(c, clock, *, domain="dom-1"):
    c["kinesis"].create_stream(StreamName="s", ShardCount=1)
    c["s3"].create_bucket(Bucket=BUCKET)
    target = fh.create_search_domain(c["opensearch"], domain, "123456789012", REGION, None, clock, poll_s=0.5)
    arn = c["kinesis"].describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
    return target, arn


def create(c, arn, config, name="fh"):
    c["firehose"].create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": ROLE},
        AmazonopensearchserviceDestinationConfiguration=config)


def wait_active(c, clock, name="fh"):
    """A delivery stream reads its source from LATEST once ACTIVE (it is CREATING for a while first)."""
    fh.wait_until_active(c["firehose"], name, clock, 10 * limits.FIREHOSE_CREATING_S.value,
                         limits.FIREHOSE_CREATING_S.value / 4)


def minimal(target):
    return {"RoleARN": ROLE, "DomainARN": target.arn, "IndexName": "i",
            "S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}"}}


def test_plain_moto_refuses_the_destination_and_the_layer_describes_it_with_aws_defaults() -> None:
    with moto.mock_aws():
        c = clients()
        c["kinesis"].create_stream(StreamName="s", ShardCount=1)
        arn = c["kinesis"].describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
        domain_arn = c["opensearch"].create_domain(DomainName="dom-0")["DomainStatus"]["ARN"]
        with pytest.raises(ClientError, match="Exactly one destination configuration"):
            create(c, arn, {**minimal(fh.SearchTarget("d", domain_arn, "", REGION))})
    clock = SimulatedClock(START)
    with moto.mock_aws(), activate_all(clock):
        c = clients()
        target, arn = setup(c, clock)
        create(c, arn, minimal(target))
        described = c["firehose"].describe_delivery_stream(DeliveryStreamName="fh")["DeliveryStreamDescription"]
        destination = described["Destinations"][0]["AmazonopensearchserviceDestinationDescription"]
        assert destination["IndexRotationPeriod"] == "OneDay" and destination["S3BackupMode"] == "FailedDocumentsOnly"
        assert destination["BufferingHints"] == {"SizeInMBs": limits.FIREHOSE_OS_BUFFER_MIB_DEFAULT.value,
                                                 "IntervalInSeconds": limits.FIREHOSE_OS_BUFFER_SECONDS_DEFAULT.value}
        assert destination["RetryOptions"] == {"DurationInSeconds": limits.FIREHOSE_OS_RETRY_SECONDS_DEFAULT.value}
        assert destination["S3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{BUCKET}"


REFUSED = [
    ({"BufferingHints": {"SizeInMBs": 101, "IntervalInSeconds": 0}}, "ValidationException",
     "Value '101' at 'amazonopensearchserviceDestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy "
     "constraint: Member must have value less than or equal to 100"),
    ({"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 901}}, "ValidationException", "less than or equal to 900"),
    ({"RetryOptions": {"DurationInSeconds": 7201}}, "ValidationException", "less than or equal to 7200"),
    ({"IndexName": "x" * 81}, "ValidationException", "length less than or equal to 80"),
    ({"DomainARN": "arn:aws:es:us-east-1:123456789012:domain/nope"}, "InvalidArgumentException", "not found"),
    ({"S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}",
                          "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}},
     "InvalidArgumentException", "zero buffering is not available"),
]


def test_the_api_constraints_are_refused() -> None:
    """Buffering size and interval, retry, index name, an unknown domain, zero buffering for the backup."""
    clock = SimulatedClock(START)
    with moto.mock_aws(), activate_all(clock):
        c = clients()
        target, arn = setup(c, clock)
        answers = []
        for change, code, message in REFUSED:
            try:
                create(c, arn, {**minimal(target), **change})
                answers.append((change, "accepted"))
            except ClientError as exc:
                error = exc.response["Error"]
                answers.append((change, "ok" if error["Code"] == code and message in error["Message"] else error))
        assert [answer for _, answer in answers] == ["ok"] * len(REFUSED), answers


def test_a_new_domain_serves_after_its_creation_window_at_the_stand_ins_address() -> None:
    clock = SimulatedClock(START)
    with moto.mock_aws(), activate_all(clock) as layer:
        c = clients()
        c["opensearch"].create_domain(DomainName="dom-2")
        status = c["opensearch"].describe_domain(DomainName="dom-2")["DomainStatus"]
        assert (status["Created"], status["Processing"], "Endpoint" in status) == (False, True, False)
        clock.sleep(layer.search.creating_seconds)
        status = c["opensearch"].describe_domain(DomainName="dom-2")["DomainStatus"]
        assert status["Created"] and not status["Processing"]
        assert status["Endpoint"] == f"{layer.search.data_plane}/dom-2"


def test_buffers_are_bulk_requests_within_the_size_hint_and_refused_documents_are_retried() -> None:
    clock = SimulatedClock(START)
    with moto.mock_aws(), activate_all(clock) as layer:
        c = clients()
        target, arn = setup(c, clock)
        config = {**minimal(target), "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
                  "RetryOptions": {"DurationInSeconds": 5},
                  "DocumentIdOptions": {"DefaultDocumentIdFormat": "NO_DOCUMENT_ID"}}
        create(c, arn, config)
        wait_active(c, clock)
        clock.sleep(1)
        pad = "x" * 100_000
        for i in range(25):  # 2.5 MiB within the shard's 1 MiB/s: three bulk requests, two cut by the size hint
            c["kinesis"].put_record(StreamName="s", Data=json.dumps({"id": i, "pad": pad}).encode(), PartitionKey="k")
            if i % 8 == 7:
                clock.sleep(1)
        c["kinesis"].put_record(StreamName="s", Data=b"not json", PartitionKey="k")
        clock.sleep(61)
        c["kinesis"].describe_stream_summary(StreamName="s")
        bulks = [b for b in layer.search.bulk_requests if b.delivery_stream == "fh"]
        assert len(bulks) == 3 and all(b.size <= limits.MIB for b in bulks) and sum(b.documents for b in bulks) == 26
        docs = [d for index in layer.search.domains[target.arn].indexes.values() for d in index.values()]
        assert len(docs) == 25 and all(len(d.id) == 20 for d in docs)  # the "domain" made the ids
        assert not fh.failed_documents(c["s3"], BUCKET)  # still retried: 5 s after the first attempt
        clock.sleep(5)
        c["kinesis"].describe_stream_summary(StreamName="s")
        failed = fh.failed_documents(c["s3"], BUCKET)
        assert [f.raw for f in failed] == [b"not json"] and failed[0].record["attemptsMade"] > 1
        assert failed[0].key.startswith("AmazonOpenSearchService-failed/") and not failed[0].shape_errors


@pytest.mark.parametrize("deaggregate", [True, False], ids=["as-firehose-does", "broken"])
def test_kpl_aggregated_records_are_indexed_as_their_user_records(deaggregate: bool) -> None:
    """Firehose de-aggregates KPL records before any destination (kpl-with-firehose.html): 60 user records in three
    Kinesis records are 60 documents; a delivery that passes the aggregated bytes on indexes none of them."""
    from pytest_kinesis_limits.kinesis import kpl

    clock = SimulatedClock(START)
    with moto.mock_aws(), activate_all(clock) as layer:
        layer.firehose.deaggregate_kpl = deaggregate
        c = clients()
        target, arn = setup(c, clock)
        create(c, arn, {**minimal(target), "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
        wait_active(c, clock)
        clock.sleep(1)
        for batch in range(3):
            users = [kpl.UserRecord(f"k{n}", json.dumps({"id": batch * 20 + n}).encode()) for n in range(20)]
            c["kinesis"].put_record(StreamName="s", Data=kpl.aggregate(users), PartitionKey=f"k{batch}")
        clock.sleep(5)
        c["kinesis"].describe_stream_summary(StreamName="s")
        docs = [d for index in layer.search.domains[target.arn].indexes.values() for d in index.values()]
        ids = sorted(d.source["id"] for d in docs) if deaggregate else [d.id for d in docs]
        assert ids == (list(range(60)) if deaggregate else [])


def test_the_data_plane_refuses_what_opensearch_refuses() -> None:
    osp = opensearchpy_module()  # the project tests install the extra: a broken opensearch-py fails, never skips
    clock = SimulatedClock(START)
    with moto.mock_aws(), activate_all(clock):
        c = clients()
        target, _ = setup(c, clock)
        client = fh.opensearch_client(f"http://{target.endpoint}")
        with pytest.raises(osp.NotFoundError, match="index_not_found_exception"):
            client.count(index="missing")
        assert fh.SearchIndex(client, "missing").count() == 0
        with pytest.raises(osp.RequestError, match="Result window is too large"):
            client.search(index="*", size=10_001)
        with pytest.raises(osp.RequestError, match="does not support the \\[match\\] query"):
            client.search(index="*", body={"query": {"match": {"a": 1}}}, params={"ignore_unavailable": "true"})
