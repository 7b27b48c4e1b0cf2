"""One search domain per run: the first of several processes makes it, the others use it, one deletion; and the
region check before a domain's 15-30 minutes (issue 20, item 5)."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_kinesis_limits import firehose as fh
from pytest_kinesis_limits.live import plan
from pytest_kinesis_limits.live.plan import SharedRecord
from pytest_kinesis_limits.live.plan import TestRecord as Record
from pytest_kinesis_limits.live.shared_domain import SharedDomain


def _make_in_a_process(folder: str, worker: int) -> tuple[str, bool]:
    """What one xdist worker does: ask for the run's domain, offering to make it under its own name (slowly)."""

    def make(name: str) -> fh.SearchTarget:
        with open(os.path.join(folder, "made-by"), "a", encoding="utf-8") as log:
            log.write(f"{worker}\n")
        time.sleep(0.5)  # CreateDomain and its 15-30 minutes, in short
        return fh.SearchTarget(name=name, arn=f"arn:aws:es:us-east-1:1:domain/{name}", endpoint=f"{name}.es",
                               region="us-east-1")

    target, made = SharedDomain(folder).get_or_make(f"pkl-os-{worker}", make)
    return target.name, made


def test_four_processes_share_one_domain_made_once_and_deleted_once(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4) as pool:
        answers = list(pool.map(_make_in_a_process, [str(tmp_path)] * 4, range(4)))
    names = {name for name, _ in answers}
    assert len(names) == 1 and sum(made for _, made in answers) == 1, answers
    assert len((tmp_path / "made-by").read_text().split()) == 1
    deleted: list[str] = []
    shared = SharedDomain(str(tmp_path))
    assert shared.delete(deleted.append) == names.pop()
    assert shared.delete(deleted.append) is None and len(deleted) == 1


def test_a_failed_creation_is_noted_and_the_others_fail_at_once_naming_it(tmp_path: Path) -> None:
    shared = SharedDomain(str(tmp_path))

    def refused(name: str) -> fh.SearchTarget:
        raise fh.DeliveryStreamError("LimitExceededException: too many domains")

    with pytest.raises(fh.DeliveryStreamError, match="too many domains"):
        shared.get_or_make("pkl-os-a", refused)
    calls: list[str] = []
    with pytest.raises(fh.DeliveryStreamError, match=r"'pkl-os-a' could not be made \(by another worker.*too many"):
        shared.get_or_make("pkl-os-b", lambda name: calls.append(name))  # type: ignore[arg-type, func-returns-value]
    assert not calls
    # the name was noted before CreateDomain: the run's owner still deletes what may have been made
    deleted: list[str] = []
    assert shared.delete(deleted.append) == "pkl-os-a" and deleted == ["pkl-os-a"]


def test_a_failed_deletion_keeps_the_note_for_another_try(tmp_path: Path) -> None:
    shared = SharedDomain(str(tmp_path))
    shared.get_or_make("pkl-os-a", lambda name: fh.SearchTarget(name, "arn", "e", "us-east-1"))

    def throttled(name: str) -> None:
        raise RuntimeError("ThrottlingException")

    with pytest.raises(RuntimeError):
        shared.delete(throttled)
    assert json.loads((tmp_path / "search-domain.json").read_text())["name"] == "pkl-os-a"


class OpenSearch:
    """ListVersions and ListInstanceTypeDetails, two pages each, as a region answers them."""

    def __init__(self, versions: list[str], types: list[str]) -> None:
        self.versions, self.types, self.calls = versions, types, []

    def list_versions(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("ListVersions", kwargs))
        half = len(self.versions) // 2
        return {"Versions": self.versions[half:]} if kwargs.get("NextToken") else \
            {"Versions": self.versions[:half], "NextToken": "t"}

    def list_instance_type_details(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("ListInstanceTypeDetails", kwargs))
        details = [{"InstanceType": t} for t in self.types]
        return {"InstanceTypeDetails": details[1:]} if kwargs.get("NextToken") else \
            {"InstanceTypeDetails": details[:1], "NextToken": "t"}


def test_the_region_check_reads_every_page_and_passes_when_both_are_offered() -> None:
    client = OpenSearch(["Elasticsearch_7.10", "OpenSearch_2.17", "OpenSearch_2.19", "OpenSearch_3.1"],
                        ["m5.large.search", "t3.small.search"])
    fh.check_search_domain_offered(client, "ap-northeast-2")
    assert ("ListInstanceTypeDetails", {"EngineVersion": "OpenSearch_2.19", "NextToken": "t"}) in client.calls


@pytest.mark.parametrize(("versions", "types", "message"), [
    (["OpenSearch_2.11", "OpenSearch_2.13"], ["t3.small.search"],
     "does not offer OpenSearch_2.19 (the search target's engine; it offers OpenSearch_2.11, OpenSearch_2.13)"),
    (["OpenSearch_2.19"], ["m5.large.search", "r6g.large.search"],
     "does not offer t3.small.search for OpenSearch_2.19 (the search target's one data node; 2 other"),
])
def test_a_region_without_the_engine_or_the_instance_type_stops_before_anything_is_made(
        versions: list[str], types: list[str], message: str) -> None:
    with pytest.raises(fh.DeliveryStreamError) as caught:
        fh.check_search_domain_offered(OpenSearch(versions, types), "xx-test-1")
    assert message in str(caught.value) and "nothing was made. Fix:" in str(caught.value)


def test_the_plan_makes_the_search_domain_once_per_run_and_counts_its_hours_once() -> None:
    """Two workers, each with a search test: one domain, made by the first, waited for by the second; its hours
    are the run's (until the last worker ends), counted once."""
    domain = SharedRecord(key="search-domain", kind="search-domain", window_s=1.0)
    tests = [Record(nodeid=f"t{i}", outcome="passed", duration_s=600.0, shared=["search-domain"], order=i)
             for i in range(2)]
    schedule = plan.simulate(tests, {"search-domain": domain}, 2)
    assert schedule.shared_made["search-domain"] == 1
    making = plan.SHARED_KINDS["search-domain"]
    assert schedule.wall_s == pytest.approx(making + 600.0)
    assert schedule.shared_use["search-domain"]["search_instance_hours"] == 1


class _Config:
    """What the controller's end-of-run deletion reads of pytest's config: its stash, and the terminal reporter."""

    def __init__(self, settings: Any, backend: Any, lines: list[str]) -> None:
        import pytest as _pytest

        from pytest_kinesis_limits.plugin.session import BACKEND_KEY, SETTINGS_KEY

        self.stash = _pytest.Stash()
        self.stash[SETTINGS_KEY] = settings
        self.stash[BACKEND_KEY] = backend
        reporter = type("Reporter", (), {"write_line": lambda _self, line: lines.append(line),
                                         "ensure_newline": lambda _self: None})()
        self.pluginmanager = type("PM", (), {"get_plugin": lambda _self, name: reporter})()


class _Backend:
    def __init__(self, deleted: list[str], fail: bool = False) -> None:
        self.deleted, self.fail = deleted, fail

    def client(self, service: str) -> Any:
        backend = self

        class OpenSearchClient:
            def delete_domain(self, DomainName: str) -> None:  # noqa: N803 - boto3's name
                if backend.fail:
                    raise RuntimeError("AccessDenied")
                backend.deleted.append(DomainName)

        return OpenSearchClient()


@pytest.mark.parametrize(("keep", "fail", "said"), [
    (False, False, "kinesis-limits: deleted the run's OpenSearch domain 'pkl-os-a' (its workers shared it)"),
    (True, False, "kinesis-limits: kept the run's OpenSearch domain 'pkl-os-a' (--kinesis-keep-resources)"),
    (False, True, "kinesis-limits: the run's OpenSearch domain 'pkl-os-a' could not be deleted (AccessDenied)"),
])
def test_the_runs_owner_deletes_the_shared_domain_keeps_it_when_asked_and_says_a_failure_in_a_line(
        tmp_path: Path, keep: bool, fail: bool, said: str) -> None:
    from pytest_kinesis_limits.plugin.budget_hooks import _delete_shared_domain
    from pytest_kinesis_limits.settings import Settings

    SharedDomain(str(tmp_path)).get_or_make("pkl-os-a", lambda name: fh.SearchTarget(name, "arn", "e", "us-east-1"))
    deleted: list[str] = []
    lines: list[str] = []
    _delete_shared_domain(_Config(Settings(keep_resources=keep), _Backend(deleted, fail), lines), str(tmp_path))
    assert len(lines) == 1 and lines[0].startswith(said), lines
    assert deleted == ([] if keep or fail else ["pkl-os-a"])
    assert (SharedDomain(str(tmp_path)).note() is None) == (not keep and not fail)  # kept or failed: still noted
