"""Deploy-time artifacts of an MWAA environment: DAGs, requirements.txt, plugins.zip, startup script.

requirements.txt, plugins.zip and the startup script only take effect when the environment is
given a new S3 object version (user guide; aws-cdk#38765: BucketDeployment exposes no version
ids). Each file here is a CDK asset, copied by a small custom resource to its fixed key; the
custom resource returns the object's ``VersionId``, which the environment consumes. The asset key
is content-addressed, so an unchanged file leaves the custom resource, and the environment,
untouched; a changed file produces exactly one new version and one environment update.
"""

from __future__ import annotations

import os
from typing import Optional

from aws_cdk import CustomResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform.compliance.nag import acknowledge, wildcard_resource_finding
from mwaa_platform._internal.deploy_function import deploy_function

DAGS_PREFIX = "dags"
REQUIREMENTS_KEY = "requirements/requirements.txt"
PLUGINS_KEY = "plugins/plugins.zip"
STARTUP_SCRIPT_KEY = "startup/startup.sh"


def check_artifact_paths(
    *, dags: Optional[str], requirements: Optional[str], plugins: Optional[str], startup_script: Optional[str]
) -> None:
    """Raise for a missing artifact path, before any construct is created."""
    _existing("dags", dags, directory=True)
    _existing("requirements", requirements, directory=False)
    _existing("plugins", plugins, directory=False)
    _existing("startup_script", startup_script, directory=False)
    if plugins is not None and not str(plugins).endswith(".zip"):
        raise MwaaPlatformError(f"plugins must be a .zip file, got {shorten(plugins)}")


def _existing(field: str, path: Optional[str], *, directory: bool) -> None:
    if path is not None and not (os.path.isdir(path) if directory else os.path.isfile(path)):
        kind = "directory" if directory else "file"
        raise MwaaPlatformError(f"{field} must be an existing {kind}, got {shorten(path)}")


class AirflowArtifacts(Construct):
    """Uploads DAGs and versioned artifacts into a source bucket and exposes their version ids.

    One small Python Lambda function does the copying; its role may read only these assets and
    write only the artifact keys and the DAG prefix of this bucket.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        key: kms.IKey,
        dags: Optional[str] = None,
        requirements: Optional[str] = None,
        plugins: Optional[str] = None,
        startup_script: Optional[str] = None,
        prune_dags: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        """
        :param bucket: the environment's source bucket.
        :param key: the key of the bucket and of the handler's logs.
        :param dags: a local folder synced to ``dags/``. Default: none.
        :param requirements: a local requirements.txt, copied to ``requirements/requirements.txt``. Default: none.
        :param plugins: a local plugins.zip, copied to ``plugins/plugins.zip``. Default: none.
        :param startup_script: a local shell script, copied to ``startup/startup.sh``. Default: none.
        :param prune_dags: delete objects under ``dags/`` that the folder no longer has. Default: True.
        :param log_retention: retention of the handler's log group. Default: three months.
        """
        super().__init__(scope, construct_id)
        check_artifact_paths(dags=dags, requirements=requirements, plugins=plugins, startup_script=startup_script)

        self._bucket = bucket
        stack = Stack.of(self)
        self.handler = deploy_function(
            self,
            handler="artifact_sync",
            description="Copies MWAA artifacts from CDK assets into the environment's source bucket",
            key=key,
            log_retention=log_retention,
        )
        self.function, self.role, self.policy, self.log_group = (
            self.handler.function, self.handler.role, self.handler.policy, self.handler.log_group
        )
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="EncryptArtifacts",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            )
        )

        self.dag_sync: Optional[CustomResource] = None
        self.dags_s3_path: Optional[str] = None
        self.requirements_s3_path: Optional[str] = None
        self.requirements_version: Optional[str] = None
        self.plugins_s3_path: Optional[str] = None
        self.plugins_version: Optional[str] = None
        self.startup_script_s3_path: Optional[str] = None
        self.startup_script_version: Optional[str] = None

        if dags is not None:
            self._sync_dags(dags, prune_dags)
        if requirements is not None:
            self.requirements_s3_path = REQUIREMENTS_KEY
            self.requirements_version = self._versioned_object("Requirements", requirements, REQUIREMENTS_KEY)
        if plugins is not None:
            self.plugins_s3_path = PLUGINS_KEY
            self.plugins_version = self._versioned_object("Plugins", plugins, PLUGINS_KEY)
        if startup_script is not None:
            self.startup_script_s3_path = STARTUP_SCRIPT_KEY
            self.startup_script_version = self._versioned_object("StartupScript", startup_script, STARTUP_SCRIPT_KEY)

    def _copy_from_asset(
        self, construct_id: str, resource_type: str, asset: s3_assets.Asset, **properties: str
    ) -> CustomResource:
        """A custom resource fed from ``asset``, which the handler may read, and created after its policy."""
        self.policy.add_statements(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[asset.bucket.arn_for_objects(asset.s3_object_key)]
            )
        )
        return self.handler.custom_resource(
            self,
            construct_id,
            resource_type=resource_type,
            properties={
                "SourceBucket": asset.s3_bucket_name,
                "SourceKey": asset.s3_object_key,
                "DestinationBucket": self._bucket.bucket_name,
                **properties,
            },
        )

    def _versioned_object(self, construct_id: str, path: str, destination_key: str) -> str:
        asset = s3_assets.Asset(self, f"{construct_id}Asset", path=path)
        resource = self._copy_from_asset(
            construct_id, "Custom::MwaaArtifactObject", asset, DestinationKey=destination_key
        )
        self.policy.add_statements(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self._bucket.arn_for_objects(destination_key)])
        )
        return resource.get_att_string("VersionId")

    def _sync_dags(self, directory: str, prune: bool) -> None:
        asset = s3_assets.Asset(self, "DagsAsset", path=directory, exclude=["__pycache__", "*.pyc"])
        self.dag_sync = self._copy_from_asset(
            "Dags", "Custom::MwaaDagSync", asset, DestinationPrefix=DAGS_PREFIX, Prune="true" if prune else "false"
        )
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="SyncDagPrefix",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[self._bucket.arn_for_objects(f"{DAGS_PREFIX}/*")],
            ),
            iam.PolicyStatement(
                sid="ListDagPrefix",
                actions=["s3:ListBucket"],
                resources=[self._bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{DAGS_PREFIX}/*"]}},
            ),
        )
        self.dags_s3_path = DAGS_PREFIX
        acknowledge(
            self.policy,
            wildcard_resource_finding(self, self._bucket.arn_for_objects(f"{DAGS_PREFIX}/*")),
            "Syncing a DAG folder writes and prunes objects whose names come from that folder; the wildcard "
            f"is limited to the {DAGS_PREFIX}/ prefix of this environment's source bucket.",
        )
