"""ServerlessWorkflow: an MWAA Serverless workflow from a local definition file, with its own role,
log group, key and (optionally) network, checked at synthesis."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Optional

import jsii
from aws_cdk import Annotations, ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_mwaaserverless as mwaaserverless
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mwaa_platform._internal.kinds import check_kind
from mwaa_platform._internal.managed_policy_role import ManagedPolicyRole, managed_policy_of
from mwaa_platform._internal.tokens import is_unresolved
from mwaa_platform.compliance.nag import acknowledge, wildcard_resource_finding
from mwaa_platform.environment.artifacts import AirflowArtifacts
from mwaa_platform.environment.key import AirflowKey
from mwaa_platform.environment.source_bucket import AirflowSourceBucket
from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform.network.network import AirflowNetworkBase, check_network
from mwaa_platform.serverless.code_package import check_code_package
from mwaa_platform.serverless.definition import WorkflowDefinition, load_definition
from mwaa_platform.serverless.derived_grants import DerivedGrants, wildcard_resources
from mwaa_platform.serverless.derived_grants import derive_grants as _derive_grants

__all__ = ["SERVICE_PRINCIPAL", "WORKFLOW_PREFIX", "ServerlessWorkflow"]

#: The service principal and signing name of MWAA Serverless: botocore's model ``mwaa-serverless``
#: (``metadata.endpointPrefix`` and ``signingName`` are ``airflow-serverless``).
SERVICE_PRINCIPAL = "airflow-serverless.amazonaws.com"
#: Where a workflow's definition and code package go in the bucket: ``workflows/<name>/``.
WORKFLOW_PREFIX = "workflows"
#: Workflow names (botocore ``CreateWorkflowRequest.Name``: 1-255, ``[a-zA-Z0-9]+[a-zA-Z0-9\.\-_]*``).
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.\-_]{0,254}$")
_TAG_KEY = re.compile(r"^[\w\d+\-.:/@]{1,128}$")


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class ServerlessWorkflow(Construct):
    """An ``AWS::MWAAServerless::Workflow`` whose definition (and code package) are local files.

    The definition is checked at synthesis (``load_definition``: the operators the service runs,
    dependencies, schedule, ``start_date``, retries and timeouts, size) and copied to the bucket by
    the library's artifact handler, which returns the object's ``VersionId``: the workflow names
    Bucket, ObjectKey **and** VersionId, so a changed file makes exactly one new workflow version and
    an unchanged one none.

    The workflow runs as its own role, which only ``airflow-serverless.amazonaws.com`` may assume, for
    workflows of this name in this account and Region (``aws:SourceAccount``, ``aws:SourceArn``). The
    role may read its definition and code objects, write its log group, and use the key only for this
    workflow (``kms:EncryptionContext:aws:airflow-serverless:workflow-arn``); nothing else until you
    grant it: the workflow is an ``iam.IGrantable`` (``bucket.grant_read(workflow)``), or pass
    ``derive_grants=True`` to grant what the S3, Glue and Athena tasks name literally.

    With a ``network`` the tasks run in its private subnets with a security group of their own (no
    ingress) and the network's endpoint clients group; ``connections`` holds the own group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: str,
        workflow_name: Optional[str] = None,
        code_package: Optional[str] = None,
        bucket: Optional[s3.IBucket] = None,
        key: Optional[kms.IKey] = None,
        network: Optional[AirflowNetworkBase] = None,
        derive_grants: bool = False,
        description: Optional[str] = None,
        trigger_mode: Optional[str] = None,
        tags: Optional[Mapping[str, str]] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """
        :param definition: the workflow's DAG Factory YAML file (one workflow, at most 50 KB).
        :param workflow_name: the workflow's name (1-255 letters, digits, '.', '-', '_'; changing it replaces
            the workflow). Default: the definition's ``dag_id``.
        :param code_package: a .py, .sh or .zip file (at most 250 MB) that PythonOperator and BashOperator
            tasks run; a zip's wheels must be manylinux x86_64 or pure Python for Python 3.12. Default: none.
        :param bucket: a versioned bucket for the definition and code package, under ``workflows/<name>/``.
            Default: a new ``AirflowSourceBucket`` encrypted with ``key``.
        :param key: encrypts the workflow, its log group and a new bucket. It must let CloudWatch Logs use
            it (an ``AirflowKey`` does). Default: a new rotating ``AirflowKey``.
        :param network: run the tasks in the platform network's private subnets. Default: none (the tasks
            run in the service's network).
        :param derive_grants: grant the role what the S3, Glue and Athena tasks name literally
            (``mwaa_platform.serverless.DERIVED_OPERATORS``); other tasks get a warning. Default: False.
        :param description: the workflow's description (1-1024 characters). Default: none.
        :param trigger_mode: the workflow's trigger mode, as the API takes it. Default: the service's
            (the definition's schedule).
        :param tags: tags of the workflow. Default: none (the stack's tags still apply).
        :param log_retention: retention of the workflow's log group. Default: three months.
        :param removal_policy: of the log group, a new key and a new bucket. Default:
            ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        with validating(scope, construct_id):
            check_kind("definition", definition, (str, os.PathLike))
            check_kind("code_package", code_package, (str, os.PathLike), optional=True)
            check_kind("bucket", bucket, s3.IBucket, optional=True)
            check_kind("key", key, kms.IKey, optional=True)
            check_network("network", network, optional=True)
            check_kind("derive_grants", derive_grants, bool)
            check_kind("log_retention", log_retention, logs.RetentionDays)
            check_kind("removal_policy", removal_policy, RemovalPolicy)
            if code_package is not None:
                check_code_package(code_package)
            parsed = load_definition(definition, code_package=code_package is not None)
            name = parsed.name if workflow_name is None else workflow_name
            _check_options(name, description, trigger_mode, tags)
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.definition: WorkflowDefinition = parsed
        self.workflow_name: str = name
        self.schedule = parsed.schedule
        self.derived: Optional[DerivedGrants] = _derive_grants(parsed, stack) if derive_grants else None
        with validating(self):
            if network is not None and self.derived is not None:
                for service in sorted(self.derived.services - {"s3"}):
                    network.check_endpoint(service, f"workflow {name} (its derived {service} tasks)")

        self.key: kms.IKey = key or AirflowKey(
            self, "Key", description=f"Encrypts MWAA Serverless workflow {name}, its definition and its logs",
            removal_policy=removal_policy)
        self.bucket: s3.IBucket = bucket or AirflowSourceBucket(
            self, "Bucket", key=self.key, removal_policy=removal_policy).bucket
        self.log_group = logs.LogGroup(
            self, "Logs", log_group_name=f"/aws/mwaa-serverless/{name}", retention=log_retention,
            encryption_key=self.key, removal_policy=removal_policy)
        # the library's artifact handler: copies each file to its key and returns the new VersionId
        self.artifacts = AirflowArtifacts(self, "Artifacts", bucket=self.bucket, key=self.key,
                                          log_retention=log_retention)
        self.definition_key = f"{WORKFLOW_PREFIX}/{name}/definition.yaml"
        self.definition_version = self.artifacts.add_versioned_object("Definition", str(definition), self.definition_key)
        self.code_key: Optional[str] = None
        self.code_version: Optional[str] = None
        if code_package is not None:
            self.code_key = f"{WORKFLOW_PREFIX}/{name}/code{os.path.splitext(str(code_package))[1].lower()}"
            self.code_version = self.artifacts.add_versioned_object("Code", str(code_package), self.code_key)

        self.role = ManagedPolicyRole(
            self, "Role", policy_id="Policy", assumed_by=self._service_principal(stack),
            description=f"MWAA Serverless workflow {name}: its definition, its logs, and what is granted to it",
            policy_description=f"Permissions of MWAA Serverless workflow {name}")
        self._allow_own_resources(stack)
        if self.derived is not None:
            self._grant_derived(self.derived)

        self.security_group: Optional[ec2.SecurityGroup] = None
        network_configuration = None
        if network is not None:
            self.security_group = ec2.SecurityGroup(
                self, "SecurityGroup", vpc=network.vpc, allow_all_outbound=False,
                description=f"MWAA Serverless workflow {name}: no ingress; reaches AWS through the endpoint clients group")
            network_configuration = mwaaserverless.CfnWorkflow.NetworkConfigurationProperty(
                subnet_ids=[subnet.subnet_id for subnet in network.subnets],
                security_group_ids=[self.security_group.security_group_id,
                                    network.endpoint_clients_security_group.security_group_id])
        self.resource = mwaaserverless.CfnWorkflow(
            self, "Resource", name=name, role_arn=self.role.role_arn, description=description,
            definition_s3_location=mwaaserverless.CfnWorkflow.S3LocationProperty(
                bucket=self.bucket.bucket_name, object_key=self.definition_key, version_id=self.definition_version),
            code=mwaaserverless.CfnWorkflow.CodeProperty(s3_location=mwaaserverless.CfnWorkflow.CodeS3LocationProperty(
                bucket=self.bucket.bucket_name, object_key=self.code_key, version_id=self.code_version))
            if self.code_key else None,
            encryption_configuration=mwaaserverless.CfnWorkflow.EncryptionConfigurationProperty(
                type="CUSTOMER_MANAGED_KEY", kms_key_id=self.key.key_arn),
            logging_configuration=mwaaserverless.CfnWorkflow.LoggingConfigurationProperty(
                log_group_name=self.log_group.log_group_name),
            network_configuration=network_configuration, tags=dict(tags) if tags else None,
            trigger_mode=trigger_mode)
        # the service reads the definition and checks the role when the workflow is created
        self.resource.node.add_dependency(self.role.policy)
        for warning in parsed.warnings:
            Annotations.of(self).add_warning_v2("mwaa-platform:serverless-definition", warning)
        for task_id, reason in (self.derived.skipped.items() if self.derived else ()):
            Annotations.of(self).add_warning_v2(
                "mwaa-platform:serverless-not-derived",
                f"{parsed.path}: workflow {parsed.name}, task {task_id}: no grant derived ({reason}); grant what it "
                "needs to the workflow")

    # --- identity -----------------------------------------------------------------------------

    @property
    def workflow_arn(self) -> str:
        """``arn:PARTITION:airflow-serverless:REGION:ACCOUNT:workflow/NAME-XXXXXXXXXX``."""
        return self.resource.attr_workflow_arn

    @property
    def workflow_arn_pattern(self) -> str:
        """Every ARN this workflow's name can have: the service appends ``-`` and ten characters to the
        name (botocore's ``WorkflowArn`` pattern)."""
        return Stack.of(self).format_arn(service="airflow-serverless", resource="workflow",
                                         resource_name=f"{self.workflow_name}-*", arn_format=ArnFormat.SLASH_RESOURCE_NAME)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The workflow's role: ``bucket.grant_read(workflow)`` grants it to the tasks."""
        return self.role

    @property
    def connections(self) -> ec2.Connections:
        """The tasks' own security group, for ``allow_to`` / ``allow_from`` rules (only with a network)."""
        if self.security_group is None:
            raise MwaaPlatformError(f"{self.node.path}: workflow {self.workflow_name} has no network, so no security "
                                    "group to open; pass network to run its tasks in the platform network")
        if getattr(self, "_connections", None) is None:
            self._connections = ec2.Connections(security_groups=[self.security_group])
        return self._connections

    def grant_start_run(self, grantee: iam.IGrantable) -> iam.Grant:
        """Start runs of this workflow and follow them (``MwaaServerlessStartWorkflowRunOperator`` from an
        environment, a CI role): ``StartWorkflowRun`` and ``GetWorkflowRun`` on its ARN."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["airflow-serverless:StartWorkflowRun", "airflow-serverless:GetWorkflowRun"],
            resource_arns=[self.workflow_arn])

    # --- the role's own permissions -----------------------------------------------------------

    def _service_principal(self, stack: Stack) -> iam.IPrincipal:
        """Only MWAA Serverless, only for workflows of this name in this account and Region (the user
        guide's confused-deputy conditions, narrowed from ``workflow/*`` to this name)."""
        arn = stack.format_arn(service="airflow-serverless", resource="workflow", resource_name=f"{self.workflow_name}-*",
                               arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        return iam.ServicePrincipal(SERVICE_PRINCIPAL).with_conditions({
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": arn},
        })

    def _allow_own_resources(self, stack: Stack) -> None:
        objects = [self.bucket.arn_for_objects(self.definition_key)]
        if self.code_key:
            objects.append(self.bucket.arn_for_objects(self.code_key))
        self.role.policy.add_statements(
            iam.PolicyStatement(sid="ReadOwnDefinition", actions=["s3:GetObject", "s3:GetObjectVersion"],
                                resources=objects),
            iam.PolicyStatement(sid="DecryptOwnDefinition", actions=["kms:Decrypt"], resources=[self.key.key_arn],
                                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}}),
            iam.PolicyStatement(sid="UseKeyForThisWorkflow",
                                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                                resources=[self.key.key_arn],
                                conditions={"ArnLike": {
                                    "kms:EncryptionContext:aws:airflow-serverless:workflow-arn": self.workflow_arn_pattern}}),
        )
        self.log_group.grant_write(self.role)

    def _grant_derived(self, derived: DerivedGrants) -> None:
        for index, grant in enumerate(derived.grants):
            self.role.policy.add_statements(iam.PolicyStatement(
                sid=f"Derived{index}{_sid(grant.task_id)}", actions=list(grant.actions),
                resources=list(grant.resources), conditions=dict(grant.conditions) or None))
        wildcards = wildcard_resources(derived.grants)
        policy = managed_policy_of(self.role)
        if wildcards and policy is not None:
            acknowledge(policy, [wildcard_resource_finding(self, resource) for resource in wildcards],
                        f"Derived from the literal prefixes and databases of workflow {self.workflow_name}'s definition: "
                        "the tasks write objects whose names they choose under that prefix, or read that database's tables.")


def _sid(task_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]", task_id) if part)[:60]


def _check_options(name: object, description: Optional[str], trigger_mode: Optional[str],
                   tags: Optional[Mapping[str, str]]) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise MwaaPlatformError(f"workflow_name must be 1-255 letters, digits, '.', '-' and '_', starting with a letter "
                                f"or digit, got {shorten(name)}")
    if description is not None and not is_unresolved(description) and (
            not isinstance(description, str) or not 1 <= len(description) <= 1024):
        raise MwaaPlatformError(f"description must be 1-1024 characters, got {shorten(description)}")
    if trigger_mode is not None and not is_unresolved(trigger_mode) and (
            not isinstance(trigger_mode, str) or not 1 <= len(trigger_mode) <= 255):
        raise MwaaPlatformError(f"trigger_mode must be 1-255 characters, got {shorten(trigger_mode)}")
    if tags is not None:
        if not isinstance(tags, Mapping) or len(tags) > 50:
            raise MwaaPlatformError(f"tags must be a mapping of at most 50 tags, got {shorten(tags)}")
        for tag, value in tags.items():
            if not isinstance(tag, str) or not _TAG_KEY.match(tag):
                raise MwaaPlatformError(f"tag keys are 1-128 letters, digits and '+-.:/@_', got {shorten(tag)}")
            if not isinstance(value, str) or len(value) > 256:
                raise MwaaPlatformError(f"tags[{tag!r}] must be a string of at most 256 characters, got {shorten(value)}")
