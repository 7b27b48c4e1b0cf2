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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.config import FidelityConfig
    from pytest_kinesis_limits.fidelity.gate import MotoGateError
    from pytest_kinesis_limits.fidelity.layer import (FidelityAlreadyActive, FidelityLayer, activate, active_layer,
                                                      check_moto)

#: The package's names and the module each lives in. Imported on first use (PEP 562): this package also holds the
#: offline backend's moto-free parts (the simulated time a plugin hook reaches for every test, the shared mock), and
#: importing them must not import moto.
_EXPORTS = {"FidelityConfig": "config", "MotoGateError": "gate", "FidelityAlreadyActive": "layer",
            "FidelityLayer": "layer", "activate": "layer", "active_layer": "layer", "check_moto": "layer"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["FidelityAlreadyActive", "FidelityConfig", "FidelityLayer", "MotoGateError", "activate", "active_layer",
           "check_moto"]
