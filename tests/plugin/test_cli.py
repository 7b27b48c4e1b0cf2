"""The command line: serve (tested through the endpoint fixtures), sweep and limits."""

from __future__ import annotations

import uuid

import boto3
from pathlib import Path

import pytest

from pytest_kinesis_limits import cli
from pytest_kinesis_limits.kinesis.resources import tags_for


@pytest.fixture
def endpoint_kinesis(moto_server_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("kinesis", region_name="us-east-1", endpoint_url=moto_server_url)


def test_sweep_lists_then_deletes_only_tagged_streams(endpoint_kinesis, moto_server_url: str, capsys) -> None:
    run = uuid.uuid4().hex[:8]
    ours, theirs = f"pkl-sweep-{run}", f"someone-else-{run}"
    for name in (ours, theirs):
        endpoint_kinesis.create_stream(StreamName=name, ShardCount=1)
    endpoint_kinesis.add_tags_to_stream(StreamName=ours, Tags=tags_for(run))
    args = ["sweep", "--endpoint-url", moto_server_url, "--region", "us-east-1", "--run-id", run]

    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"found stream {ours}" in out and theirs not in out and "dry run" in out
    assert ours in endpoint_kinesis.list_streams()["StreamNames"]  # a dry run deletes nothing

    assert cli.main(args + ["--yes"]) == 0
    assert f"deleting stream {ours}" in capsys.readouterr().out
    names = endpoint_kinesis.list_streams()["StreamNames"]
    assert ours not in names and theirs in names
    endpoint_kinesis.delete_stream(StreamName=theirs)


def test_sweep_against_nothing_reachable_is_a_clear_error(capsys) -> None:
    assert cli.main(["sweep", "--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"]) == 2
    assert "cannot connect to the endpoint http://127.0.0.1:9" in capsys.readouterr().err


def test_limits_prints_the_catalogue(capsys) -> None:
    assert cli.main(["limits"]) == 0
    assert "| `put_records.max_records` | 500 |" in capsys.readouterr().out


def test_locustfile_prints_the_path_a_locust_on_another_host_takes(capsys, monkeypatch) -> None:
    assert cli.main(["locustfile"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "locustfile.py" and "KinesisRecordsUser" in path.read_text(encoding="utf-8")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # Locust not installed here
    assert cli.main(["locustfile"]) == 1
    assert "pip install 'pytest-kinesis-limits[load]'" in capsys.readouterr().err


def test_sweep_with_a_bad_region_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sweep", "--region", "Seoul"])
    assert exit_info.value.code == 2
    assert "argument --region: 'Seoul': expected an AWS region code" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_serve_refuses_a_port_that_is_no_port(port: str, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", "--port", port])
    assert stopped.value.code == 2
    assert "a port is a whole number from 0 (any free port) to 65535" in capsys.readouterr().err


def test_serve_says_it_cannot_listen_and_stops(tmp_path) -> None:
    """A real process: before, moto's threaded server waited for ever on a port in use."""
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "pytest_kinesis_limits", "serve", "--port", str(port),
                               "--fidelity", "off"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use. Fix: another --port" in done.stderr
