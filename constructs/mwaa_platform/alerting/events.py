"""FailureEvents: EventBridge rules that tell a team's topic when its environment or its task compute fails.

Each rule matches only this team's resources, named in the pattern: its environment's ARN, its
ECS clusters' ARNs, its Batch job queues' ARNs. The patterns are module functions so that tests
(and readers) can hold them against AWS's sample events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import jsii
from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct

from mwaa_platform.alerting.topic import AlertTopicBase, AnyTopic, alert_topic_of, check_topic
from mwaa_platform.errors import MwaaPlatformError, shorten, validating

__all__ = [
    "FAILED_ENVIRONMENT_STATUSES", "FailureEvents", "batch_job_failed_pattern", "ecs_task_failed_pattern",
    "environment_status_pattern",
]

#: The environment states that need a person (the MWAA API's EnvironmentStatus).
FAILED_ENVIRONMENT_STATUSES = ("CREATE_FAILED", "UPDATE_FAILED", "UNAVAILABLE")


def environment_status_pattern(environment_arn: str) -> dict[str, Any]:
    """MWAA's "Environment Status Change" of one environment to a failed state.

    MWAA names the environment in the event's ``resources``. Its documentation does not spell the
    status field of ``detail``, so both ``Status`` (as the MWAA API) and ``status`` are matched.
    """
    statuses = list(FAILED_ENVIRONMENT_STATUSES)
    return {
        "source": ["aws.airflow"], "detail-type": ["MWAA Environment Status Change"], "resources": [environment_arn],
        "detail": {"$or": [{"Status": statuses}, {"status": statuses}]},
    }


def ecs_task_failed_pattern(cluster_arns: Sequence[str]) -> dict[str, Any]:
    """An ECS task of these clusters stopped with a non-zero exit code, or failed to start."""
    return {
        "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": list(cluster_arns), "lastStatus": ["STOPPED"],
            "$or": [{"containers": {"exitCode": [{"anything-but": 0}]}}, {"stopCode": ["TaskFailedToStart"]}],
        },
    }


def batch_job_failed_pattern(job_queue_arns: Sequence[str]) -> dict[str, Any]:
    """A Batch job of these job queues FAILED (after its last attempt)."""
    return {
        "source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
        "detail": {"status": ["FAILED"], "jobQueue": list(job_queue_arns)},
    }


class FailureEvents(Construct):
    """Up to three rules to ``topic``, each with a message a person can act on (and a console link)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: AnyTopic,
        environment_name: Optional[str] = None,
        ecs_cluster_arns: Sequence[str] = (),
        batch_job_queue_arns: Sequence[str] = (),
    ) -> None:
        """
        :param topic: where the messages go: an ``AlertTopic`` (or ``AlertTopic.from_topic_arn``) or any
            ``sns.ITopic``; each rule is allowed to publish there (an imported topic's owner must allow it).
        :param environment_name: an MWAA environment of this account and Region. Default: none.
        :param ecs_cluster_arns: the team's ECS clusters. Default: none.
        :param batch_job_queue_arns: the team's Batch job queues. Default: none.
        """
        with validating(scope, construct_id):
            check_topic("topic", topic)
            if environment_name is None and not ecs_cluster_arns and not batch_job_queue_arns:
                raise MwaaPlatformError("FailureEvents needs environment_name, ecs_cluster_arns or batch_job_queue_arns, "
                                        f"got none of them ({shorten(construct_id)})")
        super().__init__(scope, construct_id)
        alert_topic = alert_topic_of(topic, self)
        stack = Stack.of(self)
        console = f"https://{stack.region}.console.aws.amazon.com"
        self.rules: dict[str, events.Rule] = {}
        if environment_name is not None:
            arn = stack.format_arn(service="airflow", resource="environment", resource_name=environment_name)
            self._rule(alert_topic, "EnvironmentStatus", f"MWAA environment {environment_name} failed",
                       environment_status_pattern(arn), events.RuleTargetInput.from_text(
                           f"MWAA environment {environment_name} ({stack.region}) changed to a failed state. Event "
                           f"detail: {events.EventField.from_path('$.detail')}. Console: "
                           f"{console}/mwaa/home?region={stack.region}#environments/{environment_name}"))
        if ecs_cluster_arns:
            self._rule(alert_topic, "EcsTaskFailed", "ECS tasks of the team stopped with an error",
                       ecs_task_failed_pattern(ecs_cluster_arns), events.RuleTargetInput.from_text(
                           f"ECS task {events.EventField.from_path('$.detail.taskArn')} of "
                           f"{events.EventField.from_path('$.detail.group')} (started by "
                           f"{events.EventField.from_path('$.detail.startedBy')}) stopped: "
                           f"{events.EventField.from_path('$.detail.stoppedReason')}. Console: "
                           f"{console}/ecs/v2/clusters?region={stack.region}"))
        if batch_job_queue_arns:
            self._rule(alert_topic, "BatchJobFailed", "Batch jobs of the team failed",
                       batch_job_failed_pattern(batch_job_queue_arns), events.RuleTargetInput.from_text(
                           f"Batch job {events.EventField.from_path('$.detail.jobName')} "
                           f"({events.EventField.from_path('$.detail.jobId')}) failed: "
                           f"{events.EventField.from_path('$.detail.statusReason')}. Console: "
                           f"{console}/batch/home?region={stack.region}#jobs/detail/"
                           f"{events.EventField.from_path('$.detail.jobId')}"))

    def _rule(self, topic: AlertTopicBase, construct_id: str, description: str, pattern: dict[str, Any],
              message: events.RuleTargetInput) -> None:
        rule = events.Rule(self, construct_id, description=description, event_pattern=_event_pattern(pattern))
        rule.add_target(_TopicTarget(topic, message))
        topic.allow_rule(rule.rule_arn)
        self.rules[construct_id] = rule


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The topic as a rule target, without the unconditioned ``events.amazonaws.com`` publish grant
    that ``aws_events_targets.SnsTopic`` adds: ``AlertTopicBase.allow_rule`` admits this rule only."""

    def __init__(self, topic: AlertTopicBase, message: events.RuleTargetInput) -> None:
        self.topic, self.message = topic, message

    def bind(self, rule: "events_refs.IRuleRef", id: Optional[str] = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self.topic.topic_arn, input=self.message)


def _event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """The L2 pattern of ``pattern``; ``detail`` (with its ``$or``) goes through as it is."""
    return events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                               resources=pattern.get("resources"), detail=pattern.get("detail"))
