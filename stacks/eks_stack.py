"""The EKS cluster of one account and Region, where its teams' pods run (only where a team asks for one)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from mwaa_platform import NetworkAttributes, SharedAirflowNetwork
from mwaa_platform.compute import EksCluster, EksNamespace
from stacks.registry import NetworkSpec, PlatformSettings


class EksStack(Stack):
    """An ``EksCluster`` in the shared network, its ids published as SSM parameters for the team stacks,
    and every team namespace of its account and Region: the platform owns them, team stacks create only
    node groups and access entries."""

    def __init__(self, scope: Construct, construct_id: str, *, platform: PlatformSettings, spec: NetworkSpec,
                 network: NetworkAttributes, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=f"{platform.name}: EKS cluster for KubernetesPodOperator tasks",
                         termination_protection=spec.production, **kwargs)
        settings = platform.eks
        assert spec.cluster_name is not None  # only built where a team runs pods
        self.cluster = EksCluster(
            self, "Cluster", network=SharedAirflowNetwork(self, "Network", attributes=network),
            cluster_name=spec.cluster_name, kubernetes_version=settings.kubernetes_version,
            system_instance_type=settings.system_instance_type, system_nodes=settings.system_nodes,
            deletion_protection=spec.production, parameter_prefix=platform.eks_parameter_prefix,
        )
        self.namespaces = [EksNamespace.of(self.cluster, team=team, namespace=namespace, pod_security=pod_security)
                           for team, namespace, pod_security in platform.eks_namespace_owners(spec)]
