"""The documentation pages that restate code stay equal to it."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from pytest_kinesis_limits.cli import catalogue_markdown
from pytest_kinesis_limits.settings import SPECS

DOCS = Path(__file__).parents[2] / "docs"


def test_limits_page_is_the_catalogue() -> None:
    assert (DOCS / "limits.md").read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/limits.md is stale: regenerate it with `python -m pytest_kinesis_limits limits > docs/limits.md`")


def test_configuration_page_lists_every_setting() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [spec.option for spec in SPECS if spec.option not in text or spec.env not in text or spec.ini not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"


def _public_fixtures() -> list[str]:
    from pytest_kinesis_limits import plugin

    names = []
    for module_name in plugin.pytest_plugins:
        module = importlib.import_module(module_name)
        names += [name for name, value in vars(module).items()
                  if not name.startswith("_") and hasattr(value, "_fixture_function_marker")]
    return names


def test_fixtures_page_lists_every_fixture() -> None:
    names = _public_fixtures()
    assert "kinesis_stream" in names  # the discovery itself works
    text = (DOCS / "fixtures.md").read_text(encoding="utf-8")
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"docs/fixtures.md does not document {missing}"


@pytest.mark.parametrize("name", _public_fixtures())
def test_every_fixture_has_a_docstring(name: str) -> None:
    from pytest_kinesis_limits import plugin

    for module_name in plugin.pytest_plugins:
        value = getattr(importlib.import_module(module_name), name, None)
        if value is not None:
            function = getattr(value, "_get_wrapped_function", lambda: value)()
            assert inspect.getdoc(function), f"fixture {name} has no docstring (pytest --fixtures shows it)"
