"""Deprecated alias of :mod:`pytest_kinesis_limits.firehose` (provisioning and hand-over), kept for one release.

The Firehose code is one package now; import from ``pytest_kinesis_limits.firehose`` (every name below is
there). This module only re-exports, so it adds no import cycle.
"""

from __future__ import annotations

import warnings

from pytest_kinesis_limits.firehose.handover import (  # noqa: F401  (re-exported for old imports)
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
from pytest_kinesis_limits.firehose.provision import (  # noqa: F401  (re-exported for old imports)
    BUCKET_ACTIONS,
    FIREHOSE_PRINCIPAL,
    PROPAGATION_MESSAGES,
    ROLE_POLICY_NAME,
    SOURCE_ACTIONS,
    DeliveryStreamError,
    create_delivery_stream,
    create_firehose_role,
    delete_delivery_stream,
    delete_delivery_stream_when_created,
    delete_firehose_role,
    firehose_role_policy,
    firehose_trust_policy,
    s3_destination_config,
    update_destination,
    validate_buffering_hints,
    wait_until_active,
)

warnings.warn("pytest_kinesis_limits.firehose_provision is deprecated: import from pytest_kinesis_limits.firehose",
              DeprecationWarning, stacklevel=2)
