"""CrossAccountRole: a role in a target account that exactly one central execution role may assume."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from mwaa_platform._internal.kinds import check_each, check_kind
from mwaa_platform._internal.managed_policy_role import ManagedPolicyRole
from mwaa_platform._internal.tokens import is_unresolved
from mwaa_platform.errors import MwaaPlatformError, shorten, validating

__all__ = ["MAX_SESSION_HOURS", "CrossAccountRole", "check_actions", "check_role_arn", "check_role_name"]

#: IAM's upper bound on a role's MaxSessionDuration.
MAX_SESSION_HOURS = 12
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
#: service:Action; a wildcard may complete a name (glue:Get*), never stand for the service's every action.
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
MIN_REASON_LENGTH = 20


def check_role_arn(field: str, arn: str) -> str:
    """Raise unless ``arn`` is an IAM role ARN; return its account."""
    match = _ROLE_ARN.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise MwaaPlatformError(f"{field} must be an IAM role ARN like arn:aws:iam::111111111111:role/payments-prod-exec, "
                                f"got {shorten(arn)}")
    return match.group(1)


def check_actions(field: str, actions: Sequence[str]) -> None:
    """Raise unless each of ``actions`` is ``service:Action``: no ``*``, no service-wide ``service:*``.

    A wildcard inside a name (``glue:Get*``) is allowed; tokens pass. The registry's cross-account
    statements and ``CrossAccountRole``'s ``statements`` are held to this one rule.
    """
    if isinstance(actions, str) or not isinstance(actions, (list, tuple)):
        raise MwaaPlatformError(f"{field} must be a list of IAM actions (service:Action), got {shorten(actions)}")
    for action in actions:
        if is_unresolved(action):
            continue
        if not isinstance(action, str) or not _ACTION.match(action) or action.endswith(":*"):
            raise MwaaPlatformError(f"{field} must be service:Action (no service:*), got {shorten(action)}")


def check_role_name(field: str, name: str) -> None:
    if not isinstance(name, str) or not _ROLE_NAME.match(name):
        raise MwaaPlatformError(f"{field} must be 1-64 letters, digits and +=,.@_-, got {shorten(name)}")


def check_statements(field: str, statements: Sequence[iam.PolicyStatement]) -> None:
    """Raise unless ``statements`` are ``iam.PolicyStatement`` whose Allow actions pass ``check_actions``."""
    check_each(field, statements, iam.PolicyStatement)
    for index, statement in enumerate(statements):
        if statement.effect != iam.Effect.ALLOW:
            continue  # a Deny narrows: a wildcard there takes away, never gives
        if statement.not_actions:
            raise MwaaPlatformError(
                f"{field}[{index}] allows not_actions {shorten(list(statement.not_actions))}: an Allow with NotAction "
                "grants every other action of every service; list the actions (service:Action) instead")
        check_actions(f"{field}[{index}].actions", list(statement.actions))


class CrossAccountRole(Construct):
    """A role in the target account whose trust names exactly one central role.

    The trust policy's principal is the central execution role's ARN, never an account, unless
    ``trust_account_root_reason`` opts in (then the account root, narrowed by ``aws:PrincipalArn``).
    Its permissions come only from ``statements`` and grants (``role`` is an ``iam.IGrantable`` whose
    grants land in one managed policy).

    IAM refuses a trust policy that names a role that does not exist yet: deploy the central
    environment's stack first. If the central role is ever replaced, redeploy this stack too (IAM
    keeps the old role's unique id in the trust policy).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        central_role_arn: str,
        role_name: str,
        statements: Sequence[iam.PolicyStatement] = (),
        external_id: Optional[str] = None,
        organization_id: Optional[str] = None,
        max_session_duration: Duration = Duration.hours(1),
        permissions_boundary: Optional[iam.IManagedPolicy] = None,
        tag_session: bool = False,
        source_identity: bool = False,
        trust_account_root_reason: Optional[str] = None,
        description: Optional[str] = None,
    ) -> None:
        """
        :param central_role_arn: the central environment's execution role (a fixed name, so it is
            known before that stack is deployed).
        :param role_name: this role's fixed name, which the central side's connection names.
        :param statements: what the central environment may do here. An Allow statement names its
            actions as ``service:Action`` (``glue:Get*`` is fine): ``*``, ``service:*`` and
            ``not_actions`` are refused, as the registry refuses them. Default: nothing (grant later).
        :param external_id: require ``sts:ExternalId``. Default: none.
        :param organization_id: require the caller to be in this AWS Organization (``aws:PrincipalOrgID``). Default: none.
        :param max_session_duration: 1-12 hours. Default: one hour.
        :param permissions_boundary: a boundary on the role. Default: none.
        :param tag_session: also trust ``sts:TagSession`` (session tags). Default: False.
        :param source_identity: also trust ``sts:SetSourceIdentity``. Default: False.
        :param trust_account_root_reason: trust the central account's root, narrowed by an
            ``aws:PrincipalArn`` condition, so that this stack deploys before the central role
            exists; give the reason a reviewer will read. Default: none (the role ARN is the principal).
        :param description: the role's description. Default: one naming the central role.
        """
        with validating(scope, construct_id):
            central_account = check_role_arn("central_role_arn", central_role_arn)
            check_role_name("role_name", role_name)
            check_statements("statements", statements)
            check_kind("max_session_duration", max_session_duration, Duration)
            check_kind("permissions_boundary", permissions_boundary, iam.IManagedPolicy, optional=True)
            if external_id is not None and (not isinstance(external_id, str) or not _EXTERNAL_ID.match(external_id)):
                raise MwaaPlatformError(f"external_id must be 2-1224 letters, digits and +=,.@:/-, got {shorten(external_id)}")
            if organization_id is not None and (not isinstance(organization_id, str)
                                                or not _ORG_ID.match(organization_id)):
                raise MwaaPlatformError(f"organization_id must look like o-a1b2c3d4e5, got {shorten(organization_id)}")
            hours = max_session_duration.to_hours() if isinstance(max_session_duration, Duration) else None
            if hours is None or not 1 <= hours <= MAX_SESSION_HOURS:
                raise MwaaPlatformError(
                    f"max_session_duration must be 1-{MAX_SESSION_HOURS} hours, got {shorten(max_session_duration)}")
            if trust_account_root_reason is not None and len(str(trust_account_root_reason).strip()) < MIN_REASON_LENGTH:
                raise MwaaPlatformError(
                    f"trust_account_root_reason must say why (at least {MIN_REASON_LENGTH} characters), got "
                    f"{shorten(trust_account_root_reason)}")
        super().__init__(scope, construct_id)
        conditions: dict[str, dict[str, object]] = {}
        if external_id is not None:
            conditions.setdefault("StringEquals", {})["sts:ExternalId"] = external_id
        if organization_id is not None:
            conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = organization_id
        if trust_account_root_reason is not None:
            principal: iam.PrincipalBase = iam.AccountPrincipal(central_account)
            conditions.setdefault("ArnEquals", {})["aws:PrincipalArn"] = central_role_arn
        else:
            principal = iam.ArnPrincipal(central_role_arn)
        trusted: iam.PrincipalBase = principal.with_conditions(conditions) if conditions else principal
        if tag_session:
            trusted = trusted.with_session_tags()
        self.central_role_arn = central_role_arn
        self.trust_account_root_reason = trust_account_root_reason
        self.role = ManagedPolicyRole(
            self, "Role", policy_id="Permissions", role_name=role_name, assumed_by=trusted,
            max_session_duration=max_session_duration, permissions_boundary=permissions_boundary,
            description=description or f"Assumed by {central_role_arn} only (mwaa-platform cross-account access)",
            policy_description=f"What {central_role_arn} may do in this account",
        )
        if source_identity:
            self.role.assume_role_policy.add_statements(iam.PolicyStatement(  # type: ignore[union-attr]
                actions=["sts:SetSourceIdentity"], principals=[principal], conditions=conditions or None))
        for statement in statements:
            self.role.add_to_principal_policy(statement)

    @property
    def role_arn(self) -> str:
        return self.role.role_arn

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self.role
