"""Per-shard write and read budgets, counted in whole seconds of the layer's clock.

AWS: "Each shard can support ... up to 1,000 records per second for writes, up to a maximum total data
write rate of 1 MiB per second (including partition keys)" and "up to five read transactions per second
..., up to a maximum total data read rate of 2 MiB per second"; "if a call returns 10 MiB, subsequent calls
made within the next 5 seconds throw ProvisionedThroughputExceededException"
(https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html,
https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html). moto never throttles.

Windows are fixed whole seconds (``floor(now)``): with a :class:`~pytest_kinesis_limits.clock.SimulatedClock`
the same calls always meet the same budget, whatever the machine load. The meters are not locked
themselves: the write meter is used under the stream's lock, the read meter under the shard's read lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.config import FidelityConfig


@dataclass
class WriteMeter:
    """Records and bytes a shard accepted in the current second, plus its one-off burst allowance."""

    second: float = float("-inf")
    records: int = 0
    nbytes: int = 0
    burst_records: float | None = None
    burst_bytes: float | None = None
    blocked_until: float = float("-inf")

    def admit(self, now: float, size: int, config: FidelityConfig) -> bool:
        """Count one record of ``size`` bytes if the shard's budget allows it; False = throttle it."""
        second = math.floor(now)
        if second != self.second:
            self.second, self.records, self.nbytes = second, 0, 0
        if self.burst_records is None or self.burst_bytes is None:
            self.burst_records = config.burst_seconds * config.write_records_per_s
            self.burst_bytes = config.burst_seconds * config.write_bytes_per_s
        rec_limit, byte_limit = config.write_records_per_s, config.write_bytes_per_s
        if now < self.blocked_until:
            return False
        if size > byte_limit and self.records == 0:
            # A record larger than a second's byte budget (streams with MaxRecordSizeInKiB > 1024,
            # https://docs.aws.amazon.com/streams/latest/dev/large-records.html) is accepted on an idle
            # shard and paid for by the following seconds, during which the shard accepts nothing more.
            self.records, self.nbytes = 1, size
            self.blocked_until = second + math.ceil(size / byte_limit)
            return True
        # Only the part of this record beyond the second's budget must come out of the burst allowance.
        over_records = max(0, self.records + 1 - rec_limit) - max(0, self.records - rec_limit)
        over_bytes = max(0, self.nbytes + size - byte_limit) - max(0, self.nbytes - byte_limit)
        if over_records > self.burst_records or over_bytes > self.burst_bytes:
            return False
        self.burst_records -= over_records
        self.burst_bytes -= over_bytes
        self.records += 1
        self.nbytes += size
        return True


@dataclass
class ReadMeter:
    """GetRecords calls and bytes of a shard in the current second, and the end of any read penalty."""

    second: float = float("-inf")
    calls: int = 0
    nbytes: int = 0
    blocked_until: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit_call(self, now: float, config: FidelityConfig) -> bool:
        """Count one GetRecords call if the shard may serve it now; False = throttle it (not counted)."""
        if now < self.blocked_until:
            return False
        second = math.floor(now)
        if second != self.second:
            self.second, self.calls, self.nbytes = second, 0, 0
        if self.calls >= config.read_calls_per_s:
            return False
        self.calls += 1
        return True

    def account(self, nbytes: int, config: FidelityConfig) -> None:
        """Charge ``nbytes`` read by the admitted call; once the second's byte budget is spent, later calls
        are refused until the bytes are paid for at ``read_bytes_per_s`` (10 MiB at 2 MiB/s = 5 s)."""
        self.nbytes += nbytes
        if self.nbytes >= config.read_bytes_per_s:
            self.blocked_until = max(self.blocked_until,
                                     self.second + math.ceil(self.nbytes / config.read_bytes_per_s))
