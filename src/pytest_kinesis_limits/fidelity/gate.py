"""The gate: before the offline layer first drives moto in a process, check that this moto is one it can drive.

A new moto can change a private detail the layer relies on (moto 5.2.6 stored record data as bytes where 5.2.5 kept
base64 text, and the layer then sized every record as its partition key alone, silently). So, once per process, the
first activation of the layer runs :func:`check`:

1. every patch target of :data:`.moto_adapter.PATCH_TARGETS` exists with the parameters the layer relies on;
2. the record codec is one the adapter knows (asked of moto's own ``Record``);
3. a round trip through the real stack, in memory: a botocore Kinesis client (the installed botocore's protocol and
   serializers) whose requests moto answers (its request parser, its responses) with the layer's patches in place on
   a throwaway layer and clock. A record of exactly the record cap is accepted and read back byte for byte, with its
   counted size and arrival time; one byte more is refused by PutRecords and by PutRecord. No request leaves the
   process: a request moto does not answer fails the check instead of reaching the network.

Any failure raises :class:`MotoGateError` whose ``line`` names the installed moto and botocore, the first problem,
the range this release supports and the command that fixes it; the plugin turns it into one line and exit status 4.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits import limits
from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import moto_adapter
from pytest_kinesis_limits.fidelity.config import FidelityConfig
from pytest_kinesis_limits.sdk import botocore_session

if TYPE_CHECKING:
    from pytest_kinesis_limits.fidelity.layer import FidelityLayer

#: The region of the gate's throwaway stream (its account is moto's default, or the one the environment sets).
GATE_REGION = "us-east-1"
_GATE_KEY = "k"


class MotoGateError(RuntimeError):
    """This moto (or botocore) cannot be driven by the layer; ``line`` says which, why and the fix, in one line."""

    def __init__(self, line: str, problems: list[str]) -> None:
        super().__init__(line)
        self.line = line
        self.problems = problems


@dataclass(frozen=True)
class GateResult:
    """What the gate found: versions, the codec and the botocore protocol the round trip went through."""

    moto: str
    botocore: str
    protocol: str
    codec: moto_adapter.RecordCodec


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def fix_command() -> str:
    """The install command that brings a moto this release was tested with."""
    releases = moto_adapter.TESTED_RELEASES
    return f"pip install 'moto>={releases[0]},<={releases[-1]}'"


def gate_line(problems: list[str]) -> str:
    """The one line a user sees when the gate refuses this moto."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (f"pytest-kinesis-limits: the offline layer cannot drive moto {moto_adapter.moto_version()} "
            f"(botocore {_version('botocore')}): {problems[0]}{more}. This release supports moto"
            f"{moto_adapter.supported_range()} and was tested on {', '.join(moto_adapter.TESTED_RELEASES)}; fix: "
            f"{fix_command()}, or run plain moto with --kinesis-fidelity=off")


ActivateUnchecked = Callable[[Any, FidelityConfig, moto_adapter.RecordCodec], contextlib.AbstractContextManager[
    "FidelityLayer"]]


def check(activate_unchecked: ActivateUnchecked, codec: moto_adapter.RecordCodec | None = None) -> GateResult:
    """Run the three checks (module doc); :class:`MotoGateError` on the first kind that fails. ``codec``: the codec
    to drive the round trip with (default: the one moto's ``Record`` tells)."""
    problems = moto_adapter.target_problems()
    if problems:
        raise MotoGateError(gate_line(problems), problems)
    try:
        codec = codec if codec is not None else moto_adapter.record_codec()
    except moto_adapter.IncompatibleMoto as exc:
        raise MotoGateError(gate_line([str(exc)]), [str(exc)]) from exc
    protocol = _kinesis_protocol()
    try:
        _round_trip(activate_unchecked, codec)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the run must not start on it
        problem = f"the round trip through moto failed ({protocol} protocol): {_describe(exc)}"
        raise MotoGateError(gate_line([problem]), [problem]) from exc
    return GateResult(moto=moto_adapter.moto_version(), botocore=_version("botocore"), protocol=protocol,
                      codec=codec)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _kinesis_protocol() -> str:
    return str(botocore_session().get_service_model("kinesis").protocol)


class _RoundTripFailed(AssertionError):
    pass


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise _RoundTripFailed(what)


#: Where the gate's client sends: a closed loopback port. moto answers every request before it is sent; if it ever
#: did not, the request would fail on this machine, never reach AWS. moto routes by the AWS address instead.
_NOWHERE = "http://127.0.0.1:9"


@contextlib.contextmanager
def _in_memory_kinesis() -> Iterator[Any]:
    """A botocore Kinesis client that moto answers in memory, addressed to a closed loopback port (a ``mock_aws``
    the user has active does not answer it: moto's own handler routes only AWS addresses)."""
    from botocore.config import Config

    session = botocore_session()
    client = session.create_client(
        "kinesis", region_name=GATE_REGION, endpoint_url=_NOWHERE, aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=1))
    aws = f"https://kinesis.{GATE_REGION}.amazonaws.com"

    def answer(request: Any, **_: Any) -> Any:
        response = moto_adapter.in_memory_answer(request, aws)
        if response is None:
            raise _RoundTripFailed(f"moto did not answer {request.method} {aws}")
        return response

    client.meta.events.register_first("before-send.kinesis", answer)
    try:
        yield client
    finally:
        client.close()


def _round_trip(activate_unchecked: ActivateUnchecked, codec: moto_adapter.RecordCodec) -> None:
    """Put a record of the cap's size and one a byte over through the real stack; read the first back."""
    from botocore.exceptions import ClientError

    clock = SimulatedClock()
    config = FidelityConfig().scale_lifecycle(0)
    name = f"kinesis-limits-gate-{uuid.uuid4().hex[:12]}"
    cap = limits.RECORD_MAX_BYTES.value
    data = (bytes(range(256)) * (cap // 256 + 1))[:cap - len(_GATE_KEY)]
    with activate_unchecked(clock, config, codec) as layer, _in_memory_kinesis() as client:
        client.create_stream(StreamName=name, ShardCount=1)
        stream = layer.find_stream(name)
        try:
            put = client.put_records(StreamName=name, Records=[{"Data": data, "PartitionKey": _GATE_KEY}])
            _expect(put.get("FailedRecordCount") == 0, f"a record of exactly {cap} bytes was refused: {put}")
            for call in (lambda: client.put_records(StreamName=name, Records=[
                        {"Data": data + b"!", "PartitionKey": _GATE_KEY}]),
                         lambda: client.put_record(StreamName=name, Data=data + b"!", PartitionKey=_GATE_KEY)):
                try:
                    call()
                except ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code")
                    _expect(code == "ValidationException", f"a record of {cap + 1} bytes got {code}, not "
                                                           "ValidationException")
                else:
                    raise _RoundTripFailed(f"a record of {cap + 1} bytes (data + key) was accepted")
            shard_id = next(iter(stream.shards))
            iterator = client.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                                 ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            records = client.get_records(ShardIterator=iterator)["Records"]
            _expect(len(records) == 1, f"{len(records)} records read back, not 1")
            _expect(records[0]["Data"] == data, "the record read back differs from the one written")
            arrival = records[0]["ApproximateArrivalTimestamp"].timestamp()
            _expect(abs(arrival - clock.now()) < 0.001,
                    f"the record's arrival is {arrival}, not the layer clock's {clock.now()}")
            stored = next(iter(stream.shards[shard_id].records.values()))
            _expect(codec.record_size(stored) == cap, f"the stored record counts {codec.record_size(stored)} bytes, "
                                                      f"not {cap}")
        finally:
            moto_adapter.kinesis_backends[stream.account_id][stream.region].streams.pop(name, None)


# ------------------------------------------------------------------------------------------- once per process
_passed: GateResult | None = None


def ensure(activate_unchecked: ActivateUnchecked) -> GateResult:
    """:func:`check` once per process (a pass is remembered; a failure is raised again at every activation)."""
    global _passed
    if _passed is None:
        _passed = check(activate_unchecked)
    return _passed


def forget() -> None:
    """Forget a pass (for tests that break moto on purpose)."""
    global _passed
    _passed = None


__all__ = ["GATE_REGION", "GateResult", "MotoGateError", "check", "ensure", "fix_command", "forget", "gate_line"]
