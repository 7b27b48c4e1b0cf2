"""Fixtures for the fidelity layer's own tests: moto in-process, with or without the layer.

Behaviour tests take the ``kinesis`` fixture, parametrized over ``fidelity`` (the layer active) and
``plain`` (moto alone, a strict expected failure): each such test proves the layer fixes something
plain moto gets wrong, and fails loudly if plain moto starts getting it right.
"""

from __future__ import annotations

from collections.abc import Iterator

import moto
import pytest

from pytest_kinesis_limits.clock import SimulatedClock
from pytest_kinesis_limits.fidelity import activate

from .kinesis_helpers import REGION, START, Kinesis, make_clients


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["fidelity", pytest.param("plain", marks=pytest.mark.xfail(
    strict=True, reason="plain moto lacks this Kinesis behaviour (docs/fidelity.md)"))])
def kinesis(request: pytest.FixtureRequest) -> Iterator[Kinesis]:
    """moto in-process; with the fidelity layer on a SimulatedClock, or plain moto (expected to fail)."""
    clock = SimulatedClock(START)
    with moto.mock_aws():
        client, probe = make_clients()
        if request.param == "plain":
            yield Kinesis(client, probe, clock, None)
            return
        with activate(clock) as layer:
            yield Kinesis(client, probe, clock, layer)


@pytest.fixture
def layered() -> Iterator[Kinesis]:
    """moto in-process with the layer only (for checks that need the layer's clock or config)."""
    clock = SimulatedClock(START)
    with moto.mock_aws():
        client, probe = make_clients()
        with activate(clock) as layer:
            yield Kinesis(client, probe, clock, layer)




@pytest.fixture
def plain_moto() -> Iterator[Kinesis]:
    """moto in-process without the layer (for regression guards of what moto already does right)."""
    with moto.mock_aws():
        client, probe = make_clients()
        yield Kinesis(client, probe, SimulatedClock(START), None)
