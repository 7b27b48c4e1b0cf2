"""The old flat module names (before issue 21's wings) still import for one release: the same module object, with a
DeprecationWarning that names the new place."""

from __future__ import annotations

import importlib
import sys

import pytest

import pytest_kinesis_limits
from pytest_kinesis_limits._moved import MOVED


def _forget(old: str) -> None:
    """Forget an earlier import of the old name (the module under it, and the package's attribute of that name)."""
    sys.modules.pop(f"pytest_kinesis_limits.{old}", None)
    if old in vars(pytest_kinesis_limits):
        delattr(pytest_kinesis_limits, old)


FACE = {old for old, new in MOVED.items() if new.startswith("plugin.")}


@pytest.mark.parametrize("old", sorted(set(MOVED) - FACE))
def test_an_old_name_is_the_module_at_its_new_place(old: str) -> None:
    name = f"pytest_kinesis_limits.{old}"
    _forget(old)
    new = importlib.import_module(f"pytest_kinesis_limits.{MOVED[old]}")
    with pytest.warns(DeprecationWarning, match=rf"{name} moved to pytest_kinesis_limits\.{MOVED[old]}; import it"):
        module = importlib.import_module(name)
    assert module is new
    _forget(old)


@pytest.mark.parametrize("old", sorted(FACE))
def test_an_old_name_of_the_pytest_face_forwards_its_names(old: str) -> None:
    name = f"pytest_kinesis_limits.{old}"
    _forget(old)
    new = importlib.import_module(f"pytest_kinesis_limits.{MOVED[old]}")
    with pytest.warns(DeprecationWarning, match="moved to"):
        module = importlib.import_module(name)
    # Nothing of its own for pytest to register as a plugin a second time.
    assert module is not new and not [n for n in vars(module) if not n.startswith("__")]
    public = next(n for n in vars(new) if not n.startswith("_"))
    assert getattr(module, public) is getattr(new, public)
    _forget(old)


def test_a_conftest_naming_an_old_plugin_module_runs_once(pytester: pytest.Pytester) -> None:
    """pluggy refused the same module under a second name, with a traceback, before any test ran."""
    pytester.makeconftest('pytest_plugins = ["pytest_kinesis_limits.fixtures", "pytest_kinesis_limits.budget_hooks"]')
    pytester.makepyfile("def test_stream(kinesis_stream):\n    assert kinesis_stream.shard_count == 1\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=1)


def test_from_the_package_import_an_old_name_works_too() -> None:
    _forget("producer")
    with pytest.warns(DeprecationWarning, match="kinesis.producer"):
        from pytest_kinesis_limits import producer
    from pytest_kinesis_limits.kinesis import producer as new

    assert producer is new
    _forget("producer")


def test_an_unknown_name_is_not_found() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("pytest_kinesis_limits.not_a_module")
