"""Kinesis Data Firehose from a Kinesis source, checked as AWS documents it: the library (no pytest).

One import site for users (``from pytest_kinesis_limits import firehose``; ``firehose.parse_key(...)``, or
``from pytest_kinesis_limits.firehose import parse_key``). The modules are layers, each using only the ones
before it (``tests/unit/test_import_graph.py`` checks it):

1. :mod:`.objects`: S3 objects, their keys and bodies, listing them;
2. :mod:`.delivery`: delivery checks: waiting for records, comparing, latencies on the services' clocks;
3. :mod:`.provision`: the IAM role and the delivery stream (create, wait, update, delete), ARNs in the
   stream's partition;
4. :mod:`.handover`: the delivery stream proven to be reading (canaries) and results without the canaries;
5. :mod:`.destinations`: the search destination (an OpenSearch Service index, backed up to S3): its configuration,
   index names, IAM statements and the domain it needs;
6. :mod:`.search`: reading what a search delivery stream delivered (index, backup, failed documents) with
   opensearch-py (the optional extra), and its hand-over proof.

The fixtures live in :mod:`pytest_kinesis_limits.plugin.firehose_fixtures`, the offline simulation in
:mod:`pytest_kinesis_limits.fidelity.firehose`.
"""

from __future__ import annotations

from pytest_kinesis_limits.firehose.delivery import (
    DeliveryResult,
    arrival_times,
    compare_delivery,
    delivery_bound_s,
    delivery_poll_s,
    object_waits,
    poll_until,
    source_read_options,
    wait_for_records,
)
from pytest_kinesis_limits.firehose.handover import (
    CANARY,
    CANARY_FIELD,
    DeliveryStreamInfo,
    ReadingProof,
    canary_id,
    canary_record,
    is_canary,
    prove_reading,
    without_canaries,
    write_canaries,
)
from pytest_kinesis_limits.firehose.destinations import (
    BACKUP_MODES,
    FAILED_FOLDERS,
    ROTATIONS,
    SearchDeliveryStreamInfo,
    SearchDestination,
    SearchTarget,
    check_search_domain_offered,
    create_search_domain,
    delete_search_domain,
    index_name,
    index_names,
    opensearch_destination_config,
    search_role_policy,
    validate_search_hints,
    week_of_year,
)
from pytest_kinesis_limits.firehose.objects import (
    NEWLINE_DELIMITER,
    BodyFormatError,
    DeliveredObject,
    ParsedKey,
    SplitBody,
    evaluate_prefix,
    format_key,
    list_delivered,
    parse_key,
    split_json_records,
    split_raw_records,
)
from pytest_kinesis_limits.firehose.provision import (
    BUCKET_ACTIONS,
    FIREHOSE_PRINCIPAL,
    PROPAGATION_ERROR_CODE,
    PROPAGATION_MESSAGES,
    ROLE_POLICY_NAME,
    SOURCE_ACTIONS,
    DeliveryStreamError,
    arn_partition,
    bucket_arn_for,
    create_delivery_stream,
    create_firehose_role,
    create_kinesis_source_delivery_stream,
    creating_poll_s,
    delete_delivery_stream,
    delete_delivery_stream_when_created,
    delete_firehose_role,
    described_interval_s,
    firehose_role_policy,
    firehose_trust_policy,
    is_propagation_error,
    s3_bucket_arn,
    s3_destination_config,
    update_destination,
    validate_buffering_hints,
    wait_until_active,
)
from pytest_kinesis_limits.firehose.search import (
    FailedDocument,
    IndexedDocument,
    IndexResult,
    OpenSearchExtraMissing,
    SearchIndex,
    failed_documents,
    opensearch_client,
    prove_indexing,
    wait_for_backup,
)

__all__ = [
    "BUCKET_ACTIONS", "BodyFormatError", "CANARY", "CANARY_FIELD", "DeliveredObject", "DeliveryResult",
    "DeliveryStreamError", "DeliveryStreamInfo", "FIREHOSE_PRINCIPAL", "NEWLINE_DELIMITER", "PROPAGATION_ERROR_CODE",
    "PROPAGATION_MESSAGES", "ParsedKey", "ROLE_POLICY_NAME", "ReadingProof", "SOURCE_ACTIONS", "SplitBody",
    "arn_partition", "arrival_times", "bucket_arn_for", "canary_id", "canary_record", "compare_delivery",
    "create_delivery_stream", "create_firehose_role", "create_kinesis_source_delivery_stream", "creating_poll_s",
    "delete_delivery_stream", "delete_delivery_stream_when_created", "delete_firehose_role", "described_interval_s",
    "delivery_bound_s", "delivery_poll_s", "evaluate_prefix", "firehose_role_policy", "firehose_trust_policy",
    "format_key", "is_canary", "is_propagation_error", "list_delivered", "object_waits", "parse_key", "poll_until",
    "prove_reading", "s3_bucket_arn", "s3_destination_config", "source_read_options", "split_json_records",
    "split_raw_records", "update_destination", "validate_buffering_hints", "wait_for_records", "wait_until_active",
    "without_canaries", "write_canaries",
    # the search destination
    "BACKUP_MODES", "FAILED_FOLDERS", "FailedDocument", "IndexResult", "IndexedDocument", "OpenSearchExtraMissing",
    "ROTATIONS", "SearchDeliveryStreamInfo", "SearchDestination", "SearchIndex", "SearchTarget",
    "check_search_domain_offered", "create_search_domain", "delete_search_domain", "failed_documents", "index_name",
    "index_names", "opensearch_client", "opensearch_destination_config", "prove_indexing", "search_role_policy",
    "validate_search_hints", "wait_for_backup", "week_of_year",
]
