"""Preflight rules over paths: each way a DAG reaches AWS, followed through the whole app.

The paths are read from the templates (``MwaaPlatform::DagPaths``, written where each path is
granted), and so are the environments (``AWS::MWAA::Environment`` with its configuration options,
Airflow version and ``MwaaPlatform::Environment`` metadata) and the networks of each account and
Region (``AWS::EC2::VPCEndpoint`` with their policies, ``AWS::EC2::NatGateway``). Each rule is a plain
function over the templates, like the other preflight rules (``docs/paths.md`` lists them with
their AWS and Airflow sources).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from mwaa_platform.compliance._templates import Finding, Quotas, StackTemplate, literal
from mwaa_platform.errors import MwaaPlatformError
from mwaa_platform.paths.checks import (
    CROSS_REGION_SERVICES,
    GATEWAY_SERVICES,
    configuration_key_problems,
    lookup_pattern_admits,
    provider_problems,
)
from mwaa_platform.paths.model import ENVIRONMENT_METADATA_KEY, PATHS_METADATA_KEY, DagPath

__all__: list[str] = []

_ENDPOINT_NAME = re.compile(r"^com\.amazonaws\.(?P<region>[a-z0-9-]+)\.(?P<name>.+)$")
#: Endpoint names whose IAM actions have another prefix.
_IAM_PREFIX = {"monitoring": "cloudwatch", "ecr.api": "ecr", "ecr.dkr": "ecr", "airflow.api": "airflow",
               "airflow.env": "airflow", "airflow.ops": "airflow", "codeartifact.api": "codeartifact",
               "codeartifact.repositories": "codeartifact", "ecs-agent": "ecs", "ecs-telemetry": "ecs"}


@dataclass
class _Environment:
    stack: StackTemplate
    logical_id: str
    name: str
    version: Optional[str]
    options: Mapping[str, Any]
    metadata: Mapping[str, Any]

    @property
    def backend_kwargs(self) -> Optional[dict[str, Any]]:
        """The Secrets Manager backend's kwargs, or None without that backend."""
        backend = self.options.get("secrets.backend")
        if not isinstance(backend, str) or not backend.endswith("SecretsManagerBackend"):
            return None
        try:
            kwargs = json.loads(self.options.get("secrets.backend_kwargs") or "{}")
        except (TypeError, ValueError):
            return {}
        return kwargs if isinstance(kwargs, dict) else {}


@dataclass
class _Endpoint:
    stack: StackTemplate
    logical_id: str
    name: str
    region: str
    gateway: bool
    policy: Optional[Mapping[str, Any]]


@dataclass
class _Network:
    endpoints: list[_Endpoint] = field(default_factory=list)
    nat: bool = False


def _environments(stacks: Iterable[StackTemplate]) -> dict[tuple, _Environment]:
    found = {}
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") != "AWS::MWAA::Environment":
                continue
            properties = resource.get("Properties", {})
            name = literal(properties.get("Name"), stack)
            if name is None:
                continue
            options = properties.get("AirflowConfigurationOptions")
            found[(stack.account, stack.region, name)] = _Environment(
                stack=stack, logical_id=logical_id, name=name, version=literal(properties.get("AirflowVersion"), stack),
                options=options if isinstance(options, dict) else {},
                metadata=(resource.get("Metadata") or {}).get(ENVIRONMENT_METADATA_KEY) or {})
    return found


def _paths(stacks: Iterable[StackTemplate]) -> Iterator[tuple[StackTemplate, int, DagPath]]:
    for stack in stacks:
        for index, data in enumerate((stack.template.get("Metadata") or {}).get(PATHS_METADATA_KEY) or []):
            try:
                yield stack, index, DagPath.from_metadata(data)
            except (MwaaPlatformError, TypeError):
                continue  # a path whose fields are tokens here is recorded for reading, not checked


def _networks(stacks: Iterable[StackTemplate]) -> dict[tuple, _Network]:
    networks: dict[tuple, _Network] = defaultdict(_Network)
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            kind, properties = resource.get("Type"), resource.get("Properties", {})
            if kind == "AWS::EC2::NatGateway":
                networks[(stack.account, stack.region)].nat = True
            elif kind == "AWS::EC2::VPCEndpoint":
                service = _ENDPOINT_NAME.match(literal(properties.get("ServiceName"), stack) or "")
                if service is None:
                    continue
                networks[(stack.account, stack.region)].endpoints.append(_Endpoint(
                    stack=stack, logical_id=logical_id, name=service["name"],
                    region=properties.get("ServiceRegion") or service["region"],
                    gateway=properties.get("VpcEndpointType") == "Gateway", policy=properties.get("PolicyDocument")))
    return networks


def _environment_paths(stacks: Iterable[StackTemplate]) -> Iterator[tuple[StackTemplate, int, DagPath, _Environment]]:
    """Each recorded path with the environment it belongs to (same account and Region); paths of an
    environment not in the app are not followed."""
    stacks = list(stacks)
    environments = _environments(stacks)
    for stack, index, path in _paths(stacks):
        env = environments.get((stack.account, stack.region, path.environment))
        if env is not None:
            yield stack, index, path, env


def _finding(rule: str, stack: StackTemplate, index: int, environment: str, path: DagPath, message: str) -> Finding:
    return Finding(rule, "error", stack, "Metadata", f"{PATHS_METADATA_KEY}/{index}",
                   f"environment {environment}, path {path.describe()}: {message}")


# --- rule: connection ids the secrets backend looks up ---------------------------------------------


def check_lookup_patterns(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    for stack, index, path, env in _environment_paths(stacks):
        if path.conn_id is None:
            continue
        kwargs = env.backend_kwargs
        if kwargs is None:
            yield _finding("path-connection-lookup", stack, index, env.name, path,
                           f"connection {path.conn_id} is a Secrets Manager secret, but the environment has no Secrets "
                           "Manager backend, so Airflow never reads it and the DAG runs as the execution role; set "
                           "secrets_backend")
        elif not lookup_pattern_admits(kwargs.get("connections_lookup_pattern"), path.conn_id):
            pattern = kwargs["connections_lookup_pattern"]
            yield _finding("path-connection-lookup", stack, index, env.name, path,
                           f"connection id {path.conn_id!r} does not match connections_lookup_pattern {pattern!r}: the "
                           "backend returns no connection without calling AWS, and the hook silently runs as the "
                           f"execution role; widen the pattern (e.g. ^({re.escape(path.conn_id)}|...)) or rename the "
                           "connection")


# --- rule: a route to every service a path calls ------------------------------------------------------


def _policy_admits(policy: Optional[Mapping[str, Any]], action_prefix: str, account: str,
                   resources: Iterable[str], resource_account: str) -> bool:
    """Whether an endpoint policy allows ``action_prefix`` calls of principals of ``account`` on
    ``resources`` (each, or any resource when none is known) of ``resource_account``.

    Understood conditions: ``aws:PrincipalAccount`` and ``aws:ResourceAccount`` (StringEquals); a
    statement with any other condition key is not counted, so the check never passes on a guess.
    """
    if policy is None:
        return True  # no policy: the endpoint admits every call (AWS's default full-access policy)
    wanted: list[Optional[str]] = [*resources] or [None]
    admitted = set()
    for statement in policy.get("Statement") or []:
        if statement.get("Effect") != "Allow" or statement.get("Principal") not in ("*", {"AWS": "*"}):
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(isinstance(a, str) and (a == "*" or a.split(":")[0] == action_prefix) for a in actions):
            continue
        conditions = statement.get("Condition") or {}
        if set(conditions) - {"StringEquals"} or set(conditions.get("StringEquals", {})) - {
                "aws:PrincipalAccount", "aws:ResourceAccount"}:
            continue
        equals = conditions.get("StringEquals", {})
        if not _condition_allows(equals.get("aws:PrincipalAccount"), account):
            continue
        if not _condition_allows(equals.get("aws:ResourceAccount"), resource_account):
            continue
        patterns = statement.get("Resource")
        patterns = patterns if isinstance(patterns, list) else [patterns]
        for index, resource in enumerate(wanted):
            if any(isinstance(p, str) and (p == "*" or (resource is not None and fnmatch.fnmatchcase(resource, p)))
                   for p in patterns):
                admitted.add(index)
    return len(admitted) == len(wanted)


def _condition_allows(value: Any, account: str) -> bool:
    if value is None:
        return True
    values = value if isinstance(value, list) else [value]
    return account in values


def check_routes(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    """Every service of every path has a route: in a network without NAT, an interface endpoint of that
    service in the Region called (a cross-Region endpoint for another Region), or a gateway endpoint
    for S3 and DynamoDB in the network's own Region; and the endpoint's policy admits the path's
    principal account and resources."""
    stacks = list(stacks)
    networks = _networks(stacks)
    for stack, index, path, env in _environment_paths(stacks):
        network = networks.get((stack.account, stack.region))
        if path.route_reason is not None:
            continue
        egress = env.metadata.get("internetEgress")
        if network is None or egress is True or (network.nat and egress is not False):
            continue  # no network in this app to follow, or the route is the internet (NAT)
        region = path.region or stack.region or ""
        account = path.principal_account or stack.account or ""
        owner = path.resource_account or stack.account or ""
        for service in path.services:
            endpoints = [e for e in network.endpoints if e.name == service and e.region == region
                         and (not e.gateway or (service in GATEWAY_SERVICES and region == stack.region))]
            if not endpoints:
                yield _finding("path-route", stack, index, env.name, path, _no_route(service, region, stack.region or ""))
                continue
            prefix = _IAM_PREFIX.get(service, service)
            resources = [r for r in path.resources if r.split(":")[2:3] == [prefix]] if prefix == "s3" else []
            if not any(_policy_admits(e.policy, prefix, account, resources, owner) for e in endpoints):
                names = ", ".join(f"{e.stack.name}/{e.logical_id}" for e in endpoints)
                what = f" on {', '.join(resources)}" if resources else ""
                yield _finding("path-route", stack, index, env.name, path,
                               f"the policy of the {service} endpoint ({names}) does not admit {prefix} calls of "
                               f"principals of account {account}{what} (resource account {owner}): the call is denied "
                               "at the endpoint; add the account (and, for S3, the exact resources) to the endpoint's "
                               "policy (AirflowNetwork path_endpoints)")


def _no_route(service: str, region: str, home: str) -> str:
    if region == home:
        kind = "a gateway or interface" if service in GATEWAY_SERVICES else "an interface"
        return (f"the network has no NAT and no {service} endpoint in {region}: the call never leaves the VPC; add "
                f"{kind} endpoint for {service} (AirflowNetwork path_endpoints)")
    if service in CROSS_REGION_SERVICES:
        return (f"{service} in {region} is not reachable from {home}: the network has no NAT and no cross-Region "
                f"{service} endpoint for {region}; add one (AirflowNetwork path_endpoints with region={region}) or NAT")
    return (f"{service} in {region} is not reachable from {home}: the network has no NAT, and {service} has no "
            "cross-Region PrivateLink; give the network NAT, call it in "
            f"{home}, or state how it is routed (route_reason)")


# --- rule: the providers an operator imports are installed -----------------------------------------


def check_providers(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    for stack, index, path, env in _environment_paths(stacks):
        if env.version is None:
            continue
        requirements = env.metadata.get("requirements")
        if not isinstance(requirements, dict):
            continue  # the environment did not record its requirements (not built by this library)
        for problem in provider_problems(path, env.version, requirements):
            yield _finding("path-provider", stack, index, env.name, path, problem)


# --- rule: configuration options the Airflow version reads -----------------------------------------


def check_configuration_options(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    for env in _environments(stacks).values():
        if env.version is None:
            continue
        for problem in configuration_key_problems(env.version, [str(key) for key in env.options]):
            yield Finding("airflow-configuration-options", "error", env.stack, env.logical_id,
                          "Properties/AirflowConfigurationOptions",
                          f"environment {env.name} (Airflow {env.version}): {problem}")


PATH_RULES = {
    "path-connection-lookup": (check_lookup_patterns,
                               "every connection a path uses is looked up by its environment's secrets backend"),
    "path-route": (check_routes, "every service a path calls is reachable (endpoint in its Region, or NAT), and every "
                                 "endpoint policy on the way admits the path's principal account and resources"),
    "path-provider": (check_providers, "every provider package a path's operator imports is installed, at a version "
                                       "MWAA's constraints allow"),
    "airflow-configuration-options": (check_configuration_options,
                                      "every configuration option is one the environment's Airflow version reads"),
}


def describe_paths(stacks: Iterable[StackTemplate]) -> str:
    """The paths of every environment as Markdown, one table per environment, for reviewers."""
    rows: dict[str, list[str]] = defaultdict(list)
    for stack, _, path in _paths(stacks):
        rows[f"{path.environment} ({stack.account}, {stack.region})"].append(
            f"| {path.capability} | {path.conn_id or '-'} | {path.principal_arn or 'execution role'} | "
            f"{', '.join(path.services)} | {path.region or stack.region} | {path.resource_account or stack.account} | "
            f"{path.operator} | {', '.join(path.providers)} |")
    lines = []
    for environment in sorted(rows):
        lines += [f"### {environment}", "",
                  "| path | connection | acts as | services | Region | resource account | operator | providers |",
                  "|---|---|---|---|---|---|---|---|", *rows[environment], ""]
    return "\n".join(lines)
