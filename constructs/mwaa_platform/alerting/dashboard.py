"""Dashboards: one per team and stage, and a summary of every environment in an account and Region.

The dashboard body is written as CloudWatch's own JSON (``PutDashboard``'s ``DashboardBody``), not
through ``aws_cloudwatch`` widget objects: the same dashboard for a handful of jsii calls instead of
one per metric and widget, which decides synthesis time for hundreds of teams.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from mwaa_platform.alerting.alarms import EnvironmentAlarms
from mwaa_platform.alerting.events import FailureEvents
from mwaa_platform._internal.kinds import check_kind
from mwaa_platform.environment.base import AIRFLOW_NAMESPACE, SERVICE_NAMESPACE, IAirflowEnvironment, check_environment
from mwaa_platform.errors import MwaaPlatformError, shorten, validating

__all__ = ["PlatformDashboard", "TeamDashboard", "check_dashboard_name"]

_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_PERIOD = 300
_WORKERS = ("BaseWorker", "AdditionalWorker")


def check_dashboard_name(name: str) -> None:
    if not isinstance(name, str) or not _DASHBOARD_NAME.match(name):
        raise MwaaPlatformError(f"dashboard_name must be 1-255 letters, digits, '-' and '_', got {shorten(name)}")


def _metric(namespace: str, name: str, dimensions: Mapping[str, Any], stat: str, label: str) -> list[Any]:
    """One line of a metric widget: namespace, name, dimension pairs, then its options."""
    return [namespace, name, *[part for pair in dimensions.items() for part in pair],
            {"stat": stat, "label": label, "period": _PERIOD}]


class _Layout:
    """Widgets placed left to right on a 24-column grid, a new row when one is full."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.widgets: list[dict[str, Any]] = []
        self.x, self.y, self.row_height = 0, 0, 0

    def add(self, kind: str, properties: dict[str, Any], width: int = 8, height: int = 6) -> None:
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        self.widgets.append({"type": kind, "x": self.x, "y": self.y, "width": width, "height": height,
                             "properties": properties})
        self.x, self.row_height = self.x + width, max(self.row_height, height)

    def graph(self, title: str, metrics: Sequence[list[Any]], width: int = 8) -> None:
        self.add("metric", {"view": "timeSeries", "title": title, "region": self.region, "metrics": list(metrics),
                            "period": _PERIOD}, width)

    def new_row(self) -> None:
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0


def _dashboard(scope: Construct, name: str, layout: _Layout) -> cloudwatch.CfnDashboard:
    # construct path Dashboard/Resource, as aws_cloudwatch.Dashboard would have it (same logical id)
    return cloudwatch.CfnDashboard(Construct(scope, "Dashboard"), "Resource", dashboard_name=name,
                                   dashboard_body=Stack.of(scope).to_json_string({"widgets": layout.widgets}))


class TeamDashboard(Construct):
    """Environment health, task throughput, worker utilization and compute failures of one team and stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        environment: Optional[IAirflowEnvironment] = None,
        alarms: Optional[EnvironmentAlarms] = None,
        failure_events: Optional[FailureEvents] = None,
    ) -> None:
        """
        :param dashboard_name: unique in the account, e.g. ``payments-prod``.
        :param environment: the team's environment (its health, throughput and workers). Default: none
            (a team on a shared environment watches its compute here; the shared one has its own).
        :param alarms: shown as an alarm status row. Default: none.
        :param failure_events: their rules' matches are the compute-failure graph. Default: none.
        """
        with validating(scope, construct_id):
            check_dashboard_name(dashboard_name)
            check_environment("environment", environment, optional=True)
            check_kind("alarms", alarms, EnvironmentAlarms, optional=True)
            check_kind("failure_events", failure_events, FailureEvents, optional=True)
        super().__init__(scope, construct_id)
        layout = _Layout(Stack.of(self).region)
        if alarms is not None:
            layout.add("alarm", {"title": "Alarms", "alarms": [alarm.attr_arn for alarm in alarms.alarms.values()]},
                       width=24, height=3)
        if environment is not None:
            env = {"Environment": environment.environment_name}
            layout.graph("Environment health: scheduler heartbeats", [
                _metric(AIRFLOW_NAMESPACE, "SchedulerHeartbeat", {**env, "Function": "Scheduler"}, "Sum", "heartbeats")])
            layout.graph("DAG files failing to import", [
                _metric(AIRFLOW_NAMESPACE, "ImportErrors", {**env, "Function": "DAG Processing"}, "Maximum", "errors")])
            layout.graph("Task throughput", [
                _metric(AIRFLOW_NAMESPACE, "QueuedTasks", {**env, "Function": "Executor"}, "Maximum", "queued"),
                _metric(AIRFLOW_NAMESPACE, "RunningTasks", {**env, "Function": "Executor"}, "Maximum", "running")])
            for title, metric in (("Worker CPU (%)", "CPUUtilization"), ("Worker memory (%)", "MemoryUtilization")):
                layout.graph(title, [_metric(SERVICE_NAMESPACE, metric, {**env, "Cluster": cluster}, "Average", cluster)
                                     for cluster in _WORKERS])
            layout.graph("Metadata database CPU (%)", [
                _metric(SERVICE_NAMESPACE, "CPUUtilization", {**env, "DatabaseRole": "WRITER"}, "Average", "WRITER")])
        if failure_events is not None and failure_events.rules:
            layout.new_row()
            layout.graph("Compute and environment failures (events)", [
                _metric("AWS/Events", "TriggeredRules", {"RuleName": rule.rule_name}, "Sum", name)
                for name, rule in failure_events.rules.items()], width=24)
        self.dashboard = _dashboard(self, dashboard_name, layout)


class PlatformDashboard(Construct):
    """Every environment of an account and Region side by side: heartbeats, queues, import errors, database."""

    def __init__(self, scope: Construct, construct_id: str, *, dashboard_name: str,
                 environment_names: Sequence[str]) -> None:
        """
        :param dashboard_name: unique in the account, e.g. ``mwaa-platform-eu-west-1``.
        :param environment_names: the MWAA environments of this account and Region.
        """
        with validating(scope, construct_id):
            check_dashboard_name(dashboard_name)
            if isinstance(environment_names, str) or not environment_names:
                raise MwaaPlatformError(f"environment_names must be a non-empty list, got {shorten(environment_names)}")
        super().__init__(scope, construct_id)
        names = list(environment_names)
        layout = _Layout(Stack.of(self).region)
        for title, namespace, metric, extra, stat in (
            ("Scheduler heartbeats", AIRFLOW_NAMESPACE, "SchedulerHeartbeat", {"Function": "Scheduler"}, "Sum"),
            ("Queued tasks", AIRFLOW_NAMESPACE, "QueuedTasks", {"Function": "Executor"}, "Maximum"),
            ("DAG import errors", AIRFLOW_NAMESPACE, "ImportErrors", {"Function": "DAG Processing"}, "Maximum"),
            ("Metadata database CPU (%)", SERVICE_NAMESPACE, "CPUUtilization", {"DatabaseRole": "WRITER"}, "Average"),
        ):
            layout.graph(title, [_metric(namespace, metric, {"Environment": name, **extra}, stat, name)
                                 for name in names], width=12)
        self.dashboard = _dashboard(self, dashboard_name, layout)
