"""Cross-account and cross-Region orchestration: target-account roles that trust exactly one central
execution role, and the Airflow connections that assume them (``docs/cross-account.md``)."""

from mwaa_platform.cross_account.connection import (
    CROSS_REGION_SERVICES,
    AirflowAwsConnection,
    check_conn_id,
    connection_document,
    grant_assume_roles,
    services_without_cross_region_endpoints,
)
from mwaa_platform.cross_account.role import (
    MAX_SESSION_HOURS,
    CrossAccountRole,
    check_actions,
    check_role_arn,
    check_role_name,
)

__all__ = [
    "CROSS_REGION_SERVICES", "MAX_SESSION_HOURS", "AirflowAwsConnection", "CrossAccountRole", "check_actions",
    "check_conn_id", "check_role_arn", "check_role_name", "connection_document", "grant_assume_roles",
    "services_without_cross_region_endpoints",
]
