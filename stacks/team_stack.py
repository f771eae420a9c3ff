"""One team's stack: its MWAA environment on the shared network, tagged for cost attribution."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from mwaa_platform import AirflowEnvironment, NetworkAttributes, SharedAirflowNetwork
from stacks.registry import TeamSettings, WebIngress, retention


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
            schedulers=team.schedulers,
            min_workers=team.min_workers,
            max_workers=team.max_workers,
            min_webservers=team.min_webservers,
            max_webservers=team.max_webservers,
            weekly_maintenance_window_start=team.weekly_maintenance_window_start,
            airflow_configuration_options=team.airflow_configuration_options or None,
            secrets_backend=team.secrets_backend,
            log_retention=retention(team.log_retention_days),
            dags=team.dags,
            requirements=team.requirements,
            plugins=team.plugins,
            startup_script=team.startup_script,
            artifact_writers=team.artifact_writers,
        )
        # one managed policy per Airflow role, attached to every role granted it; a named policy for
        # IAM Identity Center permission sets, whose roles cannot be changed
        for grant in team.web_access:
            if grant.role_name is not None:
                role = iam.Role.from_role_name(self, f"WebAccess{grant.airflow_role}{grant.role_name}", grant.role_name)
                self.airflow.grant_web_login_to_roles([role], grant.airflow_role)
            else:
                self.airflow.grant_web_login_policy(grant.airflow_role, policy_name=grant.policy_name)
        for index, ingress in enumerate(team.web_ingress):
            self.airflow.allow_web_from(self._web_peer(index, ingress), description=ingress.description)

    def _web_peer(self, index: int, ingress: WebIngress) -> ec2.IConnectable | ec2.IPeer:
        if ingress.security_group_id is not None:
            return ec2.SecurityGroup.from_security_group_id(
                self, f"WebIngress{index}", ingress.security_group_id, mutable=False
            )
        if ingress.prefix_list_id is not None:
            return ec2.Peer.prefix_list(ingress.prefix_list_id)
        assert ingress.cidr is not None  # the registry allows exactly one of the three
        return ec2.Peer.ipv6(ingress.cidr) if ":" in ingress.cidr else ec2.Peer.ipv4(ingress.cidr)
