"""The plugin's session-wide moto mock, living beside the ``mock_aws()`` of the user's own tests.

Offline, the plugin keeps one ``moto.mock_aws`` active from the first test that uses a Kinesis fixture to the end of
the session, so that its session-scoped clients can never reach AWS. moto empties its backends only when the
*outermost* mock starts or stops; inside the plugin's mock every ``mock_aws()`` of the user is nested, so without
help a user's test would meet the tables and queues an earlier test left ("Table already exists", depending on the
order the tests ran in).

:class:`SharedMock` makes a user's mock behave as it would without the plugin: when the user's outermost mock
starts (with ``reset``, moto's default) or stops (with ``remove_data``), every moto backend is emptied, exactly what
moto does for an outermost mock. The one thing a reset must not do is delete, under a running test, the streams,
buckets and delivery streams the plugin's fixtures made for it (a user's mock started after ``kinesis_stream`` in the
same test): then the reset waits until the test's resources are deleted at its teardown, and the test sees those
resources plus its own data (what the user asked for: the test uses both).

Library code: moto's private hooks through :mod:`.fidelity.moto_adapter` (this module is imported when the offline
backend starts), pytest not at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto import mock_aws

from pytest_kinesis_limits.fidelity.moto_adapter import mock_class, mock_depth, reset_backends


class SharedMock:
    """The plugin's ``mock_aws`` plus a guard on ``MockAWS.start``/``stop`` for the user's own mocks.

    ``busy`` says whether resources the plugin made for the running test still exist (a reset would delete them).
    """

    def __init__(self, busy: Callable[[], bool]) -> None:
        self.busy = busy
        self.user_depth = 0  # the user's mocks active now
        self.pending_reset = False  # a reset was held back because the plugin's resources were in use
        self.resets = 0  # resets done on the user's behalf (for tests)
        self._lock = threading.Lock()
        self._mock: Any = None
        self._saved: dict[str, Any] = {}

    def start(self) -> None:
        """Start the plugin's mock (after any mock the user already started) and guard the user's mocks."""
        MockAWS = mock_class()
        self._mock = mock_aws()
        self.user_depth = mock_depth()  # mocks of the user's already active (a session-wide fixture)
        self._mock.start()
        self._saved = {"start": MockAWS.start, "stop": MockAWS.stop}
        shared = self

        def start(mock: Any, reset: bool = True) -> None:
            shared._saved["start"](mock, reset=reset)
            if mock is not shared._mock:
                shared._user_started(reset)

        def stop(mock: Any, remove_data: bool = True) -> None:
            shared._saved["stop"](mock, remove_data=remove_data)
            if mock is not shared._mock:
                shared._user_stopped(remove_data)

        MockAWS.start = start  # type: ignore[method-assign]
        MockAWS.stop = stop  # type: ignore[method-assign]

    def stop(self) -> None:
        """Stop the plugin's mock and the guard."""
        MockAWS = mock_class()
        if self._saved:
            MockAWS.start = self._saved["start"]  # type: ignore[method-assign]
            MockAWS.stop = self._saved["stop"]  # type: ignore[method-assign]
            self._saved = {}
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def settle(self) -> None:
        """After a test's resources are deleted: do a reset that was held back, unless a user's mock is still on."""
        with self._lock:
            if self.pending_reset and self.user_depth == 0 and not self.busy():
                self._reset(remove_data=True)

    # ------------------------------------------------------------------------------------------- internals
    def _user_started(self, reset: bool) -> None:
        with self._lock:
            self.user_depth += 1
            if self.user_depth == 1 and reset:
                self._reset_or_hold()

    def _user_stopped(self, remove_data: bool) -> None:
        with self._lock:
            self.user_depth = max(0, self.user_depth - 1)
            if self.user_depth == 0 and remove_data:
                self._reset_or_hold(remove_data=True)

    def _reset_or_hold(self, *, remove_data: bool = False) -> None:
        if self.busy():
            self.pending_reset = True
        else:
            self._reset(remove_data=remove_data)

    def _reset(self, *, remove_data: bool) -> None:
        reset_backends(remove_data)
        self.pending_reset = False
        self.resets += 1


__all__ = ["SharedMock"]
