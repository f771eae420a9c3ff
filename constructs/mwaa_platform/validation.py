"""The library's own checks, for apps that validate configuration before building constructs.

The platform's registry loader uses these so that a registry mistake is reported with exactly the
message the construct would give, before any construct exists. Each raises ``MwaaPlatformError``
naming the field, the bad value and what is allowed. This module is the stable home of these
checks: import them from here, not from the modules that define them.
"""

from mwaa_platform._internal.regions import (
    check_mwaa_region,
    check_pipeline_region,
    check_target_region,
    mwaa_regions,
    partition_of_region,
    target_regions,
)
from mwaa_platform.compute._node_group import check_instance_types, check_node_counts, check_root_volume
from mwaa_platform.compute.eks import check_namespace
from mwaa_platform.compute.eks_cluster import check_kubernetes_version, check_system_nodes
from mwaa_platform.environment.airflow_version import check_supported_airflow_version, default_airflow_version
from mwaa_platform.environment.airflow_version import parse as parse_airflow_version
from mwaa_platform.environment.artifacts import check_artifact_paths
from mwaa_platform.environment.environment_class import lookup_environment_class, resolve_capacity
from mwaa_platform.environment.options import AIRFLOW_ROLES
from mwaa_platform.environment.validation import (
    check_choice,
    check_environment_name,
    check_maintenance_window,
    check_policy_name,
    check_principal_arns,
    check_security_groups,
)
from mwaa_platform.environment.requirements import check_requirements
from mwaa_platform.environment.wheelhouse import needs_packages
from mwaa_platform.cross_account.role import check_actions
from mwaa_platform.errors import MwaaPlatformError, MwaaPlatformTypeError, shorten
from mwaa_platform.network._placement import check_web_ingress
from mwaa_platform.network.dns_firewall import check_domains
from mwaa_platform.network.network import NAT_GATEWAY_CHOICES, check_cidr
from mwaa_platform.network.vpc_endpoints import check_account_ids, check_endpoint_sets

__all__ = [
    "AIRFLOW_ROLES",
    "NAT_GATEWAY_CHOICES",
    "MwaaPlatformError",
    "MwaaPlatformTypeError",
    "check_account_ids",
    "check_actions",
    "check_artifact_paths",
    "check_choice",
    "check_cidr",
    "check_requirements",
    "check_domains",
    "check_endpoint_sets",
    "check_environment_name",
    "check_instance_types",
    "check_kubernetes_version",
    "check_namespace",
    "check_node_counts",
    "check_root_volume",
    "check_maintenance_window",
    "check_mwaa_region",
    "check_pipeline_region",
    "check_policy_name",
    "check_principal_arns",
    "check_security_groups",
    "check_system_nodes",
    "check_target_region",
    "check_supported_airflow_version",
    "check_web_ingress",
    "default_airflow_version",
    "lookup_environment_class",
    "mwaa_regions",
    "partition_of_region",
    "needs_packages",
    "parse_airflow_version",
    "resolve_capacity",
    "shorten",
    "target_regions",
]
