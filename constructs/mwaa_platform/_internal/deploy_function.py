"""The Lambda function behind the library's CloudFormation custom resources.

Every custom resource handler of the library is a small Python function with its own encrypted
log group, a role only Lambda of this account may assume, and a managed policy (the NIST, HIPAA
and PCI packs reject inline policies) that callers extend with exactly what the handler touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collections.abc import Mapping, Sequence
from typing import Optional

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from mwaa_platform._internal.cfn import cfn_resource
from mwaa_platform.compliance.nag import acknowledge, acknowledge_across_packs

HANDLERS_DIR = Path(__file__).parent / "handlers"

#: How much longer than the handler's own timeout CloudFormation waits for its answer.
SERVICE_TIMEOUT_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class DeployFunction:
    """A custom resource handler: the function, its role, its managed policy and its log group."""

    function: lambda_.Function
    role: iam.Role
    policy: iam.ManagedPolicy
    log_group: logs.LogGroup

    def custom_resource(
        self, scope: Construct, construct_id: str, *, resource_type: str, properties: Mapping[str, str]
    ) -> CustomResource:
        """A custom resource served by this function, created only once its policy exists.

        ``ServiceTimeout`` bounds CloudFormation's wait to the function's timeout plus a minute, so a
        handler that dies before answering fails the stack in minutes instead of holding it an hour.
        """
        timeout = self.function.timeout or Duration.minutes(5)
        resource = CustomResource(
            scope, construct_id, service_token=self.function.function_arn, resource_type=resource_type,
            properties=dict(properties), service_timeout=Duration.seconds(timeout.to_seconds() + SERVICE_TIMEOUT_MARGIN_SECONDS),
        )
        resource.node.add_dependency(self.policy)
        return resource


def deploy_function(
    scope: Construct,
    *,
    handler: str,
    description: str,
    key: kms.IKey,
    log_retention: logs.RetentionDays,
    timeout: Duration = Duration.minutes(5),
    memory_size: int = 512,
    vpc: Optional[ec2.IVpc] = None,
    subnets: Sequence[ec2.ISubnet] = (),
    security_groups: Sequence[ec2.ISecurityGroup] = (),
    log_group_name: Optional[str] = None,
) -> DeployFunction:
    """Create ``Handler``, ``HandlerRole``, ``HandlerPolicy`` and ``HandlerLogs`` in ``scope``.

    A handler that must reach something private (a cluster's API endpoint) runs in ``vpc``'s
    ``subnets`` with ``security_groups``; it then answers CloudFormation through the VPC's S3
    gateway, whose perimeter admits CloudFormation's response buckets (``s3_perimeter_statements``).

    ``handler`` names a module of ``mwaa_platform/handlers``; the folder is one asset shared by
    every handler (CDK uploads it once). The policy
    starts with writing the function's own log group only; the caller adds what the handler does.
    """
    stack = Stack.of(scope)
    log_group = logs.LogGroup(
        scope, "HandlerLogs", retention=log_retention, encryption_key=key, removal_policy=RemovalPolicy.DESTROY,
        log_group_name=log_group_name,  # a fixed name where the key's policy names its log groups
    )
    role = iam.Role(
        scope,
        "HandlerRole",
        description=description,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com").with_conditions(
            {"StringEquals": {"aws:SourceAccount": stack.account}}
        ),
    )
    policy = iam.ManagedPolicy(
        scope,
        "HandlerPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        ],
    )
    if vpc is not None:
        # what Lambda needs to give the function its network interfaces in the VPC (CDK adds this
        # only to roles it creates itself)
        role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole"))
    function = lambda_.Function(
        scope,
        "Handler",
        description=f"mwaa-platform: {description}",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler=f"{handler}.handler",
        code=lambda_.Code.from_asset(str(HANDLERS_DIR), exclude=["__pycache__", "*.pyc"]),
        role=role,
        memory_size=memory_size,
        timeout=timeout,
        log_group=log_group,
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnets=list(subnets)) if vpc is not None else None,
        security_groups=list(security_groups) or None,
    )
    # aws-lambda makes the function depend on its role, which the Role GetAtt already enforces
    # (cfn-lint W3005); custom resources depend on the policy they need instead.
    cfn_resource(function).add_deletion_override("DependsOn")
    _acknowledge_handler_findings(function, in_vpc=vpc is not None)
    return DeployFunction(function=function, role=role, policy=policy, log_group=log_group)


def deploy_time_resource(
    scope: Construct,
    construct_id: str,
    *,
    handler: str,
    description: str,
    key: kms.IKey,
    statement: iam.PolicyStatement,
    resource_type: str,
    properties: Mapping[str, str],
) -> tuple[DeployFunction, CustomResource]:
    """A construct ``construct_id`` holding one handler, allowed ``statement``, and its one custom resource."""
    holder = Construct(scope, construct_id)
    function = deploy_function(
        holder, handler=handler, description=description, key=key, log_retention=logs.RetentionDays.THREE_MONTHS,
    )
    function.policy.add_statements(statement)
    return function, function.custom_resource(holder, "Resource", resource_type=resource_type, properties=properties)


#: PCI DSS 3.2.1 has no LambdaConcurrency or LambdaDLQ rule.
_PACKS_WITH_LAMBDA_RUNTIME_RULES = ("NIST.800.53.R5", "HIPAA.Security")


def _acknowledge_handler_findings(function: lambda_.Function, *, in_vpc: bool) -> None:
    if in_vpc:
        acknowledge(
            function.role or function, "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "service-role/AWSLambdaVPCAccessExecutionRole]",
            "Lambda attaches AWS's VPC access policy to a function in a VPC: it creates and deletes the function's "
            "network interfaces, whose EC2 actions accept no narrower resource.",
        )
    else:
        acknowledge_across_packs(
            function,
            "LambdaInsideVPC",
            "Deploy-time custom resource handler: it runs only during CloudFormation deployments and "
            "calls only AWS APIs named in its managed policy; it reaches nothing in a VPC.",
            also=["checkov::CKV_AWS_117"],
        )
    acknowledge_across_packs(
        function,
        "LambdaConcurrency",
        "Invoked by CloudFormation only when its resource changes; reserving concurrency would take "
        "capacity from the account's unreserved pool and can fail deployments in small accounts.",
        packs=_PACKS_WITH_LAMBDA_RUNTIME_RULES,
        also=["checkov::CKV_AWS_115"],
    )
    acknowledge_across_packs(
        function,
        "LambdaDLQ",
        "CloudFormation waits for this handler's response; a failed invocation fails and rolls back "
        "the stack operation, so a dead-letter queue would hold nothing to act on.",
        packs=_PACKS_WITH_LAMBDA_RUNTIME_RULES,
        also=["checkov::CKV_AWS_116"],
    )
