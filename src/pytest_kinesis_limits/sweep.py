"""Find and delete leftovers: only resources tagged ``created-by=pytest-kinesis-limits`` are ever touched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from . import resources
from .clock import RealClock
from .firehose.destinations import delete_search_domain
from .firehose.provision import delete_firehose_role
from .resources import CREATED_BY, TAG_CREATED_BY, TAG_RUN_ID

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from .backends import Backend

ROLE_PATH = "/pytest-kinesis-limits/"


def _ours(tags: dict[str, str], run_id: str | None) -> bool:
    return tags.get(TAG_CREATED_BY) == CREATED_BY and (run_id is None or tags.get(TAG_RUN_ID) == run_id)


def _streams(client: BaseClient, run_id: str | None) -> Iterator[str]:
    for page in client.get_paginator("list_streams").paginate():
        for name in page.get("StreamNames", []):
            tags = {t["Key"]: t["Value"] for t in client.list_tags_for_stream(StreamName=name).get("Tags", [])}
            if _ours(tags, run_id):
                yield name


def _buckets(client: BaseClient, run_id: str | None) -> Iterator[str]:
    for bucket in client.list_buckets().get("Buckets", []):
        try:
            tag_set = client.get_bucket_tagging(Bucket=bucket["Name"]).get("TagSet", [])
        except ClientError:
            continue  # untagged (NoSuchTagSet) or not ours to read
        if _ours({t["Key"]: t["Value"] for t in tag_set}, run_id):
            yield bucket["Name"]


def _delivery_stream_names(client: BaseClient) -> Iterator[str]:
    """Every delivery stream name (ListDeliveryStreams has no botocore paginator)."""
    kwargs: dict[str, str] = {}
    while True:
        page = client.list_delivery_streams(**kwargs)
        names = page.get("DeliveryStreamNames", [])
        yield from names
        if not page.get("HasMoreDeliveryStreams") or not names:
            return
        kwargs["ExclusiveStartDeliveryStreamName"] = names[-1]


def _delivery_streams(client: BaseClient, run_id: str | None) -> Iterator[str]:
    for name in _delivery_stream_names(client):
        tags = client.list_tags_for_delivery_stream(DeliveryStreamName=name).get("Tags", [])
        if _ours({t["Key"]: t["Value"] for t in tags}, run_id):
            yield name


def _roles(client: BaseClient, run_id: str | None) -> Iterator[str]:
    for page in client.get_paginator("list_roles").paginate(PathPrefix=ROLE_PATH):
        for role in page.get("Roles", []):
            tags = client.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])
            if _ours({t["Key"]: t["Value"] for t in tags}, run_id):
                yield role["RoleName"]


def _search_domains(client: BaseClient, run_id: str | None) -> Iterator[str]:
    """Tagged OpenSearch Service domains (the search destination's target); none where OpenSearch is not served."""
    try:
        names = [d["DomainName"] for d in client.list_domain_names().get("DomainNames", [])]
    except (BotoCoreError, ClientError):  # an emulator without OpenSearch: nothing of ours can be there
        return
    for name in names:
        arn = client.describe_domain(DomainName=name)["DomainStatus"]["ARN"]
        if _ours({t["Key"]: t["Value"] for t in client.list_tags(ARN=arn).get("TagList", [])}, run_id):
            yield name


def find_tagged(backend: Backend, *, run_id: str | None = None) -> list[tuple[str, str]]:
    """``(kind, name)`` of every stream, delivery stream, bucket, role and OpenSearch domain carrying this tool's
    tag."""
    session = backend.session()
    found = [("delivery-stream", n) for n in _delivery_streams(backend.client("firehose", session=session), run_id)]
    found += [("stream", n) for n in _streams(backend.client("kinesis", session=session), run_id)]
    found += [("bucket", n) for n in _buckets(backend.client("s3", session=session), run_id)]
    found += [("role", n) for n in _roles(backend.client("iam", session=session), run_id)]
    found += [("search-domain", n) for n in _search_domains(backend.client("opensearch", session=session), run_id)]
    return found


def delete_found(backend: Backend, found: list[tuple[str, str]]) -> list[tuple[str, str, BaseException]]:
    """Delete what :func:`find_tagged` found (delivery streams first); returns the failures."""
    session = backend.session()
    clients = {kind: backend.client(service, session=session)
               for kind, service in (("stream", "kinesis"), ("bucket", "s3"), ("delivery-stream", "firehose"),
                                     ("role", "iam"), ("search-domain", "opensearch"))}
    policy = resources.WaitPolicy(delay=5, attempts=120)
    deleters = {
        "delivery-stream": lambda n: clients["delivery-stream"].delete_delivery_stream(DeliveryStreamName=n),
        "stream": lambda n: resources.delete_stream(clients["stream"], n, clock=RealClock(), policy=policy),
        "bucket": lambda n: resources.delete_bucket(clients["bucket"], n),
        "role": lambda n: delete_firehose_role(clients["role"], n),
        "search-domain": lambda n: delete_search_domain(clients["search-domain"], n),
    }
    failures: list[tuple[str, str, BaseException]] = []
    for kind, name in found:
        try:
            deleters[kind](name)
        except Exception as exc:  # reported, not swallowed
            failures.append((kind, name, exc))
    return failures
