"""Environment: an Amazon MWAA environment and the pieces it is built from.

``AirflowEnvironment`` is the construct most apps need; it creates the execution role, key,
source bucket, log groups and artifacts itself, and each piece is also usable on its own.
``IAirflowEnvironment`` is what other constructs (task compute, alerting, cross-account access)
take, so an environment imported with ``AirflowEnvironment.from_environment_name`` works with them too.
"""

from mwaa_platform.environment.airflow_version import default_airflow_version
from mwaa_platform.environment.upgrade import check_upgrade, deployed_airflow_version, deployed_version_lookup
from mwaa_platform.environment.artifacts import AirflowArtifacts
from mwaa_platform.environment.base import (
    AIRFLOW_NAMESPACE,
    SERVICE_NAMESPACE,
    AirflowEnvironmentBase,
    IAirflowEnvironment,
    MetricOptions,
    check_environment,
)
from mwaa_platform.environment.configuration import AirflowConfiguration, CeleryConcurrency, SecretsManagerBackend
from mwaa_platform.environment.environment import AirflowEnvironment
from mwaa_platform.environment.environment_class import ENVIRONMENT_CLASSES, MAX_WORKERS_QUOTA, EnvironmentClass
from mwaa_platform.environment.execution_role import AirflowExecutionRole
from mwaa_platform.environment.key import AirflowKey
from mwaa_platform.environment.options import (
    AIRFLOW_ROLES,
    ENVIRONMENT_CLASS_NAMES,
    AirflowRole,
    DatabaseRole,
    EndpointManagement,
    EnvironmentClassName,
    LogLevel,
    LogType,
    MwaaCluster,
    WebserverAccessMode,
    WorkerReplacementStrategy,
)
from mwaa_platform.environment.package_index import AirflowPackageIndex
from mwaa_platform.environment.versions import (
    AIRFLOW_VERSIONS,
    CLOUDFORMATION_DOCUMENTED,
    AirflowVersionInfo,
    newest_of_major,
    newest_patch,
    version_info,
    version_table_markdown,
)
from mwaa_platform.environment.source_bucket import AirflowSourceBucket
from mwaa_platform.environment.wheelhouse import Wheelhouse, WheelhouseBuild
from mwaa_platform.environment.validation import LOG_TYPES, MAX_SECURITY_GROUPS

__all__ = [
    "AIRFLOW_NAMESPACE",
    "AIRFLOW_ROLES",
    "AIRFLOW_VERSIONS",
    "CLOUDFORMATION_DOCUMENTED",
    "ENVIRONMENT_CLASSES",
    "ENVIRONMENT_CLASS_NAMES",
    "LOG_TYPES",
    "MAX_SECURITY_GROUPS",
    "MAX_WORKERS_QUOTA",
    "SERVICE_NAMESPACE",
    "AirflowArtifacts",
    "AirflowConfiguration",
    "AirflowEnvironment",
    "AirflowEnvironmentBase",
    "AirflowExecutionRole",
    "AirflowKey",
    "AirflowPackageIndex",
    "AirflowRole",
    "AirflowVersionInfo",
    "AirflowSourceBucket",
    "CeleryConcurrency",
    "DatabaseRole",
    "EndpointManagement",
    "EnvironmentClass",
    "EnvironmentClassName",
    "IAirflowEnvironment",
    "LogLevel",
    "LogType",
    "MetricOptions",
    "MwaaCluster",
    "SecretsManagerBackend",
    "WebserverAccessMode",
    "Wheelhouse",
    "WheelhouseBuild",
    "WorkerReplacementStrategy",
    "check_environment",
    "check_upgrade",
    "default_airflow_version",
    "deployed_airflow_version",
    "deployed_version_lookup",
    "newest_of_major",
    "newest_patch",
    "version_info",
    "version_table_markdown",
]
