"""EcsTaskCompute: a team's Fargate task that DAGs start through its Step Functions launcher, with the
Amazon provider's StepFunctionStartExecutionOperator; the launcher fixes the task's network."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Optional

import jsii
from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mwaa_platform._internal.kinds import check_each, check_kind
from mwaa_platform.compute._trust import ecs_tasks_principal
from mwaa_platform.paths.model import DagPath, environment_name_of, record_path
from mwaa_platform._internal.managed_policy_role import ManagedPolicyRole, managed_policy_of
from mwaa_platform.compliance.nag import acknowledge, wildcard_resource_finding
from mwaa_platform.compute._images import check_image, container_image, team_repository
from mwaa_platform.compute._task_launcher import STATE_MACHINE_NAME, STATE_MACHINE_NAME_MAX, TaskLauncher
from mwaa_platform.compute.fargate import check_fargate_size
from mwaa_platform.compute.image import TaskImage
from mwaa_platform.environment.key import AirflowKey
from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform.network.network import AirflowNetworkBase, check_network

__all__ = ["CONTAINER_NAME", "LAUNCHER_NAME", "EcsTaskCompute"]

#: The container every task definition runs; the operator's ``overrides`` name it.
CONTAINER_NAME = "main"
_FAMILY = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
#: A launcher's state machine name: the family's by default, so a family that names its launcher too is
#: 1-80 letters, digits, '-' and '_' (the registry's families are).
LAUNCHER_NAME = STATE_MACHINE_NAME


@jsii.implements(ec2.IConnectable)
class EcsTaskCompute(Construct):
    """A Fargate task definition on an ECS cluster in the platform network, started through a Step
    Functions state machine (``StepFunctionStartExecutionOperator``).

    The task runs in the network's private subnets with a security group that admits nothing and
    the network's endpoint clients group (HTTPS to the VPC endpoints: ECR, logs, S3, Secrets
    Manager). Its role has no permissions until you grant some; its execution role may pull its
    image, write its log group and read the secrets it names.

    DAGs never call ``ecs:RunTask``: IAM cannot limit the security groups or subnets a RunTask caller
    chooses, so a caller could attach another team's group to its task. The state machine
    ``state_machine_name`` runs the task with the cluster, subnets and security groups fixed in its
    definition; the DAG's input may set the container's command and environment variables, nothing
    else. ``grant_run`` gives an environment exactly what the operator calls.

    It is an ``ec2.IConnectable``: ``connections`` holds the task's own security group (not the
    network's shared endpoint clients group), so ``db.connections.allow_from(task, port)`` opens
    a port to this task family only.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: AirflowNetworkBase,
        family: str,
        image: TaskImage,
        cpu: int = 256,
        memory_mib: int = 512,
        environment: Optional[Mapping[str, str]] = None,
        secrets: Optional[Mapping[str, secretsmanager.ISecret]] = None,
        cluster: Optional[ecs.ICluster] = None,
        key: Optional[kms.IKey] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        state_machine_name: Optional[str] = None,
    ) -> None:
        """
        :param network: the platform network; its private subnets run the task.
        :param family: the task definition family the operator names (1-255 letters, digits, '-', '_').
        :param image: the container image (``TaskImage``).
        :param cpu: Fargate CPU units. Default: 256.
        :param memory_mib: memory, a size Fargate pairs with ``cpu``. Default: 512.
        :param environment: plain environment variables (no secrets). Default: none.
        :param secrets: environment variables read from Secrets Manager at start. Default: none.
        :param cluster: an existing cluster in the network's VPC. Default: a new cluster with
            Container Insights.
        :param key: encrypts the log group (and a team repository). Default: a new rotating key.
        :param log_retention: retention of the task log group. Default: three months.
        :param removal_policy: of the log groups, key and repository. Default: ``RETAIN_ON_UPDATE_OR_DELETE``.
        :param state_machine_name: the launcher's name, which DAGs put in its ARN (1-80 letters, digits,
            '-', '_'; unique in the account and Region). Default: ``family``.
        """
        with validating(scope, construct_id):
            check_network("network", network)
            check_kind("image", image, TaskImage, hint="TaskImage.from_uri, from_directory, ...")
            check_kind("cluster", cluster, ecs.ICluster, optional=True)
            check_kind("key", key, kms.IKey, optional=True)
            check_each("secrets", secrets or {}, secretsmanager.ISecret)
            check_kind("log_retention", log_retention, logs.RetentionDays)
            check_kind("removal_policy", removal_policy, RemovalPolicy)
        super().__init__(scope, construct_id)
        with validating(self):
            if not isinstance(family, str) or not _FAMILY.match(family):
                raise MwaaPlatformError(f"family must be 1-255 letters, digits, '-' and '_', got {shorten(family)}")
            if state_machine_name is None and len(family) > STATE_MACHINE_NAME_MAX:
                raise MwaaPlatformError(
                    f"family {shorten(family)} is {len(family)} characters, longer than a state machine name may be "
                    f"({STATE_MACHINE_NAME_MAX}); pass state_machine_name")
            if state_machine_name is not None and (not isinstance(state_machine_name, str)
                                                   or not LAUNCHER_NAME.match(state_machine_name)):
                raise MwaaPlatformError(f"state_machine_name must be 1-{STATE_MACHINE_NAME_MAX} letters, digits, '-' "
                                        f"and '_', got {shorten(state_machine_name)}")
            check_fargate_size(cpu, memory_mib)
            check_image(image)
            if secrets:
                network.check_endpoint("secretsmanager", "secrets")
            network.check_endpoint("states", "EcsTaskCompute (its DAGs start a Step Functions execution)")

        self.family = family
        self.container_name = CONTAINER_NAME
        self.stream_prefix = family
        self.key: kms.IKey = key or AirflowKey(
            self, "Key", description=f"Encrypts the logs and images of ECS task family {family}",
            removal_policy=removal_policy,
        )
        self.cluster: ecs.ICluster = cluster or self._new_cluster(network)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, encryption_key=self.key,
                                       removal_policy=removal_policy)
        self.repository: Optional[ecr.Repository] = (
            team_repository(self, self.key, removal_policy) if image.new_repository else None)
        # every permission either role gets (grants, the task definition's own) lands in a managed policy
        self.task_role = ManagedPolicyRole(
            self, "TaskRole", policy_id="TaskPolicy", assumed_by=ecs_tasks_principal(self),
            description=f"Role of ECS task family {family}: no permissions until granted",
            policy_description=f"Permissions of the containers of ECS task family {family}",
        )
        self.execution_role = ManagedPolicyRole(
            self, "ExecutionRole", policy_id="ExecutionPolicy", assumed_by=ecs_tasks_principal(self),
            description=f"ECS agent role of task family {family}: image, logs, secrets",
            policy_description=f"What ECS needs to start task family {family}: its image, its logs, its secrets",
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self, "TaskDefinition", family=family, cpu=cpu, memory_limit_mib=memory_mib,
            task_role=self.task_role, execution_role=self.execution_role,
        )
        self.task_definition.add_container(
            CONTAINER_NAME,
            image=container_image(image, self.repository),
            environment=dict(environment or {}),
            secrets={name: ecs.Secret.from_secrets_manager(secret) for name, secret in (secrets or {}).items()},
            logging=ecs.LogDrivers.aws_logs(stream_prefix=self.stream_prefix, log_group=self.log_group),
            readonly_root_filesystem=True,
        )
        if image.uri is None:
            acknowledge(
                self.execution_role.policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken accepts no resource narrower than '*'; the image pull itself is limited "
                "to the task's repository.",
            )
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=network.vpc, allow_all_outbound=False,
            description=f"ECS task family {family}: no ingress; reaches AWS through the endpoint clients group",
        )
        self.security_groups: list[ec2.ISecurityGroup] = [self.security_group, network.endpoint_clients_security_group]
        self.subnets = list(network.subnets)
        self.launcher = TaskLauncher(
            self, "Launcher", name=state_machine_name or family, family=family, container_name=CONTAINER_NAME,
            cluster=self.cluster, subnets=self.subnets, security_groups=self.security_groups,
            pass_roles=[self.task_role, self.execution_role], key=self.key, log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.state_machine = self.launcher.state_machine
        self._acknowledge(environment)

    # --- what the operator needs ------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """The task's own security group, for ``allow_to`` / ``allow_from`` rules (none is added here).

        The network's endpoint clients group, which the task also has, is left out: a rule through
        it would open the port for everything in the network.
        """
        if getattr(self, "_connections", None) is None:
            self._connections = ec2.Connections(security_groups=[self.security_group])
        return self._connections

    @property
    def cluster_name(self) -> str:
        return self.cluster.cluster_name

    @property
    def state_machine_arn(self) -> str:
        """The operator's ``state_machine_arn``: ``arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME``."""
        return self.launcher.state_machine_arn

    @property
    def network_configuration(self) -> dict:
        """The network every task of this family runs with, fixed in the launcher's definition."""
        return {"awsvpcConfiguration": {
            "subnets": [subnet.subnet_id for subnet in self.subnets],
            "securityGroups": [group.security_group_id for group in self.security_groups],
            "assignPublicIp": "DISABLED",
        }}

    def grant_run(self, grantee: iam.IGrantable, *, redrive: bool = False) -> iam.Grant:
        """Exactly what ``StepFunctionStartExecutionOperator`` calls (and its deferrable trigger, with the
        same credentials): start the launcher and describe its executions. No ECS action: the launcher's
        own role runs the task.

        :param redrive: also ``states:RedriveExecution`` of this launcher's executions, for the operator's
            ``is_redrive_execution=True``. Default: False.
        """
        statements = [
            iam.PolicyStatement(sid="StartLauncher", actions=["states:StartExecution"],
                                resources=[self.launcher.state_machine_arn]),
            iam.PolicyStatement(sid="WatchLauncherExecutions", actions=["states:DescribeExecution"],
                                resources=[self.launcher.executions_arn]),
        ]
        if redrive:
            statements.append(iam.PolicyStatement(sid="RedriveLauncherExecutions", actions=["states:RedriveExecution"],
                                                  resources=[self.launcher.executions_arn]))
        grant = iam.Grant.drop(grantee, "ecs task launcher")
        for statement in statements:
            grant = grant.combine(iam.Grant.add_to_principal(
                grantee=grantee, actions=statement.actions, resource_arns=statement.resources))
        policy = managed_policy_of(grantee.grant_principal)
        if policy is not None:
            acknowledge(
                policy, wildcard_resource_finding(self, self.launcher.executions_arn),
                f"Execution names are chosen at StartExecution; the operator describes executions of the launcher "
                f"of ECS task family {self.family} only.",
            )
        environment = environment_name_of(grantee)
        if environment is not None:
            record_path(self, DagPath(
                environment=environment, capability=f"ECS task family {self.family}",
                operator="airflow.providers.amazon.aws.operators.step_function.StepFunctionStartExecutionOperator",
                services=("states",),
                actions=tuple(action for statement in statements for action in statement.actions),
                resources=(self.launcher.state_machine_arn, self.launcher.executions_arn)))
        return grant

    # --- create steps -------------------------------------------------------------------------

    def _new_cluster(self, network: AirflowNetworkBase) -> ecs.Cluster:
        return ecs.Cluster(self, "Cluster", vpc=network.vpc,
                           container_insights_v2=ecs.ContainerInsights.ENABLED)

    def _acknowledge(self, environment: Optional[Mapping[str, str]]) -> None:
        if environment:
            acknowledge(
                self.task_definition, "AwsSolutions::AwsSolutions-ECS2",
                "Plain environment variables hold non-secret settings given in code; secrets come from Secrets "
                "Manager through the secrets option, never from environment variables.",
            )
