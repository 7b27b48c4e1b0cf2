"""Deprecated alias of :mod:`pytest_kinesis_limits.firehose` (delivery checks), kept for one release.

The Firehose code is one package now; import from ``pytest_kinesis_limits.firehose`` (every name below is
there). This module only re-exports, so it adds no import cycle.
"""

from __future__ import annotations

import warnings

from pytest_kinesis_limits.firehose.delivery import (  # noqa: F401  (re-exported for old imports)
    DeliveryResult,
    arrival_times,
    compare_delivery,
    delivery_bound_s,
    delivery_poll_s,
    object_waits,
    poll_until,
    wait_for_records,
)

warnings.warn("pytest_kinesis_limits.firehose_delivery is deprecated: import from pytest_kinesis_limits.firehose",
              DeprecationWarning, stacklevel=2)
