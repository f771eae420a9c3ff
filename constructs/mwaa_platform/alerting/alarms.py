"""EnvironmentAlarms: CloudWatch alarms on the metrics MWAA really publishes, to a team's alert topic.

Two namespaces, with different dimensions (``../docs/alerting.md`` lists every alarm):
- ``AmazonMWAA``: Airflow's statsd metrics, by ``Environment`` and ``Function``. The environment's
  metrics allow or block list (``metrics.metrics_allow_list``, or on Airflow 2 its deprecated name
  ``metrics.statsd_allow_list``) can drop them silently, so an alarm on one that would never arrive
  is a synthesis error.
- ``AWS/MWAA``: containers by ``Environment`` and ``Cluster``, the queue by ``Environment``, the
  metadata database by ``Environment`` and ``DatabaseRole``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any, Literal, Optional, TypedDict, Union

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct
from typing_extensions import Unpack

from mwaa_platform._internal.kinds import check_kind
from mwaa_platform.alerting.topic import AnyTopic, alert_topic_of, check_topic
from mwaa_platform.environment.base import AirflowEnvironmentBase, IAirflowEnvironment, check_environment
from mwaa_platform.environment.configuration import MetricsFilter
from mwaa_platform.environment.versions import newest_of_major, version_info
from mwaa_platform.environment.environment_class import (
    ENVIRONMENT_CLASSES,
    EnvironmentClass,
    lookup_environment_class,
)
from mwaa_platform.environment.options import EnvironmentClassName, MwaaCluster
from mwaa_platform.errors import MwaaPlatformError, MwaaPlatformTypeError, shorten, validating

__all__ = [
    "ALARMS", "PERIOD_MINUTES", "AlarmOverride", "AlarmOverrides", "AlarmSettings", "AlarmSpec", "AlarmThresholds",
    "EnvironmentAlarms", "PeriodMinutes", "ThresholdOverrides", "alarms_markdown", "check_metrics_filters",
    "check_statsd_filters",
]

_Compare = cloudwatch.ComparisonOperator
_Missing = cloudwatch.TreatMissingData
#: The container clusters MWAA reports CPU and memory for.
CLUSTERS: tuple[MwaaCluster, ...] = ("Scheduler", "BaseWorker", "AdditionalWorker", "WebServer")

#: The periods CloudWatch alarms on these metrics use, in minutes.
PeriodMinutes = Literal[1, 5, 10, 15, 30, 60]
PERIOD_MINUTES: tuple[int, ...] = (1, 5, 10, 15, 30, 60)


@dataclass(frozen=True)
class AlarmSettings:
    """When one alarm fires: ``threshold``, over ``evaluation_periods`` periods of ``period_minutes``.

    :param threshold: in the metric's unit (MiB for freeable memory).
    :param evaluation_periods: consecutive breaching periods before the alarm fires, 1-24. Default: 3.
    :param period_minutes: 1, 5, 10, 15, 30 or 60. Default: 5.
    """

    threshold: float
    evaluation_periods: int = 3
    period_minutes: PeriodMinutes = 5

    def check(self, name: str) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or self.threshold < 0:
            raise MwaaPlatformError(f"thresholds.{name}.threshold must be a number of at least 0, got {shorten(self.threshold)}")
        if isinstance(self.evaluation_periods, bool) or not isinstance(self.evaluation_periods, int) or not (
                1 <= self.evaluation_periods <= 24):
            raise MwaaPlatformError(f"thresholds.{name}.evaluation_periods must be 1-24, got {shorten(self.evaluation_periods)}")
        if isinstance(self.period_minutes, bool) or self.period_minutes not in PERIOD_MINUTES:
            raise MwaaPlatformError(
                f"thresholds.{name}.period_minutes must be one of {', '.join(map(str, PERIOD_MINUTES))}, got "
                f"{shorten(self.period_minutes)}")


class AlarmOverride(TypedDict, total=False):
    """Some settings of one alarm; those left out keep ``AlarmThresholds.for_class``'s."""

    threshold: float
    evaluation_periods: int
    period_minutes: PeriodMinutes


class AlarmOverrides(TypedDict, total=False):
    """Overrides by alarm setting, typed: ``AlarmOverrides(queued_tasks=AlarmOverride(threshold=40))``
    lets mypy check every name and value. Each one left out keeps ``AlarmThresholds.for_class``'s."""

    scheduler_heartbeat: AlarmOverride
    queued_tasks: AlarmOverride
    queue_age_seconds: AlarmOverride
    import_errors: AlarmOverride
    cpu_percent: AlarmOverride
    memory_percent: AlarmOverride
    database_cpu_percent: AlarmOverride
    database_freeable_memory_mib: AlarmOverride
    database_connections: AlarmOverride


#: What ``with_overrides`` and ``EnvironmentAlarms(thresholds=...)`` take: ``AlarmOverrides`` (which mypy
#: checks), or a plain mapping of alarm setting to ``AlarmOverride``-like dict or ``AlarmSettings`` (the
#: registry's form, checked when it is applied).
ThresholdOverrides = Union[AlarmOverrides, Mapping[str, Union[AlarmSettings, Mapping[str, Any]]]]


@dataclass(frozen=True)
class AlarmThresholds:
    """Every alarm's settings. ``for_class`` gives starting points scaled to an environment class."""

    scheduler_heartbeat: AlarmSettings
    queued_tasks: AlarmSettings
    queue_age_seconds: AlarmSettings
    import_errors: AlarmSettings
    cpu_percent: AlarmSettings
    memory_percent: AlarmSettings
    database_cpu_percent: AlarmSettings
    database_freeable_memory_mib: AlarmSettings
    database_connections: AlarmSettings

    @classmethod
    def for_class(cls, environment_class: Union[EnvironmentClassName, EnvironmentClass]) -> "AlarmThresholds":
        env_class = lookup_environment_class(environment_class)
        scale = env_class.concurrent_tasks_per_worker / 5  # mw1.small = 1, doubling with each class
        return cls(
            scheduler_heartbeat=AlarmSettings(1, evaluation_periods=2),
            queued_tasks=AlarmSettings(5 * env_class.concurrent_tasks_per_worker),
            queue_age_seconds=AlarmSettings(600),
            import_errors=AlarmSettings(0, evaluation_periods=1),
            cpu_percent=AlarmSettings(90),
            memory_percent=AlarmSettings(90),
            database_cpu_percent=AlarmSettings(90),
            database_freeable_memory_mib=AlarmSettings(max(128, 256 * scale)),
            database_connections=AlarmSettings(max(50, 100 * scale)),
        )

    def with_overrides(self, overrides: ThresholdOverrides) -> "AlarmThresholds":
        """These thresholds with some settings replaced, e.g. ``{"queued_tasks": {"threshold": 40}}``.

        Each value is an ``AlarmOverride`` (some settings) or a whole ``AlarmSettings``. A plain
        dict (the registry's form) is checked here; ``AlarmOverrides`` is checked by mypy too, and
        so is the keyword form ``overridden``.
        """
        if not isinstance(overrides, Mapping):
            raise MwaaPlatformTypeError(f"thresholds must be a mapping of alarm settings (AlarmOverrides), got "
                                        f"{type(overrides).__name__} {shorten(overrides)}")
        known = [f.name for f in fields(self)]
        changed = {}
        for name, values in overrides.items():
            if name not in known:
                raise MwaaPlatformError(f"thresholds: unknown alarm {shorten(name)}; allowed: {', '.join(known)}")
            if isinstance(values, AlarmSettings):
                changed[name] = values
                continue
            if not isinstance(values, Mapping):
                raise MwaaPlatformTypeError(
                    f"thresholds.{name} must be an AlarmOverride (threshold, evaluation_periods, period_minutes) or "
                    f"AlarmSettings, got {shorten(values)}")
            unknown = sorted(set(values) - {"threshold", "evaluation_periods", "period_minutes"})
            if unknown:
                raise MwaaPlatformError(f"thresholds.{name}: unknown setting {shorten(unknown[0])}; allowed: "
                                        "threshold, evaluation_periods, period_minutes")
            changed[name] = replace(getattr(self, name), **values)
        result = replace(self, **changed)
        result.check()
        return result

    def overridden(self, **overrides: Unpack[AlarmOverrides]) -> "AlarmThresholds":
        """``with_overrides`` with keywords, which mypy checks: ``overridden(queued_tasks={"threshold": 40})``."""
        return self.with_overrides(overrides)

    def check(self) -> None:
        """Raise naming the first setting out of range."""
        for item in fields(self):
            settings = getattr(self, item.name)
            check_kind(f"thresholds.{item.name}", settings, AlarmSettings)
            settings.check(item.name)


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches and what to check first when it fires (``docs/alerting.md``)."""

    slug: str
    setting: str
    comparison: cloudwatch.ComparisonOperator
    missing: cloudwatch.TreatMissingData
    meaning: str
    first_check: str
    metric: Callable[[AirflowEnvironmentBase, Duration], cloudwatch.Metric]
    #: The Airflow statsd name the metric comes from (``AmazonMWAA`` namespace only).
    statsd_name: Optional[str] = None
    #: Threshold unit conversion (MiB to bytes).
    scale: float = 1
    #: Only for classes that scale workers (there is no AdditionalWorker on mw1.micro).
    scaling_only: bool = False


def _cluster_metric(
    metric_name: str, cluster: MwaaCluster
) -> Callable[[AirflowEnvironmentBase, Duration], cloudwatch.Metric]:
    def metric(env: AirflowEnvironmentBase, period: Duration) -> cloudwatch.Metric:
        return env.metric_service(metric_name, dimensions={"Cluster": cluster}, period=period)
    return metric


def _cluster_alarms(kind: str, metric_name: str, setting: str) -> list[AlarmSpec]:
    return [AlarmSpec(
        f"{kind}-{cluster.lower()}", setting, _Compare.GREATER_THAN_THRESHOLD, _Missing.NOT_BREACHING,
        f"{metric_name} of the {cluster} containers stayed above the threshold.",
        "The environment's class: a busy scheduler parses too many DAGs (see TotalParseTime), busy workers run "
        "heavy code in-process that belongs in task compute.",
        _cluster_metric(metric_name, cluster),
        scaling_only=cluster == "AdditionalWorker",
    ) for cluster in CLUSTERS]


#: Every alarm EnvironmentAlarms creates, in order.
ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec("scheduler-heartbeat", "scheduler_heartbeat", _Compare.LESS_THAN_THRESHOLD, _Missing.BREACHING,
              "The scheduler stopped heartbeating: no DAG run or task is being scheduled. Missing data counts as down.",
              "The environment's status, then the scheduler log group (airflow-<env>-Scheduler) for crashes at start "
              "(requirements, plugins, startup script).",
              lambda env, period: env.metric_scheduler_heartbeat(period=period), statsd_name="scheduler_heartbeat"),
    AlarmSpec("queued-tasks", "queued_tasks", _Compare.GREATER_THAN_THRESHOLD, _Missing.NOT_BREACHING,
              "Tasks pile up in the executor's queue faster than workers take them.",
              "Workers at max_workers (NumWorkers), pools and max_active_tasks; then whether tasks run heavy work "
              "in-process instead of in task compute.",
              lambda env, period: env.metric_queued_tasks(period=period), statsd_name="executor.queued_tasks"),
    AlarmSpec("queue-age", "queue_age_seconds", _Compare.GREATER_THAN_THRESHOLD, _Missing.NOT_BREACHING,
              "The oldest queued task has waited longer than the threshold (seconds).",
              "Worker health and scaling (NumWorkers, worker CPU and memory); a stuck worker holds its slots.",
              lambda env, period: env.metric_service("ApproximateAgeOfOldestTask", period=period,
                                                     statistic="Maximum")),
    AlarmSpec("import-errors", "import_errors", _Compare.GREATER_THAN_THRESHOLD, _Missing.NOT_BREACHING,
              "At least one DAG file fails to import, so its DAGs vanish from the scheduler.",
              "The Airflow UI's import error banner or the DAG processing log group; usually a missing package or a "
              "syntax error in the last DAG deploy.",
              lambda env, period: env.metric_import_errors(period=period), statsd_name="dag_processing.import_errors"),
    *_cluster_alarms("cpu", "CPUUtilization", "cpu_percent"),
    *_cluster_alarms("memory", "MemoryUtilization", "memory_percent"),
    AlarmSpec("database-cpu", "database_cpu_percent", _Compare.GREATER_THAN_THRESHOLD, _Missing.NOT_BREACHING,
              "The metadata database's CPU stayed high: scheduling and the UI slow down.",
              "DAGs that query the metadata database, a large task-instance history (clean it up), too many schedulers.",
              lambda env, period: env.metric_database("CPUUtilization", period=period)),
    AlarmSpec("database-freeable-memory", "database_freeable_memory_mib", _Compare.LESS_THAN_THRESHOLD,
              _Missing.NOT_BREACHING, "The metadata database is running out of memory (threshold in MiB).",
              "Database connections and long queries; a larger environment class has a larger database.",
              lambda env, period: env.metric_database("FreeableMemory", period=period), scale=1024 * 1024),
    AlarmSpec("database-connections", "database_connections", _Compare.GREATER_THAN_THRESHOLD, _Missing.NOT_BREACHING,
              "Connections to the metadata database are near what the class's database holds.",
              "Tasks or plugins that open database sessions, and the number of workers and schedulers.",
              lambda env, period: env.metric_database("DatabaseConnections", period=period, statistic="Maximum")),
)


def alarms_markdown() -> str:
    """The table of every alarm for ``docs/alerting.md`` (``make registry-docs`` writes it)."""
    environment = _docs_environment()
    defaults = {name: AlarmThresholds.for_class(ENVIRONMENT_CLASSES[name]) for name in ("mw1.micro", "mw1.small",
                                                                                          "mw1.2xlarge")}
    rows = ["| alarm | metric | fires when (threshold on mw1.micro / mw1.small / mw1.2xlarge where they differ) "
            "| what it means | first check |", "|---|---|---|---|---|"]
    for spec in ALARMS:
        metric = spec.metric(environment, Duration.minutes(5))
        dimensions = ", ".join(f"{k}={v}" for k, v in (metric.dimensions or {}).items() if k != "Environment")
        setting = {name: getattr(value, spec.setting) for name, value in defaults.items()}
        sign = "<" if spec.comparison == _Compare.LESS_THAN_THRESHOLD else ">"
        thresholds = " / ".join(dict.fromkeys(f"{s.threshold:g}" for s in setting.values()))
        small = setting["mw1.small"]
        missing = " (missing data: alarm)" if spec.missing == _Missing.BREACHING else ""
        rows.append(
            f"| `{spec.slug}`{' (not on mw1.micro)' if spec.scaling_only else ''} | `{metric.namespace}` "
            f"`{metric.metric_name}` {metric.statistic}" + (f", {dimensions}" if dimensions else "") +
            f" | {sign} {thresholds} for {small.evaluation_periods} x {small.period_minutes} min{missing} "
            f"(`{spec.setting}`) | {spec.meaning} | {spec.first_check} |")
    return "\n".join(rows) + "\n"


def _camel(enum_name: str, *, upper_first: bool = True) -> str:
    """CloudFormation's spelling of a CDK enum member: LESS_THAN_THRESHOLD -> LessThanThreshold,
    NOT_BREACHING -> notBreaching."""
    words = [word.capitalize() for word in enum_name.split("_")]
    return "".join(words) if upper_first else words[0].lower() + "".join(words[1:])


@cache
def _metric_data(spec: AlarmSpec) -> tuple[str, str, str, dict[str, str]]:
    """(namespace, metric name, statistic, dimensions besides Environment) of an alarm's metric,
    read once per process from the metric the environment helpers build."""
    metric = spec.metric(_docs_environment(), Duration.minutes(5))
    dimensions = {k: str(v) for k, v in (metric.dimensions or {}).items() if k != "Environment"}
    return metric.namespace, metric.metric_name, metric.statistic, dimensions


@cache
def _docs_environment() -> AirflowEnvironmentBase:
    """An imported environment in an app of its own, only for reading metric definitions."""
    from aws_cdk import App, Stack

    from mwaa_platform.environment.environment import AirflowEnvironment

    return AirflowEnvironment.from_environment_name(Stack(App(), "Metrics"), "Environment", "ENV")


def check_metrics_filters(options: Mapping[str, str], alarms: tuple[AlarmSpec, ...] = ALARMS, *,
                          airflow_version: Optional[str] = None) -> None:
    """Raise if the environment's metrics allow or block list would drop a metric an alarm needs.

    The filter is read as Airflow reads it (``MetricsFilter.read``): ``metrics.metrics_allow_list``
    / ``metrics_block_list``, on Airflow 2 falling back to the deprecated ``metrics.statsd_*``
    names; a non-empty allow list wins over a block list. Entries are prefixes on Airflow 2
    (regular expressions with ``metrics.metrics_use_pattern_match``) and regular expressions
    matched anywhere in the name on Airflow 3.

    :param airflow_version: the environment's Airflow version. Default: unknown, so the options are
        checked as Airflow 2 and Airflow 3 would each read them.
    """
    # unknown: as the newest Airflow 2 and the newest Airflow 3 read them (the version table's rows)
    candidates = (version_info(airflow_version),) if airflow_version is not None else (
        newest_of_major(2), newest_of_major(3))
    for version in candidates:
        metrics_filter = MetricsFilter.read(options, version)
        if metrics_filter is None:
            continue
        where = f" on Airflow {version.major}" if airflow_version is None else ""
        for spec in alarms:
            if spec.statsd_name is None or metrics_filter.keeps(spec.statsd_name):
                continue
            fix = (f"add {spec.statsd_name.split('.')[0]} to the allow list" if metrics_filter.allow
                   else "remove it from the block list")
            raise MwaaPlatformError(
                f"{metrics_filter.key} {shorten(metrics_filter.value)} drops Airflow metric {spec.statsd_name}{where}, "
                f"which alarm {spec.slug} needs: {fix}")


#: The earlier name of ``check_metrics_filters`` (it checks every metrics filter, not only statsd_*).
check_statsd_filters = check_metrics_filters


class EnvironmentAlarms(Construct):
    """The alarms of ``ALARMS`` on one environment, named ``<environment>-<alarm>``, alarm and OK to ``topic``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: IAirflowEnvironment,
        topic: AnyTopic,
        environment_class: Union[EnvironmentClassName, EnvironmentClass] = "mw1.small",
        thresholds: Union[ThresholdOverrides, AlarmThresholds, None] = None,
        airflow_configuration_options: Optional[Mapping[str, str]] = None,
        airflow_version: Optional[str] = None,
    ) -> None:
        """
        :param environment: an ``AirflowEnvironment``, or one imported by name.
        :param topic: where alarm and OK notifications go: an ``AlertTopic`` (or ``AlertTopic.from_topic_arn``)
            or any ``sns.ITopic``; CloudWatch is allowed to publish there for these alarms (an imported
            topic's owner must allow it).
        :param environment_class: scales the default thresholds. Default: the environment's class
            when it is an ``AirflowEnvironment``, else mw1.small.
        :param thresholds: overrides by alarm setting: ``AlarmOverrides(queued_tasks=AlarmOverride(threshold=40,
            evaluation_periods=2))`` (the same as a dict, which is checked when the construct is built),
            or a whole ``AlarmThresholds``, used as it is. Default: ``AlarmThresholds.for_class``.
        :param airflow_configuration_options: the environment's Airflow options, to check the metrics
            filters against. Default: the environment's own when it is an ``AirflowEnvironment``.
        :param airflow_version: the environment's Airflow version, which decides how the filters are
            read. Default: the environment's own when it is an ``AirflowEnvironment``, else unknown
            (the filters must keep the alarms' metrics as both Airflow 2 and Airflow 3 read them).
        """
        with validating(scope, construct_id):
            check_environment("environment", environment)
            check_topic("topic", topic)
            check_kind("environment_class", environment_class, (str, EnvironmentClass), hint="a name such as mw1.small")
        own_class = getattr(environment, "environment_class", None)
        own_version: Optional[str] = getattr(environment, "airflow_version", None)
        configuration = getattr(environment, "configuration", None)
        options = dict(airflow_configuration_options if airflow_configuration_options is not None else
                       (configuration.to_dict() if configuration is not None else {}))
        with validating(scope, construct_id):
            env_class = lookup_environment_class(own_class or environment_class)
            if isinstance(thresholds, AlarmThresholds):
                thresholds.check()
                settings = thresholds
            else:
                overrides: ThresholdOverrides = {} if thresholds is None else thresholds
                settings = AlarmThresholds.for_class(env_class).with_overrides(overrides)
            if airflow_version is not None and own_version is not None and airflow_version != own_version:
                raise MwaaPlatformError(f"airflow_version {shorten(airflow_version)} is not the environment's own "
                                        f"({own_version}): leave it out for an AirflowEnvironment")
            check_metrics_filters(options, airflow_version=own_version or airflow_version)
        super().__init__(scope, construct_id)
        self.thresholds = settings
        #: alarm slug -> its CloudFormation alarm (an L1: the same template as ``cloudwatch.Alarm``
        #: with about a fifth of the jsii calls, which decide synthesis time at platform scale).
        self.alarms: dict[str, cloudwatch.CfnAlarm] = {}
        alert_topic = alert_topic_of(topic, self)
        topic_arn = alert_topic.topic_arn
        for spec in ALARMS:
            if spec.scaling_only and env_class.fixed_capacity:
                continue
            setting: AlarmSettings = getattr(settings, spec.setting)
            namespace, metric_name, statistic, dimensions = _metric_data(spec)
            alarm = cloudwatch.CfnAlarm(
                Construct(self, spec.slug), "Resource", alarm_name=f"{environment.environment_name}-{spec.slug}",
                alarm_description=f"{spec.meaning} First check: {spec.first_check}",
                namespace=namespace, metric_name=metric_name, statistic=statistic,
                dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name=name, value=value) for name, value in
                            {"Environment": environment.environment_name, **dimensions}.items()],
                period=setting.period_minutes * 60, threshold=setting.threshold * spec.scale,
                evaluation_periods=setting.evaluation_periods, comparison_operator=_camel(spec.comparison.value),
                treat_missing_data=_camel(spec.missing.value, upper_first=False), alarm_actions=[topic_arn],
                ok_actions=[topic_arn],
            )
            alert_topic.allow_alarm(alarm.attr_arn)
            self.alarms[spec.slug] = alarm
