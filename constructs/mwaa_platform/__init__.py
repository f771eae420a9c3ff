"""mwaa-platform: AWS CDK constructs for a secure, per-team Apache Airflow platform on Amazon MWAA.

The names here are the stable core and keep working across releases. Each capability lives in its
own subpackage with an explicit ``__all__`` (``mwaa_platform.environment``, ``mwaa_platform.network``,
``mwaa_platform.compliance``); new capabilities are imported from their subpackage.
``mwaa_platform.validation`` holds the checks apps reuse, ``mwaa_platform.errors`` the one error
type. ``mwaa_platform._internal`` is private.
"""

from mwaa_platform.compliance import (
    MIN_REASON_LENGTH,
    NAG_PACK_TYPES,
    WEB_SERVER_PRIVATE_RULE,
    MwaaChecks,
    acknowledge,
    acknowledge_across_packs,
    attach_nag_packs,
    attach_preflight_checks,
    nag_packs,
)
from mwaa_platform.environment import (
    AIRFLOW_ROLES,
    ENVIRONMENT_CLASSES,
    LOG_TYPES,
    AirflowArtifacts,
    AirflowConfiguration,
    AirflowEnvironment,
    AirflowEnvironmentBase,
    AirflowExecutionRole,
    AirflowKey,
    AirflowSourceBucket,
    CeleryConcurrency,
    EnvironmentClass,
    IAirflowEnvironment,
    SecretsManagerBackend,
)
from mwaa_platform._internal.managed_policy_role import ManagedPolicyGrants
from mwaa_platform.errors import MwaaPlatformError, MwaaPlatformTypeError
from mwaa_platform.network import (
    ENDPOINT_SETS,
    AirflowNetwork,
    AirflowNetworkBase,
    AirflowVpcEndpoints,
    NetworkAttributes,
    SharedAirflowNetwork,
)

__all__ = [
    "AIRFLOW_ROLES",
    "ENDPOINT_SETS",
    "ENVIRONMENT_CLASSES",
    "LOG_TYPES",
    "MIN_REASON_LENGTH",
    "NAG_PACK_TYPES",
    "WEB_SERVER_PRIVATE_RULE",
    "AirflowArtifacts",
    "AirflowConfiguration",
    "AirflowEnvironment",
    "AirflowEnvironmentBase",
    "AirflowExecutionRole",
    "AirflowKey",
    "AirflowNetwork",
    "AirflowNetworkBase",
    "AirflowSourceBucket",
    "AirflowVpcEndpoints",
    "CeleryConcurrency",
    "EnvironmentClass",
    "IAirflowEnvironment",
    "ManagedPolicyGrants",
    "MwaaChecks",
    "MwaaPlatformError",
    "MwaaPlatformTypeError",
    "NetworkAttributes",
    "SecretsManagerBackend",
    "SharedAirflowNetwork",
    "acknowledge",
    "acknowledge_across_packs",
    "attach_nag_packs",
    "attach_preflight_checks",
    "nag_packs",
]
