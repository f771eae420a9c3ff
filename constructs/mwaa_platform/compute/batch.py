"""BatchCompute: a team's AWS Batch queue on Fargate, whose jobs DAGs submit with the BatchOperator."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Optional, get_args

import jsii
from aws_cdk import ArnFormat, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mwaa_platform._internal.kinds import check_each, check_kind
from mwaa_platform.compute._trust import ecs_tasks_principal
from mwaa_platform.paths.model import DagPath, environment_name_of, record_path
from mwaa_platform._internal.managed_policy_role import ManagedPolicyRole, managed_policy_of
from mwaa_platform.compliance.nag import acknowledge, wildcard_resource_finding
from mwaa_platform.compute._images import check_image, container_image, team_repository
from mwaa_platform.compute.fargate import check_fargate_size
from mwaa_platform.compute.image import TaskImage
from mwaa_platform.environment.key import AirflowKey
from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform.network.network import AirflowNetworkBase, check_network

__all__ = ["BATCH_CAPACITIES", "BatchCapacity", "BatchCompute", "BatchJob", "FARGATE_VCPUS"]

#: Where a Batch queue's jobs run: Fargate, Fargate Spot, or EC2 (On-Demand or Spot) instances.
BatchCapacity = Literal["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"]
BATCH_CAPACITIES: tuple[str, ...] = get_args(BatchCapacity)

#: vCPU values a Fargate job takes (each x 1024 CPU units in Fargate's table).
FARGATE_VCPUS = (0.25, 0.5, 1, 2, 4, 8, 16)
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$")


@dataclass(frozen=True)
class BatchJob:
    """One job definition of a team's queue.

    :param name: the job definition name the operator submits (1-100 letters, digits, '-', '_').
    :param image: the container image (``TaskImage``).
    :param vcpus: Fargate vCPUs, one of ``FARGATE_VCPUS``. Default: 1.
    :param memory_mib: memory, a size Fargate pairs with ``vcpus``. Default: 2048.
    :param environment: plain environment variables (no secrets). Default: none.
    :param secrets: environment variables read from Secrets Manager at start. Default: none.
    :param retry_attempts: attempts in all, 1-10. Default: 1 (no retry).
    :param timeout: how long an attempt may run before Batch stops it. Default: one hour.
    """

    name: str
    image: TaskImage
    vcpus: float = 1
    memory_mib: int = 2048
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, secretsmanager.ISecret] = field(default_factory=dict)
    retry_attempts: int = 1
    timeout: Duration = Duration.hours(1)


@jsii.implements(ec2.IConnectable)
class BatchCompute(Construct):
    """A job queue on a Fargate (or Fargate Spot) compute environment in the platform network, its job
    definitions, one job role for all of them, and exactly the grants the BatchOperator needs.

    Jobs run in the network's private subnets with a security group that admits nothing and the
    network's endpoint clients group. The job role has no permissions until granted.

    It is an ``ec2.IConnectable``: ``connections`` holds the jobs' own security group (not the
    network's shared endpoint clients group).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: AirflowNetworkBase,
        jobs: Sequence[BatchJob],
        capacity: BatchCapacity = "FARGATE",
        max_vcpus: int = 16,
        priority: int = 1,
        key: Optional[kms.IKey] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """
        :param network: the platform network; its private subnets run the jobs.
        :param jobs: the job definitions (at least one).
        :param capacity: ``FARGATE``, ``FARGATE_SPOT`` (cheaper, interruptible), or EC2 instances: ``EC2``
            or ``SPOT`` (Batch picks optimal instance types up to ``max_vcpus``; the network needs the
            ``ecs-agent`` endpoint set). Default: ``FARGATE``.
        :param max_vcpus: the most vCPUs the compute environment runs at once, 1-10000. Default: 16.
        :param priority: the queue's priority, 0-1000. Default: 1.
        :param key: encrypts the log group and a team repository. Default: a new rotating key.
        :param log_retention: retention of the job log group. Default: three months.
        :param removal_policy: of the log group, key and repository. Default: ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        with validating(scope, construct_id):
            check_network("network", network)
            check_each("jobs", jobs, BatchJob)
            for index, job in enumerate(jobs):
                check_kind(f"jobs[{index}].image", job.image, TaskImage)
                check_each(f"jobs[{index}].secrets", job.secrets, secretsmanager.ISecret)
                check_kind(f"jobs[{index}].timeout", job.timeout, Duration)
            check_kind("key", key, kms.IKey, optional=True)
            check_kind("log_retention", log_retention, logs.RetentionDays)
            check_kind("removal_policy", removal_policy, RemovalPolicy)
        super().__init__(scope, construct_id)
        with validating(self):
            _check_options(jobs, capacity, max_vcpus, priority)
            if any(job.secrets for job in jobs):
                network.check_endpoint("secretsmanager", "secrets")
            network.check_endpoint("batch", "BatchCompute")
            if capacity in ("EC2", "SPOT"):
                network.check_endpoint("ecs-agent", f"BatchCompute on {capacity} instances")

        self.key: kms.IKey = key or AirflowKey(self, "Key", description="Encrypts the logs and images of AWS Batch jobs",
                                               removal_policy=removal_policy)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, encryption_key=self.key,
                                       removal_policy=removal_policy)
        self.repository: Optional[ecr.Repository] = (
            team_repository(self, self.key, removal_policy) if any(job.image.new_repository for job in jobs) else None)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=network.vpc, allow_all_outbound=False,
            description="AWS Batch jobs: no ingress; reach AWS through the endpoint clients group",
        )
        self.security_groups: list[ec2.ISecurityGroup] = [self.security_group, network.endpoint_clients_security_group]
        self.fargate = capacity in ("FARGATE", "FARGATE_SPOT")
        placement = ec2.SubnetSelection(subnets=list(network.subnets))
        self.compute_environment: batch.IComputeEnvironment = batch.FargateComputeEnvironment(
            self, "ComputeEnvironment", vpc=network.vpc, spot=capacity == "FARGATE_SPOT", maxv_cpus=max_vcpus,
            security_groups=self.security_groups, vpc_subnets=placement,
        ) if self.fargate else self._instances(network, capacity == "SPOT", max_vcpus, placement)
        self.job_queue = batch.JobQueue(
            self, "Queue", priority=priority,
            compute_environments=[batch.OrderedComputeEnvironment(compute_environment=self.compute_environment,
                                                                  order=1)],
        )
        self.job_role = ManagedPolicyRole(
            self, "JobRole", policy_id="JobPolicy", assumed_by=ecs_tasks_principal(self),
            description="Role of the team's AWS Batch jobs: no permissions until granted",
            policy_description="Permissions of the team's AWS Batch jobs",
        )
        self.execution_role = ManagedPolicyRole(
            self, "ExecutionRole", policy_id="ExecutionPolicy", assumed_by=ecs_tasks_principal(self),
            description="ECS agent role of the team's AWS Batch jobs: images, logs, secrets",
            policy_description="What Fargate needs to start the team's AWS Batch jobs",
        )
        self.job_definitions = {job.name: self._job_definition(job) for job in jobs}
        if any(job.image.uri is None for job in jobs):
            acknowledge(
                self.execution_role.policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken accepts no resource narrower than '*'; image pulls are limited to the "
                "jobs' repositories.",
            )

    @property
    def connections(self) -> ec2.Connections:
        """The jobs' own security group, for ``allow_to`` / ``allow_from`` rules (none is added here).

        The network's endpoint clients group, which the jobs also have, is left out: a rule through
        it would open the port for everything in the network.
        """
        if getattr(self, "_connections", None) is None:
            self._connections = ec2.Connections(security_groups=[self.security_group])
        return self._connections

    @property
    def job_queue_name(self) -> str:
        """The operator's ``job_queue``."""
        return self.job_queue.job_queue_name

    def grant_submit(self, grantee: iam.IGrantable) -> iam.Grant:
        """Exactly what the BatchOperator calls: submit this queue's job definitions, follow and stop jobs,
        read their logs."""
        stack = Stack.of(self)
        definitions = [stack.format_arn(service="batch", resource="job-definition", resource_name=f"{name}:*",
                                        arn_format=ArnFormat.SLASH_RESOURCE_NAME) for name in self.job_definitions]
        jobs = stack.format_arn(service="batch", resource="job", resource_name="*", arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        streams = f"{self.log_group.log_group_arn}:log-stream:*"
        grants = [
            iam.Grant.add_to_principal(grantee=grantee, actions=["batch:SubmitJob"],
                                       resource_arns=[self.job_queue.job_queue_arn, *definitions]),
            iam.Grant.add_to_principal(grantee=grantee, actions=["batch:DescribeJobs"], resource_arns=["*"]),
            iam.Grant.add_to_principal(grantee=grantee, actions=["batch:TerminateJob"], resource_arns=[jobs]),
            iam.Grant.add_to_principal(grantee=grantee, actions=["logs:GetLogEvents"], resource_arns=[streams]),
        ]
        policy = managed_policy_of(grantee.grant_principal)
        if policy is not None:
            acknowledge(policy, [wildcard_resource_finding(self, arn) for arn in definitions],
                        "The BatchOperator submits any revision of these job definitions (job-definition/NAME:*).")
            acknowledge(policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                        "batch:DescribeJobs accepts no resource narrower than '*' (service authorization reference).")
            acknowledge(policy, wildcard_resource_finding(self, jobs),
                        "Job ids are assigned at submission; the operator stops the jobs it submitted.")
            acknowledge(policy, wildcard_resource_finding(self, streams),
                        "Batch names log streams after each job attempt; the operator reads this queue's log group only.")
        environment = environment_name_of(grantee)
        if environment is not None:
            record_path(self, DagPath(
                environment=environment, capability=f"Batch job queue of {', '.join(self.job_definitions)}",
                operator="airflow.providers.amazon.aws.operators.batch.BatchOperator", services=("batch", "logs")))
        grant = grants[0]
        for other in grants[1:]:
            grant = grant.combine(other)
        return grant

    def _instances(
        self, network: AirflowNetworkBase, spot: bool, max_vcpus: int, placement: ec2.SubnetSelection
    ) -> batch.ManagedEc2EcsComputeEnvironment:
        """EC2 (or Spot) container instances: IMDSv2 only, encrypted volumes, AWS's ECS instance policy."""
        instance_role = ManagedPolicyRole(
            self, "InstanceRole", policy_id="InstancePolicy", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Batch container instances: the ECS agent only",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AmazonEC2ContainerServiceforEC2Role")],
        )
        acknowledge(
            instance_role,
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonEC2ContainerServiceforEC2Role]",
            "AWS's policy for ECS container instances, kept current by AWS as the agent changes; jobs run with "
            "their own job role, not this one.",
        )
        # IMDSv2 with one hop: the ECS agent (host network) reaches the instance metadata, job containers in
        # bridge mode do not, so a job cannot take the instance role's credentials (it has its own job role)
        template = ec2.LaunchTemplate(
            self, "InstanceTemplate", require_imdsv2=True, http_put_response_hop_limit=1,
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                30, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3))],
        )
        return batch.ManagedEc2EcsComputeEnvironment(
            self, "ComputeEnvironment", vpc=network.vpc, spot=spot, maxv_cpus=max_vcpus, minv_cpus=0,
            security_groups=self.security_groups, vpc_subnets=placement, instance_role=instance_role,
            launch_template=template, use_optimal_instance_classes=True,
            allocation_strategy=batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED if spot
            else batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
        )

    def _job_definition(self, job: BatchJob) -> batch.EcsJobDefinition:
        common = dict(
            image=container_image(job.image, self.repository), memory=Size.mebibytes(job.memory_mib),
            environment=dict(job.environment) or None,
            secrets={name: batch.Secret.from_secrets_manager(secret) for name, secret in job.secrets.items()} or None,
            job_role=self.job_role, execution_role=self.execution_role, readonly_root_filesystem=True,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=job.name, log_group=self.log_group),
        )
        container: batch.IEcsContainerDefinition = batch.EcsFargateContainerDefinition(
            self, f"{_pascal(job.name)}Container", cpu=job.vcpus, **common,  # type: ignore[arg-type]
        ) if self.fargate else batch.EcsEc2ContainerDefinition(
            self, f"{_pascal(job.name)}Container", cpu=job.vcpus, **common,  # type: ignore[arg-type]
        )
        return batch.EcsJobDefinition(
            self, f"{_pascal(job.name)}Job", job_definition_name=job.name, container=container,
            retry_attempts=job.retry_attempts, timeout=job.timeout,
        )


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


def _check_options(jobs: Sequence[BatchJob], capacity: str, max_vcpus: int, priority: int) -> None:
    if not jobs:
        raise MwaaPlatformError("jobs must name at least one BatchJob, got none")
    if capacity not in BATCH_CAPACITIES:
        raise MwaaPlatformError(f"capacity must be FARGATE, FARGATE_SPOT, EC2 or SPOT, got {shorten(capacity)}")
    fargate = capacity in ("FARGATE", "FARGATE_SPOT")
    if isinstance(max_vcpus, bool) or not isinstance(max_vcpus, int) or not 1 <= max_vcpus <= 10000:
        raise MwaaPlatformError(f"max_vcpus must be between 1 and 10000, got {shorten(max_vcpus)}")
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
        raise MwaaPlatformError(f"priority must be between 0 and 1000, got {shorten(priority)}")
    seen: set[str] = set()
    for job in jobs:
        where = f"jobs[{job.name!r}]"
        if not isinstance(job.name, str) or not _NAME.match(job.name):
            raise MwaaPlatformError(f"job name must be 1-100 letters, digits, '-' and '_', got {shorten(job.name)}")
        if job.name in seen:
            raise MwaaPlatformError(f"job name {job.name!r} is used twice; job definition names must be unique")
        seen.add(job.name)
        if fargate:
            if job.vcpus not in FARGATE_VCPUS:
                raise MwaaPlatformError(f"{where}: vcpus must be one of {', '.join(map(str, FARGATE_VCPUS))}, "
                                        f"got {shorten(job.vcpus)}")
            check_fargate_size(int(job.vcpus * 1024), job.memory_mib, what="job")
        elif isinstance(job.vcpus, bool) or not isinstance(job.vcpus, int) or job.vcpus < 1 or job.vcpus > max_vcpus:
            raise MwaaPlatformError(f"{where}: vcpus must be a whole number from 1 to max_vcpus ({max_vcpus}) on "
                                    f"{capacity} instances, got {shorten(job.vcpus)}")
        if isinstance(job.retry_attempts, bool) or not isinstance(job.retry_attempts, int) or \
                not 1 <= job.retry_attempts <= 10:
            raise MwaaPlatformError(f"{where}: retry_attempts must be between 1 and 10, got {shorten(job.retry_attempts)}")
        check_image(job.image)
