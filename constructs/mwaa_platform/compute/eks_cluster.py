"""EksCluster: a private EKS cluster in the platform network, where teams get namespaces and node groups.

Built from CloudFormation's own EKS resources, with nothing that needs kubectl: what lives inside
Kubernetes (a team's namespace and its admission policy) is applied by a small handler of ours in
the VPC, which talks to the private API endpoint directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Optional

import jsii
from aws_cdk import ArnFormat, Names, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_eks_v2 as eks_v2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mwaa_platform._internal.deploy_function import deploy_function
from mwaa_platform._internal.kinds import check_kind
from mwaa_platform._internal.managed_policy_role import ManagedPolicyRole
from mwaa_platform.compliance.nag import acknowledge
from mwaa_platform.compute._node_group import Taint, check_instance_types, node_group
from mwaa_platform.environment.key import AirflowKey
from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform.network.network import AirflowNetworkBase, check_network

__all__ = [
    "CLUSTER_LOG_TYPES", "DEFAULT_KUBERNETES_VERSION", "MIN_KUBERNETES_VERSION", "EksCluster", "EksClusterBase",
    "check_cluster_name", "check_kubernetes_version", "check_system_nodes", "known_kubernetes_versions",
]

#: The oldest version with ``ValidatingAdmissionPolicy`` in ``admissionregistration.k8s.io/v1``, which
#: keeps a team's pods on the team's nodes.
MIN_KUBERNETES_VERSION = "1.30"
DEFAULT_KUBERNETES_VERSION = "1.35"
#: Every control-plane log type EKS offers.
CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
#: The label and taint of a cluster's system nodes, which run only cluster add-ons (CoreDNS).
SYSTEM_POOL_LABEL = "mwaa-platform/pool"
SYSTEM_TAINT = Taint("CriticalAddonsOnly", "true")
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_VERSION = re.compile(r"^1\.(\d{2})$")
_PARAMETERS = ("control-plane-security-group-id", "cluster-security-group-id", "pod-launch-clients-security-group-id")


@cache
def known_kubernetes_versions() -> tuple[str, ...]:
    """Versions from ``MIN_KUBERNETES_VERSION`` up to the newest the pinned aws-cdk-lib knows."""
    known = sorted(int(name[3:]) for name in dir(eks_v2.KubernetesVersion) if re.match(r"^V1_\d+$", name))
    return tuple(f"1.{minor}" for minor in known if minor >= int(MIN_KUBERNETES_VERSION[2:]))


def check_kubernetes_version(version: str) -> None:
    if not isinstance(version, str) or version not in known_kubernetes_versions():
        raise MwaaPlatformError(
            f"kubernetes_version must be one of {', '.join(known_kubernetes_versions())} (from {MIN_KUBERNETES_VERSION}: "
            f"the admission policy that pins a team's pods to its nodes needs it), got {shorten(version)}")


def check_system_nodes(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10:
        raise MwaaPlatformError(f"system_nodes must be a whole number from 1 to 10, got {shorten(count)}")


def check_cluster_name(name: str) -> None:
    if not isinstance(name, str) or not _CLUSTER_NAME.match(name):
        raise MwaaPlatformError(
            f"cluster_name must be 1-100 letters, digits, '-' and '_', starting with a letter or digit, got {shorten(name)}")


def access_entry(scope: Construct, construct_id: str, *, cluster_name: str, principal_arn: str, policy: str,
                 namespaces: Optional[Sequence[str]] = None) -> eks.CfnAccessEntry:
    """An access entry associated with one EKS cluster access policy: cluster-wide, or only in ``namespaces``."""
    access_scope = (eks.CfnAccessEntry.AccessScopeProperty(type="namespace", namespaces=list(namespaces))
                    if namespaces is not None else eks.CfnAccessEntry.AccessScopeProperty(type="cluster"))
    return eks.CfnAccessEntry(
        scope, construct_id, cluster_name=cluster_name, principal_arn=principal_arn, type="STANDARD",
        access_policies=[eks.CfnAccessEntry.AccessPolicyProperty(
            policy_arn=f"arn:{Stack.of(scope).partition}:eks::aws:cluster-access-policy/{policy}",
            access_scope=access_scope)],
    )


@jsii.implements(ec2.IConnectable)
class EksClusterBase(Construct):
    """What a team's ``EksCompute`` needs from a cluster, whether created here or in another stack.

    ``control_plane_security_group`` is attached to the API endpoint's network interfaces and admits
    only what ``allow_pod_launch_from`` adds. ``cluster_security_group_id`` is the group EKS creates
    for control plane and nodes to talk. Namespaces are the cluster owner's (``EksNamespace``, in the
    cluster's own stack): an imported cluster offers no way to create them.

    It is an ``ec2.IConnectable`` whose ``connections`` are the API endpoint's
    (``control_plane_security_group``, default port 443): ``cluster.connections.allow_default_port_from(peer)``
    is ``allow_pod_launch_from`` without the description.
    """

    cluster_name: str
    #: The cluster's VPC id when known, to refuse a cluster outside the platform network.
    vpc_id: Optional[str]
    _control_plane_security_group: ec2.ISecurityGroup
    _cluster_security_group_id: str

    @property
    def control_plane_security_group(self) -> ec2.ISecurityGroup:
        return self._control_plane_security_group

    @property
    def cluster_security_group_id(self) -> str:
        return self._cluster_security_group_id

    @property
    def cluster_arn(self) -> str:
        return Stack.of(self).format_arn(service="eks", resource="cluster", arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                                         resource_name=self.cluster_name)

    @property
    def connections(self) -> ec2.Connections:
        """The API endpoint's security group, default port HTTPS (no rule is added here)."""
        if getattr(self, "_connections", None) is None:
            self._connections = ec2.Connections(security_groups=[self.control_plane_security_group],
                                                default_port=ec2.Port.tcp(443))
        return self._connections

    @property
    def pod_launch_clients_security_group(self) -> Optional[ec2.ISecurityGroup]:
        """The group whose members the API endpoint admits on HTTPS with its one rule (no ingress of its own,
        so members reach nothing of each other). ``None`` for a cluster imported without it."""
        return None

    def allow_pod_launch_from(self, environment: ec2.IConnectable, *, description: str) -> None:
        """Admit HTTPS to the API endpoint from ``environment``, and nothing else of it.

        An environment that takes shared groups (``AirflowEnvironment.add_shared_security_group``) joins
        the cluster's pod launch clients group, which the endpoint admits with one rule for all of its
        members: a stage's environments add no rule each, so a cluster serves any number of them (a
        rule per environment would stop at the 60-rule quota). Only environments granted pod launch
        are members. Any other peer (a security group, a function) gets a rule of its own.
        """
        clients = self.pod_launch_clients_security_group
        join = getattr(environment, "add_shared_security_group", None)
        if clients is not None and callable(join):
            join(clients)
            return
        self.control_plane_security_group.connections.allow_from(environment, ec2.Port.tcp(443), description)

    @staticmethod
    def from_parameters(scope: Construct, construct_id: str, *, cluster_name: str, parameter_prefix: str,
                        vpc_id: Optional[str] = None) -> "EksClusterBase":
        """A cluster an ``EksCluster`` with ``parameter_prefix`` published, read from SSM at deployment.

        Each parameter becomes a template parameter only when the stack uses it.
        """
        with validating(scope, construct_id):
            check_cluster_name(cluster_name)
        group = ssm.ParameterValueType.AWS_EC2_SECURITYGROUP_ID
        kinds = dict(zip(_PARAMETERS, (group, group, group)))
        imported = _ImportedCluster(scope, construct_id, cluster_name, vpc_id, lambda name, owner: (
            ssm.StringParameter.value_for_typed_string_parameter_v2(owner, f"{parameter_prefix}/{name}", kinds[name])))
        return imported

    @staticmethod
    def from_cluster_attributes(
        scope: Construct, construct_id: str, *, cluster_name: str, control_plane_security_group_id: str,
        cluster_security_group_id: str, vpc_id: Optional[str] = None,
        pod_launch_clients_security_group_id: Optional[str] = None,
    ) -> "EksClusterBase":
        """An existing cluster: authentication mode ``API`` (or ``API_AND_CONFIG_MAP``), a private endpoint.

        :param control_plane_security_group_id: a group attached to the API endpoint; the
            environment's HTTPS rule is added to it.
        :param cluster_security_group_id: the group EKS created for the cluster (nodes get it).
        :param vpc_id: the cluster's VPC, checked against the platform network. Default: unchecked.
        :param pod_launch_clients_security_group_id: a group the control plane group admits on HTTPS, which
            environments granted pod launch join. Default: none (each environment gets a rule of its own).
        """
        with validating(scope, construct_id):
            check_cluster_name(cluster_name)
        values = dict(zip(_PARAMETERS, (control_plane_security_group_id, cluster_security_group_id,
                                        pod_launch_clients_security_group_id)))
        return _ImportedCluster(scope, construct_id, cluster_name, vpc_id, lambda name, owner: values[name])


class _ImportedCluster(EksClusterBase):
    """A cluster of another stack; each of its ids is read (``read(name, scope)``) on first use."""

    def __init__(self, scope: Construct, construct_id: str, cluster_name: str, vpc_id: Optional[str],
                 read: Callable[[str, Construct], Optional[str]]) -> None:
        super().__init__(scope, construct_id)
        self.cluster_name = cluster_name
        self.vpc_id = vpc_id
        self._read = read
        self._values: dict[str, Optional[str]] = {}
        self._group: Optional[ec2.ISecurityGroup] = None
        self._clients: Optional[ec2.ISecurityGroup] = None

    def _value(self, name: str) -> str:
        value = self._optional(name)
        assert value is not None  # only the pod launch clients group may be absent
        return value

    def _optional(self, name: str) -> Optional[str]:
        if name not in self._values:
            self._values[name] = self._read(name, self)
        return self._values[name]

    @property
    def pod_launch_clients_security_group(self) -> Optional[ec2.ISecurityGroup]:
        if self._clients is None:
            value = self._optional(_PARAMETERS[2])
            if value is not None:
                self._clients = ec2.SecurityGroup.from_security_group_id(self, "PodLaunchClients", value, mutable=False)
        return self._clients

    @property
    def control_plane_security_group(self) -> ec2.ISecurityGroup:
        if self._group is None:
            self._group = ec2.SecurityGroup.from_security_group_id(
                self, "ControlPlaneSecurityGroup", self._value(_PARAMETERS[0]), allow_all_outbound=False)
        return self._group

    @property
    def cluster_security_group_id(self) -> str:
        return self._value(_PARAMETERS[1])


class EksCluster(EksClusterBase):
    """A private EKS cluster for the KubernetesPodOperator, hardened and without kubectl.

    - API endpoint private only, in the network's subnets; its security group admits HTTPS only
      from environments added with ``allow_pod_launch_from`` and from the namespace handler.
    - Authentication mode ``API`` (access entries, no ``aws-auth`` ConfigMap), and no admin
      access for whoever deployed it: every principal is named in an access entry.
    - Kubernetes secrets encrypted with a customer managed key; all five control-plane log types
      to a log group encrypted with the same key.
    - The managed VPC CNI, kube-proxy and CoreDNS add-ons; CoreDNS runs on a small system node
      group tainted ``CriticalAddonsOnly`` so that no task lands there.
    - A namespace handler in the VPC (``Custom::MwaaEksNamespace``): its access entry is cluster
      admin, since namespaces and admission policies are cluster-wide objects.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: AirflowNetworkBase,
        cluster_name: Optional[str] = None,
        kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
        system_instance_type: str = "t3.medium",
        system_nodes: int = 2,
        key: Optional[kms.IKey] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        deletion_protection: bool = False,
        parameter_prefix: Optional[str] = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """
        :param network: the platform network: its private subnets hold the API endpoint and nodes.
        :param cluster_name: 1-100 letters, digits, '-' and '_'. Default: a unique name from the construct path.
        :param kubernetes_version: from ``MIN_KUBERNETES_VERSION`` to the newest the pinned aws-cdk-lib
            knows. Default: ``DEFAULT_KUBERNETES_VERSION``.
        :param system_instance_type: the system nodes' type (CoreDNS only). Default: t3.medium.
        :param system_nodes: how many system nodes, 1-10 (2 keeps DNS up through a node's loss). Default: 2.
        :param key: encrypts Kubernetes secrets and the control-plane logs. Default: a new rotating key.
        :param log_retention: of the control-plane logs. Default: three months.
        :param deletion_protection: refuse DeleteCluster while set. Default: False.
        :param parameter_prefix: publish what team stacks need (``EksClusterBase.from_parameters``) as
            SSM parameters under this path. Default: nothing published.
        :param removal_policy: of the key and log group. Default: ``RETAIN_ON_UPDATE_OR_DELETE`` (the
            control-plane audit log outlives the cluster; a failed first create removes it, so a retry
            does not collide, but re-creating a deleted cluster of the same name needs the old log
            group deleted or renamed first).
        """
        with validating(scope, construct_id):
            check_network("network", network)
            check_kind("key", key, kms.IKey, optional=True)
            check_kind("log_retention", log_retention, logs.RetentionDays)
            check_kind("removal_policy", removal_policy, RemovalPolicy)
        super().__init__(scope, construct_id)
        with validating(self):
            check_kubernetes_version(kubernetes_version)
            if cluster_name is not None:
                check_cluster_name(cluster_name)
            check_instance_types("system_instance_type", [system_instance_type])
            check_system_nodes(system_nodes)
            for service in ("eks", "ec2", "sts"):
                network.check_endpoint(service, "EksCluster (nodes, the VPC CNI and the namespace handler)")
        #: the name as written, for names and descriptions; ``cluster_name`` becomes a reference below
        self.name = cluster_name or Names.unique_resource_name(self, max_length=100, separator="-")
        self.cluster_name = self.name
        self.vpc_id = network.vpc.vpc_id
        self.key: kms.IKey = key or AirflowKey(
            self, "Key", description=f"Encrypts the secrets and control-plane logs of EKS cluster {self.cluster_name}",
            removal_policy=removal_policy)
        self.log_group = logs.LogGroup(
            self, "ControlPlaneLogs", log_group_name=f"/aws/eks/{self.cluster_name}/cluster", retention=log_retention,
            encryption_key=self.key, removal_policy=removal_policy)
        self._control_plane_security_group = ec2.SecurityGroup(
            self, "ControlPlaneSecurityGroup", vpc=network.vpc, allow_all_outbound=False,
            description=f"EKS API endpoint of {self.cluster_name}: HTTPS from granted environments only")
        self._pod_launch_clients = ec2.SecurityGroup(
            self, "PodLaunchClients", vpc=network.vpc, allow_all_outbound=False,
            description=f"Environments granted pod launch on {self.cluster_name}: HTTPS to its API endpoint, no ingress")
        self._control_plane_security_group.connections.allow_from(
            self._pod_launch_clients, ec2.Port.tcp(443), "HTTPS from environments granted pod launch (their group)")
        self.cluster = self._cluster(network, kubernetes_version, deletion_protection)
        # from here on, the name as a reference: what names the cluster is created after it
        self.cluster_name = self.cluster.ref
        self._cluster_security_group_id = self.cluster.attr_cluster_security_group_id
        self.system_node_group = self._system_nodes(network, system_instance_type, system_nodes)
        self._namespace_handler(network, log_retention)
        if parameter_prefix is not None:
            self._publish(parameter_prefix)

    def _cluster(self, network: AirflowNetworkBase, version: str, deletion_protection: bool) -> eks.CfnCluster:
        role = ManagedPolicyRole(
            self, "ClusterRole", policy_id="ClusterPolicy", assumed_by=iam.ServicePrincipal("eks.amazonaws.com"),
            description=f"EKS control plane of {self.name}",
            policy_description=f"The secrets key of EKS cluster {self.name}",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")],
        )
        acknowledge(role, "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                          "AmazonEKSClusterPolicy]",
                    "The AWS managed policy EKS documents for a cluster role; AWS keeps it in step with what the "
                    "control plane manages (network interfaces, load balancers).")
        self.key.grant(role, "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant")
        cluster = eks.CfnCluster(
            self, "Cluster", name=self.name, version=version, role_arn=role.role_arn,
            resources_vpc_config=eks.CfnCluster.ResourcesVpcConfigProperty(
                subnet_ids=[subnet.subnet_id for subnet in network.subnets],
                security_group_ids=[self.control_plane_security_group.security_group_id],
                endpoint_private_access=True, endpoint_public_access=False,
            ),
            access_config=eks.CfnCluster.AccessConfigProperty(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False),
            encryption_config=[eks.CfnCluster.EncryptionConfigProperty(
                provider=eks.CfnCluster.ProviderProperty(key_arn=self.key.key_arn), resources=["secrets"])],
            logging=eks.CfnCluster.LoggingProperty(cluster_logging=eks.CfnCluster.ClusterLoggingProperty(
                enabled_types=[eks.CfnCluster.LoggingTypeConfigProperty(type=kind) for kind in CLUSTER_LOG_TYPES])),
            bootstrap_self_managed_addons=False,
            deletion_protection=deletion_protection,
        )
        cluster.node.add_dependency(self.log_group, role.policy)
        return cluster

    def _system_nodes(self, network: AirflowNetworkBase, instance_type: str, count: int) -> eks.CfnNodegroup:
        network_addons = [
            eks.CfnAddon(self, name, addon_name=addon, cluster_name=self.cluster.ref, resolve_conflicts="OVERWRITE",
                         configuration_values=configuration)
            # the VPC CNI enforces Kubernetes NetworkPolicy only when asked: each team namespace has a default deny
            for name, addon, configuration in (("VpcCni", "vpc-cni", json.dumps({"enableNetworkPolicy": "true"})),
                                               ("KubeProxy", "kube-proxy", None))
        ]
        system = Construct(self, "SystemNodes")
        group = node_group(
            system, cluster_name=self.cluster.ref, cluster_security_group_id=self.cluster_security_group_id,
            endpoint_clients=network.endpoint_clients_security_group, subnets=network.subnets,
            instance_types=[instance_type], ami_type=check_instance_types("system_instance_type", [instance_type]),
            capacity_type="ON_DEMAND", min_nodes=count, max_nodes=count, root_volume_gib=20,
            labels={SYSTEM_POOL_LABEL: "system"}, taint=SYSTEM_TAINT, what=f"EKS cluster {self.name} add-ons",
        )
        # nodes turn Ready only once the CNI runs; CoreDNS waits for nodes that tolerate it
        group.node.add_dependency(*network_addons)
        coredns = eks.CfnAddon(
            self, "CoreDns", addon_name="coredns", cluster_name=self.cluster.ref, resolve_conflicts="OVERWRITE",
            configuration_values=json.dumps({
                "nodeSelector": {SYSTEM_POOL_LABEL: "system"},
                "tolerations": [{"key": SYSTEM_TAINT.key, "operator": "Exists", "effect": "NoSchedule"}],
            }, separators=(",", ":")),
        )
        coredns.node.add_dependency(group)
        return group

    def _namespace_handler(self, network: AirflowNetworkBase, log_retention: logs.RetentionDays) -> None:
        """The handler ``EksNamespace`` resources of this stack call; its ARN leaves the stack nowhere."""
        holder = Construct(self, "Namespaces")
        group = ec2.SecurityGroup(
            holder, "SecurityGroup", vpc=network.vpc, allow_all_outbound=False,
            description=f"Namespace handler of EKS cluster {self.name}: HTTPS to its API endpoint")
        self.allow_pod_launch_from(group, description="HTTPS from the namespace handler")
        handler = deploy_function(
            holder, handler="eks_namespace", key=self.key, log_retention=log_retention,
            description=f"Applies team namespaces and their node pinning policies on EKS cluster {self.name}",
            vpc=network.vpc, subnets=network.subnets,
            security_groups=[group, network.endpoint_clients_security_group],
        )
        handler.policy.add_statements(iam.PolicyStatement(
            sid="DescribeThisCluster", actions=["eks:DescribeCluster"], resources=[self.cluster.attr_arn]))
        self.namespace_access = access_entry(holder, "AccessEntry", cluster_name=self.cluster.ref,
                                             principal_arn=handler.role.role_arn, policy="AmazonEKSClusterAdminPolicy")
        self.namespace_handler = handler

    @property
    def pod_launch_clients_security_group(self) -> Optional[ec2.ISecurityGroup]:
        return self._pod_launch_clients

    def _publish(self, prefix: str) -> None:
        values = (self.control_plane_security_group.security_group_id, self.cluster_security_group_id,
                  self._pod_launch_clients.security_group_id)
        for name, value in zip(_PARAMETERS, values):
            ssm.StringParameter(
                self, "".join(part.capitalize() for part in name.split("-")) + "Parameter",
                parameter_name=f"{prefix}/{name}", string_value=value,
                description=f"mwaa-platform EKS cluster {self.name}: {name.replace('-', ' ')}")

    @property
    def cluster_arn(self) -> str:
        return self.cluster.attr_arn
