"""Where a client that is not the plugin's own boto3 sends: the ``kinesis_endpoint`` fixture's value.

A test hands :attr:`KinesisEndpoint.url` (or :meth:`~KinesisEndpoint.url_for` a service) to an SDK of its choice, or
:attr:`~KinesisEndpoint.env` to a subprocess (the AWS CLI, a Node, Go or Java producer, the KCL's MultiLangDaemon):

- offline, the URL of the offline backend served over HTTP on 127.0.0.1 (moto in the test's process, with the
  fidelity layer), one URL for every service, dummy credentials and the run's region;
- against ``--aws-endpoint-url``, that endpoint (and the per-service URLs botocore's own settings name);
- live, AWS's own regional endpoints, as botocore resolves them, and no endpoint variable at all: the subprocess
  finds AWS by itself, with its own credential chain (the profile the run uses, when it names one).

``env`` names endpoints the way botocore, the AWS CLI and the AWS SDKs read them from the environment
(``AWS_ENDPOINT_URL`` for every service, ``AWS_ENDPOINT_URL_<SERVICE ID>`` for one: the "service-specific endpoints"
of the AWS SDKs and Tools reference guide).

Library code: no pytest, no moto.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_kinesis_limits.backends import DUMMY_CREDENTIALS

if TYPE_CHECKING:
    from pytest_kinesis_limits.backends import Backend

#: The services the suite uses, with the name of the variable that points each at an endpoint (``AWS_ENDPOINT_URL_``
#: and the service's ID in capitals, spaces as underscores: botocore's ``ServiceModel.service_id``).
SERVICE_VARIABLES = {
    "kinesis": "AWS_ENDPOINT_URL_KINESIS",
    "firehose": "AWS_ENDPOINT_URL_FIREHOSE",
    "s3": "AWS_ENDPOINT_URL_S3",
    "iam": "AWS_ENDPOINT_URL_IAM",
    "sts": "AWS_ENDPOINT_URL_STS",
    "opensearch": "AWS_ENDPOINT_URL_OPENSEARCH",
}
#: Variables of the caller's environment that :meth:`KinesisEndpoint.environ` drops when the endpoint's credentials
#: are dummy ones: a session token or a profile of the caller's would be sent with them (or win over them).
_CREDENTIAL_VARIABLES = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


@dataclass(frozen=True)
class KinesisEndpoint:
    """Where to send, for clients the plugin does not make (module doc). ``kind``: ``moto`` (served by this process
    on loopback), ``endpoint`` (``--aws-endpoint-url``) or ``live``."""

    kind: str
    region: str
    env: Mapping[str, str]
    _url_for: Callable[[str], str] = field(repr=False, compare=False)
    dummy_credentials: bool = False

    @property
    def url(self) -> str:
        """Kinesis's URL."""
        return self.url_for("kinesis")

    @property
    def offline(self) -> bool:
        return self.kind == "moto"

    def url_for(self, service: str) -> str:
        """The URL of ``service`` (botocore's name: ``kinesis``, ``firehose``, ``s3``, ...)."""
        if not service or not service.replace("-", "").isalnum():
            raise ValueError(f"{service!r} is not a service name; use botocore's, such as 'kinesis', 'firehose' or "
                             "'s3'")
        return self._url_for(service.lower())

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with :attr:`env` on top, for ``subprocess.run(...,
        env=endpoint.environ())``; with dummy credentials, the caller's session token and profile left out."""
        merged = dict(os.environ if base is None else base)
        if self.dummy_credentials:
            for name in _CREDENTIAL_VARIABLES:
                merged.pop(name, None)
        merged.update(self.env)
        return merged


def _region_env(region: str) -> dict[str, str]:
    return {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def _credentials_env() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"]}


def served_endpoint(url: str, region: str) -> KinesisEndpoint:
    """The offline backend served at ``url``: every service there, dummy credentials, the run's region."""
    env = {"AWS_ENDPOINT_URL": url, **{variable: url for variable in SERVICE_VARIABLES.values()},
           **_credentials_env(), **_region_env(region)}
    return KinesisEndpoint(kind="moto", region=region, env=env, _url_for=lambda _service: url,
                           dummy_credentials=True)


def backend_endpoint(backend: Backend) -> KinesisEndpoint:
    """The endpoint of a live or ``--aws-endpoint-url`` backend, as its own clients address it."""
    if backend.offline:
        raise ValueError("an offline backend has no endpoint of its own: serve it (served_endpoint)")
    env = _region_env(backend.region)
    if backend.profile and not backend.dummy_credentials:
        env["AWS_PROFILE"] = backend.profile
    if backend.dummy_credentials:
        env.update(_credentials_env())
    if backend.kind == "endpoint":
        named = dict(backend.service_endpoints)
        if backend.endpoint_url:
            env["AWS_ENDPOINT_URL"] = backend.endpoint_url
        for service, variable in SERVICE_VARIABLES.items():
            url = named.get(service, backend.endpoint_url)
            if url:
                env[variable] = url
    resolved: dict[str, str] = {}

    def url_for(service: str) -> str:
        if service not in resolved:  # botocore resolves the URL (no call is made): the one the suite's clients use
            resolved[service] = str(backend.client(service).meta.endpoint_url)
        return resolved[service]

    return KinesisEndpoint(kind=backend.kind, region=backend.region, env=env, _url_for=url_for,
                           dummy_credentials=backend.dummy_credentials)


__all__ = ["KinesisEndpoint", "SERVICE_VARIABLES", "backend_endpoint", "served_endpoint"]
