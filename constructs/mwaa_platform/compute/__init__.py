"""Compute: isolated task compute that DAGs start through the Amazon provider's operators.

Airflow schedules; containers do the heavy work. Each construct here provisions a team's compute
in the platform network and grants an environment exactly what the matching operator calls.
"""

from mwaa_platform.compute.batch import BATCH_CAPACITIES, FARGATE_VCPUS, BatchCapacity, BatchCompute, BatchJob
from mwaa_platform.compute.ecs import CONTAINER_NAME, LAUNCHER_NAME, EcsTaskCompute
from mwaa_platform.compute.eks import (
    CAPACITY_TYPES,
    NAMESPACE_LABEL,
    POD_SECURITY_LEVELS,
    TEAM_LABEL,
    EksCompute,
    EksNamespace,
    EksNamespaceAccess,
    NodeCapacityType,
    PodSecurityLevel,
    check_namespace,
    check_repository_names,
)
from mwaa_platform.compute.eks_cluster import (
    DEFAULT_KUBERNETES_VERSION,
    MIN_KUBERNETES_VERSION,
    EksCluster,
    EksClusterBase,
    check_kubernetes_version,
)
from mwaa_platform.compute.fargate import FARGATE_MEMORY_BY_CPU, check_fargate_size
from mwaa_platform.compute.image import TaskImage

__all__ = [
    "BATCH_CAPACITIES", "CAPACITY_TYPES", "POD_SECURITY_LEVELS", "BatchCapacity", "NodeCapacityType", "PodSecurityLevel",
    "CONTAINER_NAME", "LAUNCHER_NAME", "DEFAULT_KUBERNETES_VERSION", "FARGATE_MEMORY_BY_CPU", "FARGATE_VCPUS", "MIN_KUBERNETES_VERSION",
    "NAMESPACE_LABEL", "TEAM_LABEL", "BatchCompute", "BatchJob", "EcsTaskCompute", "EksCluster", "EksClusterBase", "EksCompute",
    "EksNamespace", "EksNamespaceAccess", "TaskImage", "check_fargate_size", "check_kubernetes_version", "check_namespace", "check_repository_names",
]
