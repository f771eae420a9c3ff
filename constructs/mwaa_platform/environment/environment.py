"""AirflowEnvironment: an Amazon MWAA environment with secure defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

from aws_cdk import Annotations, RemovalPolicy, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_mwaa as mwaa
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mwaa_platform._internal.kinds import check_each, check_kind
from mwaa_platform._internal.regions import check_mwaa_region
from mwaa_platform._internal.service_model import enum_values
from mwaa_platform.compliance.nag import acknowledge, wildcard_resource_finding
from mwaa_platform.environment import airflow_version as versions
from mwaa_platform.environment.artifacts import AirflowArtifacts, DagFolders, check_artifact_paths
from mwaa_platform.environment.base import AirflowEnvironmentBase
from mwaa_platform.environment.configuration import (
    AirflowConfiguration,
    CeleryConcurrency,
    SecretsManagerBackend,
    check_metrics_options,
    metrics_allow_list_options,
)
from mwaa_platform.environment.environment_class import (
    Capacity,
    EnvironmentClass,
    lookup_environment_class,
    resolve_capacity,
)
from mwaa_platform.environment.execution_role import AirflowExecutionRole
from mwaa_platform.environment.key import AirflowKey
from mwaa_platform.environment.package_index import AirflowPackageIndex
from mwaa_platform.environment.requirements import check_requirements, requirement_specifiers
from mwaa_platform.environment.versions import version_info
from mwaa_platform.environment.wheelhouse import Wheelhouse, WheelhouseBuild, build_wheelhouse, needs_packages
from mwaa_platform.environment.options import (
    EndpointManagement,
    EnvironmentClassName,
    LogLevel,
    LogType,
    WebserverAccessMode,
    WorkerReplacementStrategy,
)
from mwaa_platform.environment.source_bucket import AirflowSourceBucket
from mwaa_platform.environment.validation import (
    LOG_TYPES,
    MAX_SECURITY_GROUPS,
    check_choice,
    check_environment_name,
    check_maintenance_window,
    check_principal_arns,
    check_security_groups,
    resolve_log_levels,
)
from mwaa_platform.errors import MwaaPlatformError, construct_path, validating
from mwaa_platform.network._placement import (
    WEBSERVER_PORT,
    EgressTargets,
    allow_port,
    check_web_peer,
    environment_security_group,
    environment_subnets,
)
from mwaa_platform.network.network import AirflowNetworkBase, check_network
from mwaa_platform.paths.checks import configuration_key_problems
from mwaa_platform.paths.model import ENVIRONMENT_METADATA_KEY, DagPath, record_path

__all__ = ["LOG_TYPES", "AirflowEnvironment"]

#: Children aws-cdk-lib gives a role when a statement is attached: ``DefaultPolicy`` on a Role
#: created here, ``Policy`` on a mutable imported role. An immutable role gets neither.
_ROLE_POLICY_IDS = ("DefaultPolicy", "Policy")


@dataclass(frozen=True)
class _Runtime:
    """The resolved runtime of an environment: class, version, capacity, configuration, logging."""

    env_class: EnvironmentClass
    version: str
    capacity: Capacity
    configuration: AirflowConfiguration
    log_levels: dict[str, str]
    #: What to upload: the given files, or the wheelhouse built from them.
    requirements: Optional[str]
    plugins: Optional[str]
    wheelhouse: Optional[WheelhouseBuild]


class AirflowEnvironment(AirflowEnvironmentBase):
    """An Amazon MWAA environment with its execution role, key, source bucket, logs and artifacts.

    Defaults are the secure ones: a private web server, all five log types at INFO into
    pre-created, encrypted log groups with retention, a new rotating customer managed key, a
    versioned SSL-only source bucket, and an execution role in AWS's least-privilege shape.
    Every option is validated before any resource is created.

    Changing ``environment_name``, ``key``, the subnets or ``endpoint_management`` replaces the
    environment, and a named environment cannot be replaced in place; moving between mw1.micro
    and a larger class has failed in place for users. Treat all of these as a new environment.

    The environment is an ``iam.IGrantable`` (its execution role) and an ``ec2.IConnectable`` (its
    security groups): ``bucket.grant_read(env)`` and ``sg.connections.allow_from(env, port)`` work.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_name: str,
        network: Optional[AirflowNetworkBase] = None,
        vpc: Optional[ec2.IVpc] = None,
        subnets: Optional[ec2.SubnetSelection] = None,
        security_groups: Optional[Sequence[ec2.ISecurityGroup]] = None,
        environment_class: Union[EnvironmentClassName, EnvironmentClass] = "mw1.small",
        airflow_version: Optional[str] = None,
        schedulers: Optional[int] = None,
        min_workers: Optional[int] = None,
        max_workers: Optional[int] = None,
        min_webservers: Optional[int] = None,
        max_webservers: Optional[int] = None,
        webserver_access_mode: WebserverAccessMode = "PRIVATE_ONLY",
        endpoint_management: EndpointManagement = "SERVICE",
        weekly_maintenance_window_start: Optional[str] = None,
        worker_replacement_strategy: Optional[WorkerReplacementStrategy] = None,
        airflow_configuration_options: Optional[Mapping[str, object]] = None,
        secrets_backend: Optional[SecretsManagerBackend] = None,
        metrics_allow_list: Optional[Sequence[str]] = None,
        statsd_allow_list: Optional[Sequence[str]] = None,
        celery_concurrency: Optional[CeleryConcurrency] = None,
        log_levels: Optional[Mapping[LogType, LogLevel]] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        key: Optional[kms.IKey] = None,
        source_bucket: Optional[s3.IBucket] = None,
        execution_role: Optional[iam.IRole] = None,
        execution_role_name: Optional[str] = None,
        dags: Optional[DagFolders] = None,
        requirements: Optional[str] = None,
        plugins: Optional[str] = None,
        startup_script: Optional[str] = None,
        prune_dags: bool = True,
        wheelhouse: Union[Wheelhouse, bool, None] = None,
        package_index: Optional[AirflowPackageIndex] = None,
        artifact_writers: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        tags: Optional[Mapping[str, str]] = None,
    ) -> None:
        """
        :param environment_name: the environment's name, 1-80 characters (a letter, then letters,
            digits, '-' or '_'). Log groups, ARNs and the execution role's trust derive from it.
        :param network: the ``AirflowNetwork`` (or ``SharedAirflowNetwork``) to run in. Pass
            exactly one of ``network`` or ``vpc``. Default: none (then ``vpc`` is required).
        :param vpc: a plain VPC instead of a network; its routing is unknown, so the security group
            allows HTTPS to any address. Default: none (then ``network`` is required).
        :param subnets: with ``vpc``, the two private subnets in two AZs. Default: the VPC's first
            two private subnets in different AZs.
        :param security_groups: 1-5 security groups to use instead of creating one. Default: a new
            group admitting only itself on 443 and 5432 (and, with a network, admitted by its endpoints).
        :param environment_class: ``mw1.micro`` to ``mw1.2xlarge`` (``EnvironmentClassName``), or an
            ``EnvironmentClass`` of ``ENVIRONMENT_CLASSES``. Default: ``mw1.small``.
        :param airflow_version: e.g. ``2.11.0``. Default: the newest version the pinned botocore knows.
        :param schedulers: Default: the class's default (1 on mw1.micro, else 2).
        :param min_workers: Default: 1.
        :param max_workers: Default: 10 (1 on mw1.micro), and at least ``min_workers``.
        :param min_webservers: Default: the class's default (1 on mw1.micro, else 2).
        :param max_webservers: Default: the class's default (1 on mw1.micro, else 2).
        :param webserver_access_mode: Default: ``PRIVATE_ONLY`` (reachable only inside the VPC).
        :param endpoint_management: Default: ``SERVICE`` (MWAA creates its own VPC endpoints).
        :param weekly_maintenance_window_start: ``DAY:HH:MM`` in UTC, minutes 00 or 30. Default:
            the window MWAA assigns.
        :param worker_replacement_strategy: ``FORCED`` or ``GRACEFUL``. Default: MWAA's (FORCED).
        :param airflow_configuration_options: Airflow options as ``section.option: value``. A key
            set differently by another option (``secrets_backend``, ...) raises. Default: none.
        :param secrets_backend: read connections and variables from Secrets Manager, with read
            access on exactly its prefixes (``airflow/<environment_name>/connections`` and
            ``.../variables`` unless it names others). Default: off.
        :param metrics_allow_list: metric name prefixes to publish, as ``metrics.metrics_allow_list``
            (read by every Airflow version MWAA runs; on Airflow 3 each entry matches as a regular
            expression anywhere in the name). An alarm whose metric it drops fails ``EnvironmentAlarms``.
            Default: every metric.
        :param statsd_allow_list: deprecated: the old name of ``metrics_allow_list``, which it sets
            (with a warning). Pass one of the two. Default: none.
        :param celery_concurrency: tasks per worker. Default: the class's default.
        :param log_levels: per log type, a level from CRITICAL to DEBUG. Default: INFO for all five.
        :param log_retention: retention of the five log groups. Default: three months.
        :param key: the customer managed key of the environment, bucket and logs. Default: the
            ``source_bucket``'s own key when one is given, else a new rotating key.
        :param source_bucket: an existing bucket (versioned, public access blocked, encrypted with
            ``key``). Default: a new ``AirflowSourceBucket``.
        :param execution_role: an existing execution role, used as is. Default: a new
            ``AirflowExecutionRole`` with AWS's least-privilege policy.
        :param execution_role_name: a fixed name for that new role, so other stacks can grant to it
            by name (a shared environment's teams). Default: a name CloudFormation generates.
        :param dags: a local folder synced to ``dags/``, or a mapping of names to folders synced to
            ``dags/<name>/`` each (teams sharing an environment). Default: no DAGs deployed.
        :param requirements: a local requirements.txt. Default: none.
        :param plugins: a local plugins.zip. Default: none.
        :param startup_script: a local startup shell script. Default: none.
        :param prune_dags: delete DAG objects the folder no longer has. Default: True.
        :param wheelhouse: build ``requirements`` into wheels at synthesis, shipped in plugins.zip and
            installed with ``--no-index`` (``Wheelhouse`` options, True, or False for never).
            Default: built exactly when the network has no internet egress, the requirements name
            packages and there is no ``package_index``; otherwise the requirements go to MWAA as they are.
        :param package_index: install requirements from this CodeArtifact repository (PyPI upstream)
            through the network's ``codeartifact`` endpoints: the role may read it, and a generated
            startup script, run before ``startup_script``, points pip at it. Default: none.
        :param artifact_writers: ARNs of IAM roles (or users) that may also write the source
            bucket's objects, e.g. the team's CI role and a break-glass role. Every other principal,
            account administrators included, is denied writes and deletes by the bucket policy.
            Default: none: only this environment's artifact handler writes.
        :param removal_policy: of the key, bucket and log groups. Default:
            ``RETAIN_ON_UPDATE_OR_DELETE`` (kept on update and delete, removed when a first create fails,
            so a retry does not collide with a leftover).
        :param tags: tags on every resource of the environment. Default: none.
        """
        with validating(scope, construct_id):
            _check_kinds(network=network, vpc=vpc, subnets=subnets, security_groups=security_groups,
                         environment_class=environment_class, secrets_backend=secrets_backend,
                         celery_concurrency=celery_concurrency, log_retention=log_retention, key=key,
                         source_bucket=source_bucket, execution_role=execution_role, wheelhouse=wheelhouse,
                         package_index=package_index, removal_policy=removal_policy)
            check_mwaa_region("the stack's region", Stack.of(scope).region, partition=None)
        super().__init__(scope, construct_id)
        # --- validate everything before creating anything -------------------------------
        with validating(self):
            # before the runtime: resolving it may download a wheelhouse
            if package_index is not None and wheelhouse not in (None, False):
                raise MwaaPlatformError("pass wheelhouse or package_index, not both: both say where pip gets packages")
            runtime = _resolve_runtime(
                self, environment_name=environment_name, environment_class=environment_class,
                airflow_version=airflow_version,
                capacity=dict(schedulers=schedulers, min_workers=min_workers, max_workers=max_workers,
                              min_webservers=min_webservers, max_webservers=max_webservers),
                webserver_access_mode=webserver_access_mode, endpoint_management=endpoint_management,
                worker_replacement_strategy=worker_replacement_strategy,
                weekly_maintenance_window_start=weekly_maintenance_window_start,
                airflow_configuration_options=airflow_configuration_options, secrets_backend=secrets_backend,
                metrics_allow_list=metrics_allow_list, statsd_allow_list=statsd_allow_list,
                celery_concurrency=celery_concurrency, log_levels=log_levels,
                artifacts=dict(dags=dags, requirements=requirements, plugins=plugins, startup_script=startup_script),
                internet=(network.internet_egress if network is not None else True) or package_index is not None,
                wheelhouse=False if package_index is not None and wheelhouse is None else wheelhouse,
            )
            unread = configuration_key_problems(runtime.version, runtime.configuration.to_dict())
            if unread:
                raise MwaaPlatformError(f"airflow_configuration_options: {'; '.join(unread)}")
            if package_index is not None:
                if network is not None:
                    network.check_endpoint("codeartifact.api", "package_index")
                startup_script = package_index.startup_script(then=startup_script)
            selected = _resolve_subnets(network, vpc, subnets, secrets_backend)
            writers = check_principal_arns("artifact_writers", artifact_writers)
            given_groups = check_security_groups(security_groups)
            key = _resolve_key(self, key, source_bucket)

        # --- resources -----------------------------------------------------------------
        self.environment_name = environment_name
        #: The network it runs in, when one was given (None with ``vpc`` and ``subnets``).
        self.network = network
        #: The Secrets Manager backend with its prefixes resolved, when one was given.
        self.secrets_backend = secrets_backend.for_environment(environment_name) if secrets_backend else None
        self.environment_class = runtime.env_class
        self.airflow_version = runtime.version
        self.capacity = runtime.capacity
        self.configuration = runtime.configuration
        # the key's log groups, by name: MWAA's five and the artifact handler's, nobody else's
        handler_logs = f"/mwaa-platform/{environment_name}/artifacts"
        self.key: kms.IKey = key or AirflowKey(
            self, "Key", description=f"Encrypts MWAA environment {environment_name}, its bucket and logs",
            removal_policy=removal_policy, log_group_names=[f"airflow-{environment_name}-*", handler_logs],
        )
        self.source_bucket: s3.IBucket = source_bucket or self._create_source_bucket(removal_policy)
        self._role_construct: Optional[AirflowExecutionRole] = None
        if execution_role is None:
            self._role_construct = AirflowExecutionRole(
                self, "ExecutionRole", environment_name=environment_name, source_bucket=self.source_bucket,
                key=self.key, role_name=execution_role_name,
            )
        self.execution_role: iam.IRole = execution_role or self._role_construct.role  # type: ignore[union-attr]
        if self.secrets_backend is not None:
            self._grant_secrets(self.secrets_backend)
        if package_index is not None:
            self._grant_package_index(package_index)
        self.security_groups = given_groups or self._create_security_groups(network, vpc)
        #: Attached, but shared with other environments: never used for this environment's own rules.
        self.shared_security_groups: list[ec2.ISecurityGroup] = (
            [network.endpoint_clients_security_group] if network is not None and not given_groups else []
        )
        self.subnets = selected
        self.log_groups = self._create_log_groups(log_retention, removal_policy)
        self.wheelhouse = runtime.wheelhouse
        self.artifacts = AirflowArtifacts(
            self, "Artifacts", bucket=self.source_bucket, key=self.key, dags=dags, requirements=runtime.requirements,
            plugins=runtime.plugins, startup_script=startup_script, prune_dags=prune_dags, log_retention=log_retention,
            log_group_name=handler_logs,
        )
        self._restrict_artifact_writes(writers)
        self.resource = self._create_environment(
            runtime, webserver_access_mode=webserver_access_mode, endpoint_management=endpoint_management,
            weekly_maintenance_window_start=weekly_maintenance_window_start,
            worker_replacement_strategy=worker_replacement_strategy,
        )
        # what the path checks read: the packages the requirements add to MWAA's image, and the route out
        self.resource.add_metadata(ENVIRONMENT_METADATA_KEY, {
            "requirements": requirement_specifiers(requirements) if requirements else {},
            "internetEgress": network.internet_egress if network is not None else True,
        })
        if self.secrets_backend is not None:
            record_path(self, DagPath(
                environment=environment_name, capability="Secrets Manager backend: connections and variables",
                operator="airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
                services=("secretsmanager",)))
        for tag_key, tag_value in (tags or {}).items():
            Tags.of(self).add(tag_key, tag_value)

    # --- attributes -------------------------------------------------------------------------

    @property
    def environment_arn(self) -> str:
        return self.resource.attr_arn

    @property
    def webserver_url(self) -> str:
        return self.resource.attr_webserver_url

    @property
    def database_vpc_endpoint_service(self) -> str:
        """With endpoint_management CUSTOMER: the service to create the database endpoint for."""
        return self.resource.attr_database_vpc_endpoint_service

    @property
    def webserver_vpc_endpoint_service(self) -> str:
        """With endpoint_management CUSTOMER: the service to create the web server endpoint for."""
        return self.resource.attr_webserver_vpc_endpoint_service

    def add_shared_security_group(self, group: ec2.ISecurityGroup) -> None:
        """Attach ``group``, a group that other environments share and that grants by membership (an EKS
        cluster's pod launch clients group). It is never used for this environment's own rules; MWAA
        updates the environment's security groups in place.

        :raises MwaaPlatformError: when the environment would have more than ``MAX_SECURITY_GROUPS``.
        """
        check_kind("group", group, ec2.ISecurityGroup)
        if any(existing is group for existing in self.security_groups):
            return
        if len(self.security_groups) >= MAX_SECURITY_GROUPS:
            raise MwaaPlatformError(f"an environment has at most {MAX_SECURITY_GROUPS} security groups; "
                                    f"{self.environment_name} has {len(self.security_groups)} already",
                                    construct_path(self))
        self.security_groups.append(group)
        self.shared_security_groups.append(group)
        self.resource.network_configuration = mwaa.CfnEnvironment.NetworkConfigurationProperty(
            security_group_ids=[sg.security_group_id for sg in self.security_groups],
            subnet_ids=[subnet.subnet_id for subnet in self.subnets],
        )

    @property
    def rest_api_path(self) -> str:
        """``/api/v1`` on Airflow 2, ``/api/v2`` on Airflow 3."""
        return version_info(self.airflow_version).rest_api_path

    # --- permissions ------------------------------------------------------------------------

    def allow_egress_to(self, peer: Union[ec2.IConnectable, ec2.IPeer], port: int, *, description: str) -> None:
        """Let the environment open TCP ``port`` to ``peer``, e.g. Redshift's 5439 on its security group.

        A security group peer gets the matching ingress rule. ``description`` lands on both rules.
        """
        with validating(self):
            allow_port(self.connections, peer, port, description)

    def allow_web_from(self, peer: Union[ec2.IConnectable, ec2.IPeer], *, description: Optional[str] = None) -> None:
        """Admit HTTPS to the private web server (the Airflow UI and REST API) from ``peer``.

        ``peer`` is a security group (a bastion's, a load balancer's), a prefix list (a corporate
        VPN's) or a CIDR. A CIDR needs a ``description`` saying whose range it is; ``0.0.0.0/0`` and
        ``::/0`` are refused. People still need an IAM web-login grant (``grant_web_login``) to open
        the UI: the network path alone opens nothing.

        :param description: the rule's description. Default for a security group or prefix list:
            "Airflow UI (HTTPS) for <environment>"; required for a CIDR.
        """
        with validating(self):
            text = check_web_peer(peer, description, self.environment_name)
            self.connections.allow_from(peer, ec2.Port.tcp(WEBSERVER_PORT), text)

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> bool:
        """Give the execution role another permission (into its managed policy when we made it).

        An imported role that cannot be changed (``mutable=False``) takes nothing: the statement
        is dropped with a warning on this construct naming it, and this returns False.
        """
        if self._role_construct is not None:
            self._role_construct.add_to_policy(statement)
            return True
        self.execution_role.add_to_principal_policy(statement)
        # aws-cdk-lib reports success for immutable roles too; only a role that can take a policy
        # (one created here, or a mutable import of this account) gains a policy child.
        if any(child.node.id in _ROLE_POLICY_IDS for child in self.execution_role.node.children):
            return True
        Annotations.of(self).add_warning_v2(
            "mwaa-platform:permission-dropped",
            f"The execution role {self.execution_role.node.path} cannot be changed, so this permission was not "
            f"attached: {', '.join(statement.actions)} on {', '.join(map(str, Stack.of(self).resolve(statement.resources)))}."
            " Attach it to the role where the role is defined.",
        )
        return False

    def _grant_secrets(self, backend: SecretsManagerBackend) -> None:
        attached = [self.add_to_role_policy(statement) for statement in backend.read_statements(self)]
        if all(attached) and self._role_construct is not None:
            connections, variables = backend.prefixes
            acknowledge(
                self._role_construct.policy,
                [wildcard_resource_finding(self, arn) for arn in backend.secret_arns(self)],
                f"Secrets Manager appends a random suffix to every secret ARN. The wildcards admit only secrets "
                f"under {connections}/ and {variables}/, prefixes no other environment of this account and "
                "Region may use (preflight rule shared-secret-prefix).",
            )

    def _grant_package_index(self, index: AirflowPackageIndex) -> None:
        attached = [self.add_to_role_policy(statement) for statement in index.read_statements()]
        if all(attached) and self._role_construct is not None:
            acknowledge(
                self._role_construct.policy,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "sts:GetServiceBearerToken accepts no resource narrower than '*'; the statement is limited to "
                "CodeArtifact by the sts:AWSServiceName condition (CodeArtifact user guide, auth and tokens).",
            )
            acknowledge(
                self._role_construct.policy,
                wildcard_resource_finding(self, index.package_arns),
                "pip reads whichever packages the requirements name from this one CodeArtifact repository; the "
                "wildcard covers the packages of that repository only.",
            )

    # --- create steps -----------------------------------------------------------------------

    def _restrict_artifact_writes(self, writers: list[str]) -> None:
        """Only the artifact handler and ``writers`` may write the source bucket's objects."""
        arns = [self.artifacts.role.role_arn, *writers]
        bucket = getattr(self, "_source_bucket_construct", None)
        if bucket is not None:
            bucket.restrict_object_writes(arns)
            return
        Annotations.of(self).add_warning_v2(
            "mwaa-platform:source-bucket-writable",
            f"source_bucket {self.source_bucket.node.path} is not managed here, so its policy cannot be restricted: "
            "deny s3:PutObject and s3:DeleteObject* on its objects to every principal but the artifact handler's "
            "role and your deployers (see AirflowSourceBucket.restrict_object_writes).",
        )

    def _create_source_bucket(self, removal_policy: RemovalPolicy) -> s3.IBucket:
        self._source_bucket_construct = AirflowSourceBucket(
            self, "SourceBucket", key=self.key, removal_policy=removal_policy
        )
        return self._source_bucket_construct.bucket

    def _create_security_groups(
        self, network: Optional[AirflowNetworkBase], vpc: Optional[ec2.IVpc]
    ) -> list[ec2.ISecurityGroup]:
        if network is not None:
            return network.environment_security_groups(self, "SecurityGroup", environment_name=self.environment_name)
        # A plain VPC: the library cannot know how it reaches AWS APIs, so HTTPS may go anywhere.
        assert vpc is not None  # _resolve_subnets saw exactly one of network and vpc
        return [environment_security_group(
            self, "SecurityGroup", vpc=vpc, environment_name=self.environment_name,
            egress=EgressTargets(internet="HTTPS to AWS service APIs (VPC endpoints or NAT)"),
        )]

    def _create_log_groups(self, retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> dict[str, logs.LogGroup]:
        return {
            log_type: logs.LogGroup(
                self, f"{suffix}Logs", log_group_name=f"airflow-{self.environment_name}-{suffix}",
                retention=retention, encryption_key=self.key, removal_policy=removal_policy,
            )
            for log_type, (_, suffix) in LOG_TYPES.items()
        }

    def _create_environment(
        self, runtime: _Runtime, *, webserver_access_mode: str, endpoint_management: str,
        weekly_maintenance_window_start: Optional[str], worker_replacement_strategy: Optional[str],
    ) -> mwaa.CfnEnvironment:
        artifacts, capacity = self.artifacts, runtime.capacity
        resource = mwaa.CfnEnvironment(
            self,
            "Resource",
            name=self.environment_name,
            airflow_version=runtime.version,
            environment_class=runtime.env_class.name,
            execution_role_arn=self.execution_role.role_arn,
            source_bucket_arn=self.source_bucket.bucket_arn,
            kms_key=self.key.key_arn,
            network_configuration=mwaa.CfnEnvironment.NetworkConfigurationProperty(
                security_group_ids=[sg.security_group_id for sg in self.security_groups],
                subnet_ids=[subnet.subnet_id for subnet in self.subnets],
            ),
            webserver_access_mode=webserver_access_mode,
            endpoint_management=endpoint_management,
            schedulers=capacity.schedulers,
            min_workers=capacity.min_workers,
            max_workers=capacity.max_workers,
            min_webservers=capacity.min_webservers,
            max_webservers=capacity.max_webservers,
            weekly_maintenance_window_start=weekly_maintenance_window_start,
            worker_replacement_strategy=worker_replacement_strategy,
            airflow_configuration_options=runtime.configuration.to_dict() or None,
            logging_configuration=mwaa.CfnEnvironment.LoggingConfigurationProperty(
                **{
                    prop: mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty(
                        enabled=True, log_level=runtime.log_levels[log_type]
                    )
                    for log_type, (prop, _) in LOG_TYPES.items()
                }
            ),
            dag_s3_path=artifacts.dags_s3_path or "dags",
            requirements_s3_path=artifacts.requirements_s3_path,
            requirements_s3_object_version=artifacts.requirements_version,
            plugins_s3_path=artifacts.plugins_s3_path,
            plugins_s3_object_version=artifacts.plugins_version,
            startup_script_s3_path=artifacts.startup_script_s3_path,
            startup_script_s3_object_version=artifacts.startup_script_version,
        )
        # The service checks the role and log groups at creation: create them first.
        for log_group in self.log_groups.values():
            resource.node.add_dependency(log_group)
        if self._role_construct is not None:
            resource.node.add_dependency(self._role_construct.policy)
        for dag_sync in artifacts.dag_syncs:
            resource.node.add_dependency(dag_sync)
        return resource


# --- resolve steps: validate and derive, create nothing -----------------------------------------


def _check_kinds(*, network: object, vpc: object, subnets: object, security_groups: object,
                 environment_class: object, secrets_backend: object, celery_concurrency: object,
                 log_retention: object, key: object, source_bucket: object, execution_role: object,
                 wheelhouse: object, package_index: object, removal_policy: object) -> None:
    """Each structural argument is of its kind (the number of security_groups is checked later, with the rest)."""
    check_network("network", network, optional=True)
    check_kind("vpc", vpc, ec2.IVpc, optional=True)
    check_kind("subnets", subnets, ec2.SubnetSelection, optional=True)
    if isinstance(security_groups, (list, tuple)):  # anything else is refused with the count check
        check_each("security_groups", security_groups, ec2.ISecurityGroup)
    check_kind("environment_class", environment_class, (str, EnvironmentClass), hint="a name such as mw1.small")
    check_kind("secrets_backend", secrets_backend, SecretsManagerBackend, optional=True)
    check_kind("celery_concurrency", celery_concurrency, CeleryConcurrency, optional=True)
    check_kind("log_retention", log_retention, logs.RetentionDays)
    check_kind("key", key, kms.IKey, optional=True)
    check_kind("source_bucket", source_bucket, s3.IBucket, optional=True)
    check_kind("execution_role", execution_role, iam.IRole, optional=True)
    check_kind("wheelhouse", wheelhouse, (Wheelhouse, bool), optional=True)
    check_kind("package_index", package_index, AirflowPackageIndex, optional=True)
    check_kind("removal_policy", removal_policy, RemovalPolicy)


def _resolve_runtime(
    scope: Construct,
    *,
    environment_name: str,
    environment_class: Union[str, EnvironmentClass],
    airflow_version: Optional[str],
    capacity: Mapping[str, Optional[int]],
    webserver_access_mode: str,
    endpoint_management: str,
    worker_replacement_strategy: Optional[str],
    weekly_maintenance_window_start: Optional[str],
    airflow_configuration_options: Optional[Mapping[str, object]],
    secrets_backend: Optional[SecretsManagerBackend],
    metrics_allow_list: Optional[Sequence[str]],
    statsd_allow_list: Optional[Sequence[str]],
    celery_concurrency: Optional[CeleryConcurrency],
    log_levels: Optional[Mapping[LogType, LogLevel]],
    artifacts: Mapping[str, Any],
    internet: bool,
    wheelhouse: Union[Wheelhouse, bool, None],
) -> _Runtime:
    check_environment_name(environment_name)
    env_class = lookup_environment_class(environment_class)
    version = airflow_version or versions.default_airflow_version()
    versions.check_airflow_version(scope, version)
    resolved_capacity = resolve_capacity(env_class, **capacity)
    check_choice("webserver_access_mode", webserver_access_mode, enum_values("WebserverAccessMode"))
    info = version_info(version)
    if webserver_access_mode == "PUBLIC_AND_PRIVATE" and not info.public_and_private:
        raise MwaaPlatformError(f"webserver_access_mode PUBLIC_AND_PRIVATE needs Airflow 3.2 or later, got {version}")
    check_choice("endpoint_management", endpoint_management, enum_values("EndpointManagement"))
    if worker_replacement_strategy is not None:
        check_choice("worker_replacement_strategy", worker_replacement_strategy, enum_values("WorkerReplacementStrategy"))
    check_maintenance_window(weekly_maintenance_window_start)
    levels = resolve_log_levels(log_levels)
    check_artifact_paths(**artifacts)
    requirements, plugins = artifacts.get("requirements"), artifacts.get("plugins")
    build: Optional[WheelhouseBuild] = None
    if requirements is not None:
        use_wheelhouse = isinstance(wheelhouse, Wheelhouse) or wheelhouse is True or (
            wheelhouse is None and not internet and needs_packages(requirements))
        # a wheelhouse is downloaded by the synthesizing machine, so the environment needs no internet
        check_requirements(requirements, airflow_version=version, internet=internet or use_wheelhouse)
        if use_wheelhouse:
            build = build_wheelhouse(wheelhouse if isinstance(wheelhouse, Wheelhouse) else Wheelhouse(),
                                     requirements=requirements, plugins=plugins,
                                     python=info.python_minor)
            requirements, plugins = build.requirements, build.plugins
    if info.task_execution_api and webserver_access_mode == "PUBLIC_ONLY" and not internet:
        Annotations.of(scope).add_warning_v2(
            "mwaa-platform:airflow3-public-api",
            f"Airflow {version} workers call the Airflow API server, which webserver_access_mode PUBLIC_ONLY puts on a "
            "public endpoint, but this network has no internet egress (NAT): tasks cannot start. Use PRIVATE_ONLY, or "
            "a network with nat_gateways.",
        )
    configuration = AirflowConfiguration(airflow_configuration_options)
    if secrets_backend is not None:
        configuration.update(secrets_backend.for_environment(environment_name).options(), source="secrets_backend")
    if statsd_allow_list is not None:
        if metrics_allow_list is not None:
            raise MwaaPlatformError("pass metrics_allow_list or statsd_allow_list, not both: statsd_allow_list is the "
                                    "deprecated name of metrics_allow_list")
        Annotations.of(scope).add_warning_v2(
            "mwaa-platform:statsd-allow-list-deprecated",
            "statsd_allow_list is deprecated: pass the same prefixes as metrics_allow_list (both set "
            "metrics.metrics_allow_list, which every Airflow version MWAA runs reads).",
        )
        metrics_allow_list, allow_list_parameter = statsd_allow_list, "statsd_allow_list"
    else:
        allow_list_parameter = "metrics_allow_list"
    if metrics_allow_list is not None:
        configuration.update(metrics_allow_list_options(metrics_allow_list, parameter=allow_list_parameter),
                             source=allow_list_parameter)
    if celery_concurrency is not None:
        configuration.update(celery_concurrency.options(env_class), source="celery_concurrency")
    for warning in check_metrics_options(configuration, version):
        Annotations.of(scope).add_warning_v2("mwaa-platform:metrics-options", warning)
    return _Runtime(env_class=env_class, version=version, capacity=resolved_capacity, configuration=configuration,
                    log_levels=levels, requirements=requirements, plugins=plugins, wheelhouse=build)


def _resolve_subnets(
    network: Optional[AirflowNetworkBase],
    vpc: Optional[ec2.IVpc],
    subnets: Optional[ec2.SubnetSelection],
    secrets_backend: Optional[SecretsManagerBackend],
) -> list[ec2.ISubnet]:
    if (network is None) == (vpc is None):
        raise MwaaPlatformError("pass exactly one of network (an AirflowNetwork) or vpc, got "
                                + ("both" if network is not None else "neither"))
    if network is None:
        assert vpc is not None
        return environment_subnets(vpc, subnets)
    if subnets is not None:
        raise MwaaPlatformError("subnets cannot be combined with network: the network supplies its two subnets")
    if secrets_backend is not None:
        network.check_endpoint("secretsmanager", "secrets_backend")
    return list(network.subnets)


def _resolve_key(scope: Construct, key: Optional[kms.IKey], source_bucket: Optional[s3.IBucket]) -> Optional[kms.IKey]:
    """The environment key: MWAA requires a KMS-encrypted source bucket's own key (user guide: custom-keys-certs).

    None means "create one" (only when no bucket is given).
    """
    if source_bucket is None:
        return key
    bucket_key = source_bucket.encryption_key
    if key is None:
        if bucket_key is None:
            raise MwaaPlatformError(
                "source_bucket was given without key: MWAA needs the bucket's own customer managed key as the "
                "environment key, and this bucket exposes none; pass key=<the bucket's key>, or import the bucket "
                "with Bucket.from_bucket_attributes(..., encryption_key=...)"
            )
        return bucket_key
    if bucket_key is not None:
        stack = Stack.of(scope)
        if stack.resolve(bucket_key.key_arn) != stack.resolve(key.key_arn):
            raise MwaaPlatformError(
                f"key must be the source_bucket's own key (MWAA requires the same customer managed key for both), "
                f"got key {key.node.path} for a bucket encrypted with {bucket_key.node.path}"
            )
    return key
