"""A team's MWAA Serverless workflows in one stage (registry ``serverless_workflows``)."""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from mwaa_platform.serverless import ServerlessWorkflow
from stacks.registry import ServerlessSpec, retention


class ServerlessStack(Stack):
    """The team's workflows of one stage: a role, a log group and versioned objects each, in one bucket
    under one key of the team's. No MWAA environment runs them; a team may have both, or only these
    (``serverless_only``)."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: ServerlessSpec, **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         description=f"MWAA Serverless workflows of team {spec.team} ({spec.stage.name})",
                         termination_protection=spec.stage.production, **kwargs)
        self.spec = spec
        self.workflows: dict[str, ServerlessWorkflow] = {}
        first: Optional[ServerlessWorkflow] = None
        for name, settings in spec.workflows:
            workflow = ServerlessWorkflow(
                self, f"Workflow-{name}", definition=settings.definition, workflow_name=name,
                code_package=settings.code_package, derive_grants=settings.derive_grants,
                description=settings.description, log_retention=retention(settings.log_retention_days),
                # the team's workflows share the first one's bucket and key: both are the team's alone
                bucket=first.bucket if first is not None else None, key=first.key if first is not None else None,
            )
            first = first or workflow
            self.workflows[name] = workflow
            CfnOutput(self, f"WorkflowArn-{name}", value=workflow.workflow_arn,
                      description=f"MWAA Serverless workflow {name}: start runs with StartWorkflowRun")
