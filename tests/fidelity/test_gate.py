"""The moto gate (fidelity/gate.py): passes on the installed moto, and stops a run at its start, in one line with exit
status 4, when moto is one the layer cannot drive: a missing patch target, a changed signature, a record codec that
sizes records wrongly (the silent case of moto 5.2.6: bytes counted as nothing, so a 1 MiB + 1 record went in)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_kinesis_limits import cli, limits
from pytest_kinesis_limits.fidelity import gate, layer, moto_adapter
from pytest_kinesis_limits.fidelity.moto_adapter import PatchTarget, RecordCodec

CAP = limits.RECORD_MAX_BYTES.value


class _ZeroCodec(RecordCodec):
    """A codec that counts every record's data as 0 bytes (what validation.py did with moto 5.2.6's bytes)."""

    def size(self, value: object) -> int:
        return 0


@pytest.fixture(autouse=True)
def _fresh_gate() -> None:
    """Each test meets the gate anew, and leaves a passed gate for the tests after it."""
    gate.forget()
    yield
    gate.forget()


def test_the_gate_passes_on_the_installed_moto_and_finds_its_codec() -> None:
    result = gate.check(layer._activate_unchecked)
    assert result.moto == moto_adapter.moto_version()
    assert result.codec == moto_adapter.record_codec()
    assert result.protocol == "json"
    # 5.2.6 and later keep bytes and datetimes; 5.2.5 and earlier base64 text and epoch seconds.
    assert result.codec.base64_data is not result.codec.datetime_arrival


def test_the_gate_leaves_no_stream_behind() -> None:
    gate.check(layer._activate_unchecked)
    streams = [name for regions in moto_adapter.kinesis_backends.values() for backend in regions.values()
               for name in backend.streams if name.startswith("kinesis-limits-gate-")]
    assert streams == []


@pytest.mark.parametrize("broken", ["zero", "base64-flag-flipped"])
def test_a_codec_that_sizes_records_wrongly_is_refused(broken: str) -> None:
    real = moto_adapter.record_codec()
    codec = _ZeroCodec(real.base64_data, real.datetime_arrival) if broken == "zero" else \
        dataclasses.replace(real, base64_data=not real.base64_data)
    with pytest.raises(gate.MotoGateError) as caught:
        gate.check(layer._activate_unchecked, codec=codec)
    line = caught.value.line
    assert "\n" not in line and line.startswith("pytest-kinesis-limits: the offline layer cannot drive moto ")
    assert "round trip" in line and gate.fix_command() in line
    if broken == "zero":
        assert f"a record of {CAP + 1} bytes (data + key) was accepted" in line


def test_a_missing_patch_target_and_a_changed_signature_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    class Old:
        def put_records(self, stream_name: str) -> None: ...

        def get_records(self, limit: int, shard_iterator: str) -> None: ...

    targets = {"Old.put_records": PatchTarget(Old, "put_records", ("self", "stream_arn", "stream_name", "records")),
               "Old.get_records": PatchTarget(Old, "get_records", ("self", "shard_iterator", "limit")),
               "Old.gone": PatchTarget(Old, "gone", None)}
    assert moto_adapter.target_problems(targets) == [
        "Old.put_records has no parameter stream_arn, records",
        "Old.get_records(self, limit, shard_iterator) is not Old.get_records(self, shard_iterator, limit)",
        "Old.gone is missing"]
    monkeypatch.setattr(moto_adapter, "PATCH_TARGETS", {**moto_adapter.PATCH_TARGETS, **targets})
    with pytest.raises(gate.MotoGateError, match=r"Old\.put_records has no parameter stream_arn, records \(and 2 more\)"):
        gate.check(layer._activate_unchecked)


def test_every_patch_goes_through_the_table() -> None:
    with pytest.raises(KeyError):
        moto_adapter.patch(None, "KinesisBackend.not_in_the_table", lambda self: None)  # type: ignore[arg-type]
    assert moto_adapter.target_problems() == []


def test_activation_refuses_a_broken_moto_before_patching(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_kinesis_limits.clock import SimulatedClock

    monkeypatch.setattr(moto_adapter, "PATCH_TARGETS", {
        **moto_adapter.PATCH_TARGETS, "KinesisBackend.gone": PatchTarget(moto_adapter.KinesisBackend, "gone", None)})
    before = dict(vars(moto_adapter.KinesisBackend))
    with pytest.raises(gate.MotoGateError, match="KinesisBackend.gone is missing"), \
            layer.activate(SimulatedClock()):
        pass
    assert dict(vars(moto_adapter.KinesisBackend)) == before
    assert layer.active_layer() is None


def test_serve_refuses_a_broken_moto_with_one_line_and_status_4(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(moto_adapter, "PATCH_TARGETS", {
        **moto_adapter.PATCH_TARGETS, "KinesisBackend.gone": PatchTarget(moto_adapter.KinesisBackend, "gone", None)})
    assert cli.main(["serve", "--host", "127.0.0.1", "--port", "0"]) == 4
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "KinesisBackend.gone is missing" in err


# ------------------------------------------------------------------------------------- a whole run, as users see it
_KINESIS_TEST = """
def test_put_one_byte_over(kinesis_client_no_retry, kinesis_stream):
    kinesis_client_no_retry.put_records(StreamName=kinesis_stream.name, Records=[
        {"Data": b"x" * (1024 * 1024), "PartitionKey": "k"}])
    raise AssertionError("a 1 MiB + 1 record was accepted")
"""

_BREAKERS = {
    "missing-target": """
        from moto.kinesis.models import KinesisBackend
        del KinesisBackend.put_records
    """,
    "zero-codec": """
        from pytest_kinesis_limits.fidelity import moto_adapter

        class Zero(moto_adapter.RecordCodec):
            def size(self, value):
                return 0

        real = moto_adapter.record_codec()
        moto_adapter.record_codec = lambda: Zero(real.base64_data, real.datetime_arrival)
    """,
}


def _run(tmp_path: Path, breaker: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(_BREAKERS[breaker]))
    (tmp_path / "test_user.py").write_text(_KINESIS_TEST)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("breaker", "workers"), [
    ("missing-target", []), ("zero-codec", []),
    ("missing-target", ["-n", "2"]),  # xdist's path (the worker stops, the controller sets 4) is the same for both
], ids=["missing-target", "zero-codec", "missing-target-xdist"])
def test_a_run_on_a_moto_the_layer_cannot_drive_stops_at_start(tmp_path: Path, breaker: str,
                                                                workers: list[str]) -> None:
    """The stand-in for an incompatible moto (a missing patch target) and a deliberately broken codec: exit status 4,
    the one line, no traceback, and the user's test never ran (so its 1 MiB + 1 record was never accepted)."""
    done = _run(tmp_path, breaker, *workers)
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    lines = [line for line in output.splitlines() if "the offline layer cannot drive moto" in line]
    assert len(lines) == 1, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert "a 1 MiB + 1 record was accepted" not in output, output  # the user's test never ran
    assert "no tests ran" in output and not re.search(r"\d+ (passed|failed|error)", output), output


def test_moto_server_for_the_endpoint_is_checked_and_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """serve and kinesis_endpoint build moto's server from private names: a moto without one says which."""
    from moto.moto_server import werkzeug_app

    from pytest_kinesis_limits.fidelity import moto_adapter

    assert moto_adapter.server_problems() == []
    monkeypatch.delattr(werkzeug_app, "DomainDispatcherApplication")
    assert moto_adapter.server_problems() == ["moto.moto_server.werkzeug_app.DomainDispatcherApplication is missing"]
    with pytest.raises(moto_adapter.IncompatibleMoto, match="DomainDispatcherApplication is missing"):
        moto_adapter.wsgi_server("127.0.0.1", 0)


def test_a_moto_server_without_its_request_handler_is_served_with_werkzeugs(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.3's server has no MotoRequestHandler (it keeps S3's underscored metadata headers in later releases)
    and uses werkzeug's own: so does the endpoint there, and it answers."""
    import threading
    import urllib.request

    from moto.moto_server import werkzeug_app
    from werkzeug.serving import WSGIRequestHandler

    from pytest_kinesis_limits.fidelity import moto_adapter

    monkeypatch.delattr(werkzeug_app, "MotoRequestHandler", raising=False)
    assert moto_adapter.server_problems() == []
    server = moto_adapter.wsgi_server("127.0.0.1", 0)
    try:
        assert issubclass(server.RequestHandlerClass, WSGIRequestHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/moto-api/data.json", timeout=10) as r:
            assert r.status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_a_moto_that_grows_subscribe_to_shard_or_loses_its_streaming_stubber_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The layer adds SubscribeToShard to moto and streams it through moto's stubber: a moto that implements the
    operation itself (the layer's would hide it) or whose stubber cannot stream is named, not silently used."""
    from moto.core import botocore_stubber
    from moto.kinesis.responses import KinesisResponse

    assert moto_adapter.target_problems() == []
    monkeypatch.setattr(KinesisResponse, "subscribe_to_shard", lambda self: "", raising=False)
    assert moto_adapter.target_problems() == [
        "moto now implements KinesisResponse.subscribe_to_shard: review the layer's own before it hides moto's"]
    monkeypatch.delattr(KinesisResponse, "subscribe_to_shard")
    monkeypatch.delattr(botocore_stubber, "MockRawResponse")
    assert "MockRawResponse (with stream()) is missing" in moto_adapter.target_problems()[0]


@pytest.mark.parametrize("base64_data", [True, False], ids=["base64-text", "bytes"])
def test_records_written_as_one_text_are_the_records_json_would_write(base64_data: bool) -> None:
    """GetRecords' answer writes its records directly (RecordCodec.json_records): the same JSON as each record's
    dict through json, whatever the partition key holds (quotes, backslashes, control and non-ASCII characters) and
    the data (empty, binary); and ASCII, as json.dumps writes it."""
    import json

    codec = RecordCodec(base64_data=base64_data, datetime_arrival=not base64_data)
    keys = ["k", 'a "quoted" key', "back\\slash", "tab\tnew\nline\x01", "ünïcödé ✓ 😀", ""]
    datas = [b"", b"\x00\xff" * 7, b'{"id": 1}', bytes(range(256))]
    records = [codec.new_record(key, codec.from_bytes(data), 49_000_000 + n, None, codec.stamp(1_700_000_000.125 + n))
               for n, (key, data) in enumerate((k, d) for k in keys for d in datas)]
    text = codec.json_records(records)
    assert text.isascii()
    assert json.loads(text) == [codec.json_record(r) for r in records]
    assert json.loads(codec.json_records([])) == []
