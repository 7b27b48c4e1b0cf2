"""What the plugin's hooks and fixtures share about a session: the stash keys, the settings and clock accessors, the
worker's note of a stopped gate and the message a skipped search-domain test gives. Every module of the pytest face
imports these from here, at the top (they used to live in the hooks module, imported back inside functions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any  # noqa: F401 - Any is named in stash keys

import pytest

from pytest_kinesis_limits.reporting.report import Measurement
from pytest_kinesis_limits.settings import Settings

if TYPE_CHECKING:
    from pytest_kinesis_limits.backends import Backend  # noqa: F401 - named in the BACKEND_KEY stash key
    from pytest_kinesis_limits.clock import Clock
    from pytest_kinesis_limits.fidelity.simtime import TimeKeeper  # noqa: F401 - named in the KEEPER_KEY stash key
    from pytest_kinesis_limits.live.usage import UsageMeter  # noqa: F401 - named in the METER_KEY stash key

SETTINGS_KEY = pytest.StashKey[Settings]()
BACKEND_KEY = pytest.StashKey["Backend | None"]()
MEASUREMENTS_KEY = pytest.StashKey[list[Measurement]]()
RUN_ID_KEY = pytest.StashKey[str]()
CLOCK_KEY = pytest.StashKey["Clock"]()
KEEPER_KEY = pytest.StashKey["TimeKeeper | None"]()
#: The live budget (issue 12): the run's usage meter, the plan (a plan run's, or a live run's guard's), the backend
#: a plan's preflight checked, the tests a plan leaves out (kinesis_search_domain without the opt-in).
METER_KEY = pytest.StashKey["UsageMeter | None"]()
PLAN_KEY = pytest.StashKey["dict[str, Any] | None"]()
PLAN_BACKEND_KEY = pytest.StashKey["Backend | None"]()
USAGE_KEY = pytest.StashKey["dict[str, Any] | None"]()
STARTED_KEY = pytest.StashKey[float]()
#: Live and endpoint runs with a plan: the shapes of the streams each test makes (the pool makes them ahead), and
#: the session's pool with the tracker of what it made and no test took yet (pool.py).
POOL_SHAPES_KEY = pytest.StashKey["dict[str, list[list[Any]]] | None"]()
POOL_KEY = pytest.StashKey["tuple[Any, Any] | None"]()
#: The key under which an xdist controller hands its run id to its workers (``workerinput``).
RUN_ID_WORKERINPUT = "kinesis_limits_run_id"
#: Whether the controller schedules with xdist's worksteal (offline, no --dist given): the workers deal their
#: collection in its blocks (plugin._deal_long_first).
WORKSTEAL_WORKERINPUT = "kinesis_limits_worksteal"

#: A worker's note to the controller that the moto gate stopped it (fixtures._check_moto); the line it printed.
GATE_OUTPUT = "kinesis_moto_gate"
GATE_LINE_KEY = pytest.StashKey[str]()


#: Why a kinesis_search_domain test is skipped live without --kinesis-search-domain.
SEARCH_DOMAIN_SKIP = ("creates an OpenSearch Service domain (typically 15-30 minutes, billed per hour: catalogue "
                      "lifecycle.opensearch.domain_creating_s and price.opensearch.t3_small_search); opt in with "
                      "--kinesis-search-domain")
#: How a plan's run skips a scale test: the swarm is not run, what it would take and write is counted (load_fixtures).
SWARM_MODELLED = "plan: the swarm is not run in a plan"


def settings_of(config: pytest.Config) -> Settings:
    """The resolved settings of this session."""
    return config.stash[SETTINGS_KEY]


def clock_of(config: pytest.Config) -> Clock:
    """The session's clock (the ``kinesis_clock`` fixture): simulated offline unless ``--kinesis-clock=real``."""
    if CLOCK_KEY not in config.stash:
        from pytest_kinesis_limits.clock import RealClock, SimulatedClock

        config.stash[CLOCK_KEY] = SimulatedClock() if settings_of(config).simulated_clock else RealClock()
    return config.stash[CLOCK_KEY]


def only_informational(config: pytest.Config) -> bool:
    """Whether pytest only informs this time (--help, --version, --fixtures, --markers): no preflight, no plan."""
    option = config.option
    return bool(getattr(option, "help", False) or getattr(option, "version", False)
                or getattr(option, "showfixtures", False) or getattr(option, "markers", False))


def is_worker(config: pytest.Config) -> bool:
    """Whether this process is an xdist worker."""
    return hasattr(config, "workerinput")


def xdist_workers(config: pytest.Config) -> int:
    """How many xdist workers this session started (0: one process)."""
    option = config.option
    if getattr(option, "dist", "no") == "no":
        return 0
    return len(getattr(option, "tx", None) or [])
