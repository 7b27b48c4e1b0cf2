"""The npm emulators, started for a conformance run: on 127.0.0.1 only, stopped after, reports the matrix reads.

The tests that start an emulator need node and npm (and npm's registry, or its cache) and are skipped with the
reason when node or npm is missing. CI runs the PutRecords family against kinesalite this way.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from pytest_kinesis_limits import emulators, limits
from pytest_kinesis_limits.emulators import EmulatorError, conformance_env, run_conformance
from pytest_kinesis_limits.reporting.matrix import load_all, render

FAMILY = Path(__file__).parents[1] / "limits" / "test_put_records.py"
HAVE_NODE = bool(shutil.which("node") and shutil.which("npm"))
needs_node = pytest.mark.skipif(not HAVE_NODE, reason="node and npm not found on PATH: the npm emulators "
                                "(kinesalite, kinesis-mock) cannot be installed here")


def test_without_node_the_message_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulators.shutil, "which", lambda tool: None)
    with pytest.raises(EmulatorError, match=r"node and npm not found on PATH.*apt-get install nodejs npm"):
        emulators.install(emulators.get("kinesalite"))


def test_unknown_emulator_lists_the_known_ones() -> None:
    with pytest.raises(EmulatorError, match="no emulator 'localstack'; known: kinesalite, kinesis-mock"):
        emulators.get("localstack")


def test_conformance_runs_send_dummy_credentials_and_no_foreign_endpoint() -> None:
    env = conformance_env({"AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_SESSION_TOKEN": "t", "AWS_PROFILE": "prod",
                           "AWS_ENDPOINT_URL_KINESIS": "http://elsewhere", "KINESIS_LIMITS_LIVE": "1", "PATH": "/bin"})
    assert env == {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_EC2_METADATA_DISABLED": "true", "PATH": "/bin"}


def test_npm_emulators_start_behind_the_loopback_preload_with_the_account_quota(tmp_path: Path,
                                                                                monkeypatch) -> None:
    monkeypatch.setattr(emulators, "node_tools", lambda: ("node", "npm"))
    package = tmp_path / "kinesalite@3.3.3" / "node_modules" / "kinesalite"
    argv, env = emulators.command(emulators.get("kinesalite"), 4567, tmp_path, package)
    assert argv[1:3] == ["--require", str(tmp_path / "loopback.js")]
    assert argv[-4:] == ["--port", "4567", "--shardLimit", str(limits.SHARD_QUOTA_MAIN_REGIONS.value)] and env == {}
    argv, env = emulators.command(emulators.get("kinesis-mock"), 4568, tmp_path, package.with_name("kinesis-local"))
    assert "--require" in argv and env["KINESIS_MOCK_PLAIN_PORT"] == "4568"
    assert env["KINESIS_MOCK_TLS_PORT"] != "4567" and env["SHARD_LIMIT"] == str(limits.SHARD_QUOTA_MAIN_REGIONS.value)


def _listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(local address in /proc's hex, port) of every TCP socket process ``pid`` listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name if hasattr(fd, "readlink") else ""
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                found.add((address, int(hex_port, 16)))
    return found


@needs_node
@pytest.mark.parametrize("name", ["kinesalite", "kinesis-mock"])
def test_emulator_listens_on_127_0_0_1_only_and_stops(name: str) -> None:
    """Both bind every interface on their own (kinesalite: listen(port); kinesis-mock: 0.0.0.0 in code, HTTP and
    TLS): every socket the process listens on must be 127.0.0.1 (0100007F in /proc/net/tcp)."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read the listening addresses from")
    with emulators.running(name) as emu:
        sockets = _listening_sockets(emu.process.pid)
        assert (("0100007F", int(emu.url.rsplit(":", 1)[1])) in sockets), sockets
        assert {address for address, _ in sockets} == {"0100007F"}, f"{name} listens on {sockets}"
        process = emu.process
    assert process.poll() is not None, f"{name} still running after the block"


@needs_node
def test_put_records_family_against_kinesalite(tmp_path: Path) -> None:
    """What CI runs (`tox -e kinesalite` runs every family): the family runs to its end against kinesalite 3.3.3
    with no ERROR, the report lands where the matrix reads it, and kinesalite's broken caps are FAIL cells, never
    pass: it takes a record of 1 MiB + 1 byte through PutRecords and PutRecord (AWS refuses it)."""
    out = io.StringIO()
    result = run_conformance("kinesalite", tmp_path, [str(FAMILY), "-n", "2", "-p", "no:cacheprovider", "-q"],
                             out=out)
    assert result.ok, out.getvalue()
    assert result.counts["errors"] == 0 and result.counts["tests"] > 20, result.counts
    rows = json.loads(result.report.read_text(encoding="utf-8"))["measurements"]
    cells = {(r["limit"], r["test"].rsplit("::", 1)[1]): r for r in rows}
    for case in ("test_put_records_record_size[over-key1]", "test_put_records_single_put_record_size[over]"):
        over = cells[("record.max_bytes", case)]
        assert (over["verdict"], over["measured"]) == ("fail", limits.RECORD_MAX_BYTES.value + 1), over
    assert cells[("put_records.max_records", "test_put_records_record_count[over]")]["verdict"] == "pass"
    assert {r["backend"] for r in rows} == {"kinesalite@3.3.3"}
    page = render(load_all([tmp_path]))
    assert "| `record.max_bytes` | 1,048,576 | bytes | `test_put_records_single_put_record_size[over]` | " \
           "**FAIL** 1,048,577 |" in page


@pytest.mark.parametrize(("code", "errors", "report", "ok"), [
    (0, 0, True, True), (1, 0, True, True),  # failed tests are the emulator's gaps: findings, not a broken run
    (1, 2, True, False),  # an ERROR outcome is a broken run
    (4, 0, False, False),  # a preflight (usage) error: no report
    (1, 0, False, False),  # no report where the matrix reads it
])
def test_a_conformance_run_is_done_only_with_a_report_and_no_error(tmp_path: Path, code, errors, report, ok) -> None:
    path = tmp_path / "kinesalite.json"
    if report:
        path.write_text("{}", encoding="utf-8")
    assert emulators.ConformanceResult(code, path, {"errors": errors}).ok is ok
