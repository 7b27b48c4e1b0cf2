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


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_name_is_the_module_at_its_new_place(old: str) -> None:
    name = f"pytest_kinesis_limits.{old}"
    _forget(old)
    new = importlib.import_module(f"pytest_kinesis_limits.{MOVED[old]}")
    with pytest.warns(DeprecationWarning, match=rf"{name} moved to pytest_kinesis_limits\.{MOVED[old]}; import it"):
        module = importlib.import_module(name)
    assert module is new
    _forget(old)


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
