"""The account's streams in transition, across a run's processes (pytest-xdist workers).

AWS refuses CreateStream with LimitExceededException when "more than five streams" of the account are CREATING
(API_CreateStream.html; AWS's own message counts CREATING or DELETING: catalogue ``account.streams_creating.max``),
and CreateStream and DeleteStream each have "a limit of five transactions per second per account"
(``control.create_stream.calls_per_s``, ``control.delete_stream.calls_per_s``). botocore's standard retries
ride out a brief excess, but eight workers making and deleting streams at once would meet them all the time.

A :class:`TransitionLimiter` keeps a run under both: a small JSON ledger in a folder all the run's processes
share (the controller makes it, workers get its path), read and written under an exclusive ``fcntl.flock``.
A slot is taken before CreateStream and given back once the stream is ACTIVE; one is taken before DeleteStream
and held while the stream is DELETING, since AWS counts it until it is gone (issue 20, item 4): with a ``gone``
check (the plugin's: DescribeStreamSummary answers ResourceNotFoundException), a waiting process looks at the
streams of the delete slots and drops those already gone, and a delete slot lapses only after
:data:`CHECKED_HOLD_FACTOR` typical DELETING windows; without one, after the typical window (the run does not wait
for deletions). A slot whose process is gone, or that outlived its hold, is dropped, so a killed worker never
blocks the others for long. A run's folder names its owning process (:func:`new_run_folder`); a later run removes
the folders of processes that are gone (``kill -9`` leaves one behind).

Library code: no pytest, no boto3; POSIX (``fcntl``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_kinesis_limits import limits

LEDGER = "transitions.json"
LOCK = "transitions.lock"
#: How long a process waits for a slot before giving up (a stuck account, or another run's streams).
DEFAULT_BOUND_S = 900.0
#: With a ``gone`` check, a delete slot is held until its stream is seen gone, and at most this many typical DELETING
#: windows (``lifecycle.stream.deleting_s``): a deletion AWS takes longer over still counts, a lost check never blocks.
CHECKED_HOLD_FACTOR = 4


@dataclass(frozen=True)
class Lease:
    """A slot of the ledger: its id, until when it holds at most."""

    id: str
    until: float


class TransitionLimiter:
    """At most ``capacity`` streams in transition and ``rates[operation]`` calls per second, across processes."""

    def __init__(self, folder: str, *, capacity: int | None = None, rates: Mapping[str, int] | None = None,
                 now: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 poll_s: float = 0.25, bound_s: float = DEFAULT_BOUND_S,
                 gone: Callable[[str], bool] | None = None) -> None:
        self.folder = folder
        self.capacity = int(limits.STREAMS_IN_TRANSITION_MAX.value if capacity is None else capacity)
        self.rates = dict(rates) if rates is not None else {
            "CreateStream": limits.CREATE_STREAM_CALLS_PER_S.value,
            "DeleteStream": limits.DELETE_STREAM_CALLS_PER_S.value}
        self.now, self.sleep, self.poll_s, self.bound_s = now, sleep, poll_s, bound_s
        self.gone = gone  # whether a deleted stream is gone (its slot then frees)
        self.waited_s = 0.0  # what this process waited (for tests and the curious)
        os.makedirs(folder, exist_ok=True)

    @contextlib.contextmanager
    def _ledger(self) -> Iterator[dict[str, Any]]:
        with open(os.path.join(self.folder, LOCK), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                path = os.path.join(self.folder, LEDGER)
                try:
                    with open(path, encoding="utf-8") as handle:
                        ledger = json.load(handle)
                except (OSError, ValueError):
                    ledger = {}
                ledger.setdefault("slots", [])
                ledger.setdefault("calls", {})
                yield ledger
                scratch = f"{path}.{os.getpid()}"
                with open(scratch, "w", encoding="utf-8") as handle:
                    json.dump(ledger, handle)
                os.replace(scratch, path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _tidy(self, ledger: dict[str, Any], now: float) -> None:
        ledger["slots"] = [s for s in ledger["slots"] if s["until"] > now and _alive(int(s.get("pid", 0)))]
        for operation, times in ledger["calls"].items():
            ledger["calls"][operation] = [t for t in times if t > now - 1.0]

    def acquire(self, operation: str, hold_s: float, *, stream: str | None = None) -> Lease:
        """Wait until a slot is free and ``operation`` is under its rate, take the slot for at most ``hold_s``.
        ``stream``: the stream a DeleteStream slot is for (with a ``gone`` check, it frees once that is gone, and
        lasts at most ``CHECKED_HOLD_FACTOR`` times ``hold_s``)."""
        started = self.now()
        checked = self.gone is not None and stream is not None and operation == "DeleteStream"
        hold = hold_s * CHECKED_HOLD_FACTOR if checked else hold_s
        while True:
            now = self.now()
            with self._ledger() as ledger:
                self._tidy(ledger, now)
                calls = ledger["calls"].setdefault(operation, [])
                rate = self.rates.get(operation)
                full = len(ledger["slots"]) >= self.capacity
                if not full and (rate is None or len(calls) < rate):
                    lease = Lease(id=uuid.uuid4().hex, until=now + hold)
                    slot = {"id": lease.id, "until": lease.until, "pid": os.getpid(), "operation": operation}
                    if checked:
                        slot["stream"] = stream
                    ledger["slots"].append(slot)
                    calls.append(now)
                    self.waited_s += now - started
                    return lease
                frees = [s["until"] for s in ledger["slots"]] + [t + 1.0 for t in calls]
                deleting = {s["id"]: s["stream"] for s in ledger["slots"] if s.get("stream")} if full else {}
            if deleting and self._drop_gone(deleting):
                continue  # a slot freed: take it at once
            if now - started > self.bound_s:
                raise TimeoutError(f"{operation}: no slot among the account's {self.capacity} streams in transition "
                                   f"after {self.bound_s:g} s (ledger {os.path.join(self.folder, LEDGER)})")
            self.sleep(min(1.0, max(self.poll_s, min(frees, default=now) - now)))

    def _drop_gone(self, deleting: dict[str, str]) -> bool:
        """Drop the delete slots whose stream is gone (asked outside the ledger's lock); whether any was."""
        assert self.gone is not None
        done = set()
        for slot, stream in deleting.items():
            try:
                if self.gone(stream):
                    done.add(slot)
            except Exception:  # noqa: BLE001 - a failed check keeps the slot: it lapses by itself
                continue
        if done:
            with self._ledger() as ledger:
                ledger["slots"] = [s for s in ledger["slots"] if s["id"] not in done]
        return bool(done)

    def release(self, lease: Lease | None) -> None:
        """Give a slot back (a stream is ACTIVE, or the call was refused)."""
        if lease is None:
            return
        with self._ledger() as ledger:
            ledger["slots"] = [s for s in ledger["slots"] if s["id"] != lease.id]

    def in_transition(self) -> int:
        """Slots held now (for tests and reports)."""
        with self._ledger() as ledger:
            self._tidy(ledger, self.now())
            return len(ledger["slots"])


#: The run folder's prefix in the temporary directory, and the file naming the process that owns it.
RUN_FOLDER_PREFIX = "pytest-kinesis-limits-run-"
OWNER_FILE = "owner.pid"
#: A run folder without an owner file (an older release's) is abandoned after this long.
ABANDONED_AFTER_S = 86_400.0


def new_run_folder(root: str | None = None) -> str:
    """A run's folder (the ledger all its processes share), named for the process that owns it. Folders of runs
    whose process is gone (``kill -9`` leaves them: nothing ran to remove them) are removed first."""
    import tempfile

    remove_abandoned(root)
    folder = tempfile.mkdtemp(prefix=RUN_FOLDER_PREFIX, dir=root)
    with open(os.path.join(folder, OWNER_FILE), "w", encoding="utf-8") as owner:
        owner.write(str(os.getpid()))
    return folder


def remove_abandoned(root: str | None = None, now: float | None = None) -> list[str]:
    """Remove the run folders in ``root`` (default: the temporary directory) whose owning process is gone; the
    folders removed."""
    import shutil
    import tempfile

    root = root or tempfile.gettempdir()
    now = time.time() if now is None else now
    removed = []
    try:
        names = [n for n in os.listdir(root) if n.startswith(RUN_FOLDER_PREFIX)]
    except OSError:
        return removed
    for name in names:
        folder = os.path.join(root, name)
        try:
            with open(os.path.join(folder, OWNER_FILE), encoding="utf-8") as owner:
                gone = not _alive(int(owner.read().strip() or 0) or -1)
        except (OSError, ValueError):
            try:
                gone = now - os.path.getmtime(folder) > ABANDONED_AFTER_S
            except OSError:
                continue
        if gone:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["Lease", "TransitionLimiter", "new_run_folder", "remove_abandoned"]
