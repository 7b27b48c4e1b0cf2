"""The import graph of src/: no cycle, the Firehose package's layers used in one direction, and moto's internals
reached only through the offline layer's one door (``fidelity/moto_adapter.py``).

Run it alone with ``.venv/bin/pytest -p no:cacheprovider tests/unit/test_import_graph.py``, or print the graph
with ``.venv/bin/python tests/unit/test_import_graph.py`` (modules in an order where each comes after what it
imports, or the cycle).

The graph is read with ``ast`` from the sources, not by importing them: every ``import``/``from ... import`` of
the package counts, at module level *and inside functions* (an import moved into a function to dodge a cycle
is still a cycle here); only ``if TYPE_CHECKING:`` blocks, which never run, are left out. ``from X import n``
is an edge to the module ``X.n`` when ``n`` is a module, else to ``X``. A package's ``__init__`` running before
its submodules is Python's import order, not an edge.
"""

from __future__ import annotations

import ast
import graphlib
import sys
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "pytest_kinesis_limits"
#: The Firehose package's layers, in the one direction they may be used (a layer imports only earlier ones).
FIREHOSE_LAYERS = ("objects", "delivery", "provision", "handover", "destinations", "search")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    in_function: bool


def module_files(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """``{dotted module name: file}`` for every module of ``package`` under ``src``."""
    modules = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_edges(name: str, path: Path, modules: dict[str, Path]) -> list[Edge]:
    """The imports of the package that module ``name`` (at ``path``) makes."""
    is_package = path.name == "__init__.py"
    edges: list[Edge] = []

    def add(target: str, node: ast.stmt, depth: int) -> None:
        if target.split(".")[0] == PACKAGE and target != name:
            edges.append(Edge(name, target, node.lineno, depth > 0))

    def visit(nodes: list[ast.stmt], depth: int) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse, depth)
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node, depth)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                for alias in node.names:
                    submodule = f"{origin}.{alias.name}"
                    add(submodule if submodule in modules else origin, node, depth)
            inner = depth + isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for field_name in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field_name, None)
                if isinstance(children, list) and children and isinstance(children[0], (ast.stmt,
                                                                                       ast.excepthandler)):
                    visit(children, inner)  # type: ignore[arg-type]

    visit(ast.parse(path.read_text(encoding="utf-8")).body, 0)
    return edges


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` for every module under ``src``."""
    modules = module_files(src)
    return {name: {e.target for e in module_edges(name, path, modules)} for name, path in modules.items()}


def import_order(graph: dict[str, set[str]]) -> list[str]:
    """The modules, each after everything it imports; ``graphlib.CycleError`` names a cycle."""
    return list(graphlib.TopologicalSorter(graph).static_order())


#: The one door to moto (issue 18): the only module that imports moto's internals. Elsewhere only moto's public faces,
#: where it is needed: ``mock_aws`` for the plugin's shared mock (``serve`` and ``kinesis_endpoint`` build moto's server
#: through the door: fidelity/endpoint_server.py).
MOTO_DOOR = f"{PACKAGE}.fidelity.moto_adapter"
MOTO_PUBLIC = {f"{PACKAGE}.fidelity.shared_mock": {"moto.mock_aws"}}


def moto_imports(path: Path) -> list[tuple[str, int]]:
    """Every name of moto a module imports (``moto.x.y`` for ``from moto.x import y``), anywhere in it, with its
    line; ``if TYPE_CHECKING:`` blocks count too (a type from moto's insides is a dependency on them)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.split(".")[0] == "moto"]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "moto":
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def moto_door_violations(src: Path = SRC) -> list[str]:
    """Imports of moto outside the door, other than the public names :data:`MOTO_PUBLIC` allows."""
    bad = []
    for name, path in module_files(src).items():
        if name == MOTO_DOOR:
            continue
        allowed = MOTO_PUBLIC.get(name, set())
        bad += [f"{name}:{line} imports {what}" for what, line in moto_imports(path) if what not in allowed]
    return bad


#: The wings (issue 21), lowest first: a module may import only from a wing of a lower layer (or its own wing). The
#: top-level modules that are not wings count as wings of one module.
WING_LAYERS = (
    ("sdk", "gc_tuning"),
    ("limits", "clock", "settings", "families", "regions", "_moved"),
    ("kinesis", "backends", "emulators"),
    ("firehose", "endpoint", "load"),
    ("fidelity", "live", "reporting"),
    ("plugin", "cli", "firehose_delivery", "firehose_provision"),
    ("__main__", ""),
)
#: The pytest face: the only wing that may import pytest.
PYTEST_WING = "plugin"


def wing_of(module: str) -> str:
    """``pytest_kinesis_limits.kinesis.producer`` -> ``kinesis``; the package itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def wing_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that point up or across the wing layers, and wings no layer names."""
    layer = {wing: index for index, wings in enumerate(WING_LAYERS) for wing in wings}
    bad = [f"wing {wing!r} is in no layer of WING_LAYERS" for wing in sorted({wing_of(m) for m in graph}) if
           wing not in layer]
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = wing_of(source), wing_of(target)
            if a != b and a in layer and b in layer and layer[b] >= layer[a]:
                bad.append(f"{source} imports {target}: {a!r} may not use {b!r}")
    return bad


def pytest_importers(src: Path = SRC) -> list[str]:
    """Modules outside the pytest face that import pytest (anywhere in them, for type checking too)."""
    bad = []
    for name, path in module_files(src).items():
        if wing_of(name) == PYTEST_WING:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            bad += [f"{name}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in ("pytest", "_pytest")]
    return bad


#: Where the package may import its own modules inside functions, each with its reason (a module, or a whole wing).
#: Everywhere else imports stand at the top, so the graph a reader sees is the real one.
LAZY_IMPORTS = {
    f"{PACKAGE}.plugin": "the pytest face loads in every repo that installs the package, most of whose runs use no "
                         "Kinesis fixture: the client side, boto3, moto and the budget load when a run needs them "
                         "(docs/benchmarks.md, plugin start-up)",
    f"{PACKAGE}.cli": "each subcommand loads only what it runs (serve: moto; plot: matplotlib; sweep: boto3)",
    f"{PACKAGE}.reporting.series": "the report, loaded at start-up, builds series from result classes (producer, "
                                   "meter, reshard, delivery) that load with the run that made them",
}


def lazy_import_violations(src: Path = SRC, allowed: dict[str, str] | None = None) -> list[str]:
    """Imports of the package inside functions, in a module :data:`LAZY_IMPORTS` does not allow."""
    allowed = LAZY_IMPORTS if allowed is None else allowed
    modules = module_files(src)
    bad = []
    for name, path in modules.items():
        if any(name == place or name.startswith(place + ".") for place in allowed):
            continue
        bad += [f"{name}:{e.line} imports {e.target} inside a function" for e in module_edges(name, path, modules)
                if e.in_function]
    return sorted(set(bad))


# ------------------------------------------------------------------------------------------------ tests
def test_imports_stand_at_the_top_but_where_a_reason_allows() -> None:
    assert all(reason for reason in LAZY_IMPORTS.values())
    assert lazy_import_violations() == []


def test_the_lazy_import_check_finds_an_import_hidden_in_a_function(tmp_path: Path) -> None:
    """Can fail: a library module importing the package inside a function is reported; an allowed one is not."""
    package = tmp_path / PACKAGE
    (package / "plugin").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "limits.py").write_text("")
    (package / "plugin" / "__init__.py").write_text(f"def f():\n    from {PACKAGE} import limits\n")
    (package / "reader.py").write_text(f"def f():\n    from {PACKAGE} import limits\n")
    assert lazy_import_violations(tmp_path, {f"{PACKAGE}.plugin": "start-up"}) == [
        f"{PACKAGE}.reader:2 imports {PACKAGE}.limits inside a function"]


def test_the_wings_import_downwards_only() -> None:
    assert wing_violations(import_graph()) == []


def test_the_wing_check_finds_an_import_up_and_one_across(tmp_path: Path) -> None:
    """Can fail: the client side importing the reporting wing (up), reporting importing the live wing (across, one
    layer), and an unknown wing are each reported."""
    package = tmp_path / PACKAGE
    for wing in ("kinesis", "reporting", "live", "extra"):
        (package / wing).mkdir(parents=True)
        (package / wing / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "limits.py").write_text("")
    (package / "kinesis" / "producer.py").write_text(
        f"from {PACKAGE} import limits\nfrom {PACKAGE}.reporting import x\n")
    (package / "reporting" / "x.py").write_text(f"from {PACKAGE}.live import y\n")
    (package / "live" / "y.py").write_text(f"from {PACKAGE}.kinesis import producer\n")
    assert wing_violations(import_graph(tmp_path)) == [
        "wing 'extra' is in no layer of WING_LAYERS",
        f"{PACKAGE}.kinesis.producer imports {PACKAGE}.reporting.x: 'kinesis' may not use 'reporting'",
        f"{PACKAGE}.reporting.x imports {PACKAGE}.live.y: 'reporting' may not use 'live'"]


def test_only_the_pytest_face_imports_pytest() -> None:
    assert pytest_importers() == []


def test_the_pytest_check_finds_pytest_outside_the_face(tmp_path: Path) -> None:
    """Can fail: pytest imported by a library module, at the top or inside a function, is reported; the face's is
    not."""
    package = tmp_path / PACKAGE
    (package / "plugin").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin" / "__init__.py").write_text("import pytest\n")
    (package / "reader.py").write_text("import pytest\n")
    (package / "meter.py").write_text("def f():\n    from _pytest.monkeypatch import MonkeyPatch\n")
    assert sorted(pytest_importers(tmp_path)) == [f"{PACKAGE}.meter:2 imports _pytest.monkeypatch",
                                                  f"{PACKAGE}.reader:1 imports pytest"]


def test_moto_is_imported_only_through_the_adapter() -> None:
    assert moto_imports(module_files()[MOTO_DOOR]), "the adapter imports moto"
    assert moto_door_violations() == []


def test_the_door_check_finds_moto_imported_elsewhere(tmp_path: Path) -> None:
    """Can fail: moto's internals imported outside the adapter, at the top, in a function or for type checking, and
    a public name where it is not allowed, are each reported; the allowed public names are not."""
    package = tmp_path / PACKAGE
    (package / "fidelity").mkdir(parents=True)
    for init in (package / "__init__.py", package / "fidelity" / "__init__.py"):
        init.write_text("")
    (package / "fidelity" / "moto_adapter.py").write_text("from moto.kinesis.models import Stream\n")
    (package / "top.py").write_text("import moto.kinesis.models\n")
    (package / "inner.py").write_text("def f():\n    from moto.core.models import MockAWS\n")
    (package / "typed.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                      "    from moto.kinesis.models import Shard\n")
    (package / "fidelity" / "shared_mock.py").write_text("def f():\n    from moto import mock_aws\n")
    (package / "cli.py").write_text("from moto import mock_aws\n")
    assert sorted(moto_door_violations(tmp_path)) == [
        f"{PACKAGE}.cli:1 imports moto.mock_aws", f"{PACKAGE}.inner:2 imports moto.core.models.MockAWS",
        f"{PACKAGE}.top:1 imports moto.kinesis.models", f"{PACKAGE}.typed:3 imports moto.kinesis.models.Shard"]



def test_the_import_graph_of_src_has_no_cycle() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.firehose.objects" in graph and f"{PACKAGE}.plugin" in graph
    try:
        order = import_order(graph)
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle in src/: {' -> '.join(exc.args[1])}") from None
    assert set(order) >= set(graph)


def test_the_cycle_check_finds_a_cycle_dodged_inside_a_function(tmp_path: Path) -> None:
    """Can fail: the circle firehose.py / firehose_provision.py had (a top-level import one way, one inside a
    function the other way) is reported."""
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import g\n\ndef f():\n    return g()\n")
    (package / "b.py").write_text("def g():\n    from .a import f\n    return f\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n")
    graph = import_graph(tmp_path)
    assert graph[f"{PACKAGE}.c"] == set()
    try:
        import_order(graph)
    except graphlib.CycleError as exc:
        assert set(exc.args[1]) == {f"{PACKAGE}.a", f"{PACKAGE}.b"}
    else:
        raise AssertionError("the cycle a -> b -> a was not found")


def test_the_firehose_layers_are_used_in_one_direction_and_import_at_the_top() -> None:
    modules = module_files()
    prefix = f"{PACKAGE}.firehose."
    layers = [prefix + layer for layer in FIREHOSE_LAYERS]
    assert sorted(m for m in modules if m.startswith(prefix)) == sorted(layers), "a new layer: add it to the list"
    for index, layer in enumerate(layers):
        edges = module_edges(layer, modules[layer], modules)
        assert not [e for e in edges if e.in_function], f"{layer} imports inside a function: {edges}"
        inside = {e.target for e in edges if e.target.startswith(prefix) or e.target == prefix[:-1]}
        assert inside <= set(layers[:index]), f"{layer} uses {sorted(inside - set(layers[:index]))}, which " \
                                              f"come after it ({', '.join(FIREHOSE_LAYERS)})"
    package_edges = {e.target for e in module_edges(prefix[:-1], modules[prefix[:-1]], modules)}
    assert package_edges == set(layers)


if __name__ == "__main__":
    the_graph = import_graph()
    try:
        for module in import_order(the_graph):
            print(module, "->", ", ".join(sorted(the_graph.get(module, ()))) or "-")
    except graphlib.CycleError as error:
        print("cycle:", " -> ".join(error.args[1]))
        sys.exit(1)
