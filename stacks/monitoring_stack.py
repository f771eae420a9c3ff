"""The summary dashboard of one account and Region: every MWAA environment there, side by side."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from mwaa_platform.alerting import PlatformDashboard
from stacks.registry import NetworkSpec, PlatformSettings


class MonitoringStack(Stack):
    """A ``PlatformDashboard`` named ``<platform>-<region>``; its own stack, so onboarding a team
    changes the dashboard without touching the network."""

    def __init__(self, scope: Construct, construct_id: str, *, platform: PlatformSettings, spec: NetworkSpec,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=f"{platform.name}: summary dashboard of every environment",
                         **kwargs)
        self.dashboard = PlatformDashboard(
            self, "Summary", dashboard_name=f"{platform.name}-{spec.region}",
            environment_names=[env.environment_name for env in platform.environments_of(spec)])
