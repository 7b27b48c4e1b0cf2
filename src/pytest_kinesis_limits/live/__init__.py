"""The live budget and live safety: what a live run will cost and use, and that it leaves nothing behind. Library code
(no pytest; the hooks and fixtures that drive it are in :mod:`pytest_kinesis_limits.plugin`).

- :mod:`.plan` models a live run offline (``--kinesis-plan``) and :mod:`.scheduling` places its tests on xdist
  workers; :mod:`.pricing` holds the prices per region, with sources; :mod:`.usage` meters what a run used;
  :mod:`.budget` joins them inside a session (the guard's plan, the use beside it).
- :mod:`.shared_streams` lends one stream of each shape to the tests that need none of their own;
  :mod:`.stream_pool` makes the next test's streams while a test runs; :mod:`.transitions` keeps the account's
  streams in transition under AWS's limit across xdist workers.
- :mod:`.interrupts` makes SIGTERM clean up like Ctrl-C; :mod:`.sweep` finds and deletes what a killed run left.
"""
