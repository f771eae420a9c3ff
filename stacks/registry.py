"""The team registry (platform.yaml): load it, validate all of it, then hand typed settings to the stacks.

Nothing is built from a registry with an error in it, and every error is reported in one run.
Each names the file and line, where (platform, stage, team and stage, shared environment), the
field, the bad value and what is allowed::

    platform.yaml:108: team 'payments' (teams[1]) stage 'prod': max_workers must be between 1 and 25 for mw1.large, got 40

Every entry the schema accepts goes on to the checks that span entries, even when another entry
fails, and a key written twice is an error (YAML would keep the last one silently).

The structure and the field checks are the pydantic models of ``stacks/registry_schema.py``
(which reuse the library's own checks); what spans entries (stage references, shared
environments, names, files, secret prefixes) is checked here. The single-stage format of
mwaa-platform 0.1 is read too, converted to stages (``docs/registry.md``, "Migration").
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ValidationError

from mwaa_platform import AirflowConfiguration, SecretsManagerBackend
from mwaa_platform.cross_account import services_without_cross_region_endpoints
from mwaa_platform.serverless import WORKFLOW_QUOTAS, check_code_package, load_definition
from mwaa_platform.environment import ENVIRONMENT_CLASSES, EnvironmentClassName, check_upgrade
from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform.network import PathEndpoint
from mwaa_platform.paths import endpoints_of_action, lookup_pattern_admits
from mwaa_platform.validation import (
    check_artifact_paths,
    check_environment_name,
    check_mwaa_region,
    check_requirements,
    check_target_region,
    default_airflow_version,
    mwaa_regions,
    needs_packages,
)
from stacks.registry_schema import (
    CAPACITY_FIELDS,
    LOG_RETENTION_DAYS,
    TAGS_PER_RESOURCE_MAX,
    ZONE_LETTERS,
    Loc,
    Problems,
    EnvironmentSettings,
    Registry,
    SecretsBackend,
    SharedEnvironment,
    Stage,
    Team,
    TeamEnvironment,
    WebAccess,
    WebIngress,
    WheelhouseSettings,
    capacity_range,
)
from stacks.registry_schema import Alerts, Compute, CrossAccountTarget

#: Used when neither a stage nor CDK_DEPLOY_ACCOUNT / CDK_DEPLOY_REGION name one: synthesis needs
#: no credentials. Deploying needs the real account (see docs/deploying.md).
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "eu-west-1"
#: The most errors listed in one report; the rest are counted.
MAX_REPORTED_ERRORS = 50
#: The team tag naming how sensitive a team's data is; teams of different values should not share.
CLASSIFICATION_TAG = "data-classification"

__all__ = [
    "DEFAULT_ACCOUNT", "DEFAULT_REGION", "EnvironmentSpec", "NetworkSpec", "PlatformSettings", "RegistryError",
    "StageSettings", "TeamAccessSpec", "WebAccess", "WebIngress", "load_registry", "retention",
]


def retention(days: int) -> logs.RetentionDays:
    """The CDK enum member for a CloudWatch Logs retention in days (members are in ascending order)."""
    members = [member for member in logs.RetentionDays if member.name != "INFINITE"]
    assert len(members) == len(LOG_RETENTION_DAYS), "aws-cdk-lib changed RetentionDays; update LOG_RETENTION_DAYS"
    return dict(zip(LOG_RETENTION_DAYS, members))[days]


#: A problem and the line of the registry it is on (None: the whole file).
Problem = tuple[Optional[int], str]


class RegistryError(ValueError):
    """The registry file is invalid; the message lists every problem, in the order of the file, each
    as ``<file>:<line>: <where>: <field> ..., got <value>``.

    :param problems: each a message, or (line, message) to name its line.
    """

    def __init__(self, path: Path, problems: Sequence[Union[str, Problem]]) -> None:
        located = list(dict.fromkeys((None, problem) if isinstance(problem, str) else problem for problem in problems))
        located.sort(key=lambda problem: problem[0] or 0)
        self.problems = [message for _, message in located]
        self.lines = [line for line, _ in located]
        shown = [f"{path}:{line}: {message}" if line else f"{path}: {message}"
                 for line, message in located[:MAX_REPORTED_ERRORS]]
        if len(located) > MAX_REPORTED_ERRORS:
            shown.append(f"{path}: ... and {len(located) - MAX_REPORTED_ERRORS} more")
        head = "" if len(located) == 1 else f"{len(located)} problems in the registry:\n"
        super().__init__(head + "\n".join(shown))


# --- typed settings the stacks are built from ------------------------------------------------------


@dataclass(frozen=True)
class StageSettings:
    name: str
    account: str
    region: str
    availability_zones: Optional[tuple[str, ...]]
    production: bool

    @property
    def availability_zones_context_key(self) -> str:
        """The context key CDK reads the zones of this stage's account and Region from."""
        return f"availability-zones:account={self.account}:region={self.region}"


@dataclass(frozen=True)
class EnvironmentSpec:
    """One MWAA environment to build: a team's own, or a shared one with its teams' DAG folders."""

    name: str
    stage: StageSettings
    environment_name: str
    stack_name: str
    settings: EnvironmentSettings
    cost_tags: Mapping[str, str]
    dags: Union[None, str, Mapping[str, str]]
    web_access: tuple[WebAccess, ...]
    secrets_backend: Optional[SecretsManagerBackend]
    shared_by: tuple[str, ...] = ()
    #: A shared environment (its teams are ``shared_by``), not a team's own.
    shared: bool = False
    alerts: Optional[Alerts] = None
    #: The team's monthly budget in this stage (own environments only).
    budget_usd: Optional[float] = None
    #: Roles in other accounts this environment assumes (own environments only).
    cross_account: tuple["TargetRoleSpec", ...] = ()

    @property
    def execution_role_name(self) -> Optional[str]:
        """A fixed name where others name the role before it exists: a shared environment's (its teams'
        stacks grant to it) and one that target accounts trust."""
        return f"{self.environment_name}-exec" if self.shared or self.cross_account else None

    @property
    def execution_role_arn(self) -> str:
        assert self.execution_role_name is not None
        return f"arn:aws:iam::{self.stage.account}:role/{self.execution_role_name}"

    @property
    def airflow_version(self) -> str:
        return self.settings.airflow_version or default_airflow_version()

    @property
    def environment_class(self) -> EnvironmentClassName:
        return self.settings.environment_class or "mw1.small"


@dataclass(frozen=True)
class TargetRoleSpec:
    """A role in a target account and Region, trusted by one central execution role."""

    target: CrossAccountTarget
    team: str
    stage: StageSettings
    role_name: str

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.target.account}:role/{self.role_name}"

    @property
    def stack_name(self) -> str:
        """One stack per central environment, target account and Region: each deploys with the target
        account's credentials, and none grows with the number of teams (CloudFormation's 500 resources)."""
        return f"{self.platform_name}-{self.team}-{self.stage.name}-access-{self.target.account}-{self.target.region}"

    platform_name: str = ""


@dataclass(frozen=True)
class TeamAccessSpec:
    """A team on a shared environment: its own stack holds what is the team's (web access, task compute)."""

    team: str
    stage: StageSettings
    environment: EnvironmentSpec
    stack_name: str
    web_access: tuple[WebAccess, ...]
    cost_tags: Mapping[str, str]
    compute: Optional[Compute] = None
    alerts: Optional[Alerts] = None
    budget_usd: Optional[float] = None


@dataclass(frozen=True)
class NetworkSpec:
    """The network of one account and Region, shared by every stage deploying there."""

    account: str
    region: str
    stack_name: str
    availability_zones: Optional[tuple[str, ...]]
    endpoint_sets: tuple[str, ...]
    production: bool
    #: The stack of the account and Region's EKS cluster, when a team there runs pods; else None.
    eks_stack_name: Optional[str] = None
    #: The stack of the account and Region's summary dashboard.
    monitoring_stack_name: str = ""
    #: What the DAG paths of its environments need beyond the endpoint sets (cross-account targets).
    path_endpoints: tuple[PathEndpoint, ...] = ()

    @property
    def cluster_name(self) -> Optional[str]:
        """The EKS cluster's name: its stack's, so each account and Region has its own."""
        return self.eks_stack_name


@dataclass(frozen=True)
class ServerlessSpec:
    """A team's MWAA Serverless workflows in one stage, built in a stack of their own."""

    team: str
    stage: StageSettings
    stack_name: str
    #: the workflows' settings, paths resolved, with their names (the definition's dag_id by default)
    workflows: tuple[tuple[str, Any], ...]
    cost_tags: Mapping[str, str]
    #: where the team's stage is in the registry, for messages
    at: tuple[Union[str, int], ...] = ()


@dataclass(frozen=True)
class PlatformSettings:
    name: str
    tags: Mapping[str, str]
    network: Any  # registry_schema.Network
    stages: tuple[StageSettings, ...]
    environments: tuple[EnvironmentSpec, ...]
    team_access: tuple[TeamAccessSpec, ...]
    source: Path
    perimeter_accounts: tuple[str, ...] = field(default=())
    eks: Any = None  # registry_schema.EksClusterSettings
    #: Read from the single-stage format: its one network keeps the stack name <platform>-network,
    #: so upgrading does not create a second network (and replace every environment).
    single_stage_format: bool = False
    #: What the registry allows but a reviewer should hear about (printed by the app, never fatal).
    warnings: tuple[str, ...] = ()
    #: MWAA Serverless workflows, per team and stage.
    serverless: tuple[ServerlessSpec, ...] = ()
    #: The delivery pipeline (registry_schema.Delivery), or None.
    delivery: Any = None
    #: Team -> (approving team, its approvers' role ARNs): four eyes on the team's production changes.
    approvals: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def parameter_prefix(self) -> str:
        return f"/{self.name}/network"

    @property
    def eks_parameter_prefix(self) -> str:
        return f"/{self.name}/eks"

    def environments_of(self, network: NetworkSpec) -> tuple[EnvironmentSpec, ...]:
        return tuple(env for env in self.environments
                     if (env.stage.account, env.stage.region) == (network.account, network.region))

    def network_of(self, stage: StageSettings) -> NetworkSpec:
        return next(spec for spec in self.networks if (spec.account, spec.region) == (stage.account, stage.region))

    @property
    def target_roles(self) -> dict[str, list[tuple[EnvironmentSpec, TargetRoleSpec]]]:
        """Target stack name -> the roles to create there (one central environment, account and Region)."""
        by_stack: dict[str, list[tuple[EnvironmentSpec, TargetRoleSpec]]] = {}
        for env in self.environments:
            for role in env.cross_account:
                by_stack.setdefault(role.stack_name, []).append((env, role))
        return by_stack

    def eks_namespace_owners(self, network: NetworkSpec) -> list[tuple[str, str, Literal["baseline", "restricted"]]]:
        """(team, namespace, Pod Security level) of every team running pods in ``network``'s account and
        Region: the namespaces its EKS stack creates."""
        here = [access for access in self.team_access
                if (access.stage.account, access.stage.region) == (network.account, network.region)]
        return [(team, pods.namespace or team, pods.pod_security) for team, _, pods in _pods(self.environments_of(network), here)]

    def eks_namespaces(self, environment: EnvironmentSpec) -> tuple[str, ...]:
        """The namespaces whose pods ``environment`` launches: its own team's, or its sharing teams'."""
        if environment.shared:
            computes = [(a.team, a.compute) for a in self.team_access if a.environment is environment]
        else:
            computes = [(environment.name, getattr(environment.settings, "compute", None))]
        return tuple(compute.eks.namespace or team for team, compute in computes
                     if compute is not None and compute.eks is not None)

    @property
    def networks(self) -> tuple[NetworkSpec, ...]:
        """One network per account and Region, with the endpoint sets its environments need."""
        specs: dict[tuple[str, str], NetworkSpec] = {}
        for stage in self.stages:
            key = (stage.account, stage.region)
            environments = [env for env in self.environments if (env.stage.account, env.stage.region) == key]
            if not environments and not any((a.stage.account, a.stage.region) == key for a in self.team_access):
                continue
            sets = list(self.network.endpoint_sets)
            if any(env.secrets_backend is not None for env in environments):
                sets.append("secretsmanager")
            if any(env.cross_account for env in environments):
                sets.append("sts")  # the execution role assumes the target roles
            if any(env.settings.package_index is not None for env in environments):
                sets.append("codeartifact")
            placed = [a.compute for a in self.team_access if (a.stage.account, a.stage.region) == key]
            eks = False
            for compute in [getattr(env.settings, "compute", None) for env in environments] + placed:
                if compute is not None:
                    sets += ["ecs"] * bool(compute.ecs_tasks) + ["batch"] * bool(compute.batch_jobs)
                    sets += ["eks"] * (compute.eks is not None)
                    eks = eks or compute.eks is not None
                    if compute.batch_jobs and compute.batch_capacity in ("EC2", "SPOT"):
                        sets.append("ecs-agent")
                    if any(job.secrets for job in [*compute.ecs_tasks, *compute.batch_jobs]):
                        sets.append("secretsmanager")
            previous = specs.get(key)
            paths = [*(previous.path_endpoints if previous else ()), *self.path_endpoints_of(environments)]
            suffix = "" if self.single_stage_format else f"-{stage.name}"
            eks_stack = previous.eks_stack_name if previous and previous.eks_stack_name else (
                f"{self.name}-eks{suffix}" if eks else None)
            specs[key] = NetworkSpec(
                account=stage.account, region=stage.region, eks_stack_name=eks_stack,
                monitoring_stack_name=previous.monitoring_stack_name if previous else f"{self.name}-monitoring{suffix}",
                stack_name=previous.stack_name if previous else f"{self.name}-network{suffix}",
                availability_zones=stage.availability_zones if previous is None else previous.availability_zones,
                endpoint_sets=tuple(dict.fromkeys([*(previous.endpoint_sets if previous else ()), *sets])),
                production=stage.production or bool(previous and previous.production),
                path_endpoints=tuple(dict.fromkeys(paths)),
            )
        return tuple(specs.values())

    def path_endpoints_of(self, environments: Iterable[EnvironmentSpec]) -> list[PathEndpoint]:
        """What the cross-account paths of ``environments`` need of their network: for each target in the
        network's Region, each statement's calls through each service's endpoint, admitted for exactly
        the target role on the target account's resources. A target in another Region needs STS there,
        which no endpoint here reaches: it goes through NAT or its declared route (the resolver refuses
        it otherwise), so it adds nothing here."""
        endpoints = []
        for env in environments:
            for role in env.cross_account:
                target = role.target
                if target.region != env.stage.region:
                    continue
                for statement in target.statements:
                    by_service: dict[str, list[str]] = {}
                    for action in statement.actions:
                        for service in endpoints_of_action(action):
                            by_service.setdefault(service, []).append(action)
                    endpoints += [PathEndpoint(service=service, principal_arns=(role.role_arn,), actions=tuple(actions),
                                               resources=tuple(statement.resources), resource_account=target.account)
                                  for service, actions in by_service.items()]
        return endpoints


def _computes(environments: Iterable[EnvironmentSpec], access: Iterable[TeamAccessSpec]) -> list[tuple[str, StageSettings, Any]]:
    """(team, stage, its ``compute``) of every team with task compute: in its own environment, or from its
    stack on a shared one (a shared environment itself has no compute)."""
    claims = [(env.name, env.stage, getattr(env.settings, "compute", None)) for env in environments] + [
        (team.team, team.stage, team.compute) for team in access]
    return [(team, stage, compute) for team, stage, compute in claims if compute is not None]


def _pods(environments: Iterable[EnvironmentSpec], access: Iterable[TeamAccessSpec]) -> list[tuple[str, StageSettings, Any]]:
    """(team, stage, its ``compute.eks``) of every team that runs pods."""
    return [(team, stage, compute.eks) for team, stage, compute in _computes(environments, access)
            if compute.eks is not None]


# --- loading ---------------------------------------------------------------------------------------


# libyaml's loader when PyYAML has it (the wheels do): the pure-Python one is most of a registry test's time
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ALIASES = "YAML aliases (*name) are not supported in the registry; write the value out"


@dataclass
class _Source:
    """The registry as written: every node's line, every scalar's text, and keys written twice."""

    path: Path
    #: location (keys and list indices, as pydantic names them) -> line, 1-based; a mapping entry's
    #: line is its key's
    lines: dict[Loc, int] = field(default_factory=dict)
    #: location -> the scalar as written, to explain YAML's type surprises
    written: dict[Loc, str] = field(default_factory=dict)
    duplicates: list[Problem] = field(default_factory=list)
    #: read from the single-stage format: locations of the converted document map back to it
    migrated: bool = False

    def line(self, loc: Loc) -> Optional[int]:
        """The line of ``loc``, or of its nearest written ancestor (a missing key: its mapping's)."""
        loc = self.original(loc)
        while loc not in self.lines and loc:
            loc = loc[:-1]
        return self.lines.get(loc)

    def text(self, loc: Loc) -> Optional[str]:
        return self.written.get(self.original(loc))

    def original(self, loc: Loc) -> Loc:
        """Where ``loc`` of the converted document was in the single-stage format (``migrate``)."""
        if not self.migrated:
            return loc
        if loc[:1] == ("teams",) and loc[2:3] == ("environments",) and len(loc) >= 4:
            return ("teams", loc[1], *loc[4:])
        if loc[:1] == ("stages",):
            return ("platform", *loc[2:])
        return loc

    def walk(self, node: yaml.Node, loc: Loc = (), seen: Optional[set[int]] = None) -> None:
        """Record ``node``'s lines and text. A node met twice came from an alias (the composer shares one
        node between an anchor and its aliases): refused before anything expands it, since a few lines of
        aliases can expand to gigabytes."""
        if seen is None:
            seen = set()
            self.lines[()] = node.start_mark.line + 1
        if id(node) in seen:
            raise RegistryError(self.path, [(self.line(loc), f"not valid YAML: {_ALIASES}")])
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, Any], int] = {}
            for key, value in node.value:
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode):
                    if (key.tag, key.value) in first:
                        self.duplicates.append((line, (
                            f"{_field(loc) or 'the registry'}: key {shorten(key.value)} is written twice, here and at "
                            f"{self.path}:{first[key.tag, key.value]}; YAML would keep only this one and silently drop "
                            "the other: merge them into one")))
                    first.setdefault((key.tag, key.value), line)
                # the last of a duplicated key is the one YAML keeps, so its lines win
                self.lines[loc + (key.value,)] = line
                self.walk(value, loc + (key.value,), seen)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[loc + (index,)] = item.start_mark.line + 1
                self.walk(item, loc + (index,), seen)
        elif isinstance(node, yaml.ScalarNode):
            self.written[loc] = node.value


def _read(path: Path) -> tuple[Any, _Source]:
    source = _Source(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RegistryError(path, ["registry file not found"]) from None
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, source
            source.walk(node)
            document = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        raise RegistryError(path, [(mark.line + 1 if mark is not None else None, f"not valid YAML: {error}")]) from None
    return document, source


def load_registry(path: str | os.PathLike[str], environ: Mapping[str, str] = os.environ) -> PlatformSettings:
    """Read and validate the registry at ``path``; raise ``RegistryError`` listing every problem.

    Every entry the schema accepts goes on to the checks that span entries, even when others fail,
    so one run reports the schema's problems and theirs together.
    """
    path = Path(path)
    document, source = _read(path)
    problems: list[Problem] = list(source.duplicates)
    if not isinstance(document, dict):
        raise RegistryError(path, [*problems, (source.line(()), "the registry must be a mapping with stages and teams, "
                                                                 f"got {shorten(document)}")])
    document, source.migrated = migrate(document, environ)
    registry: Optional[Registry]
    try:
        registry, accepted = Registry.model_validate(document), _Accepted.everything(document)
    except ValidationError as errors:
        found = [item for error in errors.errors() for item in _describe(error, document, source)]
        problems += [(source.line(loc), message) for loc, message in found]
        registry, accepted = _without([loc for loc, _ in found], document)
    if registry is None:
        raise RegistryError(path, problems)
    return _Resolver(path, registry, environ, source=source, accepted=accepted, problems=problems).platform()


@dataclass
class _Accepted:
    """What of the document the schema accepted, for the checks that span entries. What it refused has
    its problems reported already, and is left out so that it causes no second, misleading one."""

    #: the original index of each team and shared environment the validated lists hold
    teams: list[int]
    shared: list[int]
    refused_stages: set[str] = field(default_factory=set)
    #: (team index, stage)
    refused_environments: set[tuple[int, str]] = field(default_factory=set)
    refused_shared_names: set[str] = field(default_factory=set)
    #: team indices whose cross_account (or alerts) was refused
    refused_cross_account: set[int] = field(default_factory=set)
    refused_alerts: set[int] = field(default_factory=set)
    #: False when platform.network was refused: what depends on it (NAT) is not checked
    network: bool = True

    @classmethod
    def everything(cls, document: Mapping[str, Any]) -> "_Accepted":
        def count(key: str) -> int:
            items = document.get(key)
            return len(items) if isinstance(items, list) else 0
        return cls(teams=list(range(count("teams"))), shared=list(range(count("shared_environments"))))


_GONE = object()


def _without(refused: list[Loc], document: dict[str, Any]) -> tuple[Optional[Registry], _Accepted]:
    """The registry without the parts the schema refused, and what it holds; (None, ...) when what
    was refused is the registry's frame itself (no stages, no teams)."""
    document = copy.deepcopy(document)
    accepted = _Accepted.everything(document)
    fine = True
    for _ in range(4):
        for loc in refused:
            if not _leave_out(document, loc, accepted, fine=fine):
                return None, accepted
        lists = {key: document.get(key) for key in ("teams", "shared_environments")}
        candidate = {**document, **{key: [item for item in items if item is not _GONE]
                                    for key, items in lists.items() if isinstance(items, list)}}
        try:
            registry = Registry.model_validate(candidate)
        except ValidationError as errors:
            # what leaving a part out broke in turn (a team with no environment left): leave out its entry
            refused = [_original(tuple(error["loc"]), lists) for error in errors.errors()]
            fine = False
            continue
        accepted.teams, accepted.shared = (
            [index for index, item in enumerate(items) if item is not _GONE] if isinstance(items, list) else []
            for items in (lists["teams"], lists["shared_environments"]))
        return registry, accepted
    return None, accepted


def _original(loc: Loc, lists: Mapping[str, Any]) -> Loc:
    """``loc`` in the document with the left-out list items back in place."""
    loc = _plain(loc)
    items = lists.get(str(loc[0])) if loc else None
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(items, list):
        present = [index for index, item in enumerate(items) if item is not _GONE]
        if loc[1] < len(present):
            return (loc[0], present[loc[1]], *loc[2:])
    return loc


def _leave_out(document: dict[str, Any], loc: Loc, accepted: _Accepted, *, fine: bool) -> bool:
    """Leave the part at ``loc`` out of ``document``: the smallest part the other checks can do without
    when ``fine``, else its whole entry. False when the registry cannot do without it."""
    parent, model = (_at(document, loc[:-1]), _model_at(loc[:-1])) if loc else (None, None)
    if fine and isinstance(parent, dict) and model is not None and loc[-1] not in model.model_fields:
        parent.pop(loc[-1], None)  # an unknown key
        return True
    head, rest = (loc[0], loc[1:]) if loc else (None, ())
    if head == "platform":
        platform = document.get("platform")
        if rest and isinstance(platform, dict):
            platform.pop(rest[0], None)  # every platform setting has a default
        else:
            document.pop("platform", None)
        accepted.network = accepted.network and rest[:1] not in ((), ("network",))
        return True
    if head == "stages" and rest and isinstance(document.get("stages"), dict):
        document["stages"].pop(rest[0], None)
        accepted.refused_stages.add(str(rest[0]))
        return True
    items = document.get(head) if head in ("teams", "shared_environments") else None
    if not (rest and isinstance(rest[0], int) and isinstance(items, list) and rest[0] < len(items)):
        return False
    index, entry = rest[0], items[rest[0]]
    if entry is _GONE:
        return True
    key = rest[1] if len(rest) >= 2 and isinstance(entry, dict) else None
    if fine and key in ("tags", "cost_center"):
        entry[key] = {} if key == "tags" else "left-out"  # of these, the checks read the tags only
        return True
    if fine and head == "teams" and key in ("cross_account", "alerts"):
        entry.pop(key, None)
        (accepted.refused_cross_account if key == "cross_account" else accepted.refused_alerts).add(index)
        return True
    environments = entry.get("environments") if isinstance(entry, dict) else None
    if fine and head == "teams" and key == "environments" and len(rest) >= 3 and isinstance(environments, dict):
        environments.pop(rest[2], None)
        accepted.refused_environments.add((index, str(rest[2])))
        return True
    if head == "shared_environments" and isinstance(entry, dict):
        accepted.refused_shared_names.add(str(entry.get("name")))
    items[index] = _GONE
    return True


def _at(document: Any, loc: Loc) -> Any:
    """The part of ``document`` at ``loc``, or None."""
    for part in loc:
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and isinstance(part, int) and 0 <= part < len(document):
            document = document[part]
        else:
            return None
    return document


def migrate(document: dict[str, Any], environ: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
    """The 0.1 single-stage format (``platform.account``, teams with ``stage``) in today's form.

    Every team entry becomes a team with one environment in its stage, and every stage used
    deploys to the platform's account and Region. Returns (document, whether it was converted).
    """
    if "stages" in document or not isinstance(document.get("teams"), list):
        return document, False
    platform = dict(document.get("platform") or {}) if isinstance(document.get("platform"), dict) else {}
    where = {key: platform.pop(key) for key in ("account", "region", "availability_zones") if key in platform}
    teams: list[Any] = []
    stages: dict[str, Any] = {}
    for entry in document["teams"]:
        if not isinstance(entry, dict):
            teams.append(entry)
            continue
        entry = dict(entry)
        stage = entry.pop("stage", "dev")
        team = {key: entry.pop(key) for key in ("name", "cost_center", "alerts", "compute", "cross_account")
                if key in entry}
        if isinstance(stage, str):
            stages.setdefault(stage, dict(where))
        team["environments"] = {stage: entry}
        teams.append(team)
    converted = {**{k: v for k, v in document.items() if k != "teams"}, "platform": platform,
                 "stages": stages or {"dev": dict(where)}, "teams": teams}
    return converted, True


# --- errors ------------------------------------------------------------------------------------------


def _budget(team: Team, stage: str) -> Optional[float]:
    return team.alerts.monthly_budget_usd.get(stage) if team.alerts is not None else None


def _where(loc: tuple, document: Mapping[str, Any]) -> tuple[str, tuple]:
    """("team 'x' (teams[0]) stage 'dev': ", the rest of the location) for an error location."""
    def name_at(collection: str, index: Any) -> str:
        items = document.get(collection)
        item = items[index] if isinstance(items, list) and isinstance(index, int) and index < len(items) else None
        name = item.get("name") if isinstance(item, dict) else None
        return f"{shorten(name)} " if isinstance(name, str) else ""

    if loc[:1] == ("teams",) and len(loc) >= 2:
        where = f"team {name_at('teams', loc[1])}(teams[{loc[1]}])"
        if loc[2:3] == ("environments",) and len(loc) >= 4:
            return f"{where} stage {shorten(loc[3])}: ", loc[4:]
        return f"{where}: ", loc[2:]
    if loc[:1] == ("shared_environments",) and len(loc) >= 2:
        return f"shared environment {name_at('shared_environments', loc[1])}(shared_environments[{loc[1]}]): ", loc[2:]
    if loc[:1] == ("stages",) and len(loc) >= 2:
        return f"stages.{loc[1]}: ", loc[2:]
    if loc[:1] == ("platform",) and loc[1:2] in (("network",), ("eks",)):
        return f"platform.{loc[1]}: ", loc[2:]
    if loc[:1] == ("platform",):
        return "platform: ", loc[1:]
    return "", loc


def _field(rest: tuple) -> str:
    text = ""
    for part in rest:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(loc: tuple) -> Optional[type[BaseModel]]:
    """The model whose fields are allowed at ``loc`` (for 'unknown key' messages)."""
    current: Any = Registry
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            info = current.model_fields.get(part)
            current = info.annotation if info is not None else None
        elif getattr(current, "__origin__", None) in (list, dict):
            current = current.__args__[-1]  # list[X] by index, dict[str, X] by key
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """X from Optional[X] or X | bool, preferring a model; containers as they are."""
    args = getattr(annotation, "__args__", None)
    if args is None or getattr(annotation, "__origin__", None) in (list, dict):
        return annotation
    models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
    others = [arg for arg in args if arg is not type(None)]
    return models[0] if models else (others[0] if len(others) == 1 else annotation)


#: The tags pydantic adds to a location inside a union (``secrets_backend: true`` or settings).
_UNION_TAGS = ("SecretsBackend", "WheelhouseSettings", "bool")
_GOT = re.compile(r"\bgot\b")
_TYPES = {"string_type": "a string", "int_type": "a whole number", "int_from_float": "a whole number",
          "float_type": "a number", "bool_type": "true or false", "dict_type": "a mapping", "list_type": "a list",
          "model_type": "a mapping", "model_attributes_type": "a mapping"}


def _plain(loc: Sequence[Any]) -> Loc:
    return tuple(part for part in loc if part not in _UNION_TAGS)


def _describe(error: Mapping[str, Any], document: Mapping[str, Any], source: _Source) -> list[tuple[Loc, str]]:
    """The registry's problems from one pydantic error, each with its location: where, the field, what is
    wrong, the value (shortened) and what is allowed."""
    loc = _plain(error["loc"])
    where, rest = _where(loc, document)
    field_name = _field(rest)
    value = error.get("input")
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = ", ".join(sorted(parent.model_fields)) if parent else "see docs/registry.md"
        container = _field(rest[:-1]) or {"": "the registry"}.get(where, "this entry")
        return [(loc, f"{where}unknown key {shorten(loc[-1])} in {container}; allowed: {allowed}")]
    if kind == "missing":
        return [(loc, f"{where}{field_name} is required")]
    if kind == "value_error":
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, Problems):
            return [((*loc, *sub), where + _named(message, rest)) for sub, message in cause.found]
        message = cause.message if isinstance(cause, MwaaPlatformError) else str(cause or error["msg"])
        named = _named(message, rest)
        # a check that names its own field shows the value its own way; a model's never gets a dump of the entry
        if named != message and not _GOT.search(message) and not isinstance(value, (dict, BaseModel)):
            named += f", got {shorten(value)}"
        return [(loc, where + named)]
    if kind in _TYPES or kind in ("literal_error", "string_pattern_mismatch", "int_parsing"):
        if not field_name:  # the entry itself: "stages.dev must be a mapping"
            where, field_name = "", where.rstrip(": ")
        if kind in _TYPES and any(part in _UNION_TAGS for part in error["loc"]):
            # one message for the union's members (pydantic reports each): they are the same mistake
            expected = "true, false or a mapping of its settings"
        elif kind in ("int_type", "int_parsing", "int_from_float") and rest and rest[-1] in CAPACITY_FIELDS:
            expected = _capacity_range(loc, document)
        elif kind == "string_type" and _is_account(rest):
            expected = "a 12-digit AWS account id in quotes"
        elif kind == "literal_error":  # pydantic: "'a', 'b' or 'c'"
            expected = "one of " + ", ".join(re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", "")))
        else:
            expected = _TYPES.get(kind, "")
        message = f"{field_name} must be {expected}" if expected else f"{field_name} {error['msg'][0].lower()}{error['msg'][1:]}"
        return [(loc, f"{where}{message}, got {_echo(value)}{_yaml_surprise(kind, value, source.text(loc), rest)}")]
    return [(loc, f"{where}{field_name}: {error['msg']}, got {_echo(value)}")]


def _named(message: str, rest: Loc) -> str:
    """``message`` with the path of its field in front: a check names its own field (``account must``),
    or is a model's (``needs exactly one of``) or a field's (``must be``) that names none."""
    if not rest:
        return message
    if message.startswith(str(rest[-1])):
        parent = _field(rest[:-1])
        return f"{parent} {message}" if parent and not message.startswith(parent) else message
    field_name = _field(rest)
    return message if field_name in message else f"{field_name} {message}"


def _echo(value: Any) -> str:
    """The value for a message: shortened, and a mapping only by its keys (never a whole entry)."""
    if isinstance(value, dict):
        return f"a mapping with {', '.join(map(str, list(value)[:6])) or 'no keys'}"
    return shorten(value)


def _is_account(rest: Loc) -> bool:
    return rest[-1:] == ("account",) or rest[-2:-1] == ("perimeter_accounts",)


def _capacity_range(loc: Loc, document: Mapping[str, Any]) -> str:
    """What a capacity field may be for its environment's class (the class's own, or mw1.small's)."""
    entry = _at(document, loc[:-1])
    name = entry.get("environment_class") if isinstance(entry, dict) else None
    env_class = ENVIRONMENT_CLASSES.get(name) if isinstance(name, str) else None
    return f"a whole number, {capacity_range(env_class or ENVIRONMENT_CLASSES['mw1.small'], str(loc[-1]))}"


def _yaml_surprise(kind: str, value: Any, source: Optional[str], rest: Loc) -> str:
    """Why YAML read the value as it did, and the fix."""
    written = source if source is not None else (str(value).lower() if isinstance(value, bool) else str(value))
    if isinstance(value, bool) and kind in ("int_type", "int_parsing", "float_type"):
        return f" (YAML reads {written} as a boolean, not a number)"
    if isinstance(value, str) and kind in ("int_type", "float_type") and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        return f" (quoted, YAML reads it as a string: write {value.strip()} without quotes)"
    if kind != "string_type":
        return ""
    if isinstance(value, bool):
        return f" (YAML reads {written} as a boolean; quote it: \"{written}\")"
    if isinstance(value, (int, float)):
        if _is_account(rest):
            digits = sum(character.isdigit() for character in written)
            if digits != 12:
                return (f" (YAML reads {written} as a number; an account id is exactly 12 digits, quoted, such as "
                        f"\"111122223333\", and this one has {digits})")
        if written != str(value):
            return f" (YAML reads {written} as the number {value}; quote it: \"{written}\")"
        return f" (YAML reads {written} as a number; quote it: \"{written}\")"
    return ""


# --- resolving: what spans entries ------------------------------------------------------------------


class _Resolver:
    def __init__(self, path: Path, registry: Registry, environ: Mapping[str, str], *, source: _Source,
                 accepted: _Accepted, problems: Sequence[Problem] = ()) -> None:
        self.single_stage_format = source.migrated
        self.path = path
        self.base = path.resolve().parent
        self.registry = registry
        self.environ = environ
        self.source = source
        self.accepted = accepted
        self.problems: list[Problem] = list(problems)
        self.warnings: list[str] = []
        #: (original index, entry): the messages name an entry by its place in the file
        self.teams = list(zip(accepted.teams, registry.teams))
        self.shared = list(zip(accepted.shared, registry.shared_environments))
        self.team_index = {team.name: index for index, team in self.teams}
        #: environment name -> where its entry is
        self.entry_locs: dict[str, Loc] = {}

    def platform(self) -> PlatformSettings:
        registry = self.registry
        stages = {name: self.stage(name, stage) for name, stage in registry.stages.items()}
        self.shared_zones(stages)
        self.unique_names()
        shared = {(env.name, env.stage): env for env in registry.shared_environments}
        environments: list[EnvironmentSpec] = []
        access: list[TeamAccessSpec] = []
        placements: dict[tuple[str, str], list[tuple[int, Team, TeamEnvironment]]] = {}
        serverless: list[ServerlessSpec] = []
        for index, team in self.teams:
            for stage_name, entry in team.environments.items():
                where = f"team {team.name!r} (teams[{index}]) stage {stage_name!r}: "
                at: Loc = ("teams", index, "environments", stage_name)
                stage = stages.get(stage_name)
                if stage is None:
                    if stage_name not in self.accepted.refused_stages:  # else its own problem says why
                        self.fail(where, f"stage {stage_name!r} is not declared in stages ({', '.join(stages)})", at)
                    continue
                if entry.serverless_workflows:
                    cost_tags = {**team.tags, **entry.tags, "team": team.name, "cost-center": team.cost_center,
                                 "stage": stage.name}
                    serverless.append(ServerlessSpec(
                        team=team.name, stage=stage, stack_name=f"{registry.platform.name}-{team.name}-{stage.name}"
                        + ("" if entry.serverless_only else "-serverless"),
                        workflows=self.serverless_workflows(where, at, entry.serverless_workflows),
                        cost_tags=cost_tags, at=at))
                if entry.serverless_only:
                    continue
                if entry.shared is not None:
                    if (entry.shared, stage_name) not in shared:
                        if entry.shared not in self.accepted.refused_shared_names:
                            names = sorted(name for name, on in shared if on == stage_name)
                            elsewhere = sorted(on for name, on in shared if name == entry.shared)
                            self.fail(where, f"shared {entry.shared!r} is not a shared environment of stage "
                                             f"{stage_name!r} (there: {', '.join(names) or 'none'})"
                                             + (f"; it is one of stage {', '.join(elsewhere)}" if elsewhere else ""),
                                      (*at, "shared"))
                        continue
                    placements.setdefault((entry.shared, stage_name), []).append((index, team, entry))
                    self.paths(where, at, dags=entry.dags)
                    continue
                self.entry_locs[f"{team.name}-{stage_name}"] = at
                environments.append(replace(
                    self.environment(where, at, team.name, stage, entry, team_tags=team.tags,
                                     cost_center=team.cost_center, dags=entry.dags),
                    alerts=team.alerts, budget_usd=_budget(team, stage_name),
                    cross_account=self.targets(index, team, stage, entry)))
                if entry.blue_green is not None and environments[-1].cross_account:
                    self.fail(where, "blue_green with cross_account is not supported yet: the target accounts' roles "
                                     "trust one execution role; migrate before adding cross_account, or after the "
                                     "cutover", (*at, "blue_green"))
        for index, shared_env in self.shared:
            where = f"shared environment {shared_env.name!r} (shared_environments[{index}]): "
            at = ("shared_environments", index)
            stage = stages.get(shared_env.stage)
            if stage is None:
                if shared_env.stage not in self.accepted.refused_stages:
                    self.fail(where, f"stage {shared_env.stage!r} is not declared in stages ({', '.join(stages)})",
                              (*at, "stage"))
                continue
            teams = placements.get((shared_env.name, shared_env.stage), [])
            dags = {team.name: os.path.normpath(self.base / entry.dags) for _, team, entry in teams
                    if entry.dags is not None}
            self.entry_locs[f"{shared_env.name}-{shared_env.stage}"] = at
            spec = replace(self.environment(where, at, shared_env.name, stage, shared_env, team_tags={},
                                            cost_center=shared_env.cost_center, dags=None, dag_folders=dags or None,
                                            shared_by=tuple(team.name for _, team, _ in teams)), alerts=shared_env.alerts)
            environments.append(spec)
            for team_index, team, entry in teams:
                if entry.web_access or entry.compute is not None or _budget(team, stage.name) is not None:
                    team_at: Loc = ("teams", team_index, "environments", stage.name)
                    team_where = f"team {team.name!r} (teams[{team_index}]) stage {stage.name!r}: "
                    cost_tags = {**team.tags, **entry.tags, "team": team.name, "cost-center": team.cost_center,
                                 "stage": stage.name}
                    self.tag_count(team_where, team_at, cost_tags)
                    access.append(TeamAccessSpec(
                        team=team.name, stage=stage, environment=spec,
                        stack_name=f"{registry.platform.name}-{team.name}-{stage.name}",
                        web_access=tuple(entry.web_access), cost_tags=cost_tags,
                        compute=self.compute(team_where, team_at, entry.compute) if entry.compute is not None else None,
                        alerts=team.alerts, budget_usd=_budget(team, stage.name),
                    ))
        self.secret_prefixes(environments)
        self.shared_classifications({key: [(team, entry) for _, team, entry in teams]
                                     for key, teams in placements.items()})
        self.pod_images(environments, access)
        self.unique_namespaces(environments, access)
        self.unique_compute_names(environments, access)
        self.budget_stages()
        self.cross_account_stages()
        self.serverless_quotas(serverless)
        approvals = self.approvals(registry, stages)
        if self.problems:
            raise RegistryError(self.path, self.problems)
        return PlatformSettings(
            name=registry.platform.name, tags=registry.platform.tags, network=registry.platform.network,
            stages=tuple(stages.values()), environments=tuple(environments), team_access=tuple(access),
            source=self.path, perimeter_accounts=tuple(registry.platform.network.perimeter_accounts),
            single_stage_format=self.single_stage_format, eks=registry.platform.eks, warnings=tuple(self.warnings),
            serverless=tuple(serverless), delivery=registry.delivery, approvals=approvals,
        )

    def targets(self, index: int, team: Team, stage: StageSettings, entry: TeamEnvironment) -> tuple[TargetRoleSpec, ...]:
        """The team's cross-account targets of ``stage``, checked against the central environment."""
        chosen = [(i, t) for i, t in enumerate(team.cross_account) if t.stage == stage.name]
        where = f"team {team.name!r} (teams[{index}]) "
        if chosen and entry.secrets_backend in (None, False):
            self.fail(where + f"stage {stage.name!r}: ", "cross_account connections are Secrets Manager secrets: set "
                      "secrets_backend: true on this environment", ("teams", index, "environments", stage.name))
        resolved, seen = [], set()
        for i, target in chosen:
            where_target = f"{where}cross_account[{i}] ({target.conn_id}): "
            at: Loc = ("teams", index, "cross_account", i)
            if target.conn_id in seen:
                self.fail(where_target, f"conn_id {target.conn_id!r} is used twice in stage {stage.name!r}",
                          (*at, "conn_id"))
            seen.add(target.conn_id)
            if target.account == stage.account and not target.allow_same_account:
                self.fail(where_target, f"account {target.account} is the central environment's own account; set "
                                        "allow_same_account: true if a role there is really wanted", (*at, "account"))
            known_region = True
            try:
                check_target_region("region", target.region)
            except MwaaPlatformError as error:
                known_region = False
                self.fail(where_target, error.message, (*at, "region"))
            backend = entry.secrets_backend
            pattern = backend.connections_lookup_pattern if isinstance(backend, SecretsBackend) else None
            if not lookup_pattern_admits(pattern, target.conn_id):
                self.fail(where_target, f"conn_id {target.conn_id!r} does not match "
                          f"secrets_backend.connections_lookup_pattern {pattern!r} of stage {stage.name!r}: Airflow "
                          "would never look the connection up and the DAG would run as the execution role; widen the "
                          "pattern (Airflow applies it with re.match, ignoring case) or rename the connection",
                          (*at, "conn_id"))
            unroutable = services_without_cross_region_endpoints(target.services)
            # an unknown Region has its own problem; a refused network, no NAT setting to go by
            if (known_region and self.accepted.network and target.region != stage.region and unroutable
                    and self.registry.platform.network.nat_gateways == 0 and target.route_reason is None):
                self.fail(where_target, f"{', '.join(unroutable)} in {target.region} cannot be reached privately from "
                          f"{stage.region}: the network has no NAT and {'these have' if len(unroutable) > 1 else 'it has'} "
                          "no cross-Region PrivateLink; use the target in "
                          f"{stage.region}, give the network NAT (platform.network.nat_gateways), or set route_reason "
                          "saying how the calls reach that Region (peering, Transit Gateway)", (*at, "region"))
            role_name = target.role_name or f"mwaa-{team.name}-{stage.name}-{target.conn_id}"
            if len(role_name) > 64:
                self.fail(where_target, f"the default role name {role_name} has {len(role_name)} characters (IAM "
                                        "allows 64); set role_name", (*at, "conn_id"))
            resolved.append(TargetRoleSpec(target=target, team=team.name, stage=stage, role_name=role_name,
                                           platform_name=self.registry.platform.name))
        return tuple(resolved)

    def cross_account_stages(self) -> None:
        for index, team in self.teams:
            for i, target in enumerate(team.cross_account):
                entry = team.environments.get(target.stage)
                if (index, target.stage) in self.accepted.refused_environments:
                    continue  # the environment's own problem comes first
                if entry is None or entry.shared is not None:
                    self.fail(f"team {team.name!r} (teams[{index}]) cross_account[{i}] ({target.conn_id}): ",
                              f"stage {target.stage!r} must be a stage where the team has its own environment "
                              f"({', '.join(s for s, e in team.environments.items() if e.shared is None) or 'none'}); "
                              "on a shared environment every team would share the role",
                              ("teams", index, "cross_account", i, "stage"))

    def budget_stages(self) -> None:
        for index, team in self.teams:
            for stage in (team.alerts.monthly_budget_usd if team.alerts else {}):
                if stage not in team.environments and (index, stage) not in self.accepted.refused_environments:
                    self.fail(f"team {team.name!r} (teams[{index}]): ", f"alerts.monthly_budget_usd names stage "
                              f"{stage!r}, where the team has no environment ({', '.join(team.environments)})",
                              ("teams", index, "alerts", "monthly_budget_usd", stage))

    def compute_at(self, team: str, stage: StageSettings) -> Loc:
        """Where the team's compute in ``stage`` is written."""
        return ("teams", self.team_index.get(team, -1), "environments", stage.name, "compute")

    def unique_namespaces(self, environments: Iterable[EnvironmentSpec], access: Iterable[TeamAccessSpec]) -> None:
        """One cluster per account and Region: two teams there may not claim one namespace."""
        owners: dict[tuple[str, str, str], tuple[str, str]] = {}
        for team, stage, pods in _pods(environments, access):
            namespace = pods.namespace or team
            key = (stage.account, stage.region, namespace)
            if key in owners:
                other_team, other_stage = owners[key]
                self.fail(f"team {team!r} stage {stage.name!r}: ", f"compute.eks.namespace {namespace!r} is already "
                          f"used by team {other_team!r} in stage {other_stage!r} on the same cluster (account "
                          f"{stage.account}, {stage.region}); set another namespace, e.g. {team}-{stage.name}",
                          (*self.compute_at(team, stage), "eks", "namespace"))
            owners.setdefault(key, (team, stage.name))

    def unique_compute_names(self, environments: Iterable[EnvironmentSpec], access: Iterable[TeamAccessSpec]) -> None:
        """ECS task families (and their launchers' state machine names) and Batch job definition names are
        account- and Region-wide: two stacks registering one family would share its revisions, so one
        stage's DAGs could run the other's task with the other's role."""
        owners: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        for team, stage, compute in _computes(environments, access):
            names = [("compute.ecs_tasks", "family", index, task.family) for index, task in enumerate(compute.ecs_tasks)]
            names += [("compute.batch_jobs", "name", index, job.name) for index, job in enumerate(compute.batch_jobs)]
            for field_name, kind, index, name in names:
                key = (stage.account, stage.region, field_name, name)
                if key in owners:
                    other_team, other_stage = owners[key]
                    self.fail(f"team {team!r} stage {stage.name!r}: ", f"{field_name} {kind} {name!r} is already used "
                              f"by team {other_team!r} in stage {other_stage!r} in the same account and Region "
                              f"({stage.account}, {stage.region}); names there are shared, so each stage needs its "
                              f"own, e.g. {name}-{stage.name}",
                              (*self.compute_at(team, stage), field_name.split(".")[1], index, kind))
                owners.setdefault(key, (team, stage.name))
        # a node group pulls the repositories its team names: one repository named by two teams would let
        # each team's pods run the other's images
        pullers: dict[tuple[str, str, str], str] = {}
        for team, stage, pods in _pods(environments, access):
            for index, repository in enumerate(pods.image_repositories):
                other = pullers.setdefault((stage.account, stage.region, repository), team)
                if other != team:
                    self.fail(f"team {team!r} stage {stage.name!r}: ", f"compute.eks.image_repositories repository "
                              f"{repository!r} is already named by team {other!r} in the same account and Region "
                              f"({stage.account}, {stage.region}); a team's nodes pull only its own repositories, so "
                              "give each team its own", (*self.compute_at(team, stage), "eks", "image_repositories", index))

    def shared_classifications(self, placements: Mapping[tuple[str, str], list[tuple[Team, TeamEnvironment]]]) -> None:
        """Teams on one environment read each other's connections, variables, DAG code and task logs
        (docs/security-review.md, "Teams sharing one environment"): say so where their data
        classifications (tag ``data-classification``) differ."""
        for (name, stage), teams in placements.items():
            classes = {team.name: {**team.tags, **entry.tags}.get(CLASSIFICATION_TAG, "unclassified")
                       for team, entry in teams}
            if len(set(classes.values())) > 1:
                listed = ", ".join(f"{team} ({value})" for team, value in sorted(classes.items()))
                self.warnings.append(
                    f"shared environment {name!r} stage {stage!r}: teams of different {CLASSIFICATION_TAG} share it: "
                    f"{listed}. Each can read the others' connections, variables, DAG code and task logs and run "
                    "their tasks; give the more sensitive team its own environment (docs/security-review.md)")

    def pod_images(self, environments: Iterable[EnvironmentSpec], access: Iterable[TeamAccessSpec]) -> None:
        """Nodes pull only the repositories a team names of its own account: say so where it names none."""
        for team, stage, pods in _pods(environments, access):
            if not pods.image_repositories:
                self.warnings.append(
                    f"team {team!r} stage {stage.name!r}: compute.eks names no image_repositories, so its nodes pull "
                    "from none of the account's own ECR repositories (other accounts' images only); list the "
                    "repositories its pods run from")

    def fail(self, where: str, message: str, at: Loc = ()) -> None:
        """Report a problem on the line of ``at`` (or of its nearest written ancestor)."""
        self.problems.append((self.source.line(at), f"{where}{message}"))

    def stage(self, name: str, stage: Stage) -> StageSettings:
        where, at = f"stages.{name}: ", ("stages", name)
        account = stage.account or self.environ.get("CDK_DEPLOY_ACCOUNT", DEFAULT_ACCOUNT)
        region = stage.region or self.environ.get("CDK_DEPLOY_REGION", DEFAULT_REGION)
        if not (len(account) == 12 and account.isdigit()):
            self.fail(where, f"account must be a 12-digit AWS account id, got {shorten(account)}"
                             + ("" if stage.account else " (from CDK_DEPLOY_ACCOUNT)"), (*at, "account"))
        regions = mwaa_regions()
        try:
            check_mwaa_region("region", region)
        except MwaaPlatformError as error:
            self.fail(where, error.message + ("" if stage.region else " (from CDK_DEPLOY_REGION)"), (*at, "region"))
        zones = tuple(stage.availability_zones) if stage.availability_zones else None
        # a zone is its Region's name and one letter (the schema checks the letter); with an unknown Region,
        # the Region's own problem is the one to fix
        elsewhere = [index for index, zone in enumerate(zones or ()) if zone[:-1] != region]
        if elsewhere and region in regions:
            self.fail(where, f"availability_zones must be zones of {region} (the stage's Region: {region} and one letter "
                             f"{ZONE_LETTERS[0]}-{ZONE_LETTERS[-1]}, such as {region}a), got "
                             f"{shorten([zones[index] for index in elsewhere] if zones else [])}",
                      (*at, "availability_zones", elsewhere[0]))
        production = stage.production if stage.production is not None else name == "prod"
        return StageSettings(name=name, account=account, region=region, availability_zones=zones, production=production)

    def shared_zones(self, stages: Mapping[str, StageSettings]) -> None:
        """The network is one per account and Region: the stages deploying there must agree on its zones."""
        first: dict[tuple[str, str], StageSettings] = {}
        for stage in stages.values():
            other = first.setdefault((stage.account, stage.region), stage)
            if other is not stage and other.availability_zones != stage.availability_zones:
                def zones(of: StageSettings) -> str:
                    return shorten(list(of.availability_zones)) if of.availability_zones else "none (cdk.json's context)"
                self.fail(f"stages.{stage.name}: ", f"availability_zones must be those of stage {other.name!r}, which "
                          f"deploys to the same account and Region ({stage.account}, {stage.region}) and so to the same "
                          f"network: {zones(other)}, got {zones(stage)}", ("stages", stage.name, "availability_zones"))

    def unique_names(self) -> None:
        seen: dict[str, str] = {}
        for index, team in self.teams:
            self.claim(seen, team.name, f"team {team.name!r} (teams[{index}]): ", f"teams[{index}]",
                       ("teams", index, "name"))
        for index, env in self.shared:
            self.claim(seen, env.name, f"shared environment {env.name!r} (shared_environments[{index}]): ",
                       f"shared_environments[{index}]", ("shared_environments", index, "name"))

    def claim(self, seen: dict[str, str], name: str, where: str, label: str, at: Loc) -> None:
        if name in seen:
            self.fail(where, f"name {name!r} is already used by {seen[name]}; team and shared environment names "
                             "must be unique", at)
        else:
            seen[name] = label

    def resolve(self, value: Optional[str]) -> Optional[str]:
        return None if value is None else os.path.normpath(self.base / value)

    def paths(self, where: str, at: Loc, **paths: Optional[str]) -> dict[str, Optional[str]]:
        resolved = {key: self.resolve(value) for key, value in paths.items()}
        try:
            check_artifact_paths(**{"dags": None, "requirements": None, "plugins": None, "startup_script": None,
                                    **resolved})
        except MwaaPlatformError as error:
            # the check names its field first
            self.fail(where, error.message, (*at, error.message.split(" ", 1)[0]))
        return resolved

    def tag_count(self, where: str, at: Loc, cost_tags: Mapping[str, str]) -> None:
        tags = {**self.registry.platform.tags, **cost_tags}
        if len(tags) > TAGS_PER_RESOURCE_MAX:
            self.fail(where, f"tags: its resources would carry {len(tags)} tags (the platform's, the team's, the "
                             f"environment's and team, cost-center, stage); AWS allows {TAGS_PER_RESOURCE_MAX} per "
                             "resource", (*at, "tags"))

    def environment(
        self, where: str, at: Loc, name: str, stage: StageSettings, entry: EnvironmentSettings, *,
        team_tags: Mapping[str, str], cost_center: str, dags: Optional[str], dag_folders: Optional[Mapping[str, str]] = None,
        shared_by: tuple[str, ...] = (),
    ) -> EnvironmentSpec:
        stage_identity = f"{name}-{stage.name}"
        own_name = getattr(entry, "environment_name", None)
        environment_name = own_name or stage_identity
        try:
            check_environment_name(environment_name)
        except MwaaPlatformError as error:
            self.fail(where, error.message, (*at, "environment_name") if own_name else at)
        if entry.deployed_version not in (None, "lookup"):
            try:
                check_upgrade(entry.deployed_version, entry.airflow_version or default_airflow_version())
            except MwaaPlatformError as error:
                self.fail(where, error.message, (*at, "airflow_version"))
        blue_green = getattr(entry, "blue_green", None)
        if blue_green is not None:
            self.blue_green(where, (*at, "blue_green"), blue_green, environment_name, dags)
        paths = self.paths(where, at, dags=dags, requirements=entry.requirements, plugins=entry.plugins,
                           startup_script=entry.startup_script)
        # bound to the team and stage, not the environment's name: both environments of a blue/green migration,
        # and the one left after its cutover, read the same connections and variables
        backend = self.secrets_backend(where, at, entry.secrets_backend, stage_identity, entry)
        update: dict[str, Any] = {"requirements": paths["requirements"], "plugins": paths["plugins"],
                                  "startup_script": paths["startup_script"],
                                  "wheelhouse": self.wheelhouse(where, at, entry.wheelhouse)}
        if getattr(entry, "dags", None) is not None:
            update["dags"] = paths["dags"]  # resolved like every other path: settings hold no path relative to the file
        if isinstance(entry, TeamEnvironment) and entry.compute is not None:
            update["compute"] = self.compute(where, at, entry.compute)
        resolved_entry = entry.model_copy(update=update)
        self.requirements(where, at, resolved_entry)
        cost_tags = {**team_tags, **entry.tags, "team": name, "cost-center": cost_center, "stage": stage.name}
        self.tag_count(where, at, cost_tags)
        return EnvironmentSpec(
            name=name, stage=stage, environment_name=environment_name,
            stack_name=f"{self.registry.platform.name}-{name}-{stage.name}", settings=resolved_entry,
            cost_tags=cost_tags, dags=dag_folders if dag_folders is not None else paths["dags"],
            web_access=tuple(entry.web_access), secrets_backend=backend, shared_by=shared_by,
            shared=isinstance(entry, SharedEnvironment),
        )

    def compute(self, where: str, at: Loc, compute: Compute) -> Compute:
        """Image folders made absolute and checked."""
        def image(item: Any, item_at: Loc) -> Any:
            if item.image.directory is None:
                return item
            folder = self.resolve(item.image.directory)
            if folder is None or not os.path.isdir(folder):
                self.fail(where, f"compute image directory must be an existing folder, got {shorten(folder)}",
                          (*item_at, "image", "directory"))
            return item.model_copy(update={"image": item.image.model_copy(update={"directory": folder})})
        return compute.model_copy(update={
            "ecs_tasks": [image(task, (*at, "compute", "ecs_tasks", i)) for i, task in enumerate(compute.ecs_tasks)],
            "batch_jobs": [image(job, (*at, "compute", "batch_jobs", i)) for i, job in enumerate(compute.batch_jobs)]})

    def wheelhouse(self, where: str, at: Loc, value: Union[None, bool, WheelhouseSettings]) -> Union[None, bool, WheelhouseSettings]:
        if not isinstance(value, WheelhouseSettings):
            return value
        paths = {key: self.resolve(getattr(value, key)) for key in ("find_links", "constraints")}
        for key, path in paths.items():
            if path is not None and not os.path.exists(path):
                self.fail(where, f"wheelhouse.{key} must exist, got {shorten(path)}", (*at, "wheelhouse", key))
        return value.model_copy(update=paths)

    def serverless_workflows(self, where: str, at: Loc, workflows: Sequence[Any]) -> tuple[tuple[str, Any], ...]:
        """Each workflow with its name and its files resolved and checked, as ``ServerlessWorkflow`` checks them."""
        resolved = []
        for index, workflow in enumerate(workflows):
            item_at: Loc = (*at, "serverless_workflows", index)
            definition, code = self.resolve(workflow.definition), self.resolve(workflow.code_package)
            try:
                loaded = load_definition(definition or "", code_package=code is not None)
                if code is not None:
                    check_code_package(code)
            except MwaaPlatformError as error:
                self.fail(where, f"serverless_workflows[{index}]: {error.message}", item_at)
                continue
            resolved.append((workflow.workflow_name or loaded.name,
                             workflow.model_copy(update={"definition": definition, "code_package": code})))
        return tuple(resolved)

    def approvals(self, registry: Registry, stages: Mapping[str, StageSettings]) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Team -> (the approving team, its approvers' role ARNs) for teams whose production changes another
        team approves (``approved_by``): that team exists, is another team, and names approvers; the team
        deploys its own environment (or serverless workflows) in production, where the gate goes."""
        teams = {team.name: team for team in registry.teams}
        approvals: dict[str, tuple[str, tuple[str, ...]]] = {}
        for index, team in enumerate(registry.teams):
            if team.approved_by is None:
                continue
            where, at = f"team {team.name!r} (teams[{index}]): ", ("teams", index, "approved_by")
            other = teams.get(team.approved_by)
            if registry.delivery is None:
                self.fail(where, "approved_by applies to the delivery pipeline's production gates: declare delivery "
                                 "(docs/delivery.md), or drop approved_by", at)
            elif team.approved_by == team.name:
                self.fail(where, f"approved_by names the team itself ({team.name!r}): four eyes means another team's "
                                 "approvers", at)
            elif other is None:
                self.fail(where, f"approved_by must name another team of the registry, got {shorten(team.approved_by)}; "
                                 f"teams: {', '.join(sorted(teams))}", at)
            elif not other.approvers:
                self.fail(where, f"approved_by names team {other.name!r}, which lists no approvers: add its members' "
                                 "role ARNs to its approvers", at)
            elif shared := [name for name, entry in team.environments.items()
                            if entry.shared is not None and name in stages and stages[name].production]:
                self.fail(where, f"approved_by gates a team's own production deployment, but in {', '.join(shared)} "
                                 "the team is on a shared environment, which deploys for all its teams at once: "
                                 "drop approved_by, or give the team its own environment there", at)
            else:
                approvals[team.name] = (other.name, tuple(other.approvers))
        return approvals

    def serverless_quotas(self, serverless: Sequence[ServerlessSpec]) -> None:
        """Workflow names are unique in an account and Region, and an account holds at most its quota of them."""
        by_place: dict[tuple[str, str], list[tuple[str, int, ServerlessSpec]]] = {}
        for spec in serverless:
            for index, (name, _) in enumerate(spec.workflows):
                by_place.setdefault((spec.stage.account, spec.stage.region), []).append((name, index, spec))
        quota = WORKFLOW_QUOTAS["workflows per account"]
        for (account, region), named in by_place.items():
            seen: dict[str, ServerlessSpec] = {}
            for name, index, spec in named:
                if name in seen:
                    self.fail(f"team {spec.team!r} stage {spec.stage.name!r}: ", (
                        f"serverless workflow {name} is also a workflow of team {seen[name].team!r} in stage "
                        f"{seen[name].stage.name!r}, in the same account {account} and Region {region}: names are "
                        "unique there; set workflow_name"), (*spec.at, "serverless_workflows", index))
                seen.setdefault(name, spec)
            if len(named) > quota:
                self.fail("serverless_workflows: ", (
                    f"account {account} in {region} would hold {len(named)} MWAA Serverless workflows across teams; "
                    f"the quota is {quota} per account (mwaa-serverless-quotas): ask for a raise first, or spread "
                    "the stages over accounts"))

    def blue_green(self, where: str, at: Loc, green: Any, current_name: str, dags: Optional[str]) -> None:
        """The second environment of a blue/green migration: its own name, DAG patterns that match files."""
        try:
            check_environment_name(green.environment_name)
        except MwaaPlatformError as error:
            self.fail(where, error.message, (*at, "environment_name"))
        if green.environment_name == current_name:
            self.fail(where, f"blue_green.environment_name must differ from the current environment's, got "
                             f"{shorten(green.environment_name)}; at cutover set environment_name to it and drop "
                             "blue_green", (*at, "environment_name"))
        folder = self.resolve(dags) if dags is not None else None
        for index, pattern in enumerate(green.dags):
            if folder is None or not os.path.isdir(folder):
                self.fail(where, "blue_green.dags selects DAG files of the team's dags folder, which is not set",
                          (*at, "dags", index))
            elif pattern.startswith(("/", "..")) or not any(Path(folder).glob(pattern)):
                self.fail(where, f"blue_green.dags[{index}] must be a glob pattern matching files of {shorten(folder)}, "
                                 f"got {shorten(pattern)}", (*at, "dags", index))

    def secrets_backend(self, where: str, at: Loc, value: Union[None, bool, SecretsBackend], environment_name: str,
                        entry: EnvironmentSettings) -> Optional[SecretsManagerBackend]:
        if value is None or value is False:
            return None
        try:
            backend = (SecretsManagerBackend() if value is True else SecretsManagerBackend(**value.model_dump())
                       ).for_environment(environment_name)
            configuration = AirflowConfiguration(entry.airflow_configuration_options)
            configuration.update(backend.for_environment(environment_name).options(), source="secrets_backend")
        except MwaaPlatformError as error:
            self.fail(where, error.message, (*at, "secrets_backend"))
            return None
        return backend

    def requirements(self, where: str, at: Loc, entry: EnvironmentSettings) -> None:
        if entry.requirements is None or not os.path.isfile(entry.requirements) or not self.accepted.network:
            return
        internet = self.registry.platform.network.nat_gateways > 0
        # a wheelhouse is downloaded by the synthesizing machine: the environment itself needs no internet
        wheelhouse = entry.package_index is not None or (entry.wheelhouse is not False and (
            entry.wheelhouse is not None or (not internet and needs_packages(entry.requirements))))
        try:
            check_requirements(entry.requirements, airflow_version=entry.airflow_version or default_airflow_version(),
                               internet=internet or wheelhouse)
        except MwaaPlatformError as error:
            self.fail(where, error.message, (*at, "requirements"))

    def secret_prefixes(self, environments: Iterable[EnvironmentSpec]) -> None:
        claimed: dict[tuple[str, str, str], str] = {}
        for env in environments:
            if env.secrets_backend is None:
                continue
            for prefix in env.secrets_backend.for_environment(env.environment_name).prefixes:
                key = (env.stage.account, env.stage.region, prefix)
                if key in claimed and claimed[key] != env.environment_name:
                    self.fail(f"environment {env.environment_name!r}: ",
                              f"secrets prefix {prefix!r} is also read by environment {claimed[key]!r} in the same "
                              "account and Region; give each environment its own prefix",
                              (*self.entry_locs.get(env.environment_name, ()), "secrets_backend"))
                claimed.setdefault(key, env.environment_name)
