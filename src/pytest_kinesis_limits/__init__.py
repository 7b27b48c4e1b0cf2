"""pytest-kinesis-limits: prove Amazon Kinesis Data Streams and Firehose limits, offline or live.

The package is in wings, by concern (README.md, "Layout"): ``plugin`` (the pytest face: hooks, fixtures; the only
wing that imports pytest), ``kinesis`` (the client side: producer, meter, reader, continuity, resharding, resources),
``firehose``, ``fidelity`` (the offline backend, moto behind one door), ``live`` (the live budget and live safety) and
``reporting``; ``limits``, ``settings``, ``backends``, ``clock``, ``emulators`` and ``cli`` stay at the top. The old
flat module names still import, with a DeprecationWarning, for one release (:mod:`._moved`).
"""

from pytest_kinesis_limits import _moved

_moved.install()

__version__ = "0.1.0"
