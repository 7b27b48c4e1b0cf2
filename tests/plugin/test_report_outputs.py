"""What a run reports: the main job's table (one row per limit, 100 columns), the JSON report and its schema,
the same rows and series with and without xdist, plots, junitxml, the GitHub step summary and the HTML page
(rendered in a real headless Chromium where one is installed).

The families run unchanged from tests/limits (rootdir and conftest are the project's), in subprocesses.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from expected_report import EXPECTED, comparable, differences

from pytest_kinesis_limits.reporting import plots
from pytest_kinesis_limits.kinesis.meter import within_tolerance
from pytest_kinesis_limits.reporting.report import SERIES_PROPERTY_NAME, load_report, validate
from pytest_kinesis_limits.reporting.summary import WIDTH

ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"  # where the summary shortens a limit key that does not fit

LIMITS = Path(__file__).parents[1] / "limits"
# Every kind of series, small cases only, run once in one process (the plots, the page and junitxml are written from
# it): 200 % of both write limits on one and two shards, a split and a merge, Firehose with latencies (seed, interval
# hints, across a reshard) and without (size hint). Their rows and series must be the main job's (two workers): the
# Firehose latencies once depended on the sub-second phase of the worker's simulated clock, which the tests that ran
# before in the same process left (found by this comparison: 0.93 s in one process, 1.0 s with -n 2, for the 0 s
# interval hint); each offline test now starts on a whole second.
SUBSET = ("throughput_above or continuity and (split-1-2 or merge-2-1) and not seed or firehose_seed_events or "
          "firehose_interval or firehose_small_size or firehose_delivery_continues")
#: The series SUBSET's tests draw: 4 throughput, 2 resharding, 5 Firehose (seed, two interval hints, size, reshard).
SUBSET_SERIES = 11
SERIES_TESTS = ("test_throughput_below", "test_throughput_above", "test_resharding_continuity",
                "test_firehose_seed_events", "test_firehose_small_size", "test_firehose_interval",
                "test_firehose_delivery_continues", "test_fan_out_consumer_reads_across_a_reshard", "test_scale_")
needs_matplotlib = pytest.mark.skipif(not plots.available(), reason=f"matplotlib is not installed: {plots.EXTRA}")
if plots.available():
    # Imported before any pytester test: pytester drops at teardown the modules first imported during its test,
    # and numpy cannot be imported twice in one process.
    import matplotlib.figure  # noqa: F401


def run_once(tmp_path_factory: pytest.TempPathFactory, name: str, *args: str) -> tuple[Path, dict[str, Any]]:
    """The project's tests/limits with ``args`` in a 100-column terminal, in the folder ``name``, once per session:
    under xdist the workers share it through their common temp folder and a lock (pytest-xdist's recipe for a
    session fixture run once), so that the workers that get the tests reading it do not each run the families again.
    The run's GitHub step summary goes to the folder (a CI's own summary gets none of these runs). Returns the folder
    and the run's exit status and output."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's own folder either way
    folder = shared / name
    with open(shared / f"{name}.lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done.json").exists():
            folder.mkdir(exist_ok=True)
            env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "GITHUB_STEP_SUMMARY")}
            env.update(COLUMNS=str(WIDTH), GITHUB_STEP_SUMMARY=str(folder / "step-summary.md"))
            done = subprocess.run([sys.executable, "-m", "pytest", str(LIMITS), "-p", "no:cacheprovider", *args],
                                  cwd=folder, env=env, capture_output=True, text=True, timeout=600)
            (folder / "done.json").write_text(json.dumps({"ret": done.returncode, "stdout": done.stdout,
                                                          "stderr": done.stderr}), encoding="utf-8")
    return folder, json.loads((folder / "done.json").read_text(encoding="utf-8"))


def table_rows(lines: list[str]) -> list[str]:
    """The per-limit rows printed under the summary's header (continuation and look-at lines left out)."""
    start = next(i for i, line in enumerate(lines) if "kinesis limits: what was measured" in line) + 3
    end = next(i for i in range(start, len(lines)) if " measurements of " in lines[i])
    return [line for line in lines[start:end] if not line.startswith(" ")]


def limit_of(cell: str, keys: list[str]) -> str:
    """The limit key a row's first cell names: the key itself, or the one key it shortens in the middle (the table
    gives way when its verdict column is wide: an inconclusive scale test under CI's load did it)."""
    if ELLIPSIS not in cell:
        return cell
    head, tail = cell.split(ELLIPSIS)
    found = [key for key in keys if key.startswith(head) and key.endswith(tail) and len(key) > len(cell)]
    return found[0] if len(found) == 1 else cell


@dataclass
class MainJob:
    """One run of the README's main job (its output lines, its report, its GitHub step summary)."""

    ret: int
    outlines: list[str]
    report: dict[str, Any]
    step_summary: list[str]


@pytest.fixture(scope="module")
def main_job(tmp_path_factory: pytest.TempPathFactory) -> MainJob:
    """The README's main job, as written there (report file name included), once per session (:func:`run_once`)."""
    folder, done = run_once(tmp_path_factory, "main-job", "-n", "2", "--kinesis-report=kinesis-limits-report.json")
    assert done["ret"] == 0, done["stdout"][-3000:] + done["stderr"][-3000:]
    return MainJob(done["ret"], done["stdout"].splitlines(), load_report(folder / "kinesis-limits-report.json"),
                   (folder / "step-summary.md").read_text(encoding="utf-8").splitlines())


@dataclass
class OneProcess:
    """One run of :data:`SUBSET` in one process, with plots, the HTML page and junitxml when matplotlib is there."""

    folder: Path
    outlines: list[str]
    report: dict[str, Any]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> OneProcess:
    outputs = ("--kinesis-plots=plots", "--kinesis-report-html=page.html", "--junitxml=junit.xml") \
        if plots.available() else ()
    folder, done = run_once(tmp_path_factory, "one-process", "-k", SUBSET, "-p", "no:xdist", "--kinesis-report=r.json",
                            *outputs)
    assert done["ret"] == 0, done["stdout"][-3000:] + done["stderr"][-3000:]
    return OneProcess(folder, done["stdout"].splitlines(), load_report(folder / "r.json"))


def test_the_main_job_prints_one_row_per_limit_within_100_columns(main_job: MainJob) -> None:
    too_wide = [line for line in main_job.outlines if len(line) > WIDTH]
    assert not too_wide, "\n".join(too_wide)
    report = main_job.report
    keys = sorted({m["limit"] for m in report["measurements"]})
    rows = table_rows(main_job.outlines)
    assert sorted(limit_of(row.split()[0], keys) for row in rows) == keys, "\n".join(rows)
    assert len(report["measurements"]) > len(keys), "several cases per limit, one row each"

    run = report["run"]
    assert run["xdist_workers"] == 2 and " -n 2 " in run["command_line"] and run["backend"] == "moto"
    assert run["versions"]["boto3"] and run["versions"]["moto"] and run["duration_s"] > 0
    with_series = {s["test"] for s in report["series"]}
    expected = {m["test"] for m in report["measurements"] if m["test"].split("::")[1].startswith(SERIES_TESTS)}
    assert with_series == expected and len(expected) >= 20

    markdown = main_job.step_summary
    assert markdown[0] == "### Kinesis limits: what was measured on moto"
    assert len([line for line in markdown if line.startswith("| `")]) == len(keys)


def test_the_main_job_measures_exactly_what_it_measured_before(main_job: MainJob) -> None:
    """Every row's number and verdict and every series of the main job are the ones recorded in
    expected-main-job.json (offline they are deterministic: see expected_report.py, which says how to regenerate
    the file when a change is meant to change what is measured)."""
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    changed = differences(expected, comparable(main_job.report))
    assert not changed, "the main job measured something else than before:\n" + "\n".join(changed)


def assert_flat_at_the_limit_after_the_first_second(series: dict[str, Any]) -> None:
    """The plot of a 200 % throughput series: its accepted line is the series' accepted numbers, which after the
    first second (the window) sit on the documented limit (the offline tolerance), with refusals every second."""
    figure = plots.figure_for(series)
    what = "bytes" if series["unit"] == "bytes/s" else "records"
    assert len(figure.axes) == len(series["shards"]) >= 1
    for ax, shard in zip(figure.axes, series["shards"]):
        (accepted,) = [line for line in ax.get_lines() if line.get_gid() == "accepted"]
        (limit,) = [line for line in ax.get_lines() if line.get_gid() == "limit"]
        assert list(accepted.get_ydata()) == shard[f"accepted_{what}"]
        assert set(limit.get_ydata()) == {series["documented"]}
        start, end = series["window"]
        assert start == 1, "the window starts after the first second"
        after_first = shard[f"accepted_{what}"][start:end]
        assert after_first and all(within_tolerance(v, series["documented"], above=0.02, below=0.02)
                                   for v in after_first), (series["test"], shard)
        assert all(shard[f"refused_{what}"][start:end]), "the excess is refused in every second"


RESOURCE_NAME = re.compile(r"\bpkl-[0-9a-f]{12}-[\w-]+")  # <prefix>-<run id>-<worker>-<n> (resources.Namer)


def _comparable(report: dict[str, Any]) -> tuple[list, list]:
    """Rows and series without what differs from run to run by design: resource names in details (they carry the
    run id and the worker), the series' absolute origin and the Firehose object keys (stream name and date)."""
    rows = json.loads(json.dumps(report["measurements"]))
    for row in rows:
        row["detail"] = RESOURCE_NAME.sub("<name>", row["detail"])
    series = json.loads(json.dumps(report["series"]))
    for s in series:
        s.pop("origin_epoch_s")
        for obj in s.get("objects", []):
            obj.pop("key")
    return rows, series


def test_xdist_and_one_process_report_the_same_rows_and_series(one_process: OneProcess, main_job: MainJob) -> None:
    """Tests of every kind of series, alone in one process, report what the main job's two workers reported for
    them, detail text included (the rows of the whole job in one process are expected-main-job.json's too)."""
    first = one_process.report
    assert first["run"]["xdist_workers"] == 0
    kinds = {s["kind"] for s in first["series"]}
    assert kinds == {"throughput", "resharding", "firehose"} and len(first["series"]) == SUBSET_SERIES
    tests = {m["test"] for m in first["measurements"]}
    two = {"measurements": [m for m in main_job.report["measurements"] if m["test"] in tests],
           "series": [s for s in main_job.report["series"] if s["test"] in tests]}
    rows, series = _comparable(first)
    assert "<name>" in str(rows) and (rows, series) == _comparable(two)


@needs_matplotlib
def test_plots_junitxml_a_self_contained_page_and_the_plot_command(one_process: OneProcess, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The run's plots, page and junitxml (one process; its series are the main job's two workers': the test above),
    and the plot command on its report draws the same plots."""
    folder, report = one_process.folder, one_process.report
    n = SUBSET_SERIES
    assert "kinesis-limits: report written to r.json" in one_process.outlines
    assert f"kinesis-limits: {n} plots written to plots" in one_process.outlines
    assert "kinesis-limits: HTML page written to page.html" in one_process.outlines
    written = sorted(p.name for p in (folder / "plots").iterdir())
    assert len(written) == len(report["series"]) == n
    assert all((folder / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in written)
    above = [s for s in report["series"] if "test_throughput_above" in s["test"]]
    assert len(above) == 4
    for series in above:
        assert_flat_at_the_limit_after_the_first_second(series)

    properties = [(p.get("name"), p.get("value")) for p in ET.parse(folder / "junit.xml").iter("property")]
    assert sum(name == "kinesis_measurement" for name, _ in properties) == len(report["measurements"])
    assert not [name for name, _ in properties if name == SERIES_PROPERTY_NAME], "series stay out of junitxml"

    page = (folder / "page.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == n
    assert "Content-Security-Policy" in page and " src=\"http" not in page and "<link" not in page
    assert all(m["test"] in page for m in report["measurements"])

    from pytest_kinesis_limits.cli import main

    again, page_again = tmp_path / "again", tmp_path / "again.html"
    assert main(["plot", str(folder / "r.json"), str(again), "--html", str(page_again)]) == 0
    assert f"{n} plots written to" in capsys.readouterr().out
    assert sorted(p.name for p in again.iterdir()) == written
    assert "test_resharding.test_resharding_continuity-split-1-2.png" in written
    assert page_again.read_text(encoding="utf-8").count("data:image/png;base64,") == n
    render_in_chromium(folder / "page.html", tmp_path, images=n)


def _chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def render_in_chromium(page: Path, tmp_path: Path, *, images: int) -> None:
    """Load ``page`` in headless Chromium: the DOM it built says every image decoded; a screenshot is taken."""
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium): the HTML page was checked as text only")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"]
    dom = subprocess.run([*flags, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert f'data-images-decoded="{images}"' in dom.stdout, (dom.stdout[:500], dom.stderr[-2000:])
    assert "Kinesis limits: what was measured on moto</h1>" in dom.stdout
    shot = tmp_path / "page.png"
    subprocess.run([*flags, f"--user-data-dir={tmp_path / 'profile-shot'}", "--window-size=1280,2000",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


FAILING = """
    from pytest_kinesis_limits import limits

    def test_fine(record_measurement):
        record_measurement(limits.SHARD_WRITE_RECORDS_PER_S, 1000, verdict="pass", detail="held the limit")

    def test_broken(record_measurement):
        record_measurement(limits.SHARD_WRITE_RECORDS_PER_S, 1500, verdict="fail", detail="took 150 %")

    def test_other(record_measurement):
        delivery = {"kind": "firehose", "clock": "service", "origin_epoch_s": 0, "expected": 1, "delivered": 1,
                    "missing": 0, "objects": [{"key": "k", "delivered_s": 2.0, "records": 1, "bytes": 9}],
                    "records": {"arrival_s": [0.5], "latency_s": [1.5]}}
        record_measurement(limits.PUT_RECORDS_MAX_RECORDS, 500, verdict="pass", series=delivery)
"""


def test_a_failing_limit_comes_first_naming_its_test_and_verbose_lists_every_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_made_up=FAILING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*kinesis limits: what was measured on moto*", "limit * verdicts*", "---*",
                                 "shard.write.records_per_s * 1,000..1,500 * 1 FAIL 1 PASS*",
                                 "    FAIL: test_made_up.py::test_broken",
                                 "put_records.max_records * 1 PASS*",
                                 "3 measurements of 2 limits in 3 tests: 2 pass, 1 fail; -v: one row per test"])
    assert "test_made_up.py::test_fine" not in result.stdout.str()
    verbose = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-vv")
    verbose.stdout.fnmatch_lines(["*kinesis limits: per test*",
                                  "shard.write.records_per_s: documented 1,000 records/s (moto)",
                                  "  FAIL     1,500  test_made_up.py::test_broken", "*took 150 %*",
                                  "  PASS     1,000  test_made_up.py::test_fine", "*held the limit*"])


def test_plots_without_matplotlib_name_the_extra(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plots, "available", lambda: False)
    pytester.makepyfile(test_made_up=FAILING)
    result = pytester.runpytest("--kinesis-plots=plots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert ("--kinesis-plots 'plots' (from the command line (--kinesis-plots)): plots need matplotlib, which is "
            "not installed. Fix: pip install 'pytest-kinesis-limits[plots]'") in result.stderr.str()
    result = pytester.runpytest("--kinesis-report=r.json", "--kinesis-report-html=page.html")
    assert result.ret == pytest.ExitCode.OK  # a recorded fail verdict is reported, the test itself passes
    assert ("kinesis-limits: HTML page written to page.html (No plots: matplotlib is not installed. Fix: pip install "
            "'pytest-kinesis-limits[plots]')") in result.stdout.lines
    assert "No plots: matplotlib is not installed" in (pytester.path / "page.html").read_text(encoding="utf-8")
    validate(json.loads((pytester.path / "r.json").read_text(encoding="utf-8")))

    from pytest_kinesis_limits.cli import main

    assert main(["plot", str(pytester.path / "r.json"), str(pytester.path / "out")]) == 2
    assert "Fix: pip install 'pytest-kinesis-limits[plots]'" in capsys.readouterr().err
    assert not (pytester.path / "out").exists()


def test_the_plot_command_refuses_what_is_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_kinesis_limits.cli import main

    old = tmp_path / "old.json"
    old.write_text(json.dumps({"header": {}, "measurements": []}), encoding="utf-8")
    assert main(["plot", str(old), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "'schema_version' is a required property" in err and "Fix: pass a file written by --kinesis-report" in err
    (tmp_path / "text.json").write_text("not json", encoding="utf-8")
    assert main(["plot", str(tmp_path / "text.json"), str(tmp_path / "out")]) == 2
    assert "is not JSON" in capsys.readouterr().err


def test_a_report_that_cannot_be_written_makes_the_run_fail_with_the_reason(pytester: pytest.Pytester) -> None:
    """Before, the run exited 0 and the missing report went unnoticed in CI. The folder passes the check before the
    run and is gone when the report is written (as a full disk or a cleaned workspace would do)."""
    out = pytester.mkdir("out")
    pytester.makepyfile(f"""
        import shutil

        def test_one(record_measurement):
            record_measurement('my-limit', 1, verdict='pass')
            shutil.rmtree({str(out)!r})
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--kinesis-report={out / 'r.json'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines([f"kinesis-limits: could not write the report {out / 'r.json'}: *",
                                 "kinesis-limits: the run exits 4 (usage error): an output it was asked for could "
                                 "not be written", "*1 passed*"], consecutive=False)


def test_matrix_says_it_cannot_write_its_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_kinesis_limits.cli import main
    from pytest_kinesis_limits.reporting.report import build_report, run_metadata, write_report

    run = run_metadata(backend="moto", backend_name="moto", region="us-east-1", endpoint=None, fidelity="on",
                       started=0.0, ended=1.0, args=[], invocation_dir=str(tmp_path), xdist_workers=0, exit_status=0)
    write_report(tmp_path / "moto.json", build_report([], [], run, {"backend": "moto"}))
    target = tmp_path / "missing" / "dir" / "x.md"
    assert main(["matrix", str(tmp_path / "moto.json"), "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"matrix: could not write {target}: No such file or directory" in err
