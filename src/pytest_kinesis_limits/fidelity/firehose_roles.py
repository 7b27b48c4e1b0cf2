"""Offline: a new IAM role Firehose cannot use yet (IAM eventual consistency), on moto 5.2.x.

IAM is eventually consistent ("changes ... take time to become visible", IAM user guide,
troubleshoot_general.html#troubleshoot_general_eventual-consistency): for a while after CreateRole, Firehose
refuses CreateDeliveryStream with ``InvalidArgumentException`` because it cannot assume the role yet, and for a
while after PutRolePolicy / AttachRolePolicy because the role may not read the source yet. AWS documents
neither the wordings nor the time; :class:`RolePropagation` answers with the wordings seen in the field
(:data:`pytest_kinesis_limits.firehose.PROPAGATION_MESSAGES` lists them with their sources) for
``lifecycle.iam.propagation_s`` of the clock (catalogue).

Only roles created while the simulation is on are tracked (a role made before it, or in another account, is
taken as propagated); the role's policies themselves are not evaluated.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pytest_kinesis_limits.clock import Clock
from pytest_kinesis_limits.fidelity.moto_adapter import IAMBackend, InvalidArgumentException, original, patch_all

#: Firehose's refusals of a role whose trust policy is not visible yet, in the order the simulation gives them:
#: both wordings have been seen for the same condition, so a client must accept either.
TRUST_NOT_PROPAGATED = (
    "The security token included in the request is invalid. Ensure that the provided IAM role associated with "
    "firehose is not deleted.",
    "Firehose is unable to assume role {role_arn}. Please check the role provided.",
)
#: Firehose's refusal of a role whose permissions are not visible yet (its first check: DescribeStream).
POLICY_NOT_PROPAGATED = "Role {role_arn} is not authorized to perform: kinesis:DescribeStream on resource: {stream_arn}."


@dataclass
class _Role:
    arn: str
    created_at: float
    policy_at: float | None = None
    refusals: int = 0


class RolePropagation:
    """When each role was created and given a policy, on ``clock``; refuses roles younger than the window."""

    def __init__(self, clock: Clock, propagation_s: float, *, account_id: str | None = None) -> None:
        self.clock = clock
        self.propagation_s = propagation_s
        self.account_id = account_id
        self.refused: list[tuple[str, str]] = []
        """Every refusal given: (role ARN, message)."""
        self._roles: dict[tuple[str, str], _Role] = {}
        self._lock = threading.Lock()

    def created(self, account_id: str, name: str, arn: str) -> None:
        """Note CreateRole of ``name`` now."""
        if self.account_id in (None, account_id):
            with self._lock:
                self._roles[(account_id, name)] = _Role(arn, self.clock.now())

    def policy_changed(self, account_id: str, name: str) -> None:
        """Note PutRolePolicy / AttachRolePolicy on ``name`` now."""
        with self._lock:
            role = self._roles.get((account_id, name))
            if role is not None:
                role.policy_at = self.clock.now()

    def check(self, account_id: str, role_arns: Iterable[str], stream_arn: str) -> None:
        """Raise Firehose's ``InvalidArgumentException`` if any of ``role_arns`` is not usable yet."""
        now = self.clock.now()
        for arn in dict.fromkeys(a for a in role_arns if a):
            with self._lock:
                role = self._roles.get((account_id, arn.rsplit("/", 1)[-1]))
                if role is None or role.arn != arn:
                    continue
                if now < role.created_at + self.propagation_s:
                    message = TRUST_NOT_PROPAGATED[role.refusals % len(TRUST_NOT_PROPAGATED)]
                elif role.policy_at is not None and now < role.policy_at + self.propagation_s:
                    message = POLICY_NOT_PROPAGATED
                else:
                    continue
                role.refusals += 1
                text = message.format(role_arn=arn, stream_arn=stream_arn)
                self.refused.append((arn, text))
            raise InvalidArgumentException(text)


def role_arns(source: dict[str, Any] | None, destinations: Iterable[dict[str, Any] | None]) -> list[str]:
    """The role ARNs a CreateDeliveryStream request names: the source's and each destination's (and backups')."""
    arns = [(source or {}).get("RoleARN", "")]
    for config in destinations:
        for part in (config or {}, (config or {}).get("S3Configuration") or {},
                     (config or {}).get("S3BackupConfiguration") or {}):
            arns.append(part.get("RoleARN", ""))
    return [a for a in arns if a]


@contextlib.contextmanager
def track_roles(propagation: RolePropagation) -> Iterator[RolePropagation]:
    """Patch moto's IAM backend so that ``propagation`` sees every CreateRole, PutRolePolicy and
    AttachRolePolicy (class-level ``mock.patch.object``, undone on exit; chains with other patches)."""
    original_create = original("IAMBackend.create_role")
    original_put = original("IAMBackend.put_role_policy")
    original_attach = original("IAMBackend.attach_role_policy")

    def create_role(self: IAMBackend, role_name: str, *args: Any, **kwargs: Any) -> Any:
        role = original_create(self, role_name, *args, **kwargs)
        propagation.created(self.account_id, role.name, role.arn)
        return role

    def put_role_policy(self: IAMBackend, role_name: str, *args: Any, **kwargs: Any) -> Any:
        result = original_put(self, role_name, *args, **kwargs)
        propagation.policy_changed(self.account_id, role_name)
        return result

    def attach_role_policy(self: IAMBackend, policy_arn: str, role_name: str, *args: Any, **kwargs: Any) -> Any:
        result = original_attach(self, policy_arn, role_name, *args, **kwargs)
        propagation.policy_changed(self.account_id, role_name)
        return result

    with contextlib.ExitStack() as stack:
        patch_all(stack, [("IAMBackend.create_role", create_role), ("IAMBackend.put_role_policy", put_role_policy),
                          ("IAMBackend.attach_role_policy", attach_role_policy)])
        yield propagation
