"""The team registry (platform.yaml): load it, validate all of it, then hand typed settings to the stacks.

Nothing is built from a registry with an error in it. Every error names the file, the team and
the field, the bad value and what is allowed, e.g.::

    platform.yaml: team 'payments' (teams[1]): max_workers must be between 1 and 1 for mw1.micro, got 3
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, cast

import yaml
from aws_cdk import aws_logs as logs

from mwaa_platform import SecretsManagerBackend
from mwaa_platform.environment import AirflowRole
from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform.validation import (
    AIRFLOW_ROLES,
    NAT_GATEWAY_CHOICES,
    check_account_ids,
    check_artifact_paths,
    check_cidr,
    check_domains,
    check_endpoint_sets,
    check_environment_name,
    check_maintenance_window,
    check_policy_name,
    check_principal_arns,
    check_web_ingress,
    default_airflow_version,
    lookup_environment_class,
    parse_airflow_version,
    resolve_capacity,
)

#: Used when neither the registry nor CDK_DEPLOY_ACCOUNT / CDK_DEPLOY_REGION name one: synthesis
#: needs no credentials. Deploying needs the real account (see README.md).
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "eu-west-1"
STAGES = ("dev", "prod")
#: Registry keys reserved for constructs that have not landed yet; a value fails loudly.
NOT_YET_SUPPORTED = ("alerts", "compute", "cross_account")
#: Capacity overrides, passed through to AirflowEnvironment by name.
CAPACITY_FIELDS = ("schedulers", "min_workers", "max_workers", "min_webservers", "max_webservers")

#: Platform and team names: they become stack names, tags and parts of environment names.
_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_NAME_MAX = 40
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                       3288, 3653)


def retention(days: int) -> logs.RetentionDays:
    """The CDK enum member for a CloudWatch Logs retention in days (members are in ascending order)."""
    members = [member for member in logs.RetentionDays if member.name != "INFINITE"]
    assert len(members) == len(_LOG_RETENTION_DAYS), "aws-cdk-lib changed RetentionDays; update _LOG_RETENTION_DAYS"
    return dict(zip(_LOG_RETENTION_DAYS, members))[days]


class RegistryError(ValueError):
    """The registry file is invalid; the message says where and why."""


@dataclass(frozen=True)
class NetworkSettings:
    cidr: str = "10.0.0.0/16"
    nat_gateways: int = 0
    endpoint_sets: tuple[str, ...] = ()
    endpoint_policies: bool = True
    data_perimeter: bool = True
    perimeter_accounts: tuple[str, ...] = ()
    network_acls: bool = False
    dns_firewall: bool = False
    dns_allowed_domains: tuple[str, ...] = ()
    flow_logs_retention_days: int = 365


@dataclass(frozen=True)
class WebAccess:
    """A web-login grant: to a plain IAM role by name, or as a named policy for Identity Center."""

    airflow_role: AirflowRole
    role_name: Optional[str] = None
    policy_name: Optional[str] = None


@dataclass(frozen=True)
class WebIngress:
    """A network path to the private web server: exactly one of the three peers."""

    description: Optional[str] = None
    security_group_id: Optional[str] = None
    prefix_list_id: Optional[str] = None
    cidr: Optional[str] = None


@dataclass(frozen=True)
class TeamSettings:
    name: str
    stage: str
    cost_center: str
    environment_class: str
    airflow_version: str
    environment_name: str
    stack_name: str
    schedulers: Optional[int] = None
    min_workers: Optional[int] = None
    max_workers: Optional[int] = None
    min_webservers: Optional[int] = None
    max_webservers: Optional[int] = None
    weekly_maintenance_window_start: Optional[str] = None
    dags: Optional[str] = None
    requirements: Optional[str] = None
    plugins: Optional[str] = None
    startup_script: Optional[str] = None
    web_access: tuple[WebAccess, ...] = ()
    secrets_backend: Optional[SecretsManagerBackend] = None
    airflow_configuration_options: Mapping[str, str] = field(default_factory=dict)
    log_retention_days: int = 90
    tags: Mapping[str, str] = field(default_factory=dict)
    artifact_writers: tuple[str, ...] = ()
    web_ingress: tuple[WebIngress, ...] = ()

    @property
    def cost_tags(self) -> dict[str, str]:
        """Tags on every taggable resource of the team's stack, for cost attribution."""
        return {**self.tags, "team": self.name, "cost-center": self.cost_center, "stage": self.stage}


@dataclass(frozen=True)
class PlatformSettings:
    name: str
    account: str
    region: str
    #: The zones of account/region, so synthesis needs no lookup; None: cdk.json's context names them.
    availability_zones: Optional[tuple[str, ...]]
    network: NetworkSettings
    tags: Mapping[str, str]
    teams: tuple[TeamSettings, ...]
    source: Path

    @property
    def availability_zones_context_key(self) -> str:
        """The context key CDK reads the zones of the platform's account and Region from."""
        return f"availability-zones:account={self.account}:region={self.region}"

    @property
    def network_stack_name(self) -> str:
        return f"{self.name}-network"

    @property
    def parameter_prefix(self) -> str:
        return f"/{self.name}/network"

    @property
    def endpoint_sets(self) -> tuple[str, ...]:
        """The configured sets plus what the teams use (the Secrets Manager backend)."""
        sets = list(self.network.endpoint_sets)
        if any(team.secrets_backend is not None for team in self.teams):
            sets.append("secretsmanager")
        return tuple(dict.fromkeys(sets))


# --- loading -------------------------------------------------------------------------------------


def load_registry(path: str | os.PathLike[str], environ: Mapping[str, str] = os.environ) -> PlatformSettings:
    """Read and validate the registry at ``path``; raise ``RegistryError`` on the first problem."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RegistryError(f"{path}: registry file not found") from None
    except yaml.YAMLError as error:
        raise RegistryError(f"{path}: not valid YAML: {error}") from None
    return _Reader(path).platform(document, environ)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.resolve().parent

    def fail(self, where: str, message: str) -> RegistryError:
        return RegistryError(f"{self.path}: {where}{message}")

    # --- platform level -----------------------------------------------------------------------

    def platform(self, document: Any, environ: Mapping[str, str]) -> PlatformSettings:
        top = self.mapping("", "the registry", document, {"platform", "teams"})
        settings = self.mapping("", "platform", top.get("platform", {}),
                                {"name", "account", "region", "availability_zones", "network", "tags"})
        where = "platform: "
        name = self.name(where, settings.get("name", "mwaa-platform"))
        account = self.string(where, "account", settings.get("account", environ.get("CDK_DEPLOY_ACCOUNT", DEFAULT_ACCOUNT)))
        if not _ACCOUNT.match(account):
            raise self.fail(where, f"account must be a 12-digit AWS account id, got {account!r}")
        region = self.string(where, "region", settings.get("region", environ.get("CDK_DEPLOY_REGION", DEFAULT_REGION)))
        if not _REGION.match(region):
            raise self.fail(where, f"region must be an AWS region name like eu-west-1, got {region!r}")
        zones = self.availability_zones(where, region, settings.get("availability_zones"))
        network = self.network(settings.get("network", {}))
        tags = self.tags(where, settings.get("tags", {}))

        entries = top.get("teams")
        if not isinstance(entries, list) or not entries:
            raise self.fail("", f"teams must be a non-empty list of team entries, got {entries!r}")
        teams: list[TeamSettings] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            team = self.team(index, entry, name)
            if team.name in seen:
                raise self.fail(self.team_where(index, team.name),
                                f"name {team.name!r} is already used by teams[{seen[team.name]}]; team names must be unique")
            seen[team.name] = index
            teams.append(team)
        return PlatformSettings(name=name, account=account, region=region, availability_zones=zones, network=network,
                                tags=tags, teams=tuple(teams), source=self.path)

    def availability_zones(self, where: str, region: str, value: Any) -> Optional[tuple[str, ...]]:
        """Two or more distinct zone names of ``region``, or None (then context must name them)."""
        if value is None:
            return None
        if not isinstance(value, list) or len(value) < 2 or len(set(map(str, value))) != len(value):
            raise self.fail(where, f"availability_zones must list at least two different zones of {region}, "
                                   f"got {shorten(value)}")
        for zone in value:
            if not isinstance(zone, str) or not re.fullmatch(re.escape(region) + r"[a-z]", zone):
                raise self.fail(where, f"availability_zones entries must be zone names of {region} such as "
                                       f"{region}a, got {shorten(zone)}")
        return tuple(value)

    def network(self, value: Any) -> NetworkSettings:
        where = "platform.network: "
        keys = set(NetworkSettings.__dataclass_fields__)
        settings = self.mapping("", "platform.network", value, keys)
        defaults = NetworkSettings()
        nat = self.integer(where, "nat_gateways", settings.get("nat_gateways", defaults.nat_gateways),
                           choices=NAT_GATEWAY_CHOICES)
        sets = settings.get("endpoint_sets", [])
        if not isinstance(sets, list):
            raise self.fail(where, f"endpoint_sets must be a list, got {sets!r}")
        retention = self.integer(where, "flow_logs_retention_days",
                                 settings.get("flow_logs_retention_days", defaults.flow_logs_retention_days),
                                 choices=_LOG_RETENTION_DAYS)
        cidr = self.string(where, "cidr", settings.get("cidr", defaults.cidr))
        with self.library_errors(where):
            check_cidr(cidr)
            sets = check_endpoint_sets(sets)
            accounts = tuple(check_account_ids("perimeter_accounts", settings.get("perimeter_accounts", [])))
            domains = tuple(check_domains("dns_allowed_domains", settings.get("dns_allowed_domains", [])))
        firewall = self.boolean(where, "dns_firewall", settings.get("dns_firewall", False))
        if domains and not firewall:
            raise self.fail(where, "dns_allowed_domains applies to the DNS firewall: set dns_firewall: true as well")
        return NetworkSettings(
            cidr=cidr,
            nat_gateways=nat,
            endpoint_sets=sets,
            endpoint_policies=self.boolean(where, "endpoint_policies", settings.get("endpoint_policies", True)),
            data_perimeter=self.boolean(where, "data_perimeter", settings.get("data_perimeter", True)),
            perimeter_accounts=accounts,
            network_acls=self.boolean(where, "network_acls", settings.get("network_acls", False)),
            dns_firewall=firewall,
            dns_allowed_domains=domains,
            flow_logs_retention_days=retention,
        )

    # --- team level -----------------------------------------------------------------------------

    def team_where(self, index: int, name: Any) -> str:
        return f"team {name!r} (teams[{index}]): " if isinstance(name, str) else f"teams[{index}]: "

    def team(self, index: int, entry: Any, platform_name: str) -> TeamSettings:
        keys = {"name", "stage", "cost_center", "environment_class", "airflow_version", *CAPACITY_FIELDS,
                "weekly_maintenance_window_start", "dags",
                "requirements", "plugins", "startup_script", "web_access", "secrets_backend",
                "airflow_configuration_options", "log_retention_days", "tags", "artifact_writers", "web_ingress",
                *NOT_YET_SUPPORTED}
        where = self.team_where(index, entry.get("name") if isinstance(entry, dict) else None)
        entry = self.mapping(where, "team entry", entry, keys)
        name = self.name(where, entry.get("name"))
        for key in NOT_YET_SUPPORTED:
            if entry.get(key):
                raise self.fail(where, f"{key} is not yet supported by this version of mwaa-platform; remove it "
                                       "(it is reserved so that it is never silently ignored)")
        stage = self.string(where, "stage", entry.get("stage", "dev"))
        if stage not in STAGES:
            raise self.fail(where, f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        environment_name = f"{name}-{stage}"
        cost_center = self.string(where, "cost_center", entry.get("cost_center"))
        counts = {
            key: self.integer(where, key, entry[key]) if key in entry else None
            for key in CAPACITY_FIELDS
        }
        version = self.string(where, "airflow_version", entry.get("airflow_version", default_airflow_version()))
        class_name = self.string(where, "environment_class", entry.get("environment_class", "mw1.small"))
        paths = {key: self.path_field(where, key, entry.get(key))
                 for key in ("dags", "requirements", "plugins", "startup_script")}
        secrets = entry.get("secrets_backend")
        options = self.mapping(where, "airflow_configuration_options", entry.get("airflow_configuration_options", {}), None)
        with self.library_errors(where):
            check_environment_name(environment_name)
            parse_airflow_version(version)
            resolve_capacity(lookup_environment_class(class_name), **counts)
            check_artifact_paths(**paths)
            window = entry.get("weekly_maintenance_window_start")
            check_maintenance_window(window)
            writers = tuple(check_principal_arns("artifact_writers", entry.get("artifact_writers", [])))
            backend = self.secrets_backend(where, secrets)
        return TeamSettings(
            name=name,
            stage=stage,
            cost_center=cost_center,
            environment_class=class_name,
            airflow_version=version,
            environment_name=environment_name,
            stack_name=f"{platform_name}-{name}-{stage}",
            weekly_maintenance_window_start=window,
            web_access=self.web_access(where, entry.get("web_access", [])),
            web_ingress=self.web_ingress(where, entry.get("web_ingress", [])),
            secrets_backend=backend,
            airflow_configuration_options={str(k): self.string(where, f"airflow_configuration_options.{k}", v)
                                           for k, v in options.items()},
            artifact_writers=writers,
            log_retention_days=self.integer(where, "log_retention_days", entry.get("log_retention_days", 90),
                                            choices=_LOG_RETENTION_DAYS),
            tags=self.tags(where, entry.get("tags", {})),
            schedulers=counts["schedulers"],
            min_workers=counts["min_workers"],
            max_workers=counts["max_workers"],
            min_webservers=counts["min_webservers"],
            max_webservers=counts["max_webservers"],
            dags=paths["dags"],
            requirements=paths["requirements"],
            plugins=paths["plugins"],
            startup_script=paths["startup_script"],
        )

    def secrets_backend(self, where: str, value: Any) -> Optional[SecretsManagerBackend]:
        if value is None or value is False:
            return None
        if value is True:
            return SecretsManagerBackend()
        # the key is a construct, given in code; the registry names prefixes and patterns only
        fields = set(SecretsManagerBackend.__dataclass_fields__) - {"key"}
        return SecretsManagerBackend(**self.mapping(where, "secrets_backend", value, fields))

    def web_access(self, where: str, value: Any) -> tuple[WebAccess, ...]:
        if not isinstance(value, list):
            raise self.fail(where, f"web_access must be a list of {{role_name or policy_name, airflow_role}}, "
                                   f"got {shorten(value)}")
        grants = []
        for index, item in enumerate(value):
            field = f"web_access[{index}]"
            item = self.mapping(where, field, item, {"role_name", "policy_name", "airflow_role"})
            if ("role_name" in item) == ("policy_name" in item):
                raise self.fail(where, f"{field} needs exactly one of role_name (a plain IAM role to attach to) or "
                                       "policy_name (a policy an IAM Identity Center permission set references), got "
                                       f"{shorten(sorted(item))}")
            role = self.string(where, f"{field}.airflow_role", item.get("airflow_role", "Viewer"))
            if role not in AIRFLOW_ROLES:
                raise self.fail(where, f"{field}.airflow_role must be one of {', '.join(AIRFLOW_ROLES)}, got {shorten(role)}")
            if "role_name" in item:
                name = self.string(where, f"{field}.role_name", item["role_name"])
                if not _ROLE_NAME.match(name):
                    raise self.fail(where, f"{field}.role_name must be the name of an IAM role in the platform account "
                                           f"(1-64 letters, digits and +=,.@_-; no path or ARN), got {shorten(name)}")
                if name.startswith("AWSReservedSSO_"):
                    raise self.fail(where, f"{field}.role_name {shorten(name)} is an IAM Identity Center role, which IAM "
                                           "cannot change; use policy_name and reference it from the permission set")
                grants.append(WebAccess(role_name=name, airflow_role=cast(AirflowRole, role)))
            else:
                policy = self.string(where, f"{field}.policy_name", item["policy_name"])
                with self.library_errors(where):
                    check_policy_name(f"{field}.policy_name", policy)
                grants.append(WebAccess(policy_name=policy, airflow_role=cast(AirflowRole, role)))
        return tuple(grants)

    def web_ingress(self, where: str, value: Any) -> tuple[WebIngress, ...]:
        if not isinstance(value, list):
            raise self.fail(where, f"web_ingress must be a list of peers, got {shorten(value)}")
        peers = []
        kinds = ("security_group_id", "prefix_list_id", "cidr")
        for index, item in enumerate(value):
            field = f"web_ingress[{index}]"
            item = self.mapping(where, field, item, {*kinds, "description"})
            given = [kind for kind in kinds if kind in item]
            if len(given) != 1:
                raise self.fail(where, f"{field} needs exactly one of {', '.join(kinds)}, got {shorten(sorted(item))}")
            text = self.string(where, f"{field}.{given[0]}", item[given[0]])
            pattern = {"security_group_id": r"sg-[0-9a-f]{8,17}", "prefix_list_id": r"pl-[0-9a-f]{8,17}",
                       "cidr": r"[0-9a-f.:]+/\d{1,3}"}[given[0]]
            if not re.fullmatch(pattern, text):
                raise self.fail(where, f"{field}.{given[0]} must match {pattern}, got {shorten(text)}")
            description = item.get("description")
            if description is not None:
                description = self.string(where, f"{field}.description", description)
            with self.library_errors(where):
                check_web_ingress(text if given[0] == "cidr" else None, description, "the team")
            peers.append(WebIngress(description=description, **{given[0]: text}))
        return tuple(peers)

    # --- typed fields ---------------------------------------------------------------------------

    def mapping(self, where: str, what: str, value: Any, allowed: Optional[set[str]]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"{what} must be a mapping, got {value!r}")
        if allowed is not None:
            unknown = sorted(str(key) for key in value if key not in allowed)
            if unknown:
                raise self.fail(where, f"unknown key {unknown[0]!r} in {what}; allowed: {', '.join(sorted(allowed))}")
        return value

    def name(self, where: str, value: Any) -> str:
        name = self.string(where, "name", value)
        if not _NAME.match(name) or len(name) > _NAME_MAX:
            raise self.fail(where, f"name must be 2-{_NAME_MAX} lowercase letters, digits and '-', starting with "
                                   f"a letter and not ending with '-', got {name!r}")
        return name

    def string(self, where: str, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"{key} must be a non-empty string, got {value!r}")
        return value

    def boolean(self, where: str, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"{key} must be true or false, got {value!r}")
        return value

    def integer(self, where: str, key: str, value: Any, choices: Optional[tuple[int, ...]] = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"{key} must be an integer, got {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(where, f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value

    def path_field(self, where: str, key: str, value: Any) -> Optional[str]:
        """A path relative to the registry file, made absolute."""
        if value is None:
            return None
        return str(self.base / self.string(where, key, value))

    def tags(self, where: str, value: Any) -> dict[str, str]:
        tags = self.mapping(where, "tags", value, None)
        for key, tag_value in tags.items():
            if not isinstance(key, str) or not _TAG_KEY.match(key) or key.startswith("aws:"):
                raise self.fail(where, f"tags: key {key!r} must be 1-128 characters of letters, digits, spaces and "
                                       "_.:/=+-@, and not start with 'aws:'")
            if not isinstance(tag_value, str) or len(tag_value) > 256:
                raise self.fail(where, f"tags.{key} must be a string of at most 256 characters, got {tag_value!r}")
        return dict(tags)

    def library_errors(self, where: str) -> "_Rethrow":
        return _Rethrow(lambda error: self.fail(where, error.message))


class _Rethrow:
    """Re-raise the library's errors (which name the field) with the file and team in front."""

    def __init__(self, wrap: Callable[[MwaaPlatformError], RegistryError]) -> None:
        self.wrap = wrap

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> Literal[False]:
        if isinstance(error, MwaaPlatformError):
            raise self.wrap(error) from None
        return False
