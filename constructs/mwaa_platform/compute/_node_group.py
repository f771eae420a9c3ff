"""Managed node groups of the platform's EKS clusters: checks, and the hardened group itself.

Every group (a cluster's system group, a team's group) runs Amazon Linux 2023 in the network's
private subnets from a launch template that requires IMDSv2 with one hop (pods cannot reach the
node role's credentials), encrypts the root volume, and gives the nodes the cluster's own
security group (node to control plane) plus the network's endpoint clients group (ECR, S3, STS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import botocore.session
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from mwaa_platform._internal.managed_policy_role import ManagedPolicyRole
from mwaa_platform.compliance.nag import acknowledge
from mwaa_platform.errors import MwaaPlatformError, shorten

#: AWS managed policies every EKS node role needs (EKS user guide: create-node-role).
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy")
#: What pulling an image from ECR calls (what AmazonEC2ContainerRegistryPullOnly allows, on every repository).
ECR_PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
#: Service Quotas default "Nodes per managed node group".
MAX_NODES_PER_GROUP = 450
#: Sizes too small for a node: kubelet, the VPC CNI and kube-proxy leave almost no room for a task.
_TOO_SMALL = ("nano", "micro")
#: Families a managed node group cannot run (Mac hosts, High Memory bare metal).
_UNSUPPORTED_FAMILY = re.compile(r"^(mac\d|u-|u\d)")
#: Graviton (arm64) families: a 'g' among the letters after the generation (m7g, c7gn, r6gd), and a1.
_ARM_FAMILY = re.compile(r"^(a1|[a-z]+\d[a-z]*g[a-z]*)$")
ROOT_VOLUME_MIN_GIB, ROOT_VOLUME_MAX_GIB = 20, 16_384


@cache
def ec2_instance_types() -> frozenset[str]:
    """Instance types the pinned botocore's EC2 model knows."""
    return frozenset(botocore.session.get_session().get_service_model("ec2").shape_for("InstanceType").enum)


def check_instance_types(field: str, instance_types: Sequence[str]) -> str:
    """Raise unless a managed node group can run ``instance_types``; return their AL2023 AMI type."""
    if isinstance(instance_types, str) or not instance_types:
        raise MwaaPlatformError(f"{field} must be a non-empty list of EC2 instance types, got {shorten(instance_types)}")
    architectures = set()
    for instance_type in instance_types:
        if instance_type not in ec2_instance_types():
            raise MwaaPlatformError(
                f"{field}: {shorten(instance_type)} is not an EC2 instance type (botocore's EC2 model), e.g. m6i.large")
        family, size = instance_type.split(".", 1)
        if _UNSUPPORTED_FAMILY.match(family):
            raise MwaaPlatformError(f"{field}: EKS managed node groups cannot run {instance_type} ({family} hosts)")
        if size in _TOO_SMALL:
            raise MwaaPlatformError(
                f"{field}: {instance_type} is too small for a node (kubelet, the VPC CNI and kube-proxy leave no room "
                f"for a task); use a size of at least small, e.g. {family}.large")
        architectures.add("ARM_64" if _ARM_FAMILY.match(family) else "x86_64")
    if len(architectures) > 1:
        raise MwaaPlatformError(
            f"{field} mixes Graviton (arm64) and x86_64 types, got {shorten(list(instance_types))}; one node group "
            "runs one AMI architecture")
    return f"AL2023_{architectures.pop()}_STANDARD"


def check_node_counts(field: str, min_nodes: int, max_nodes: int) -> None:
    for name, value in ((f"{field}min_nodes", min_nodes), (f"{field}max_nodes", max_nodes)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NODES_PER_GROUP:
            raise MwaaPlatformError(f"{name} must be a whole number from 0 to {MAX_NODES_PER_GROUP}, got {shorten(value)}")
    if max_nodes < 1 or max_nodes < min_nodes:
        raise MwaaPlatformError(
            f"{field}max_nodes must be at least 1 and at least min_nodes ({min_nodes}), got {max_nodes}")


def check_root_volume(field: str, size_gib: int) -> None:
    if isinstance(size_gib, bool) or not isinstance(size_gib, int) or not (
            ROOT_VOLUME_MIN_GIB <= size_gib <= ROOT_VOLUME_MAX_GIB):
        raise MwaaPlatformError(
            f"{field} must be {ROOT_VOLUME_MIN_GIB}-{ROOT_VOLUME_MAX_GIB} GiB (gp3; AL2023 needs 20), got {shorten(size_gib)}")


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str = "NO_SCHEDULE"

    @property
    def toleration(self) -> dict[str, str]:
        """The pod toleration for this taint, as Kubernetes spells it."""
        effect = "".join(part.capitalize() for part in self.effect.split("_"))
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": effect}


def node_group(
    scope: Construct, *, cluster_name: str, cluster_security_group_id: str, endpoint_clients: ec2.ISecurityGroup,
    subnets: Sequence[ec2.ISubnet], instance_types: Sequence[str], ami_type: str, capacity_type: str,
    min_nodes: int, max_nodes: int, root_volume_gib: int, labels: Mapping[str, str], taint: Taint, what: str,
    image_repositories: Sequence[str] = (),
) -> eks.CfnNodegroup:
    """``NodeRole``, ``LaunchTemplate`` and ``NodeGroup`` in ``scope``: nodes that run only pods tolerating ``taint``.

    The nodes pull images from ``image_repositories`` (repository names of this account) and from
    other accounts' repositories (EKS's own add-on images), never from another repository of this
    account: not AmazonEC2ContainerRegistryPullOnly, which allows every repository.
    """
    role = ManagedPolicyRole(
        scope, "NodeRole", policy_id="NodePullPolicy", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description=f"Nodes of {what}: join the cluster, pull images, assign pod addresses",
        policy_description=f"Image pulls of the nodes of {what}: their own repositories and other accounts' images",
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(name) for name in NODE_POLICIES],
    )
    acknowledge(role, [f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]"
                       for name in NODE_POLICIES],
                "The AWS managed policies EKS documents for node roles: join the cluster and manage pod network "
                "interfaces; AWS keeps them in step with EKS. Image pulls are scoped in the role's own policy.")
    _grant_pulls(scope, role, image_repositories)
    template = ec2.CfnLaunchTemplate(scope, "LaunchTemplate", launch_template_data=ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
        metadata_options=ec2.CfnLaunchTemplate.MetadataOptionsProperty(
            http_tokens="required", http_put_response_hop_limit=1, http_endpoint="enabled"),
        block_device_mappings=[ec2.CfnLaunchTemplate.BlockDeviceMappingProperty(
            device_name="/dev/xvda",
            ebs=ec2.CfnLaunchTemplate.EbsProperty(volume_size=root_volume_gib, volume_type="gp3", encrypted=True),
        )],
        security_group_ids=[cluster_security_group_id, endpoint_clients.security_group_id],
    ))
    group = eks.CfnNodegroup(
        scope, "NodeGroup", cluster_name=cluster_name, node_role=role.role_arn,
        subnets=[subnet.subnet_id for subnet in subnets], ami_type=ami_type, capacity_type=capacity_type,
        instance_types=list(instance_types), labels=dict(labels),
        taints=[eks.CfnNodegroup.TaintProperty(key=taint.key, value=taint.value, effect=taint.effect)],
        scaling_config=eks.CfnNodegroup.ScalingConfigProperty(
            min_size=min_nodes, max_size=max_nodes, desired_size=max(min_nodes, 1) if max_nodes else 0),
        update_config=eks.CfnNodegroup.UpdateConfigProperty(max_unavailable=1),
        launch_template=eks.CfnNodegroup.LaunchTemplateSpecificationProperty(
            id=template.ref, version=template.attr_latest_version_number),
    )
    group.node.add_dependency(role.policy)  # nodes pull their first images with the role's own policy
    return group


def _grant_pulls(scope: Construct, role: ManagedPolicyRole, repositories: Sequence[str]) -> None:
    stack = Stack.of(scope)
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]))
    if repositories:
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="OwnRepositories", actions=list(ECR_PULL),
            resources=[stack.format_arn(service="ecr", resource="repository", resource_name=name)
                       for name in repositories]))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="OtherAccountsImages", actions=list(ECR_PULL), resources=["*"],
        conditions={"StringNotEquals": {"aws:ResourceAccount": stack.account}}))
    acknowledge(role.policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken accepts no narrower resource; image pulls on '*' are limited to other "
                "accounts' repositories (EKS's add-on images) by aws:ResourceAccount, never this account's.")
