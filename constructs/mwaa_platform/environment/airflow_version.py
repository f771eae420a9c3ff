"""Airflow versions: known ones from botocore's model, unknown well-formed ones with a warning."""

from __future__ import annotations

import re

from aws_cdk import Annotations
from constructs import IConstruct

from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform._internal.service_model import known_airflow_versions

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse(version: str) -> tuple[int, int, int]:
    match = _VERSION.match(version) if isinstance(version, str) else None
    if not match:
        raise MwaaPlatformError(f"airflow_version must look like MAJOR.MINOR.PATCH (e.g. 2.10.3), got {shorten(version)}")
    return tuple(int(part) for part in match.groups())  # type: ignore[return-value]


def check_supported_airflow_version(version: str) -> tuple[int, int, int]:
    """Parse ``version``; refuse one older than the oldest version MWAA still runs (botocore's oldest)."""
    parsed = parse(version)
    oldest = min(known_airflow_versions(), key=parse)
    if parsed < parse(oldest):
        raise MwaaPlatformError(
            f"airflow_version {version} is older than any version MWAA runs (the oldest is {oldest}); "
            "move to a supported version in a new environment"
        )
    return parsed


def check_airflow_version(scope: IConstruct, version: str) -> tuple[int, int, int]:
    """Parse ``version``; warn at synth time when the pinned SDK does not know it yet.

    MWAA ships Airflow versions before CloudFormation and the SDKs list them, so an unknown but
    well-formed version is allowed through with a warning rather than rejected.
    """
    parsed = check_supported_airflow_version(version)
    if version not in known_airflow_versions():
        Annotations.of(scope).add_warning_v2(
            "mwaa-platform:unknown-airflow-version",
            f"Airflow {version} is not in the versions botocore knows ({', '.join(known_airflow_versions())}); "
            "check that MWAA supports it in this region before deploying.",
        )
    return parsed


def default_airflow_version() -> str:
    """The newest Airflow version the pinned botocore knows."""
    return max(known_airflow_versions(), key=parse)
