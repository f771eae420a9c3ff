"""ARNs of MWAA resources, built from the environment name so no resource waits on another."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from constructs import IConstruct



def environment_arn(scope: IConstruct, environment_name: str) -> str:
    """``arn:PARTITION:airflow:REGION:ACCOUNT:environment/NAME``."""
    return Stack.of(scope).format_arn(
        service="airflow", resource="environment", resource_name=environment_name,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def airflow_role_arn(scope: IConstruct, environment_name: str, airflow_role: str) -> str:
    """``arn:PARTITION:airflow:REGION:ACCOUNT:role/NAME/ROLE``; the caller has checked ROLE."""
    return Stack.of(scope).format_arn(
        service="airflow", resource="role", resource_name=f"{environment_name}/{airflow_role}",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def log_group_prefix_arn(scope: IConstruct, environment_name: str) -> str:
    """``arn:...:logs:REGION:ACCOUNT:log-group:airflow-NAME-*``: the environment's log groups and streams."""
    return Stack.of(scope).format_arn(
        service="logs", resource="log-group", resource_name=f"airflow-{environment_name}-*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def celery_queue_arn(scope: IConstruct) -> str:
    """``arn:...:sqs:REGION:*:airflow-celery-*``: the queue MWAA creates in an AWS service account."""
    return Stack.of(scope).format_arn(service="sqs", account="*", resource="airflow-celery-*")
