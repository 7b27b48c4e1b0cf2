"""The stand-in index's query subset, parsed once per request (fidelity/search_http.compile_query), and its document
ids."""

from __future__ import annotations

import random
import uuid
from types import SimpleNamespace

import pytest

from pytest_kinesis_limits.fidelity.search_http import _Error, compile_query, matches
from pytest_kinesis_limits.firehose.objects import uuid4_text
from pytest_kinesis_limits.firehose.handover import CANARY_FIELD
from pytest_kinesis_limits.firehose.search import NOT_CANARY

DOCS = [SimpleNamespace(id="a", source={"test": 1, "tag": {"name": "x"}}),
        SimpleNamespace(id="b", source={"test": 2, CANARY_FIELD: True}),
        SimpleNamespace(id="c", source={"other": None}),
        SimpleNamespace(id="d", source=[1, 2])]


def ids(query) -> list[str]:
    wanted = compile_query(query)
    return [d.id for d in DOCS if wanted(d)]


@pytest.mark.parametrize("query, expected", [
    (None, ["a", "b", "c", "d"]),
    ({}, ["a", "b", "c", "d"]),
    ({"match_all": {}}, ["a", "b", "c", "d"]),
    ({"exists": {"field": "test"}}, ["a", "b"]),
    ({"exists": {"field": "other"}}, []),  # a null value does not exist, as in OpenSearch
    ({"exists": {"field": "tag.name"}}, ["a"]),
    ({"ids": {"values": ["b", "d"]}}, ["b", "d"]),
    ({"term": {"test": 2}}, ["b"]),
    ({"term": {"test": {"value": 1}}}, ["a"]),
    ({"term": {"tag.name.keyword": "x"}}, ["a"]),
    ({"term": {"_id": "c"}}, ["c"]),
    ({"terms": {"test": [1, 2]}}, ["a", "b"]),
    ({"terms": {"_id": ["a", "d"]}}, ["a", "d"]),
    (NOT_CANARY, ["a", "c", "d"]),
    ({"bool": {"must": {"exists": {"field": "test"}}, "must_not": {"term": {"test": 2}}}}, ["a"]),
    ({"bool": {"filter": [{"exists": {"field": "test"}}], "should": [{"ids": {"values": ["b"]}}]}}, ["b"]),
    ({"bool": {"should": [{"term": {"test": 1}}, {"ids": {"values": ["c"]}}]}}, ["a", "c"]),
    ({"bool": {}}, ["a", "b", "c", "d"]),
])
def test_each_clause_selects_what_opensearch_would(query, expected) -> None:
    assert ids(query) == expected
    assert [d.id for d in DOCS if matches(d, query)] == expected


@pytest.mark.parametrize("query, message", [
    ({"match": {"a": 1}}, "does not support the [match] query"),
    ({"match_all": {}, "exists": {"field": "a"}}, "one query clause expected"),
    # Parsed whole before any document is looked at: the first clause failing every document does not hide the second.
    ({"bool": {"must": [{"ids": {"values": []}}], "must_not": [{"wildcard": {"a": "*"}}]}},
     "does not support the [wildcard] query"),
])
def test_an_unsupported_or_malformed_query_is_refused_before_any_document(query, message) -> None:
    with pytest.raises(_Error, match=message.replace("[", "\\[").replace("]", "\\]")) as caught:
        compile_query(query)
    assert caught.value.status == 400 and caught.value.kind == "parsing_exception"


def test_document_ids_are_the_uuid_modules_version_4_text() -> None:
    rng = random.Random(23)
    for n in [0, 2 ** 128 - 1] + [rng.getrandbits(128) for _ in range(20_000)]:
        assert uuid4_text(n) == str(uuid.UUID(int=n, version=4))
