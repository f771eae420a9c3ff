"""Service principals with the confused-deputy conditions their services document."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def ecs_tasks_principal(scope: IConstruct) -> iam.IPrincipal:
    """``ecs-tasks.amazonaws.com``, only for ECS tasks of this account and Region: the trust policy the
    ECS developer guide gives for task and task execution roles (``aws:SourceArn`` ``arn:...:ecs:REGION:
    ACCOUNT:*`` and ``aws:SourceAccount``). AWS Batch's Fargate jobs are ECS tasks in this account too."""
    stack = Stack.of(scope)
    return iam.ServicePrincipal("ecs-tasks.amazonaws.com").with_conditions({
        "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:ecs:{stack.region}:{stack.account}:*"},
        "StringEquals": {"aws:SourceAccount": stack.account},
    })
