"""Load from many processes and hosts: a Locust swarm that writes to a stream and accounts every record per shard.

The ``[load]`` extra (``pip install 'pytest-kinesis-limits[load]'``) installs Locust. Its parts, in the one direction
they are used:

- :mod:`~pytest_kinesis_limits.load.tally`: what a swarm is asked to do (:class:`~.tally.SwarmJob`) and what it
  counted, per shard and per second (:class:`~.tally.SwarmTally`); plain data, no Locust;
- :mod:`~pytest_kinesis_limits.load.locustfile`: the Locust user, and the master's and workers' side of the
  messaging (imports Locust, which patches the process with gevent: it runs only in Locust's own processes);
- :mod:`~pytest_kinesis_limits.load.swarm`: starts a master and local workers (or uses a master the user runs) and
  drives a job through the master's web API, from any process: no Locust import, no pytest.

docs/scale.md says how to run workers on other hosts.
"""
