"""A worker's shared streams (shared.py): one stream per shape, each lease reading only its own records, on a
quiet shard. Fakes stand in for the stream; the fixtures over moto are exercised by tests/limits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.kinesis.resources import StreamInfo
from pytest_kinesis_limits.live.shared_streams import SharedStreams, quiet_pause_s, shared_key


class _FakeStreams:
    def __init__(self) -> None:
        self.made: list[StreamInfo] = []
        self.records: dict[str, list[SimpleNamespace]] = {}

    def make(self, kib):
        info = StreamInfo(name=f"s{len(self.made)}", arn="arn", shard_count=1, max_record_size_kib=kib)
        self.made.append(info)
        self.records[info.name] = []
        return info

    def write(self, name: str, size: int) -> None:
        rows = self.records[name]
        rows.append(SimpleNamespace(shard_id="shardId-0", sequence_number=str(len(rows) + 1), data=b"x" * size,
                                    partition_key="k"))

    def read(self, name, after):
        start = int(after.get("shardId-0", "0"))
        return [r for r in self.records[name] if int(r.sequence_number) > start]


def test_one_stream_per_shape_and_each_lease_starts_after_the_last():
    fake, clock = _FakeStreams(), SimulatedClock(start=0)
    shared = SharedStreams(fake.make, fake.read, clock)
    first = shared.lease()
    fake.write(first.name, 10)
    fake.write(first.name, 10)
    shared.release(first)
    second = shared.lease()
    assert second.name == first.name and len(fake.made) == 1
    assert second.after == {"shardId-0": "2"}
    assert fake.read(second.name, second.after) == []  # the previous test's records are not this test's
    big = shared.lease(max_record_size_kib=2048)
    assert big.name != first.name and big.max_record_bytes == 2048 * limits.KIB
    assert shared_key(2048) != shared_key(None)


def test_a_lease_starts_on_a_quiet_shard():
    fake, clock = _FakeStreams(), SimulatedClock(start=0)
    shared = SharedStreams(fake.make, fake.read, clock)
    lease = shared.lease()
    fake.write(lease.name, 3 * limits.MIB - 1)  # with its 1-byte key: 3 MiB
    shared.release(lease)
    released = clock.now()
    shared.lease()
    assert clock.now() - released == limits.SHARED_STREAM_QUIET_S.value + 2  # a second, and one per MiB beyond the first


@pytest.mark.parametrize(("written", "pause"), [(0, 0), (1, 1), (limits.MIB, 1), (limits.MIB + 1, 2),
                                                (2 * limits.MIB, 2)])
def test_the_pause_follows_what_the_previous_test_stored(written, pause):
    assert quiet_pause_s(written) == pause


def test_after_a_test_that_stored_nothing_the_next_lease_starts_at_once():
    fake, clock = _FakeStreams(), SimulatedClock(start=0)
    shared = SharedStreams(fake.make, fake.read, clock)
    shared.release(shared.lease())
    started = clock.now()
    shared.lease()
    assert clock.now() == started


def test_a_shape_is_leased_once_at_a_time():
    shared = SharedStreams(_FakeStreams().make, _FakeStreams().read, SimulatedClock(start=0))
    shared.lease()
    with pytest.raises(RuntimeError, match="leased already"):
        shared.lease()


def test_a_stream_gone_from_the_backend_is_made_again():
    fake = _FakeStreams()
    gone: set[str] = set()
    shared = SharedStreams(fake.make, fake.read, SimulatedClock(start=0), exists=lambda n: n not in gone)
    lease = shared.lease()
    shared.release(lease)
    gone.add(lease.name)  # a user's own mock_aws() emptied moto
    assert shared.lease().name != lease.name and len(fake.made) == 2


def test_what_the_test_read_itself_is_not_read_again_and_counts_once():
    fake, clock = _FakeStreams(), SimulatedClock(start=0)
    asked: list[dict] = []

    def read(name, after):
        asked.append(dict(after))
        return fake.read(name, after)

    shared = SharedStreams(fake.make, read, clock)
    lease = shared.lease()
    fake.write(lease.name, 2 * limits.MIB - 1)  # with its key: 2 MiB
    fake.write(lease.name, 10)
    lease.note_read(fake.read(lease.name, lease.after)[:1])
    lease.note_read(fake.read(lease.name, lease.after)[:1])  # read again: counted once
    shared.release(lease)
    assert asked == [{"shardId-0": "1"}]  # the release read only after what the test had read
    released = clock.now()
    assert shared.lease().after == {"shardId-0": "2"}
    assert clock.now() - released == quiet_pause_s(2 * limits.MIB + 11) == 3


def test_a_lease_whose_end_could_not_be_read_leaves_the_next_test_a_fresh_stream():
    fake, clock = _FakeStreams(), SimulatedClock(start=0)

    def read(name, after):
        raise TimeoutError("read back cut short")

    shared = SharedStreams(fake.make, read, clock)
    first = shared.lease()
    with pytest.raises(TimeoutError):
        shared.release(first)
    assert shared.lease().name != first.name and len(fake.made) == 2
