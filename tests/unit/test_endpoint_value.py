"""The ``kinesis_endpoint`` fixture's value, for each kind of backend: what a subprocess or another SDK is handed."""

from __future__ import annotations

import pytest

from pytest_kinesis_limits.backends import Backend
from pytest_kinesis_limits.endpoint import SERVICE_VARIABLES, backend_endpoint, served_endpoint


def test_offline_every_service_at_the_served_url_with_dummy_credentials() -> None:
    endpoint = served_endpoint("http://127.0.0.1:4567", "eu-west-1")
    assert endpoint.url == endpoint.url_for("firehose") == endpoint.url_for("S3") == "http://127.0.0.1:4567"
    assert {endpoint.env[v] for v in SERVICE_VARIABLES.values()} == {"http://127.0.0.1:4567"}
    assert endpoint.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4567"
    assert endpoint.env["AWS_REGION"] == endpoint.env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert endpoint.env["AWS_ACCESS_KEY_ID"] == "testing"


def test_environ_drops_the_callers_token_and_profile_with_dummy_credentials() -> None:
    endpoint = served_endpoint("http://127.0.0.1:4567", "us-east-1")
    base = {"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "secret", "AWS_REGION": "ap-south-1"}
    environ = endpoint.environ(base)
    assert environ["PATH"] == "/bin" and environ["AWS_REGION"] == "us-east-1"
    assert "AWS_PROFILE" not in environ and "AWS_SESSION_TOKEN" not in environ
    assert base["AWS_PROFILE"] == "prod"  # the caller's mapping is left alone


def test_live_names_aws_own_regional_endpoints_and_no_endpoint_variable() -> None:
    endpoint = backend_endpoint(Backend(kind="live", label="live", region="ap-northeast-2"))
    assert endpoint.url == "https://kinesis.ap-northeast-2.amazonaws.com"
    assert endpoint.url_for("firehose") == "https://firehose.ap-northeast-2.amazonaws.com"
    assert endpoint.env == {"AWS_REGION": "ap-northeast-2", "AWS_DEFAULT_REGION": "ap-northeast-2"}
    # The run's profile goes along (its URLs are resolved with it, as the preflight checked it exists).
    with_profile = backend_endpoint(Backend(kind="live", label="live", region="ap-northeast-2", profile="team"))
    assert with_profile.env["AWS_PROFILE"] == "team"
    assert not any(name.startswith("AWS_ENDPOINT_URL") for name in with_profile.env)
    assert with_profile.environ({"AWS_PROFILE": "other"})["AWS_PROFILE"] == "team"


def test_an_emulator_endpoint_and_its_per_service_urls() -> None:
    backend = Backend(kind="endpoint", label="endpoint", region="us-east-1", endpoint_url="http://127.0.0.1:4567",
                      dummy_credentials=True, service_endpoints=(("s3", "http://127.0.0.1:9000"),))
    endpoint = backend_endpoint(backend)
    assert endpoint.url == "http://127.0.0.1:4567"
    assert endpoint.env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9000"
    assert endpoint.env["AWS_ENDPOINT_URL_KINESIS"] == endpoint.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4567"
    assert endpoint.env["AWS_SECRET_ACCESS_KEY"] == "testing"


def test_a_service_name_that_is_not_one_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="botocore's, such as 'kinesis'"):
        served_endpoint("http://127.0.0.1:1", "us-east-1").url_for("https://kinesis")
