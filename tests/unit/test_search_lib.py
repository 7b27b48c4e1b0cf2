"""The search destination's library: index names, configuration, IAM scoping, error records, the extra."""

from __future__ import annotations

import base64
import builtins
import json
from datetime import date, datetime, timezone

import pytest

from pytest_kinesis_limits import firehose as fh, limits
from pytest_kinesis_limits.firehose.destinations import domain_name_for, search_role_policy
from pytest_kinesis_limits.firehose.search import check_error_record, opensearchpy_module

ARRIVAL = datetime(2016, 2, 25, 13, 0, tzinfo=timezone.utc)  # es-index-rotation.html's example
TARGET = fh.SearchTarget("dom-1", "arn:aws:es:us-east-1:123456789012:domain/dom-1", "127.0.0.1:1/dom-1", "us-east-1")


@pytest.mark.parametrize(("rotation", "name"), [
    ("NoRotation", "myindex"), ("OneHour", "myindex-2016-02-25-13"), ("OneDay", "myindex-2016-02-25"),
    ("OneMonth", "myindex-2016-02"),
])
def test_index_names_are_the_documented_examples(rotation: str, name: str) -> None:
    assert fh.index_name("myindex", rotation, ARRIVAL) == name
    assert fh.index_name("myindex", rotation, ARRIVAL.timestamp()) == name


def test_one_week_has_two_documented_readings() -> None:
    """The page's example says 2016-w08; its rule (Sunday start, week 1 holds 1 January) gives 09."""
    assert fh.index_names("myindex", "OneWeek", ARRIVAL) == {"rule": "myindex-2016-w09", "iso": "myindex-2016-w08"}
    assert fh.week_of_year(date(2016, 1, 2)) == (2016, 1)   # Saturday 2 January: week 1
    assert fh.week_of_year(date(2016, 1, 3)) == (2016, 2)   # the next Sunday starts week 2
    assert fh.week_of_year(date(2016, 1, 1), "iso") == (2015, 53)
    with pytest.raises(ValueError, match="reading"):
        fh.week_of_year(date(2016, 1, 1), "us")
    with pytest.raises(ValueError, match="rotation"):
        fh.index_name("x", "OneYear", ARRIVAL)


def test_destination_config_is_validated_against_the_catalogue() -> None:
    destination = fh.SearchDestination(TARGET, "seed", rotation="OneDay")
    config = fh.opensearch_destination_config("arn:aws:iam::123456789012:role/r", "arn:aws:s3:::b", destination,
                                              limits.FIREHOSE_OS_BUFFER_MIB_MAX.value,
                                              limits.FIREHOSE_OS_BUFFER_SECONDS_MAX.value)
    assert config["DomainARN"] == TARGET.arn and config["IndexRotationPeriod"] == "OneDay"
    assert config["S3BackupMode"] == "AllDocuments"
    assert config["S3Configuration"]["BufferingHints"]["IntervalInSeconds"] == \
        limits.FIREHOSE_S3_BACKUP_BUFFER_SECONDS_MIN.value
    with pytest.raises(ValueError, match="buffer_mib=101"):
        fh.validate_search_hints(limits.FIREHOSE_OS_BUFFER_MIB_MAX.value + 1, 0)
    with pytest.raises(ValueError, match="buffer_seconds=901"):
        fh.validate_search_hints(1, limits.FIREHOSE_OS_BUFFER_SECONDS_MAX.value + 1)
    with pytest.raises(ValueError, match="index_name"):
        fh.SearchDestination(TARGET, "Upper")
    with pytest.raises(ValueError, match="backup_mode"):
        fh.SearchDestination(TARGET, "x", backup_mode="Everything")
    with pytest.raises(ValueError, match="no zero buffering"):
        fh.SearchDestination(TARGET, "x", backup_buffer_seconds=0)


def test_role_policy_names_exactly_one_domain() -> None:
    policy = search_role_policy(TARGET.arn, "seed")
    resources = [r for statement in policy["Statement"] for r in statement["Resource"]]
    assert all(r == TARGET.arn or r.startswith(TARGET.arn + "/") for r in resources)
    assert "es:ESHttpPost" in policy["Statement"][0]["Action"]
    with pytest.raises(ValueError, match="domain ARN"):
        search_role_policy("arn:aws:s3:::bucket", "seed")


def test_domain_names_fit_the_api() -> None:
    assert domain_name_for("pkl-os1") == "pkl-os1"
    long = domain_name_for("pkl-11291855f97b-gw12-os123")
    assert len(long) <= 28 and long[0].isalpha() and long == domain_name_for("pkl-11291855f97b-gw12-os123")


def test_error_records_are_checked_against_the_documented_fields() -> None:
    record = {name: "x" for name in fh.destinations.ERROR_RECORD_FIELDS}
    record["rawData"] = base64.b64encode(b"not json").decode()
    assert check_error_record(record) == (b"not json", [])
    del record["esIndexName"]
    record["rawData"] = "%%%"
    assert check_error_record(record)[1] == ["no esIndexName", "rawData is not base64"]
    assert check_error_record([1])[1][0].startswith("not a JSON object")
    assert json.dumps(record)  # plain data


def _importing_opensearchpy_fails(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    """``import opensearchpy`` raises ModuleNotFoundError naming ``missing`` (opensearchpy itself: not installed;
    another module: installed, lacking it); every other import goes through."""
    real_import = builtins.__import__

    def failing(name: str, *args, **kwargs):
        if name == "opensearchpy":
            raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing)


def test_without_opensearch_py_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _importing_opensearchpy_fails(monkeypatch, "opensearchpy")
    with pytest.raises(fh.OpenSearchExtraMissing, match=r"pip install 'pytest-kinesis-limits\[opensearch\]'"):
        opensearchpy_module()


def test_an_opensearch_py_that_cannot_be_imported_is_named_with_what_it_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """opensearch-py 2.4.0 imports aiohttp without requiring it: installed, yet "not installed" would send the user
    to install what they have. The message says it is installed, what it lacks, and to upgrade within the extra."""
    _importing_opensearchpy_fails(monkeypatch, "aiohttp")
    with pytest.raises(fh.OpenSearchExtraMissing) as caught:
        opensearchpy_module()
    message = str(caught.value)
    assert "opensearch-py, which is installed (opensearch-py " in message
    assert "it needs 'aiohttp', which is not installed" in message
    assert message.endswith("Fix: pip install --upgrade 'pytest-kinesis-limits[opensearch]'")


def test_the_sweep_finds_and_deletes_only_tagged_search_domains(monkeypatch: pytest.MonkeyPatch) -> None:
    """A domain left by a killed run costs money by the hour: the sweep knows the kind."""
    import boto3
    import moto

    from pytest_kinesis_limits.live import sweep
    from pytest_kinesis_limits.backends import offline_backend
    from pytest_kinesis_limits.kinesis.resources import tags_for
    from pytest_kinesis_limits.settings import resolve

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with moto.mock_aws():
        backend = offline_backend(resolve({}, {}, {}))
        client = boto3.client("opensearch", region_name=backend.region, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        tags = [{"Key": k, "Value": v} for k, v in tags_for("run1").items()]
        client.create_domain(DomainName="pkl-ours", TagList=tags)
        client.create_domain(DomainName="someone-else")
        found = [f for f in sweep.find_tagged(backend, run_id="run1") if f.kind == "search-domain"]
        assert [(f.kind, f.name) for f in found] == [("search-domain", "pkl-ours")]
        deleted, failures = sweep.delete_planned(backend, sweep.plan_sweep(found, region=backend.region,
                                                                           run_id="run1"))
        assert failures == [] and [f.name for f in deleted] == ["pkl-ours"]
        assert [d["DomainName"] for d in client.list_domain_names()["DomainNames"]] == ["someone-else"]
