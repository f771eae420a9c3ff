"""The S3 bucket MWAA reads DAGs, plugins, requirements and the startup script from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from aws_cdk import Duration, FeatureFlags, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mwaa_platform._internal.kinds import check_kind
from mwaa_platform.compliance.nag import acknowledge, acknowledge_across_packs
from mwaa_platform.errors import MwaaPlatformError, validating

#: Object writes and deletes the source bucket denies to everyone but its deployers.
OBJECT_WRITE_ACTIONS = (
    "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging", "s3:DeleteObjectTagging",
    "s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging", "s3:RestoreObject",
)

#: aws-cdk-lib's flag for delivering server access logs through a bucket policy instead of an ACL.
_LOG_DELIVERY_BY_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


class AirflowSourceBucket(Construct):
    """A versioned, private, SSL-only source bucket encrypted with the environment's key.

    MWAA requires versioning and blocked public access (user guide: mwaa-s3-bucket) and, with a
    customer managed key, the same key as the environment. Server access logs go to a companion
    bucket (``access_logs_bucket``) unless one is given. Both are retained on stack deletion by
    default: they hold the only copy of what the environment ran.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        access_logs_bucket: Optional[s3.IBucket] = None,
        access_logs_prefix: str = "source-bucket/",
        noncurrent_version_expiration: Duration = Duration.days(90),
        access_logs_retention: Duration = Duration.days(365),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """
        :param key: the environment's customer managed key; the bucket is encrypted with it.
        :param access_logs_bucket: where S3 server access logs go. Default: a new versioned,
            SSL-only companion bucket (``AccessLogs``).
        :param access_logs_prefix: the key prefix of the access logs. Default: ``source-bucket/``.
        :param noncurrent_version_expiration: how long old artifact versions are kept. Default: 90 days.
        :param access_logs_retention: how long the companion bucket keeps access logs (ignored
            with ``access_logs_bucket``). Default: 365 days (PCI DSS keeps audit trails a year).
        :param removal_policy: of both buckets. Default:
            ``RETAIN_ON_UPDATE_OR_DELETE`` (kept on update and delete, removed when a first create fails,
            so a retry does not collide with a leftover).
        """
        with validating(scope, construct_id):
            check_kind("key", key, kms.IKey)
            check_kind("access_logs_bucket", access_logs_bucket, s3.IBucket, optional=True)
            check_kind("removal_policy", removal_policy, RemovalPolicy)
        super().__init__(scope, construct_id)
        if access_logs_bucket is None:
            access_logs_bucket = self._create_access_logs_bucket(removal_policy, access_logs_retention)
        self.access_logs_bucket = access_logs_bucket
        self.bucket = s3.Bucket(
            self,
            "Resource",
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=access_logs_prefix,
            lifecycle_rules=[
                # Keep old artifact versions long enough to roll back, not forever.
                s3.LifecycleRule(id="ExpireOldVersions", noncurrent_version_expiration=noncurrent_version_expiration)
            ],
            removal_policy=removal_policy,
        )
        acknowledge_across_packs(
            self.bucket,
            "S3BucketReplicationEnabled",
            "The source bucket is rebuilt from the repository by every deployment (DAGs, requirements, "
            "plugins are assets); cross-region replication would copy deployable artifacts, not data.",
        )

    def restrict_object_writes(self, writer_arns: Sequence[str]) -> iam.PolicyStatement:
        """Deny every object write and delete in the bucket to all principals but ``writer_arns``.

        DAGs, plugins and requirements run with the execution role's permissions and secrets, so
        who may write them is as sensitive as the role itself. IAM principals of the account with
        ``s3:PutObject`` on ``*`` are denied here too; only the listed roles (the artifact
        handler's, a team's CI role, a break-glass role) may write.
        """
        if not writer_arns:
            raise MwaaPlatformError(f"{self.node.path}: writer_arns must name at least one principal, got none")
        statement = iam.PolicyStatement(
            sid="OnlyDeployersWriteArtifacts",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(OBJECT_WRITE_ACTIONS),
            resources=[self.bucket.arn_for_objects("*")],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": list(writer_arns)}},
        )
        self.bucket.add_to_resource_policy(statement)
        return statement

    def _create_access_logs_bucket(self, removal_policy: RemovalPolicy, retention: Duration) -> s3.Bucket:
        # With log delivery through a bucket policy (the feature flag below), ACLs can be disabled;
        # without it, S3 delivers through the log-delivery ACL, which needs ACLs enabled.
        policy_delivery = FeatureFlags.of(self).is_enabled(_LOG_DELIVERY_BY_POLICY)
        logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # S3 server access log delivery supports only SSE-S3 on the target bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=(s3.ObjectOwnership.BUCKET_OWNER_ENFORCED if policy_delivery
                              else s3.ObjectOwnership.BUCKET_OWNER_PREFERRED),
            lifecycle_rules=[s3.LifecycleRule(
                id="ExpireAccessLogs", expiration=retention, noncurrent_version_expiration=Duration.days(30),
            )],
            removal_policy=removal_policy,
        )
        acknowledge(
            logs_bucket,
            "checkov::CKV_AWS_18",
            "This bucket is the access-log target of the source bucket; logging its own access would "
            "write into itself or need a further bucket with the same question. It is private, SSL-only and versioned.",
        )
        acknowledge_across_packs(
            logs_bucket,
            "S3DefaultEncryptionKMS",
            "S3 server access log delivery supports only SSE-S3 (AES-256) on the target bucket, not SSE-KMS.",
        )
        acknowledge_across_packs(
            logs_bucket,
            "S3BucketReplicationEnabled",
            "Access logs are an audit trail kept in-region with versioning; replication is an "
            "organisation-level decision made on the bucket given as access_logs_bucket.",
        )
        return logs_bucket
