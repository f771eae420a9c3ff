"""Typed choices of an MWAA environment: ``Literal`` types that IDEs and mypy check.

Where botocore's MWAA model has an enum, the test suite holds these to it (``test_options_match_botocore``),
so a choice the service adds or drops shows up as a failing test, not a surprise at deploy.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "AIRFLOW_ROLES",
    "ENVIRONMENT_CLASS_NAMES",
    "AirflowRole",
    "DatabaseRole",
    "EndpointManagement",
    "EnvironmentClassName",
    "LogLevel",
    "LogType",
    "MwaaCluster",
    "WebserverAccessMode",
    "WorkerReplacementStrategy",
]

#: MWAA environment classes (``ENVIRONMENT_CLASSES`` holds their limits).
EnvironmentClassName = Literal["mw1.micro", "mw1.small", "mw1.medium", "mw1.large", "mw1.xlarge", "mw1.2xlarge"]

ENVIRONMENT_CLASS_NAMES: tuple[str, ...] = get_args(EnvironmentClassName)

#: Who may reach the web server: ``PRIVATE_ONLY`` (VPC endpoint), ``PUBLIC_ONLY`` (internet, IAM
#: login still required) or ``PUBLIC_AND_PRIVATE`` (Airflow 3.2+).
WebserverAccessMode = Literal["PRIVATE_ONLY", "PUBLIC_ONLY", "PUBLIC_AND_PRIVATE"]

#: Who creates the VPC endpoints of the database and web server: the service, or the customer
#: (shared VPCs, from ``database_vpc_endpoint_service`` / ``webserver_vpc_endpoint_service``).
EndpointManagement = Literal["SERVICE", "CUSTOMER"]

#: How workers are replaced during updates: ``FORCED`` or ``GRACEFUL`` (tasks finish first).
WorkerReplacementStrategy = Literal["FORCED", "GRACEFUL"]

#: Airflow log levels MWAA accepts for each log type.
LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]

#: The five log types of an environment, as keys of ``log_levels``.
LogType = Literal["dag_processing", "scheduler", "task", "webserver", "worker"]

#: Airflow roles MWAA maps IAM principals to for the web UI and the REST API.
AirflowRole = Literal["Admin", "Op", "User", "Viewer", "Public"]

AIRFLOW_ROLES: tuple[str, ...] = get_args(AirflowRole)

#: The container clusters MWAA reports CPU and memory for (dimension ``Cluster`` of ``AWS/MWAA``).
MwaaCluster = Literal["Scheduler", "BaseWorker", "AdditionalWorker", "WebServer"]

#: The metadata database's instances (dimension ``DatabaseRole`` of ``AWS/MWAA``).
DatabaseRole = Literal["WRITER", "READER"]
