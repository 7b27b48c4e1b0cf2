"""Streams made ahead (pool.py): the next test's shapes are made while the current one runs, handed out once, and
a shape nobody made or whose making failed leaves the test to make its own."""

from __future__ import annotations

import threading

import pytest

from pytest_kinesis_limits.live.stream_pool import StreamPool, shape_of


def test_a_prepared_shape_is_handed_out_once_to_its_test():
    made: list[tuple] = []

    def make(shape, owner):
        made.append((shape, owner))
        return f"stream-{len(made)}"

    pool = StreamPool(make)
    pool.prepare("t2", [[2, False, None], [1, False, None]])
    pool.prepare("t2", [[2, False, None]])  # once per test
    assert pool.take("t2", shape_of(2, False, None)) in {"stream-1", "stream-2"}
    assert pool.take("t2", shape_of(2, False, None)) is None  # nothing left of that shape
    assert pool.take("t3", shape_of(None, False, None)) is None  # another test's: not this one's
    assert pool.take("t2", shape_of(None, False, None)) is not None
    assert pool.taken == 2 and len(made) == 2
    pool.close()


def test_take_waits_for_a_stream_still_being_made():
    release = threading.Event()

    def make(shape, owner):
        release.wait(5)
        return "late"

    pool = StreamPool(make)
    pool.prepare("t", [[1, False, None]])
    threading.Timer(0.2, release.set).start()
    assert pool.take("t", (1, False, None)) == "late"
    pool.close()


def test_a_failed_making_leaves_the_test_to_make_its_own():
    def make(shape, owner):
        raise RuntimeError("LimitExceededException")

    pool = StreamPool(make)
    pool.prepare("t", [[1, False, None]])
    assert pool.take("t", (1, False, None)) is None
    pool.close()


def test_a_closed_pool_makes_nothing_more():
    pool = StreamPool(lambda shape, owner: pytest.fail("made after close"))
    pool.close()
    pool.prepare("t", [[1, False, None]])
    assert pool.take("t", (1, False, None)) is None


@pytest.mark.parametrize(("args", "shape"), [((None, False, None), (1, False, None)), ((3, False, 2048), (3, False, 2048)),
                                             ((None, True, None), (0, True, None))])
def test_shapes_match_what_the_meter_records(args, shape):
    assert shape_of(*args) == shape
