"""Fixture names that cannot be taken: another installed plugin that defines a fixture with one of ours stops the
session at start, in one line naming both plugins and the fix (issue 19).

pytest lets a plugin's fixture replace another plugin's of the same name, silently: the one registered last wins.
async-kinesis, for one, installs a plugin named ``kinesis`` whose ``kinesis_backend`` and ``kinesis_stream`` are
function-scoped in-memory stand-ins; beside this plugin, a test asking for ``kinesis_stream`` got async-kinesis's
stream with no moto behind it, and tests of ours failed with ``ScopeMismatch``. A conftest.py that overrides one
of our fixtures is the user's own choice and is left alone: only plugins installed from distributions (``pytest11``
entry points) are compared.

Why no prefixed aliases (``kl_kinesis_stream``): a clash makes the other plugin's fixture replace ours in every test
that uses the name, aliases or not, so the run must choose one plugin for the names either way; ``-p no:NAME``
does that in one word, and aliases would double the fixtures a user has to learn.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import pytest

#: Our entry point's name (pyproject.toml): ``-p no:kinesis_limits`` turns this plugin off.
OUR_PLUGIN = "kinesis_limits"


def fixture_names(namespace: dict[str, Any]) -> set[str]:
    """The fixture names a module defines (pytest 8.4+ ``FixtureFunctionDefinition``, and the older marked
    functions), each by the name pytest registers it under (``@pytest.fixture(name=...)`` wins)."""
    names = set()
    for attribute, value in list(namespace.items()):
        marker = getattr(value, "_fixture_function_marker", None) or getattr(value, "_pytestfixturefunction", None)
        if marker is None:
            continue
        names.add(getattr(marker, "name", None) or attribute)
    return names


def our_fixtures(modules: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for module in modules:
        names |= fixture_names(vars(importlib.import_module(module)))
    return names


def clash_line(config: pytest.Config, ours: set[str]) -> str | None:
    """The one line that stops the run when an installed plugin defines one of ``ours`` (None: no clash)."""
    manager = config.pluginmanager
    for plugin, dist in manager.list_plugin_distinfo():
        name = manager.get_name(plugin) or ""
        if name == OUR_PLUGIN or getattr(plugin, "__name__", "").startswith("pytest_kinesis_limits"):
            continue
        taken = sorted(ours & fixture_names(vars(plugin)))
        if not taken:
            continue
        project = getattr(dist, "project_name", None) or getattr(getattr(dist, "metadata", {}), "get",
                                                                  lambda _k: "?")("Name")
        version = getattr(dist, "version", "")
        return (f"pytest-kinesis-limits: the plugin '{name}' ({project} {version}) defines the fixtures "
                f"{', '.join(taken)}, which would silently replace pytest-kinesis-limits' own. Fix: -p no:{name} "
                f"(in addopts, to keep {project} installed for its other uses), or -p no:{OUR_PLUGIN} for a run "
                f"that needs {project}'s fixtures (docs/endpoint.md, 'Fixture names')")
    return None


__all__ = ["OUR_PLUGIN", "clash_line", "fixture_names", "our_fixtures"]
