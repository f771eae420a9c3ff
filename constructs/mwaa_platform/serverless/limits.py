"""The limits MWAA Serverless holds a workflow to, and where each comes from.

The operators and keys a definition may use are AWS's converter's lists (``service_schema``); these
are the rest: what the service validates when a workflow is created or updated, what it checks only
when a task runs (and so what fails late unless the library checks it), what it ignores, and the
code packages of ``PythonOperator`` and ``BashOperator``.

Sources: the MWAA Serverless user guide, "Apache Airflow Parameter Support"
(``mwaa-serverless-userguide/supported-airflow-parameters``) and "Quotas"
(``mwaa-serverless-quotas``); code packages: the August 2026 launch (``docs/serverless.md``).
"""

from __future__ import annotations

__all__ = [
    "AIRFLOW_PRESETS", "CODE_PACKAGE_OPERATORS", "CODE_PACKAGE_SUFFIXES", "IGNORED_DAG_KEYS", "MAX_CODE_PACKAGE_BYTES",
    "MAX_DEFINITION_BYTES", "MAX_EXECUTION_TIMEOUT_SECONDS", "MAX_RETRIES", "MAX_RETRY_DELAY_SECONDS",
    "PYTHON_VERSION", "WORKFLOW_QUOTAS",
]

#: A definition file may be at most 50 KB (validated at create and update).
MAX_DEFINITION_BYTES = 50 * 1024
#: ``retries`` of a task (default 1), checked only when the task runs.
MAX_RETRIES = 3
#: ``retry_delay`` of a task (default 300 s), checked only when the task runs.
MAX_RETRY_DELAY_SECONDS = 300
#: ``execution_timeout`` of a task (default and maximum 3600 s), checked only when the task runs.
MAX_EXECUTION_TIMEOUT_SECONDS = 3600

#: DAG keys the service accepts and ignores (user guide, "DAG level parameters that are not supported
#: by Amazon MWAA Serverless and will be ignored"): a definition using one gets a warning, not an error.
IGNORED_DAG_KEYS: tuple[str, ...] = (
    "template_searchpath", "template_undefined", "user_defined_macros", "user_defined_filters", "catchup",
    "access_control", "jinja_environment_kwargs", "render_template_as_native_obj", "tags", "owner_links",
    "auto_register", "fail_fast", "dag_display_name", "depends_on_past", "email_on_failure", "email_on_retry",
)

#: Airflow's schedule presets (``airflow.timetables``'s cron presets, plus ``@once``).
AIRFLOW_PRESETS: tuple[str, ...] = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")

#: Operators that run the workflow's own code: allowed only with a code package (since August 2026).
CODE_PACKAGE_OPERATORS: tuple[str, ...] = (
    "airflow.providers.standard.operators.python.PythonOperator",
    "airflow.providers.standard.operators.bash.BashOperator",
)
#: What a code package may be.
CODE_PACKAGE_SUFFIXES: tuple[str, ...] = (".py", ".sh", ".zip")
#: A code package may be at most 250 MB.
MAX_CODE_PACKAGE_BYTES = 250 * 1024 * 1024
#: The Python the workers run (engine version 1: Airflow 3, Python 3.12): wheels in a code package must fit it.
PYTHON_VERSION = (3, 12)

#: Account quotas (``mwaa-serverless-quotas``, adjustable ones at their defaults).
WORKFLOW_QUOTAS = {
    "workflows per account": 100,
    "versions per workflow": 50,
    "concurrent runs per account": 100,
    "concurrent runs per workflow": 20,
}
