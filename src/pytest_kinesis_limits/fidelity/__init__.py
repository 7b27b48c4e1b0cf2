"""The offline fidelity layer: makes moto 5.2.x's Kinesis Data Streams behave like the service.

Usage (in-process ``moto.mock_aws()`` or a ``moto.server.ThreadedMotoServer`` in the same process)::

    from pytest_kinesis_limits.clock import SimulatedClock
    from pytest_kinesis_limits.fidelity import FidelityConfig, activate

    with moto.mock_aws(), activate(SimulatedClock()) as layer:
        ...  # boto3 calls now meet per-shard throttling, AWS resharding, validation, big sequence numbers
        layer.config.write_records_per_s *= 2  # the config may change at run time

Each correction cites the AWS behaviour it follows; docs/fidelity.md lists them with moto's behaviour.
This package is the only place in the project that imports moto's internals, all through :mod:`.moto_adapter`; the
first activation in a process checks that the installed moto is one the layer can drive (:mod:`.gate`).
"""

from __future__ import annotations

from .config import FidelityConfig
from .gate import MotoGateError
from .layer import FidelityAlreadyActive, FidelityLayer, activate, active_layer, check_moto

__all__ = ["FidelityAlreadyActive", "FidelityConfig", "FidelityLayer", "MotoGateError", "activate", "active_layer",
           "check_moto"]
