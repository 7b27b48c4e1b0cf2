"""The xdist scheduler's units of work (scheduling.py): the wall-clock family is one unit, the rest spread."""

from __future__ import annotations

from pytest_kinesis_limits.live.scheduling import scope_of, nodeid_name

FAMILY = "test_throughput"


def test_the_family_is_one_unit_whatever_its_parameters() -> None:
    ids = ["tests/limits/test_throughput.py::test_throughput_below_the_limit_nothing_is_refused[records-per-s-1-shard]",
           "tests/limits/test_throughput.py::test_throughput_read_calls_per_second[at]",
           "other/test_x.py::TestC::test_throughput_in_a_class"]
    assert {scope_of(nodeid, FAMILY) for nodeid in ids} == {FAMILY}


def test_other_tests_are_their_own_unit() -> None:
    ids = ["tests/limits/test_resharding.py::test_resharding_continuity[split-1-2]",
           "tests/limits/test_throughput.py::helper_test_throughput",  # the name, not the file, decides
           "tests/limits/test_put_records.py::test_put_records_record_size[at-key1@x]"]  # '@' inside parameters
    assert [scope_of(nodeid, FAMILY) for nodeid in ids] == ids


def test_an_xdist_group_suffix_is_kept() -> None:
    assert scope_of("t.py::test_a@mygroup", FAMILY) == "mygroup"
    assert scope_of("t.py::test_throughput_a@test_throughput", FAMILY) == FAMILY
    assert nodeid_name("t.py::test_throughput_a[x]@test_throughput") == "test_throughput_a[x]"
