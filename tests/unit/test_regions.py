"""The region rule, made once (regions.py): every place that names a run's region gets the same answer."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_kinesis_limits.regions import OFFLINE_REGION, region_of
from pytest_kinesis_limits.settings import resolve


def _settings(**cli: object):
    return resolve(cli={"plan": None, "live": None, "aws_region": None, **cli}, env={}, ini={})


@pytest.fixture
def profile_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-north-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def test_a_checked_backend_names_the_region() -> None:
    assert region_of(_settings(), SimpleNamespace(region="ap-northeast-2")) == "ap-northeast-2"


def test_offline_the_setting_or_us_east_1_whatever_the_environment(profile_region: None) -> None:
    env = {"AWS_REGION": "eu-west-1"}
    assert region_of(_settings(), environ=env) == OFFLINE_REGION
    assert region_of(_settings(aws_region="sa-east-1"), environ=env) == "sa-east-1"


def test_a_plan_takes_the_region_a_live_run_would(profile_region: None) -> None:
    plan = _settings(plan=True)
    assert region_of(plan, environ={"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2"}) == "eu-west-1"
    assert region_of(plan, environ={"AWS_DEFAULT_REGION": "eu-west-2"}) == "eu-west-2"
    assert region_of(plan, environ={}) == "eu-north-1"  # the profile's, which the plan used to skip for us-east-1
    assert region_of(_settings(plan=True, aws_region="us-west-2"), environ={"AWS_REGION": "eu-west-1"}) == \
        "us-west-2"


def test_a_plan_with_no_region_anywhere_prices_us_east_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    assert region_of(_settings(plan=True), environ={}) == OFFLINE_REGION
