"""The region rule, made once: which AWS region a run is about, and where that came from.

A live or endpoint run takes this plugin's setting (``--aws-region``, ``KINESIS_LIMITS_AWS_REGION``, the ini key), then
``AWS_REGION``, then ``AWS_DEFAULT_REGION``, then the AWS profile's ``region`` (:func:`resolve_region`); an offline run
takes the setting, else us-east-1 (moto's region is the plugin's choice, not the environment's). The preflight, the
plan's prices, the report's header and ``sweep`` all ask here (:func:`region_of`).

Light on purpose: the report header asks at every start, so botocore is imported only to read a profile.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_kinesis_limits.sdk import botocore_session

if TYPE_CHECKING:
    from pytest_kinesis_limits.settings import Settings

#: The region of offline runs (and of a plan when nothing names one).
OFFLINE_REGION = "us-east-1"

#: The standard region variables, strongest first. botocore (1.44) reads only AWS_DEFAULT_REGION (its
#: configprovider maps ``region`` to that one variable and the profile's ``region``), while the AWS CLI v2 and
#: the AWS SDKs and Tools reference name AWS_REGION, which "overrides the values in the environment variable
#: AWS_DEFAULT_REGION and the profile setting region" (docs.aws.amazon.com/cli/latest/userguide/
#: cli-configure-envvars.html, read 2026-05). The preflight reads both, in that order, so a user's region means
#: the same here as in the AWS CLI; every client then gets the region explicitly.
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


def resolve_region(settings: Settings, base: Any, environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The region of a live or endpoint run and where it came from: this plugin's setting (command line,
    KINESIS_LIMITS_AWS_REGION, ini), then AWS_REGION, then AWS_DEFAULT_REGION, then the profile's ``region``
    (``base``: a boto3 session on the run's profile, or anything with ``profile_name`` and ``region_name``)."""
    if settings.aws_region:
        return settings.aws_region, settings.source_of("aws_region")
    environ = os.environ if environ is None else environ
    for variable in REGION_VARIABLES:
        value = environ.get(variable, "").strip()
        if value:
            return value, f"the environment variable {variable}"
    profile = base.profile_name or "default"
    return base.region_name or None, f"the region of the AWS profile {profile!r}"


class _Profile:
    """``profile_name`` and ``region_name`` of an AWS profile, read with botocore alone (no credentials)."""

    def __init__(self, profile: str | None) -> None:
        import botocore.session
        from botocore.exceptions import ProfileNotFound

        self.profile_name = profile
        try:
            self.region_name = botocore.session.Session(profile=profile).get_scoped_config().get("region")
        except ProfileNotFound:
            self.region_name = None


def offline_region(settings: Settings) -> str:
    """The region of the offline backend (moto): the setting, else us-east-1."""
    return settings.aws_region or OFFLINE_REGION


def region_of(settings: Settings, backend: Any = None, environ: Mapping[str, str] | None = None) -> str:
    """The region a run is about: the checked backend's (``backend.region``); offline, the setting or us-east-1; a
    plan of a live run that met no preflight, the region that run would take (:func:`resolve_region`, the profile
    included), else us-east-1."""
    if backend is not None:
        return str(backend.region)
    if settings.offline and not settings.plan:
        return offline_region(settings)
    if settings.aws_region:
        return settings.aws_region
    environ = os.environ if environ is None else environ
    return resolve_region(settings, _Profile(settings.aws_profile), environ)[0] or OFFLINE_REGION


#: The partitions whose regions a run may name (the commercial one, China, GovCloud: the ones moto serves too).
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


def kinesis_regions() -> set[str]:
    """The regions where botocore's endpoint data offers Kinesis Data Streams, in every partition it knows of (the
    regions moto makes backends for, too)."""
    session = botocore_session()
    known: set[str] = set()
    for partition in PARTITIONS:
        known.update(session.get_available_regions("kinesis", partition_name=partition))
    return known


def region_problem(region: str) -> str | None:
    """Why ``region`` is no Kinesis region (with the nearest names), or None."""
    import difflib

    known = kinesis_regions()
    if region in known:
        return None
    near = difflib.get_close_matches(region, sorted(known), n=3)
    return "is not a region where Kinesis Data Streams is offered." + (f" Did you mean {', '.join(near)}?" if near
                                                                          else "")


__all__ = ["OFFLINE_REGION", "REGION_VARIABLES", "kinesis_regions", "offline_region", "region_of", "region_problem",
           "resolve_region"]
