"""Project-wide test configuration.

The plugin under test loads through its ``pytest11`` entry point (the package is installed editable);
pytester is enabled for the plugin's own tests. The project's own runs never look for credentials on
an instance-metadata address: only 127.0.0.1 is ever contacted.
"""

import os
from collections.abc import Iterator

# Imported here, before any test runs: pytester's in-process runs drop the modules first imported inside
# them when they end, and a boto3 imported afresh after that would not be moto's patched one (a Kinesis
# test could then reach real AWS). Modules loaded before a pytester run are kept.
import boto3  # noqa: F401
import moto  # noqa: F401
import pytest

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

pytest_plugins = ["pytester"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for the test, with fake credentials and us-east-1 (never real AWS)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        yield


#: The project's longest tests (seconds of one worker in a CI-like run, 2026-12-06: docs/benchmarks.md), started
#: first under xdist so that the short ones fill the other workers meanwhile: with them last, one worker ran the
#: clients' venv (the longest) after the rest had finished.
LONGEST_FIRST = (
    "tests/plugin/test_real_clients.py",  # ~60-140 s: a venv installed from the registry
    "tests/plugin/test_emulators.py::test_put_records_family_against_kinesalite",  # ~30-40 s
    "tests/plugin/test_permissions.py",  # ~35 s: the live path over HTTP, recorded
    "tests/plugin/test_report_outputs.py::test_the_main_job_prints_one_row_per_limit_within_100_columns",
    "tests/plugin/test_endpoint_http.py::test_put_records_family_over_http",
    "tests/plugin/test_throughput_slow_link.py",
    "tests/plugin/test_examples.py::test_the_examples_pass_over_http_on_the_wall_clock",
    "tests/plugin/test_search_index_can_fail.py",
    "tests/plugin/test_interrupts.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first (:data:`LONGEST_FIRST`), the rest in their order."""
    def rank(item: pytest.Item) -> int:
        for position, prefix in enumerate(LONGEST_FIRST):
            if item.nodeid.startswith(prefix):
                return position
        return len(LONGEST_FIRST)

    items.sort(key=rank)
