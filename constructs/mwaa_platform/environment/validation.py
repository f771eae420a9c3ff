"""Checks of an environment's options, run before anything is created.

Each raises ``MwaaPlatformError`` naming the field, the bad value and what is allowed. Token values
(``CfnParameter`` and the like) are let through: they are only known at deployment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Optional

from aws_cdk import aws_ec2 as ec2

from mwaa_platform._internal.kinds import check_each
from mwaa_platform._internal.service_model import log_levels, name_limits
from mwaa_platform.environment.options import LogType
from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform._internal.tokens import is_unresolved

__all__ = [
    "LOG_TYPES",
    "MAX_SECURITY_GROUPS",
    "check_choice",
    "check_environment_name",
    "check_maintenance_window",
    "check_policy_name",
    "check_principal_arns",
    "check_security_groups",
    "resolve_log_levels",
]

#: Log types of an MWAA environment: option key -> (CloudFormation property, log group suffix).
LOG_TYPES: dict[str, tuple[str, str]] = {
    "dag_processing": ("dag_processing_logs", "DAGProcessing"),
    "scheduler": ("scheduler_logs", "Scheduler"),
    "task": ("task_logs", "Task"),
    "webserver": ("webserver_logs", "WebServer"),
    "worker": ("worker_logs", "Worker"),
}

#: MWAA accepts one to five security groups per environment (AWS::MWAA::Environment).
MAX_SECURITY_GROUPS = 5

_MAINTENANCE_WINDOW = re.compile(r"^(MON|TUE|WED|THU|FRI|SAT|SUN):([01]\d|2[0-3]):(00|30)$")


def _is_token(value: object) -> bool:
    return isinstance(value, str) and is_unresolved(value)


def check_environment_name(name: str) -> None:
    """A literal name of 1-80 characters: a letter, then letters, digits, '-' or '_' (botocore's model)."""
    if _is_token(name):
        raise MwaaPlatformError("environment_name must be a literal string: log groups and ARNs are derived from it")
    low, high, pattern = name_limits()
    if not isinstance(name, str) or not (low <= len(name) <= high) or not re.fullmatch(pattern, name):
        raise MwaaPlatformError(
            f"environment_name must be {low}-{high} characters matching {pattern} (a letter, then letters, "
            f"digits, '-' or '_'), got {shorten(name)}"
        )


def check_choice(field: str, value: object, allowed: Sequence[str]) -> None:
    """``value`` is one of ``allowed`` (or a token)."""
    if _is_token(value):
        return
    if value not in allowed:
        raise MwaaPlatformError(f"{field} must be one of {', '.join(allowed)}, got {shorten(value)}")


def check_maintenance_window(value: Optional[str]) -> None:
    """``DAY:HH:MM`` in UTC, DAY in MON..SUN, minutes 00 or 30."""
    if value is None or _is_token(value):
        return
    if not isinstance(value, str) or not _MAINTENANCE_WINDOW.match(value):
        raise MwaaPlatformError(
            "weekly_maintenance_window_start must be DAY:HH:MM in UTC with DAY one of MON..SUN, HH 00-23 and "
            f"MM 00 or 30 (e.g. TUE:03:30), got {shorten(value)}"
        )


def resolve_log_levels(overrides: Optional[Mapping[LogType, str]]) -> dict[str, str]:
    """Every log type's level: INFO unless ``overrides`` says otherwise."""
    levels = {log_type: "INFO" for log_type in LOG_TYPES}
    for log_type, level in (overrides or {}).items():
        if log_type not in LOG_TYPES:
            raise MwaaPlatformError(f"log_levels keys must be among {', '.join(LOG_TYPES)}, got {shorten(log_type)}")
        check_choice(f"log_levels[{log_type!r}]", level, log_levels())
        levels[log_type] = level
    return levels


def check_security_groups(
    groups: Optional[Sequence[ec2.ISecurityGroup]], *, allow_empty: bool = False
) -> list[ec2.ISecurityGroup]:
    """None, or 1 to 5 security groups (0 allowed for an import)."""
    if groups is None:
        return []
    if not isinstance(groups, (list, tuple)):
        raise MwaaPlatformError(f"security_groups must be a list of security groups, got {shorten(groups)}")
    listed = list(groups)
    low = 0 if allow_empty else 1
    if not low <= len(listed) <= MAX_SECURITY_GROUPS:
        raise MwaaPlatformError(
            f"security_groups must hold {low} to {MAX_SECURITY_GROUPS} security groups (MWAA's limit per "
            f"environment), got {len(listed)}"
        )
    check_each("security_groups", listed, ec2.ISecurityGroup)
    return listed


_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")


def check_principal_arns(field: str, arns: Sequence[str]) -> list[str]:
    """IAM role or user ARNs (tokens pass), for policy conditions on ``aws:PrincipalArn``."""
    if isinstance(arns, str) or not isinstance(arns, (list, tuple)):
        raise MwaaPlatformError(f"{field} must be a list of IAM role or user ARNs, got {shorten(arns)}")
    for arn in arns:
        if not _is_token(arn) and (not isinstance(arn, str) or not _PRINCIPAL_ARN.match(arn)):
            raise MwaaPlatformError(
                f"{field} entries must be IAM role or user ARNs like arn:aws:iam::111122223333:role/ci-deployer, "
                f"got {shorten(arn)}"
            )
    return list(arns)


_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")


def check_policy_name(field: str, name: str) -> None:
    """An IAM managed policy name: 1-128 letters, digits and _+=,.@- (IAM API: CreatePolicy)."""
    if not isinstance(name, str) or not _POLICY_NAME.match(name):
        raise MwaaPlatformError(f"{field} must be 1-128 letters, digits and _+=,.@- (an IAM policy name), got {shorten(name)}")
