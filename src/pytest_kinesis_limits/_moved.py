"""The package's old flat module names, kept importable for one release (issue 21 moved them into wings).

``import pytest_kinesis_limits.producer`` (or ``from pytest_kinesis_limits import producer``) still works: a finder on
``sys.meta_path`` answers an old name with the module at its new place (the same module object, so a ``monkeypatch``
through either name reaches it) and a ``DeprecationWarning`` that names the new import. The pytest face's old names
(``fixtures``, ``budget_hooks``, ...) are answered by a module that forwards attribute look-ups instead, so that a
conftest naming one in ``pytest_plugins`` does not register the plugin twice. Nothing inside the package
uses an old name (tests/unit/test_import_graph.py).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

PACKAGE = "pytest_kinesis_limits"
#: Old module name (under the package) -> new one.
MOVED = {
    "fixtures": "plugin.fixtures", "firehose_fixtures": "plugin.firehose_fixtures",
    "budget_fixtures": "plugin.budget_fixtures", "budget_hooks": "plugin.budget_hooks",
    "producer": "kinesis.producer", "outcomes": "kinesis.producer_log", "meter": "kinesis.meter",
    "reader": "kinesis.reader", "continuity": "kinesis.continuity", "resharding": "kinesis.resharding",
    "resources": "kinesis.resources", "keys": "kinesis.key_spread", "payloads": "kinesis.payloads",
    "probes": "kinesis.probes",
    "motoshare": "fidelity.shared_mock", "offline": "fidelity.offline", "simtime": "fidelity.simtime",
    "timepatch": "fidelity.timepatch",
    "budget": "live.budget", "plan": "live.plan", "pricing": "live.pricing", "usage": "live.usage",
    "shared": "live.shared_streams", "pool": "live.stream_pool", "transitions": "live.transitions",
    "scheduling": "live.scheduling", "sweep": "live.sweep", "interrupts": "live.interrupts",
    "report": "reporting.report", "summary": "reporting.summary", "series": "reporting.series",
    "plots": "reporting.plots", "htmlreport": "reporting.html", "output": "reporting.output",
    "matrix": "reporting.matrix",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {self.new}; import it from there (the old name goes in the next "
                      "release)", DeprecationWarning, stacklevel=3)
        if self.new.startswith(f"{PACKAGE}.plugin."):
            return _forwarder(spec.name, self.new)
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        pass  # the module at its new place is already executed


def _forwarder(old: str, new: str) -> ModuleType:
    """An empty module whose attributes come from ``new`` on demand. For the pytest face's modules: a conftest that
    still names one in ``pytest_plugins`` registers this empty plugin, not the real one a second time (pluggy refuses
    one module under two names, and its hooks would run twice)."""
    module = ModuleType(old, f"Deprecated name of {new}.")

    def forward(name: str) -> object:
        return getattr(importlib.import_module(new), name)

    module.__getattr__ = forward  # type: ignore[method-assign]
    return module


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.partition(".")
        if package != PACKAGE or name not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(f"{PACKAGE}.{MOVED[name]}"))


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())


__all__ = ["MOVED", "install"]
