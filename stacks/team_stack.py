"""Environment stacks (a team's own environment, or a shared one) and team stacks on a shared environment."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from aws_cdk import CfnOutput, Duration, Stack, Stage
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mwaa_platform import (
    WEB_SERVER_PRIVATE_RULE,
    AirflowEnvironment,
    AirflowEnvironmentBase,
    AirflowNetworkBase,
    ManagedPolicyGrants,
    NetworkAttributes,
    MwaaPlatformError,
    SharedAirflowNetwork,
    acknowledge,
)
from mwaa_platform.cross_account import AirflowAwsConnection, grant_assume_roles
from mwaa_platform.alerting import AlertTopic, EnvironmentAlarms, FailureEvents, TeamBudget, TeamDashboard
from mwaa_platform.environment import (
    AirflowPackageIndex,
    EnvironmentClassName,
    Wheelhouse,
    check_upgrade,
    deployed_airflow_version,
)
from stacks.registry import EnvironmentSpec, TeamAccessSpec, WebAccess, WebIngress, retention
from mwaa_platform.compute import BatchCompute, BatchJob, EcsTaskCompute, EksClusterBase, EksCompute, EksNamespaceAccess, TaskImage
from stacks.registry_schema import Alerts, Compute, Image, WheelhouseSettings, subscriptions, thresholds


@dataclass(frozen=True)
class ClusterRef:
    """The account and Region's EKS cluster, as its stack publishes it."""

    cluster_name: str
    parameter_prefix: str

    def import_into(self, scope: Construct) -> EksClusterBase:
        return EksClusterBase.from_parameters(scope, "EksCluster", cluster_name=self.cluster_name,
                                              parameter_prefix=self.parameter_prefix)


class EnvironmentStack(Stack):
    """One MWAA environment with its execution role, key, bucket, logs and web access.

    The network is read from the network stack's SSM parameters at deployment (no exports). Task
    compute, alerting and cross-account access are wired here as their constructs land.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, spec: EnvironmentSpec, network: NetworkAttributes,
        eks: Optional[ClusterRef] = None, eks_namespaces: tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        """
        :param eks: the EKS cluster, when this environment launches pods. Default: none.
        :param eks_namespaces: the namespaces whose pods it launches (its team's, or its sharing teams').
        """
        owner = f"shared by {', '.join(spec.shared_by) or 'no team yet'}" if spec.shared else f"of team {spec.name}"
        super().__init__(
            scope, construct_id,
            description=f"MWAA environment {spec.environment_name} {owner} ({spec.stage.name})",
            termination_protection=spec.stage.production,
            **kwargs,
        )
        self.spec = spec
        settings = spec.settings
        shared = SharedAirflowNetwork(self, "Network", attributes=network)
        self.airflow = self._environment(spec.environment_name, shared, airflow_version=spec.airflow_version,
                                         environment_class=spec.environment_class, dags=spec.dags,
                                         execution_role_name=spec.execution_role_name)
        green = getattr(settings, "blue_green", None)
        #: the second environment of a blue/green migration (registry blue_green), or None
        self.green = self._environment(
            green.environment_name, shared, airflow_version=green.airflow_version,
            environment_class=green.environment_class or spec.environment_class,
            dags=_dag_subset(self, spec.dags, green.dags, green.environment_name), execution_role_name=None,
        ) if green is not None else None
        environments = [self.airflow, *([self.green] if self.green is not None else [])]
        cluster = eks.import_into(self) if eks is not None else None
        for environment in environments:
            suffix = _suffix(spec, environment.environment_name)
            # an IAM Identity Center policy is named: the new environment's is <policy_name>-<its name>
            grant_web_access(self, environment, spec.web_access, suffix=suffix,
                             policy_suffix=f"-{environment.environment_name}" if environment is self.green else "")
            for index, ingress in enumerate(settings.web_ingress):
                environment.allow_web_from(self._web_peer(f"{index}{suffix}", ingress), description=ingress.description)
            if cluster is not None:
                cluster.allow_pod_launch_from(
                    environment, description=f"HTTPS from MWAA environment {environment.environment_name}")
        if cluster is not None and spec.shared:
            # EKS allows one access entry per role: the shared role's lists every sharing team's namespace
            EksNamespaceAccess(self, "EksAccess", cluster=cluster, principal_arn=self.airflow.execution_role.role_arn,
                               namespaces=eks_namespaces)
        compute = getattr(settings, "compute", None)
        self.compute = build_compute(self, network=shared, compute=compute, grantee=self.airflow, team=spec.name,
                                     cluster=cluster) if compute else None
        if self.compute is not None and self.green is not None:
            self.compute.grant_to(self.green)
        self.alerting = build_alerting(
            self, name=spec.environment_name, team=spec.name, alerts=spec.alerts, environment=self.airflow,
            compute=self.compute, budget_usd=spec.budget_usd, suffix=_suffix(spec, spec.environment_name))
        if self.green is not None and self.alerting is not None:
            watch_environment(self, self.green, alerts=spec.alerts, topic=self.alerting.topic,
                              suffix=_suffix(spec, self.green.environment_name))
        self.connections = {
            role.target.conn_id: AirflowAwsConnection(
                self, f"Connection{_pascal(role.target.conn_id)}", environment=self.airflow, conn_id=role.target.conn_id,
                role_arn=role.role_arn, region_name=role.target.region, external_id=role.target.external_id,
                services=role.target.services, route_reason=role.target.route_reason,
                resources=[resource for statement in role.target.statements for resource in statement.resources])
            for role in spec.cross_account
        }
        if spec.cross_account:
            grant_assume_roles(self.airflow, [role.role_arn for role in spec.cross_account])

    def _environment(self, environment_name: str, network: SharedAirflowNetwork, *, airflow_version: str,
                     environment_class: EnvironmentClassName, dags: Any,
                     execution_role_name: Optional[str]) -> AirflowEnvironment:
        """One of the stage's environments, with the stage's settings. Its construct id follows its name
        (``_suffix``), so the environment a blue/green cutover keeps is never replaced."""
        spec, settings = self.spec, self.spec.settings
        if settings.deployed_version == "lookup":
            deployed = deployed_airflow_version(self, environment_name)
            if deployed is not None:
                try:
                    check_upgrade(deployed, airflow_version)
                except MwaaPlatformError as error:
                    raise MwaaPlatformError(
                        f"{spec.stack_name}: environment {environment_name} runs Airflow {deployed} (deployed_version: "
                        f"lookup, cached in cdk.context.json): {error.message}") from None
        environment = AirflowEnvironment(
            self,
            f"Environment{_suffix(spec, environment_name)}",
            environment_name=environment_name,
            network=network,
            environment_class=environment_class,
            airflow_version=airflow_version,
            schedulers=settings.schedulers,
            min_workers=settings.min_workers,
            max_workers=settings.max_workers,
            min_webservers=settings.min_webservers,
            max_webservers=settings.max_webservers,
            weekly_maintenance_window_start=settings.weekly_maintenance_window_start,
            webserver_access_mode=settings.webserver_access_mode,
            airflow_configuration_options=settings.airflow_configuration_options or None,
            secrets_backend=spec.secrets_backend,
            log_retention=retention(settings.log_retention_days),
            dags=dags,
            requirements=settings.requirements,
            plugins=settings.plugins,
            startup_script=settings.startup_script,
            artifact_writers=settings.artifact_writers,
            execution_role_name=execution_role_name,
            wheelhouse=_wheelhouse(settings.wheelhouse),
            package_index=AirflowPackageIndex(
                self, f"PackageIndex{_suffix(spec, environment_name)}", domain_name=settings.package_index.domain_name,
                repository_name=settings.package_index.repository_name,
            ) if settings.package_index is not None else None,
        )
        if settings.public_web_reason is not None:
            acknowledge(environment, f"MwaaChecks::{WEB_SERVER_PRIVATE_RULE}", settings.public_web_reason)
        return environment

    def _web_peer(self, index: str, ingress: WebIngress) -> ec2.IConnectable | ec2.IPeer:
        if ingress.security_group_id is not None:
            return ec2.SecurityGroup.from_security_group_id(
                self, f"WebIngress{index}", ingress.security_group_id, mutable=False
            )
        if ingress.prefix_list_id is not None:
            return ec2.Peer.prefix_list(ingress.prefix_list_id)
        assert ingress.cidr is not None  # the registry allows exactly one of the three
        return ec2.Peer.ipv6(ingress.cidr) if ":" in ingress.cidr else ec2.Peer.ipv4(ingress.cidr)


class TeamAccessStack(Stack):
    """What a team on a shared environment owns in that stage: today its web access, later its compute."""

    def __init__(
        self, scope: Construct, construct_id: str, *, spec: TeamAccessSpec, network: NetworkAttributes,
        eks: Optional[ClusterRef] = None, **kwargs: Any
    ) -> None:
        super().__init__(
            scope, construct_id,
            description=f"Team {spec.team} on shared MWAA environment {spec.environment.environment_name} "
                        f"({spec.stage.name})",
            termination_protection=spec.stage.production,
            **kwargs,
        )
        environment = AirflowEnvironment.from_environment_name(self, "Environment", spec.environment.environment_name)
        grant_web_access(self, environment, spec.web_access)
        self.compute = None
        if spec.compute is not None:
            role_name = spec.environment.execution_role_name
            assert role_name is not None  # a shared environment's role has a fixed name
            # the team's compute, granted to the shared execution role through a policy in this stack
            grants = ManagedPolicyGrants(
                self, "SharedRoleGrants", role=iam.Role.from_role_name(self, "SharedExecutionRole", role_name),
                description=f"What DAGs of team {spec.team} on {spec.environment.environment_name} may start",
                environment_name=spec.environment.environment_name,
            )
            self.compute = build_compute(self, network=SharedAirflowNetwork(self, "Network", attributes=network),
                                         compute=spec.compute, grantee=grants, team=spec.team,
                                         cluster=eks.import_into(self) if eks is not None else None,
                                         eks_access_entry=False)
        # the shared environment's own alarms go to its topic; here the team's compute and budget
        self.alerting = build_alerting(
            self, name=f"{spec.team}-{spec.stage.name}", team=spec.team, alerts=spec.alerts, environment=None,
            compute=self.compute, budget_usd=spec.budget_usd)


@dataclass(frozen=True)
class TeamComputeSet:
    """A team's task compute in one stage, by family and job queue."""

    ecs_tasks: dict[str, EcsTaskCompute]
    batch: Optional[BatchCompute]
    eks: Optional[EksCompute] = None
    #: the ``redrive`` choice of each ECS family, as its grant is made
    redrive: Mapping[str, bool] = field(default_factory=dict)

    def grant_to(self, grantee: iam.IGrantable, *, eks_access_entry: bool = True) -> None:
        """The operators' calls on all of it: what ``build_compute`` grants its first grantee (the second
        environment of a blue/green migration gets the same)."""
        for family, task in self.ecs_tasks.items():
            task.grant_run(grantee, redrive=self.redrive.get(family, False))
        if self.batch is not None:
            self.batch.grant_submit(grantee)
        if self.eks is not None:
            self.eks.grant_pod_launch(grantee, access_entry=eks_access_entry)


def build_compute(scope: Construct, *, network: AirflowNetworkBase, compute: Compute, grantee: iam.IGrantable,
                  team: str, cluster: Optional[EksClusterBase] = None, eks_access_entry: bool = True) -> TeamComputeSet:
    """The team's task compute in ``scope``, granted to ``grantee``: the operators' calls and nothing else.

    :param cluster: the account and Region's EKS cluster, for ``compute.eks``.
    :param eks_access_entry: give ``grantee`` (a role) its own access entry; False on a shared
        environment, whose stack holds the one entry of the shared role.
    """
    def secrets(owner: str, arns: Mapping[str, str]) -> dict[str, secretsmanager.ISecret]:
        return {name: secretsmanager.Secret.from_secret_complete_arn(scope, f"Secret{_pascal(owner)}{name}", arn)
                for name, arn in arns.items()}

    tasks: dict[str, EcsTaskCompute] = {}
    for task in compute.ecs_tasks:
        construct = EcsTaskCompute(
            scope, f"Ecs{_pascal(task.family)}", network=network, family=task.family, image=_image(task.image),
            cpu=task.cpu, memory_mib=task.memory_mib, environment=task.environment or None,
            secrets=secrets(task.family, task.secrets),
        )
        tasks[task.family] = construct
        _operator_outputs(scope, f"Ecs{_pascal(task.family)}", {
            "StateMachine": construct.state_machine_arn,
            "LogGroup": construct.log_group.log_group_name,
        }, f"StepFunctionStartExecutionOperator state_machine_arn, and the task logs, of task family {task.family}")
    queue: Optional[BatchCompute] = None
    if compute.batch_jobs:
        queue = BatchCompute(
            scope, "Batch", network=network, capacity=compute.batch_capacity, max_vcpus=compute.batch_max_vcpus,
            jobs=[BatchJob(job.name, _image(job.image),
                           vcpus=job.vcpus if compute.batch_capacity.startswith("FARGATE") else int(job.vcpus),
                           memory_mib=job.memory_mib,
                           environment=job.environment, secrets=secrets(job.name, job.secrets),
                           retry_attempts=job.retry_attempts, timeout=Duration.minutes(job.timeout_minutes))
                  for job in compute.batch_jobs],
        )
        _operator_outputs(scope, "Batch", {"JobQueue": queue.job_queue_name}, "BatchOperator job_queue")
    pods: Optional[EksCompute] = None
    if compute.eks is not None:
        assert cluster is not None  # the platform builds a cluster wherever a team runs pods
        settings = compute.eks
        pods = EksCompute(scope, "Eks", cluster=cluster, network=network, team=team, namespace=settings.namespace,
                          instance_types=settings.instance_types, capacity_type=settings.capacity_type,
                          min_nodes=settings.min_nodes, max_nodes=settings.max_nodes,
                          root_volume_gib=settings.root_volume_gib, pod_security=settings.pod_security,
                          image_repositories=settings.image_repositories)
        stack = Stack.of(scope)
        _operator_outputs(scope, "Eks", {
            "ClusterName": pods.cluster_name, "Namespace": pods.namespace, "Region": pods.region,
            "NodeSelector": stack.to_json_string(pods.node_selector),
            "Tolerations": stack.to_json_string(pods.tolerations),
        }, "EksPodOperator arguments")
    computes = TeamComputeSet(ecs_tasks=tasks, batch=queue, eks=pods,
                              redrive={task.family: task.redrive for task in compute.ecs_tasks})
    computes.grant_to(grantee, eks_access_entry=eks_access_entry)
    return computes


@dataclass(frozen=True)
class Alerting:
    topic: AlertTopic
    alarms: Optional[EnvironmentAlarms]
    failures: Optional[FailureEvents]
    budget: Optional[TeamBudget]


def build_alerting(scope: Construct, *, name: str, team: str, alerts: Optional[Alerts],
                   environment: Optional[AirflowEnvironment], compute: Optional[TeamComputeSet],
                   budget_usd: Optional[float], suffix: str = "") -> Optional[Alerting]:
    """A topic, the environment's alarms, failure events of the environment and the team's compute, a
    dashboard named ``name``, and the stage's budget; nothing where there is nothing to watch.

    :param suffix: of the ids of what watches the environment (alarms, failure events, dashboard), which
        follow its name (``_suffix``).
    """
    clusters = [task.cluster.cluster_arn for task in compute.ecs_tasks.values()] if compute else []
    queues = [compute.batch.job_queue.job_queue_arn] if compute and compute.batch else []
    if environment is None and not clusters and not queues and budget_usd is None:
        return None
    topic = AlertTopic(scope, "Alerts", display_name=f"{name} alerts", subscriptions=subscriptions(alerts))
    alarms = EnvironmentAlarms(scope, f"Alarms{suffix}", environment=environment, topic=topic,
                               thresholds=thresholds(alerts)) if environment is not None else None
    failures = FailureEvents(scope, f"Failures{suffix}", topic=topic,
                             environment_name=environment.environment_name if environment is not None else None,
                             ecs_cluster_arns=list(dict.fromkeys(clusters)),
                             batch_job_queue_arns=queues) if environment is not None or clusters or queues else None
    TeamDashboard(scope, f"Dashboard{suffix}", dashboard_name=name, environment=environment, alarms=alarms,
                  failure_events=failures)
    budget = TeamBudget(scope, "Budget", budget_name=name, team=team, monthly_limit_usd=budget_usd, topic=topic,
                        actual_percent=alerts.budget_actual_percent if alerts else (80, 100),
                        forecast_percent=alerts.budget_forecast_percent if alerts else (100,),
                        ) if budget_usd is not None else None
    CfnOutput(scope, "AlertTopicArn", value=topic.topic_arn, description=f"Alerts of {name}: subscribe here")
    return Alerting(topic=topic, alarms=alarms, failures=failures, budget=budget)


def watch_environment(scope: Construct, environment: AirflowEnvironment, *, alerts: Optional[Alerts],
                      topic: AlertTopic, suffix: str) -> None:
    """Alarms, failure events and a dashboard of a second environment (blue/green), on the stage's topic."""
    alarms = EnvironmentAlarms(scope, f"Alarms{suffix}", environment=environment, topic=topic,
                               thresholds=thresholds(alerts))
    failures = FailureEvents(scope, f"Failures{suffix}", topic=topic, environment_name=environment.environment_name)
    TeamDashboard(scope, f"Dashboard{suffix}", dashboard_name=environment.environment_name, environment=environment,
                  alarms=alarms, failure_events=failures)


def _suffix(spec: EnvironmentSpec, environment_name: str) -> str:
    """The suffix of the ids of an environment and what watches it: none for the stage's default name
    (<team>-<stage>, the ids every existing stack has), the name in PascalCase otherwise. Ids follow names,
    so a blue/green cutover (environment_name set to the new environment's) keeps the new environment and
    its alarms in place: a named environment cannot be replaced."""
    return "" if environment_name == f"{spec.name}-{spec.stage.name}" else _pascal(environment_name)


def _dag_subset(scope: Construct, dags: Any, patterns: list[str], environment_name: str) -> Any:
    """The team's DAG folder, or with ``patterns`` a folder of the files they match, staged in the app's
    output directory (the asset's hash follows the files' contents)."""
    if not patterns or not isinstance(dags, str):
        return dags
    stage = Stage.of(scope)
    assert stage is not None  # every stack is in an app
    staged = Path(stage.outdir) / ".dag-subsets" / environment_name
    shutil.rmtree(staged, ignore_errors=True)
    for pattern in patterns:
        for source in sorted(Path(dags).glob(pattern)):
            target = staged / source.relative_to(dags)
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    return str(staged)


def _operator_outputs(scope: Construct, prefix: str, values: Mapping[str, str], what: str) -> None:
    """Stack outputs (never exports) a DAG author reads to fill in an operator's arguments."""
    for name, value in values.items():
        CfnOutput(scope, f"{prefix}{name}", value=value, description=f"{what}: {name}")


def grant_web_access(scope: Construct, environment: AirflowEnvironmentBase, grants: tuple[WebAccess, ...],
                     suffix: str = "", policy_suffix: str = "") -> None:
    """One managed policy per Airflow role for named roles (and a sibling one for the REST API when an entry has
    rest_api); a named policy for IAM Identity Center, with both actions when the entry has rest_api."""
    for grant in grants:
        if grant.role_name is not None:
            role = iam.Role.from_role_name(scope, f"WebAccess{grant.airflow_role}{grant.role_name}{suffix}", grant.role_name)
            environment.grant_web_login_to_roles([role], grant.airflow_role, rest_api=grant.rest_api)
        else:
            environment.grant_web_login_policy(grant.airflow_role, policy_name=f"{grant.policy_name}{policy_suffix}",
                                               rest_api=grant.rest_api)


def _wheelhouse(value: Union[None, bool, WheelhouseSettings]) -> Union[None, bool, Wheelhouse]:
    if isinstance(value, WheelhouseSettings):
        return Wheelhouse(find_links=value.find_links, constraints=value.constraints, max_size_mib=value.max_size_mib)
    return value


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


def _image(image: Image) -> TaskImage:
    if image.uri is not None:
        return TaskImage.from_uri(image.uri)
    if image.directory is not None:
        return TaskImage.from_directory(image.directory)
    assert image.team_repository_tag is not None  # the schema allows exactly one of the three
    return TaskImage.team_repository(image.team_repository_tag)
