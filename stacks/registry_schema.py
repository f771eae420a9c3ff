"""The team registry's schema: pydantic models, the source of its JSON Schema and its reference docs.

The models say what a registry may contain: keys, types, defaults and what each key means. The
library's own checks (``mwaa_platform.validation``) run inside them, so a registry error reads
exactly as the construct's would. ``stacks/registry.py`` loads a file through them and turns
every error into ``<file>:<line>: <where>: <field> ..., got <value>``. A validator that can find
several problems raises ``Problems`` with all of them, so that one run reports every one.

Regenerate the published schema and the reference part of ``docs/registry.md`` with
``make registry-docs``; a test fails when the committed copies are stale.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mwaa_platform.compliance import MIN_REASON_LENGTH
from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform.alerting import AlarmThresholds, AlertSubscriptions, SlackChannel
from mwaa_platform.cross_account import check_actions, check_conn_id, check_role_name
from mwaa_platform.paths import endpoints_of_action
from mwaa_platform.compute import (
    DEFAULT_KUBERNETES_VERSION,
    FARGATE_VCPUS,
    LAUNCHER_NAME,
    MIN_KUBERNETES_VERSION,
    check_fargate_size,
    check_repository_names,
)
from mwaa_platform.environment import EnvironmentClass, EnvironmentClassName, default_airflow_version, version_info

from mwaa_platform.validation import (
    AIRFLOW_ROLES,
    NAT_GATEWAY_CHOICES,
    check_account_ids,
    check_cidr,
    check_domains,
    check_endpoint_sets,
    check_instance_types,
    check_kubernetes_version,
    check_namespace,
    check_node_counts,
    check_root_volume,
    check_system_nodes,
    check_maintenance_window,
    check_pipeline_region,
    check_policy_name,
    check_principal_arns,
    check_supported_airflow_version,
    check_web_ingress,
    lookup_environment_class,
    resolve_capacity,
)

#: CloudWatch Logs retention values, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
#: Registry keys reserved for capabilities that have not landed yet; any value fails loudly.
NOT_YET_SUPPORTED: tuple[str, ...] = ()
#: Capacity overrides, passed through to AirflowEnvironment by name.
CAPACITY_FIELDS = ("schedulers", "min_workers", "max_workers", "min_webservers", "max_webservers")

NAME_PATTERN = r"^[a-z][a-z0-9-]*[a-z0-9]$"
NAME_MAX = 40
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
#: AWS's tagging rules (the same for every service that tags): keys 1-128 and values up to 256 Unicode
#: letters, digits, spaces and _.:/=+-@; ``aws:`` in any case is reserved as a prefix of keys and values.
#: The registry also refuses an empty value: several CloudFormation resource types refuse one, and an
#: empty cost-center says nothing.
TAG_CHARACTERS = "letters, digits, spaces and _.:/=+-@"
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
#: AWS allows 50 tags per resource (its own aws: tags aside).
TAGS_PER_RESOURCE_MAX = 50
_TAG_TEXT = re.compile(r"^[\w .:/=+@-]*$")
_RESERVED_TAG_PREFIX = re.compile(r"^aws:", re.IGNORECASE)
#: Zone names are the Region's name and one letter. No Region has a zone past f (us-east-1 has six,
#: us-east-1a to us-east-1f), so a later letter is a typo; which of a-f an account has, only AWS knows.
ZONE_LETTERS = "abcdef"
_ZONE = re.compile(rf"^[a-z]{{2}}(-[a-z]+)+-\d[{ZONE_LETTERS}]$")

Loc = tuple[Union[str, int], ...]


# A library check raises MwaaPlatformError, a ValueError: inside a validator pydantic records it as
# that field's error with the library's own message, and goes on to the next field. A check that can
# find several problems collects them all and raises Problems, which the loader lists one by one.


class Problems(ValueError):
    """Every problem one validator found, each with its key below the validated value (for its line).

    Each message reads as a validator's single ``ValueError`` would: it names its field (relative to
    the validated model), the value and what is allowed.
    """

    def __init__(self, found: Sequence[tuple[Loc, str]]) -> None:
        self.found = list(found)
        super().__init__("; ".join(message for _, message in self.found))


class _Findings:
    """Collects the problems of one validator, so that one run reports every one of them."""

    def __init__(self) -> None:
        self.found: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.found.append((loc, message))

    @contextmanager
    def check(self, *loc: Union[str, int]) -> Iterator[None]:
        """Record a ``ValueError`` raised in the block (a library check's) at ``loc``, and go on."""
        try:
            yield
        except Problems as problems:
            self.found += [((*loc, *sub), message) for sub, message in problems.found]
        except ValueError as error:
            self.add(loc, error.message if isinstance(error, MwaaPlatformError) else str(error))

    def done(self) -> None:
        if self.found:
            raise Problems(self.found)


class _Model(BaseModel):
    # strict: YAML's surprises (an unquoted account id read as a number, "yes" read as true) are
    # errors that say to quote the value, never silent conversions
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _name(value: str) -> str:
    if not re.match(NAME_PATTERN, value) or len(value) > NAME_MAX:
        raise ValueError(f"must be 2-{NAME_MAX} lowercase letters, digits and '-', starting with a letter and not "
                         f"ending with '-'")
    return value


def tag_value_problem(value: str) -> Optional[str]:
    """What AWS tagging (or CloudFormation) would refuse in a tag value, or None."""
    if not value:
        return f"must be 1-{TAG_VALUE_MAX} {TAG_CHARACTERS} (several CloudFormation resource types refuse an empty tag value)"
    if len(value) > TAG_VALUE_MAX or not _TAG_TEXT.match(value):
        return f"must be 1-{TAG_VALUE_MAX} {TAG_CHARACTERS}"
    if _RESERVED_TAG_PREFIX.match(value):
        return "must not start with 'aws:' (in any case), which AWS reserves for its own tags"
    return None


def _tags(value: dict[str, str]) -> dict[str, str]:
    findings = _Findings()
    for key, tag_value in value.items():
        if not key or len(key) > TAG_KEY_MAX or not _TAG_TEXT.match(key):
            findings.add((key,), f"tags key {shorten(key)} must be 1-{TAG_KEY_MAX} {TAG_CHARACTERS}"
                                 + (f" (it has {len(key)} characters)" if len(key) > TAG_KEY_MAX else ""))
        elif _RESERVED_TAG_PREFIX.match(key):
            findings.add((key,), f"tags key {shorten(key)} starts with 'aws:' (in any case), which AWS reserves for its "
                                 "own tags; use another prefix")
        problem = tag_value_problem(tag_value)
        if problem is not None:
            findings.add((key,), f"tags value of {shorten(key)} {problem}, got {shorten(tag_value)}")
    findings.done()
    return value


def _retention_days(value: int) -> int:
    """A CloudWatch Logs retention value, in days."""
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


def _supported_version(value: Optional[str]) -> Optional[str]:
    """An Airflow version MWAA still runs (``check_supported_airflow_version``), or none given."""
    if value is not None:
        check_supported_airflow_version(value)
    return value


def _cost_center(value: str) -> str:
    problem = tag_value_problem(value)
    if problem is not None:
        raise ValueError(f"cost_center becomes the cost-center tag of every resource: it {problem}, got {shorten(value)}")
    return value


class Network(_Model):
    """The private network of each account and Region (``docs/network.md``)."""

    cidr: str = Field("10.0.0.0/16", description="VPC range, /16 to /22.")
    nat_gateways: Literal[0, 1, 2] = Field(0, description="0 (no internet route), 1 or 2; NAT also lets environments "
                                                          "send HTTPS anywhere (PyPI).")
    endpoint_sets: list[str] = Field(default_factory=list, description=(
        "Extra endpoint sets: secretsmanager, sts, codeartifact, ecs, batch, eks. secretsmanager and codeartifact "
        "are added automatically where an environment uses the secrets backend or a package index."))
    endpoint_policies: bool = Field(True, description="Account-scoped endpoint policies where safe.")
    data_perimeter: bool = Field(True, description=(
        "Restrict the S3 gateway endpoint to the perimeter accounts' buckets plus the Region's ECR "
        "image-layer bucket, and the ECR endpoints to image pulls."))
    perimeter_accounts: list[str] = Field(default_factory=list, description=(
        "12-digit account ids (quoted) whose buckets every network's S3 gateway reaches. Default: each network "
        "its own account only, so a stage's network cannot reach another stage's buckets."))
    path_policy_scope: Literal["role", "account"] = Field("role", description=(
        "How endpoint policies admit the cross_account roles: role (a statement per role: exactly its actions on "
        "its resources) or account (one statement per service and target account: that account's principals, the "
        "union of its roles' actions, its resources only). account keeps a policy small with hundreds of roles in "
        "one target account, where role outgrows EC2's 20,480 characters; each role's IAM still limits it to its "
        "statements (docs/network.md, 'Hundreds of roles')."))
    network_acls: bool = Field(False, description="A network ACL on the private subnets.")
    dns_firewall: bool = Field(False, description=(
        "Route 53 Resolver DNS Firewall: answer only AWS service domains and dns_allowed_domains; log every query."))
    dns_allowed_domains: list[str] = Field(default_factory=list, description="With dns_firewall, further domains "
                                                                             "to answer, e.g. pypi.org.")
    flow_logs_retention_days: int = Field(365, description="A CloudWatch Logs retention value in days.")

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        check_cidr(value)
        return value

    @field_validator("endpoint_sets")
    @classmethod
    def _sets(cls, value: list[str]) -> list[str]:
        return list(check_endpoint_sets(value))

    @field_validator("perimeter_accounts")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        return check_account_ids("perimeter_accounts", value)

    @field_validator("dns_allowed_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return check_domains("dns_allowed_domains", value)

    _retention = field_validator("flow_logs_retention_days")(classmethod(lambda cls, value: _retention_days(value)))

    @model_validator(mode="after")
    def _firewall(self) -> "Network":
        if self.dns_allowed_domains and not self.dns_firewall:
            raise ValueError("dns_allowed_domains applies to the DNS firewall: set dns_firewall: true as well")
        return self


class EksClusterSettings(_Model):
    """The EKS cluster of each account and Region where a team has ``compute.eks`` (``docs/compute.md``)."""

    kubernetes_version: str = Field(DEFAULT_KUBERNETES_VERSION, description=(
        f"From {MIN_KUBERNETES_VERSION} to the newest the pinned aws-cdk-lib knows."))
    system_instance_type: str = Field("t3.medium", description="The system nodes' type; they run CoreDNS only.")
    system_nodes: int = Field(2, description="How many system nodes, 1-10.")

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        check_kubernetes_version(value)
        return value

    @field_validator("system_instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        check_instance_types("system_instance_type", [value])
        return value

    @field_validator("system_nodes")
    @classmethod
    def _nodes(cls, value: int) -> int:
        check_system_nodes(value)
        return value


class Platform(_Model):
    """Settings of the whole platform."""

    name: str = Field("mwaa-platform", description="Prefix of stack names and of the SSM parameter path; "
                                                   "2-40 lowercase letters, digits, '-'.")
    network: Network = Field(default_factory=lambda: Network(), description="The network of every account and Region.")
    tags: dict[str, str] = Field(default_factory=dict, description=(
        "Tags on every taggable resource of every stack. Keys 1-128, values 1-256 letters, digits, spaces and "
        "_.:/=+-@, not starting with aws:."))
    eks: EksClusterSettings = Field(default_factory=lambda: EksClusterSettings(), description=(
        "The EKS cluster of each account and Region where a team runs pods; created only there."))

    _check_name = field_validator("name")(classmethod(lambda cls, value: _name(value)))
    _check_tags = field_validator("tags")(classmethod(lambda cls, value: _tags(value)))


class Stage(_Model):
    """A stage (dev, staging, prod, ...): where its stacks deploy."""

    account: Optional[str] = Field(None, description=(
        "12-digit AWS account id, quoted. Default: CDK_DEPLOY_ACCOUNT, else the placeholder 123456789012."))
    region: Optional[str] = Field(None, description=(
        "An AWS Region where botocore knows MWAA. Default: CDK_DEPLOY_REGION, else eu-west-1."))
    availability_zones: Optional[list[str]] = Field(None, description=(
        "At least two zones of the Region, each the Region's name and a letter a-f (eu-west-1a), so synthesis "
        "makes no AWS call. Stages in one account and Region declare the same zones (they share its network). "
        "Default: cdk.json's context must name them."))
    production: Optional[bool] = Field(None, description=(
        "Termination protection on every stack of the stage. Default: true for a stage named prod."))

    @field_validator("account")
    @classmethod
    def _account(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            check_account_ids("account", [value])
        return value

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        if value is None:
            return value
        findings = _Findings()
        if len(set(value)) < 2 or len(set(value)) != len(value):
            findings.add((), f"availability_zones must list at least two different zone names such as eu-west-1a, "
                             f"got {shorten(value)}")
        for index, zone in enumerate(value):
            if not _ZONE.match(zone):
                findings.add((index,), f"availability_zones entries must be a Region's name and one letter "
                                       f"{ZONE_LETTERS[0]}-{ZONE_LETTERS[-1]}, such as eu-west-1a, got {shorten(zone)}")
        findings.done()
        return value


class WebAccess(_Model):
    """Who may open the Airflow UI (and call its REST API): a plain IAM role, or a named policy for IAM Identity Center."""

    role_name: Optional[str] = Field(None, description="An IAM role of the stage's account that gets a managed "
                                                       "policy attached (not an AWSReservedSSO_ role).")
    policy_name: Optional[str] = Field(None, description="A fixed-name policy for an IAM Identity Center permission "
                                                         "set to reference.")
    airflow_role: Literal["Admin", "Op", "User", "Viewer", "Public"] = Field(
        "Viewer", description="The Airflow role: " + ", ".join(AIRFLOW_ROLES) + ".")
    rest_api: bool = Field(False, description="Also allow airflow:InvokeRestApi as the same Airflow role: the "
                                              "Airflow REST API through MWAA, which the Amazon provider's MwaaHook "
                                              "needs on Airflow 3 (docs/web-access.md).")

    @model_validator(mode="after")
    def _one(self) -> "WebAccess":
        findings = _Findings()
        given = [name for name in ("role_name", "policy_name") if getattr(self, name) is not None]
        if len(given) != 1:
            findings.add((), "needs exactly one of role_name (a plain IAM role to attach to) or policy_name (a policy "
                             f"an IAM Identity Center permission set references), got {' and '.join(given) or 'neither'}")
        if self.role_name is not None:
            if not _ROLE_NAME.match(self.role_name):
                findings.add(("role_name",), "role_name must be the name of an IAM role in the platform account (1-64 "
                                             f"letters, digits and +=,.@_-; no path or ARN), got {shorten(self.role_name)}")
            elif self.role_name.startswith("AWSReservedSSO_"):
                findings.add(("role_name",), f"role_name {shorten(self.role_name)} is an IAM Identity Center role, which "
                                             "IAM cannot change; use policy_name and reference it from the permission set")
        if self.policy_name is not None:
            with findings.check("policy_name"):
                check_policy_name("policy_name", self.policy_name)
        findings.done()
        return self


class WebIngress(_Model):
    """A network path to the private web server on 443: exactly one peer."""

    security_group_id: Optional[str] = Field(None, pattern=r"^sg-[0-9a-f]{8,17}$", description="A security group.")
    prefix_list_id: Optional[str] = Field(None, pattern=r"^pl-[0-9a-f]{8,17}$", description="A managed prefix list.")
    cidr: Optional[str] = Field(None, pattern=r"^[0-9a-f.:]+/\d{1,3}$", description="A CIDR; needs a description.")
    description: Optional[str] = Field(None, description="The rule's description.")

    @model_validator(mode="after")
    def _one(self) -> "WebIngress":
        findings = _Findings()
        given = [name for name in ("security_group_id", "prefix_list_id", "cidr") if getattr(self, name) is not None]
        if len(given) != 1:
            findings.add((), f"needs exactly one of security_group_id, prefix_list_id, cidr, got "
                             f"{' and '.join(given) or 'none'}")
        with findings.check("cidr"):
            check_web_ingress(self.cidr, self.description, "the environment")
        findings.done()
        return self


class SecretsBackend(_Model):
    """Connections and variables from Secrets Manager, under the environment's own prefixes."""

    connections_prefix: Optional[str] = Field(None, description="Default: airflow/<environment>/connections.")
    variables_prefix: Optional[str] = Field(None, description="Default: airflow/<environment>/variables.")
    connections_lookup_pattern: Optional[str] = Field(None, description="Only matching connection ids are looked up.")
    variables_lookup_pattern: Optional[str] = Field(None, description="Only matching variable keys are looked up.")
    use_cache: bool = Field(True, description="Airflow's secrets cache.")
    cache_ttl_seconds: Optional[int] = Field(None, description="Default: Airflow's own (900 s).")


class WheelhouseSettings(_Model):
    """Build the requirements into wheels at synthesis, shipped in plugins.zip (docs/python-dependencies.md)."""

    find_links: Optional[str] = Field(None, description="A local folder of wheels, relative to the registry file. "
                                                        "Default: PyPI, from the synthesizing machine.")
    constraints: Optional[str] = Field(None, description="A local constraints file, relative to the registry file. "
                                                         "Default: the requirements' own --constraint line.")
    max_size_mib: int = Field(500, description="Refuse a larger plugins.zip.")


class PackageIndexSettings(_Model):
    """A CodeArtifact repository with a PyPI upstream that pip installs from (docs/python-dependencies.md)."""

    domain_name: str = Field(description="The CodeArtifact domain, created in the environment's stack.")
    repository_name: str = Field("pypi", description="The repository pip reads from.")


class EnvironmentSettings(_Model):
    """Settings of one MWAA environment (a team's in one stage, or a shared one)."""

    environment_class: Optional[EnvironmentClassName] = Field(None, description="mw1.micro ... mw1.2xlarge. "
                                                                               "Default: mw1.small.")
    airflow_version: Optional[str] = Field(None, description=(
        "Quote it (\"2.11.0\"). Versions older than MWAA runs are refused; newer well-formed ones pass with a "
        "warning. Default: the newest version botocore knows."))
    deployed_version: Optional[str] = Field(None, description=(
        "The version the deployed environment runs, while airflow_version changes it, or \"lookup\" to read it "
        "from AWS at synthesis (a CDK context lookup, cached in cdk.context.json): a change MWAA cannot make in "
        "place is refused, naming the way that works (docs/airflow-environment.md)."))
    webserver_access_mode: Literal["PRIVATE_ONLY", "PUBLIC_ONLY", "PUBLIC_AND_PRIVATE"] = Field(
        "PRIVATE_ONLY", description=(
            "Who may reach the web server: PRIVATE_ONLY (a VPC endpoint), PUBLIC_ONLY, or PUBLIC_AND_PRIVATE (Airflow "
            "3.2 or later). IAM login is required either way. Anything but PRIVATE_ONLY needs public_web_reason."))
    public_web_reason: Optional[str] = Field(None, description=(
        "Why the web server may be public: recorded as the acknowledgment of the MwaaChecks web server rule."))
    schedulers: Optional[int] = Field(None, description="Default: the class default (1 on mw1.micro, else 2).")
    min_workers: Optional[int] = Field(None, description="Default: 1.")
    max_workers: Optional[int] = Field(None, description="Default: 10 (1 on mw1.micro).")
    min_webservers: Optional[int] = Field(None, description="Default: the class default.")
    max_webservers: Optional[int] = Field(None, description="Default: the class default.")
    weekly_maintenance_window_start: Optional[str] = Field(None, description="DAY:HH:MM in UTC, minutes 00 or 30.")
    requirements: Optional[str] = Field(None, description="requirements.txt, relative to the registry file.")
    plugins: Optional[str] = Field(None, description="plugins.zip, relative to the registry file.")
    startup_script: Optional[str] = Field(None, description="A startup shell script, relative to the registry file.")
    secrets_backend: Optional[SecretsBackend | bool] = Field(None, description=(
        "true, or the backend's settings: connections and variables from Secrets Manager."))
    wheelhouse: Optional[WheelhouseSettings | bool] = Field(None, description=(
        "true, false or settings: build the requirements into wheels at synthesis. Default: built exactly when the "
        "network has no NAT and the requirements name packages."))
    package_index: Optional[PackageIndexSettings] = Field(None, description=(
        "Install requirements from a CodeArtifact repository through VPC endpoints (the network gets the "
        "codeartifact endpoint set). Default: none."))
    airflow_configuration_options: dict[str, str] = Field(default_factory=dict, description=(
        "Airflow options as section.option: value (values quoted)."))
    log_retention_days: int = Field(90, description="Retention of the environment's logs, in days.")
    artifact_writers: list[str] = Field(default_factory=list, description=(
        "IAM role or user ARNs that may write the source bucket besides the artifact handler."))
    web_access: list[WebAccess] = Field(default_factory=list, description="Who may open the Airflow UI.")
    web_ingress: list[WebIngress] = Field(default_factory=list, description="Network paths to the private web server.")
    tags: dict[str, str] = Field(default_factory=dict, description="Further tags on the environment's resources.")

    _check_tags = field_validator("tags")(classmethod(lambda cls, value: _tags(value)))

    _version = field_validator("airflow_version")(classmethod(lambda cls, value: _supported_version(value)))

    @field_validator("deployed_version")
    @classmethod
    def _deployed(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value != "lookup":
            version_info(value)  # MAJOR.MINOR.PATCH, or an error saying so
        return value

    @model_validator(mode="after")
    def _public_web(self) -> "EnvironmentSettings":
        findings = _Findings()
        if self.webserver_access_mode != "PRIVATE_ONLY" and (
                self.public_web_reason is None or len(self.public_web_reason.strip()) < MIN_REASON_LENGTH):
            findings.add(("public_web_reason",), (
                f"webserver_access_mode {self.webserver_access_mode} puts the web server on the internet: give "
                f"public_web_reason (at least {MIN_REASON_LENGTH} characters) saying why, or keep PRIVATE_ONLY"))
        version = self.airflow_version or default_airflow_version()
        if self.webserver_access_mode == "PUBLIC_AND_PRIVATE" and not version_info(version).public_and_private:
            findings.add(("webserver_access_mode",), f"webserver_access_mode PUBLIC_AND_PRIVATE needs Airflow 3.2 or "
                                                     f"later, got airflow_version {version}")
        if self.webserver_access_mode == "PRIVATE_ONLY" and self.public_web_reason is not None:
            findings.add(("public_web_reason",), "public_web_reason applies only with a public webserver_access_mode")
        findings.done()
        return self

    @field_validator("weekly_maintenance_window_start")
    @classmethod
    def _window(cls, value: Optional[str]) -> Optional[str]:
        check_maintenance_window(value)
        return value

    _retention = field_validator("log_retention_days")(classmethod(lambda cls, value: _retention_days(value)))

    @field_validator("artifact_writers")
    @classmethod
    def _writers(cls, value: list[str]) -> list[str]:
        return check_principal_arns("artifact_writers", value)

    @model_validator(mode="after")
    def _capacity(self) -> "EnvironmentSettings":
        findings = _Findings()
        with findings.check("environment_class"):
            env_class = lookup_environment_class(self.environment_class or "mw1.small")
        findings.done()
        # each field against the class first, so that every one out of range is reported
        for name in CAPACITY_FIELDS:
            value, (low, high) = getattr(self, name), capacity_bounds(env_class, name)
            if value is not None and not low <= value <= high:
                findings.add((name,), f"{name} must be {capacity_range(env_class, name)}, got {shorten(value)}")
        if not findings.found:
            with findings.check():
                resolve_capacity(env_class, **{name: getattr(self, name) for name in CAPACITY_FIELDS})
        findings.done()
        return self


def capacity_bounds(env_class: EnvironmentClass, name: str) -> tuple[int, int]:
    """(lowest, highest) of a capacity field (``CAPACITY_FIELDS``) for ``env_class``."""
    return {"schedulers": env_class.schedulers, "min_workers": env_class.workers, "max_workers": env_class.workers,
            "min_webservers": env_class.webservers, "max_webservers": env_class.webservers}[name]


def capacity_range(env_class: EnvironmentClass, name: str) -> str:
    """What a capacity field may be for ``env_class``, as the library's own check says it."""
    low, high = capacity_bounds(env_class, name)
    return f"exactly {low} (fixed capacity) for {env_class}" if low == high else f"between {low} and {high} for {env_class}"


class Image(_Model):
    """A container image: exactly one of ``uri``, ``directory`` or ``team_repository_tag``."""

    uri: Optional[str] = Field(None, description="A full image URI.")
    directory: Optional[str] = Field(None, description="A folder with a Dockerfile, relative to the registry file.")
    team_repository_tag: Optional[str] = Field(None, description=(
        "A tag in the team's own ECR repository (created: scan on push, immutable tags)."))

    @model_validator(mode="after")
    def _one(self) -> "Image":
        given = [name for name in ("uri", "directory", "team_repository_tag") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"needs exactly one of uri, directory, team_repository_tag, got {' and '.join(given) or 'none'}")
        return self


class EcsTask(_Model):
    """A Fargate task DAGs start through its Step Functions launcher, with StepFunctionStartExecutionOperator
    (``docs/compute.md``)."""

    family: str = Field(description="The task definition family, and the name of its launcher state machine "
                                    "(1-80 letters, digits, '-', '_'; unique in the account and Region).",
                        json_schema_extra={"pattern": LAUNCHER_NAME.pattern})
    image: Image = Field(description="The container image.")
    cpu: int = Field(256, description="Fargate CPU units.")
    memory_mib: int = Field(512, description="Memory, a size Fargate pairs with cpu.")
    environment: dict[str, str] = Field(default_factory=dict, description="Plain environment variables.")
    secrets: dict[str, str] = Field(default_factory=dict, description="Variable -> Secrets Manager secret ARN.")
    redrive: bool = Field(False, description="Grant states:RedriveExecution for the operator's "
                                              "is_redrive_execution=True.")

    @field_validator("family")
    @classmethod
    def _family(cls, value: str) -> str:
        if not LAUNCHER_NAME.match(value):
            raise ValueError(f"must be 1-80 letters, digits, '-' and '_' (it names the task definition family and "
                             f"its launcher state machine), got {shorten(value)}")
        return value

    @model_validator(mode="after")
    def _size(self) -> "EcsTask":
        check_fargate_size(self.cpu, self.memory_mib)
        return self


class BatchJobSettings(_Model):
    """An AWS Batch job definition DAGs submit with the BatchOperator (``docs/compute.md``)."""

    name: str = Field(description="The job definition name the operator submits.")
    image: Image = Field(description="The container image.")
    vcpus: float = Field(1, description="vCPUs: on Fargate 0.25, 0.5, 1, 2, 4, 8 or 16; on EC2/Spot a whole number.")
    memory_mib: int = Field(2048, description="Memory; on Fargate a size it pairs with vcpus.")
    environment: dict[str, str] = Field(default_factory=dict, description="Plain environment variables.")
    secrets: dict[str, str] = Field(default_factory=dict, description="Variable -> Secrets Manager secret ARN.")
    retry_attempts: int = Field(1, description="Attempts in all, 1-10.")
    timeout_minutes: int = Field(60, description="How long an attempt may run.")

    @model_validator(mode="after")
    def _options(self) -> "BatchJobSettings":
        # vCPU and memory are checked against the queue's capacity by Compute (Fargate's table or instances)
        findings = _Findings()
        if not 1 <= self.retry_attempts <= 10:
            findings.add(("retry_attempts",), f"retry_attempts must be between 1 and 10, got {self.retry_attempts}")
        if self.timeout_minutes < 1:
            findings.add(("timeout_minutes",), f"timeout_minutes must be at least 1, got {self.timeout_minutes}")
        findings.done()
        return self


class EksPods(_Model):
    """Pods on the stage's EKS cluster (EksPodOperator): the team's namespace and its own node group."""

    namespace: Optional[str] = Field(None, description="A DNS-1123 label, unique per cluster. Default: the team's name.")
    instance_types: list[str] = Field(default_factory=lambda: ["m6i.large"], description=(
        "The nodes' EC2 types, one architecture (x86_64 or Graviton)."))
    capacity_type: Literal["ON_DEMAND", "SPOT"] = Field("ON_DEMAND", description="On-Demand or Spot nodes.")
    min_nodes: int = Field(1, description="The node group's minimum (it starts with at least 1 node).")
    max_nodes: int = Field(3, description="The node group's maximum, for a cluster autoscaler; at most 450.")
    root_volume_gib: int = Field(50, description="Each node's encrypted gp3 root volume, 20-16384 GiB.")
    pod_security: Literal["baseline", "restricted"] = Field("baseline", description=(
        "The Pod Security Admission level enforced in the namespace."))
    image_repositories: list[str] = Field(default_factory=list, description=(
        "Names of this account's ECR repositories the team's pods run images from; the nodes pull nothing "
        "else of this account (other accounts' images, such as EKS's add-ons, stay allowed)."))

    @model_validator(mode="after")
    def _nodes(self) -> "EksPods":
        findings = _Findings()
        if self.namespace is not None:
            with findings.check("namespace"):
                check_namespace(self.namespace)
        with findings.check("image_repositories"):
            check_repository_names("image_repositories", self.image_repositories)
        with findings.check("instance_types"):
            check_instance_types("instance_types", self.instance_types)
        with findings.check("max_nodes"):
            check_node_counts("", self.min_nodes, self.max_nodes)
        with findings.check("root_volume_gib"):
            check_root_volume("root_volume_gib", self.root_volume_gib)
        findings.done()
        return self


class SlackSettings(_Model):
    """A Slack channel AWS Chatbot posts alerts to (the workspace authorized once in the Chatbot console)."""

    workspace_id: str = Field(description="e.g. T0123ABCD.")
    channel_id: str = Field(description="e.g. C0123ABCD.")


class Alerts(_Model):
    """Who hears about a team's (or shared environment's) alarms and failures, and when (``docs/alerting.md``).

    With nothing set, every environment still gets its topic, alarms, failure events and dashboard.
    """

    emails: list[str] = Field(default_factory=list, description="E-mail addresses (each confirms by mail).")
    https_urls: list[str] = Field(default_factory=list, description="HTTPS endpoints (each confirms).")
    sqs_queue_arns: list[str] = Field(default_factory=list, description="SQS queues of the stage's account.")
    lambda_function_arns: list[str] = Field(default_factory=list, description="Lambda functions of the stage's account.")
    slack: Optional[SlackSettings] = Field(None, description="A Slack channel through AWS Chatbot.")
    thresholds: dict[str, dict[str, float]] = Field(default_factory=dict, description=(
        "Alarm setting -> threshold, evaluation_periods and/or period_minutes, e.g. {queued_tasks: {threshold: 40}}. "
        "Default: scaled to the environment class."))
    monthly_budget_usd: dict[str, float] = Field(default_factory=dict, description=(
        "Stage -> a monthly cost budget on the team's cost-allocation tag. Default: no budget."))
    budget_actual_percent: list[float] = Field(default_factory=lambda: [80.0, 100.0], description=(
        "Notify when actual cost passes these percentages of the budget."))
    budget_forecast_percent: list[float] = Field(default_factory=lambda: [100.0], description=(
        "Notify when forecast cost passes these percentages."))

    @model_validator(mode="after")
    def _check(self) -> "Alerts":
        findings = _Findings()
        with findings.check():
            subscriptions(self).check()
        with findings.check("thresholds"):
            AlarmThresholds.for_class("mw1.small").with_overrides(thresholds(self))
        for stage, amount in self.monthly_budget_usd.items():
            if amount <= 0:
                findings.add(("monthly_budget_usd", stage), f"monthly_budget_usd.{stage} must be a positive amount, "
                                                            f"got {amount}")
        findings.done()
        return self


def subscriptions(alerts: Optional["Alerts"]) -> AlertSubscriptions:
    """The library's subscriptions from registry alerts (none when ``alerts`` is None)."""
    if alerts is None:
        return AlertSubscriptions()
    return AlertSubscriptions(
        emails=alerts.emails, https_urls=alerts.https_urls, sqs_queue_arns=alerts.sqs_queue_arns,
        lambda_function_arns=alerts.lambda_function_arns,
        slack=SlackChannel(alerts.slack.workspace_id, alerts.slack.channel_id) if alerts.slack else None)


def thresholds(alerts: Optional["Alerts"]) -> dict[str, dict[str, Any]]:
    """Threshold overrides with whole-number periods, as ``EnvironmentAlarms`` takes them."""
    if alerts is None:
        return {}
    return {name: {key: (int(value) if key != "threshold" else value) for key, value in settings.items()}
            for name, settings in alerts.thresholds.items()}


class PolicyStatementSettings(_Model):
    """One IAM statement of a target role: what the central environment may do in the target account."""

    actions: list[str] = Field(description="IAM actions, e.g. glue:StartJobRun; a wildcard (s3:Get*) needs "
                                           "wildcard_action_reason.")
    resources: list[str] = Field(description="Resource ARNs in the target account; a wildcard needs wildcard_reason.")
    wildcard_reason: Optional[str] = Field(None, description=(
        f"Why the wildcards in resources are acceptable (at least {MIN_REASON_LENGTH} characters); it becomes the "
        "cdk-nag acknowledgment a reviewer reads."))
    wildcard_action_reason: Optional[str] = Field(None, description=(
        f"Why the wildcards in actions are acceptable (at least {MIN_REASON_LENGTH} characters); it becomes the "
        "cdk-nag acknowledgment (AwsSolutions-IAM5) a reviewer reads."))

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: list[str]) -> list[str]:
        findings = _Findings()
        if not value:
            findings.add((), "actions must name at least one IAM action, got []")
        for index, action in enumerate(value):
            with findings.check(index):
                check_actions("actions", [action])  # the rule CrossAccountRole holds its statements to
        findings.done()
        return value

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("resources must name at least one resource ARN, got []")
        return value

    @model_validator(mode="after")
    def _check(self) -> "PolicyStatementSettings":
        findings = _Findings()
        for field, items, reason in (("resources", self.resources, "wildcard_reason"),
                                     ("actions", self.actions, "wildcard_action_reason")):
            wildcards = [item for item in items if "*" in item]
            given = getattr(self, reason)
            if wildcards and (given is None or len(given.strip()) < MIN_REASON_LENGTH):
                findings.add((reason,) if given is not None else (field,),
                             f"{field} {shorten(wildcards)} hold a wildcard, which cdk-nag reports (AwsSolutions-IAM5): "
                             f"say why it is acceptable in {reason} (at least {MIN_REASON_LENGTH} characters)"
                             + (f", got {shorten(given)}" if given is not None else ""))
        findings.done()
        return self


class CrossAccountTarget(_Model):
    """A role in another account (and maybe Region) the team's environment of one stage assumes
    through an Airflow connection (``docs/cross-account.md``)."""

    conn_id: str = Field(description="The Airflow connection id DAGs use (aws_conn_id).")
    stage: str = Field(description="The team's stage whose environment assumes the role.")
    account: str = Field(description="The target account (12 digits, quoted).")
    region: str = Field(description="The Region the connection's clients call.")
    statements: list[PolicyStatementSettings] = Field(description="What the role may do there.")
    services: list[str] = Field(default_factory=list, description=(
        "VPC endpoint names of the services the DAGs call (glue, s3, ...); every service the statements' actions "
        "call must be listed (iam:PassRole calls none). In the environment's Region the network gets their "
        "endpoints, admitting exactly this role's statements; another Region needs NAT or route_reason (the "
        "provider assumes the role with STS of that Region, which no endpoint here reaches)."))
    route_reason: Optional[str] = Field(None, description=(
        "For a target in another Region on a network without NAT: how STS and the services of that Region are "
        "reached (peering or a Transit Gateway to that Region's endpoints); at least 30 characters."))
    role_name: Optional[str] = Field(None, description="Default: mwaa-<team>-<stage>-<conn_id> (at most 64).")
    external_id: Optional[str] = Field(None, description="Require this sts:ExternalId.")
    organization_id: Optional[str] = Field(None, description="Require the caller's aws:PrincipalOrgID.")
    max_session_hours: int = Field(1, description="1-12.")
    allow_same_account: bool = Field(False, description="Allow a target in the central account itself.")
    trust_account_root_reason: Optional[str] = Field(None, description=(
        "Trust the central account root narrowed by aws:PrincipalArn (deployable before the central role); why."))

    @field_validator("conn_id")
    @classmethod
    def _conn_id(cls, value: str) -> str:
        check_conn_id(value)
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        check_account_ids("account", [value])
        return value

    @field_validator("role_name")
    @classmethod
    def _role_name(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            check_role_name("role_name", value)
        return value

    @field_validator("max_session_hours")
    @classmethod
    def _hours(cls, value: int) -> int:
        if not 1 <= value <= 12:
            raise ValueError(f"max_session_hours must be 1-12, got {value}")
        return value

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        findings = _Findings()
        for index, service in enumerate(value):
            if not re.match(r"^[a-z0-9-]{2,40}$", service):
                findings.add((index,), f"services entries are endpoint names such as glue or s3, got {shorten(service)}")
        findings.done()
        return value

    @field_validator("route_reason")
    @classmethod
    def _route_reason(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and len(value.strip()) < 30:
            raise ValueError(f"route_reason must say how the calls are routed (at least 30 characters), got "
                             f"{shorten(value)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> "CrossAccountTarget":
        called = sorted({service for statement in self.statements for action in statement.actions
                         for service in endpoints_of_action(action)})
        missing = [service for service in called if service not in self.services]
        if missing:
            raise Problems([(("services",), f"services must list every service the statements call, so the network "
                                            f"gets its endpoint: add {', '.join(missing)}, got {shorten(self.services)}")])
        return self


class Compute(_Model):
    """A team's task compute in one stage; its roles, logs and costs are the team's."""

    ecs_tasks: list[EcsTask] = Field(default_factory=list,
                                     description="Fargate tasks (StepFunctionStartExecutionOperator).")
    batch_jobs: list[BatchJobSettings] = Field(default_factory=list, description="Batch jobs (BatchOperator).")
    batch_capacity: Literal["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"] = Field("FARGATE", description=(
        "Capacity of the Batch queue: Fargate, Fargate Spot, or EC2/Spot instances (whole vCPUs per job)."))
    batch_max_vcpus: int = Field(16, description="The most vCPUs the Batch queue runs at once.")
    eks: Optional[EksPods] = Field(None, description=(
        "Pods on the stage's EKS cluster (EksPodOperator): a namespace and node group of the team's own."))

    @model_validator(mode="after")
    def _sizes(self) -> "Compute":
        _check_batch_sizes(self)
        return self


def _check_batch_sizes(compute: "Compute") -> None:
    findings = _Findings()
    for index, job in enumerate(compute.batch_jobs):
        if compute.batch_capacity in ("FARGATE", "FARGATE_SPOT"):
            if job.vcpus not in FARGATE_VCPUS:
                findings.add(("batch_jobs", index, "vcpus"), f"batch_jobs {job.name!r}: vcpus must be one of "
                             f"{', '.join(map(str, FARGATE_VCPUS))} on Fargate, got {job.vcpus!r}")
                continue
            with findings.check("batch_jobs", index, "memory_mib"):
                try:
                    check_fargate_size(int(job.vcpus * 1024), job.memory_mib, what="job")
                except MwaaPlatformError as error:
                    raise ValueError(f"batch_jobs {job.name!r}: {error.message}") from None
        elif job.vcpus != int(job.vcpus) or not 1 <= job.vcpus <= compute.batch_max_vcpus:
            findings.add(("batch_jobs", index, "vcpus"), f"batch_jobs {job.name!r}: vcpus must be a whole number from 1 "
                         f"to batch_max_vcpus ({compute.batch_max_vcpus}) on {compute.batch_capacity} instances, got "
                         f"{job.vcpus!r}")
    findings.done()


Compute.model_rebuild()


class BlueGreen(_Model):
    """A second environment of the team in this stage, beside the current one, on another Airflow version:
    a blue/green migration (docs/airflow-environment.md, "Blue/green")."""

    environment_name: str = Field(description="The new environment's name (1-80 letters, digits, - and _), e.g. "
                                              "payments-prod-af3.")
    airflow_version: str = Field(description="Its Airflow version, quoted.")
    environment_class: Optional[EnvironmentClassName] = Field(None, description="Default: the current one's.")
    dags: list[str] = Field(default_factory=list, description=(
        "The DAG files it runs: glob patterns relative to the team's DAG folder, e.g. ingest_*.py. Default: all."))

    _version = field_validator("airflow_version")(classmethod(lambda cls, value: _supported_version(value)))


class ServerlessWorkflowSettings(_Model):
    """An MWAA Serverless workflow of the team in this stage: no environment runs it (docs/serverless.md)."""

    definition: str = Field(description="Its DAG Factory YAML file (one workflow), relative to the registry file.")
    workflow_name: Optional[str] = Field(None, description="Default: the definition's dag_id.")
    code_package: Optional[str] = Field(None, description=(
        "A .py, .sh or .zip file its PythonOperator and BashOperator tasks run, relative to the registry file."))
    derive_grants: bool = Field(False, description=(
        "Grant its role what its S3, Glue and Athena tasks name literally in the definition."))
    description: Optional[str] = Field(None, description="The workflow's description.")
    log_retention_days: int = Field(90, description="Retention of its logs, in days.")

    _retention = field_validator("log_retention_days")(classmethod(lambda cls, value: _retention_days(value)))


class TeamEnvironment(EnvironmentSettings):
    """A team in one stage: its own environment, or a place on a shared one (``shared``)."""

    shared: Optional[str] = Field(None, description=(
        "The name of a shared environment of this stage to run on instead of an own one. Then only dags, "
        "web_access and tags apply here; the rest is the shared environment's."))
    dags: Optional[str] = Field(None, description=(
        "DAG folder, relative to the registry file: synced to dags/ (own environment) or dags/<team>/ (shared)."))
    compute: Optional[Compute] = Field(None, description=(
        "Task compute in this stage, granted to the team's environment (on a shared one: in the team's own stack, "
        "granted to the shared execution role)."))
    environment_name: Optional[str] = Field(None, description=(
        "The environment's name. Default: <team>-<stage>. Set it to the new environment's name when a blue/green "
        "migration cuts over."))
    serverless_workflows: list[ServerlessWorkflowSettings] = Field(default_factory=list, description=(
        "MWAA Serverless workflows of the team in this stage, in a stack of their own, beside its environment or "
        "instead of one (serverless_only)."))
    serverless_only: bool = Field(False, description=(
        "No MWAA environment in this stage: the team runs only its serverless_workflows."))
    blue_green: Optional[BlueGreen] = Field(None, description=(
        "A second environment on another Airflow version beside this one, with the same compute, grants, "
        "secrets and alarms (docs/airflow-environment.md, \"Blue/green\")."))

    @model_validator(mode="after")
    def _shared_fields(self) -> "TeamEnvironment":
        if self.shared is not None:
            own = sorted(name for name in self.model_fields_set
                         if name not in ("shared", "dags", "web_access", "tags", "compute", "serverless_workflows"))
            if own:
                raise ValueError(f"{', '.join(own)} belong to the shared environment {self.shared!r}, not to a team on it")
        if self.serverless_only:
            if not self.serverless_workflows:
                raise ValueError("serverless_only needs serverless_workflows: without an environment, they are all "
                                 "the team runs in this stage")
            own = sorted(name for name in self.model_fields_set
                         if name not in ("serverless_only", "serverless_workflows", "tags"))
            if own:
                raise ValueError(f"{', '.join(own)} configure an MWAA environment, which serverless_only leaves out")
        return self


class SharedEnvironment(EnvironmentSettings):
    """One environment several teams share in one stage (shared orchestration, isolated compute)."""

    name: str = Field(description="Unique among teams and shared environments; environment <name>-<stage>.")
    stage: str = Field(description="The stage it runs in.")
    cost_center: str = Field(description="The cost-center tag of the shared environment itself (a tag value: "
                                         "1-256 letters, digits, spaces and _.:/=+-@).")
    alerts: Optional[Alerts] = Field(None, description="Subscriptions and thresholds of the shared environment's alarms.")

    _check_name = field_validator("name")(classmethod(lambda cls, value: _name(value)))
    _check_cost_center = field_validator("cost_center")(classmethod(lambda cls, value: _cost_center(value)))


class Team(_Model):
    """A team and its environment in each stage."""

    name: str = Field(description="Unique; 2-40 lowercase letters, digits, '-'.")
    cost_center: str = Field(description="The cost-center tag of everything the team owns (a tag value: 1-256 "
                                         "letters, digits, spaces and _.:/=+-@).")
    tags: dict[str, str] = Field(default_factory=dict, description="Further tags on all the team's resources.")
    environments: dict[str, TeamEnvironment] = Field(description=(
        "Stage name -> the team's environment in that stage (or its place on a shared one)."))
    alerts: Optional[Alerts] = Field(None, description=(
        "Subscriptions, alarm thresholds and budgets of the team (every stage). Default: alerts to a topic "
        "nobody subscribes to yet, no budget."))
    cross_account: list[CrossAccountTarget] = Field(default_factory=list, description=(
        "Roles in other accounts and Regions the team's environments assume, each through an Airflow connection."))
    approvers: list[str] = Field(default_factory=list, description=(
        "IAM role ARNs of the team's members who approve other teams' production changes (their approved_by)."))
    approved_by: Optional[str] = Field(None, description=(
        "With delivery: another team whose approvers must approve this team's production deployment (its "
        "environment, DAGs and roles), after the platform approvers' gate. Default: the platform approvers only."))

    _check_name = field_validator("name")(classmethod(lambda cls, value: _name(value)))
    _check_approvers = field_validator("approvers")(classmethod(lambda cls, value: _role_arns("approvers", value)))
    _check_tags = field_validator("tags")(classmethod(lambda cls, value: _tags(value)))
    _check_cost_center = field_validator("cost_center")(classmethod(lambda cls, value: _cost_center(value)))

    @field_validator("environments")
    @classmethod
    def _some(cls, value: dict[str, TeamEnvironment]) -> dict[str, TeamEnvironment]:
        if not value:
            raise ValueError("must name at least one stage")
        return value

    @model_validator(mode="after")
    def _reserved(self) -> "Team":
        for key in NOT_YET_SUPPORTED:
            if getattr(self, key):
                raise ValueError(f"{key} is not yet supported by this version of mwaa-platform; remove it (it is "
                                 "reserved so that it is never silently ignored)")
        return self


_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_CONNECTION_ARN = re.compile(r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$")


def _role_arns(field: str, value: list[str]) -> list[str]:
    findings = _Findings()
    for index, arn in enumerate(value):
        if not _IAM_ROLE_ARN.match(arn):
            findings.add((index,), f"{field} entries are IAM role ARNs (arn:aws:iam::123456789012:role/NAME), got "
                                   f"{shorten(arn)}")
    findings.done()
    return value


class DeliverySource(_Model):
    """Where the pipeline reads the repository: a CodeConnections connection (GitHub, GitLab, Bitbucket) or
    CodeCommit."""

    connection_arn: Optional[str] = Field(None, description=(
        "A CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:connection/ID), with repository."))
    repository: Optional[str] = Field(None, description="With connection_arn: the repository as owner/name.")
    codecommit_repository: Optional[str] = Field(None, description=(
        "Instead of a connection: a CodeCommit repository name of the tooling account."))
    branch: str = Field("main", description="The branch the pipeline delivers.")

    @model_validator(mode="after")
    def _one_source(self) -> "DeliverySource":
        connection = self.connection_arn is not None or self.repository is not None
        if connection == (self.codecommit_repository is not None):
            raise ValueError("name either connection_arn with repository, or codecommit_repository, got "
                             f"{shorten({k: v for k, v in self.model_dump().items() if v is not None and k != 'branch'})}")
        if connection and (self.connection_arn is None or not _CONNECTION_ARN.match(self.connection_arn)):
            raise ValueError("connection_arn must be a CodeConnections connection ARN "
                             f"(arn:aws:codeconnections:REGION:ACCOUNT:connection/ID), got {shorten(self.connection_arn)}")
        if connection and not re.match(r"^[\w.-]{1,100}/[\w.-]{1,100}$", self.repository or ""):
            raise ValueError(f"repository must be owner/name, got {shorten(self.repository)}")
        if self.codecommit_repository is not None and not re.match(r"^[\w.-]{1,100}$", self.codecommit_repository):
            raise ValueError(f"codecommit_repository must be 1-100 letters, digits and ._-, got "
                             f"{shorten(self.codecommit_repository)}")
        if not re.match(r"^[\w./-]{1,255}$", self.branch):
            raise ValueError(f"branch must be a Git branch name, got {shorten(self.branch)}")
        return self


class Delivery(_Model):
    """The delivery pipeline (docs/delivery.md): CDK Pipelines on CodePipeline V2 in a tooling account,
    one wave per stage in order, production waves after a manual approval."""

    account: str = Field(description="The tooling account's 12-digit id, quoted: the pipeline's home.")
    region: str = Field(description="The pipeline's Region.")
    source: DeliverySource = Field(description="The repository and branch the pipeline delivers.")
    approvers: list[str] = Field(description=(
        "IAM role ARNs of the people who may approve production (the platform approvers group, e.g. an IAM "
        "Identity Center permission set's role): they assume the pipeline's approver role, the only role "
        "granted codepipeline:PutApprovalResult on its production gates."))
    actions_per_stage: int = Field(50, description=(
        "CodePipeline's quota of actions in one pipeline stage (default 50); waves are split to stay within it."))
    stages_per_pipeline: int = Field(50, description=(
        "CodePipeline's quota of stages in one pipeline (default 50); the registry is refused beyond it."))

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        check_account_ids("account", [value])
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        check_pipeline_region("region", value)  # the stages' partition: a pipeline deploys in its own
        return value

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must name at least one role: a production change needs someone to approve it")
        return _role_arns("approvers", value)

    @field_validator("actions_per_stage", "stages_per_pipeline")
    @classmethod
    def _quota(cls, value: int) -> int:
        if not 5 <= value <= 1000:
            raise ValueError(f"a CodePipeline quota between 5 and 1000, got {value}")
        return value


class Registry(_Model):
    """The team registry (platform.yaml)."""

    platform: Platform = Field(default_factory=lambda: Platform(), description="Settings of the whole platform.")
    stages: dict[str, Stage] = Field(description="Stage name -> where it deploys. Names as team names.")
    shared_environments: list[SharedEnvironment] = Field(default_factory=list, description=(
        "Environments several teams share."))
    teams: list[Team] = Field(description="The teams.")
    delivery: Optional[Delivery] = Field(None, description=(
        "The delivery pipeline in a tooling account (docs/delivery.md). Default: none (cdk deploy by hand)."))

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: dict[str, Stage]) -> dict[str, Stage]:
        if not value:
            raise ValueError("must declare at least one stage")
        findings = _Findings()
        for name in value:
            if not re.match(NAME_PATTERN, name) or len(name) > 20:
                findings.add((name,), f"stages: stage name {shorten(name)} must be 2-20 lowercase letters, digits and "
                                      "'-', starting with a letter and not ending with '-'")
        findings.done()
        return value

    @field_validator("teams")
    @classmethod
    def _teams(cls, value: list[Team]) -> list[Team]:
        if not value:
            raise ValueError("must list at least one team")
        return value


def json_schema() -> dict[str, Any]:
    """The registry's JSON Schema, for editors (``docs/registry.schema.json``)."""
    schema = Registry.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mwaa-platform team registry"
    return schema


def reference_markdown() -> str:
    """The key-by-key reference of ``docs/registry.md``, generated from the models."""
    sections = []
    for model in (Registry, Platform, Network, Stage, Team, TeamEnvironment, BlueGreen, ServerlessWorkflowSettings,
                  SharedEnvironment, SecretsBackend,
                  WheelhouseSettings, PackageIndexSettings, Compute, EcsTask, BatchJobSettings, EksPods, Image,
                  CrossAccountTarget, PolicyStatementSettings, WebAccess, WebIngress, Delivery, DeliverySource):
        rows = [f"### `{model.__name__}`", "", (model.__doc__ or "").strip().splitlines()[0], "",
                "| key | default | meaning |", "|---|---|---|"]
        for name, info in model.model_fields.items():
            if info.is_required():
                default = "required"
            elif info.default_factory is not None:
                made = info.default_factory()  # type: ignore[call-arg]
                default = f"`{made!r}`" if not isinstance(made, BaseModel) else "see below"
            else:
                default = f"`{info.default!r}`" if info.default is not None else "none"
            rows.append(f"| `{name}` | {default} | {(info.description or '').replace('|', '/')} |")
        sections.append("\n".join(rows))
    return "\n\n".join(sections) + "\n"


__all__ = [
    "CAPACITY_FIELDS", "LOG_RETENTION_DAYS", "NOT_YET_SUPPORTED", "NAT_GATEWAY_CHOICES", "TAGS_PER_RESOURCE_MAX",
    "ZONE_LETTERS", "Loc", "Problems", "capacity_bounds", "capacity_range", "tag_value_problem", "EnvironmentSettings",
    "Network", "Platform", "Registry", "SecretsBackend", "SharedEnvironment", "Stage", "Team", "TeamEnvironment",
    "BatchJobSettings", "Compute", "Delivery", "DeliverySource", "EcsTask", "Image", "PackageIndexSettings", "WebAccess", "WebIngress", "WheelhouseSettings", "json_schema", "reference_markdown",
]
