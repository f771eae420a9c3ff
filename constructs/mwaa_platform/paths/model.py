"""``DagPath``: one way a DAG reaches AWS, and how it is recorded in the stack's template."""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from aws_cdk import Stack
from constructs import IConstruct

from mwaa_platform._internal.tokens import is_unresolved
from mwaa_platform.errors import MwaaPlatformError, shorten

__all__ = ["AMAZON_PROVIDER", "ENVIRONMENT_METADATA_KEY", "KUBERNETES_PROVIDER", "PATHS_METADATA_KEY", "DagPath",
           "environment_name_of", "is_endpoint_name", "record_path", "recorded_paths"]

#: Template metadata key holding the stack's paths (a list of ``DagPath.to_metadata()``).
PATHS_METADATA_KEY = "MwaaPlatform::DagPaths"
#: Resource metadata key on ``AWS::MWAA::Environment``: what the environment installs and reaches.
ENVIRONMENT_METADATA_KEY = "MwaaPlatform::Environment"
#: The provider package every AWS operator, hook and the secrets backend import.
AMAZON_PROVIDER = "apache-airflow-providers-amazon"
#: The provider ``EksPodOperator`` imports (``airflow.providers.cncf.kubernetes``).
KUBERNETES_PROVIDER = "apache-airflow-providers-cncf-kubernetes"

_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,40}$")


def is_endpoint_name(value: object) -> bool:
    """Whether ``value`` can name a VPC endpoint service (``glue``, ``ecr.api``, ``kinesis-streams``)."""
    return isinstance(value, str) and _SERVICE.match(value) is not None
_ACCOUNT = re.compile(r"^\d{12}$")
_PROVIDER = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:>=(?P<min>[0-9][0-9a-z.]*))?$")


@dataclass(frozen=True)
class DagPath:
    """One way a DAG of ``environment`` reaches AWS.

    :param environment: the MWAA environment's name.
    :param capability: what the path is for, in words a reviewer reads ("ECS task family etl").
    :param operator: the operator or hook a DAG uses, as its import path.
    :param services: the AWS services it calls, by VPC endpoint name (``ecs``, ``glue``, ``s3``, ...).
    :param providers: the provider packages the operator imports, each ``name`` or ``name>=version``.
        Default: the Amazon provider.
    :param conn_id: the Airflow connection id the DAG passes. Default: none (the execution role's
        own credentials, no connection looked up).
    :param principal_arn: the role the DAG acts as through the connection. Default: the execution role.
    :param principal_account: that role's account. Default: the environment's.
    :param region: the Region of the calls. Default: the environment's.
    :param resource_account: the account owning what it reaches. Default: the environment's.
    :param actions: the IAM actions it takes, where known: every endpoint policy on the way must
        allow each. Default: none recorded (the policies must admit the services).
    :param resources: the ARNs it reaches, where known: every endpoint policy on the way (the S3
        perimeter) must admit each. Default: none recorded.
    :param route_reason: why the path needs no route through this network's endpoints or NAT (it
        reaches that Region through peering or a Transit Gateway): the endpoint checks skip it and
        the report shows the reason. Default: none; every service must be reachable.
    """

    environment: str
    capability: str
    operator: str
    services: tuple[str, ...]
    providers: tuple[str, ...] = (AMAZON_PROVIDER,)
    conn_id: Optional[str] = None
    principal_arn: Optional[str] = None
    principal_account: Optional[str] = None
    region: Optional[str] = None
    resource_account: Optional[str] = None
    actions: tuple[str, ...] = field(default=())
    resources: tuple[str, ...] = field(default=())
    route_reason: Optional[str] = None

    def __post_init__(self) -> None:
        for service in self.services:
            if not is_endpoint_name(service):
                raise MwaaPlatformError(f"path services are VPC endpoint names such as glue or s3, got {shorten(service)}")
        for provider in self.providers:
            if not isinstance(provider, str) or not _PROVIDER.match(provider):
                raise MwaaPlatformError(f"path providers are 'name' or 'name>=version', got {shorten(provider)}")
        for name in ("principal_account", "resource_account"):
            value = getattr(self, name)
            if value is not None and not is_unresolved(value) and not _ACCOUNT.match(str(value)):
                raise MwaaPlatformError(f"path {name} must be a 12-digit AWS account id, got {shorten(value)}")

    @property
    def provider_requirements(self) -> dict[str, Optional[str]]:
        """Provider distribution name -> the lowest version the operator needs (None: any)."""
        parsed = {}
        for provider in self.providers:
            match = _PROVIDER.match(provider)
            assert match is not None  # checked in __post_init__
            parsed[match["name"]] = match["min"]
        return parsed

    def to_metadata(self) -> dict[str, Any]:
        """The path as template metadata: camelCase keys, unset fields left out."""
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or value == ():
                continue
            key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), item.name)
            data[key] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_metadata(cls, data: Mapping[str, Any]) -> "DagPath":
        """The path recorded by ``to_metadata`` (unknown keys are ignored, for newer recorders)."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), item.name)
            if key in data:
                value = data[key]
                values[item.name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)

    def describe(self) -> str:
        """``capability (conn_id, as principal, in region)`` for messages."""
        details = [f"connection {self.conn_id}" if self.conn_id else "no connection",
                   f"as {self.principal_arn}" if self.principal_arn else "as the execution role"]
        if self.region:
            details.append(f"in {self.region}")
        return f"{self.capability} ({', '.join(details)})"


# paths recorded so far, per stack: the stack's metadata is rewritten with the whole list each time
_RECORDED: "weakref.WeakKeyDictionary[Stack, list[DagPath]]" = weakref.WeakKeyDictionary()


def record_path(scope: IConstruct, path: DagPath) -> DagPath:
    """Record ``path`` in the template of ``scope``'s stack (``MwaaPlatform::DagPaths``); return it."""
    stack = Stack.of(scope)
    recorded = _RECORDED.setdefault(stack, [])
    if path not in recorded:
        recorded.append(path)
        stack.add_metadata(PATHS_METADATA_KEY, [item.to_metadata() for item in recorded])
    return path


def recorded_paths(scope: IConstruct) -> tuple[DagPath, ...]:
    """The paths recorded in ``scope``'s stack, in recording order."""
    return tuple(_RECORDED.get(Stack.of(scope), ()))


def environment_name_of(grantee: object) -> Optional[str]:
    """The MWAA environment a grantee stands for: an environment, or grants made on an environment's
    behalf (``ManagedPolicyGrants(environment_name=...)``); None for any other grantee."""
    name = getattr(grantee, "environment_name", None)
    return name if isinstance(name, str) and not is_unresolved(name) else None


