"""The Step Functions state machine that starts a team's ECS task with the network the platform chose.

``ecs:RunTask`` has no IAM condition key for ``awsvpcConfiguration.securityGroups``: whoever may call
it picks the security groups (and subnets) ECS attaches to the task, another team's included. So a
DAG never calls RunTask. It starts an execution of this state machine, whose one Task state calls
RunTask (``.sync``) with the cluster, task definition family, subnets and security groups fixed in
the definition. The caller chooses only the container's command and environment variables
(``docs/compute.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from mwaa_platform._internal.cfn import cfn_resource
from mwaa_platform._internal.managed_policy_role import ManagedPolicyRole
from mwaa_platform.compliance.nag import acknowledge, wildcard_resource_finding



def overrides_expression(container_name: str) -> str:
    """What the caller may change, as a JSONata expression over the execution input
    ``{"command": [...], "environment": {NAME: VALUE}}``; both optional. Nothing else of the input is read:
    no role, size, network, family or other container."""
    return (
        f"{{% {{'ContainerOverrides': [{{'Name': '{container_name}', 'Command': $states.input.command, "
        "'Environment': $states.input.environment ~> $each(function($v, $k) {{'Name': $k, 'Value': $string($v)}}) "
        "~> $append([])}]} %}"
    )

#: The rule Step Functions manages to learn that a ``.sync`` ECS task stopped (Step Functions developer guide,
#: "IAM policies for Amazon ECS/Fargate").
_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"
#: State machine names: 1-80 letters, digits, '-' and '_' (a task family is 1-255 of the same).
STATE_MACHINE_NAME_MAX = 80
STATE_MACHINE_NAME = re.compile(rf"^[a-zA-Z0-9_-]{{1,{STATE_MACHINE_NAME_MAX}}}$")


class TaskLauncher(Construct):
    """A STANDARD state machine named ``name`` that runs one task of ``family`` and waits for it to stop."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        family: str,
        container_name: str,
        cluster: ecs.ICluster,
        subnets: Sequence[ec2.ISubnet],
        security_groups: Sequence[ec2.ISecurityGroup],
        pass_roles: Sequence[iam.IRole],
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.state_machine_arn = stack.format_arn(
            service="states", resource="stateMachine", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME)
        #: the ARN pattern of this state machine's executions (DescribeExecution's resource)
        self.executions_arn = stack.format_arn(
            service="states", resource="execution", resource_name=f"{name}:*", arn_format=ArnFormat.COLON_RESOURCE_NAME)
        tasks = stack.format_arn(service="ecs", resource="task", arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                                 resource_name=f"{cluster.cluster_name}/*")
        revisions = stack.format_arn(service="ecs", resource="task-definition", arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                                     resource_name=f"{family}:*")
        self.role = ManagedPolicyRole(
            self, "Role", policy_id="Policy",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com").with_conditions({
                # confused deputy: only this state machine, in this account
                "ArnEquals": {"aws:SourceArn": self.state_machine_arn},
                "StringEquals": {"aws:SourceAccount": stack.account},
            }),
            description=f"Step Functions role that runs ECS task family {family} with its fixed network",
            policy_description=f"RunTask of task family {family} in its cluster, and the .sync wait for it to stop",
        )
        statements = [
            iam.PolicyStatement(sid="RunTaskFamily", actions=["ecs:RunTask"], resources=[revisions],
                                conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}}),
            iam.PolicyStatement(sid="WatchAndStopTasks", actions=["ecs:DescribeTasks", "ecs:StopTask"],
                                resources=[tasks]),
            iam.PolicyStatement(sid="TagTasksOnRun", actions=["ecs:TagResource"], resources=[tasks],
                                conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}}),
            iam.PolicyStatement(sid="PassTaskRoles", actions=["iam:PassRole"],
                                resources=[role.role_arn for role in pass_roles],
                                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
            iam.PolicyStatement(sid="SyncRule", actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                                resources=[stack.format_arn(service="events", resource="rule", resource_name=_SYNC_RULE,
                                                            arn_format=ArnFormat.SLASH_RESOURCE_NAME)]),
        ]
        for statement in statements:
            self.role.add_to_principal_policy(statement)
        # A name under /aws/vendedlogs/ keeps CloudWatch Logs' resource policy from growing a statement
        # per log group (its 5,120-character limit; Step Functions developer guide, "Logging"); the stack's
        # id in it keeps a retained group from blocking a later stack of the same name.
        stack_uuid = Fn.select(2, Fn.split("/", stack.stack_id))
        self.log_group = logs.LogGroup(
            self, "Logs", log_group_name=f"/aws/vendedlogs/states/{name}-{stack_uuid}",
            retention=log_retention, encryption_key=key, removal_policy=removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", state_machine_name=name, state_machine_type=sfn.StateMachineType.STANDARD,
            role=self.role, tracing_enabled=True,
            comment=f"Runs one task of ECS family {family} in its cluster, subnets and security groups; the input "
                    "may set the command and environment only",
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            definition_body=sfn.DefinitionBody.from_string(stack.to_json_string({
                "Comment": f"ECS task family {family}, network fixed here",
                "QueryLanguage": "JSONata",
                "StartAt": "RunTask",
                "States": {"RunTask": {
                    "Type": "Task",
                    "Resource": f"arn:{stack.partition}:states:::ecs:runTask.sync",
                    "Arguments": {
                        "Cluster": cluster.cluster_arn,
                        "TaskDefinition": family,
                        "LaunchType": "FARGATE",
                        "NetworkConfiguration": {"AwsvpcConfiguration": {
                            "Subnets": [subnet.subnet_id for subnet in subnets],
                            "SecurityGroups": [group.security_group_id for group in security_groups],
                            "AssignPublicIp": "DISABLED",
                        }},
                        "PropagateTags": "TASK_DEFINITION",
                        "Overrides": overrides_expression(container_name),
                    },
                    "End": True,
                }},
            })),
        )
        # CreateStateMachine checks that the role may deliver logs, so the machine waits for the role's
        # policy; aws-stepfunctions' own DependsOn on the role repeats what RoleArn's GetAtt enforces (cfn-lint W3005)
        policy = cfn_resource(self.role.policy)
        cfn_resource(self.state_machine).add_override("DependsOn", [stack.get_logical_id(policy)])
        self._acknowledge(revisions, tasks)

    def _acknowledge(self, revisions: str, tasks: str) -> None:
        policy = self.role.policy
        acknowledge(policy, wildcard_resource_finding(self, revisions),
                    "RunTask of any revision of this one task family (the state machine names the family, so ECS "
                    "runs its latest ACTIVE revision), and only in its cluster (ecs:cluster condition).")
        acknowledge(policy, wildcard_resource_finding(self, tasks),
                    "Task ids are assigned at RunTask; the .sync integration describes, tags and stops the tasks "
                    "of this cluster only.")
        acknowledge(policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                    "Step Functions' log delivery (logs:CreateLogDelivery and its siblings) and X-Ray tracing "
                    "(xray:PutTraceSegments and its siblings) accept no resource narrower than '*'.")
