"""One team's stack: its MWAA environment on the shared network, tagged for cost attribution."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from mwaa_platform import AirflowEnvironment, NetworkAttributes, SharedAirflowNetwork
from stacks.registry import TeamSettings, retention


class TeamStack(Stack):
    """The team's environment, execution role, key, bucket, logs and web access.

    The network is read from the network stack's SSM parameters at deployment (no exports).
    Task compute, alerting and cross-account access are wired here as their constructs land.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, team: TeamSettings, network: NetworkAttributes, **kwargs: Any
    ) -> None:
        super().__init__(
            scope, construct_id,
            description=f"MWAA environment {team.environment_name} of team {team.name} ({team.stage})",
            termination_protection=team.stage == "prod",
            **kwargs,
        )
        self.team = team
        shared = SharedAirflowNetwork(self, "Network", attributes=network)
        self.airflow = AirflowEnvironment(
            self,
            "Environment",
            environment_name=team.environment_name,
            network=shared,
            environment_class=team.environment_class,
            airflow_version=team.airflow_version,
            **team.capacity_options(),
            weekly_maintenance_window_start=team.weekly_maintenance_window_start,
            airflow_configuration_options=team.airflow_configuration_options or None,
            secrets_backend=team.secrets_backend,
            log_retention=retention(team.log_retention_days),
            dags=team.dags,
            requirements=team.requirements,
            plugins=team.plugins,
            startup_script=team.startup_script,
        )
        by_role: dict[str, list[str]] = defaultdict(list)
        for grant in team.web_access:
            by_role[grant.airflow_role].append(grant.role_name)
        for airflow_role, names in by_role.items():
            roles = [iam.Role.from_role_name(self, f"WebAccess{airflow_role}{name}", name) for name in names]
            self.airflow.grant_web_login_to_roles(roles, airflow_role)
