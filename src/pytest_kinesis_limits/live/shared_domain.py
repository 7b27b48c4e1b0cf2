"""One OpenSearch Service domain per live run, however many pytest-xdist workers it has (issue 20, item 5).

A domain takes 15-30 minutes to make and is billed by the hour (catalogue ``lifecycle.opensearch.domain_creating_s``,
``price.opensearch.t3_small_search``); docs/search-index.md promises one per run. The run's folder (shared by the
controller and its workers, :func:`~pytest_kinesis_limits.live.transitions.new_run_folder`) holds a note of it:

* the first worker that needs the domain takes the folder's lock, writes the domain's name (before creating it, so
  that an interrupted creation is still deleted), creates it, and writes what it made; the others wait on the lock
  and use what the note says (or fail at once with the first worker's error: a second try would take as long);
* the run's owner (the xdist controller, or the only process) deletes the noted domain once every test is done.

Library code: no pytest, no boto3 (``make`` and ``delete`` are the caller's).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

from pytest_kinesis_limits.firehose.destinations import SearchTarget
from pytest_kinesis_limits.firehose.provision import DeliveryStreamError

NOTE = "search-domain.json"
LOCK = "search-domain.lock"


class SharedDomain:
    """The note of the run's search domain in ``folder`` (see the module docstring)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(os.path.join(self.folder, LOCK), "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def note(self) -> dict[str, Any] | None:
        """What the note says (``name``, then ``target`` or ``error``), or None when no worker has needed it."""
        try:
            with open(os.path.join(self.folder, NOTE), encoding="utf-8") as file:
                return dict(json.load(file))
        except FileNotFoundError:
            return None

    def _write(self, note: dict[str, Any]) -> None:
        path = os.path.join(self.folder, NOTE)
        with open(path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(note, file)
        os.replace(path + ".tmp", path)

    def get_or_make(self, name: str, make: Callable[[str], SearchTarget]) -> tuple[SearchTarget, bool]:
        """The run's domain and whether this call made it: made as ``make(name)`` by the first caller, read from the
        note by the others (who waited on the lock meanwhile). A failure is noted and raised again to every later
        caller, naming the domain."""
        with self._locked():
            note = self.note()
            if note is not None and "target" in note:
                return SearchTarget(**note["target"]), False
            if note is not None and "error" in note:
                raise DeliveryStreamError(f"the run's OpenSearch domain {note['name']!r} could not be made (by another "
                                          f"worker of this run): {note['error']}")
            self._write({"name": name})
            try:
                target = make(name)
            except BaseException as exc:
                self._write({"name": name, "error": str(exc) or type(exc).__name__})
                raise
            self._write({"name": name, "target": asdict(target)})
            return target, True

    def delete(self, delete: Callable[[str], Any]) -> str | None:
        """Delete the noted domain with ``delete(name)`` (once: the note is removed); its name, or None if none."""
        with self._locked():
            note = self.note()
            if note is None:
                return None
            delete(note["name"])
            os.remove(os.path.join(self.folder, NOTE))
            return str(note["name"])
