"""Backends: where the clients point (moto in-process, real AWS, or an endpoint URL) and the live preflight.

``moto`` runs in-process under ``moto.mock_aws`` with dummy credentials. ``live`` uses boto3's default
credential chain. ``endpoint`` is the live code path (real HTTP) pointed at any Kinesis-compatible URL.
Before a live or endpoint run, :func:`preflight` checks the profile, region, credentials and identity
and raises :class:`PreflightError` with the fix, so that a bad setup stops the session once instead of
failing every test.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import boto3
import botocore.utils
from botocore.config import Config
from botocore.configprovider import ConfiguredEndpointProvider
from botocore.parsers import ResponseParserError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)

from pytest_kinesis_limits.regions import (OFFLINE_REGION, REGION_VARIABLES, offline_region,  # noqa: F401
                                           region_problem, resolve_region)
from pytest_kinesis_limits.sdk import botocore_session
from pytest_kinesis_limits.settings import MAX_IN_FLIGHT, Settings

if TYPE_CHECKING:
    from botocore.client import BaseClient

OFFLINE_ACCOUNT = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# Retrying clients use botocore's standard retry mode (throttling and transient errors, with backoff).
_RETRYING = {"mode": "standard", "total_max_attempts": 8}
# Limit probes must see every refusal: botocore would otherwise retry ProvisionedThroughputExceeded.
_NO_RETRY = {"mode": "standard", "total_max_attempts": 1}
#: How long a client waits for an answer (botocore's read timeout): 60 s live; on an endpoint 600 s. An emulator on
#: this machine answers every call in the end, but serves one at a time: kinesis-mock spends seconds on each of the
#: seed scenarios' PutRecords (its cost grows with the shard's records), and a call queued behind several took
#: longer than 60 s, so a limit probe there failed on the client's ReadTimeoutError instead of judging the answer.
#: Waiting longer never changes what an answer says; a test's own timeout still bounds a hang.
READ_TIMEOUT_S = {"live": 60, "endpoint": 600}


class PreflightError(RuntimeError):
    """The live or endpoint setup cannot work; the message says what is wrong and how to fix it."""


def utc_timestamp(value: Any) -> datetime.datetime:
    """botocore's response timestamp parser, with epoch numbers read as UTC: botocore's default reads them in
    ``dateutil``'s local zone, 142-167 ms per 10,000-record GetRecords page against 41-43 ms (issue 23); text
    timestamps (S3's, ISO 8601 with their own zone) go to botocore's parser as before."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return botocore.utils.parse_timestamp(value)


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
    #: (service, URL) for the services whose endpoint botocore's own settings name (AWS_ENDPOINT_URL_<SERVICE>,
    #: the config file's ``services`` section): those win over ``endpoint_url``.
    service_endpoints: tuple[tuple[str, str], ...] = ()
    #: (service, what the probe answered) for the services an endpoint does not serve (their tests are skipped).
    unserved: tuple[tuple[str, str], ...] = ()
    name: str = ""  # what the report calls it (--kinesis-backend-name); the label when not set

    @property
    def offline(self) -> bool:
        return self.kind == "moto"

    def session(self) -> boto3.Session:
        """A boto3 session for this backend (explicit region, and credentials where dummy ones are used). Its
        clients read epoch-number timestamps (Kinesis's ``ApproximateArrivalTimestamp``, on the JSON protocol) as UTC
        datetimes (:func:`utc_timestamp`), the same instants botocore gives in the local zone at a third of the cost."""
        kwargs: dict[str, Any] = {"region_name": self.region}
        if self.profile:
            kwargs["profile_name"] = self.profile
        if self.dummy_credentials:
            kwargs.update(DUMMY_CREDENTIALS)
        core = botocore_session()
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=utc_timestamp)
        return boto3.Session(botocore_session=core, **kwargs)

    def client(self, service: str, *, retries: bool = True, session: boto3.Session | None = None) -> BaseClient:
        """A client for ``service``; ``retries=False`` gives the one-attempt client limit probes need."""
        config = Config(
            retries=_RETRYING if retries else _NO_RETRY,
            connect_timeout=10,
            read_timeout=READ_TIMEOUT_S.get(self.kind, READ_TIMEOUT_S["live"]),
            max_pool_connections=MAX_IN_FLIGHT,  # botocore's default 10 would serialise a throughput test's calls
            user_agent_extra="pytest-kinesis-limits",
        )
        if self.offline:  # moto in-process: never an AWS_ENDPOINT_URL* the user's shell may hold
            config = config.merge(Config(ignore_configured_endpoint_urls=True))
        kwargs: dict[str, Any] = {"config": config}
        if self.endpoint_url and service not in dict(self.service_endpoints):
            kwargs["endpoint_url"] = self.endpoint_url
        return (session or self.session()).client(service, **kwargs)

    def serves(self, service: str) -> bool:
        """Whether this backend answers ``service`` (an endpoint may serve Kinesis only)."""
        return service not in dict(self.unserved)

    def why_unserved(self, service: str) -> str:
        """What the endpoint answered to the probe of ``service`` ("" when it serves it)."""
        return dict(self.unserved).get(service, "")

    def describe(self) -> str:
        """One line for the report header (never credentials)."""
        named = f"{self.name} ({self.label})" if self.name and self.name != self.label else self.label
        parts = [f"backend={named}", f"region={self.region}"]
        if self.account_id:
            parts.append(f"account={self.account_id}")
        if self.profile:
            parts.append(f"profile={self.profile}")
        if self.endpoint_url:
            parts.append(f"endpoint={self.endpoint_url}")
        parts += [f"{service}={url}" for service, url in self.service_endpoints]
        if self.kind == "endpoint" and not self.arn:
            parts.append("identity=none (no STS)")
        return " ".join(parts)


def offline_backend(settings: Settings) -> Backend:
    """The moto backend: dummy credentials, the configured region or us-east-1."""
    return Backend(
        kind="moto",
        label=settings.backend_label,
        region=offline_region(settings),
        account_id=OFFLINE_ACCOUNT,
        dummy_credentials=True,
        name=settings.effective_backend_name,
    )




@dataclass(frozen=True)
class Wording:
    """How the caller's options are spelled in preflight messages (pytest's by default; ``sweep`` has its own)."""

    region: str = "--aws-region"
    profile: str = "--aws-profile"
    endpoint_url: str = "--aws-endpoint-url"
    live: str | None = "--live"  # None: the caller has no such switch (sweep is live unless --endpoint-url)
    what: str = "run"  # what the caller does: "the live run", "the live sweep"

    def flag(self, setting: str) -> str:
        return str(getattr(self, setting.removeprefix("aws_")))


PYTEST_WORDING = Wording()


def _source(settings: Settings, name: str, wording: Wording) -> str:
    """Where a setting came from, naming the caller's own option when it came from the command line."""
    source = settings.source_of(name)
    if source.startswith("the command line"):
        return f"the command line ({wording.flag(name)})"
    return source


def _region_fix(settings: Settings, wording: Wording = PYTEST_WORDING) -> str:
    return (f"pass {wording.region} REGION, set KINESIS_LIMITS_AWS_REGION, AWS_REGION or AWS_DEFAULT_REGION, "
            "or give the profile a region in ~/.aws/config")


def preflight(settings: Settings, wording: Wording = PYTEST_WORDING) -> Backend:
    """Check a live or endpoint setup and return its backend, or raise :class:`PreflightError`.

    Checks, in order: the profile exists, a region is known (and, live, is a real Kinesis region),
    credentials exist (an endpoint falls back to dummy ones), and STS GetCallerIdentity answers.
    ``wording`` spells the caller's options in the messages (``sweep`` passes its own).
    """
    kind = settings.backend_kind
    if kind == "moto":
        return offline_backend(settings)
    profile = settings.aws_profile
    try:
        base = _base_session(profile, local_only=kind == "endpoint")
    except ProfileNotFound:
        raise PreflightError(
            f"AWS profile {profile!r} (from {_source(settings, 'aws_profile', wording)}) does not exist. "
            "Fix: create it with 'aws configure --profile NAME', or name one listed by 'aws configure list-profiles'."
        ) from None
    region, region_source = resolve_region(settings, base)
    if settings.aws_region:
        region_source = _source(settings, "aws_region", wording)
    if not region:
        raise PreflightError(f"no AWS region is set for the {kind} {wording.what}. "
                             f"Fix: {_region_fix(settings, wording)}.")
    problem = region_problem(region) if kind == "live" else None
    if problem:
        raise PreflightError(f"region {region!r} (from {region_source}) {problem} Fix: {_region_fix(settings, wording)}.")
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
            offline = f"; or drop {wording.live} to run offline on moto" if wording.live else ""
            raise PreflightError(
                f"no AWS credentials were found{' for ' + wording.live if wording.live else ''}. Fix: run "
                f"'aws configure' (or 'aws sso login'), set AWS_PROFILE or {wording.profile}, or export "
                f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY{offline}."
            )
        dummy = True  # emulators accept any credentials
    backend = Backend(
        kind=kind,
        label=settings.backend_label,
        region=region,
        profile=profile,
        endpoint_url=settings.aws_endpoint_url,
        dummy_credentials=dummy,
        name=settings.effective_backend_name,
    )
    return _identify(backend)


def _base_session(profile: str | None, *, local_only: bool) -> boto3.Session:
    """A session on the default credential chain; ``local_only`` drops the instance-metadata and container
    providers, so that an endpoint run never sends a request off this machine looking for credentials."""
    core = botocore_session(profile)
    if profile:
        core.get_scoped_config()  # raises ProfileNotFound now rather than at the first call
    if local_only:
        resolver = core.get_component("credential_provider")
        for name in ("iam-role", "container-role"):
            resolver.remove(name)
    return boto3.Session(botocore_session=core)


def _identify(backend: Backend) -> Backend:
    """Ask STS who we are (live); an endpoint goes to :func:`_identify_endpoint`."""
    if backend.kind == "endpoint":
        return _identify_endpoint(backend)
    where = f"AWS in {backend.region}"
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
            f"cannot connect to {where}. Fix: check the network, --aws-region, and any AWS_ENDPOINT_URL* "
            "setting that sends STS elsewhere."
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise PreflightError(
            f"{where} refused the credentials ({code}: {exc.response.get('Error', {}).get('Message', '')}). "
            "Fix: refresh them ('aws sso login', new keys, or the right --aws-profile)."
        ) from None
    except BotoCoreError as exc:
        raise PreflightError(f"the identity check against {where} failed: {exc}") from None
    return replace(backend, account_id=identity.get("Account"), arn=identity.get("Arn"))


#: The services a family needs besides Kinesis, each with a cheap read-only call that answers only where the
#: service is served. An endpoint that fails the call does not serve it: the tests needing it are skipped.
SERVICE_PROBES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "firehose": ("Firehose", "list_delivery_streams", {"Limit": 1}),
    "s3": ("S3", "list_buckets", {}),
    "iam": ("IAM", "list_roles", {"MaxItems": 1}),
    "opensearch": ("OpenSearch Service", "list_domain_names", {}),
}
#: The services whose own endpoint settings (AWS_ENDPOINT_URL_<SERVICE>, config ``services``) the suite honours.
SERVICES = ("kinesis", "firehose", "s3", "iam", "sts", "opensearch")

START_AN_ENDPOINT = (
    "start one on 127.0.0.1: 'pytest-kinesis-limits serve --port 4567' (moto with the fidelity layer), or "
    "'pytest-kinesis-limits emulator kinesalite' / 'pytest-kinesis-limits emulator kinesis-mock' (the npm "
    "emulators, installed and started for you; 'tox -e kinesalite' runs the whole suite against one)")


def configured_service_endpoints(profile: str | None, services: tuple[str, ...] = SERVICES) -> dict[str, str]:
    """The endpoints botocore's own per-service settings give ``services``: AWS_ENDPOINT_URL_<SERVICE>, then the
    config file's ``services`` section (its per-service ``endpoint_url``). The global ones (AWS_ENDPOINT_URL, a
    profile's ``endpoint_url``) are left out: --aws-endpoint-url is this run's global endpoint. Nothing when
    ``ignore_configured_endpoint_urls`` is set (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS or the profile)."""
    core = botocore_session(profile)
    if core.get_config_variable("ignore_configured_endpoint_urls"):
        return {}
    scoped = {key: value for key, value in core.get_scoped_config().items() if key != "endpoint_url"}
    environ = {key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"}
    found = {}
    for service in services:
        url = ConfiguredEndpointProvider(full_config=core.full_config, scoped_config=scoped, client_name=service,
                                         environ=environ).provide()
        if url:
            found[service] = url
    return found


def _answer(exc: Exception) -> str:
    """A failed call in one line: the error code and message, or the exception."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.get("Code") or "no error code"
        message = error.get("Message") or "no message"
        return f"HTTP {status}, {code}: {message}"
    return f"{type(exc).__name__}: {exc}"


def _identify_endpoint(backend: Backend) -> Backend:
    """An endpoint: STS GetCallerIdentity where it answers; on any STS failure (kinesalite and kinesis-mock serve
    no STS) Kinesis ListStreams must answer instead. Then each other service is probed once: the ones that do not
    answer are recorded in ``unserved`` (their tests are skipped and reported as unsupported)."""
    try:
        endpoints = configured_service_endpoints(backend.profile)
    except BotoCoreError as exc:  # e.g. a profile naming a services section that does not exist
        raise PreflightError(f"botocore's endpoint settings cannot be read: {exc}. Fix: correct ~/.aws/config "
                             "(the profile's 'services' section) or unset AWS_CONFIG_FILE.") from None
    backend = replace(backend, service_endpoints=tuple(sorted(endpoints.items())))
    sts = backend.client("sts", retries=False)
    try:
        identity = sts.get_caller_identity()
        backend = replace(backend, account_id=identity.get("Account"), arn=identity.get("Arn"))
    except (BotoCoreError, ClientError, ResponseParserError) as sts_error:
        kinesis = backend.client("kinesis", retries=False)
        url = kinesis.meta.endpoint_url
        try:
            kinesis.list_streams(Limit=1)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            tried = (f"STS GetCallerIdentity at {sts.meta.endpoint_url} answered {_answer(sts_error)}; Kinesis "
                     f"ListStreams at {url} answered {_answer(exc)}")
            if isinstance(exc, EndpointConnectionError):
                raise PreflightError(
                    f"cannot connect to the endpoint {url} ({tried}). Fix: check --aws-endpoint-url (and "
                    f"AWS_ENDPOINT_URL_KINESIS), or {START_AN_ENDPOINT}.") from None
            raise PreflightError(
                f"the endpoint {url} does not answer as Kinesis ({tried}). Fix: check that --aws-endpoint-url "
                "(or AWS_ENDPOINT_URL_KINESIS) names a Kinesis endpoint and that it accepts these credentials, "
                f"or {START_AN_ENDPOINT}.") from None
    unserved = []
    for service, (title, call, kwargs) in SERVICE_PROBES.items():
        client = backend.client(service, retries=False)
        try:
            getattr(client, call)(**kwargs)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            unserved.append((service, f"{title} at {client.meta.endpoint_url}: "
                                      f"{''.join(w.title() for w in call.split('_'))} answered {_answer(exc)}"))
    return replace(backend, unserved=tuple(unserved))
