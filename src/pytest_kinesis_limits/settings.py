"""Settings: one stem per setting, read from the command line, the environment and the ini file.

Each setting has a command-line option, an ini key (``kinesis_<name>``) and an environment variable
(``KINESIS_LIMITS_<NAME>``), one help text, and the precedence command line > environment > ini >
default. A bad value is reported with the source that held it and how to fix it. Standard AWS
variables (``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` ...) are left to botocore; ``AWS_REGION`` and
``AWS_DEFAULT_REGION``, of which botocore reads only the second, are read by ``regions.resolve_region``.

This module imports neither pytest nor boto3: the plugin feeds it the raw values.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "KINESIS_LIMITS_"
INI_PREFIX = "kinesis_"


class SettingError(ValueError):
    """A setting holds a value that cannot be used; the message names the source and the fix."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def parse_region(raw: str) -> str:
    value = raw.strip()
    if not _REGION.match(value):
        raise ValueError("expected an AWS region code such as us-east-1 or ap-northeast-2")
    return value


def parse_profile(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("expected a profile name from ~/.aws/config")
    return value


def parse_url(raw: str) -> str:
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL such as http://127.0.0.1:5000")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError("the port is not a number from 0 to 65535") from None
    return value.rstrip("/")


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,11}$")


def parse_prefix(raw: str) -> str:
    value = raw.strip()
    if not _PREFIX.match(value):
        raise ValueError("expected 1-12 characters: a lower-case letter, then lower-case letters, digits or '-' "
                         "(it starts every resource name, and S3 bucket names allow no more)")
    return value


def parse_positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number") from None
    if not value > 0:
        raise ValueError("expected a number greater than 0")
    return value


def parse_scale(raw: str) -> float:
    """A factor of 0 or more (``--kinesis-lifecycle-scale``, ``serve --lifecycle-scale``)."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number such as 1, 0.01 or 0") from None
    if not 0 <= value < float("inf"):
        raise ValueError("expected a finite number, 0 or more (1: AWS's typical durations, 0: none)")
    return value


def parse_fraction(raw: str) -> float:
    value = parse_positive_float(raw)
    if value >= 1:
        raise ValueError("expected a fraction between 0 and 1, such as 0.1 for 10 %")
    return value


def _whole_number(raw: str, *, not_a_number: str, out_of_range: str, most: int | None = None) -> int:
    """A whole number from 1 to ``most`` (no bound: None), each refusal saying what was expected."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(not_a_number) from None
    if not value.is_integer() or value < 1 or (most is not None and value > most):
        raise ValueError(out_of_range)
    return int(value)


def parse_whole_seconds(raw: str) -> int:
    return _whole_number(raw, not_a_number="expected a whole number of seconds, such as 5",
                         out_of_range="expected a whole number of seconds, at least 1 (rates are counted per whole "
                         "second of arrival)")


#: The longest per-test timeout: pytest-timeout's signal timer overflows beyond about 2**31 seconds on Linux (it
#: raised OverflowError inside the run for 1e20); a year is far past any test and far below that.
MAX_TIMEOUT_S = 365 * 24 * 3600


def parse_timeout(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of seconds, such as 300 (0 turns the timeout off)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("expected a finite number of seconds, such as 300; to run without a per-test timeout "
                         "give 0 (pytest-timeout takes no infinity)")
    if value > MAX_TIMEOUT_S:
        raise ValueError(f"at most {MAX_TIMEOUT_S} seconds (a year; pytest-timeout's timer overflows beyond that); "
                         "to run without a per-test timeout give 0")
    return value


def parse_tick(raw: str) -> float:
    value = parse_positive_float(raw)
    if value > 1:
        raise ValueError("expected a number of seconds greater than 0 and at most 1, such as 0.1 (a longer tick "
                         "sends more than a second's budget at once)")
    return value


#: The most calls a throughput test keeps in flight; the clients' connection pool holds as many (backends.py).
MAX_IN_FLIGHT = 64


def parse_in_flight(raw: str) -> int:
    return _whole_number(raw, most=MAX_IN_FLIGHT,
                         not_a_number=f"expected a whole number of calls from 1 to {MAX_IN_FLIGHT}",
                         out_of_range=f"expected a whole number of calls from 1 to {MAX_IN_FLIGHT} (each call in "
                         "flight holds one of the client's pooled connections)")


def parse_count(raw: str) -> int:
    """A whole number of 1 or more (``--kinesis-swarm-workers``, ``--kinesis-swarm-shards``)."""
    expected = "expected a whole number, 1 or more, such as 4"
    return _whole_number(raw, not_a_number=expected, out_of_range=expected)


def parse_layer_scale(raw: str) -> float:
    """A factor greater than 0 and at most 1 (``--kinesis-swarm-layer-scale``)."""
    value = parse_positive_float(raw)
    if value > 1:
        raise ValueError("expected a factor greater than 0 and at most 1, such as 0.1 (the offline layer's per-shard "
                         "write limits are scaled down so one machine can offer a multiple of them; 1: the "
                         "catalogue's)")
    return value


def parse_cost(raw: str) -> float | None:
    """``--kinesis-max-cost-usd``: US dollars (0 or more), or ``off`` for no budget guard."""
    value = raw.strip().lower()
    if value in ("off", "none"):
        return None
    try:
        usd = float(value.removeprefix("$"))
    except ValueError:
        raise ValueError("expected an amount of US dollars such as 1.00 or 0.25, or 'off'") from None
    if not 0 <= usd < float("inf"):
        raise ValueError("expected a finite amount, 0 or more")
    return usd


_BACKEND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,47}$")


def parse_backend_name(raw: str) -> str:
    value = raw.strip()
    if not _BACKEND_NAME.match(value):
        raise ValueError("expected 1-48 characters: a letter or digit, then letters, digits or . _ @ + - "
                         "(for example kinesalite@3.3.3)")
    return value


@dataclass(frozen=True)
class Spec:
    """One setting: its name (the stem), command-line option, parser, default and help text."""

    name: str
    option: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    flag: bool = False
    metavar: str | None = None

    @property
    def ini(self) -> str:
        return INI_PREFIX + self.name

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SPECS: tuple[Spec, ...] = (
    Spec("live", "--live", "run against real AWS (boto3's default credential chain) instead of offline moto",
         parse_bool, default=False, flag=True),
    Spec("aws_region", "--aws-region", "AWS region for --live and --aws-endpoint-url runs (default: AWS_REGION, "
         "then AWS_DEFAULT_REGION, then the profile's region; offline: us-east-1)", parse_region, metavar="REGION"),
    Spec("aws_profile", "--aws-profile", "AWS profile for --live runs (default: AWS_PROFILE or the default "
         "profile)", parse_profile, metavar="NAME"),
    Spec("aws_endpoint_url", "--aws-endpoint-url", "run the live code path against this Kinesis-compatible "
         "endpoint (moto server, LocalStack, kinesis-mock); dummy credentials are used when none are "
         "configured", parse_url, metavar="URL"),
    Spec("fidelity", "--kinesis-fidelity", "offline only: 'on' makes moto behave like Kinesis where the suite "
         "depends on it (throttling, resharding, Firehose delivery); 'off' runs plain moto, whose known gaps "
         "become strict expected failures", parse_choice("on", "off"), default="on", metavar="on|off"),
    Spec("keep_resources", "--kinesis-keep-resources", "keep the streams, buckets and roles a test made, for "
         "debugging (they stay tagged for a later sweep)", parse_bool, default=False, flag=True),
    Spec("prefix", "--kinesis-prefix", "first part of every resource name", parse_prefix, default="pkl",
         metavar="PREFIX"),
    Spec("timeout", "--kinesis-timeout", "default timeout in seconds of the body of each test that uses the Kinesis "
         "fixtures (setup and teardown are bounded by the wait policy; default: 120 offline, 1800 live; 0 = none); "
         "a timeout marker or --timeout wins",
         parse_timeout, metavar="SECONDS"),
    Spec("report", "--kinesis-report", "also write the measurements as JSON to this file", str.strip,
         metavar="PATH"),
    Spec("rate_tolerance", "--kinesis-rate-tolerance", "throughput tests: how far above the documented rate "
         "the sustained accepted rate may be, as a fraction (default: 0.02 offline, 0.25 live: AWS documents "
         "'up to' and lets short bursts through)", parse_fraction, metavar="FRACTION"),
    Spec("rate_tolerance_below", "--kinesis-rate-tolerance-below", "throughput tests: how far below the "
         "documented rate the sustained accepted rate of an overloaded shard may be, as a fraction (default: "
         "0.02 offline, 0.25 live: AWS does not document how a shard enforces its quota within a second)",
         parse_fraction, metavar="FRACTION"),
    Spec("rate_window", "--kinesis-rate-window", "throughput tests: whole seconds of sustained writing measured "
         "after the first (burst) second (default: 3 offline, 5 on an endpoint, 20 live)", parse_whole_seconds,
         metavar="SECONDS"),
    Spec("rate_tick", "--kinesis-rate-tick", "throughput tests: the producer's pacing period in seconds, at "
         "most 1; each tick sends its share of the offered rate at once (default: 1 offline, 0.1 live)",
         parse_tick, metavar="SECONDS"),
    Spec("clock", "--kinesis-clock", "offline only: 'simulated' runs the offline layer on a simulated clock that "
         "time.sleep, botocore retries and waiters in the tests move at once (deterministic, fast); 'real' runs it "
         "on the wall clock", parse_choice("simulated", "real"), default="simulated", metavar="simulated|real"),
    Spec("check_permissions", "--kinesis-check-permissions", "live runs: before anything is made, ask IAM "
         "(SimulatePrincipalPolicy) whether the caller may call every action the suite uses on resources named with "
         "--kinesis-prefix, and stop naming each one it may not (the policy: 'pytest-kinesis-limits policy')",
         parse_bool, default=False, flag=True),
    Spec("search_domain", "--kinesis-search-domain", "live runs: let the tests marked kinesis_search_domain (the "
         "search_index family) create an OpenSearch Service domain, which takes 15-30 minutes and is billed per "
         "hour; without it they are skipped live (offline and against an endpoint they always run)", parse_bool,
         default=False, flag=True),
    Spec("rate_min_offered", "--kinesis-rate-min-offered", "throughput tests: the share of the target rate the "
         "service must have answered (on the client's clock, over the measured window) for a write verdict to "
         "count; below it the client could not offer the load and the verdict is 'inconclusive', never 'fail' "
         "(default: 0.75: a case offering twice the limit needs 1.5 times the limit answered)", parse_fraction,
         metavar="FRACTION"),
    Spec("rate_in_flight", "--kinesis-rate-in-flight", "throughput tests: PutRecords calls the producer keeps in "
         f"flight at once, 1-{MAX_IN_FLIGHT}, so that round trips longer than a tick do not lower the offered "
         "rate; above 1 the read-calls probe also sends its calls concurrently (default: 1 offline, where runs "
         "repeat exactly on the simulated clock; 16 live and against an endpoint)", parse_in_flight,
         metavar="CALLS"),
    Spec("backend_name", "--kinesis-backend-name", "the name this run's backend carries in the report header, the "
         "measurement table and the JSON report, so that reports from several emulators can sit side by side "
         "(default: moto, moto-plain, live or endpoint; known-gap markers always match those)",
         parse_backend_name, metavar="NAME"),
    Spec("plots", "--kinesis-plots", "write one PNG per throughput, resharding and Firehose test to this folder "
         "(needs matplotlib: pip install 'pytest-kinesis-limits[plots]')", str.strip, metavar="DIR"),
    Spec("report_html", "--kinesis-report-html", "write the summary, every measurement and the plots as one "
         "self-contained HTML page to this file", str.strip, metavar="PATH"),
    Spec("lifecycle_scale", "--kinesis-lifecycle-scale", "offline only: multiply the offline layer's lifecycle "
         "windows (streams CREATING, UPDATING, DELETING; delivery streams CREATING; IAM propagation) by this factor "
         "(default 1: the catalogue's typical durations, free on the simulated clock; with --kinesis-clock=real they "
         "are waited out for real, and 0.01 makes a 30 s window 0.3 s; 0: none)", parse_scale, default=1.0,
         metavar="FACTOR"),
    Spec("plan", "--kinesis-plan", "print the live budget and stop: run the selected tests offline on the simulated "
         "clock with a live run's settings and AWS's typical durations, and print per family the resources a live "
         "run makes, its wall time with the chosen -n, shard-hours and cost in the region (with --live or "
         "--aws-endpoint-url: after the preflight; nothing is made there)", parse_bool, default=False, flag=True),
    Spec("swarm_workers", "--kinesis-swarm-workers", "scale tests: the Locust worker processes the swarm starts on "
         "this machine, beside its master (needs pytest-kinesis-limits[load]; default 2)", parse_count, default=2,
         metavar="N"),
    Spec("swarm_master", "--kinesis-swarm-master", "scale tests: the web UI URL of a Locust master you run (with "
         "workers on any hosts: docs/scale.md) instead of a local swarm; it must run pytest-kinesis-limits' "
         "locustfile", parse_url, metavar="URL"),
    Spec("swarm_shards", "--kinesis-swarm-shards", "scale tests: the shards of the stream the swarm loads (default "
         "4)", parse_count, default=4, metavar="N"),
    Spec("swarm_layer_scale", "--kinesis-swarm-layer-scale", "offline only: the scale tests multiply the offline "
         "layer's per-shard write limits by this factor, so that one machine's swarm can offer twice them over HTTP; "
         "the report records it (default 0.1: 100 records/s and 0.1 MiB/s per shard; 1: the catalogue's)",
         parse_layer_scale, default=0.1, metavar="FACTOR"),
    Spec("max_cost_usd", "--kinesis-max-cost-usd", "live runs: refuse to start (a usage error, with the plan "
         "printed) when the plan's predicted cost exceeds this many US dollars (default 1.00; 'off': no guard)",
         parse_cost, default=1.0, metavar="USD"),
)

SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    """The resolved settings, with where each value came from."""

    live: bool = False
    aws_region: str | None = None
    aws_profile: str | None = None
    aws_endpoint_url: str | None = None
    fidelity: str = "on"
    keep_resources: bool = False
    prefix: str = "pkl"
    check_permissions: bool = False
    timeout: float | None = None
    report: str | None = None
    rate_tolerance: float | None = None
    rate_tolerance_below: float | None = None
    rate_window: int | None = None
    rate_tick: float | None = None
    clock: str = "simulated"
    search_domain: bool = False
    backend_name: str | None = None
    plots: str | None = None
    report_html: str | None = None
    lifecycle_scale: float = 1.0
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    rate_min_offered: float | None = None
    rate_in_flight: int | None = None
    plan: bool = False
    swarm_workers: int = 2
    swarm_master: str | None = None
    swarm_shards: int = 4
    swarm_layer_scale: float = 0.1
    max_cost_usd: float | None = 1.0

    @property
    def backend_kind(self) -> str:
        """``endpoint`` when an endpoint URL is set, else ``live`` with --live, else ``moto``."""
        if self.aws_endpoint_url:
            return "endpoint"
        return "live" if self.live else "moto"

    @property
    def offline(self) -> bool:
        return self.backend_kind == "moto"

    @property
    def backend_label(self) -> str:
        """What known-gap markers match: ``moto``, ``moto-plain`` (fidelity off), ``live`` or ``endpoint``."""
        kind = self.backend_kind
        if kind == "moto" and self.fidelity == "off":
            return "moto-plain"
        return kind

    @property
    def effective_backend_name(self) -> str:
        """What the report calls the backend: ``--kinesis-backend-name``, else the label."""
        return self.backend_name or self.backend_label

    @property
    def offline_shaped(self) -> bool:
        """Whether the offline defaults of the settings that shape a run apply: offline, except a plan's run
        (``--kinesis-plan``), which runs offline with a live run's defaults (window, tick, calls in flight,
        timeouts, tolerances) to predict it."""
        return self.offline and not self.plan

    @property
    def effective_timeout(self) -> float:
        if self.timeout is not None:
            return self.timeout
        return 120.0 if self.offline_shaped else 1800.0

    @property
    def effective_rate_tolerance(self) -> float:
        if self.rate_tolerance is not None:
            return self.rate_tolerance
        return 0.02 if self.offline_shaped else 0.25

    @property
    def effective_rate_tolerance_below(self) -> float:
        if self.rate_tolerance_below is not None:
            return self.rate_tolerance_below
        return 0.02 if self.offline_shaped else 0.25

    @property
    def effective_rate_window(self) -> int:
        if self.rate_window is not None:
            return self.rate_window
        if self.backend_kind == "endpoint":  # an emulator has no burst credit to outlast (AWS does: 20 s live)
            return 5
        return 3 if self.offline_shaped else 20

    @property
    def effective_rate_tick(self) -> float:
        if self.rate_tick is not None:
            return self.rate_tick
        return 1.0 if self.offline_shaped else 0.1

    @property
    def simulated_clock(self) -> bool:
        """Offline on the simulated clock (``--kinesis-clock=simulated``, the default offline)."""
        return self.offline and self.clock == "simulated"

    @property
    def effective_rate_min_offered(self) -> float:
        return 0.75 if self.rate_min_offered is None else self.rate_min_offered

    @property
    def effective_rate_in_flight(self) -> int:
        if self.rate_in_flight is not None:
            return self.rate_in_flight
        return 1 if self.offline_shaped else 16

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")


def _parse(spec: Spec, raw: Any, source: str) -> Any:
    if not isinstance(raw, str):  # a command-line flag already parsed by argparse
        return raw
    try:
        return spec.parse(raw)
    except ValueError as exc:
        fix = (f"Fix: give {spec.option} a valid value." if source.startswith(_CLI) else
               f"Fix it there, or override it with {spec.option} on the command line.")
        raise SettingError(f"invalid value {raw!r} for {spec.option} from {source}: {exc}. {fix}") from None


_CLI = "the command line"


def check_environment(env: Mapping[str, str]) -> None:
    """Raise :class:`SettingError` for a ``KINESIS_LIMITS_*`` variable that is no setting (a typo would otherwise be
    ignored without a word), naming the setting it most resembles."""
    known = {spec.env for spec in SPECS}
    for name in sorted(env):
        if name.startswith(ENV_PREFIX) and name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            hint = f" Did you mean {near[0]}?" if near else ""
            raise SettingError(
                f"unknown environment variable {name}: it is not a pytest-kinesis-limits setting.{hint} "
                f"Fix: rename or unset it (settings: {', '.join(sorted(known))}).")


def check_combinations(settings: Settings) -> None:
    """Raise :class:`SettingError` for settings that contradict each other (and would otherwise be ignored)."""
    if settings.live and settings.aws_endpoint_url:
        raise SettingError(
            f"--live (from {settings.source_of('live')}) and --aws-endpoint-url (from "
            f"{settings.source_of('aws_endpoint_url')}) contradict each other: --live runs against real AWS, an "
            "endpoint URL against an emulator. Fix: drop one of them (--no-live overrides an environment or ini "
            "value).")
    if not settings.offline and settings.fidelity == "off":
        raise SettingError(
            f"--kinesis-fidelity=off (from {settings.source_of('fidelity')}) applies to the offline backend (moto "
            f"in this process) only, and this is a {settings.backend_kind} run. Fix: drop it; to test plain moto "
            "over HTTP, run 'pytest-kinesis-limits serve --fidelity off' and point --aws-endpoint-url at it.")
    if not settings.offline and "lifecycle_scale" in settings.sources:
        raise SettingError(
            f"--kinesis-lifecycle-scale (from {settings.source_of('lifecycle_scale')}) scales the offline layer's "
            f"windows, and this is a {settings.backend_kind} run, whose lifecycle is the backend's own. Fix: drop "
            "it; for 'pytest-kinesis-limits serve' use its --lifecycle-scale.")
    if not settings.offline and "swarm_layer_scale" in settings.sources:
        raise SettingError(
            f"--kinesis-swarm-layer-scale (from {settings.source_of('swarm_layer_scale')}) scales the offline "
            f"layer's per-shard write limits, and this is a {settings.backend_kind} run, whose limits are the "
            "backend's own. Fix: drop it.")


def check_plan(settings: Settings) -> None:
    """Raise :class:`SettingError` for settings a plan cannot honour: it runs the offline layer on the simulated
    clock with the catalogue's typical durations."""
    if not settings.plan:
        return
    clashes = [(name, why) for name, wrong, why in (
        ("fidelity", settings.fidelity == "off", "plain moto has no lifecycle windows"),
        ("clock", settings.clock == "real", "the plan runs on the simulated clock"),
        ("lifecycle_scale", "lifecycle_scale" in settings.sources, "the plan uses AWS's typical durations"),
    ) if wrong]
    if clashes:
        name, why = clashes[0]
        option = SPEC_BY_NAME[name].option
        raise SettingError(
            f"--kinesis-plan (from {settings.source_of('plan')}) and {option} (from {settings.source_of(name)}) "
            f"contradict each other: {why}. Fix: drop {option} for the plan.")


def resolve(
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    ini: Mapping[str, Any],
    ini_file: str | None = None,
    overridden: frozenset[str] = frozenset(),
) -> Settings:
    """Resolve every setting with the precedence command line > environment > ini > default.

    ``cli`` maps setting names to the parsed option values (``None`` when not given), ``env`` is the
    process environment, ``ini`` maps setting names to raw ini values (``None`` or ``""`` when unset);
    ``overridden`` names the ini keys pytest's ``-o key=value`` set on the command line (named as such in messages).
    Raises :class:`SettingError` naming the source of the first bad value.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in SPECS:
        candidates = (
            (cli.get(spec.name), f"the command line ({spec.option})"),
            (env.get(spec.env), f"the environment variable {spec.env}"),
            (ini.get(spec.name), f"the command line (-o {spec.ini})" if spec.ini in overridden else
             f"the ini option {spec.ini}" + (f" in {ini_file}" if ini_file else "")),
        )
        for raw, source in candidates:
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue  # unset, or set to an empty string: fall through to the next source
            values[spec.name] = _parse(spec, raw, source)
            sources[spec.name] = source
            break
        else:
            values[spec.name] = spec.default
    check_environment(env)
    settings = Settings(**values, sources=sources)
    check_combinations(settings)
    check_plan(settings)
    return settings
