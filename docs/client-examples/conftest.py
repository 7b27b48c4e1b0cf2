"""This example repo's fixtures: the endpoint's credentials and region in the environment, for clients (such as
async-kinesis's aiobotocore session) that read them from there."""

import pytest


@pytest.fixture
def endpoint_credentials(kinesis_endpoint, monkeypatch):
    for name, value in kinesis_endpoint.env.items():
        monkeypatch.setenv(name, value)
    return kinesis_endpoint
