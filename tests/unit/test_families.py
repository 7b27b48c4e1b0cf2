"""The family registry (families.py) is whole: each family's file and tests exist, each kind of series it keeps has a
plot, each fixture it names is one the plugin provides, and every place that lists families follows it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pytest_kinesis_limits import families
from pytest_kinesis_limits.families import FAMILIES, Family, family_named, family_of, family_rank
from pytest_kinesis_limits.live import usage
from pytest_kinesis_limits.live.scheduling import (deal_into_blocks, deal_long_first, first_chunk, scope_of,
                                                    worksteal_blocks)
from pytest_kinesis_limits.reporting import plots, series

TOP = Path(__file__).resolve().parents[2]
LIMITS = TOP / "tests" / "limits"


def _test_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


def test_every_family_file_is_declared_and_every_declared_family_has_its_file() -> None:
    assert sorted(p.name for p in LIMITS.glob("test_*.py")) == sorted(f.module for f in FAMILIES)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_a_familys_tests_are_recognised_by_their_name(family: Family) -> None:
    names = _test_functions(LIMITS / family.module)
    assert names and all(family_of(f"tests/limits/{family.module}::{name}[x]") is family for name in names)
    assert all(name.startswith(family.test_prefix) for name in names), "a family's tests carry its prefix"


def test_every_kind_of_series_has_a_plot_and_nothing_else_does() -> None:
    assert set(plots.FIGURES) == set(families.SERIES_KINDS) == set(series.KINDS)


def test_every_fixture_a_family_names_is_provided_by_the_plugin() -> None:
    provided = set()
    for path in (TOP / "src" / "pytest_kinesis_limits" / "plugin").glob("*.py"):
        provided |= {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                     if isinstance(node, ast.FunctionDef)}
    assert families.KINESIS_FIXTURES <= provided, sorted(families.KINESIS_FIXTURES - provided)


def test_recognising_tests() -> None:
    assert family_of("tests/limits/test_throughput.py::test_throughput_above[records]").name == "throughput"
    assert family_of("test_search_index_seed[x]").name == "search_index"  # a matrix case: the name alone
    assert family_of("tests/limits/test_firehose.py::test_helper").name == "firehose"  # by its file
    assert family_of("tests/plugin/test_misuse.py::test_bad_region") is None
    assert family_rank("test_put_records_x") == 0 and family_rank("test_unknown") == len(FAMILIES)
    assert family_rank("test_search_index_x") == 4  # the matrix used to rank it with the unknown
    assert family_rank("test_fan_out_x") == 5 and family_rank("test_scale_x") == len(FAMILIES) - 1
    with pytest.raises(KeyError, match="the families are put_records, throughput"):
        family_named("efo")


def test_the_usage_meter_and_the_scheduler_follow_the_registry() -> None:
    assert usage.family_of("tests/limits/test_resharding.py::test_resharding_continuity[x]") == "resharding"
    assert usage.family_of("tests/test_mine.py::test_a") == "mine" and usage.family_of("") == "session"
    groups = tuple(f.test_prefix for f in families.one_worker_families())
    assert groups == ("test_throughput", "test_scale")
    assert scope_of("tests/limits/test_throughput.py::test_throughput_x[y]", groups) == "test_throughput"
    assert scope_of("tests/limits/test_put_records.py::test_put_records_x", groups).endswith("test_put_records_x")


def test_xdist_first_chunks_are_computed_as_load_scheduling_does() -> None:
    assert first_chunk(88, 2) == 11 and first_chunk(88, 4) == 5 and first_chunk(10, 2) == 2
    assert first_chunk(3, 2) == 1 and first_chunk(88, 2, max_chunk=3) == 3


def test_long_tests_are_dealt_over_the_first_chunks_a_family_together() -> None:
    """Two workers, chunks of 4: the scale family's two long tests start together on one worker, the three seed
    scenarios on the other (and the first when there is no room), every test exactly once."""
    order = deal_long_first([[5, 6], [1], [2], [9]], [0, 3, 4, 7, 8, 10, 11, 12], workers=2, chunk=4)
    assert sorted(order) == list(range(13))
    first, second = order[:4], order[4:8]
    assert {5, 6} <= set(first) and {1, 2} <= set(second) and 9 in first
    assert deal_long_first([], [0, 1, 2], workers=2, chunk=2) == [0, 1, 2]
    # more long tests than the chunks hold: the rest come right after the chunks, before the others
    assert deal_long_first([[0], [1], [2]], [3, 4], workers=2, chunk=1)[:3] == [0, 1, 2]
    # a wall-clock family alone on the first worker, the seeds over the others; alone on one worker, it shares it
    order = deal_long_first([[1], [2], [9]], [0, 3, 4, 7, 8, 10, 11, 12], workers=2, chunk=4, alone=[[5, 6]])
    assert order[:2] == [5, 6] and {1, 2, 9} <= set(order[4:8]) and sorted(order) == list(range(13))
    assert deal_long_first([[1]], [0], workers=1, chunk=4, alone=[[5, 6]])[:3] == [1, 5, 6]


def test_worksteal_blocks_are_computed_as_worksteal_scheduling_deals_them() -> None:
    assert worksteal_blocks(88, 2) == [44, 44] and worksteal_blocks(10, 3) == [3, 3, 4]
    assert worksteal_blocks(1, 2) == [0, 1] and sum(worksteal_blocks(1013, 4)) == 1013


def test_long_tests_head_the_worksteal_blocks_a_wall_clock_family_on_a_block_of_its_own() -> None:
    """Two workers: the scale family heads the last block alone, the three seed scenarios the first; three workers:
    the seeds share the two other blocks' heads; one worker: everything in one block, every test exactly once."""
    order = deal_into_blocks([[1], [2], [9]], [0, 3, 4, 7, 8, 10, 11, 12], workers=2, alone=[[5, 6]])
    assert sorted(order) == list(range(13)) and order[:3] == [1, 2, 9] and order[6:8] == [5, 6]
    order = deal_into_blocks([[1], [2], [9]], [0, 3, 4, 7, 8, 10, 11, 12], workers=3, alone=[[5, 6]])
    blocks = [order[0:4], order[4:8], order[8:13]]
    assert blocks[2][:2] == [5, 6] and {1, 9} <= set(blocks[0][:2]) and blocks[1][0] == 2
    assert deal_into_blocks([[1]], [0], workers=1, alone=[[5, 6]]) == [1, 5, 6, 0]
    assert deal_into_blocks([], [0, 1, 2], workers=2) == [0, 1, 2]
