"""The --live / endpoint preflight stops a bad setup once, with the fix, before any test runs.

No test here reaches AWS: the no-credentials, bad-profile and bad-region checks fail before any request,
and the endpoint checks talk only to 127.0.0.1.
"""

from __future__ import annotations

import socket

import pytest

from pytest_kinesis_limits.backends import PreflightError, preflight
from pytest_kinesis_limits.settings import resolve


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No credentials or config anywhere (and no instance metadata lookups)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "KINESIS_LIMITS_LIVE", "KINESIS_LIMITS_AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_live_without_credentials_is_one_usage_error(pytester: pytest.Pytester, no_aws_config) -> None:
    pytester.makepyfile("def test_a(kinesis_stream): pass\ndef test_b(kinesis_stream): pass\n")
    result = pytester.runpytest_subprocess("--live", "--aws-region=ap-northeast-2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*live preflight: no AWS credentials were found for --live. Fix: run 'aws configure'*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "test_a" not in result.stdout.str()  # stopped before any test ran


def test_live_without_region_names_the_fix(no_aws_config) -> None:
    with pytest.raises(PreflightError, match="no AWS region is set.*--aws-region"):
        preflight(resolve({"live": True}, {}, {}))


def test_live_with_unknown_region_suggests_a_near_one(no_aws_config) -> None:
    with pytest.raises(PreflightError, match=r"'ap-northeast-9' \(from the command line.*Did you mean ap-northeast-"):
        preflight(resolve({"live": True, "aws_region": "ap-northeast-9"}, {}, {}))


def test_live_with_missing_profile_names_it(no_aws_config) -> None:
    with pytest.raises(PreflightError, match="AWS profile 'nobody' .*does not exist"):
        preflight(resolve({"live": True, "aws_profile": "nobody", "aws_region": "us-east-1"}, {}, {}))


def test_endpoint_that_is_down_says_cannot_connect(no_aws_config) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(PreflightError, match=f"cannot connect to the endpoint {url}"):
        preflight(resolve({"aws_endpoint_url": url, "aws_region": "us-east-1"}, {}, {}))


def test_endpoint_uses_dummy_credentials_and_finds_the_account(moto_server_url: str, no_aws_config) -> None:
    backend = preflight(resolve({"aws_endpoint_url": moto_server_url, "aws_region": "us-east-1"}, {}, {}))
    assert backend.kind == "endpoint" and backend.dummy_credentials
    assert backend.account_id == "123456789012"  # moto's account, answered by STS over HTTP
    assert "endpoint=" + moto_server_url in backend.describe()


def test_half_configured_credentials_are_a_preflight_error(no_aws_config, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")  # and no secret
    with pytest.raises(PreflightError, match="credentials could not be loaded.*AWS_SECRET_ACCESS_KEY"):
        preflight(resolve({"live": True, "aws_region": "us-east-1"}, {}, {}))


# --- regions as users set them (issue 9, item 2) ---------------------------------------------------------------
def test_live_with_aws_region_and_no_credentials_says_credentials_are_missing(
        pytester: pytest.Pytester, no_aws_config, monkeypatch) -> None:
    """AWS_REGION is the region variable the AWS CLI v2 and the other SDKs read; botocore reads only
    AWS_DEFAULT_REGION. With AWS_REGION set the preflight must get past the region to the credentials."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    pytester.makepyfile("def test_a(kinesis_stream): pass\n")
    result = pytester.runpytest_subprocess("--live")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*live preflight: no AWS credentials were found*"])
    assert "region" not in result.stderr.str()


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_either_region_variable_sets_the_region(moto_server_url: str, no_aws_config, monkeypatch,
                                                variable: str) -> None:
    monkeypatch.setenv(variable, "eu-west-1")
    backend = preflight(resolve({"aws_endpoint_url": moto_server_url}, {}, {}))
    assert backend.region == "eu-west-1"


def test_aws_region_wins_over_aws_default_region_and_the_profile(moto_server_url: str, no_aws_config, monkeypatch,
                                                                 tmp_path) -> None:
    """The order of the AWS CLI v2 and the SDKs and Tools reference: AWS_REGION, AWS_DEFAULT_REGION, profile."""
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-northeast-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    url = {"aws_endpoint_url": moto_server_url}
    assert preflight(resolve(url, {}, {})).region == "ap-northeast-2"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert preflight(resolve(url, {}, {})).region == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert preflight(resolve(url, {}, {})).region == "us-west-2"
    assert preflight(resolve({**url, "aws_region": "sa-east-1"}, {}, {})).region == "sa-east-1"  # the setting wins


def test_live_with_unknown_region_from_aws_region_names_the_variable(no_aws_config, monkeypatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-northeast-9")
    with pytest.raises(PreflightError, match=r"'ap-northeast-9' \(from the environment variable AWS_REGION\)"):
        preflight(resolve({"live": True}, {}, {}))


def test_region_message_names_only_ways_that_work(no_aws_config) -> None:
    with pytest.raises(PreflightError) as error:
        preflight(resolve({"live": True}, {}, {}))
    message = str(error.value)
    for way in ("--aws-region", "KINESIS_LIMITS_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", "~/.aws/config"):
        assert way in message


def test_help_names_the_region_variables_in_their_order(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert "AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region" in " ".join(result.stdout.str().split())
