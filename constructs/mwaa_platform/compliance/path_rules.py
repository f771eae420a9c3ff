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
    iam_prefix_of,
    lookup_pattern_admits,
    provider_problems,
)
from mwaa_platform.paths.model import ENVIRONMENT_METADATA_KEY, PATHS_METADATA_KEY, DagPath

__all__: list[str] = []

_ENDPOINT_NAME = re.compile(r"^com\.amazonaws\.(?P<region>[a-z0-9-]+)\.(?P<name>.+)$")


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


def _covers(pattern: str, resource: Optional[str]) -> bool:
    """Whether an IAM resource pattern matches every ARN ``resource`` (itself perhaps a pattern) names:
    the path's ``*`` may only be covered by the policy's ``*``, never by a ``?``. An unknown resource
    is covered by any pattern (the path recorded none to check)."""
    if resource is None or pattern == "*":
        return True
    literal_resource = resource.replace("*", "\x01").replace("?", "\x02")
    return fnmatch.fnmatchcase(literal_resource, pattern.replace("?", "[!\x01]"))


def _applies(statement: Mapping[str, Any], action: Optional[str], prefix: str, resource: Optional[str],
             account: str, principal_arn: Optional[str], resource_account: str) -> Optional[bool]:
    """Whether a policy statement applies to one call: True, False, or None where the check cannot tell
    (another principal form, NotAction, NotResource, a condition it does not understand)."""
    if statement.get("Principal") not in ("*", {"AWS": "*"}) or "NotAction" in statement or "NotResource" in statement:
        return None
    actions = statement.get("Action")
    patterns = actions if isinstance(actions, list) else [actions]
    if action is None:  # the path recorded no actions: any action of the service's prefix
        matched = any(isinstance(p, str) and (p == "*" or p.split(":")[0].lower() == prefix) for p in patterns)
    else:
        matched = any(isinstance(p, str) and fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)
    resources = statement.get("Resource")
    resources = resources if isinstance(resources, list) else [resources]
    if not matched or not any(isinstance(p, str) and _covers(p, resource) for p in resources):
        return False
    for operator, entries in (statement.get("Condition") or {}).items():
        for key, value in entries.items():
            values = value if isinstance(value, list) else [value]
            if operator == "StringEquals" and key == "aws:PrincipalAccount":
                satisfied = account in values
            elif operator == "StringEquals" and key == "aws:ResourceAccount":
                satisfied = resource_account in values
            elif operator in ("ArnEquals", "ArnLike") and key == "aws:PrincipalArn" and principal_arn is not None:
                satisfied = any(isinstance(v, str) and fnmatch.fnmatchcase(principal_arn, v) for v in values)
            else:
                return None
            if not satisfied:
                return False
    return True


def _policy_admits(policy: Optional[Mapping[str, Any]], path: DagPath, prefix: str, account: str,
                   resource_account: str) -> bool:
    """Whether an endpoint policy lets every call of ``path`` through this endpoint: each of its actions
    with ``prefix`` (any, if none recorded) on each of its resources of that service (any, if none),
    for its principal, allowed by a statement and denied by none.

    Understood conditions: ``aws:PrincipalAccount`` and ``aws:ResourceAccount`` (StringEquals),
    ``aws:PrincipalArn`` (ArnEquals, ArnLike). An Allow the check cannot read never counts; a Deny it
    cannot read counts as denying, so the check never passes on a guess.
    """
    if policy is None:
        return True  # no policy: the endpoint admits every call (AWS's default full-access policy)
    actions: list[Optional[str]] = [a for a in path.actions if a.split(":")[0].lower() == prefix] or [None]
    resources: list[Optional[str]] = [r for r in path.resources if r.split(":")[2:3] == [prefix]] or [None]
    statements = policy.get("Statement") or []
    for action in actions:
        for resource in resources:
            verdicts = [(statement.get("Effect"), _applies(statement, action, prefix, resource, account,
                                                           path.principal_arn, resource_account))
                        for statement in statements]
            if not any(effect == "Allow" and verdict is True for effect, verdict in verdicts):
                return False
            if any(effect == "Deny" and verdict is not False for effect, verdict in verdicts):
                return False
    return True


def check_routes(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    """Every service of every path has a route: in a network without NAT, an interface endpoint of that
    service in the Region called (a cross-Region endpoint for another Region), or a gateway endpoint
    for S3 and DynamoDB in the network's own Region. Wherever such an endpoint exists, with NAT too
    (private DNS sends the calls to it), its policy must allow the path's calls (``_policy_admits``).
    A path with ``route_reason`` is routed outside this app and not followed."""
    stacks = list(stacks)
    networks = _networks(stacks)
    for stack, index, path, env in _environment_paths(stacks):
        network = networks.get((stack.account, stack.region))
        if path.route_reason is not None:
            continue
        egress = env.metadata.get("internetEgress")
        if network is None:
            continue  # no network in this app to follow
        internet = egress is True or (network.nat and egress is not False)
        region = path.region or stack.region or ""
        account = path.principal_account or stack.account or ""
        owner = path.resource_account or stack.account or ""
        for service in path.services:
            endpoints = [e for e in network.endpoints if e.name == service and e.region == region
                         and (not e.gateway or (service in GATEWAY_SERVICES and region == stack.region))]
            if not endpoints:
                # with NAT the call leaves through the internet route; without, it never leaves the VPC
                if not internet:
                    yield _finding("path-route", stack, index, env.name, path,
                                   _no_route(service, region, stack.region or ""))
                continue
            # an endpoint with private DNS takes the calls even with NAT: its policy must admit them
            prefix = iam_prefix_of(service)
            if not any(_policy_admits(e.policy, path, prefix, account, owner) for e in endpoints):
                names = ", ".join(f"{e.stack.name}/{e.logical_id}" for e in endpoints)
                calls = ", ".join(a for a in path.actions if a.split(":")[0].lower() == prefix) or f"{prefix} calls"
                on = [r for r in path.resources if r.split(":")[2:3] == [prefix]]
                yield _finding("path-route", stack, index, env.name, path,
                               f"the policy of the {service} endpoint ({names}) does not allow {calls} of "
                               f"{path.principal_arn or 'the execution role'} (account {account})"
                               f"{' on ' + ', '.join(on) if on else ''} (resource account {owner}): the call is "
                               "denied at the endpoint; add a statement for exactly these calls to the endpoint's "
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
