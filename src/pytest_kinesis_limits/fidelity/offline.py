"""The offline backend's layers in one context: the Kinesis fidelity layer, the Firehose delivery
simulation and the search destination's stand-in index, on one shared clock. Used by the fixtures, ``serve`` and the plugin's tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pytest_kinesis_limits.clock import Clock

from pytest_kinesis_limits.fidelity.config import FidelityConfig
from pytest_kinesis_limits.fidelity.firehose import activate_firehose
from pytest_kinesis_limits.fidelity.layer import activate
from pytest_kinesis_limits.fidelity.search_index import activate_search_index

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.layer import FidelityLayer


@contextlib.contextmanager
def activate_all(clock: Clock, config: FidelityConfig | None = None) -> Iterator[FidelityLayer]:
    """Apply every offline correction to moto on ``clock``; yields the Kinesis layer; restores moto on exit."""
    config = config if config is not None else FidelityConfig()
    windows = {"creating_s": config.firehose_creating_seconds, "deleting_s": config.firehose_deleting_seconds,
               "propagation_s": config.iam_propagation_seconds}
    # The Kinesis layer first: the Firehose simulation reads the source through its patched methods.
    with activate(clock, config) as layer, activate_firehose(clock, **windows) as firehose, \
            activate_search_index(clock, firehose) as search:
        layer.firehose = firehose
        layer.search = search  # the search destination's stand-in (issue 14)
        yield layer
