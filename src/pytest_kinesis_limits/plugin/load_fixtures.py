"""The ``kinesis_swarm`` fixture: a Locust swarm (pytest-kinesis-limits[load]) that loads a stream for a test.

By default a master and ``--kinesis-swarm-workers`` worker processes on 127.0.0.1, started at the first test that asks
for one and kept for the session (one swarm per xdist worker); with ``--kinesis-swarm-master URL``, the workers of a
master you run (on other hosts: docs/scale.md). Offline the workers write to the ``kinesis_endpoint`` (moto with the
fidelity layer, over HTTP), whose per-shard write limits the fixture scales by ``--kinesis-swarm-layer-scale``.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.plugin.session import METER_KEY, SWARM_MODELLED

if TYPE_CHECKING:
    from pytest_kinesis_limits.clock import Clock
    from pytest_kinesis_limits.endpoint import KinesisEndpoint
    from pytest_kinesis_limits.kinesis.meter import Measurement
    from pytest_kinesis_limits.kinesis.resources import StreamInfo
    from pytest_kinesis_limits.live.usage import UsageMeter
    from pytest_kinesis_limits.load.swarm import LocalSwarm, SwarmMaster, SwarmResult
    from pytest_kinesis_limits.load.tally import SwarmOffer
    from pytest_kinesis_limits.settings import Settings

#: Job ids are unique in the process (a master ignores counts of any job but its current one).
_JOB_NUMBERS = itertools.count(1)
NO_LOCUST = ("the scale tests need Locust, in the extra pytest-kinesis-limits[load]. Fix: pip install "
             "'pytest-kinesis-limits[load]' (or point --kinesis-swarm-master at a master you run)")


@dataclass
class ScaleRun:
    """One swarm run against a stream, read back and measured (or a part of one: :meth:`part`).

    ``limit`` is the per-shard write limit in force (records/s: the catalogue's, times ``layer_scale`` offline);
    ``shares[shard]`` of it was offered to each shard judged (:attr:`share` when they are alike). ``result`` holds the
    swarm's counts (workers' clocks); ``measured`` the records read back from the stream, per shard and second of
    ``ApproximateArrivalTimestamp`` (the service's clock); :attr:`offer` whether the swarm offered what a verdict needs
    (:meth:`pytest_kinesis_limits.load.tally.SwarmTally.offer`) over the window from ``start`` (workers' clocks).
    """

    stream: StreamInfo
    shares: dict[str, float]
    limit: float
    layer_scale: float
    window_s: int
    result: SwarmResult
    measured: Measurement
    start: int
    needed: float
    bytes_limit: float = float(limits.SHARD_WRITE_BYTES_PER_S.value)

    @property
    def shards(self) -> list[str]:
        """The shards this run (or part) judges."""
        return sorted(self.shares)

    @property
    def share(self) -> float:
        """The share of the limit every shard judged was offered; a run that offered several is judged by parts."""
        values = set(self.shares.values())
        if len(values) != 1:
            raise ValueError(f"this run offered its shards several shares ({sorted(values)}): judge each part, "
                             "run.part(shards)")
        return values.pop()

    @property
    def offer(self) -> SwarmOffer:
        """Whether the swarm offered the load: per shard, ``--kinesis-rate-min-offered`` of the target in the window,
        and over the limit, at least the limit in every second of it."""
        share = self.share
        return self.result.tally.offer(target_per_shard=share * self.limit, start=self.start, seconds=self.window_s,
                                       needed=self.needed, floor=self.limit if share > 1 else None,
                                       shards=sorted(set(self.measured.shards) & set(self.shares)))

    def part(self, shards: Iterable[str]) -> ScaleRun:
        """The counts and the measurement of ``shards`` alone, judged on their own share."""
        from pytest_kinesis_limits.load.swarm import SwarmResult

        keep = sorted(shards)
        unknown = set(keep) - set(self.shares)
        if unknown:
            raise ValueError(f"not shards of this run: {sorted(unknown)}")
        result = SwarmResult(self.result.job, self.result.tally.only(keep), self.result.workers)
        return replace(self, shares={sid: self.shares[sid] for sid in keep}, result=result,
                       measured=self.measured.only(keep))

    def full_seconds(self) -> set[str]:
        """The shards that accepted their whole budget (the records/s or the bytes/s limit) in some second of arrival:
        there the load reached the limit within that second, so a refusal in it is the shard's due, whatever the
        swarm meant to offer (a burst after a stall of the workers or the network)."""
        return {sid for sid, series in self.measured.shards.items() if sid in self.shares
                and (max(series.records.values(), default=0) >= self.limit
                     or max(series.bytes.values(), default=0) >= self.bytes_limit)}

    def counted_and_read(self) -> dict[str, tuple[int, int]]:
        """Per shard: (records the swarm counted accepted, records read back from the stream)."""
        read: dict[str, int] = {sid: sum(s.records.values()) for sid, s in self.measured.shards.items()}
        counted = {sid: self.result.tally.totals(sid)["accepted"] for sid in self.result.tally.shards}
        return {sid: (counted.get(sid, 0), read.get(sid, 0)) for sid in sorted((set(read) | set(counted))
                                                                                & set(self.shares))}


class Swarm:
    """What ``kinesis_swarm`` gives a test: :meth:`run`."""

    def __init__(self, master: SwarmMaster | None, local: LocalSwarm | None, *, settings: Settings,
                 endpoint: KinesisEndpoint, client: Any, clock: Clock, fidelity: Any, run_id: str,
                 meter: UsageMeter | None = None) -> None:
        self.master, self.local = master, local
        self._settings, self._endpoint, self._client, self._clock = settings, endpoint, client, clock
        self._fidelity, self._run_id, self._meter = fidelity, run_id, meter
        # Offline the load is scaled whether or not a layer enforces it (plain moto: --kinesis-fidelity=off)
        self.layer_scale = settings.swarm_layer_scale if settings.offline_shaped else 1.0
        if fidelity is not None and self.layer_scale != 1:
            fidelity.config.scale_write_limits(self.layer_scale)

    @property
    def limit(self) -> float:
        """The per-shard write limit in records/s the test offers its share of and judges against: the catalogue's,
        times :attr:`layer_scale` offline (what the layer was set to; a test that changes the layer's config after
        that is a backend that no longer honours it), the catalogue's live and against an endpoint."""
        return float(max(1, round(limits.SHARD_WRITE_RECORDS_PER_S.value * self.layer_scale)))

    @property
    def bytes_limit(self) -> float:
        """The per-shard write limit in bytes/s, scaled as :attr:`limit`."""
        return float(max(1, round(limits.SHARD_WRITE_BYTES_PER_S.value * self.layer_scale)))

    @property
    def worker_pids(self) -> list[int]:
        """The local workers' process ids (empty with a master of yours)."""
        return self.local.worker_pids if self.local is not None else []

    def run(self, stream: StreamInfo, *, share: float | Mapping[str, float], record_size: int = 100,
            window_s: int | None = None) -> ScaleRun:
        """Offer ``share`` x the per-shard limit to every shard of ``stream`` from the whole swarm, for the window
        plus the first (burst) second and the last (partial) one; read the stream back and measure it.

        ``share`` may name each open shard's own (``{shard id: share}``): one run then loads several parts of the
        stream alike in time, each judged on its own with :meth:`ScaleRun.part`."""
        from pytest_kinesis_limits.kinesis.meter import measure_stream
        from pytest_kinesis_limits.load.swarm import SwarmError
        from pytest_kinesis_limits.load.tally import shape_job

        shares = dict(share) if isinstance(share, Mapping) else None
        if not all(s > 0 for s in (shares.values() if shares is not None else [share])) or shares == {}:
            raise ValueError(f"share is a positive multiple of the limit, such as 0.8 or 2 (or one per shard), got "
                             f"{share!r}")
        if self.local is not None:
            self.local.ensure_workers()
        window = window_s or self._settings.effective_rate_window
        if self.local is not None or self.master is None:  # ours (just counted by ensure_workers), or a plan's
            workers = self._settings.swarm_workers
        else:  # a master of the user's: however many workers it has now
            workers = max(1, int(self.master.status().get("workers", 1)))
        per_shard = list(shares.values()) if shares is not None else [float(share)] * stream.shard_count
        job = shape_job(job_id=f"{self._run_id}-{next(_JOB_NUMBERS)}", stream=stream.name,
                        region=self._endpoint.region, records_per_s=sum(per_shard) * self.limit,
                        record_size=record_size, workers=workers, seconds=window + 2,
                        endpoint_url=None if self._endpoint.kind == "live" else self._endpoint.url,
                        shard_weights=_weights(shares) if shares is not None else None)
        if self.master is None:  # a plan's run: what a live swarm would take, counted, not run
            self._clock.sleep(job.lead_s + job.seconds)
            offered = round(job.records_per_s * job.seconds)
            accepted = round(sum(min(s, 1.0) for s in per_shard) * self.limit * job.seconds)
            if self._meter is not None:
                self._meter.note_writes(stream.name, offered, record_size, accepted)
            loads = ", ".join(f"{s:.0%}" for s in sorted(set(per_shard)))
            pytest.skip(f"{SWARM_MODELLED}; its {job.seconds:g} s and {offered:,} records of "
                        f"{record_size} B ({loads} of the limit on {len(per_shard)} shards) are counted")
        try:
            result = self.master.run(job)
        except SwarmError as exc:
            where = f"; the swarm's logs: {self.local.log_dir}" if self.local is not None else ""
            pytest.fail(f"kinesis_swarm: {exc}{where}", pytrace=False)
        if self._meter is not None:
            totals = result.tally.totals()
            self._meter.note_writes(stream.name, totals["accepted"] + totals["throttled"] + totals["failed"],
                                    record_size, totals["accepted"])
        measured = measure_stream(self._client, stream.name, clock=self._clock, exclude_first_s=1, window_s=window)
        start = math.ceil(result.job.start_at) + 1  # the workers' clock: leave the first (burst) second out too
        judged = shares if shares is not None else dict.fromkeys(measured.shards, float(share))  # type: ignore
        return ScaleRun(stream, judged, self.limit, self.layer_scale, window, result, measured, start,
                        self._settings.effective_rate_min_offered, self.bytes_limit)


def _weights(shares: Mapping[str, float]) -> dict[str, int]:
    """Whole-number weights in the ratio of ``shares`` (to a hundredth), as small as they can be."""
    fractions = {sid: Fraction(s).limit_denominator(100) for sid, s in shares.items()}
    scale = math.lcm(*(f.denominator for f in fractions.values()))
    whole = {sid: int(f * scale) for sid, f in fractions.items()}
    common = math.gcd(*whole.values())
    return {sid: w // common for sid, w in whole.items()}


@pytest.fixture(scope="session")
def _kinesis_swarm_master(kinesis_settings: Settings, kinesis_endpoint: KinesisEndpoint,
                          tmp_path_factory: pytest.TempPathFactory
                          ) -> Iterator[tuple[SwarmMaster | None, LocalSwarm | None]]:
    from pytest_kinesis_limits.load.swarm import LocalSwarm, SwarmError, SwarmMaster

    if kinesis_settings.plan:  # a plan's run counts what a swarm would do (Swarm.run) and starts none
        yield None, None
        return
    if kinesis_settings.swarm_master:
        master = SwarmMaster(kinesis_settings.swarm_master)
        try:
            status = master.status()
        except SwarmError as exc:
            pytest.fail(f"--kinesis-swarm-master: {exc}. Fix: start the master with this package's locustfile, or "
                        "point the option at its web UI (docs/scale.md)", pytrace=False)
        if not status.get("workers"):
            pytest.fail(f"--kinesis-swarm-master: the Locust master at {master.url} has no worker connected. Fix: "
                        "start workers with: locust -f \"$(pytest-kinesis-limits locustfile)\" --worker "
                        "--master-host <its host> (docs/scale.md)", pytrace=False)
        yield master, None
        return
    if importlib.util.find_spec("locust") is None:
        pytest.skip(NO_LOCUST)
    local = LocalSwarm(kinesis_settings.swarm_workers, env=kinesis_endpoint.environ(),
                       log_dir=tmp_path_factory.mktemp("swarm"))
    try:
        master = local.start()
    except SwarmError as exc:
        pytest.fail(f"kinesis_swarm: {exc}", pytrace=False)
    try:
        yield master, local
    finally:
        local.stop()


@pytest.fixture
def kinesis_swarm(_kinesis_swarm_master: tuple[SwarmMaster | None, LocalSwarm | None], kinesis_settings: Settings,
                  kinesis_endpoint: KinesisEndpoint, kinesis_client_no_retry: Any, kinesis_clock: Clock,
                  kinesis_fidelity: Any, kinesis_run_id: str, pytestconfig: pytest.Config) -> Swarm:
    """A Locust swarm for this test: ``kinesis_swarm.run(stream, share=2.0)`` offers twice the per-shard write limit
    to every shard of ``stream`` from every worker, and returns a :class:`ScaleRun` (the swarm's per-shard,
    per-second counts, the stream read back and measured, and whether the swarm offered enough).

    Local workers by default (``--kinesis-swarm-workers``), a master of yours with ``--kinesis-swarm-master``. Offline,
    the fidelity layer's per-shard write limits are scaled by ``--kinesis-swarm-layer-scale`` for this test
    (``.layer_scale``, ``.limit``)."""
    master, local = _kinesis_swarm_master
    return Swarm(master, local, settings=kinesis_settings, endpoint=kinesis_endpoint, client=kinesis_client_no_retry,
                 clock=kinesis_clock, fidelity=kinesis_fidelity, run_id=kinesis_run_id,
                 meter=pytestconfig.stash.get(METER_KEY, None))
