"""The limits catalogue: every documented Kinesis and Firehose number the project relies on.

Each entry carries its unit, the AWS page it comes from and the date it was read there. Code and
tests take numbers from here (``limits.PUT_RECORDS_MAX_RECORDS.value``) and never spell them out, so
that a changed quota is one edit with its new source.

Where AWS's own texts disagree (the PutRecords request size: 5 MiB in the developer guide and in moto,
10 MiB in the 2025 service model), both values are kept with their dates; a ``--live`` run reports which
one the service enforces.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB

_DOCS = "https://docs.aws.amazon.com"
SRC_QUOTAS = f"{_DOCS}/streams/latest/dev/service-sizes-and-limits.html"
SRC_PUT_RECORDS = f"{_DOCS}/kinesis/latest/APIReference/API_PutRecords.html"
SRC_PUT_RECORD = f"{_DOCS}/kinesis/latest/APIReference/API_PutRecord.html"
SRC_GET_RECORDS = f"{_DOCS}/kinesis/latest/APIReference/API_GetRecords.html"
SRC_UPDATE_SHARD_COUNT = f"{_DOCS}/kinesis/latest/APIReference/API_UpdateShardCount.html"
SRC_CREATE_STREAM = f"{_DOCS}/kinesis/latest/APIReference/API_CreateStream.html"
SRC_LARGE_RECORDS = f"{_DOCS}/streams/latest/dev/large-records.html"
SRC_BOTOCORE_MODEL = "botocore data/kinesis/2013-12-02/service-2.json (PutRecords, MaxRecordSizeInKiB)"
SRC_FH_BUFFERING = f"{_DOCS}/firehose/latest/dev/buffering-hints.html"
SRC_FH_KINESIS_SOURCE = f"{_DOCS}/firehose/latest/dev/writing-with-kinesis-streams.html"
SRC_FH_CREATE = f"{_DOCS}/firehose/latest/APIReference/API_CreateDeliveryStream.html"
SRC_S3_BUCKET_NAMES = f"{_DOCS}/AmazonS3/latest/userguide/bucketnamingrules.html"
SRC_IAM_QUOTAS = f"{_DOCS}/IAM/latest/UserGuide/reference_iam-quotas.html"


@dataclass(frozen=True)
class Limit:
    """One documented number: what it bounds, its value and unit, where AWS says so and when it was read."""

    key: str
    value: int | None  # None: AWS documents the quantity but gives no number (measured and reported only)
    unit: str
    description: str
    source: str
    as_of: str
    note: str = ""

    def __int__(self) -> int:
        if self.value is None:
            raise ValueError(f"{self.key} has no documented value")
        return self.value

    def __str__(self) -> str:
        return f"{self.key} = {self.value} {self.unit}"


CATALOGUE: dict[str, Limit] = {}


def _limit(key: str, value: int | None, unit: str, description: str, source: str, as_of: str, note: str = "") -> Limit:
    if key in CATALOGUE:
        raise ValueError(f"duplicate limit key {key!r}")
    entry = Limit(key, value, unit, description, source, as_of, note)
    CATALOGUE[key] = entry
    return entry


def get(key: str) -> Limit:
    """The catalogue entry named ``key``; a ``KeyError`` names the keys that exist."""
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"no limit {key!r} in the catalogue; known: {', '.join(sorted(CATALOGUE))}") from None


# --- Kinesis Data Streams: PutRecords / PutRecord -------------------------------------------------
PUT_RECORDS_MIN_RECORDS = _limit(
    "put_records.min_records", 1, "records", "fewest records in one PutRecords request",
    SRC_PUT_RECORDS, "2026-11-25")
PUT_RECORDS_MAX_RECORDS = _limit(
    "put_records.max_records", 500, "records", "most records in one PutRecords request; over it the whole "
    "request fails with ValidationException and nothing is written", SRC_PUT_RECORDS, "2026-11-25")
RECORD_MAX_BYTES = _limit(
    "record.max_bytes", 1 * MIB, "bytes", "largest record (data blob + partition key) on a stream with the "
    "default maximum record size", SRC_QUOTAS, "2026-11-25")
RECORD_MAX_BYTES_CONFIGURABLE = _limit(
    "record.max_bytes_configurable", 10 * MIB, "bytes", "largest record a stream can be set to accept "
    "(MaxRecordSizeInKiB on CreateStream / UpdateMaxRecordSize)", SRC_LARGE_RECORDS, "2025-10-01",
    note="announced October 2025")
MAX_RECORD_SIZE_KIB_MIN = _limit(
    "stream.max_record_size_kib.min", 1 * KIB, "KiB", "smallest MaxRecordSizeInKiB value",
    SRC_BOTOCORE_MODEL, "2026-11-25")
MAX_RECORD_SIZE_KIB_MAX = _limit(
    "stream.max_record_size_kib.max", 10 * KIB, "KiB", "largest MaxRecordSizeInKiB value",
    SRC_BOTOCORE_MODEL, "2026-11-25")
PUT_RECORDS_MAX_REQUEST_BYTES_LEGACY = _limit(
    "put_records.max_request_bytes.legacy", 5 * MIB, "bytes", "largest PutRecords request (data + partition "
    "keys) as the developer guide stated until 2025 and as moto enforces", SRC_QUOTAS, "2025-06-01",
    note="InvalidArgumentException 'Records size exceeds 5 MB limit'")
PUT_RECORDS_MAX_REQUEST_BYTES = _limit(
    "put_records.max_request_bytes", 10 * MIB, "bytes", "largest PutRecords request (data + partition keys) "
    "as the 2025 service model states", SRC_BOTOCORE_MODEL, "2026-11-25",
    note="which of 5 MiB and 10 MiB AWS enforces is measured by --live")
PARTITION_KEY_MIN_CHARS = _limit(
    "partition_key.min_chars", 1, "characters", "shortest partition key", SRC_PUT_RECORD, "2026-11-25")
PARTITION_KEY_MAX_CHARS = _limit(
    "partition_key.max_chars", 256, "characters", "longest partition key (Unicode characters)",
    SRC_PUT_RECORD, "2026-11-25")
HASH_KEY_BITS = _limit(
    "hash_key.bits", 128, "bits", "width of the hash key space: MD5 of the partition key, or ExplicitHashKey "
    "from 0 to 2**bits - 1", SRC_PUT_RECORD, "2026-11-25")

# --- Kinesis Data Streams: per-shard throughput ----------------------------------------------------
SHARD_WRITE_RECORDS_PER_S = _limit(
    "shard.write.records_per_s", 1000, "records/s", "records a shard accepts per second; the excess is refused "
    "per record with ProvisionedThroughputExceededException", SRC_QUOTAS, "2026-11-25")
SHARD_WRITE_BYTES_PER_S = _limit(
    "shard.write.bytes_per_s", 1 * MIB, "bytes/s", "data + partition key bytes a shard accepts per second",
    SRC_QUOTAS, "2026-11-25")
SHARD_READ_CALLS_PER_S = _limit(
    "shard.read.calls_per_s", 5, "calls/s", "GetRecords calls per shard per second (shared by all consumers)",
    SRC_QUOTAS, "2026-11-25")
SHARD_READ_BYTES_PER_S = _limit(
    "shard.read.bytes_per_s", 2 * MIB, "bytes/s", "bytes read per shard per second", SRC_QUOTAS, "2026-11-25")
GET_RECORDS_MAX_RECORDS = _limit(
    "get_records.max_records", 10000, "records", "most records one GetRecords call returns (Limit 1-10000)",
    SRC_GET_RECORDS, "2026-11-25")
GET_RECORDS_MAX_BYTES = _limit(
    "get_records.max_bytes", 10 * MIB, "bytes", "most data one GetRecords call returns", SRC_GET_RECORDS,
    "2026-11-25")
GET_RECORDS_PENALTY_S = _limit(
    "get_records.penalty_s", 5, "s", "after a GetRecords call returning the maximum bytes, calls within the "
    "next seconds are throttled", SRC_GET_RECORDS, "2026-11-25")

# --- Kinesis Data Streams: resharding ----------------------------------------------------------------
UPDATE_SHARD_COUNT_MAX_FACTOR_UP = _limit(
    "update_shard_count.max_factor_up", 2, "x", "UpdateShardCount may at most double the open shards per call",
    SRC_UPDATE_SHARD_COUNT, "2026-11-25")
UPDATE_SHARD_COUNT_MAX_DIVISOR_DOWN = _limit(
    "update_shard_count.max_divisor_down", 2, "x", "UpdateShardCount may at most halve the open shards per call",
    SRC_UPDATE_SHARD_COUNT, "2026-11-25")
UPDATE_SHARD_COUNT_CALLS_PER_24H = _limit(
    "update_shard_count.calls_per_24h", 10, "calls", "UpdateShardCount calls per stream in a rolling 24 hours",
    SRC_UPDATE_SHARD_COUNT, "2026-11-25")
UPDATE_SHARD_COUNT_MAX_SHARDS = _limit(
    "update_shard_count.max_shards", 10000, "shards", "most shards UpdateShardCount can scale a stream to",
    SRC_UPDATE_SHARD_COUNT, "2026-11-25")
SPLIT_MERGE_CALLS_PER_S = _limit(
    "split_merge.calls_per_s", 5, "calls/s", "SplitShard / MergeShards transactions per second per account",
    SRC_QUOTAS, "2026-11-25")
RETENTION_HOURS_DEFAULT = _limit(
    "stream.retention_hours.default", 24, "hours", "default retention; closed parent shards stay readable until "
    "it ends", SRC_QUOTAS, "2026-11-25")

# --- Kinesis Data Streams: on-demand ----------------------------------------------------------------
ON_DEMAND_INITIAL_WRITE_BYTES_PER_S = _limit(
    "on_demand.initial_write_bytes_per_s", 4 * MIB, "bytes/s", "write capacity of a new on-demand stream",
    SRC_QUOTAS, "2026-11-25", note="the documentation says 4 MB/s")
ON_DEMAND_INITIAL_READ_BYTES_PER_S = _limit(
    "on_demand.initial_read_bytes_per_s", 8 * MIB, "bytes/s", "read capacity of a new on-demand stream",
    SRC_QUOTAS, "2026-11-25", note="the documentation says 8 MB/s")

# --- Names (used to make valid resource names) ----------------------------------------------------
STREAM_NAME_MAX_CHARS = _limit(
    "stream.name.max_chars", 128, "characters", "longest stream name ([a-zA-Z0-9_.-])", SRC_CREATE_STREAM,
    "2026-11-25")
DELIVERY_STREAM_NAME_MAX_CHARS = _limit(
    "firehose.name.max_chars", 64, "characters", "longest delivery stream name ([a-zA-Z0-9_.-])", SRC_FH_CREATE,
    "2026-11-25")
BUCKET_NAME_MAX_CHARS = _limit(
    "s3.bucket_name.max_chars", 63, "characters", "longest S3 bucket name (lower case, digits, dots, hyphens)",
    SRC_S3_BUCKET_NAMES, "2026-11-25")
IAM_ROLE_NAME_MAX_CHARS = _limit(
    "iam.role_name.max_chars", 64, "characters", "longest IAM role name", SRC_IAM_QUOTAS, "2026-11-25")

# --- Kinesis Data Firehose ---------------------------------------------------------------------------
FIREHOSE_BUFFER_MIB_MIN = _limit(
    "firehose.s3.buffer_mib.min", 1, "MiB", "smallest S3 buffering size hint", SRC_FH_BUFFERING, "2026-11-25")
FIREHOSE_BUFFER_MIB_MAX = _limit(
    "firehose.s3.buffer_mib.max", 128, "MiB", "largest S3 buffering size hint", SRC_FH_BUFFERING, "2026-11-25")
FIREHOSE_BUFFER_SECONDS_MIN = _limit(
    "firehose.s3.buffer_seconds.min", 0, "s", "shortest S3 buffering interval (0 = zero buffering)",
    SRC_FH_BUFFERING, "2026-11-25")
FIREHOSE_BUFFER_SECONDS_MAX = _limit(
    "firehose.s3.buffer_seconds.max", 900, "s", "longest S3 buffering interval", SRC_FH_BUFFERING, "2026-11-25")
FIREHOSE_SOURCE_READS_PER_S = _limit(
    "firehose.source.reads_per_s", 1, "calls/s", "GetRecords calls a delivery stream makes per source shard "
    "per second (they count toward the shard's read limit)", SRC_FH_KINESIS_SOURCE, "2026-11-25")
FIREHOSE_FIRST_VERSION = _limit(
    "firehose.version.first", 1, "version", "DeliveryStreamVersion of a new delivery stream; +1 per "
    "configuration change", SRC_FH_CREATE, "2026-11-25")

# --- Kinesis Data Firehose: defaults ---
SRC_FH_S3_OBJECT_NAME = f"{_DOCS}/firehose/latest/dev/s3-object-name.html"
FIREHOSE_BUFFER_MIB_DEFAULT = _limit(
    "firehose.s3.buffer_mib.default", 5, "MiB", "S3 buffering size hint used when BufferingHints is omitted",
    SRC_FH_BUFFERING, "2026-11-25")
FIREHOSE_BUFFER_SECONDS_DEFAULT = _limit(
    "firehose.s3.buffer_seconds.default", 300, "s", "S3 buffering interval used when BufferingHints is omitted",
    SRC_FH_BUFFERING, "2026-11-25")

# --- Kinesis Data Firehose: documented behaviours counted as numbers ---
# Documented behaviours counted as numbers, so that the family's verdicts sit in the measurement table beside
# a source: each is a count the documents fix (0 bytes between records, 0 records lost, +1 version per change).
SRC_FH_PUT_RECORD = f"{_DOCS}/firehose/latest/APIReference/API_PutRecord.html"
SRC_FH_DATA_DELIVERY = f"{_DOCS}/firehose/latest/dev/basic-deliver.html"
FIREHOSE_RECORD_DELIMITER_BYTES = _limit(
    "firehose.s3.record_delimiter_bytes", 0, "bytes", "bytes Firehose puts between records in an S3 object "
    "without the AppendDelimiterToRecord processor ('to disambiguate the data blobs at the destination, use "
    "delimiters in the data')", SRC_FH_PUT_RECORD, "2026-11-25")
FIREHOSE_MISSING_RECORDS = _limit(
    "firehose.delivery.missing_records", 0, "records", "records read from the source and never delivered to S3 "
    "(Firehose delivers at least once: duplicates are possible, losses are not)", SRC_FH_DATA_DELIVERY,
    "2026-11-25")
FIREHOSE_KEY_FORMAT_ERRORS = _limit(
    "firehose.s3.key_format_errors", 0, "objects", "delivered objects whose key is not <prefix or YYYY/MM/DD/HH/>"
    "<name>-<version>-YYYY-MM-DD-HH-MM-SS-<random>", SRC_FH_S3_OBJECT_NAME, "2026-11-25")
FIREHOSE_DIRECT_PUTS_ACCEPTED = _limit(
    "firehose.kinesis_source.direct_puts_accepted", 0, "calls", "PutRecord/PutRecordBatch calls a delivery stream "
    "with a Kinesis data stream source accepts (they are disabled)", SRC_FH_KINESIS_SOURCE, "2026-11-25")
FIREHOSE_KPL_UNDELIVERED = _limit(
    "firehose.kpl.user_records_undelivered", 0, "records", "user records inside KPL-aggregated source "
    "records that do not arrive each as a record of its own (Firehose de-aggregates them before delivery)",
    f"{_DOCS}/streams/latest/dev/kpl-with-firehose.html", "2026-12-06")
FIREHOSE_VERSION_STEP = _limit(
    "firehose.version.step", 1, "versions", "DeliveryStreamVersion increase per configuration change "
    "(UpdateDestination), visible in the S3 keys", SRC_FH_S3_OBJECT_NAME, "2026-11-25")

# --- Resharding: documented behaviours counted as numbers ---
SRC_AFTER_RESHARDING = f"{_DOCS}/streams/latest/dev/kinesis-using-sdk-java-after-resharding.html"
SRC_STREAM_STATUS = f"{_DOCS}/kinesis/latest/APIReference/API_StreamDescriptionSummary.html"
RESHARD_LOST_RECORDS = _limit(
    "reshard.lost_records", 0, "records", "acknowledged records a split, merge or UpdateShardCount may lose: "
    "none (records in a parent remain in it until retention ends; new writes go to the children)",
    SRC_AFTER_RESHARDING, "2026-11-25")
RESHARD_REORDERED_RECORDS = _limit(
    "reshard.reordered_records", 0, "records", "records of one partition key read out of write order when parents "
    "are read to their end before their children (as the KCL does): none", SRC_AFTER_RESHARDING, "2026-11-25")
RESHARD_WRITE_ERRORS = _limit(
    "reshard.write_errors", 0, "records", "writes refused because the stream is UPDATING: none (\"Read and write "
    "operations continue to work while the stream is in the UPDATING state\"); throttling still applies",
    SRC_STREAM_STATUS, "2026-11-25")
RESHARD_UPDATING_S = _limit(
    "reshard.updating_s", None, "s", "how long a stream stays UPDATING after a reshard: AWS gives no number "
    "(UpdateShardCount: \"could take a few minutes to complete\"); measurements are informational",
    SRC_UPDATE_SHARD_COUNT, "2026-11-25", note="no documented value")

# --- Kinesis Data Firehose: delivery latency (no documented number) ---
SRC_FH_BUFFERING_HINTS_API = f"{_DOCS}/firehose/latest/APIReference/API_BufferingHints.html"
FIREHOSE_DELIVERY_LATENCY_S = _limit(
    "firehose.delivery.latency_s", None, "s", "time from a record's ApproximateArrivalTimestamp in the source "
    "stream to the LastModified of the S3 object holding it: AWS gives no number; IntervalInSeconds says "
    "\"buffer incoming data for the specified period of time ... before delivering it\" and the hints are "
    "\"treated as hints\" Firehose may override; measurements are informational",
    SRC_FH_BUFFERING_HINTS_API, "2026-11-25", note="no documented value")

# --- UpdateShardCount: the rolling window ---
UPDATE_SHARD_COUNT_WINDOW_HOURS = _limit(
    "update_shard_count.window_hours", 24, "hours", "length of the rolling window in which "
    "update_shard_count.calls_per_24h calls are allowed per stream", SRC_UPDATE_SHARD_COUNT, "2026-11-25")

# --- Firehose and IAM lifecycle: how long things take (offline windows, retry bounds) ---
# AWS documents these states but gives no durations: each value is a typical one seen in the field, said so in
# its note, with where it was seen. The offline simulation (fidelity/firehose.py) uses them as its windows.
SRC_IAM_EVENTUAL_CONSISTENCY = f"{_DOCS}/IAM/latest/UserGuide/troubleshoot_general.html" \
    "#troubleshoot_general_eventual-consistency"
SRC_TF_FIREHOSE_PROPAGATION = "https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/" \
    "firehose/consts.go (propagationTimeout, used by retryDeliveryStreamOp in delivery_stream.go)"
FIREHOSE_CREATING_S = _limit(
    "lifecycle.firehose.creating_s", 40, "s", "how long a new delivery stream stays CREATING before it is ACTIVE "
    "(CreateDeliveryStream: \"an asynchronous operation that immediately returns. The initial status of the "
    "Firehose stream is CREATING\"; no duration given)", SRC_FH_CREATE, "2026-11-29",
    note="typical, not documented: a Terraform apply log in turbot/steampipe-plugin-aws#206 shows \"Creation "
    "complete after 40s\" for a delivery stream to S3")
SRC_FH_DELETE = f"{_DOCS}/firehose/latest/APIReference/API_DeleteDeliveryStream.html"
FIREHOSE_DELETING_S = _limit(
    "lifecycle.firehose.deleting_s", 180, "s", "how long a deleted delivery stream stays DELETING before it is gone "
    "(DeleteDeliveryStream: \"A Firehose stream may remain in the DELETING state for several minutes. Therefore, as a "
    "best practice, applications should not wait for streams in the DELETING state\"); its name cannot be reused "
    "meanwhile", SRC_FH_DELETE, "2026-12-07",
    note="\"several minutes\" is AWS's only figure: three are taken as typical. Teardown starts the deletion and "
    "does not wait, as AWS advises")
IAM_PROPAGATION_S = _limit(
    "lifecycle.iam.propagation_s", 10, "s", "how long after CreateRole / PutRolePolicy Firehose still refuses the "
    "new role (IAM is eventually consistent: \"changes ... take time to become visible\"; no duration given)",
    SRC_IAM_EVENTUAL_CONSISTENCY, "2026-11-29",
    note="typical, not documented: \"IAM roles can take ~10 seconds to propagate\", cited from the EC2 user guide "
    "by the Terraform AWS provider's Firehose create retry; field reports range from seconds to a minute")
IAM_PROPAGATION_BOUND_S = _limit(
    "lifecycle.iam.propagation_bound_s", 120, "s", "how long CreateDeliveryStream is retried while Firehose refuses "
    "a new role as not yet propagated, before giving up: the bound the Terraform AWS provider uses for the same "
    "retry (propagationTimeout = 2 minutes)", SRC_TF_FIREHOSE_PROPAGATION, "2026-11-29",
    note="a tool's bound, not AWS's: AWS gives no propagation time")

# --- Kinesis Data Firehose to Amazon OpenSearch Service (issue 14) ---
# The seed's other destination: Firehose into a search index, every record also backed up to S3. Ranges and
# defaults from the Firehose API reference (also in botocore data/firehose/2015-08-04/service-2.json,
# AmazonopensearchserviceBufferingHints and friends); behaviours from the developer guide pages named.
SRC_FH_OS_HINTS = f"{_DOCS}/firehose/latest/APIReference/API_AmazonopensearchserviceBufferingHints.html"
SRC_FH_OS_CONFIG = f"{_DOCS}/firehose/latest/APIReference/API_AmazonopensearchserviceDestinationConfiguration.html"
SRC_FH_OS_RETRY = f"{_DOCS}/firehose/latest/APIReference/API_AmazonopensearchserviceRetryOptions.html"
SRC_FH_OS_DOC_ID = f"{_DOCS}/firehose/latest/APIReference/API_DocumentIdOptions.html"
SRC_FH_OS_ROTATION = f"{_DOCS}/firehose/latest/dev/es-index-rotation.html"
SRC_FH_FAILURES = f"{_DOCS}/firehose/latest/dev/retry.html"
SRC_FH_BACKUP = f"{_DOCS}/firehose/latest/dev/create-configure-backup.html"
SRC_OS_CREATE_DOMAIN = f"{_DOCS}/opensearch-service/latest/developerguide/gsgcreate-domain.html"
SRC_OS_PRICING = "https://aws.amazon.com/opensearch-service/pricing/"
FIREHOSE_OS_BUFFER_MIB_MIN = _limit(
    "firehose.opensearch.buffer_mib.min", 1, "MiB", "smallest OpenSearch Service buffering size hint "
    "(CreateDeliveryStream refuses less)", SRC_FH_OS_HINTS, "2026-11-29")
FIREHOSE_OS_BUFFER_MIB_MAX = _limit(
    "firehose.opensearch.buffer_mib.max", 100, "MiB", "largest OpenSearch Service buffering size hint "
    "(CreateDeliveryStream refuses more)", SRC_FH_OS_HINTS, "2026-11-29")
FIREHOSE_OS_BUFFER_SECONDS_MIN = _limit(
    "firehose.opensearch.buffer_seconds.min", 0, "s", "shortest OpenSearch Service buffering interval hint "
    "(0 = zero buffering)", SRC_FH_OS_HINTS, "2026-11-29")
FIREHOSE_OS_BUFFER_SECONDS_MAX = _limit(
    "firehose.opensearch.buffer_seconds.max", 900, "s", "longest OpenSearch Service buffering interval hint "
    "(CreateDeliveryStream refuses more)", SRC_FH_OS_HINTS, "2026-11-29")
FIREHOSE_OS_BUFFER_MIB_DEFAULT = _limit(
    "firehose.opensearch.buffer_mib.default", 5, "MiB", "OpenSearch Service buffering size hint when "
    "BufferingHints is omitted", SRC_FH_OS_HINTS, "2026-11-29")
FIREHOSE_OS_BUFFER_SECONDS_DEFAULT = _limit(
    "firehose.opensearch.buffer_seconds.default", 300, "s", "OpenSearch Service buffering interval hint when "
    "BufferingHints is omitted", SRC_FH_OS_HINTS, "2026-11-29")
FIREHOSE_OS_RETRY_SECONDS_MIN = _limit(
    "firehose.opensearch.retry_seconds.min", 0, "s", "shortest RetryOptions.DurationInSeconds (0 = no retries)",
    SRC_FH_OS_RETRY, "2026-11-29")
FIREHOSE_OS_RETRY_SECONDS_MAX = _limit(
    "firehose.opensearch.retry_seconds.max", 7200, "s", "longest RetryOptions.DurationInSeconds: how long Firehose "
    "retries a failed index request before writing the documents to the S3 error folder (0 = no retries)",
    SRC_FH_OS_RETRY, "2026-11-29")
FIREHOSE_OS_RETRY_SECONDS_DEFAULT = _limit(
    "firehose.opensearch.retry_seconds.default", 300, "s", "RetryOptions.DurationInSeconds when omitted",
    SRC_FH_OS_RETRY, "2026-11-29")
FIREHOSE_OS_INDEX_NAME_MAX_CHARS = _limit(
    "firehose.opensearch.index_name.max_chars", 80, "characters", "longest IndexName of the OpenSearch Service "
    "destination (before the rotation suffix)", SRC_FH_OS_CONFIG, "2026-11-29")
FIREHOSE_S3_BACKUP_BUFFER_SECONDS_MIN = _limit(
    "firehose.s3_backup.buffer_seconds.min", 60, "s", "shortest buffering interval of the S3 backup of an "
    "OpenSearch Service destination: zero buffering is 'not available for Amazon S3 backup destination', and "
    "before zero buffering existed the S3 interval range was 60-900 s", SRC_FH_BACKUP, "2026-11-29",
    note="60 from the developer guide's earlier S3 range (basic-deliver.html, 'Buffer interval (60-900 seconds)')")
FIREHOSE_OS_MISSING_DOCUMENTS = _limit(
    "firehose.opensearch.missing_documents", 0, "records", "valid JSON records read from the source and never "
    "indexed (delivery is retried for RetryOptions, then documents go to the S3 error folder: none is dropped)",
    SRC_FH_FAILURES, "2026-11-29")
FIREHOSE_OS_DUPLICATE_DOCUMENTS = _limit(
    "firehose.opensearch.duplicate_documents", 0, "documents", "records indexed more than once with the "
    "Firehose-generated document id (FIREHOSE_DEFAULT: 'stable across multiple delivery attempts, which helps "
    "prevent the same record from being indexed multiple times')", SRC_FH_OS_DOC_ID, "2026-11-29")
FIREHOSE_OS_BACKUP_MISSING_RECORDS = _limit(
    "firehose.opensearch.backup_missing_records", 0, "records", "records missing from the S3 backup with "
    "S3BackupMode AllDocuments ('Firehose delivers all incoming records to Amazon S3')", SRC_FH_OS_CONFIG,
    "2026-11-29")
FIREHOSE_OS_INDEX_NAME_ERRORS = _limit(
    "firehose.opensearch.index_name_errors", 0, "documents", "documents in an index not named IndexName plus the "
    "rotation period's portion of the UTC arrival time (NoRotation: none; OneHour -YYYY-MM-DD-HH; OneDay "
    "-YYYY-MM-DD; OneWeek -YYYY-wWW; OneMonth -YYYY-MM)", SRC_FH_OS_ROTATION, "2026-11-29",
    note="OneWeek: the page's rule (weeks start on Sunday, week 1 holds the year's first Saturday) gives "
         "2016-02-25 week 09, its own example says w08 (ISO-8601 weeks); both readings are accepted and reported")
FIREHOSE_OS_FAILED_DOCUMENT_ERRORS = _limit(
    "firehose.opensearch.failed_document_errors", 0, "documents", "documents OpenSearch refused (not JSON) that "
    "are not in the S3 error folder as the documented error record (attemptsMade, arrivalTimestamp, errorCode, "
    "errorMessage, attemptEndingTimestamp, esDocumentId, esIndexName, esTypeName, rawData), plus valid "
    "documents of their batch not indexed", SRC_FH_FAILURES, "2026-11-29",
    note="folder: the developer guide says AmazonOpenSearchService_failed/, the API reference "
         "AmazonOpenSearchService-failed/ appended to the prefix; both are accepted and the one found reported")
LIFECYCLE_OS_DOMAIN_CREATING_S = _limit(
    "lifecycle.opensearch.domain_creating_s", 1800, "s", "how long a new OpenSearch Service domain takes to "
    "initialize, upper end of the typical range ('New domains typically take 15-30 minutes to initialize, but "
    "can take longer depending on the configuration'): the live-budget figure for the search_index family",
    SRC_OS_CREATE_DOMAIN, "2026-11-29")
LIFECYCLE_OS_DOMAIN_CREATING_MIN_S = _limit(
    "lifecycle.opensearch.domain_creating_min_s", 900, "s", "lower end of the typical domain initialization time",
    SRC_OS_CREATE_DOMAIN, "2026-11-29")
PRICE_OS_T3_SMALL_SEARCH = _limit(
    "price.opensearch.t3_small_search", 36, "mUSD/hour", "on-demand price of the t3.small.search instance the "
    "live search target runs on, in thousandths of a US dollar per hour (us-east-1; plus about 10 GiB of gp3 "
    "storage)", SRC_OS_PRICING, "2026-11-29", note="regional prices differ; the AWS Free Tier covers 750 hours")

# --- Lifecycle: typical durations of stream states (not guarantees) and account quotas ---
# AWS documents the states (CREATING, UPDATING, DELETING) but no durations: "Check again in a few moments"
# (CLI tutorial), "the scaling action could take a few minutes" (UpdateShardCount), encryption "normally
# takes a few seconds to complete, but it can take minutes" (StartStreamEncryption). The SDK waiters poll
# every 10 s for up to 180 s (botocore waiters-2.json, StreamExists / StreamNotExists); kinesalite and
# kinesis-mock default to 0.5 s windows. The durations below are typical values, not guarantees: the offline
# fidelity layer holds a stream in each state this long on its clock (FidelityConfig), and a live run's own
# measurement (reshard.updating_s) replaces the estimate. Keys are stable so a wall-time planner can use them.
SRC_CLI_TUTORIAL = f"{_DOCS}/streams/latest/dev/fundamental-stream.html"
SRC_DELETE_STREAM = f"{_DOCS}/kinesis/latest/APIReference/API_DeleteStream.html"
SRC_START_STREAM_ENCRYPTION = f"{_DOCS}/kinesis/latest/APIReference/API_StartStreamEncryption.html"
SRC_BOTOCORE_WAITERS = "botocore data/kinesis/2013-12-02/waiters-2.json (StreamExists, StreamNotExists: 10 s x 18)"
SRC_CREATING_LIMIT_SEEN = ("https://github.com/hashicorp/terraform-provider-aws/pull/1339 (AWS's message: \"... "
                           "streams that can simultaneously be in CREATING or DELETING for the account ... Limit: 5.\")")
_TYPICAL = "typical, not a guarantee: AWS gives no number"
LIFECYCLE_STREAM_CREATING_S = _limit(
    "lifecycle.stream.creating_s", 30, "s", "how long a new stream stays CREATING before it is ACTIVE",
    f"{SRC_CREATE_STREAM}; {SRC_CLI_TUTORIAL}; {SRC_BOTOCORE_WAITERS}", "2026-11-29", note=_TYPICAL)
LIFECYCLE_STREAM_DELETING_S = _limit(
    "lifecycle.stream.deleting_s", 30, "s", "how long a deleted stream stays DELETING before it is gone (its name "
    "cannot be reused meanwhile)", f"{SRC_DELETE_STREAM}; {SRC_BOTOCORE_WAITERS}", "2026-11-29", note=_TYPICAL)
LIFECYCLE_STREAM_UPDATING_RESHARD_S = _limit(
    "lifecycle.stream.updating_s.reshard", 30, "s", "how long a small stream stays UPDATING after one SplitShard, "
    "MergeShards or UpdateShardCount (larger streams take longer: \"a few minutes\")",
    f"{SRC_UPDATE_SHARD_COUNT}; {SRC_AFTER_RESHARDING}", "2026-11-29", note=_TYPICAL + "; a live run measures "
    "reshard.updating_s")
LIFECYCLE_STREAM_UPDATING_ENCRYPTION_S = _limit(
    "lifecycle.stream.updating_s.encryption", 5, "s", "how long a stream stays UPDATING after StartStreamEncryption "
    "or StopStreamEncryption (\"normally takes a few seconds\")", SRC_START_STREAM_ENCRYPTION, "2026-11-29",
    note=_TYPICAL)
STREAMS_IN_TRANSITION_MAX = _limit(
    "account.streams_creating.max", 5, "streams", "streams of an account and region that may be CREATING at once; "
    "CreateStream beyond it is refused (LimitExceededException). AWS's message counts CREATING or DELETING",
    f"{SRC_CREATE_STREAM}; {SRC_CREATING_LIMIT_SEEN}", "2026-11-29")
SHARD_QUOTA_MAIN_REGIONS = _limit(
    "account.shards.default_main_regions", 20000, "shards", "default shard quota of an account (provisioned "
    "streams) in us-east-1, us-west-2 and eu-west-1; beyond it CreateStream, SplitShard and UpdateShardCount "
    "are refused (LimitExceededException)", SRC_QUOTAS, "2026-11-29")
SHARD_QUOTA_OTHER_REGIONS = _limit(
    "account.shards.default_other_regions", 1000, "shards", "default shard quota of an account (provisioned "
    "streams) in every other region", SRC_QUOTAS, "2026-11-29",
    note="the page says \"1,000 or 6,000\" without naming the regions of each: the lower is kept")
SHARD_QUOTA_MAIN_REGION_NAMES = ("us-east-1", "us-west-2", "eu-west-1")
STREAM_NAME_MIN_CHARS = _limit(
    "stream.name.min_chars", 1, "characters", "shortest stream name (pattern [a-zA-Z0-9_.-]+)", SRC_CREATE_STREAM,
    "2026-11-29")
STREAM_NAME_PATTERN = "[a-zA-Z0-9_.-]+"  # the StreamName request-model pattern (API_CreateStream.html)

# --- Live budget (issue 12): control-plane call rates, the shared stream's pause, what the plan's model assumes ---
# The rates are the sentences of each operation's documentation ("CreateStream has a limit of five transactions per
# second per account"), the same in the API reference pages and in botocore's service model. botocore's standard
# retry mode retries LimitExceededException (its throttling codes), so a brief excess costs a backoff, not a
# failure; the run keeps under them anyway (resources.TransitionLimiter). Prices are in live/pricing.py (per region).
SRC_KINESIS_MODEL_DOCS = "botocore data/kinesis/2013-12-02/service-2.json (1.44.8), each operation's documentation"
SRC_DELETE_STREAM_API = f"{_DOCS}/kinesis/latest/APIReference/API_DeleteStream.html"
SRC_DESCRIBE_STREAM = f"{_DOCS}/kinesis/latest/APIReference/API_DescribeStream.html"
SRC_DESCRIBE_STREAM_SUMMARY = f"{_DOCS}/kinesis/latest/APIReference/API_DescribeStreamSummary.html"
SRC_LIST_SHARDS = f"{_DOCS}/kinesis/latest/APIReference/API_ListShards.html"
SRC_GET_SHARD_ITERATOR = f"{_DOCS}/kinesis/latest/APIReference/API_GetShardIterator.html"
CREATE_STREAM_CALLS_PER_S = _limit(
    "control.create_stream.calls_per_s", 5, "calls/s", "CreateStream calls per second per account",
    f"{SRC_CREATE_STREAM}; {SRC_KINESIS_MODEL_DOCS}", "2026-11-29")
DELETE_STREAM_CALLS_PER_S = _limit(
    "control.delete_stream.calls_per_s", 5, "calls/s", "DeleteStream calls per second per account",
    f"{SRC_DELETE_STREAM_API}; {SRC_KINESIS_MODEL_DOCS}", "2026-11-29")
DESCRIBE_STREAM_CALLS_PER_S = _limit(
    "control.describe_stream.calls_per_s", 10, "calls/s", "DescribeStream calls per second per account (what "
    "botocore's stream_exists / stream_not_exists waiters call)", f"{SRC_DESCRIBE_STREAM}; {SRC_KINESIS_MODEL_DOCS}",
    "2026-11-29")
DESCRIBE_STREAM_SUMMARY_CALLS_PER_S = _limit(
    "control.describe_stream_summary.calls_per_s", 20, "calls/s", "DescribeStreamSummary calls per second per "
    "account", f"{SRC_DESCRIBE_STREAM_SUMMARY}; {SRC_KINESIS_MODEL_DOCS}", "2026-11-29")
LIST_SHARDS_CALLS_PER_S = _limit(
    "control.list_shards.calls_per_s", 1000, "calls/s", "ListShards calls per second per data stream",
    f"{SRC_LIST_SHARDS}; {SRC_KINESIS_MODEL_DOCS}", "2026-11-29")
GET_SHARD_ITERATOR_CALLS_PER_S = _limit(
    "control.get_shard_iterator.calls_per_s", 5, "calls/s", "GetShardIterator calls per second per account per "
    "open shard", f"{SRC_GET_SHARD_ITERATOR}; {SRC_KINESIS_MODEL_DOCS}", "2026-11-29")
SHARED_STREAM_QUIET_S = _limit(
    "shared_stream.quiet_s", 1, "s", "pause between two tests leasing one worker's shared stream, plus one second "
    "per MiB the previous test stored beyond the first (a shard's write budget is per second, and a record larger "
    "than 1 MiB is paid for by the following seconds); none after a test that stored nothing",
    SRC_QUOTAS, "2026-11-29", note="the suite's choice, derived from shard.write.bytes_per_s and "
    "shard.read.calls_per_s")

# --- Enhanced fan-out: registered consumers (issue 22) ---
SRC_REGISTER_CONSUMER = f"{_DOCS}/kinesis/latest/APIReference/API_RegisterStreamConsumer.html"
SRC_DEREGISTER_CONSUMER = f"{_DOCS}/kinesis/latest/APIReference/API_DeregisterStreamConsumer.html"
SRC_CONSUMER_TYPE = f"{_DOCS}/kinesis/latest/APIReference/API_Consumer.html"
SRC_REPOST_CONSUMER_STATUS = "https://repost.aws/questions/QU6yfTfobmTQmfIUPvg4H6AA (CREATING, then ACTIVE)"
FAN_OUT_CONSUMERS_PER_STREAM = _limit(
    "fan_out.consumers_per_stream.max", 20, "consumers", "consumers registered to one stream (enhanced fan-out): "
    "a 21st RegisterStreamConsumer is refused with LimitExceededException", SRC_REGISTER_CONSUMER, "2026-12-06")
FAN_OUT_CONSUMERS_CREATING = _limit(
    "fan_out.consumers_creating.max", 5, "consumers", "consumers of the account CREATING at once: registering a "
    "sixth meanwhile is refused with LimitExceededException", SRC_REGISTER_CONSUMER, "2026-12-06")
FAN_OUT_REGISTER_CALLS_PER_S = _limit(
    "control.register_stream_consumer.calls_per_s", 5, "calls/s", "RegisterStreamConsumer calls per second per "
    "account", SRC_REGISTER_CONSUMER, "2026-12-06")
CONSUMER_NAME_MAX_LENGTH = _limit(
    "fan_out.consumer_name.max_length", 128, "characters", "a consumer name: 1 to 128 of [a-zA-Z0-9_.-], unique "
    "per stream (ValidationException beyond the pattern or length)", SRC_REGISTER_CONSUMER, "2026-12-06")
LIFECYCLE_CONSUMER_CREATING_S = _limit(
    "lifecycle.consumer.creating_s", 10, "s", "how long a registered consumer stays CREATING before it is ACTIVE (it "
    "cannot read meanwhile)", f"{SRC_REGISTER_CONSUMER}; {SRC_CONSUMER_TYPE}; {SRC_REPOST_CONSUMER_STATUS}",
    "2026-12-06", note="AWS documents the states, not their length: the suite's estimate; live runs measure it")
LIFECYCLE_CONSUMER_DELETING_S = _limit(
    "lifecycle.consumer.deleting_s", 10, "s", "how long a deregistered consumer stays DELETING before it is gone",
    f"{SRC_DEREGISTER_CONSUMER}; {SRC_CONSUMER_TYPE}", "2026-12-06",
    note="AWS documents the states, not their length: the suite's estimate")
SRC_SUBSCRIBE_TO_SHARD = f"{_DOCS}/kinesis/latest/APIReference/API_SubscribeToShard.html"
FAN_OUT_CONSUMER_READ_BYTES_PER_S = _limit(
    "fan_out.consumer.read_bytes_per_s", 2 * 1024 * 1024, "bytes/s", "what SubscribeToShard delivers to one "
    "consumer from one shard per second, \"unaffected by the total number of consumers that read from the same "
    "stream\" and not counted against the shard's shared read limits", f"{SRC_REGISTER_CONSUMER}; "
    f"{SRC_SUBSCRIBE_TO_SHARD}", "2026-12-06")
FAN_OUT_SUBSCRIPTION_S = _limit(
    "fan_out.subscription_s", 300, "s", "how long a SubscribeToShard subscription delivers events before the "
    "consumer must call it again (from the last ContinuationSequenceNumber)", SRC_SUBSCRIBE_TO_SHARD, "2026-12-06")
FAN_OUT_RESUBSCRIBE_S = _limit(
    "fan_out.resubscribe_s", 5, "s", "within this long of a successful SubscribeToShard for a consumer and shard, "
    "another is refused (ResourceInUseException); from then on it takes the subscription over", SRC_SUBSCRIBE_TO_SHARD,
    "2026-12-06")
FAN_OUT_SUBSCRIBE_CALLS_PER_S = _limit(
    "control.subscribe_to_shard.calls_per_s", 1, "calls/s", "SubscribeToShard calls per second per consumer per "
    "shard", SRC_SUBSCRIBE_TO_SHARD, "2026-12-06")
FAN_OUT_EVENT_PERIOD_S = _limit(
    "fan_out.event_period_s", 1, "s", "how often the offline layer sends a subscription its SubscribeToShardEvent "
    "(what arrived since, at most a second's 2 MiB)", SRC_SUBSCRIBE_TO_SHARD, "2026-12-06",
    note="the suite's model: AWS pushes records as they arrive and documents no period")
