"""Checks of an environment's Airflow version against the version table (``versions``)."""

from __future__ import annotations

from aws_cdk import Annotations
from constructs import IConstruct

from mwaa_platform.environment.versions import AIRFLOW_VERSIONS, parse, version_info
from mwaa_platform.errors import MwaaPlatformError

__all__ = ["check_airflow_version", "check_supported_airflow_version", "default_airflow_version", "parse"]


def check_supported_airflow_version(version: str) -> tuple[int, int, int]:
    """Parse ``version``; refuse one past its end of support, or older than any version MWAA runs."""
    parsed = parse(version)
    info = version_info(version)
    supported = [row for row in AIRFLOW_VERSIONS.values() if row.supported()]
    oldest = min(supported, key=lambda row: parse(row.airflow)).airflow
    if not info.supported() and info.end_of_support is not None:
        raise MwaaPlatformError(
            f"airflow_version {version} reached end of support on {info.end_of_support.isoformat()}: MWAA creates no "
            f"environment on it and moves none to it; choose a supported version ({oldest} or newer)")
    if parsed < parse(oldest):
        raise MwaaPlatformError(
            f"airflow_version {version} is older than any version MWAA runs (the oldest is {oldest}); "
            "move to a supported version in a new environment"
        )
    return parsed


def check_airflow_version(scope: IConstruct, version: str) -> tuple[int, int, int]:
    """Parse ``version``; warn at synth time when the version table does not know it, or when
    CloudFormation's documentation does not list it yet.

    MWAA ships Airflow versions before CloudFormation's documentation and the SDKs list them, so a
    well-formed version passes with a warning that says what to do if the deploy refuses it.
    """
    parsed = check_supported_airflow_version(version)
    info = version_info(version)
    documented = default_airflow_version()
    if not info.known:
        Annotations.of(scope).add_warning_v2(
            "mwaa-platform:unknown-airflow-version",
            f"Airflow {version} is not in the library's version table (newest: "
            f"{max(AIRFLOW_VERSIONS, key=parse)}): its Python, constraints and features are assumed from the newest "
            "version; check that MWAA runs it in this Region before deploying, and update mwaa-platform.",
        )
    elif not info.cloudformation_documented:
        Annotations.of(scope).add_warning_v2(
            "mwaa-platform:cloudformation-airflow-version",
            f"Airflow {version} runs on MWAA, but CloudFormation's AWS::MWAA::Environment documentation lists "
            f"AirflowVersion values only up to {documented} (aws-cloudformation/cloudformation-coverage-roadmap#2517). "
            "Its resource schema accepts any version string and passes it to MWAA; whether the deploy succeeds cannot "
            f"be checked offline. If CloudFormation refuses it, set airflow_version to {documented} (or the newest "
            "version it accepts) until it lists this one (docs/airflow-environment.md, \"Versions\").",
        )
    return parsed


def default_airflow_version() -> str:
    """The newest supported version CloudFormation's documentation lists: it deploys with no warning."""
    return max((row for row in AIRFLOW_VERSIONS.values() if row.cloudformation_documented and row.supported()),
               key=lambda row: parse(row.airflow)).airflow
