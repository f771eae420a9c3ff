"""ARNs of MWAA resources, built from the environment name so no resource waits on another."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from constructs import IConstruct

#: Airflow roles that MWAA maps IAM principals to for the web UI and REST API.
AIRFLOW_ROLES = ("Admin", "Op", "User", "Viewer", "Public")


def environment_arn(scope: IConstruct, environment_name: str) -> str:
    """``arn:PARTITION:airflow:REGION:ACCOUNT:environment/NAME``."""
    return Stack.of(scope).format_arn(
        service="airflow", resource="environment", resource_name=environment_name,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def airflow_role_arn(scope: IConstruct, environment_name: str, airflow_role: str) -> str:
    """``arn:PARTITION:airflow:REGION:ACCOUNT:role/NAME/ROLE``; ROLE is one of ``AIRFLOW_ROLES``."""
    if airflow_role not in AIRFLOW_ROLES:
        raise ValueError(f"airflow_role must be one of {', '.join(AIRFLOW_ROLES)}, got {airflow_role!r}")
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
