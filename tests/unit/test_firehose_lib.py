"""The Firehose library: key format, body splitting, listing/waiting, provisioning helpers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pytest_kinesis_limits import firehose as fh, limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.firehose import DeliveryStreamError

SEED_KEY = "2019/09/24/05/test-firehose-1-2019-09-24-05-06-28-818e40dd-2318-4258-88cc-3c66a08eba10"
SEED_EVENT = {"user_id": 3322, "app_version": "v1.5.16(90)", "device_id": "a1b2-c3d4", "device_manufacturer": "LG",
              "device_os": "Android", "event": "interest_service_click", "interest_id": 1201,
              "interest_name": "관심사", "interest_service_id": None, "timestamp": "2019-04-30T07:30:00Z",
              "ratio": 0.5, "flags": [True, False]}


def events(n: int) -> list[dict[str, Any]]:
    return [dict(SEED_EVENT, user_id=i, interest_name=f"관심사 {i}") for i in range(n)]


def concat(records: list[dict[str, Any]], sep: bytes = b"") -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + sep for r in records)


# ------------------------------------------------------------------------------------------------ keys
def test_seed_key_parses() -> None:
    parsed = fh.parse_key(SEED_KEY, "test-firehose")
    assert parsed.name == "test-firehose"
    assert parsed.version == 1
    assert parsed.timestamp == datetime(2019, 9, 24, 5, 6, 28, tzinfo=timezone.utc)
    assert parsed.random == "818e40dd-2318-4258-88cc-3c66a08eba10"
    assert parsed.prefix == "2019/09/24/05/"
    assert parsed.hour_prefix == datetime(2019, 9, 24, 5, tzinfo=timezone.utc)


def test_any_name_is_inferred_even_with_hyphens() -> None:
    assert fh.parse_key(SEED_KEY, None).name == "test-firehose"
    key = "2019/09/24/05/a-1-b-12-2019-09-24-05-06-28-818e40dd-2318-4258-88cc-3c66a08eba10"
    parsed = fh.parse_key(key, "a-1-b")
    assert (parsed.name, parsed.version) == ("a-1-b", 12)
    assert fh.parse_key(key, None).name == "a-1-b"


@pytest.mark.parametrize(("key", "name", "complaint"), [
    (SEED_KEY, "test", "wrong name?"),
    (SEED_KEY, "other-firehose", "does not start with the delivery stream name"),
    (SEED_KEY.replace("-1-2019", "-x-2019"), "test-firehose", "DeliveryStreamVersion 'x'"),
    (SEED_KEY.replace("-1-2019", "-0-2019"), "test-firehose", "DeliveryStreamVersion '0'"),
    (SEED_KEY.replace("2019-09-24-05-06", "2019-13-24-05-06"), "test-firehose", "timestamp '2019-13-24"),
    (SEED_KEY.replace("2019/09/24/05/", "2019/09/24/25/"), "test-firehose", "time prefix"),
    (SEED_KEY[: -len("-818e40dd-2318-4258-88cc-3c66a08eba10")], "test-firehose", "<uuid>"),
    (SEED_KEY.replace("818e40dd-2318", "818e40dd2318"), "test-firehose", "is not a UUID"),
    (SEED_KEY.replace("3c66a08eba10", "3c66a08eba1z"), "test-firehose", "is not a UUID"),
    (SEED_KEY[len("2019/09/24/05/"):], "test-firehose", "YYYY/MM/DD/HH/"),
    (SEED_KEY.replace("05/test", "05/extra/test"), "test-firehose", "unexpected path part"),
], ids=["wrong-name", "other-name", "version-not-digits", "version-zero", "bad-month", "bad-hour-dir",
        "missing-random", "random-not-uuid", "random-not-hex", "missing-hour-prefix", "extra-path"])
def test_bad_keys_are_rejected_naming_the_part(key: str, name: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="S3 key") as info:
        fh.parse_key(key, name)
    assert complaint in str(info.value)


def test_custom_prefix_without_expression_gets_the_hour_appended() -> None:
    when = datetime(2019, 9, 24, 5, 6, 28, tzinfo=timezone.utc)
    key = fh.format_key("test-firehose", 3, when, "818e40dd-2318-4258-88cc-3c66a08eba10", prefix="myApp/")
    assert key.startswith("myApp/2019/09/24/05/test-firehose-3-2019-09-24-05-06-28-")
    assert fh.parse_key(key, "test-firehose", "myApp/").version == 3
    with pytest.raises(ValueError, match="configured prefix"):
        fh.parse_key(key, "test-firehose", "other/")
    with pytest.raises(ValueError, match="YYYY/MM/DD/HH/ after the prefix"):
        fh.parse_key("myApp/test-firehose-3-2019-09-24-05-06-28-818e40dd-2318-4258-88cc-3c66a08eba10",
                     "test-firehose", "myApp/")


def test_timestamp_expressions_in_the_prefix_are_evaluated_and_replace_the_hour() -> None:
    when = datetime(2019, 9, 24, 5, 6, 28, tzinfo=timezone.utc)
    prefix = "dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/"
    key = fh.format_key("s", 1, when, "818e40dd-2318-4258-88cc-3c66a08eba10", prefix=prefix)
    assert key.startswith("dt=2019-09-24/h=05/s-1-2019-09-24-05-06-28-")
    assert fh.parse_key(key, "s", prefix).prefix == "dt=2019-09-24/h=05/"


def test_default_key_round_trips() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    key = fh.format_key("my-hose", 7, when, "818e40dd-2318-4258-88cc-3c66a08eba10")
    assert key == "2026/01/02/03/my-hose-7-2026-01-02-03-04-05-818e40dd-2318-4258-88cc-3c66a08eba10"
    assert fh.parse_key(key, "my-hose").timestamp == when


# ---------------------------------------------------------------------------------------------- bodies
def test_concatenated_seed_events_split_one_by_one() -> None:
    records = events(3)
    body = concat(records)
    assert b"}{" in body and "관심사".encode() in body
    split = fh.split_json_records(body)
    assert split.records == records
    assert split.records[0]["interest_service_id"] is None
    assert not split.newline_delimited


def test_whitespace_between_records_is_tolerated() -> None:
    assert fh.split_json_records(b'{"a": 1}  {"a": 2}\t{"a": 3}').records == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_newline_delimited_body_is_detected_when_no_delimiter_is_expected() -> None:
    body = concat(events(3), b"\n")
    with pytest.raises(fh.BodyFormatError, match="newline-delimited"):
        fh.split_json_records(body)
    assert fh.split_json_records(body, delimiter=b"\n").records == events(3)


def test_missing_delimiter_is_detected_when_one_is_expected() -> None:
    with pytest.raises(fh.BodyFormatError, match="record 0 is followed by b''"):
        fh.split_json_records(concat(events(2)), delimiter=b"\n")


def test_broken_json_and_utf8_are_reported() -> None:
    with pytest.raises(fh.BodyFormatError, match="record 1 is not JSON"):
        fh.split_json_records(b'{"a": 1}{"a": ')
    with pytest.raises(fh.BodyFormatError, match="not UTF-8"):
        fh.split_json_records(b'{"a": "\xff"}')


def test_raw_records_are_matched_in_order() -> None:
    wanted = [b"\x00\x01", "관심사".encode(), b"plain"]
    split = fh.split_raw_records(b"".join(wanted), wanted)
    assert split.records == wanted and not split.unmatched and split.leftover == b""


def test_raw_split_reports_a_dropped_record_and_the_leftover() -> None:
    wanted = [b"one", b"two", b"three"]
    split = fh.split_raw_records(b"onethree", wanted)
    assert split.records == [b"one"]
    assert split.unmatched == [b"two", b"three"]
    assert split.leftover == b"three"


def test_raw_split_detects_a_newline_delimiter() -> None:
    wanted = [b"one", b"two"]
    with pytest.raises(fh.BodyFormatError, match="newline-delimited"):
        fh.split_raw_records(b"one\ntwo\n", wanted)
    assert fh.split_raw_records(b"one\ntwo\n", wanted, delimiter=b"\n").records == wanted


# -------------------------------------------------------------------------------- listing and waiting
@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="dest")
    return client


def put(s3: Any, records: list[dict[str, Any]], second: int, *, sep: bytes = b"", key: str | None = None) -> str:
    when = datetime(2019, 9, 24, 5, 6, second, tzinfo=timezone.utc)
    key = key or fh.format_key("test-firehose", 1, when, f"818e40dd-2318-4258-88cc-{second:012d}")
    s3.put_object(Bucket="dest", Key=key, Body=concat(records, sep))
    return key


def ids(record: dict[str, Any]) -> int:
    return record["user_id"]


def test_list_delivered_reads_every_page_in_key_time_order(s3: Any) -> None:
    for second in (5, 1, 3, 2, 4):
        put(s3, [dict(SEED_EVENT, user_id=second)], second)
    objects = fh.list_delivered(s3, "dest", stream_name="test-firehose", page_size=2)
    assert [o.records[0]["user_id"] for o in objects] == [1, 2, 3, 4, 5]
    assert all(o.ok and o.parsed and o.parsed.version == 1 for o in objects)


def test_wait_reports_missing_ids_on_timeout(s3: Any) -> None:
    clock = SimulatedClock(1_000)
    put(s3, events(8), 1)
    result = fh.wait_for_records(s3, "dest", range(10), ids, clock, timeout_s=30, poll_s=10,
                                 stream_name="test-firehose")
    assert result.timed_out and not result.complete
    assert result.missing == [8, 9]
    assert clock.now() == 1_030 and result.polls == 4
    assert "2 missing (e.g. [8, 9])" in result.summary()


def test_wait_returns_as_soon_as_everything_arrived(s3: Any) -> None:
    clock = SimulatedClock(1_000)
    put(s3, events(10), 1)
    result = fh.wait_for_records(s3, "dest", range(10), ids, clock, timeout_s=30, poll_s=10)
    assert result.complete and not result.timed_out and result.polls == 1 and clock.now() == 1_000


def test_duplicates_are_reported_not_failed(s3: Any) -> None:
    put(s3, events(5), 1)
    put(s3, events(5)[3:], 2)
    result = fh.wait_for_records(s3, "dest", range(5), ids, SimulatedClock(0), timeout_s=0, poll_s=1)
    assert result.complete
    assert result.duplicates == {3: 2, 4: 2}


def test_malformed_objects_make_the_delivery_incomplete(s3: Any) -> None:
    put(s3, events(2), 1, key="2019/09/24/05/wrong-name")
    put(s3, events(4)[2:], 2, sep=b"\n")
    result = fh.wait_for_records(s3, "dest", range(2), ids, SimulatedClock(0), timeout_s=0, poll_s=1,
                                 stream_name="test-firehose")
    assert not result.complete
    assert len(result.malformed) == 2
    assert any("newline-delimited" in (o.body_error or "") for o in result.malformed)
    assert any(o.key_error for o in result.malformed)


def test_latency_is_measured_from_the_objects_last_modified() -> None:
    obj = fh.DeliveredObject("k", None, None, b"", [{"user_id": 1}], None,
                             datetime.fromtimestamp(1_065, timezone.utc))
    result = fh.compare_delivery([obj], [1], ids, {1: 1_000.0})
    assert result.latencies == {1: 65.0} and result.max_latency_s == 65.0


# ---------------------------------------------------------------------------------------- provisioning
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/src"
BUCKET_ARN = "arn:aws:s3:::dest"


def test_role_policy_is_scoped_to_exactly_the_stream_and_bucket() -> None:
    policy = fh.firehose_role_policy(STREAM_ARN, BUCKET_ARN)
    read, write = policy["Statement"]
    assert read["Resource"] == [STREAM_ARN]
    assert set(read["Action"]) == {"kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords",
                                   "kinesis:ListShards"}
    assert write["Resource"] == [BUCKET_ARN, BUCKET_ARN + "/*"]
    assert "s3:PutObject" in write["Action"] and "*" not in json.dumps(policy).replace("/*", "")


@pytest.mark.parametrize(("stream", "bucket"), [("*", BUCKET_ARN), (STREAM_ARN, "arn:aws:s3:::*/x"),
                                                 ("arn:aws:kinesis:us-east-1:1:stream", BUCKET_ARN)])
def test_role_policy_refuses_anything_but_arns(stream: str, bucket: str) -> None:
    with pytest.raises(ValueError, match="ARN"):
        fh.firehose_role_policy(stream, bucket)


CN_STREAM_ARN = "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/src"


def test_role_policy_refuses_a_bucket_in_another_partition_than_the_stream() -> None:
    """The preflight accepts aws-cn and aws-us-gov: a policy naming arn:aws:s3::: there grants nothing."""
    with pytest.raises(ValueError, match="partition 'aws', the stream .* in 'aws-cn'"):
        fh.firehose_role_policy(CN_STREAM_ARN, BUCKET_ARN)
    policy = fh.firehose_role_policy(CN_STREAM_ARN, "arn:aws-cn:s3:::dest")
    assert policy["Statement"][1]["Resource"] == ["arn:aws-cn:s3:::dest", "arn:aws-cn:s3:::dest/*"]


@pytest.mark.parametrize(("stream_arn", "partition"), [
    (STREAM_ARN, "aws"), (CN_STREAM_ARN, "aws-cn"),
    ("arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/src", "aws-us-gov")])
def test_the_bucket_arn_is_built_in_the_streams_partition(stream_arn: str, partition: str) -> None:
    assert fh.arn_partition(stream_arn) == partition
    assert fh.bucket_arn_for(stream_arn, "dest") == f"arn:{partition}:s3:::dest"
    assert fh.bucket_arn_for(stream_arn, "dest", f"arn:{partition}:s3:::dest") == f"arn:{partition}:s3:::dest"


def test_a_bucket_arn_from_another_partition_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match="arn:aws:s3:::dest.*is not 'arn:aws-cn:s3:::dest'.*same partition"):
        fh.bucket_arn_for(CN_STREAM_ARN, "dest", "arn:aws:s3:::dest")
    with pytest.raises(ValueError, match="not an ARN"):
        fh.arn_partition("stream/src")


@pytest.mark.parametrize(("region", "partition"), [("us-east-1", "aws"), ("cn-north-1", "aws-cn"),
                                                    ("us-gov-west-1", "aws-us-gov")])
def test_create_bucket_gives_the_arn_in_the_regions_partition(aws: None, region: str, partition: str) -> None:
    from pytest_kinesis_limits.kinesis.resources import create_bucket

    s3 = boto3.client("s3", region_name=region)
    bucket = create_bucket(s3, f"dest-{partition}", region=region, tags={"created-by": "test"})
    assert bucket.arn == f"arn:{partition}:s3:::dest-{partition}"


def test_role_is_created_tagged_and_deleted(aws: None) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    arn = fh.create_firehose_role(iam, "fh-role", STREAM_ARN, BUCKET_ARN, {"created-by": "pytest-kinesis-limits"})
    role = iam.get_role(RoleName="fh-role")["Role"]
    assert role["Arn"] == arn
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert {"Key": "created-by", "Value": "pytest-kinesis-limits"} in role["Tags"]
    inline = iam.get_role_policy(RoleName="fh-role", PolicyName=iam.list_role_policies(
        RoleName="fh-role")["PolicyNames"][0])["PolicyDocument"]
    assert inline == fh.firehose_role_policy(STREAM_ARN, BUCKET_ARN)
    assert fh.delete_firehose_role(iam, "fh-role") is True
    assert fh.delete_firehose_role(iam, "fh-role") is False


@pytest.mark.parametrize(("mib", "seconds", "ok"), [
    (limits.FIREHOSE_BUFFER_MIB_MIN.value, limits.FIREHOSE_BUFFER_SECONDS_MIN.value, True),
    (limits.FIREHOSE_BUFFER_MIB_MAX.value, limits.FIREHOSE_BUFFER_SECONDS_MAX.value, True),
    (limits.FIREHOSE_BUFFER_MIB_MIN.value - 1, 60, False),
    (limits.FIREHOSE_BUFFER_MIB_MAX.value + 1, 60, False),
    (1, limits.FIREHOSE_BUFFER_SECONDS_MIN.value - 1, False),
    (1, limits.FIREHOSE_BUFFER_SECONDS_MAX.value + 1, False),
    (True, 60, False),
], ids=["min", "max", "mib-under", "mib-over", "seconds-under", "seconds-over", "bool"])
def test_buffering_hints_are_checked_against_the_catalogue(mib: int, seconds: int, ok: bool) -> None:
    if ok:
        fh.validate_buffering_hints(mib, seconds)
    else:
        with pytest.raises(ValueError, match="buffer"):
            fh.validate_buffering_hints(mib, seconds)


DEFAULT_MIB, DEFAULT_SECONDS = limits.FIREHOSE_BUFFER_MIB_DEFAULT.value, limits.FIREHOSE_BUFFER_SECONDS_DEFAULT.value


@pytest.mark.parametrize("config, expected", [
    ({}, (DEFAULT_MIB, DEFAULT_SECONDS)),
    ({"BufferingHints": None}, (DEFAULT_MIB, DEFAULT_SECONDS)),
    ({"BufferingHints": {"IntervalInSeconds": 0}}, (DEFAULT_MIB, 0)),
    ({"BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 900}}, (64, 900)),
], ids=["omitted", "null", "interval-only", "both"])
def test_s3_buffering_hints_default_from_the_catalogue_where_left_out(config: dict[str, Any],
                                                                     expected: tuple[int, int]) -> None:
    """One reading of an S3 configuration's hints, for the offline S3 delivery, the search backup and
    UpdateDestination (a hint left out is Firehose's default, never zero)."""
    from pytest_kinesis_limits.firehose.provision import s3_buffering_hints

    assert s3_buffering_hints(config) == expected


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateDeliveryStream")


class FakeFirehose:
    """Answers CreateDeliveryStream with scripted errors, then reports CREATING for a while."""

    def __init__(self, create_errors: list[ClientError], creating_polls: int = 1, final: str = "ACTIVE") -> None:
        self.create_errors = list(create_errors)
        self.creating_polls = creating_polls
        self.final = final
        self.creates = 0

    def create_delivery_stream(self, **kwargs: Any) -> dict[str, Any]:
        self.creates += 1
        self.kwargs = kwargs
        if self.create_errors:
            raise self.create_errors.pop(0)
        return {"DeliveryStreamARN": "arn"}

    def describe_delivery_stream(self, DeliveryStreamName: str) -> dict[str, Any]:
        status = "CREATING" if self.creating_polls > 0 else self.final
        self.creating_polls -= 1
        return {"DeliveryStreamDescription": {"DeliveryStreamStatus": status, "VersionId": "1"}}


ASSUME = "Firehose is unable to assume role arn:aws:iam::123456789012:role/r. Please check the role provided."
STS = ("Role arn:aws:iam::123456789012:role/r is not authorized to perform: sts:AssumeRole on resource: "
       "arn:aws:iam::123456789012:role/r")


def create(fake: FakeFirehose, clock: SimulatedClock, timeout: float = 120) -> dict[str, Any]:
    return fh.create_delivery_stream(fake, "hose", STREAM_ARN, "arn:role", BUCKET_ARN, 1, 60, None,
                                     {"run": "1"}, clock, timeout)


def test_create_rides_out_iam_propagation_then_waits_for_active() -> None:
    clock = SimulatedClock(0)
    fake = FakeFirehose([client_error("InvalidArgumentException", ASSUME),
                         client_error("InvalidArgumentException", STS)], creating_polls=2)
    assert create(fake, clock)["DeliveryStreamStatus"] == "ACTIVE"
    assert fake.creates == 3
    assert clock.now() == 1 + 2 + 5 + 5 + 5  # backoff 1 s, 2 s, then a poll before each look (CREATING twice)
    config = fake.kwargs
    assert config["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert config["ExtendedS3DestinationConfiguration"]["BufferingHints"] == {"SizeInMBs": 1,
                                                                              "IntervalInSeconds": 60}
    assert config["Tags"] == [{"Key": "run", "Value": "1"}]


def test_create_does_not_retry_other_errors() -> None:
    fake = FakeFirehose([client_error("InvalidArgumentException", "Bucket does not exist")])
    with pytest.raises(ClientError, match="Bucket does not exist"):
        create(fake, SimulatedClock(0))
    assert fake.creates == 1


def test_create_retries_are_bounded() -> None:
    clock = SimulatedClock(0)
    fake = FakeFirehose([client_error("InvalidArgumentException", ASSUME)] * 100)
    with pytest.raises(DeliveryStreamError, match="not usable yet .*bound 30 s, the create bound"):
        create(fake, clock, timeout=30)
    assert clock.now() <= 30 and fake.creates < 10


#: The refusal worded as Firehose has answered it since 2026 (hashicorp/terraform-provider-aws#47937).
TOKEN = ("The security token included in the request is invalid. Ensure that the provided IAM role associated with "
         "firehose is not deleted.")
NOT_AUTHORIZED = ("Role arn:aws:iam::123456789012:role/r is not authorized to perform: kinesis:DescribeStream on "
                  "resource: arn:aws:kinesis:us-east-1:123456789012:stream/src.")


@pytest.mark.parametrize("message", [ASSUME, STS, TOKEN, NOT_AUTHORIZED],
                         ids=["unable-to-assume", "sts-not-authorized", "security-token", "policy-not-authorized"])
def test_every_propagation_wording_is_retried(message: str) -> None:
    clock = SimulatedClock(0)
    fake = FakeFirehose([client_error("InvalidArgumentException", message)] * 2, creating_polls=0)
    assert create(fake, clock)["DeliveryStreamStatus"] == "ACTIVE"
    assert fake.creates == 3


def test_an_action_the_role_is_not_granted_is_a_missing_permission_not_a_propagation_delay() -> None:
    """"is not authorized to perform" was retried for 120 s whatever the action; one the role's policies do not grant
    (a KMS key of an encrypted source) is named at once."""
    message = ("Role arn:aws:iam::123456789012:role/r is not authorized to perform: kms:Decrypt on resource: "
               "arn:aws:kms:us-east-1:123456789012:key/k")
    clock = SimulatedClock(0)
    fake = FakeFirehose([client_error("InvalidArgumentException", message)] * 5)
    with pytest.raises(DeliveryStreamError, match=r"may not perform kms:Decrypt, which its policies do not grant.*"
                                                  r"Fix: grant kms:Decrypt"):
        create(fake, clock)
    assert fake.creates == 1 and clock.now() == 0


def test_the_search_role_grants_both_spellings_of_the_describe_actions() -> None:
    from pytest_kinesis_limits.firehose.destinations import search_role_policy
    from pytest_kinesis_limits.firehose.provision import GRANTED_ACTIONS

    actions = {a for statement in search_role_policy("arn:aws:es:us-east-1:123456789012:domain/d", "i")["Statement"]
               for a in statement["Action"]}
    assert {"es:DescribeDomain", "es:DescribeElasticsearchDomain", "es:DescribeElasticsearchDomainConfig"} <= actions
    assert actions <= GRANTED_ACTIONS  # a refusal naming any of them is propagation, not a missing grant


@pytest.mark.parametrize(("code", "message"), [
    ("UnrecognizedClientException", "The security token included in the request is invalid."),
    ("InvalidArgumentException", "Access was denied when calling Glue."),
    ("ResourceInUseException", "Firehose hose under accountId 123456789012 already exists"),
], ids=["callers-own-credentials", "other-invalid-argument", "other-code"])
def test_nothing_but_role_propagation_is_retried(code: str, message: str) -> None:
    fake = FakeFirehose([client_error(code, message)])
    with pytest.raises(ClientError, match=message.split(".")[0]):
        create(fake, SimulatedClock(0))
    assert fake.creates == 1


def test_propagation_retries_stop_at_the_catalogue_bound_even_when_the_create_bound_is_longer() -> None:
    """Live the create bound is the wait policy's span (900 s): a role still refused after the catalogue's
    propagation bound (120 s, the Terraform AWS provider's) is an error then, not 15 minutes later."""
    clock = SimulatedClock(0)
    fake = FakeFirehose([client_error("InvalidArgumentException", TOKEN)] * 1000)
    with pytest.raises(DeliveryStreamError, match=f"bound {limits.IAM_PROPAGATION_BOUND_S.value} s, "
                                                  f"{limits.IAM_PROPAGATION_BOUND_S.key}") as info:
        create(fake, clock, timeout=900)
    assert clock.now() <= limits.IAM_PROPAGATION_BOUND_S.value
    assert "security token" in str(info.value) and "arn:role" in str(info.value)


def test_creating_failed_and_slow_creation_are_errors() -> None:
    with pytest.raises(DeliveryStreamError, match="CREATING_FAILED"):
        create(FakeFirehose([], creating_polls=0, final="CREATING_FAILED"), SimulatedClock(0))
    with pytest.raises(DeliveryStreamError, match="still CREATING"):
        create(FakeFirehose([], creating_polls=1000), SimulatedClock(0), timeout=60)


def test_delete_of_a_missing_delivery_stream_says_so(aws: None) -> None:
    client = boto3.client("firehose", region_name="us-east-1")
    assert fh.delete_delivery_stream(client, "nope", SimulatedClock(0), 10) is False


# ------------------------------------------------------------------------- polling on the clock (wait_until)
def test_poll_until_checks_every_poll_and_stops_at_the_bound() -> None:
    clock = SimulatedClock(0)
    seen: list[float] = []
    assert fh.poll_until(lambda: seen.append(clock.now()) or False, clock, 30, 10, "never") is False
    assert seen == [0, 10, 20, 30]
    seen.clear()
    assert fh.poll_until(lambda: seen.append(clock.now()) or len(seen) == 2, clock, 30, 10, "twice") is True
    assert seen == [30, 40]


def test_poll_until_stops_on_the_clock_when_checks_take_time() -> None:
    clock = SimulatedClock(0)
    checks = []

    def slow() -> bool:
        checks.append(clock.now())
        clock.sleep(25)  # a check that takes longer than the poll (live: a big listing)
        return False

    assert fh.poll_until(slow, clock, 60, 10, "slow") is False
    assert checks == [0, 35]  # the second check ended past the 60 s bound: stopped there, not after 7 checks


# ----------------------------------------------------------------- readiness: canaries against a late reader
class LateReader:
    """An S3 client whose "Firehose" takes its LATEST position on the source at its ``start_at``-th listing
    of the bucket (a poll), then delivers what arrived since at every later poll, as one object."""

    def __init__(self, s3: Any, kinesis: Any, stream: str, bucket: str, name: str, start_at: int | None) -> None:
        self.s3, self.kinesis, self.stream, self.bucket, self.name = s3, kinesis, stream, bucket, name
        self.start_at = start_at
        self.polls = 0
        self.iterators: dict[str, str] = {}
        self.delivered: list[bytes] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def get_paginator(self, operation: str) -> Any:
        if operation == "list_objects_v2":
            self.polls += 1
            self._step()
        return self.s3.get_paginator(operation)

    def _step(self) -> None:
        if self.polls == self.start_at:
            for shard in self.kinesis.list_shards(StreamName=self.stream)["Shards"]:
                self.iterators[shard["ShardId"]] = self.kinesis.get_shard_iterator(
                    StreamName=self.stream, ShardId=shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]
            return
        body = b""
        for shard_id, iterator in self.iterators.items():
            answer = self.kinesis.get_records(ShardIterator=iterator)
            self.iterators[shard_id] = answer["NextShardIterator"]
            body += b"".join(r["Data"] for r in answer["Records"])
        if body:
            when = datetime(2019, 9, 24, 5, 6, self.polls, tzinfo=timezone.utc)
            key = fh.format_key(self.name, 1, when, f"818e40dd-2318-4258-88cc-{self.polls:012d}")
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            self.delivered.append(body)


def late_reader(start_at: int | None, shards: int = 2) -> LateReader:
    suffix = f"{start_at}-{shards}"
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName=f"late-src-{suffix}", ShardCount=shards)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=f"late-dest-{suffix}")
    return LateReader(s3, kinesis, f"late-src-{suffix}", f"late-dest-{suffix}", "late-fh", start_at)


@pytest.mark.parametrize("start_at", [1, 2, 5])
def test_canaries_are_rewritten_until_a_late_reader_delivers_one(aws: None, start_at: int) -> None:
    """Firehose takes its LATEST position some time after ACTIVE: a canary written once, before that, is
    never delivered; rewriting at every poll gets one through per shard."""
    reader = late_reader(start_at)
    clock = SimulatedClock(1_000)
    proof = fh.prove_reading(reader.kinesis, reader, reader.stream, reader.bucket, "late-fh", clock,
                             timeout_s=60, poll_s=1)
    delivered = b"".join(reader.delivered)
    assert b'"attempt":0' not in delivered, "the first canaries were written before the reader started"
    assert delivered.count(fh.CANARY_FIELD.encode()) == 2  # one per shard, from a rewrite
    assert proof.polls == max(start_at, 2) + 1 and proof.keys
    assert proof.canaries_written == 2 * max(start_at, 2)  # the first write, then one per poll after the first
    assert clock.now() - 1_000 == proof.waited_s == proof.polls - 1


def test_a_source_never_read_is_an_error_at_the_bound(aws: None) -> None:
    reader = late_reader(None, shards=1)
    clock = SimulatedClock(1_000)
    with pytest.raises(DeliveryStreamError, match=r"no canary record of 1 of 1 shard\(s\) \(shardId-000000000000\) "
                                                   r"delivered within 10 s \(11 written"):
        fh.prove_reading(reader.kinesis, reader, reader.stream, reader.bucket, "late-fh", clock, 10, 1)
    assert clock.now() == 1_010 and reader.polls == 11


def test_late_canaries_are_left_out_of_results() -> None:
    canary = json.loads(fh.canary_record("fh", "shardId-000000000000", 3))
    late = fh.DeliveredObject("k2", None, None, b"", [canary], None, None)
    mixed = fh.DeliveredObject("k3", None, None, b"", [canary, {"user_id": 1}], None, None)
    delivery = fh.DeliveryStreamInfo("fh", "arn", 1, None, None, "r", "arn:r", 1, 0, None, False,  # type: ignore
                                     frozenset({"k1"}), 0.0)
    raw = fh.compare_delivery([late, mixed], [1], lambda r: fh.CANARY if delivery.is_canary(r) else ids(r))
    clean = fh.without_canaries(raw, delivery, ids, [1])
    assert [o.key for o in clean.objects] == ["k3"] and not clean.unexpected and not clean.duplicates
    assert delivery.record_id(ids)(canary) == (fh.CANARY_FIELD, "shardId-000000000000", 3)


# --------------------------------------------------------------------------- latency on the service clocks
def test_latency_runs_from_the_arrival_timestamp_to_last_modified() -> None:
    from pytest_kinesis_limits.kinesis.reader import ReadRecord

    def read(i: int, arrival: float) -> ReadRecord:
        return ReadRecord("shardId-0", str(i), "k", json.dumps({"user_id": i}).encode(), arrival)

    arrivals = fh.arrival_times([read(1, 1_000.0), read(2, 1_004.0), read(1, 1_009.0),
                                 ReadRecord("s", "9", "k", b"not json", 0.0)], ids)
    assert arrivals == {1: 1_000.0, 2: 1_004.0}  # a record stored twice keeps its first arrival
    obj = fh.DeliveredObject("k", None, None, b"", [{"user_id": 1}, {"user_id": 2}], None,
                             datetime.fromtimestamp(1_060, timezone.utc))
    result = fh.compare_delivery([obj], [1, 2], ids, {1: 1_030.0})  # a client send time, 30 s skewed
    assert result.latencies == {1: 30.0}
    assert result.measure_latencies(arrivals) == {1: 60.0, 2: 56.0} and result.max_latency_s == 60.0
    assert fh.object_waits([obj], arrivals, ids) == [(obj, 60.0)]


# ------------------------------------------------------------------------------- one package, old names kept
#: Every public name ``pytest_kinesis_limits.firehose`` (a module then) offered before it became a package.
NAMES_BEFORE_THE_PACKAGE = (
    "BodyFormatError", "CANARY", "CANARY_FIELD", "DeliveredObject", "DeliveryResult", "DeliveryStreamError",
    "DeliveryStreamInfo", "NEWLINE_DELIMITER", "ParsedKey", "SplitBody", "arrival_times", "canary_id",
    "canary_record", "compare_delivery", "create_delivery_stream", "create_firehose_role", "delete_delivery_stream",
    "delete_delivery_stream_when_created", "delete_firehose_role", "delivery_bound_s", "delivery_poll_s",
    "evaluate_prefix", "firehose_role_policy", "format_key", "list_delivered", "object_waits", "parse_key",
    "poll_until", "prove_reading", "split_json_records", "split_raw_records", "update_destination",
    "validate_buffering_hints", "wait_for_records", "without_canaries", "write_canaries")
#: The public names of the two modules the package replaced (now deprecated aliases of it).
OLD_MODULES = {
    "pytest_kinesis_limits.firehose_delivery": (
        "DeliveryResult", "arrival_times", "compare_delivery", "delivery_bound_s", "delivery_poll_s",
        "object_waits", "poll_until", "wait_for_records"),
    "pytest_kinesis_limits.firehose_provision": (
        "BUCKET_ACTIONS", "CANARY", "CANARY_FIELD", "DeliveryStreamError", "DeliveryStreamInfo",
        "FIREHOSE_PRINCIPAL", "PROPAGATION_MESSAGES", "ROLE_POLICY_NAME", "ReadingProof", "SOURCE_ACTIONS",
        "canary_id", "canary_record", "create_delivery_stream", "create_firehose_role", "delete_delivery_stream",
        "delete_delivery_stream_when_created", "delete_firehose_role", "firehose_role_policy",
        "firehose_trust_policy", "is_canary", "prove_reading", "s3_destination_config", "update_destination",
        "validate_buffering_hints", "wait_until_active", "without_canaries", "write_canaries"),
}


@pytest.mark.parametrize("name", NAMES_BEFORE_THE_PACKAGE)
def test_every_name_users_imported_still_works_both_ways(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from pytest_kinesis_limits.firehose import {name}", namespace)  # noqa: S102 - the import form itself
    assert namespace[name] is getattr(fh, name)
    assert name in fh.__all__


@pytest.mark.parametrize("module", sorted(OLD_MODULES))
def test_the_old_modules_are_deprecated_aliases_of_the_package(module: str) -> None:
    import importlib
    import sys

    sys.modules.pop(module, None)
    with pytest.warns(DeprecationWarning, match="import from pytest_kinesis_limits.firehose"):
        alias = importlib.import_module(module)
    for name in OLD_MODULES[module]:
        assert getattr(alias, name) is getattr(fh, name), name
