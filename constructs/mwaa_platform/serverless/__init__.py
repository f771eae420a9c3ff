"""MWAA Serverless: workflows without an environment, checked at synthesis, each with its own role.

``ServerlessWorkflow`` provisions an ``AWS::MWAAServerless::Workflow`` from a local DAG Factory YAML
file (and an optional code package), versioned in S3 so a changed file updates the workflow.
``load_definition`` is the check it runs, usable on its own (a registry, a CI step);
``derive_grants`` reads least-privilege statements off a definition. The operators and keys the
service accepts are AWS's converter's lists (``SERVERLESS_OPERATORS``, ...); its limits are in
``limits``.
"""

from mwaa_platform.serverless.code_package import check_code_package, wheel_problem
from mwaa_platform.serverless.definition import WorkflowDefinition, WorkflowTask, load_definition
from mwaa_platform.serverless.derived_grants import DERIVED_OPERATORS, DerivedGrant, DerivedGrants, derive_grants
from mwaa_platform.serverless.limits import (
    AIRFLOW_PRESETS,
    CODE_PACKAGE_OPERATORS,
    IGNORED_DAG_KEYS,
    MAX_CODE_PACKAGE_BYTES,
    MAX_DEFINITION_BYTES,
    MAX_EXECUTION_TIMEOUT_SECONDS,
    MAX_RETRIES,
    MAX_RETRY_DELAY_SECONDS,
    WORKFLOW_QUOTAS,
)
from mwaa_platform.serverless.schedule import schedule_problem
from mwaa_platform.serverless.service_schema import DAG_KEYS, DEFAULT_ARGS_KEYS, SERVERLESS_OPERATORS, TASK_KEYS
from mwaa_platform.serverless.workflow import SERVICE_PRINCIPAL, WORKFLOW_PREFIX, ServerlessWorkflow

__all__ = [
    "AIRFLOW_PRESETS", "CODE_PACKAGE_OPERATORS", "DAG_KEYS", "DEFAULT_ARGS_KEYS", "DERIVED_OPERATORS", "IGNORED_DAG_KEYS",
    "MAX_CODE_PACKAGE_BYTES", "MAX_DEFINITION_BYTES", "MAX_EXECUTION_TIMEOUT_SECONDS", "MAX_RETRIES",
    "MAX_RETRY_DELAY_SECONDS", "SERVERLESS_OPERATORS", "SERVICE_PRINCIPAL", "TASK_KEYS", "WORKFLOW_PREFIX",
    "WORKFLOW_QUOTAS", "DerivedGrant", "DerivedGrants", "ServerlessWorkflow", "WorkflowDefinition", "WorkflowTask",
    "check_code_package", "derive_grants", "load_definition", "schedule_problem", "wheel_problem",
]
