"""Dashboards: one per team and stage, and a summary of every environment in an account and Region."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from mwaa_platform.alerting.alarms import EnvironmentAlarms
from mwaa_platform.alerting.events import FailureEvents
from mwaa_platform.environment.base import AIRFLOW_NAMESPACE, SERVICE_NAMESPACE, AirflowEnvironmentBase
from mwaa_platform.errors import MwaaPlatformError, shorten, validating

__all__ = ["PlatformDashboard", "TeamDashboard", "check_dashboard_name"]

_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_FIVE_MINUTES = Duration.minutes(5)


def check_dashboard_name(name: str) -> None:
    if not isinstance(name, str) or not _DASHBOARD_NAME.match(name):
        raise MwaaPlatformError(f"dashboard_name must be 1-255 letters, digits, '-' and '_', got {shorten(name)}")


class TeamDashboard(Construct):
    """Environment health, task throughput, worker utilization and compute failures of one team and stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        environment: Optional[AirflowEnvironmentBase] = None,
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
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name,
                                              default_interval=Duration.hours(12))
        if alarms is not None:
            self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(alarms.alarms.values()), width=24, height=3))
        if environment is not None:
            env = environment
            self.dashboard.add_widgets(
                _graph("Environment health: scheduler heartbeats", [env.metric_scheduler_heartbeat()]),
                _graph("DAG files failing to import", [env.metric_import_errors()]),
                _graph("Task throughput", [env.metric_queued_tasks(label="queued"), env.metric_running_tasks(label="running")]),
            )
            self.dashboard.add_widgets(
                _graph("Worker CPU (%)", [env.metric_cpu_utilization(c, label=c) for c in ("BaseWorker", "AdditionalWorker")]),
                _graph("Worker memory (%)",
                       [env.metric_memory_utilization(c, label=c) for c in ("BaseWorker", "AdditionalWorker")]),
                _graph("Metadata database CPU (%)", [env.metric_database("CPUUtilization")]),
            )
        if failure_events is not None and failure_events.rules:
            self.dashboard.add_widgets(_graph("Compute and environment failures (events)", [
                cloudwatch.Metric(namespace="AWS/Events", metric_name="TriggeredRules", statistic="Sum",
                                  dimensions_map={"RuleName": rule.rule_name}, period=_FIVE_MINUTES, label=name)
                for name, rule in failure_events.rules.items()], width=24))


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

        def airflow(metric: str, function: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [cloudwatch.Metric(namespace=AIRFLOW_NAMESPACE, metric_name=metric, statistic=statistic,
                                      dimensions_map={"Environment": n, "Function": function}, label=n,
                                      period=_FIVE_MINUTES) for n in names]

        def service(metric: str, dimensions: dict[str, str], statistic: str) -> list[cloudwatch.IMetric]:
            return [cloudwatch.Metric(namespace=SERVICE_NAMESPACE, metric_name=metric, statistic=statistic,
                                      dimensions_map={"Environment": n, **dimensions}, label=n, period=_FIVE_MINUTES)
                    for n in names]

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name,
                                              default_interval=Duration.hours(12))
        self.dashboard.add_widgets(
            _graph("Scheduler heartbeats", airflow("SchedulerHeartbeat", "Scheduler", "Sum")),
            _graph("Queued tasks", airflow("QueuedTasks", "Executor", "Maximum")),
        )
        self.dashboard.add_widgets(
            _graph("DAG import errors", airflow("ImportErrors", "DAG Processing", "Maximum")),
            _graph("Metadata database CPU (%)", service("CPUUtilization", {"DatabaseRole": "WRITER"}, "Average")),
        )


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], width: int = 8) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width, height=6)
