"""Each throughput test fails against a backend whose limit is not the documented one.

The family file (tests/limits/test_throughput.py) runs unchanged under pytester, with a conftest that
reconfigures the offline fidelity layer per test (``kinesis_fidelity.config``) or patches it, as named in
``KINESIS_BREAK``. Each run asserts exactly which tests fail, why, and that their measurements were recorded
with the verdict ``fail`` before the assertion. The same file passes unchanged (with two xdist workers) in
tests/plugin/test_cleanup_and_use.py's xdist test.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pytest_kinesis_limits import limits

FAMILY = Path(__file__).parents[1] / "limits" / "test_throughput.py"
# The copy of the family gets its own module name (test_throughput_family) so that it does not clash with
# tests/limits/test_throughput.py. (boto3 and moto are imported by the root conftest: see there why.)

BREAK_CONFTEST = """
import os

import pytest

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.fidelity import errors, streams

RTT = 0.2  # seconds: a client 200 ms from the region (the issue's "150-300 ms")


def _accept_any_limit(limit, maximum):
    return maximum if limit is None else int(limit)  # like plain moto: no upper bound on Limit


def _limit_refused_with(code):
    def validate(limit, maximum):
        if limit is not None and int(limit) > maximum:
            raise errors.KinesisError(code, f"Limit {limit} is greater than {maximum}")
        return maximum if limit is None else int(limit)
    return validate


@pytest.fixture(autouse=True)
def _break_the_backend(kinesis_fidelity, kinesis_client_no_retry, kinesis_clock, monkeypatch):
    assert kinesis_fidelity is not None, "these runs need the offline fidelity layer"
    config = kinesis_fidelity.config
    events = kinesis_client_no_retry.meta.events
    for name in filter(None, os.environ.get("KINESIS_BREAK", "").split(",")):
        if name == "double-writes":
            config.write_records_per_s = 2 * limits.SHARD_WRITE_RECORDS_PER_S.value
            config.write_bytes_per_s = 2 * limits.SHARD_WRITE_BYTES_PER_S.value
        elif name == "half-writes":
            config.write_records_per_s = limits.SHARD_WRITE_RECORDS_PER_S.value // 2
            config.write_bytes_per_s = limits.SHARD_WRITE_BYTES_PER_S.value // 2
        elif name == "no-throttling":
            config.throttling = False
        elif name == "double-reads":
            config.read_calls_per_s = 2 * limits.SHARD_READ_CALLS_PER_S.value
        elif name == "double-get-bytes":
            config.get_records_max_bytes = 2 * limits.GET_RECORDS_MAX_BYTES.value
        elif name == "any-limit":
            monkeypatch.setattr(streams, "validate_limit", _accept_any_limit)
        elif name == "limit-invalid-argument":  # the code the API reference names
            monkeypatch.setattr(streams, "validate_limit", _limit_refused_with("InvalidArgumentException"))
        elif name == "limit-wrong-code":  # a refusal, but with a code no document gives
            monkeypatch.setattr(streams, "validate_limit", _limit_refused_with("ResourceNotFoundException"))
        elif name == "one-record-pages":  # a backend returning far fewer records than fit (allowed, not the cap)
            config.get_records_max_records = 1
        elif name == "client-rtt":
            # Not the backend: the client. Every PutRecords and GetRecords answer takes RTT on the run's clock,
            # as from a host far from the region (the producer and probe in their offline, one-call-at-a-time
            # mode cannot make up for it).
            def far_away(**_):
                kinesis_clock.sleep(RTT)
            for operation in ("PutRecords", "GetRecords"):
                events.register(f"before-call.kinesis.{operation}", far_away, unique_id=f"far-away-{operation}")
        else:
            raise ValueError(f"unknown break {name!r}")
    yield
    for operation in ("PutRecords", "GetRecords"):
        events.unregister(f"before-call.kinesis.{operation}", unique_id=f"far-away-{operation}")
"""

GET_MAX = limits.GET_RECORDS_MAX_RECORDS.value
ABOVE = "test_throughput_above_the_limit_accepts_the_limit_and_refuses_the_excess"
BELOW = "test_throughput_below_the_limit_nothing_is_refused"
WRITE_IDS = ("records-per-s-1-shard", "records-per-s-2-shards", "bytes-per-s-1-shard", "bytes-per-s-2-shards")


def run_family(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, breaks: str, *args: str
               ) -> tuple[dict[str, str], set[str], dict[str, str], dict[str, str]]:
    """Run the family with ``breaks``; return {failed test: its message}, passed tests, {test: recorded verdict},
    {skipped test: its reason}."""
    pytester.makeconftest(BREAK_CONFTEST)
    pytester.makepyfile(test_throughput_family=FAMILY.read_text(encoding="utf-8"))
    monkeypatch.setenv("KINESIS_BREAK", breaks)
    # A one-second window: the same checks, 40 % less work than the default three.
    result = pytester.runpytest("-p", "no:cacheprovider", "--kinesis-report=report.json",
                                "--kinesis-rate-window=1", *args)
    passed, skipped, failed = result.reprec.listoutcomes()
    name = lambda report: report.nodeid.split("::")[-1]  # noqa: E731
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    return ({name(r): str(r.longrepr) for r in failed}, {name(r) for r in passed},
            {r["test"].split("::")[-1]: r["verdict"] for r in rows}, {name(r): r.longrepr[2] for r in skipped})


def run_broken(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, breaks: str, *args: str
               ) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """:func:`run_family` where every test is judged (none is skipped as inconclusive)."""
    failed, passed, verdicts, skipped = run_family(pytester, monkeypatch, breaks, *args)
    assert not skipped
    return failed, passed, verdicts


def _measured(pytester: pytest.Pytester) -> dict[str, float | None]:
    """{test: measured value} from the run's report."""
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    return {r["test"].split("::")[-1]: r["measured"] for r in rows}


def test_doubled_limits_fail_the_over_limit_and_read_tests(pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """2x write limits, 2x read calls, 2x the GetRecords byte cap and no Limit cap: every test on the
    over-the-limit side fails, every test below or at a limit still passes (one shard: the two-shard
    variants run the same checks, shown failing in the other runs)."""
    failed, passed, verdicts = run_broken(pytester, monkeypatch,
                                          "double-writes,double-reads,double-get-bytes,any-limit",
                                          "-k", "not 2-shards")
    one_shard = [i for i in WRITE_IDS if i.endswith("1-shard")]
    expected_failed = {f"{ABOVE}[{i}]" for i in one_shard} | {
        "test_throughput_read_calls_per_second[over]", "test_throughput_get_records_limit[over]",
        "test_throughput_get_records_returns_at_most_10_mib_per_call"}
    assert set(failed) == expected_failed
    assert passed == {f"{BELOW}[{i}]" for i in one_shard} | {
        "test_throughput_read_calls_per_second[at]", "test_throughput_get_records_limit[at]"}
    for i in one_shard:
        assert "sustained accepted rate not within" in failed[f"{ABOVE}[{i}]"]
    assert "expected 1 throttled call(s) of 6" in failed["test_throughput_read_calls_per_second[over]"]
    assert "over the documented maximum was accepted" in failed["test_throughput_get_records_limit[over]"]
    measured = _measured(pytester)
    assert measured["test_throughput_get_records_limit[over]"] == GET_MAX + 1  # what the backend accepted
    assert "one call returned more than" in failed["test_throughput_get_records_returns_at_most_10_mib_per_call"]
    assert {test: verdicts[test] for test in failed} == {test: "fail" for test in failed}
    assert {verdicts[test] for test in passed} == {"pass"}


def test_the_get_records_limit_row_shows_what_the_backend_accepted(pytester: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """On the documented backend the table shows Limit 10,000 accepted and nothing for the refused 10,001
    (not the requested 10,001 beside a PASS)."""
    failed, passed, verdicts = run_broken(pytester, monkeypatch, "", "-k", "get_records_limit")
    assert not failed and set(verdicts.values()) == {"pass"}
    measured = _measured(pytester)
    assert measured["test_throughput_get_records_limit[at]"] == GET_MAX
    assert measured["test_throughput_get_records_limit[over]"] is None


def test_halved_write_limits_fail_the_below_limit_tests(pytester: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A shard taking half the documented rate refuses records at 80 % of the documented rate."""
    failed, passed, verdicts = run_broken(pytester, monkeypatch, "half-writes", "-k", "below and 2-shards")
    assert set(failed) == {f"{BELOW}[records-per-s-2-shards]", f"{BELOW}[bytes-per-s-2-shards]"} and not passed
    assert all("records refused below the limit: {'ProvisionedThroughputExceededException'" in message
               for message in failed.values())
    assert set(verdicts.values()) == {"fail"}


def test_no_throttling_fails_the_over_limit_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend that never throttles (plain moto's behaviour, on the layer's clock) fails writes and reads."""
    failed, passed, _ = run_broken(pytester, monkeypatch, "no-throttling", "-k", "bytes-per-s-2-shards or read_calls")
    assert set(failed) == {f"{ABOVE}[bytes-per-s-2-shards]", "test_throughput_read_calls_per_second[over]"}
    assert passed == {f"{BELOW}[bytes-per-s-2-shards]", "test_throughput_read_calls_per_second[at]"}
    message = failed[f"{ABOVE}[bytes-per-s-2-shards]"]
    assert "sustained accepted rate not within" in message and "refused 0 (none)" in message


# --- item 9.5: verdict fixes -------------------------------------------------------------------------

def test_the_get_records_limit_refusal_may_be_either_documented_code(pytester: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The API reference says Limit over 10,000 "throws InvalidArgumentException": a backend answering so passes,
    and the report says which code it used (the default layer answers ValidationException, also recorded)."""
    failed, passed, verdicts = run_broken(pytester, monkeypatch, "limit-invalid-argument", "-k", "get_records_limit")
    assert not failed and passed == {"test_throughput_get_records_limit[at]", "test_throughput_get_records_limit[over]"}
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    over = next(r for r in rows if r["test"].endswith("[over]"))
    assert over["verdict"] == "pass" and over["extra"]["error_code"] == "InvalidArgumentException"
    assert "API_GetRecords" in over["detail"]


def test_the_get_records_limit_refused_with_another_code_fails(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Can fail: a refusal with a code no document gives is not the documented refusal."""
    failed, passed, verdicts = run_broken(pytester, monkeypatch, "limit-wrong-code", "-k", "get_records_limit")
    assert set(failed) == {"test_throughput_get_records_limit[over]"}
    assert "ResourceNotFoundException" in failed["test_throughput_get_records_limit[over]"]
    assert verdicts["test_throughput_get_records_limit[over]"] == "fail"


def test_a_page_not_cut_by_the_byte_cap_is_inconclusive(pytester: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-record page is within the cap, but says nothing about it (the next record would have fit): the
    10 MiB verdict is inconclusive, not pass. (Can fail: the doubled byte cap above fails it.)"""
    failed, passed, verdicts, skipped = run_family(pytester, monkeypatch, "one-record-pages", "-k", "10_mib")
    test = "test_throughput_get_records_returns_at_most_10_mib_per_call"
    assert not failed and not passed and set(skipped) == {test}
    assert verdicts[test] == "inconclusive"
    assert "the page was not cut by the byte cap" in skipped[test] and "within the cap" in skipped[test]


def test_a_page_cut_by_the_byte_cap_passes_and_says_why(pytester: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """On the documented backend the 40-record page passes because the 41st record would have crossed the cap."""
    failed, passed, verdicts = run_broken(pytester, monkeypatch, "", "-k", "10_mib")
    test = "test_throughput_get_records_returns_at_most_10_mib_per_call"
    assert passed == {test} and verdicts[test] == "pass"
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    assert rows[0]["extra"]["cut_by_cap"] is True and "over the cap" in rows[0]["detail"]


# --- item 9.4: a client that cannot offer the load never fails the service -------------------------------

def test_a_client_far_from_the_region_is_inconclusive_never_fail(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every PutRecords and GetRecords answer 200 ms away, one call at a time (the offline producer and probe;
    live ones keep calls in flight, shown over HTTP in test_throughput_slow_link.py), and a backend that never
    throttles: nothing can be judged, so the write and read-calls verdicts are inconclusive (skipped with the
    reason), none is fail. On today's code these recorded fail ("nothing refused", "not within one second")."""
    failed, passed, verdicts, skipped = run_family(
        pytester, monkeypatch, "client-rtt,no-throttling", "--kinesis-rate-tick=0.1", "--junitxml=junit.xml",
        "-k", "1-shard or read_calls")
    judged = {f"{ABOVE}[records-per-s-1-shard]", f"{ABOVE}[bytes-per-s-1-shard]",
              f"{BELOW}[records-per-s-1-shard]", f"{BELOW}[bytes-per-s-1-shard]",
              "test_throughput_read_calls_per_second[at]", "test_throughput_read_calls_per_second[over]"}
    assert not failed and not passed and set(skipped) == judged
    assert {verdicts[test] for test in judged} == {"inconclusive"}
    for test in judged - {"test_throughput_read_calls_per_second[at]", "test_throughput_read_calls_per_second[over]"}:
        assert "the service answered 50.0% of the target" in skipped[test], skipped[test]
        assert "needed 75%" in skipped[test] and "--kinesis-rate-in-flight" in skipped[test]
    assert "could not get its calls inside one second" in skipped["test_throughput_read_calls_per_second[over]"]
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    assert all(r["extra"]["offered"] == pytest.approx(0.5, abs=0.01) for r in rows if ABOVE in r["test"])
    # junitxml carries the verdict too: each skipped test case holds its measurement as a property.
    cases = ElementTree.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    carried = {case.get("name"): json.loads(prop.get("value"))["verdict"] for case in cases
               for prop in case.iter("property") if prop.get("name") == "kinesis_measurement"}
    assert set(carried) == judged and set(carried.values()) == {"inconclusive"}


def test_a_backend_that_does_not_throttle_still_fails_when_the_load_was_offered(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The opposite proof: the same run with the client near (no added round trip) offers the load, and the
    backend that never throttles fails, with the offered share in the report."""
    failed, passed, verdicts, skipped = run_family(pytester, monkeypatch, "no-throttling", "--kinesis-rate-tick=0.1",
                                                   "-k", "above and 1-shard")
    assert set(failed) == {f"{ABOVE}[records-per-s-1-shard]", f"{ABOVE}[bytes-per-s-1-shard]"} and not skipped
    assert set(verdicts.values()) == {"fail"}
    rows = json.loads((pytester.path / "report.json").read_text())["measurements"]
    assert all(r["extra"]["offered"] >= 0.99 for r in rows)
