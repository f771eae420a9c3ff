"""The example platform stack: a mw1.micro development environment and a mw1.large production one.

Until the shared network stack lands, the environments attach to an existing VPC described in
cdk.json's context (``mwaa-platform:vpc``). Replace those ids with your VPC's before deploying.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from mwaa_platform import AirflowEnvironment, SecretsManagerBackend

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class ExamplePlatformStack(Stack):
    """Two MWAA environments on an existing VPC, with the example DAGs and requirements."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc_attributes: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=vpc_attributes["vpcId"],
            availability_zones=vpc_attributes["availabilityZones"],
            private_subnet_ids=vpc_attributes["privateSubnetIds"],
            private_subnet_route_table_ids=vpc_attributes["privateSubnetRouteTableIds"],
        )
        common = dict(
            vpc=vpc,
            airflow_version="2.11.0",
            dags=str(EXAMPLES / "dags"),
            requirements=str(EXAMPLES / "team" / "requirements.txt"),
        )
        self.dev = AirflowEnvironment(
            self, "Dev", environment_name="analytics-dev", environment_class="mw1.micro",
            tags={"team": "analytics", "stage": "dev"}, **common,
        )
        self.prod = AirflowEnvironment(
            self, "Prod", environment_name="analytics-prod", environment_class="mw1.large",
            max_workers=10, weekly_maintenance_window_start="SUN:03:00",
            secrets_backend=SecretsManagerBackend(connections_lookup_pattern="^analytics_"),
            statsd_allow_list=["scheduler", "executor", "dagrun"],
            tags={"team": "analytics", "stage": "prod"}, **common,
        )
