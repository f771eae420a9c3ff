"""The MWAA execution role, in the least-privilege shape AWS publishes (user guide: mwaa-create-role)."""

from __future__ import annotations

from typing import Optional

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mwaa_platform._internal.arns import celery_queue_arn, environment_arn, log_group_prefix_arn
from mwaa_platform._internal.kinds import check_kind
from mwaa_platform._internal.managed_policy_role import ManagedPolicyRole
from mwaa_platform.compliance.nag import acknowledge, wildcard_resource_finding
from mwaa_platform.errors import validating

#: Actions MWAA needs that accept no narrower resource than "*" (IAM service authorization reference).
ACTIONS_WITHOUT_RESOURCE_SCOPE = ("logs:DescribeLogGroups", "cloudwatch:PutMetricData", "s3:GetAccountPublicAccessBlock")

LOG_ACTIONS = (
    "logs:CreateLogStream",
    "logs:CreateLogGroup",
    "logs:PutLogEvents",
    "logs:GetLogEvents",
    "logs:GetLogRecord",
    "logs:GetLogGroupFields",
    "logs:GetQueryResults",
)
SQS_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
)
KMS_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt")
SOURCE_BUCKET_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")


class AirflowExecutionRole(Construct):
    """An IAM role MWAA assumes for one environment, with exactly the permissions AWS documents.

    The trust policy admits ``airflow.amazonaws.com`` and ``airflow-env.amazonaws.com`` only for
    this environment (``aws:SourceArn``) in this account (``aws:SourceAccount``), which prevents
    the confused-deputy problem. Permissions live in a customer managed policy rather than an
    inline one; more permissions come only through ``add_to_policy`` or ``grant_*`` methods.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_name: str,
        source_bucket: s3.IBucket,
        key: kms.IKey,
        role_name: Optional[str] = None,
    ) -> None:
        """
        :param environment_name: the environment the role serves; its trust and log permissions
            name it.
        :param source_bucket: the environment's source bucket, readable by the role.
        :param key: the environment's key, usable by the role only via SQS and S3.
        :param role_name: a fixed role name (for cross-account trust that must name the role
            before it exists). Default: a name CloudFormation generates.
        """
        with validating(scope, construct_id):
            check_kind("source_bucket", source_bucket, s3.IBucket)
            check_kind("key", key, kms.IKey)
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        env_arn = environment_arn(self, environment_name)

        self.role = ManagedPolicyRole(
            self,
            "Resource",
            policy_id="Policy",
            policy_description=f"Least-privilege permissions of the MWAA environment {environment_name}",
            role_name=role_name,
            description=f"MWAA execution role of environment {environment_name}",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("airflow.amazonaws.com"),
                iam.ServicePrincipal("airflow-env.amazonaws.com"),
            ).with_conditions(
                {
                    "ArnLike": {"aws:SourceArn": env_arn},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                }
            ),
        )
        self.policy = self.role.policy
        self.policy.add_statements(
                iam.PolicyStatement(sid="PublishMetrics", actions=["airflow:PublishMetrics"], resources=[env_arn]),
                iam.PolicyStatement(
                    sid="DenyListAllBuckets",
                    effect=iam.Effect.DENY,
                    actions=["s3:ListAllMyBuckets"],
                    resources=[source_bucket.bucket_arn, source_bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="ReadSourceBucket",
                    actions=list(SOURCE_BUCKET_ACTIONS),
                    resources=[source_bucket.bucket_arn, source_bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="WriteEnvironmentLogs",
                    actions=list(LOG_ACTIONS),
                    resources=[log_group_prefix_arn(self, environment_name)],
                ),
                iam.PolicyStatement(
                    sid="ActionsWithoutResourceScope",
                    actions=list(ACTIONS_WITHOUT_RESOURCE_SCOPE),
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="CeleryQueue",
                    actions=list(SQS_ACTIONS),
                    # The Celery queue lives in an AWS service account, hence the account wildcard.
                    resources=[celery_queue_arn(self)],
                ),
                iam.PolicyStatement(
                    sid="UseEnvironmentKey",
                    actions=list(KMS_ACTIONS),
                    resources=[key.key_arn],
                    conditions={
                        "StringLike": {
                            "kms:ViaService": [
                                f"sqs.{stack.region}.amazonaws.com",
                                f"s3.{stack.region}.amazonaws.com",
                            ]
                        }
                    },
                ),
        )
        self._acknowledge_published_wildcards(source_bucket, environment_name)

    @property
    def role_arn(self) -> str:
        return self.role.role_arn

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The role; grants land in its managed policy, never an inline one (``ManagedPolicyRole``)."""
        return self.role

    def add_to_policy(self, statement: iam.PolicyStatement) -> None:
        """Add a statement to the role's managed policy (not to an inline policy)."""
        self.policy.add_statements(statement)

    def _acknowledge_published_wildcards(self, source_bucket: s3.IBucket, environment_name: str) -> None:
        source = "AWS's published MWAA execution-role policy (user guide: mwaa-create-role)"
        acknowledge(
            self.policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            f"logs:DescribeLogGroups, cloudwatch:PutMetricData and s3:GetAccountPublicAccessBlock accept no "
            f"resource narrower than '*'; they are the only actions on '*', as in {source}.",
        )
        acknowledge(
            self.policy,
            [f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]" for action in SOURCE_BUCKET_ACTIONS],
            f"MWAA reads DAGs, plugins and requirements from its own source bucket only; the action "
            f"families are those of {source}, and the resources are this environment's bucket.",
        )
        acknowledge(
            self.policy,
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            f"GenerateDataKey and GenerateDataKeyWithoutPlaintext on the environment's own key, only via "
            f"SQS and S3 (kms:ViaService), as in {source}.",
        )
        acknowledge(
            self.policy,
            wildcard_resource_finding(self, source_bucket.arn_for_objects("*")),
            f"Objects of this environment's own source bucket (DAGs, plugins, requirements), as in {source}.",
        )
        acknowledge(
            self.policy,
            wildcard_resource_finding(self, log_group_prefix_arn(self, environment_name)),
            f"MWAA names its log groups airflow-{environment_name}-<type> and writes streams inside them; the "
            f"prefix covers exactly this environment's five log groups, as in {source}.",
        )
        acknowledge(
            self.policy,
            wildcard_resource_finding(self, celery_queue_arn(self)),
            f"The Celery queue is created by MWAA in an AWS service account whose id and queue suffix are not "
            f"known in advance; the account and name wildcards are those of {source}.",
        )
