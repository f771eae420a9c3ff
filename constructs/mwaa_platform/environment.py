"""AirflowEnvironment: an Amazon MWAA environment with secure defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

from aws_cdk import Duration, RemovalPolicy, Tags, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_mwaa as mwaa
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mwaa_platform import airflow_version as versions
from mwaa_platform.arns import airflow_role_arn, environment_arn
from mwaa_platform.artifacts import AirflowArtifacts, check_artifact_paths
from mwaa_platform.compliance import acknowledge, wildcard_resource_finding
from mwaa_platform.configuration import (
    AirflowConfiguration,
    CeleryConcurrency,
    SecretsManagerBackend,
    statsd_allow_list_options,
)
from mwaa_platform.environment_class import EnvironmentClass, lookup_environment_class, resolve_capacity
from mwaa_platform.execution_role import AirflowExecutionRole
from mwaa_platform.key import AirflowKey
from mwaa_platform.network import AirflowNetworkBase
from mwaa_platform.network_placement import EgressTargets, allow_port, environment_security_group, environment_subnets
from mwaa_platform.service_model import enum_values, log_levels, name_limits
from mwaa_platform.source_bucket import AirflowSourceBucket

#: Log types of an MWAA environment: option key -> (CloudFormation property, log group suffix).
LOG_TYPES: dict[str, tuple[str, str]] = {
    "dag_processing": ("dag_processing_logs", "DAGProcessing"),
    "scheduler": ("scheduler_logs", "Scheduler"),
    "task": ("task_logs", "Task"),
    "webserver": ("webserver_logs", "WebServer"),
    "worker": ("worker_logs", "Worker"),
}

_MAINTENANCE_WINDOW = re.compile(r"^(MON|TUE|WED|THU|FRI|SAT|SUN):([01]\d|2[0-3]):(00|30)$")
_CONSTRAINT_LINE = re.compile(r"^\s*(--constraint|-c)[\s=]\S+", re.MULTILINE)


class AirflowEnvironment(Construct):
    """An Amazon MWAA environment with its execution role, key, source bucket, logs and artifacts.

    Defaults are the secure ones: a private web server, all five log types at INFO into
    pre-created, encrypted log groups with retention, a new rotating customer managed key, a
    versioned SSL-only source bucket, and an execution role in AWS's least-privilege shape.
    Every option is validated before any resource is created.

    Changing ``environment_name``, ``key``, the subnets or ``endpoint_management`` replaces the
    environment, and a named environment cannot be replaced in place; moving between mw1.micro
    and a larger class has failed in place for users. Treat all of these as a new environment.
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
        environment_class: Union[str, EnvironmentClass] = "mw1.small",
        airflow_version: Optional[str] = None,
        schedulers: Optional[int] = None,
        min_workers: Optional[int] = None,
        max_workers: Optional[int] = None,
        min_webservers: Optional[int] = None,
        max_webservers: Optional[int] = None,
        webserver_access_mode: str = "PRIVATE_ONLY",
        endpoint_management: str = "SERVICE",
        weekly_maintenance_window_start: Optional[str] = None,
        worker_replacement_strategy: Optional[str] = None,
        airflow_configuration_options: Optional[Mapping[str, object]] = None,
        secrets_backend: Optional[SecretsManagerBackend] = None,
        statsd_allow_list: Optional[Sequence[str]] = None,
        celery_concurrency: Optional[CeleryConcurrency] = None,
        log_levels: Optional[Mapping[str, str]] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        key: Optional[kms.IKey] = None,
        source_bucket: Optional[s3.IBucket] = None,
        execution_role: Optional[iam.IRole] = None,
        dags: Optional[str] = None,
        requirements: Optional[str] = None,
        plugins: Optional[str] = None,
        startup_script: Optional[str] = None,
        prune_dags: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        tags: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # --- validate everything before creating anything -------------------------------
        check_environment_name(environment_name)
        env_class = lookup_environment_class(environment_class)
        version = airflow_version or versions.default_airflow_version()
        parsed_version = versions.check_airflow_version(self, version)
        capacity = resolve_capacity(
            env_class, schedulers=schedulers, min_workers=min_workers, max_workers=max_workers,
            min_webservers=min_webservers, max_webservers=max_webservers,
        )
        _check_enum("webserver_access_mode", webserver_access_mode, enum_values("WebserverAccessMode"))
        if webserver_access_mode == "PUBLIC_AND_PRIVATE" and parsed_version < (3, 2, 0):
            raise ValueError(f"webserver_access_mode PUBLIC_AND_PRIVATE needs Airflow 3.2 or later, got {version}")
        _check_enum("endpoint_management", endpoint_management, enum_values("EndpointManagement"))
        if worker_replacement_strategy is not None:
            _check_enum("worker_replacement_strategy", worker_replacement_strategy, enum_values("WorkerReplacementStrategy"))
        check_maintenance_window(weekly_maintenance_window_start)
        levels = _log_levels(log_levels)
        check_artifact_paths(dags=dags, requirements=requirements, plugins=plugins, startup_script=startup_script)
        if requirements is not None and parsed_version >= versions.CONSTRAINT_REQUIRED_FROM:
            _check_constraint_line(requirements, version)
        configuration = AirflowConfiguration(airflow_configuration_options)
        if secrets_backend is not None:
            configuration.update(secrets_backend.options(), source="secrets_backend")
        if statsd_allow_list is not None:
            configuration.update(statsd_allow_list_options(statsd_allow_list), source="statsd_allow_list")
        if celery_concurrency is not None:
            configuration.update(celery_concurrency.options(env_class), source="celery_concurrency")
        if (network is None) == (vpc is None):
            raise ValueError("pass exactly one of network (an AirflowNetwork) or vpc, got "
                             + ("both" if network is not None else "neither"))
        if network is not None:
            if subnets is not None:
                raise ValueError("subnets cannot be combined with network: the network supplies its two subnets")
            if secrets_backend is not None:
                network.check_endpoint("secretsmanager", "secrets_backend")
            selected = network.subnets
        else:
            selected = environment_subnets(vpc, subnets)

        # --- resources -----------------------------------------------------------------
        self.environment_name = environment_name
        self.environment_class = env_class
        self.airflow_version = version
        self.capacity = capacity
        self.configuration = configuration
        self.key: kms.IKey = key or AirflowKey(
            self, "Key", description=f"Encrypts MWAA environment {environment_name}, its bucket and logs",
            removal_policy=removal_policy,
        )
        if source_bucket is None:
            self._source_bucket_construct = AirflowSourceBucket(
                self, "SourceBucket", key=self.key, removal_policy=removal_policy
            )
            source_bucket = self._source_bucket_construct.bucket
        self.source_bucket: s3.IBucket = source_bucket
        self._role_construct: Optional[AirflowExecutionRole] = None
        if execution_role is None:
            self._role_construct = AirflowExecutionRole(
                self, "ExecutionRole", environment_name=environment_name, source_bucket=source_bucket, key=self.key
            )
            execution_role = self._role_construct.role
        self.execution_role: iam.IRole = execution_role
        if secrets_backend is not None:
            self._grant_secrets(secrets_backend)

        if security_groups:
            self.security_groups = list(security_groups)
        elif network is not None:
            self.security_groups = [
                network.new_environment_security_group(self, "SecurityGroup", environment_name=environment_name)
            ]
        else:
            # A plain VPC: the library cannot know how it reaches AWS APIs, so HTTPS may go anywhere.
            self.security_groups = [environment_security_group(
                self, "SecurityGroup", vpc=vpc, environment_name=environment_name,
                egress=EgressTargets(internet="HTTPS to AWS service APIs (VPC endpoints or NAT)"),
            )]
        self.connections = ec2.Connections(security_groups=self.security_groups)
        self.subnets = selected

        self.log_groups: dict[str, logs.LogGroup] = {
            log_type: logs.LogGroup(
                self, f"{suffix}Logs", log_group_name=f"airflow-{environment_name}-{suffix}",
                retention=log_retention, encryption_key=self.key, removal_policy=removal_policy,
            )
            for log_type, (_, suffix) in LOG_TYPES.items()
        }

        self.artifacts = AirflowArtifacts(
            self, "Artifacts", bucket=source_bucket, key=self.key, dags=dags, requirements=requirements,
            plugins=plugins, startup_script=startup_script, prune_dags=prune_dags, log_retention=log_retention,
        )

        self.resource = mwaa.CfnEnvironment(
            self,
            "Resource",
            name=environment_name,
            airflow_version=version,
            environment_class=env_class.name,
            execution_role_arn=execution_role.role_arn,
            source_bucket_arn=source_bucket.bucket_arn,
            kms_key=self.key.key_arn,
            network_configuration=mwaa.CfnEnvironment.NetworkConfigurationProperty(
                security_group_ids=[sg.security_group_id for sg in self.security_groups],
                subnet_ids=[subnet.subnet_id for subnet in selected],
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
            airflow_configuration_options=configuration.to_dict() or None,
            logging_configuration=mwaa.CfnEnvironment.LoggingConfigurationProperty(
                **{
                    prop: mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty(enabled=True, log_level=levels[log_type])
                    for log_type, (prop, _) in LOG_TYPES.items()
                }
            ),
            dag_s3_path=self.artifacts.dags_s3_path or "dags",
            requirements_s3_path=self.artifacts.requirements_s3_path,
            requirements_s3_object_version=self.artifacts.requirements_version,
            plugins_s3_path=self.artifacts.plugins_s3_path,
            plugins_s3_object_version=self.artifacts.plugins_version,
            startup_script_s3_path=self.artifacts.startup_script_s3_path,
            startup_script_s3_object_version=self.artifacts.startup_script_version,
        )
        # The service checks the role and log groups at creation: create them first.
        for log_group in self.log_groups.values():
            self.resource.node.add_dependency(log_group)
        if self._role_construct is not None:
            self.resource.node.add_dependency(self._role_construct.policy)
        if getattr(self.artifacts, "dag_sync", None) is not None:
            self.resource.node.add_dependency(self.artifacts.dag_sync)
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

    @property
    def rest_api_path(self) -> str:
        """``/api/v1`` on Airflow 2, ``/api/v2`` on Airflow 3."""
        return "/api/v2" if versions.parse(self.airflow_version)[0] >= 3 else "/api/v1"

    # --- permissions ------------------------------------------------------------------------

    def allow_egress_to(self, peer: Union[ec2.IConnectable, ec2.IPeer], port: int, *, description: str) -> None:
        """Let the environment open TCP ``port`` to ``peer``, e.g. Redshift's 5439 on its security group.

        A security group peer gets the matching ingress rule. ``description`` lands on both rules.
        """
        allow_port(self.connections, peer, port, description)

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        """Give the execution role another permission (into its managed policy when we made it)."""
        if self._role_construct is not None:
            self._role_construct.add_to_policy(statement)
        else:
            self.execution_role.add_to_principal_policy(statement)

    def _grant_secrets(self, backend: SecretsManagerBackend) -> None:
        self.add_to_role_policy(backend.read_statement(self))
        if self._role_construct is not None:
            acknowledge(
                self._role_construct.policy,
                [wildcard_resource_finding(self, arn) for arn in backend.secret_arns(self)],
                "Secrets Manager appends a random suffix to every secret ARN; the wildcard admits only the "
                "secrets under this environment's configured connections and variables prefixes.",
            )

    def grant_web_login(self, grantee: iam.IGrantable, airflow_role: str = "Viewer") -> iam.Grant:
        """Let ``grantee`` open the Airflow UI as ``airflow_role`` (Admin, Op, User, Viewer, Public)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["airflow:CreateWebLoginToken"],
            resource_arns=[airflow_role_arn(self, self.environment_name, airflow_role)],
        )

    def grant_web_login_to_roles(self, roles: Sequence[iam.IRole], airflow_role: str = "Viewer") -> iam.ManagedPolicy:
        """Let existing roles (e.g. SSO permission-set roles) open the Airflow UI as ``airflow_role``.

        Roles imported with ``Role.from_role_arn`` take no grants; this attaches a managed policy
        (``WebLogin<airflow_role>``) to them instead, allowing only ``airflow:CreateWebLoginToken``
        on this environment's ``airflow_role``. The roles must be in this stack's account.
        """
        resource = airflow_role_arn(self, self.environment_name, airflow_role)
        if not roles:
            raise ValueError("roles must name at least one IAM role")
        return iam.ManagedPolicy(
            self, f"WebLogin{airflow_role}", roles=list(roles),
            description=f"Open the Airflow UI of MWAA environment {self.environment_name} as {airflow_role}",
            statements=[iam.PolicyStatement(actions=["airflow:CreateWebLoginToken"], resources=[resource])],
        )

    def grant_invoke_rest_api(self, grantee: iam.IGrantable, airflow_role: str = "Viewer") -> iam.Grant:
        """Let ``grantee`` call the Airflow REST API through MWAA as ``airflow_role``."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["airflow:InvokeRestApi"],
            resource_arns=[airflow_role_arn(self, self.environment_name, airflow_role)],
        )

    def grant_cli_token(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` create Airflow CLI tokens for this environment."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["airflow:CreateCliToken"],
            resource_arns=[environment_arn(self, self.environment_name)],
        )

    # --- metrics ----------------------------------------------------------------------------

    def metric(
        self, metric_name: str, *, function: Optional[str] = None, statistic: str = "Average",
        period: Duration = Duration.minutes(5), namespace: str = "AmazonMWAA",
    ) -> cloudwatch.Metric:
        """An MWAA metric of this environment (namespace ``AmazonMWAA``, dimension ``Environment``)."""
        dimensions = {"Environment": self.environment_name}
        if function is not None:
            dimensions["Function"] = function
        return cloudwatch.Metric(
            namespace=namespace, metric_name=metric_name, dimensions_map=dimensions, statistic=statistic, period=period
        )

    def metric_scheduler_heartbeat(self, **kwargs) -> cloudwatch.Metric:
        """Scheduler heartbeats; zero means the scheduler is down."""
        return self.metric("SchedulerHeartbeat", function="Scheduler", statistic="Sum", **kwargs)

    def metric_queued_tasks(self, **kwargs) -> cloudwatch.Metric:
        return self.metric("QueuedTasks", function="Executor", statistic="Maximum", **kwargs)

    def metric_running_tasks(self, **kwargs) -> cloudwatch.Metric:
        return self.metric("RunningTasks", function="Executor", statistic="Maximum", **kwargs)

    def metric_import_errors(self, **kwargs) -> cloudwatch.Metric:
        """DAG files that failed to import."""
        return self.metric("ImportErrors", function="DAG Processing", statistic="Maximum", **kwargs)


# --- validation helpers ------------------------------------------------------------------------


def check_environment_name(name: str) -> None:
    if isinstance(name, str) and Token.is_unresolved(name):
        raise ValueError("environment_name must be a literal string: log groups and ARNs are derived from it")
    low, high, pattern = name_limits()
    if not isinstance(name, str) or not (low <= len(name) <= high) or not re.fullmatch(pattern, name):
        raise ValueError(
            f"environment_name must be {low}-{high} characters matching {pattern} (a letter, then letters, "
            f"digits, '-' or '_'), got {name!r}"
        )


def _check_enum(field: str, value: str, allowed: Sequence[str]) -> None:
    if isinstance(value, str) and Token.is_unresolved(value):
        return
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}, got {value!r}")


def check_maintenance_window(value: Optional[str]) -> None:
    if value is None or (isinstance(value, str) and Token.is_unresolved(value)):
        return
    if not isinstance(value, str) or not _MAINTENANCE_WINDOW.match(value):
        raise ValueError(
            "weekly_maintenance_window_start must be DAY:HH:MM in UTC with DAY one of MON..SUN, HH 00-23 and "
            f"MM 00 or 30 (e.g. TUE:03:30), got {value!r}"
        )


def _log_levels(overrides: Optional[Mapping[str, str]]) -> dict[str, str]:
    levels = {log_type: "INFO" for log_type in LOG_TYPES}
    for log_type, level in (overrides or {}).items():
        if log_type not in LOG_TYPES:
            raise ValueError(f"log_levels keys must be among {', '.join(LOG_TYPES)}, got {log_type!r}")
        _check_enum(f"log_levels[{log_type!r}]", level, log_levels())
        levels[log_type] = level
    return levels


def _check_constraint_line(requirements: str, version: str) -> None:
    # check_artifact_paths has already established that the file exists.
    if not _CONSTRAINT_LINE.search(Path(requirements).read_text()):
        raise ValueError(
            f"requirements {requirements!r} must carry a '--constraint' line for Airflow {version} (required from "
            f"Airflow 2.7.2), e.g. --constraint \"https://raw.githubusercontent.com/apache/airflow/constraints-{version}/"
            "constraints-3.11.txt\""
        )
