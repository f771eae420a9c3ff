"""The customer managed KMS key an MWAA environment, its bucket and its log groups share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class AirflowKey(kms.Key):
    """A rotating customer managed key whose policy also lets CloudWatch Logs use it.

    MWAA requires the source bucket to use the same customer managed key as the environment, and
    pre-created log groups encrypt with it too. CloudWatch Logs may use the key only for log groups
    of this account and region (``kms:EncryptionContext:aws:logs:arn``), or only for the named ones.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: Optional[str] = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        log_group_names: Sequence[str] = (),
    ) -> None:
        """
        :param description: the key's description. Default: "Encrypts an MWAA environment, its
            source bucket and its logs".
        :param log_group_names: the only log groups (names, ``*`` allowed) CloudWatch Logs may use the
            key for. Default: any log group of this account and Region (for log groups whose names
            CloudFormation generates: a policy naming them would depend on them, and they on the key).
        :param removal_policy: what happens to the key when it leaves the stack. Default:
            ``RETAIN_ON_UPDATE_OR_DELETE`` (kept on update and delete, removed when a first create fails,
            so a retry does not collide with a leftover).
        """
        super().__init__(
            scope,
            construct_id,
            description=description or "Encrypts an MWAA environment, its source bucket and its logs",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        stack = Stack.of(self)
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfTheseLogGroups" if log_group_names else "AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": [
                            stack.format_arn(service="logs", resource="log-group", resource_name=name,
                                             arn_format=ArnFormat.COLON_RESOURCE_NAME)
                            for name in log_group_names
                        ] if log_group_names else stack.format_arn(
                            service="logs", resource="*", arn_format=ArnFormat.NO_RESOURCE_NAME
                        )
                    }
                },
            )
        )

