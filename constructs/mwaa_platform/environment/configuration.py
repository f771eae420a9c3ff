"""Airflow configuration options: one map, typed helpers, and no key silently dropped."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Optional

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform.environment.environment_class import EnvironmentClass
from mwaa_platform.environment.versions import AirflowVersionInfo, version_info

SECRETS_MANAGER_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"

_OPTION_KEY = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")
_SECRET_PREFIX = re.compile(r"^[A-Za-z0-9/_+=.@-]+$")


class AirflowConfiguration:
    """The ``AirflowConfigurationOptions`` map, built from several sources.

    Each key remembers which source set it. Setting a key again to the same value is fine; setting
    it to a different value raises, naming both sources, so no helper ever silently overrides
    another's keys.
    """

    def __init__(self, options: Optional[Mapping[str, object]] = None) -> None:
        """
        :param options: the user's own options, recorded as ``airflow_configuration_options``.
            Default: none.
        """
        self._options: dict[str, str] = {}
        self._sources: dict[str, str] = {}
        self.update(options or {}, source="airflow_configuration_options")

    def set(self, key: str, value: object, *, source: str) -> None:
        if not isinstance(key, str) or not _OPTION_KEY.match(key):
            raise MwaaPlatformError(f"{source}: Airflow configuration keys look like 'section.option', got {shorten(key)}")
        text = _as_text(value)
        if key in self._options and self._options[key] != text:
            raise MwaaPlatformError(
                f"{source} sets Airflow configuration option {shorten(key)} to {shorten(text)}, but "
                f"{self._sources[key]} already set it to {shorten(self._options[key])}"
            )
        self._options[key] = text
        self._sources.setdefault(key, source)

    def update(self, options: Mapping[str, object], *, source: str) -> None:
        for key, value in options.items():
            self.set(key, value, source=source)

    def to_dict(self) -> dict[str, str]:
        return dict(sorted(self._options.items()))

    def source_of(self, key: str) -> str:
        """The source that set ``key`` first, e.g. ``airflow_configuration_options``."""
        return self._sources[key]

    def __contains__(self, key: str) -> bool:
        return key in self._options

    def __getitem__(self, key: str) -> str:
        return self._options[key]


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise MwaaPlatformError(f"Airflow configuration values must be strings, numbers or booleans, got {shorten(value)}")


@dataclass(frozen=True)
class SecretsManagerBackend:
    """Read Airflow connections and variables from AWS Secrets Manager, under this environment's own prefixes.

    The prefixes are the access boundary: the execution role may read only secrets under them, so
    each environment gets its own (``airflow/<environment>/connections`` by default), and two
    environments of one account and Region that would share a prefix fail the preflight check
    ``shared-secret-prefix``. Lookup patterns are regular expressions matched against connection
    ids / variable keys; only matches call Secrets Manager, which cuts API calls and cost. They
    are filters inside Airflow, not access boundaries: DAG code can call Secrets Manager directly.

    :param connections_prefix: where connections live. Default: ``airflow/<environment>/connections``.
    :param variables_prefix: where variables live. Default: ``airflow/<environment>/variables``.
    :param connections_lookup_pattern: only connection ids matching it are looked up. Default:
        every connection id is looked up.
    :param variables_lookup_pattern: only variable keys matching it are looked up. Default: every
        variable key is looked up.
    :param use_cache: Airflow's secrets cache (Airflow 2.7+). Default: True.
    :param cache_ttl_seconds: how long a cached secret is used. Default: Airflow's own (900 s).
    :param key: the customer managed key the secrets are encrypted with; the execution role gets
        ``kms:Decrypt`` on it through Secrets Manager only. Default: none (the AWS managed key
        ``aws/secretsmanager``, which needs no grant).
    """

    connections_prefix: Optional[str] = None
    variables_prefix: Optional[str] = None
    connections_lookup_pattern: Optional[str] = None
    variables_lookup_pattern: Optional[str] = None
    use_cache: bool = True
    cache_ttl_seconds: Optional[int] = None
    key: Optional[kms.IKey] = None

    def __post_init__(self) -> None:
        for name in ("connections_prefix", "variables_prefix"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, str) or not _SECRET_PREFIX.match(value) or value.endswith("/")
            ):
                raise MwaaPlatformError(
                    f"secrets backend {name} must be a Secrets Manager name prefix without a trailing '/', "
                    f"of letters, digits and /_+=.@-, got {shorten(value)}"
                )
        for name in ("connections_lookup_pattern", "variables_lookup_pattern"):
            value = getattr(self, name)
            if value is not None:
                try:
                    re.compile(value)
                except (re.error, TypeError) as error:
                    raise MwaaPlatformError(
                        f"secrets backend {name} must be a regular expression, got {shorten(value)}: {error}"
                    ) from None
        if self.cache_ttl_seconds is not None and (
            isinstance(self.cache_ttl_seconds, bool) or not isinstance(self.cache_ttl_seconds, int)
            or self.cache_ttl_seconds < 1
        ):
            raise MwaaPlatformError(
                f"secrets backend cache_ttl_seconds must be a positive integer, got {shorten(self.cache_ttl_seconds)}"
            )

    def for_environment(self, environment_name: str) -> "SecretsManagerBackend":
        """This backend with the default prefixes filled in for ``environment_name``."""
        return replace(
            self,
            connections_prefix=self.connections_prefix or f"airflow/{environment_name}/connections",
            variables_prefix=self.variables_prefix or f"airflow/{environment_name}/variables",
        )

    @property
    def prefixes(self) -> tuple[str, str]:
        """(connections prefix, variables prefix); resolve with ``for_environment`` first."""
        if self.connections_prefix is None or self.variables_prefix is None:
            raise MwaaPlatformError("secrets backend prefixes are not resolved: call for_environment(name) first")
        return self.connections_prefix, self.variables_prefix

    def options(self) -> dict[str, str]:
        connections, variables = self.prefixes
        kwargs = {"connections_prefix": connections, "variables_prefix": variables}
        if self.connections_lookup_pattern is not None:
            kwargs["connections_lookup_pattern"] = self.connections_lookup_pattern
        if self.variables_lookup_pattern is not None:
            kwargs["variables_lookup_pattern"] = self.variables_lookup_pattern
        options = {
            "secrets.backend": SECRETS_MANAGER_BACKEND,
            "secrets.backend_kwargs": json.dumps(kwargs, separators=(",", ":")),
            "secrets.use_cache": _as_text(self.use_cache),
        }
        if self.cache_ttl_seconds is not None:
            options["secrets.cache_ttl_seconds"] = str(self.cache_ttl_seconds)
        return options

    def secret_arns(self, scope: IConstruct) -> list[str]:
        """ARNs of every secret under the two prefixes (Secrets Manager appends a random suffix)."""
        stack = Stack.of(scope)
        return [
            stack.format_arn(
                service="secretsmanager", resource="secret", resource_name=f"{prefix}/*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for prefix in self.prefixes
        ]

    def read_statements(self, scope: IConstruct) -> list[iam.PolicyStatement]:
        """What the Amazon provider's backend calls: GetSecretValue (and DescribeSecret) on the
        prefixes, and kms:Decrypt through Secrets Manager on ``key`` when there is one."""
        statements = [iam.PolicyStatement(
            sid="ReadAirflowSecrets",
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resources=self.secret_arns(scope),
        )]
        if self.key is not None:
            statements.append(iam.PolicyStatement(
                sid="DecryptAirflowSecrets",
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Stack.of(scope).region}.amazonaws.com"}},
            ))
        return statements


@dataclass(frozen=True)
class CeleryConcurrency:
    """``celery.worker_autoscale``: tasks per worker, at most the class's concurrent-task limit.

    :param max_tasks: the most tasks one worker runs at once (1 to the class's limit).
    :param min_tasks: the fewest tasks one worker keeps ready for. Default: 0.
    """

    max_tasks: int
    min_tasks: int = 0

    def options(self, env_class: EnvironmentClass) -> dict[str, str]:
        limit = env_class.concurrent_tasks_per_worker
        for name in ("max_tasks", "min_tasks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
                raise MwaaPlatformError(f"celery_concurrency {name} must be between 0 and {limit} for {env_class}, got {shorten(value)}")
        if self.max_tasks < 1 or self.min_tasks > self.max_tasks:
            raise MwaaPlatformError(
                f"celery_concurrency needs 1 <= max_tasks and min_tasks <= max_tasks for {env_class}, "
                f"got max_tasks={self.max_tasks}, min_tasks={self.min_tasks}"
            )
        return {"celery.worker_autoscale": f"{self.max_tasks},{self.min_tasks}"}


#: Airflow 2 spellings of the metrics filters, deprecated since 2.6.0 and no longer read by Airflow 3,
#: and the options that replaced them (read by every version MWAA runs, 2.7.2 and later).
RENAMED_METRICS_OPTIONS: Mapping[str, str] = {
    "metrics.statsd_allow_list": "metrics.metrics_allow_list",
    "metrics.statsd_block_list": "metrics.metrics_block_list",
}


def metrics_allow_list_options(prefixes: Sequence[str], *, parameter: str = "metrics_allow_list") -> dict[str, str]:
    """``metrics.metrics_allow_list``: only metrics these entries match reach CloudWatch.

    Airflow 2 keeps a metric whose name starts with an entry (regular expressions matched anywhere
    in the name with ``metrics.metrics_use_pattern_match``); Airflow 3 always matches entries as
    regular expressions anywhere in the name, so a prefix such as ``scheduler`` keeps at least what
    it keeps on Airflow 2.

    :param parameter: the parameter the prefixes came from, for error messages.
    """
    if isinstance(prefixes, str) or not prefixes:
        raise MwaaPlatformError(f"{parameter} must be a non-empty list of metric name prefixes, got {shorten(prefixes)}")
    for prefix in prefixes:
        if not isinstance(prefix, str) or not re.match(r"^[A-Za-z0-9_.]+$", prefix):
            raise MwaaPlatformError(f"{parameter} entries are metric name prefixes (letters, digits, _ and .), got {shorten(prefix)}")
    return {"metrics.metrics_allow_list": ",".join(prefixes)}


@dataclass(frozen=True)
class MetricsFilter:
    """The metrics filter Airflow applies, read from the options the way Airflow reads them.

    Airflow reads ``metrics.metrics_allow_list`` and ``metrics.metrics_block_list``; Airflow 2 falls
    back to the deprecated ``metrics.statsd_*`` spelling of each when the new one is not set (the
    new one wins when both are), Airflow 3 reads only the new ones. A non-empty allow list wins
    and the block list is then ignored (``airflow/metrics/validators.py``, ``get_validator``).
    Entries are split on commas, stripped and lower-cased as Airflow does (an empty entry matches
    every name); they are prefixes on Airflow 2 unless ``metrics.metrics_use_pattern_match`` is
    true, and regular expressions matched anywhere in the name on Airflow 3.

    :param key: the option the filter comes from, e.g. ``metrics.metrics_allow_list``.
    :param value: its value, as set.
    :param allow: True for an allow list, False for a block list.
    :param patterns: entries are regular expressions matched anywhere, not prefixes.
    """

    key: str
    value: str
    allow: bool
    patterns: bool

    @property
    def entries(self) -> tuple[str, ...]:
        return tuple(item.strip().lower() for item in self.value.split(","))

    def keeps(self, metric_name: str) -> bool:
        """Whether Airflow publishes ``metric_name`` through this filter."""
        name = metric_name.strip().lower()
        if self.patterns:
            try:
                matched = any(re.search(entry, name) for entry in self.entries)
            except re.error as error:
                raise MwaaPlatformError(
                    f"{self.key} entries are regular expressions on this Airflow version, got {shorten(self.value)}: {error}"
                ) from None
        else:
            matched = name.startswith(self.entries)
        return matched if self.allow else not matched

    @classmethod
    def read(cls, options: Mapping[str, str], version: AirflowVersionInfo) -> "Optional[MetricsFilter]":
        """The filter Airflow ``version`` applies with ``options``; None when it keeps every metric."""
        use_patterns = options.get("metrics.metrics_use_pattern_match", "").split("#")[0].strip().lower()
        patterns = version.metrics_entries_are_patterns or use_patterns in ("t", "true", "1")
        for kind in ("allow", "block"):
            key, value = _metrics_list(options, kind, version)
            if value:
                return cls(key=key, value=value, allow=kind == "allow", patterns=patterns)
        return None


def _metrics_list(options: Mapping[str, str], kind: str, version: AirflowVersionInfo) -> tuple[str, str]:
    """(the option Airflow reads, its value or "") for the ``allow`` or ``block`` list."""
    key, old = f"metrics.metrics_{kind}_list", f"metrics.statsd_{kind}_list"
    if key not in options and old in version.metrics_filter_options and old in options:
        key = old
    return key, options.get(key, "")


def check_metrics_options(configuration: AirflowConfiguration, airflow_version: str) -> list[str]:
    """Refuse metrics options that ``airflow_version`` would silently ignore; return warnings for
    those it reads but are deprecated, or set but ignored.

    - Airflow 3 no longer reads ``metrics.statsd_allow_list`` / ``statsd_block_list``: an error
      naming the replacement.
    - Both spellings of one filter at once: an error on every version (Airflow 2 reads the new one
      and ignores the old one, Airflow 3 reads only the new one).
    - The old spelling alone on Airflow 2: a warning (it stops working on the way to Airflow 3).
    - An allow list and a block list at once: a warning (Airflow ignores the block list).
    """
    version = version_info(airflow_version)
    warnings: list[str] = []
    for old, new in RENAMED_METRICS_OPTIONS.items():
        if old not in configuration:
            continue
        if new in configuration:
            raise MwaaPlatformError(
                f"{configuration.source_of(old)} sets {old} and {configuration.source_of(new)} sets {new}: Airflow "
                f"reads only {new} ({old} is its deprecated name on Airflow 2 and not read by Airflow 3); drop {old}"
            )
        if old not in version.metrics_filter_options:
            raise MwaaPlatformError(
                f"{configuration.source_of(old)} sets {old}, which Airflow {airflow_version} no longer reads (the "
                f"filter would be silently ignored): use {new}"
            )
        warnings.append(f"{configuration.source_of(old)} sets {old}, a deprecated name that Airflow 3 no longer "
                        f"reads: use {new}, which Airflow {airflow_version} reads too")
    options = configuration.to_dict()
    (allow_key, allow), (block_key, block) = (_metrics_list(options, kind, version) for kind in ("allow", "block"))
    if allow and block:
        warnings.append(f"{allow_key} and {block_key} are both set: Airflow applies the allow list and ignores "
                        "the block list")
    return warnings
