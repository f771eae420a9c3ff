"""What other constructs wire to: ``IAirflowEnvironment``, the base class holding everything derivable
from an environment's name (ARNs, grants, metrics), and the import of an environment defined elsewhere.

This is aws-cdk-lib's pattern (``IDatabaseInstance``, ``DatabaseInstanceBase``,
``fromDatabaseInstanceAttributes``). Environments are ``iam.IGrantable`` (through their execution
role) and ``ec2.IConnectable`` (through their security groups), so aws-cdk-lib's own
``bucket.grant_read(env)`` and ``sg.connections.allow_from(env, port)`` accept them directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional, Protocol, TypedDict, runtime_checkable

import jsii
from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct
from typing_extensions import Unpack

from mwaa_platform._internal.arns import airflow_role_arn, environment_arn
from mwaa_platform._internal.kinds import check_kind
from mwaa_platform.environment.configuration import SecretsManagerBackend
from mwaa_platform.environment.options import AIRFLOW_ROLES, AirflowRole, DatabaseRole, MwaaCluster
from mwaa_platform.environment.validation import (
    check_choice,
    check_environment_name,
    check_policy_name,
    check_security_groups,
)
from mwaa_platform.errors import MwaaPlatformError, construct_path, shorten, validating
from mwaa_platform.paths.model import DagPath, environment_name_of, record_path

__all__ = [
    "AIRFLOW_NAMESPACE",
    "SERVICE_NAMESPACE",
    "AirflowEnvironmentBase",
    "IAirflowEnvironment",
    "MetricOptions",
    "check_environment",
]

#: Airflow's own statsd metrics, by ``Environment`` and ``Function`` (user guide: access-metrics-cw-202).
AIRFLOW_NAMESPACE = "AmazonMWAA"
#: The service's container, queue and database metrics, by ``Environment`` (+ ``Cluster`` or ``DatabaseRole``).
SERVICE_NAMESPACE = "AWS/MWAA"


class MetricOptions(TypedDict, total=False):
    """Options of every ``metric_*`` method; each one left out keeps CloudWatch's or the method's default."""

    #: Default: five minutes.
    period: Duration
    #: Default: the method's statistic (``Average`` for ``metric``).
    statistic: str
    #: Default: the metric name.
    label: str
    #: Default: whatever unit the metric is published in.
    unit: cloudwatch.Unit
    #: Default: the stack's account (for cross-account dashboards).
    account: str
    #: Default: the stack's Region.
    region: str
    #: Default: automatic.
    color: str


_METRIC_OPTIONS = frozenset(MetricOptions.__annotations__)


def _with_defaults(options: MetricOptions, **defaults: Unpack[MetricOptions]) -> MetricOptions:
    """``options`` with ``defaults`` filled in where the caller left them out."""
    merged = MetricOptions(**defaults)
    merged.update(options)
    return merged


@runtime_checkable
class IAirflowEnvironment(Protocol):
    """An MWAA environment, created in this app (``AirflowEnvironment``) or imported by name.

    Everything here is derived from the environment's name and stack, so an imported environment
    offers the same grants and metrics as one created here.
    """

    @property
    def node(self) -> object: ...

    @property
    def environment_name(self) -> str: ...

    @property
    def environment_arn(self) -> str: ...

    @property
    def execution_role(self) -> Optional[iam.IRole]: ...

    @property
    def grant_principal(self) -> iam.IPrincipal: ...

    @property
    def connections(self) -> ec2.Connections: ...

    @property
    def key(self) -> Optional[kms.IKey]:
        """The environment's customer managed key (None for an import given none)."""
        ...

    @property
    def secrets_backend(self) -> Optional[SecretsManagerBackend]:
        """Its Secrets Manager backend, prefixes resolved (None without one, or an import given none)."""
        ...

    def grant_web_login(self, grantee: iam.IGrantable, airflow_role: AirflowRole = "Viewer") -> iam.Grant: ...

    def grant_web_login_policy(
        self, airflow_role: AirflowRole = "Viewer", *, policy_name: Optional[str] = None, rest_api: bool = False
    ) -> iam.ManagedPolicy: ...

    def grant_invoke_rest_api(self, grantee: iam.IGrantable, airflow_role: AirflowRole = "Viewer") -> iam.Grant: ...

    def grant_cli_token(self, grantee: iam.IGrantable) -> iam.Grant: ...

    def metric(self, metric_name: str, *, function: Optional[str] = None,
               **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class AirflowEnvironmentBase(Construct):
    """ARNs, grants and metrics of an MWAA environment, from its name and its stack's account and Region.

    Subclasses set ``environment_name``, ``execution_role`` and ``security_groups`` (and, where
    known, ``key`` and ``secrets_backend``).
    """

    environment_name: str
    execution_role: Optional[iam.IRole]
    security_groups: list[ec2.ISecurityGroup]
    #: The customer managed key of the environment, when known.
    key: Optional[kms.IKey] = None
    #: The Secrets Manager backend with its prefixes resolved, when the environment has one (and it is known).
    secrets_backend: Optional[SecretsManagerBackend] = None

    # --- identity -----------------------------------------------------------------------------

    @property
    def environment_arn(self) -> str:
        """``arn:PARTITION:airflow:REGION:ACCOUNT:environment/NAME``."""
        return environment_arn(self, self.environment_name)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The execution role: what a grant to the environment gives permissions to.

        Without a known execution role (an import given none), a grant attaches nothing and CDK
        records a warning on this construct naming the statement that was dropped.
        """
        if self.execution_role is None:
            return _RoleNotImported(self)
        return self.execution_role.grant_principal

    @property
    def connections(self) -> ec2.Connections:
        """The environment's own security groups, for ``allow_to`` / ``allow_from`` rules.

        A group the environment shares with others (the network's endpoint clients group) is left
        out: a rule through it would open the port for every environment in the group. An import
        given no security groups has none, so rules through it open nothing.
        """
        if getattr(self, "_connections", None) is None:
            shared = getattr(self, "shared_security_groups", [])
            own = [group for group in self.security_groups if not any(group is other for other in shared)]
            self._connections = ec2.Connections(security_groups=own)
        return self._connections

    # --- grants -------------------------------------------------------------------------------

    def _airflow_role_arn(self, airflow_role: str) -> str:
        with validating(self):
            check_choice("airflow_role", airflow_role, AIRFLOW_ROLES)
        return airflow_role_arn(self, self.environment_name, airflow_role)

    def grant_web_login(self, grantee: iam.IGrantable, airflow_role: AirflowRole = "Viewer") -> iam.Grant:
        """Let ``grantee`` open the Airflow UI as ``airflow_role`` (Admin, Op, User, Viewer, Public)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["airflow:CreateWebLoginToken"],
            resource_arns=[self._airflow_role_arn(airflow_role)],
        )

    def grant_web_login_to_roles(
        self, roles: Sequence[iam.IRole], airflow_role: AirflowRole = "Viewer", *, rest_api: bool = False
    ) -> iam.ManagedPolicy:
        """Let existing roles open the Airflow UI as ``airflow_role``, through one managed policy.

        Roles imported with ``Role.from_role_name`` take no grants; this attaches a managed policy
        (``WebLogin<airflow_role>``) allowing only ``airflow:CreateWebLoginToken`` on this
        environment's ``airflow_role`` instead. Calling it again for the same Airflow role attaches
        the same policy to the further roles. The roles must be in this stack's account and be
        modifiable: IAM Identity Center roles (``AWSReservedSSO_*``) are not; use
        ``grant_web_login_policy`` for them.

        :param rest_api: also let the roles call the Airflow REST API through MWAA as the same
            Airflow role (``airflow:InvokeRestApi``), through the sibling policy of
            ``grant_invoke_rest_api_to_roles``, which roles given web login only never share.
            Default: web login only.
        """
        self._check_rest_api(rest_api)
        policy = self._attach_role_policy(
            f"WebLogin{airflow_role}", roles, airflow_role, "airflow:CreateWebLoginToken",
            f"Open the Airflow UI of MWAA environment {self.environment_name} as {airflow_role}",
        )
        if rest_api:
            self.grant_invoke_rest_api_to_roles(roles, airflow_role)
        return policy

    def grant_invoke_rest_api_to_roles(
        self, roles: Sequence[iam.IRole], airflow_role: AirflowRole = "Viewer"
    ) -> iam.ManagedPolicy:
        """Let existing roles call the Airflow REST API through MWAA as ``airflow_role``, through one managed policy.

        Like ``grant_web_login_to_roles``, for ``airflow:InvokeRestApi``: a managed policy
        ``InvokeRestApi<airflow_role>`` attached to the roles, one per Airflow role. The Amazon
        provider's ``MwaaHook`` and ``MwaaTriggerDagRunOperator`` call it, and on Airflow 3 the hook
        needs it. A request's ``Path`` leaves out the version prefix (``/api/v1`` on Airflow 2,
        ``/api/v2`` on Airflow 3), e.g. ``/dags/{dag_id}/dagRuns``.
        """
        return self._attach_role_policy(
            f"InvokeRestApi{airflow_role}", roles, airflow_role, "airflow:InvokeRestApi",
            f"Call the Airflow REST API of MWAA environment {self.environment_name} as {airflow_role}",
        )

    def _attach_role_policy(
        self, construct_id: str, roles: Sequence[iam.IRole], airflow_role: str, action: str, description: str
    ) -> iam.ManagedPolicy:
        """One managed policy per ``construct_id``, allowing ``action`` on the Airflow role, attached to ``roles``."""
        resource = self._airflow_role_arn(airflow_role)
        if not isinstance(roles, (list, tuple)) or not roles:
            raise MwaaPlatformError(
                f"roles must be a non-empty list of IAM roles, got {shorten(roles)}", construct_path(self)
            )
        existing = self.node.try_find_child(construct_id)
        if isinstance(existing, iam.ManagedPolicy):
            for role in roles:
                existing.attach_to_role(role)
            return existing
        return iam.ManagedPolicy(
            self, construct_id, roles=list(roles), description=description,
            statements=[iam.PolicyStatement(actions=[action], resources=[resource])],
        )

    def grant_web_login_policy(
        self, airflow_role: AirflowRole = "Viewer", *, policy_name: Optional[str] = None, rest_api: bool = False
    ) -> iam.ManagedPolicy:
        """A customer managed policy with a fixed name, for IAM Identity Center permission sets.

        Identity Center's roles (``AWSReservedSSO_*``) cannot be changed, so a policy cannot be
        attached to them (``grant_web_login_to_roles`` fails there with "UnmodifiableEntity").
        Instead a permission set references a customer managed policy *by name*, which must exist
        in every account the set is provisioned to: this creates it, allowing only
        ``airflow:CreateWebLoginToken`` on this environment's ``airflow_role``. Calling it again for
        the same Airflow role returns the same policy; asking for another name or ``rest_api`` raises.

        :param policy_name: the policy's name, to put in the permission set. Default:
            ``<environment>-airflow-<role>-web-login`` (e.g. ``analytics-dev-airflow-user-web-login``).
        :param rest_api: the same policy also allows ``airflow:InvokeRestApi`` as the same Airflow
            role (the REST API through MWAA). Turning it on or off changes only the policy's
            document, so a deployed policy is updated in place. Default: web login only.
        """
        resource = self._airflow_role_arn(airflow_role)
        name = policy_name or f"{self.environment_name}-airflow-{airflow_role.lower()}-web-login"
        with validating(self):
            check_policy_name("policy_name", name)
        self._check_rest_api(rest_api)
        construct_id = f"WebLoginPolicy{airflow_role}"
        created: dict[str, tuple[str, bool]] = getattr(self, "_web_login_policies", {})
        existing = self.node.try_find_child(construct_id)
        if isinstance(existing, iam.ManagedPolicy):
            first = created.get(construct_id)
            if first is not None and first != (name, rest_api):
                raise MwaaPlatformError(
                    f"the web login policy for Airflow role {airflow_role} is {first[0]} with rest_api={first[1]}; "
                    f"one policy per Airflow role, got {shorten(name)} with rest_api={rest_api}",
                    construct_path(self),
                )
            return existing
        policy = iam.ManagedPolicy(
            self, construct_id, managed_policy_name=name,
            # the same description with or without rest_api: CloudFormation replaces a managed policy whose
            # description changes, and the replacement of a fixed-name policy fails on the name the old one holds
            description=f"Open the Airflow UI of MWAA environment {self.environment_name} as {airflow_role} "
                        "(for IAM Identity Center permission sets)",
            statements=[iam.PolicyStatement(
                actions=["airflow:CreateWebLoginToken", *(["airflow:InvokeRestApi"] if rest_api else [])],
                resources=[resource],
            )],
        )
        self._web_login_policies = {**created, construct_id: (name, rest_api)}
        return policy

    def _check_rest_api(self, rest_api: object) -> None:
        if not isinstance(rest_api, bool):
            raise MwaaPlatformError(f"rest_api must be True or False, got {shorten(rest_api)}", construct_path(self))

    def grant_invoke_rest_api(self, grantee: iam.IGrantable, airflow_role: AirflowRole = "Viewer") -> iam.Grant:
        """Let ``grantee`` call the Airflow REST API through MWAA as ``airflow_role``.

        Granted to another environment, it records that environment's DAG path: the provider's
        ``MwaaTriggerDagRunOperator`` (``MwaaHook.invoke_rest_api``) calling ``InvokeRestApi``, which
        botocore sends to ``env.airflow.<region>.amazonaws.com``: the ``airflow.env`` endpoint.
        """
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["airflow:InvokeRestApi"],
            resource_arns=[self._airflow_role_arn(airflow_role)],
        )
        caller = environment_name_of(grantee)
        if caller is not None:
            record_path(self, DagPath(
                environment=caller, capability=f"Airflow REST API of {self.environment_name} as {airflow_role}",
                operator="airflow.providers.amazon.aws.operators.mwaa.MwaaTriggerDagRunOperator",
                services=("airflow.env",)))
        return grant

    def grant_cli_token(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` create Airflow CLI tokens for this environment."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["airflow:CreateCliToken"],
            # from the name, not the resource's Arn attribute, so the grantee does not wait on the environment
            resource_arns=[environment_arn(self, self.environment_name)],
        )

    # --- imports ------------------------------------------------------------------------------

    @classmethod
    def from_environment_name(
        cls,
        scope: Construct,
        construct_id: str,
        environment_name: str,
        *,
        execution_role: Optional[iam.IRole] = None,
        security_groups: Optional[Sequence[ec2.ISecurityGroup]] = None,
        key: Optional[kms.IKey] = None,
        secrets_backend: Optional[SecretsManagerBackend] = None,
    ) -> "AirflowEnvironmentBase":
        """An environment defined in another stack or app, in this stack's account and Region.

        :param execution_role: its execution role, so that grants to the environment attach.
            Default: unknown; grants are dropped with a warning naming what was dropped.
        :param security_groups: its security groups, so it can be a ``connections`` peer.
            Default: none; rules through ``connections`` open nothing.
        :param key: its customer managed key, which ``AirflowAwsConnection`` encrypts the
            connection's secret with. Default: unknown.
        :param secrets_backend: the Secrets Manager backend it was created with (the same
            settings), so that ``AirflowAwsConnection`` can add connections under its prefixes.
            Default: unknown (none).
        """
        try:
            check_environment_name(environment_name)
            check_kind("execution_role", execution_role, iam.IRole, optional=True)
            groups = check_security_groups(security_groups, allow_empty=True)
            check_kind("key", key, kms.IKey, optional=True)
            check_kind("secrets_backend", secrets_backend, SecretsManagerBackend, optional=True)
        except MwaaPlatformError as error:
            raise error.at(construct_path(scope, construct_id)) from None
        imported = _ImportedAirflowEnvironment(
            scope, construct_id, environment_name=environment_name, execution_role=execution_role,
            security_groups=groups, key=key,
            secrets_backend=secrets_backend.for_environment(environment_name) if secrets_backend else None,
        )
        unknown = [what for what, given in (("execution_role", execution_role), ("security_groups", groups))
                   if not given]
        if unknown:
            Annotations.of(imported).add_info(
                f"Imported MWAA environment {environment_name} without {' and '.join(unknown)}: grants to it are "
                "dropped with a warning, and connections rules through it open nothing; pass them to use the "
                "environment fully."
            )
        return imported

    # --- metrics ------------------------------------------------------------------------------

    def metric(
        self, metric_name: str, *, function: Optional[str] = None, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """An Airflow metric of this environment: namespace ``AmazonMWAA``, dimensions ``Environment``
        and, when given, ``Function`` (``Scheduler``, ``Executor``, ``DAG Processing``, ...).

        Default statistic: ``Average``; default period: five minutes.
        """
        dimensions = {"Environment": self.environment_name}
        if function is not None:
            dimensions["Function"] = function
        return self._metric(AIRFLOW_NAMESPACE, metric_name, dimensions, "Average", options)

    def metric_service(
        self, metric_name: str, *, dimensions: Optional[Mapping[str, str]] = None, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """A service metric of this environment: namespace ``AWS/MWAA``, dimension ``Environment`` plus
        ``dimensions`` (``{"Cluster": "Scheduler"}``, ``{"DatabaseRole": "WRITER"}``).

        Default statistic: ``Average``; default period: five minutes.
        """
        return self._metric(
            SERVICE_NAMESPACE, metric_name, {"Environment": self.environment_name, **(dimensions or {})}, "Average",
            options,
        )

    def metric_scheduler_heartbeat(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Scheduler heartbeats (sum); zero or missing means the scheduler is down."""
        return self.metric("SchedulerHeartbeat", function="Scheduler", **_with_defaults(options, statistic="Sum"))

    def metric_queued_tasks(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Tasks queued in the executor (maximum), from Airflow's statsd metrics."""
        return self.metric("QueuedTasks", function="Executor", **_with_defaults(options, statistic="Maximum"))

    def metric_running_tasks(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Tasks running in the executor (maximum)."""
        return self.metric("RunningTasks", function="Executor", **_with_defaults(options, statistic="Maximum"))

    def metric_import_errors(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """DAG files that failed to import (maximum)."""
        return self.metric("ImportErrors", function="DAG Processing", **_with_defaults(options, statistic="Maximum"))

    def metric_cpu_utilization(self, cluster: MwaaCluster, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """CPU of one container cluster (``BaseWorker``, ``AdditionalWorker``, ``Scheduler``, ``WebServer``)."""
        return self.metric_service("CPUUtilization", dimensions={"Cluster": cluster}, **options)

    def metric_memory_utilization(self, cluster: MwaaCluster, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Memory of one container cluster (``BaseWorker``, ``AdditionalWorker``, ``Scheduler``, ``WebServer``)."""
        return self.metric_service("MemoryUtilization", dimensions={"Cluster": cluster}, **options)

    def metric_database(
        self, metric_name: str, database_role: DatabaseRole = "WRITER", **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """A metadata-database metric (``CPUUtilization``, ``FreeableMemory``, ``DatabaseConnections``)."""
        return self.metric_service(metric_name, dimensions={"DatabaseRole": database_role}, **options)

    def _metric(
        self, namespace: str, metric_name: str, dimensions: dict[str, str], statistic: str, options: Mapping[str, object]
    ) -> cloudwatch.Metric:
        unknown = sorted(set(options) - _METRIC_OPTIONS)
        if unknown:
            raise MwaaPlatformError(
                f"metric options must be among {', '.join(sorted(_METRIC_OPTIONS))}, got {shorten(unknown[0])}",
                construct_path(self),
            )
        settings: dict = {"period": Duration.minutes(5), "statistic": statistic, **options}
        return cloudwatch.Metric(namespace=namespace, metric_name=metric_name, dimensions_map=dimensions, **settings)


def check_environment(field: str, value: object, *, optional: bool = False) -> None:
    """Raise ``MwaaPlatformTypeError`` unless ``value`` is an ``IAirflowEnvironment`` (or None, when ``optional``)."""
    if isinstance(value, AirflowEnvironmentBase):
        return
    check_kind(field, value, IAirflowEnvironment, optional=optional,
               hint="an AirflowEnvironment, or one from AirflowEnvironment.from_environment_name")


class _RoleNotImported(iam.UnknownPrincipal):
    """The principal of an environment imported without its execution role.

    ``iam.UnknownPrincipal`` drops every statement with a warning. Saying that the role is in the
    environment's own account keeps aws-cdk-lib's ``grant_*`` methods on that path instead of
    falling back to a resource policy, which cannot name an unknown principal.
    """

    def __init__(self, environment: Construct) -> None:
        super().__init__(resource=environment)
        self._account = Stack.of(environment).account

    @property
    def principal_account(self) -> Optional[str]:
        return self._account


class _ImportedAirflowEnvironment(AirflowEnvironmentBase):
    """An environment defined in another stack or app, known by name."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_name: str,
        execution_role: Optional[iam.IRole],
        security_groups: Sequence[ec2.ISecurityGroup],
        key: Optional[kms.IKey] = None,
        secrets_backend: Optional[SecretsManagerBackend] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.environment_name = environment_name
        self.execution_role = execution_role
        self.security_groups = list(security_groups)
        self.key = key
        self.secrets_backend = secrets_backend
