"""EksCompute: a team's namespace and node group on an EKS cluster, for the EksPodOperator.

What keeps one team's tasks apart from another's on a shared cluster:
- the team's nodes carry its namespace as a label and a ``NoSchedule`` taint: no other pod lands
  there;
- an admission policy denies any pod of the team's namespace that does not select those nodes:
  the team's pods land nowhere else;
- the environment's access entry edits the team's namespace only (``AmazonEKSEditPolicy`` scoped
  to it), and its IAM grant is ``eks:DescribeCluster`` on this cluster only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Optional, get_args

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from mwaa_platform._internal.kinds import check_kind
from mwaa_platform.paths.model import AMAZON_PROVIDER, KUBERNETES_PROVIDER, DagPath, environment_name_of, record_path
from mwaa_platform.compute._node_group import (
    Taint,
    check_instance_types,
    check_node_counts,
    check_root_volume,
    node_group,
)
from mwaa_platform.compute.eks_cluster import EksCluster, EksClusterBase, access_entry
from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform.network.network import AirflowNetworkBase, check_network
from mwaa_platform._internal.tokens import is_unresolved

__all__ = ["CAPACITY_TYPES", "NAMESPACE_LABEL", "POD_SECURITY_LEVELS", "TEAM_LABEL", "EksCompute", "EksNamespace",
           "EksNamespaceAccess", "NodeCapacityType", "PodSecurityLevel", "check_namespace", "check_repository_names"]

_CLUSTER_HINT = "an EksCluster, or one from EksClusterBase.from_parameters"

#: The Pod Security Admission level enforced in a team's namespace.
PodSecurityLevel = Literal["baseline", "restricted"]
POD_SECURITY_LEVELS: tuple[str, ...] = get_args(PodSecurityLevel)
#: How a team's nodes are bought.
NodeCapacityType = Literal["ON_DEMAND", "SPOT"]
CAPACITY_TYPES: tuple[str, ...] = get_args(NodeCapacityType)

#: Node labels: the team (for people and cost reports) and the namespace, which pins pods to nodes.
TEAM_LABEL = "mwaa-platform/team"
#: The node label and taint key that pin a namespace's pods to its node group, and only them.
NAMESPACE_LABEL = "mwaa-platform/namespace"
#: Namespaces Kubernetes and EKS keep for themselves.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "amazon-cloudwatch")
_DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
#: The cluster access policy the KubernetesPodOperator needs in its namespace (pods, logs, exec, events).
EDIT_POLICY = "AmazonEKSEditPolicy"
#: How long CloudFormation waits for the namespace handler, which answers within its own timeout.
_NAMESPACE_TIMEOUT = Duration.minutes(6)


def check_namespace(namespace: str) -> None:
    """Raise unless ``namespace`` is a DNS-1123 label Kubernetes and EKS leave to users."""
    if not isinstance(namespace, str) or not _DNS_1123_LABEL.match(namespace):
        raise MwaaPlatformError(
            "namespace must be a DNS-1123 label: 1-63 lowercase letters, digits and '-', starting and ending with a "
            f"letter or digit, got {shorten(namespace)}")
    if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
        raise MwaaPlatformError(
            f"namespace {namespace} is kept by Kubernetes or EKS (kube-*, {', '.join(RESERVED_NAMESPACES)}); "
            "use the team's name")


class EksNamespace(Construct):
    """A team's namespace on an ``EksCluster``, with its node-pinning admission policy, in the cluster's stack.

    The cluster's owner creates it: the custom resource's ServiceToken is the namespace handler of
    that same stack (a ``Fn::GetAtt``), so the handler's ARN is published nowhere, no other stack can
    invoke it, and no token read from SSM can change under an existing resource. Use ``of`` to get the
    cluster's namespace, created once.
    """

    def __init__(self, scope: Construct, construct_id: str, *, cluster: EksCluster, team: str,
                 namespace: Optional[str] = None,
                 pod_security: PodSecurityLevel = "baseline") -> None:
        """
        :param cluster: the ``EksCluster`` of this stack.
        :param team: the team; labels the namespace (a Kubernetes label value).
        :param namespace: a DNS-1123 label. Default: the team's name.
        :param pod_security: the Pod Security Admission level enforced. Default: ``baseline``.
        """
        namespace = team if namespace is None else namespace
        with validating(scope, construct_id):
            _check_namespace_settings(team, namespace, pod_security)
            if not isinstance(cluster, EksCluster) or Stack.of(scope) is not Stack.of(cluster):
                raise MwaaPlatformError("EksNamespace belongs in the stack of the EksCluster it is on (its handler is "
                                        "that stack's), got a cluster of another stack or an imported one")
        super().__init__(scope, construct_id)
        self.team, self.namespace = team, namespace
        self.resource = CustomResource(
            self, "Resource", service_token=cluster.namespace_handler.function.function_arn,
            resource_type="Custom::MwaaEksNamespace", service_timeout=_NAMESPACE_TIMEOUT,
            properties={"ClusterName": cluster.cluster_name, "Region": Stack.of(self).region, "Namespace": namespace,
                        "Team": team, "NodeLabelKey": NAMESPACE_LABEL, "NodeLabelValue": namespace,
                        "PodSecurity": pod_security},
        )
        # wait for the handler's access to the cluster
        self.resource.node.add_dependency(cluster.namespace_access, cluster.namespace_handler.policy)

    @classmethod
    def of(cls, cluster: EksCluster, *, team: str, namespace: Optional[str] = None,
           pod_security: PodSecurityLevel = "baseline") -> "EksNamespace":
        """The cluster's namespace ``namespace`` (default: the team's name), created in the cluster's scope
        the first time; asking again for the same team returns it, another team's claim fails."""
        namespace = team if namespace is None else namespace
        construct_id = f"Namespace-{namespace}"  # namespaces are DNS labels: one id each, no two alike
        existing = cluster.node.try_find_child(construct_id)
        if isinstance(existing, EksNamespace):
            if existing.team != team:
                raise MwaaPlatformError(f"namespace {namespace} on cluster {cluster.name} already belongs to team "
                                        f"{existing.team}, not {team}", cluster.node.path)
            return existing
        return cls(cluster, construct_id, cluster=cluster, team=team, namespace=namespace, pod_security=pod_security)


#: ECR's repository name syntax (CreateRepository repositoryName), 2-256 characters.
_REPOSITORY = re.compile(r"^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def check_repository_names(field: str, names: Sequence[str]) -> None:
    """Raise unless ``names`` is a list of ECR repository names (not ARNs or URIs)."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise MwaaPlatformError(f"{field} must be a list of ECR repository names, got {shorten(names)}")
    for name in names:
        if not isinstance(name, str) or not _REPOSITORY.match(name) or ".amazonaws.com" in name:
            raise MwaaPlatformError(f"{field} entries must be ECR repository names of this account (lowercase, "
                                    f"e.g. payments or team/payments), got {shorten(name)}")


def _check_namespace_settings(team: str, namespace: str, pod_security: str) -> None:
    if not isinstance(team, str) or not _LABEL_VALUE.match(team):
        raise MwaaPlatformError(f"team must be a Kubernetes label value (1-63 letters, digits, '-_.'), got {shorten(team)}")
    check_namespace(namespace)
    if pod_security not in POD_SECURITY_LEVELS:
        raise MwaaPlatformError(
            f"pod_security must be one of {', '.join(POD_SECURITY_LEVELS)}, got {shorten(pod_security)}")


class EksNamespaceAccess(Construct):
    """An EKS access entry for one IAM role: ``AmazonEKSEditPolicy`` in ``namespaces``, nothing else.

    EKS allows one access entry per principal and cluster: a shared environment's role gets one
    entry listing every sharing team's namespace.
    """

    def __init__(self, scope: Construct, construct_id: str, *, cluster: EksClusterBase, principal_arn: str,
                 namespaces: Sequence[str]) -> None:
        with validating(scope, construct_id):
            check_kind("cluster", cluster, EksClusterBase, hint=_CLUSTER_HINT)
            if isinstance(namespaces, str) or not namespaces:
                raise MwaaPlatformError(f"namespaces must be a non-empty list, got {shorten(namespaces)}")
            for namespace in namespaces:
                check_namespace(namespace)
        super().__init__(scope, construct_id)
        self.namespaces = tuple(dict.fromkeys(namespaces))
        self.entry = access_entry(self, "Resource", cluster_name=cluster.cluster_name, principal_arn=principal_arn,
                                  policy=EDIT_POLICY, namespaces=self.namespaces)


class EksCompute(Construct):
    """A team's namespace on an EKS cluster, with its own managed node group that only its pods use.

    ``grant_pod_launch`` gives an environment what the ``EksPodOperator`` needs; ``node_selector``,
    ``tolerations``, ``namespace``, ``cluster_name`` and ``region`` are the operator's arguments.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: EksClusterBase,
        network: AirflowNetworkBase,
        team: str,
        namespace: Optional[str] = None,
        instance_types: Sequence[str] = ("m6i.large",),
        capacity_type: NodeCapacityType = "ON_DEMAND",
        min_nodes: int = 1,
        max_nodes: int = 3,
        root_volume_gib: int = 50,
        pod_security: PodSecurityLevel = "baseline",
        image_repositories: Sequence[str] = (),
    ) -> None:
        """
        :param cluster: an ``EksCluster``, or one imported with ``EksClusterBase.from_parameters``.
        :param network: the platform network, which the cluster must be in; its private subnets run the nodes.
        :param team: the team; its name labels the namespace and nodes (a Kubernetes label value).
        :param namespace: a DNS-1123 label. Default: the team's name.
        :param instance_types: the nodes' EC2 types, one architecture. Default: ``("m6i.large",)``.
        :param capacity_type: ``ON_DEMAND`` or ``SPOT``. Default: ``ON_DEMAND``.
        :param min_nodes: the node group's minimum size (its starting size is at least 1). Default: 1.
        :param max_nodes: its maximum, for a cluster autoscaler (at most 450). Default: 3.
        :param root_volume_gib: each node's encrypted gp3 root volume. Default: 50.
        :param pod_security: the Pod Security Admission level enforced in the namespace. ``baseline``
            refuses privileged pods, host namespaces and host paths. It applies where this construct
            creates the namespace (an ``EksCluster`` of this app); on an imported cluster the owner's
            ``EksNamespace`` sets it. Default: ``baseline``.
        :param image_repositories: names of this account's ECR repositories the team's pods run images
            from; the nodes may pull these and other accounts' images (EKS's add-ons, public images
            mirrored elsewhere), and no other repository of this account. Default: none of this account's.
        """
        with validating(scope, construct_id):
            check_kind("cluster", cluster, EksClusterBase, hint=_CLUSTER_HINT)
            check_network("network", network)
        super().__init__(scope, construct_id)
        namespace = team if namespace is None else namespace
        with validating(self):
            _check_namespace_settings(team, namespace, pod_security)
            ami_type = check_instance_types("instance_types", instance_types)
            check_node_counts("", min_nodes, max_nodes)
            check_root_volume("root_volume_gib", root_volume_gib)
            if capacity_type not in CAPACITY_TYPES:
                raise MwaaPlatformError(
                    f"capacity_type must be one of {', '.join(CAPACITY_TYPES)}, got {shorten(capacity_type)}")
            check_repository_names("image_repositories", image_repositories)
            _check_same_network(cluster, network)
            network.check_endpoint("eks", "EksCompute (the operator's DescribeCluster)")
        self.cluster = cluster
        self.team = team
        self.namespace = namespace
        self.region = Stack.of(self).region
        self.taint = Taint(NAMESPACE_LABEL, namespace)
        self.node_group = node_group(
            self, cluster_name=cluster.cluster_name, cluster_security_group_id=cluster.cluster_security_group_id,
            endpoint_clients=network.endpoint_clients_security_group, subnets=network.subnets,
            instance_types=instance_types, ami_type=ami_type, capacity_type=capacity_type, min_nodes=min_nodes,
            max_nodes=max_nodes, root_volume_gib=root_volume_gib,
            labels={TEAM_LABEL: team, NAMESPACE_LABEL: namespace}, taint=self.taint,
            what=f"team {team} in namespace {namespace}", image_repositories=image_repositories,
        )
        #: The namespace, where this app owns the cluster: created in the cluster's own stack. An
        #: imported cluster's owner creates it (``EksNamespace``; the platform's EKS stack does so for
        #: every team of the registry), so no team stack holds the handler's token.
        self.namespace_resource: Optional[CustomResource] = None
        if isinstance(cluster, EksCluster):
            self.namespace_resource = EksNamespace.of(cluster, team=team, namespace=namespace,
                                                      pod_security=pod_security).resource
            # nodes join once the system nodes run the VPC CNI
            self.node_group.node.add_dependency(cluster.system_node_group)
        self.access: Optional[EksNamespaceAccess] = None

    # --- what the operator needs ------------------------------------------------------------

    @property
    def cluster_name(self) -> str:
        return self.cluster.cluster_name

    @property
    def node_selector(self) -> dict[str, str]:
        """The pod ``node_selector`` the namespace's admission policy requires."""
        return {NAMESPACE_LABEL: self.namespace}

    @property
    def tolerations(self) -> list[dict[str, str]]:
        """The pod ``tolerations`` that let the team's pods onto its tainted nodes."""
        return [self.taint.toleration]

    def grant_pod_launch(self, grantee: iam.IGrantable, *, access_entry: bool = True) -> iam.Grant:
        """``eks:DescribeCluster`` on this cluster only, plus (by default) the grantee role's access entry.

        The operator's bearer token is a presigned STS ``GetCallerIdentity`` URL, which needs no IAM
        permission. In Kubernetes, the access entry associates ``AmazonEKSEditPolicy`` with this
        namespace only: pods, pod logs, exec (the XCom sidecar) and events, there and nowhere else.

        :param access_entry: create the grantee role's access entry here. Pass False for a role that
            several teams share: EKS allows one entry per role and cluster, so create one
            ``EksNamespaceAccess`` listing all their namespaces instead. Default: True.
        :raises MwaaPlatformError: if an access entry is asked for a grantee that is not an IAM role.
        """
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["eks:DescribeCluster"],
                                           resource_arns=[self.cluster.cluster_arn])
        if access_entry:
            role_arn = getattr(grantee.grant_principal, "role_arn", None)
            if role_arn is None:
                raise MwaaPlatformError(
                    "grant_pod_launch: an access entry needs an IAM role as grantee; pass access_entry=False and "
                    "create an EksNamespaceAccess for the role", self.node.path)
            self.access = EksNamespaceAccess(self, "Access", cluster=self.cluster, principal_arn=role_arn,
                                             namespaces=[self.namespace])
        environment = environment_name_of(grantee)
        if environment is not None:
            # DescribeCluster through the eks endpoint; the pods through the cluster's private API endpoint
            record_path(self, DagPath(
                environment=environment, capability=f"EKS pods in namespace {self.namespace}",
                operator="airflow.providers.amazon.aws.operators.eks.EksPodOperator", services=("eks",),
                providers=(AMAZON_PROVIDER, KUBERNETES_PROVIDER)))
        return grant


def _check_same_network(cluster: EksClusterBase, network: AirflowNetworkBase) -> None:
    """Refuse a cluster whose VPC is known and is not the network's: nodes and pods could not reach it."""
    cluster_vpc, network_vpc = cluster.vpc_id, network.vpc.vpc_id
    if cluster_vpc is None:
        return
    both_known = not is_unresolved(cluster_vpc) and not is_unresolved(network_vpc)
    # two tokens name the same VPC only if they come from one stack; across stacks they cannot be compared
    one_stack = is_unresolved(cluster_vpc) and is_unresolved(network_vpc) and (
        Stack.of(cluster) is Stack.of(network))
    if (both_known or one_stack) and cluster_vpc != network_vpc:
        raise MwaaPlatformError(
            f"cluster {shorten(cluster.cluster_name)} is in VPC {shorten(cluster_vpc)}, outside the platform network "
            f"({shorten(network_vpc)}); its nodes, API endpoint and the environment must share the network's VPC")
