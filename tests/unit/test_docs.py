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

    # How a @pytest.fixture function is marked is pytest's own detail: 8.4 made it a FixtureFunctionDefinition with
    # _fixture_function_marker, 8.3 (the lowest the metadata admits) sets _pytestfixturefunction on the function.
    # A pytest with neither finds no fixture: test_fixtures_page_lists_every_fixture then fails, loudly.
    markers = ("_fixture_function_marker", "_pytestfixturefunction")
    names = []
    for module_name in plugin.pytest_plugins:
        module = importlib.import_module(module_name)
        names += [name for name, value in vars(module).items()
                  if not name.startswith("_") and any(hasattr(value, marker) for marker in markers)]
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


def test_the_moto_range_is_said_the_same_everywhere() -> None:
    """pyproject.toml's moto bound is the one tox's moto-lowest pins, the README and docs/fidelity.md state, and the
    adapter's tested releases start from; constraints.txt pins a release inside it."""
    import re
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    from pytest_kinesis_limits.fidelity.moto_adapter import TESTED_RELEASES

    top = DOCS.parent
    project = tomllib.loads((top / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    moto = next(Requirement(line) for line in project["dependencies"] if line.startswith("moto"))
    lowest = min((spec.version for spec in moto.specifier if spec.operator == ">="), key=Version)
    spelled = ",".join(sorted((str(spec) for spec in moto.specifier), key=lambda text: not text.startswith(">")))
    assert re.search(rf"^deps = moto\[[^\]]+\]=={re.escape(lowest)}$", (top / "tox.ini").read_text(encoding="utf-8"),
                     flags=re.MULTILINE), f"tox.ini's moto-lowest does not pin {lowest}"
    assert TESTED_RELEASES[0] == lowest
    for page in (top / "README.md", DOCS / "fidelity.md"):
        assert f"`{spelled}`" in page.read_text(encoding="utf-8"), f"{page.name} does not say moto `{spelled}`"
    locked = re.search(r"^moto==(\S+)$", (top / "constraints.txt").read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert locked and Version(locked.group(1)) in moto.specifier


def test_permissions_page_holds_the_policy() -> None:
    import json

    from pytest_kinesis_limits.live.permissions import policy

    text = (DOCS / "permissions.md").read_text(encoding="utf-8")
    block = text.rsplit("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == policy(), ("docs/permissions.md is stale: regenerate its policy with "
                                           "`pytest-kinesis-limits policy`")
