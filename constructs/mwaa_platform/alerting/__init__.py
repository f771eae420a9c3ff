"""Alerting: a team's encrypted alert topic, alarms on MWAA's real metrics, failure events from its
environment and task compute, dashboards, and a cost budget on its tag (``docs/alerting.md``)."""

from mwaa_platform.alerting.alarms import (
    ALARMS,
    AlarmOverride,
    AlarmOverrides,
    AlarmSettings,
    AlarmThresholds,
    EnvironmentAlarms,
    alarms_markdown,
    check_statsd_filters,
)
from mwaa_platform.alerting.budget import TeamBudget
from mwaa_platform.alerting.dashboard import PlatformDashboard, TeamDashboard
from mwaa_platform.alerting.events import (
    FAILED_ENVIRONMENT_STATUSES,
    FailureEvents,
    batch_job_failed_pattern,
    ecs_task_failed_pattern,
    environment_status_pattern,
)
from mwaa_platform.alerting.topic import (
    AlertSubscriptions,
    AlertTopic,
    AlertTopicBase,
    AnyTopic,
    SlackChannel,
    alert_topic_of,
)

__all__ = [
    "ALARMS", "FAILED_ENVIRONMENT_STATUSES", "AlarmOverride", "AlarmOverrides", "AlarmSettings", "AlarmThresholds",
    "AlertSubscriptions", "AlertTopic", "AlertTopicBase", "AnyTopic", "alert_topic_of",
    "EnvironmentAlarms", "FailureEvents", "PlatformDashboard", "SlackChannel", "TeamBudget", "TeamDashboard",
    "alarms_markdown", "batch_job_failed_pattern", "check_statsd_filters", "ecs_task_failed_pattern", "environment_status_pattern",
]
