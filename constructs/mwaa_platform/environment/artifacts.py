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
import re
from collections.abc import Mapping
from typing import Optional, Union

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
#: A DAG folder, or several under their own prefixes (``{"analytics": "teams/analytics/dags"}``).
DagFolders = Union[str, Mapping[str, str]]
_DAG_SUBPREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def dag_folders(dags: Optional[DagFolders]) -> dict[str, str]:
    """S3 prefix -> local folder: ``dags`` for one folder, ``dags/<name>`` for each of several."""
    if dags is None:
        return {}
    if isinstance(dags, str):
        return {DAGS_PREFIX: dags}
    if not isinstance(dags, Mapping) or not dags:
        raise MwaaPlatformError(f"dags must be a folder or a non-empty mapping of name to folder, got {shorten(dags)}")
    for name in dags:
        if not isinstance(name, str) or not _DAG_SUBPREFIX.match(name):
            raise MwaaPlatformError(
                f"dags names become S3 prefixes dags/<name>: 1-63 lowercase letters, digits, '-' and '_', got {shorten(name)}"
            )
    return {f"{DAGS_PREFIX}/{name}": folder for name, folder in dags.items()}
REQUIREMENTS_KEY = "requirements/requirements.txt"
PLUGINS_KEY = "plugins/plugins.zip"
STARTUP_SCRIPT_KEY = "startup/startup.sh"


def check_artifact_paths(
    *, dags: Optional[DagFolders], requirements: Optional[str], plugins: Optional[str], startup_script: Optional[str]
) -> None:
    """Raise for a missing artifact path, before any construct is created."""
    for prefix, folder in dag_folders(dags).items():
        _existing("dags" if prefix == DAGS_PREFIX else f"dags[{prefix.split('/', 1)[1]!r}]", folder, directory=True)
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
        dags: Optional[DagFolders] = None,
        requirements: Optional[str] = None,
        plugins: Optional[str] = None,
        startup_script: Optional[str] = None,
        prune_dags: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        log_group_name: Optional[str] = None,
    ) -> None:
        """
        :param bucket: the environment's source bucket.
        :param key: the key of the bucket and of the handler's logs.
        :param dags: a local folder synced to ``dags/``, or a mapping of names to folders, each synced
            to ``dags/<name>/`` and pruned only there (one team's files never overwrite or delete
            another's on a shared environment). Default: none.
        :param requirements: a local requirements.txt, copied to ``requirements/requirements.txt``. Default: none.
        :param plugins: a local plugins.zip, copied to ``plugins/plugins.zip``. Default: none.
        :param startup_script: a local shell script, copied to ``startup/startup.sh``. Default: none.
        :param prune_dags: delete objects under ``dags/`` that the folder no longer has. Default: True.
        :param log_retention: retention of the handler's log group. Default: three months.
        :param log_group_name: the handler's log group name, for a key whose policy names its log
            groups. Default: one CloudFormation generates.
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
            log_group_name=log_group_name,
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

        self.dag_syncs: list[CustomResource] = []
        self.dags_s3_path: Optional[str] = None
        self.requirements_s3_path: Optional[str] = None
        self.requirements_version: Optional[str] = None
        self.plugins_s3_path: Optional[str] = None
        self.plugins_version: Optional[str] = None
        self.startup_script_s3_path: Optional[str] = None
        self.startup_script_version: Optional[str] = None

        folders = dag_folders(dags)
        for prefix, folder in folders.items():
            self._sync_dags(prefix, folder, prune_dags)
        if folders:
            self._allow_dag_sync()
        if requirements is not None:
            self.requirements_s3_path = REQUIREMENTS_KEY
            self.requirements_version = self.add_versioned_object("Requirements", requirements, REQUIREMENTS_KEY)
        if plugins is not None:
            self.plugins_s3_path = PLUGINS_KEY
            self.plugins_version = self.add_versioned_object("Plugins", plugins, PLUGINS_KEY)
        if startup_script is not None:
            self.startup_script_s3_path = STARTUP_SCRIPT_KEY
            self.startup_script_version = self.add_versioned_object("StartupScript", startup_script, STARTUP_SCRIPT_KEY)

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

    def add_versioned_object(self, construct_id: str, path: str, destination_key: str) -> str:
        """Copy the local file ``path`` to ``destination_key`` of the bucket; return the copy's S3 object
        version id, which changes exactly when the file does (what MWAA and MWAA Serverless need to
        pick up a new version)."""
        asset = s3_assets.Asset(self, f"{construct_id}Asset", path=path)
        resource = self._copy_from_asset(
            construct_id, "Custom::MwaaArtifactObject", asset, DestinationKey=destination_key
        )
        self.policy.add_statements(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self._bucket.arn_for_objects(destination_key)])
        )
        return resource.get_att_string("VersionId")

    @property
    def dag_sync(self) -> Optional[CustomResource]:
        """The DAG sync of a single folder (the first of several)."""
        return self.dag_syncs[0] if self.dag_syncs else None

    def _sync_dags(self, prefix: str, directory: str, prune: bool) -> None:
        suffix = "".join(part.capitalize() for part in re.split(r"[-_/]", prefix.removeprefix(DAGS_PREFIX)) if part)
        asset = s3_assets.Asset(self, f"DagsAsset{suffix}", path=directory, exclude=["__pycache__", "*.pyc"])
        self.dag_syncs.append(self._copy_from_asset(
            f"Dags{suffix}", "Custom::MwaaDagSync", asset, DestinationPrefix=prefix, Prune="true" if prune else "false"
        ))

    def _allow_dag_sync(self) -> None:
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
