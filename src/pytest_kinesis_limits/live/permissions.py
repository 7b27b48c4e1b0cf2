"""The IAM permissions a live run needs, least privilege: the policy, and the action each API call needs (issue 20).

Every resource the tool makes is named ``<prefix>-<run id>-<worker>-...`` (``--kinesis-prefix``, default ``pkl``), so
the policy scopes each statement to names starting with the prefix where the action takes a resource; the actions
that take none (``kinesis:ListStreams``, ``s3:ListAllMyBuckets``, ``sts:GetCallerIdentity``, ...) get ``*``. Beyond
the obvious:

- CreateStream with ``Tags`` needs ``kinesis:AddTagsToStream`` too (the CreateStream reference); RegisterStreamConsumer
  with ``Tags`` needs ``kinesis:TagResource``;
- CreateDeliveryStream with ``Tags`` needs ``firehose:TagDeliveryStream``, and naming a role needs ``iam:PassRole``,
  granted here only to Firehose (``iam:PassedToService``);
- CreateRole with ``Tags`` needs ``iam:TagRole``; S3 ListObjectsV2 is ``s3:ListBucket``, DeleteObjects is
  ``s3:DeleteObject``, ListBuckets is ``s3:ListAllMyBuckets``; OpenSearch's actions are ``es:``.

:func:`action_of` maps a botocore call to the actions it needs; ``tests/plugin/test_permissions.py`` records every
call the live code path makes over HTTP (against ``serve``) and checks each is granted by :func:`policy`, and fails
when an action is taken out. docs/live-budget.md prints the policy (``pytest-kinesis-limits policy``).
Library code: no pytest, no boto3.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from typing import Any

#: botocore service name -> IAM service prefix.
IAM_PREFIX = {"kinesis": "kinesis", "firehose": "firehose", "s3": "s3", "iam": "iam", "opensearch": "es",
              "sts": "sts"}
#: Operations whose IAM action is not the operation's own name.
RENAMED = {
    ("s3", "ListObjectsV2"): ("s3:ListBucket",), ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "HeadBucket"): ("s3:ListBucket",), ("s3", "ListBuckets"): ("s3:ListAllMyBuckets",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",), ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
}
#: Actions a call needs besides its own when it carries a parameter (CreateStream with Tags, ...).
WITH_PARAMETER = {
    ("kinesis", "CreateStream", "Tags"): ("kinesis:AddTagsToStream",),
    ("kinesis", "RegisterStreamConsumer", "Tags"): ("kinesis:TagResource",),
    ("firehose", "CreateDeliveryStream", "Tags"): ("firehose:TagDeliveryStream",),
    ("iam", "CreateRole", "Tags"): ("iam:TagRole",),
    ("opensearch", "CreateDomain", "TagList"): ("es:AddTags",),
}
#: Parameters that pass an IAM role to a service (iam:PassRole), by call.
PASSES_ROLE = {("firehose", "CreateDeliveryStream"), ("firehose", "UpdateDestination")}


def action_of(service: str, operation: str, params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The IAM actions a call needs."""
    params = params or {}
    actions = list(RENAMED.get((service, operation), (f"{IAM_PREFIX.get(service, service)}:{operation}",)))
    actions += [action for (svc, op, name), extra in WITH_PARAMETER.items()
                if (svc, op) == (service, operation) and params.get(name) for action in extra]
    if (service, operation) in PASSES_ROLE and "RoleARN" in json.dumps(params, default=str):
        actions.append("iam:PassRole")
    return tuple(actions)


def policy(prefix: str = "pkl") -> dict[str, Any]:
    """The least-privilege policy document of a run whose resources start with ``prefix``."""
    name = f"{prefix}-*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "KinesisStreamsOfTheRun", "Effect": "Allow", "Action": [
                "kinesis:CreateStream", "kinesis:DeleteStream", "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:AddTagsToStream",
                "kinesis:ListTagsForStream", "kinesis:PutRecord", "kinesis:PutRecords", "kinesis:GetShardIterator",
                "kinesis:GetRecords", "kinesis:SplitShard", "kinesis:MergeShards", "kinesis:UpdateShardCount",
                "kinesis:RegisterStreamConsumer", "kinesis:DeregisterStreamConsumer",
                "kinesis:DescribeStreamConsumer", "kinesis:ListStreamConsumers", "kinesis:SubscribeToShard",
                "kinesis:TagResource", "kinesis:ListTagsForResource"],
             "Resource": [f"arn:aws:kinesis:*:*:stream/{name}", f"arn:aws:kinesis:*:*:stream/{name}/consumer/*"]},
            {"Sid": "KinesisListing", "Effect": "Allow", "Action": ["kinesis:ListStreams"], "Resource": "*"},
            # sweep reads the consumers of every stream of the region (make_consumer may use a stream of the user's)
            # and deregisters the run's, which are named with the prefix.
            {"Sid": "ConsumersOfTheRunOnAnyStream", "Effect": "Allow", "Action": ["kinesis:ListStreamConsumers"],
             "Resource": "arn:aws:kinesis:*:*:stream/*"},
            {"Sid": "ConsumersOfTheRunByName", "Effect": "Allow", "Action": [
                "kinesis:ListTagsForResource", "kinesis:DeregisterStreamConsumer"],
             "Resource": f"arn:aws:kinesis:*:*:stream/*/consumer/{name}"},
            {"Sid": "FirehoseOfTheRun", "Effect": "Allow", "Action": [
                "firehose:CreateDeliveryStream", "firehose:DeleteDeliveryStream", "firehose:DescribeDeliveryStream",
                "firehose:UpdateDestination", "firehose:TagDeliveryStream", "firehose:ListTagsForDeliveryStream"],
             "Resource": f"arn:aws:firehose:*:*:deliverystream/{name}"},
            {"Sid": "FirehoseListing", "Effect": "Allow", "Action": ["firehose:ListDeliveryStreams"], "Resource": "*"},
            {"Sid": "BucketsOfTheRun", "Effect": "Allow", "Action": [
                "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging", "s3:GetBucketTagging",
                "s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:PutObject",
                "s3:DeleteObject", "s3:DeleteObjectVersion"],
             "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]},
            {"Sid": "BucketListing", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": "*"},
            {"Sid": "FirehoseRolesOfTheRun", "Effect": "Allow", "Action": [
                "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:ListRoleTags",
                "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
                "iam:DetachRolePolicy"],
             "Resource": f"arn:aws:iam::*:role/{name}"},
            {"Sid": "PassTheRolesToFirehoseOnly", "Effect": "Allow", "Action": ["iam:PassRole"],
             "Resource": f"arn:aws:iam::*:role/{name}",
             "Condition": {"StringEquals": {"iam:PassedToService": "firehose.amazonaws.com"}}},
            {"Sid": "RoleListing", "Effect": "Allow", "Action": ["iam:ListRoles"], "Resource": "*"},
            {"Sid": "SearchDomainsOfTheRun", "Effect": "Allow", "Action": [
                "es:CreateDomain", "es:DeleteDomain", "es:DescribeDomain", "es:AddTags", "es:ListTags",
                "es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpHead"],
             "Resource": [f"arn:aws:es:*:*:domain/{name}", f"arn:aws:es:*:*:domain/{name}/*"]},
            {"Sid": "SearchListing", "Effect": "Allow", "Action": ["es:ListDomainNames"], "Resource": "*"},
            {"Sid": "Identity", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
        ],
    }


def granted_actions(document: Mapping[str, Any]) -> set[str]:
    """Every action the document's Allow statements name (patterns kept as written)."""
    actions: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") == "Allow":
            named = statement.get("Action", [])
            actions.update([named] if isinstance(named, str) else named)
    return actions


def missing(needed: Iterable[str], document: Mapping[str, Any]) -> list[str]:
    """The actions of ``needed`` no Allow statement of ``document`` names (IAM's ``*`` wildcards honoured,
    case-insensitively as IAM compares actions)."""
    granted = [a.lower() for a in granted_actions(document)]
    return sorted({a for a in needed if not any(fnmatch.fnmatchcase(a.lower(), g) for g in granted)})


# ------------------------------------------------------------------------------------------------ the live check
#: The condition of the PassRole statement, as the simulation's context.
_PASSED_TO_FIREHOSE = [{"ContextKeyName": "iam:PassedToService", "ContextKeyValues": ["firehose.amazonaws.com"],
                        "ContextKeyType": "string"}]


def principal_arn(caller_arn: str) -> str | None:
    """The IAM principal a caller's STS identity stands for (an assumed role's role; None for the root user, which
    the simulation does not take and which may do anything)."""
    parts = caller_arn.split(":", 5)
    if len(parts) < 6:
        return None
    partition, account, resource = parts[1], parts[4], parts[5]
    if resource == "root":
        return None
    if resource.startswith("assumed-role/"):
        return f"arn:{partition}:iam::{account}:role/{resource.split('/')[1]}"
    return caller_arn


def _sample(resource: str, prefix: str, region: str, account: str) -> str:
    """A concrete resource the statement covers: the run's names stand for ``<prefix>-*``."""
    arn = resource.replace(f"{prefix}-*", f"{prefix}-permission-check")
    arn = arn.replace("consumer/*", "consumer/permission-check:0").replace(":*:*:", f":{region}:{account}:")
    return arn.replace("::*:", f"::{account}:").replace("/*", "/permission-check")


def simulation_requests(prefix: str, region: str, account: str) -> list[dict[str, Any]]:
    """The SimulatePrincipalPolicy requests (without PolicySourceArn) that cover :func:`policy`: one per statement,
    its actions against concrete resources of the run's names, PassRole with its condition's context."""
    requests = []
    for statement in policy(prefix)["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        request: dict[str, Any] = {"ActionNames": list(statement["Action"])}
        if resources != ["*"]:
            request["ResourceArns"] = [_sample(r, prefix, region, account) for r in resources]
        if "Condition" in statement:
            request["ContextEntries"] = _PASSED_TO_FIREHOSE
        requests.append(request)
    return requests


class PermissionCheckError(RuntimeError):
    """The permissions could not be checked (the caller may not simulate, an unknown principal); says why."""


def denied_actions(iam: Any, caller_arn: str, prefix: str, region: str, account: str) -> list[str]:
    """The actions of :func:`policy` IAM says the caller may not call on the run's resources (an ``iam`` client:
    ``simulate_principal_policy``). An action allowed on any of its statement's resources counts as allowed."""
    principal = principal_arn(caller_arn)
    if principal is None:
        return []
    denied: set[str] = set()
    for request in simulation_requests(prefix, region, account):
        try:
            pages = iam.get_paginator("simulate_principal_policy").paginate(PolicySourceArn=principal, **request)
            results = [result for page in pages for result in page.get("EvaluationResults", [])]
        except Exception as exc:  # noqa: BLE001 - any failure: the check could not be made, say which
            error = getattr(exc, "response", {}).get("Error", {})
            code = error.get("Code") or type(exc).__name__
            raise PermissionCheckError(
                f"IAM SimulatePrincipalPolicy for {principal} failed ({code}: {error.get('Message') or exc}). Fix: "
                "grant the caller iam:SimulatePrincipalPolicy on itself, or drop --kinesis-check-permissions") \
                from None
        for result in results:
            allowed = result.get("EvalDecision") == "allowed" or any(
                r.get("EvalResourceDecision") == "allowed" for r in result.get("ResourceSpecificResults", []))
            if not allowed:
                denied.add(str(result.get("EvalActionName")))
    return sorted(denied)


__all__ = ["IAM_PREFIX", "PermissionCheckError", "action_of", "denied_actions", "granted_actions", "missing", "policy",
           "principal_arn", "simulation_requests"]
