"""A tiny in-memory Kinesis client for the producer and meter unit tests (not a product module).

It throttles like the documented service, per shard and per *clock* second: above ``records_per_s`` or
``bytes_per_s`` a record is refused with ``ProvisionedThroughputExceededException``; above ``reads_per_s``
a GetRecords call is refused whole. Arrival times come from the same ``SimulatedClock`` the producer
sleeps on, so every number is exact and every run identical. It also enforces the PutRecords caps by
raising the errors AWS raises, and records each call's size so that tests can check batching.

``latency`` makes every PutRecords and GetRecords call take that long before the service sees it, by
``sleep`` (the clock's by default, so on a SimulatedClock a far-away client is exact; ``time.sleep`` for
tests of concurrent callers on a real clock). Calls are served one at a time (a lock), so concurrent callers
meet a consistent per-second count.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import defaultdict
from datetime import datetime, timezone
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock

HASH_SPACE = 2 ** limits.HASH_KEY_BITS.value


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    """A ClientError shaped like botocore's."""
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


class _ListShardsPaginator:
    """What botocore's ``list_shards`` paginator does: every page repeats the first call's arguments plus
    ``NextToken`` (boto/botocore#2009), which ListShards refuses."""

    def __init__(self, client: FakeKinesis) -> None:
        self._client = client

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        page = self._client.list_shards(**kwargs)
        yield page
        while page.get("NextToken"):
            page = self._client.list_shards(**kwargs, NextToken=page["NextToken"])
            yield page


class FakeKinesis:
    """put_records / get_shard_iterator / get_records / list_shards for one stream, throttled per clock second."""

    def __init__(self, clock: SimulatedClock, *, shards: int = 1, records_per_s: float | None = None,
                 bytes_per_s: float | None = None, reads_per_s: int | None = None,
                 burst_records: int = 0, list_page: int | None = None) -> None:
        self.clock = clock
        self.list_page = list_page  # ListShards page size (None: one page)
        self.burst_records = burst_records  # extra records each shard takes in its first second of writes
        self.first_second: dict[str, int] = {}
        self.records_per_s = records_per_s
        self.bytes_per_s = bytes_per_s
        self.reads_per_s = reads_per_s
        width = HASH_SPACE // shards
        self.ranges = [(f"shardId-{i:012d}", i * width, HASH_SPACE - 1 if i == shards - 1 else (i + 1) * width - 1)
                       for i in range(shards)]
        self.stored: dict[str, list[dict[str, Any]]] = {sid: [] for sid, _, _ in self.ranges}
        self.written: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        self.reads: dict[tuple[str, int], int] = defaultdict(int)
        self.put_calls: list[tuple[int, int]] = []  # (records, bytes) per PutRecords call
        self.call_errors: list[Exception] = []  # raised by the next PutRecords calls, in order
        self.empty_pages = 0  # the next GetRecords calls answer an empty page (as AWS may from TRIM_HORIZON)
        self.latency = 0.0
        self.sleep = clock.sleep
        self.lock = threading.Lock()

    # -- writes --------------------------------------------------------------------------------------
    def _shard_for(self, partition_key: str, explicit_hash_key: str | None) -> str:
        if explicit_hash_key is not None:
            hash_key = int(explicit_hash_key)
        else:
            hash_key = int(hashlib.md5(partition_key.encode("utf-8")).hexdigest(), 16)
        return next(sid for sid, lo, hi in self.ranges if lo <= hash_key <= hi)

    def put_records(self, *, Records: list[dict[str, Any]], StreamName: str = "", StreamARN: str = "") -> dict:
        if self.latency:
            self.sleep(self.latency)
        with self.lock:
            return self._put_records(Records)

    def _put_records(self, Records: list[dict[str, Any]]) -> dict:
        sizes = [len(r["Data"]) + len(r["PartitionKey"].encode("utf-8")) for r in Records]
        self.put_calls.append((len(Records), sum(sizes)))
        if self.call_errors:
            raise self.call_errors.pop(0)
        if len(Records) > limits.PUT_RECORDS_MAX_RECORDS.value:
            raise client_error("ValidationException", "1 validation error detected: Value at 'records' failed "
                               "to satisfy constraint: Member must have length less than or equal to 500",
                               "PutRecords")
        if sum(sizes) > limits.PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY.value:
            raise client_error("InvalidArgumentException", "Records size exceeds 5 MB limit", "PutRecords")
        if any(size > limits.RECORD_MAX_BYTES.value for size in sizes):
            raise client_error("ValidationException", "record too large", "PutRecords")
        now = self.clock.now()
        second = math.floor(now)
        out: list[dict[str, Any]] = []
        failed = 0
        for record, size in zip(Records, sizes):
            shard_id = self._shard_for(record["PartitionKey"], record.get("ExplicitHashKey"))
            used = self.written[(shard_id, second)]
            burst = self.burst_records if self.first_second.setdefault(shard_id, second) == second else 0
            over_records = self.records_per_s is not None and used[0] + 1 > self.records_per_s + burst
            over_bytes = self.bytes_per_s is not None and used[1] + size > self.bytes_per_s
            if over_records or over_bytes:
                failed += 1
                out.append({"ErrorCode": "ProvisionedThroughputExceededException",
                            "ErrorMessage": f"Rate exceeded for shard {shard_id} in stream fake under account 1."})
                continue
            used[0] += 1
            used[1] += size
            sequence = str(len(self.stored[shard_id]))
            self.stored[shard_id].append({"SequenceNumber": sequence, "PartitionKey": record["PartitionKey"],
                                          "Data": bytes(record["Data"]),
                                          "ApproximateArrivalTimestamp": datetime.fromtimestamp(now, timezone.utc)})
            out.append({"ShardId": shard_id, "SequenceNumber": sequence})
        return {"FailedRecordCount": failed, "Records": out}

    # -- reads ---------------------------------------------------------------------------------------
    def list_shards(self, *, StreamName: str | None = None, StreamARN: str | None = None,
                    NextToken: str | None = None) -> dict[str, Any]:
        """Paged like AWS: the stream on the first call, only ``NextToken`` after (both: InvalidArgument)."""
        if NextToken is not None and (StreamName or StreamARN):
            raise client_error("InvalidArgumentException", "NextToken and StreamName cannot be provided "
                               "together.", "ListShards")
        shards = [{"ShardId": sid, "HashKeyRange": {"StartingHashKey": str(lo), "EndingHashKey": str(hi)},
                   "SequenceNumberRange": {"StartingSequenceNumber": "0"}} for sid, lo, hi in self.ranges]
        start = int(NextToken or 0)
        size = self.list_page or len(shards)
        answer: dict[str, Any] = {"Shards": shards[start:start + size]}
        if start + size < len(shards):
            answer["NextToken"] = str(start + size)
        return answer

    def get_paginator(self, name: str) -> _ListShardsPaginator:
        assert name == "list_shards"
        return _ListShardsPaginator(self)

    def get_shard_iterator(self, *, ShardId: str, ShardIteratorType: str, **_: Any) -> dict[str, str]:
        assert ShardIteratorType == "TRIM_HORIZON"
        return {"ShardIterator": f"{ShardId}:0"}

    def get_records(self, *, ShardIterator: str, Limit: int | None = None) -> dict[str, Any]:
        if self.latency:
            self.sleep(self.latency)
        with self.lock:
            return self._get_records(ShardIterator, Limit)

    def _get_records(self, ShardIterator: str, Limit: int | None) -> dict[str, Any]:
        shard_id, position = ShardIterator.rsplit(":", 1)
        key = (shard_id, math.floor(self.clock.now()))
        self.reads[key] += 1
        if self.reads_per_s is not None and self.reads[key] > self.reads_per_s:
            raise client_error("ProvisionedThroughputExceededException", "Rate exceeded for shard", "GetRecords")
        if Limit is not None and Limit > limits.GET_RECORDS_MAX_RECORDS.value:
            raise client_error("ValidationException", "Member must have value less than or equal to 10000",
                               "GetRecords")
        if self.empty_pages:
            self.empty_pages -= 1
            return {"Records": [], "NextShardIterator": ShardIterator, "MillisBehindLatest": 1000}
        start = int(position)
        batch = self.stored[shard_id][start:start + (Limit or limits.GET_RECORDS_MAX_RECORDS.value)]
        end = start + len(batch)
        behind = 0 if end >= len(self.stored[shard_id]) else 1000
        return {"Records": batch, "NextShardIterator": f"{shard_id}:{end}", "MillisBehindLatest": behind}
