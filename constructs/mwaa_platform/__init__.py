"""mwaa-platform: AWS CDK constructs for a secure, per-team Apache Airflow platform on Amazon MWAA."""

from mwaa_platform.arns import AIRFLOW_ROLES
from mwaa_platform.artifacts import AirflowArtifacts
from mwaa_platform.compliance import MIN_REASON_LENGTH, NAG_PACK_TYPES, acknowledge, attach_nag_packs, nag_packs
from mwaa_platform.configuration import AirflowConfiguration, CeleryConcurrency, SecretsManagerBackend
from mwaa_platform.environment import LOG_TYPES, AirflowEnvironment
from mwaa_platform.environment_class import ENVIRONMENT_CLASSES, EnvironmentClass
from mwaa_platform.execution_role import AirflowExecutionRole
from mwaa_platform.key import AirflowKey
from mwaa_platform.network import AirflowNetwork, AirflowNetworkBase, NetworkAttributes, SharedAirflowNetwork
from mwaa_platform.vpc_endpoints import ENDPOINT_SETS, AirflowVpcEndpoints
from mwaa_platform.source_bucket import AirflowSourceBucket

__all__ = [
    "AIRFLOW_ROLES",
    "ENDPOINT_SETS",
    "ENVIRONMENT_CLASSES",
    "LOG_TYPES",
    "MIN_REASON_LENGTH",
    "NAG_PACK_TYPES",
    "AirflowArtifacts",
    "AirflowConfiguration",
    "AirflowEnvironment",
    "AirflowExecutionRole",
    "AirflowKey",
    "AirflowNetwork",
    "AirflowNetworkBase",
    "AirflowSourceBucket",
    "AirflowVpcEndpoints",
    "CeleryConcurrency",
    "EnvironmentClass",
    "NetworkAttributes",
    "SecretsManagerBackend",
    "SharedAirflowNetwork",
    "acknowledge",
    "attach_nag_packs",
    "nag_packs",
]
