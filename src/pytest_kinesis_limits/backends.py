"""Backends: where the clients point (moto in-process, real AWS, or an endpoint URL) and the live preflight.

``moto`` runs in-process under ``moto.mock_aws`` with dummy credentials. ``live`` uses boto3's default
credential chain. ``endpoint`` is the live code path (real HTTP) pointed at any Kinesis-compatible URL.
Before a live or endpoint run, :func:`preflight` checks the profile, region, credentials and identity
and raises :class:`PreflightError` with the fix, so that a bad setup stops the session once instead of
failing every test.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)

from .settings import MAX_IN_FLIGHT, Settings

if TYPE_CHECKING:
    from botocore.client import BaseClient

OFFLINE_REGION = "us-east-1"
OFFLINE_ACCOUNT = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# Retrying clients use botocore's standard retry mode (throttling and transient errors, with backoff).
_RETRYING = {"mode": "standard", "total_max_attempts": 8}
# Limit probes must see every refusal: botocore would otherwise retry ProvisionedThroughputExceeded.
_NO_RETRY = {"mode": "standard", "total_max_attempts": 1}


class PreflightError(RuntimeError):
    """The live or endpoint setup cannot work; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Backend:
    """Where the suite's clients point. Build with :func:`backend_from_settings`."""

    kind: str  # "moto" | "live" | "endpoint"
    label: str  # "moto" | "moto-plain" | "live" | "endpoint" (what known-gap markers match)
    region: str
    profile: str | None = None
    endpoint_url: str | None = None
    account_id: str | None = None
    arn: str | None = None  # the caller identity (live / endpoint)
    dummy_credentials: bool = False

    @property
    def offline(self) -> bool:
        return self.kind == "moto"

    def session(self) -> boto3.Session:
        """A boto3 session for this backend (explicit region, and credentials where dummy ones are used)."""
        kwargs: dict[str, Any] = {"region_name": self.region}
        if self.profile:
            kwargs["profile_name"] = self.profile
        if self.dummy_credentials:
            kwargs.update(DUMMY_CREDENTIALS)
        return boto3.Session(**kwargs)

    def client(self, service: str, *, retries: bool = True, session: boto3.Session | None = None) -> BaseClient:
        """A client for ``service``; ``retries=False`` gives the one-attempt client limit probes need."""
        config = Config(
            retries=_RETRYING if retries else _NO_RETRY,
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=MAX_IN_FLIGHT,  # botocore's default 10 would serialise a throughput test's calls
            user_agent_extra="pytest-kinesis-limits",
        )
        kwargs: dict[str, Any] = {"config": config}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return (session or self.session()).client(service, **kwargs)

    def describe(self) -> str:
        """One line for the report header (never credentials)."""
        parts = [f"backend={self.label}", f"region={self.region}"]
        if self.account_id:
            parts.append(f"account={self.account_id}")
        if self.profile:
            parts.append(f"profile={self.profile}")
        if self.endpoint_url:
            parts.append(f"endpoint={self.endpoint_url}")
        return " ".join(parts)


def offline_backend(settings: Settings) -> Backend:
    """The moto backend: dummy credentials, the configured region or us-east-1."""
    return Backend(
        kind="moto",
        label=settings.backend_label,
        region=settings.aws_region or OFFLINE_REGION,
        account_id=OFFLINE_ACCOUNT,
        dummy_credentials=True,
    )


def _region_fix(settings: Settings) -> str:
    return ("pass --aws-region REGION, set KINESIS_LIMITS_AWS_REGION or AWS_REGION, "
            "or give the profile a region in ~/.aws/config")


def preflight(settings: Settings) -> Backend:
    """Check a live or endpoint setup and return its backend, or raise :class:`PreflightError`.

    Checks, in order: the profile exists, a region is known (and, live, is a real Kinesis region),
    credentials exist (an endpoint falls back to dummy ones), and STS GetCallerIdentity answers.
    """
    kind = settings.backend_kind
    if kind == "moto":
        return offline_backend(settings)
    profile = settings.aws_profile
    try:
        base = _base_session(profile, local_only=kind == "endpoint")
    except ProfileNotFound:
        raise PreflightError(
            f"AWS profile {profile!r} (from {settings.source_of('aws_profile')}) does not exist. "
            "Fix: create it with 'aws configure --profile NAME', or name one listed by 'aws configure list-profiles'."
        ) from None
    region = settings.aws_region or base.region_name
    if not region:
        raise PreflightError(f"no AWS region is set for the {kind} run. Fix: {_region_fix(settings)}.")
    if kind == "live":
        known = set(base.get_available_regions("kinesis"))
        for partition in ("aws-cn", "aws-us-gov"):
            known.update(base.get_available_regions("kinesis", partition_name=partition))
        if region not in known:
            near = difflib.get_close_matches(region, sorted(known), n=3)
            hint = f" Did you mean {', '.join(near)}?" if near else ""
            source = settings.source_of("aws_region") if settings.aws_region else "the AWS profile/environment"
            raise PreflightError(
                f"region {region!r} (from {source}) is not a region where Kinesis Data Streams is offered.{hint} "
                f"Fix: {_region_fix(settings)}."
            )
    try:
        credentials = base.get_credentials()
    except BotoCoreError as exc:  # e.g. a key id without its secret, or a failing credential_process
        raise PreflightError(
            f"the AWS credentials could not be loaded: {exc}. Fix: complete or remove them (AWS_ACCESS_KEY_ID "
            "needs AWS_SECRET_ACCESS_KEY; check credential_process / sso settings of the profile)."
        ) from None
    dummy = False
    if credentials is None:
        if kind == "live":
            raise PreflightError(
                "no AWS credentials were found for --live. Fix: run 'aws configure' (or 'aws sso login'), set "
                "AWS_PROFILE or --aws-profile, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; "
                "or drop --live to run offline on moto."
            )
        dummy = True  # emulators accept any credentials
    backend = Backend(
        kind=kind,
        label=settings.backend_label,
        region=region,
        profile=profile,
        endpoint_url=settings.aws_endpoint_url,
        dummy_credentials=dummy,
    )
    return _identify(backend)


def _base_session(profile: str | None, *, local_only: bool) -> boto3.Session:
    """A session on the default credential chain; ``local_only`` drops the instance-metadata and container
    providers, so that an endpoint run never sends a request off this machine looking for credentials."""
    core = botocore.session.Session(profile=profile)
    if profile:
        core.get_scoped_config()  # raises ProfileNotFound now rather than at the first call
    if local_only:
        resolver = core.get_component("credential_provider")
        for name in ("iam-role", "container-role"):
            resolver.remove(name)
    return boto3.Session(botocore_session=core)


def _identify(backend: Backend) -> Backend:
    """Ask STS who we are; an endpoint without STS is checked with ListStreams instead."""
    where = f"the endpoint {backend.endpoint_url}" if backend.endpoint_url else f"AWS in {backend.region}"
    sts = backend.client("sts", retries=False)
    try:
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        raise PreflightError(
            "no AWS credentials were found. Fix: run 'aws configure', set AWS_PROFILE or --aws-profile, "
            "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        ) from None
    except EndpointConnectionError:
        raise PreflightError(
            f"cannot connect to {where}. Fix: check the network or start the endpoint "
            "(for example 'moto_server -H 127.0.0.1 -p 5000'), and check --aws-endpoint-url and --aws-region."
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if backend.endpoint_url and code in ("UnknownOperationException", "InvalidAction", "NotImplemented",
                                             "UnrecognizedClientException", "404"):
            return _reachable_without_sts(backend)
        raise PreflightError(
            f"{where} refused the credentials ({code}: {exc.response.get('Error', {}).get('Message', '')}). "
            "Fix: refresh them ('aws sso login', new keys, or the right --aws-profile)."
        ) from None
    except BotoCoreError as exc:
        if backend.endpoint_url:
            return _reachable_without_sts(backend)
        raise PreflightError(f"the identity check against {where} failed: {exc}") from None
    return Backend(**{**backend.__dict__, "account_id": identity.get("Account"), "arn": identity.get("Arn")})


def _reachable_without_sts(backend: Backend) -> Backend:
    try:
        backend.client("kinesis", retries=False).list_streams(Limit=1)
    except (BotoCoreError, ClientError) as exc:
        raise PreflightError(
            f"the endpoint {backend.endpoint_url} does not answer Kinesis ListStreams ({exc}). "
            "Fix: check --aws-endpoint-url and that the emulator is running."
        ) from None
    return Backend(**{**backend.__dict__, "account_id": "000000000000"})
