"""The roles of one target account and Region, each trusted by exactly one central execution role."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from mwaa_platform.compliance import acknowledge, wildcard_resource_finding
from mwaa_platform.cross_account import CrossAccountRole
from stacks.registry import EnvironmentSpec, PlatformSettings, TargetRoleSpec


class TargetAccessStack(Stack):
    """``CrossAccountRole``s in a target account; deploy it with that account's credentials, after the
    central environments' stacks (IAM refuses to trust a role that does not exist yet)."""

    def __init__(self, scope: Construct, construct_id: str, *, platform: PlatformSettings,
                 roles: Sequence[tuple[EnvironmentSpec, TargetRoleSpec]], **kwargs: Any) -> None:
        centrals = sorted({env.environment_name for env, _ in roles})
        super().__init__(scope, construct_id, description=f"{platform.name}: roles assumed by MWAA environments "
                                                          f"{', '.join(centrals)}", **kwargs)
        self.roles: dict[str, CrossAccountRole] = {}
        for env, spec in roles:
            target = spec.target
            construct_id = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", spec.role_name) if part)
            role = CrossAccountRole(
                self, construct_id, central_role_arn=env.execution_role_arn, role_name=spec.role_name,
                external_id=target.external_id, organization_id=target.organization_id,
                max_session_duration=Duration.hours(target.max_session_hours),
                trust_account_root_reason=target.trust_account_root_reason,
                statements=[iam.PolicyStatement(actions=list(s.actions), resources=list(s.resources))
                            for s in target.statements],
            )
            for statement in target.statements:
                wildcards = [resource for resource in statement.resources if "*" in resource]
                if wildcards and statement.wildcard_reason:
                    acknowledge(role.role.policy, [wildcard_resource_finding(self, resource) for resource in wildcards],
                                statement.wildcard_reason)
                # the registry refuses a wildcard action without its reason (wildcard_action_reason)
                actions = [action for action in statement.actions if "*" in action]
                if actions and statement.wildcard_action_reason:
                    acknowledge(role.role.policy, [f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]" for action in actions],
                                statement.wildcard_action_reason)
            self.roles[spec.role_name] = role
