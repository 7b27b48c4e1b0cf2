"""Project-wide test configuration.

The plugin under test loads through its ``pytest11`` entry point (the package is installed editable);
pytester is enabled for the plugin's own tests. The project's own runs never look for credentials on
an instance-metadata address: only 127.0.0.1 is ever contacted.
"""

import importlib
import os
import pkgutil
import sys
from collections.abc import Iterator

# Python writes the bytecode of what it imports, for every process the project's tests start (hundreds: pytester
# subprocesses, xdist workers, serve, the CLI). The README installs with pip --no-compile, which leaves the
# compiling to the first import; with PYTHONDONTWRITEBYTECODE set (as on this project's machines) nothing would ever
# be written, and every process compiled boto3, botocore, moto and the plugin from source again: 1.2 s instead of
# 0.5 s to import them, and 38 % more CPU for the plugin tests (docs/benchmarks.md, 2026-12-07).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

import pytest

import pytest_kinesis_limits

#: Modules of the package not imported up front: the entry point (it runs the CLI), the deprecated aliases (they
#: warn once, on the first import, which their own tests check) and the locustfile (importing Locust patches the
#: process with gevent: it runs in Locust's own processes only).
NOT_UP_FRONT = ("__main__", "firehose_delivery", "firehose_provision", "locustfile")


def _import_up_front() -> None:
    """boto3, moto and every module of the package, imported before any test runs when an in-process pytester run
    is among them: such a run drops the modules first imported inside it when it ends. A boto3 imported afresh after
    that would not be moto's patched one (a Kinesis test could then reach real AWS), and a module of the package
    imported afresh by the next run would be a copy that a test's patch misses (the can-fail conftests patch
    ``fidelity.firehose``; seen with -n 2: tests/unit beside test_firehose_can_fail.py, whose breaks then did
    nothing). Modules loaded before a pytester run are kept."""
    import boto3  # noqa: F401
    import moto  # noqa: F401

    for module in pkgutil.walk_packages(pytest_kinesis_limits.__path__, "pytest_kinesis_limits."):
        if module.name.rsplit(".", 1)[-1] in NOT_UP_FRONT:
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is not installed (plots, opensearch)
            pass

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

pytest_plugins = ["pytester"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for the test, with fake credentials and us-east-1 (never real AWS)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import moto

    with moto.mock_aws():
        yield


#: The project's longest tests, started first under xdist (the README runs them with --dist worksteal): the clients'
#: venv (40-140 s of one worker) and the scale family's can-fail run (about 42 s of Locust's swarm on the wall clock,
#: little CPU). Last in the collection, each ran alone after everything else (the can-fail run from 190 s to 232 s of
#: a 238 s run, the other workers idle, 2026-12-07). Only these: starting all the long ones at once (the HTTP
#: families, the slow link, the interrupts) made them compete for the two cores, and their wall-clock waits grew (409
#: s in all instead of 300 s, 2026-12-06); starting the report tests first too (the main job they share, while the
#: workers that got its other tests waited on its lock) made the project tests 264 s -> 304 s (2026-12-07).
LONGEST_FIRST = ("tests/plugin/test_real_clients.py", "tests/plugin/test_scale_can_fail.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest first (:data:`LONGEST_FIRST`), the rest in their order; the imports a pytester run needs before
    it (:func:`_import_up_front`), only in a process that will run one. The main job (``pytest tests/limits``) runs
    none: its xdist controller, which runs no test, no longer imports boto3, moto and the whole package before it
    starts its workers (about 0.75 s of its start, paid before any worker exists), and its workers import only what
    their tests use."""
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))
    if any("pytester" in getattr(item, "fixturenames", ()) for item in items):
        _import_up_front()
