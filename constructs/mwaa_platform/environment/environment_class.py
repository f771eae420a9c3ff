"""MWAA environment classes, their limits, and the scaling a class allows.

Limits are from the MWAA user guide (environment-class); the class names themselves are checked
against botocore's model by the tests, so a class the SDK does not know cannot appear here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform._internal.tokens import is_unresolved

#: Service quota on workers per environment (MaxWorkers).
MAX_WORKERS_QUOTA = 25


@dataclass(frozen=True)
class EnvironmentClass:
    """One environment class and the limits the service enforces for it.

    :param name: the class name, e.g. ``mw1.small``.
    :param dag_capacity: DAGs the class is sized for.
    :param concurrent_tasks_per_worker: Airflow tasks one worker runs at once by default
        (``celery.worker_autoscale`` maximum).
    :param schedulers: (min, max) schedulers.
    :param default_schedulers: schedulers when none are asked for.
    :param webservers: (min, max) web servers.
    :param default_webservers: web servers when none are asked for.
    :param workers: (min, max) workers.
    :param fixed_capacity: one scheduler, one web server and one worker, no autoscaling (mw1.micro).
        Default: False.
    """

    name: str
    dag_capacity: int
    concurrent_tasks_per_worker: int
    schedulers: tuple[int, int]
    default_schedulers: int
    webservers: tuple[int, int]
    default_webservers: int
    workers: tuple[int, int]
    fixed_capacity: bool = False

    def __str__(self) -> str:
        return self.name


MW1_MICRO = EnvironmentClass("mw1.micro", 25, 3, (1, 1), 1, (1, 1), 1, (1, 1), fixed_capacity=True)
MW1_SMALL = EnvironmentClass("mw1.small", 50, 5, (2, 5), 2, (2, 5), 2, (1, MAX_WORKERS_QUOTA))
MW1_MEDIUM = EnvironmentClass("mw1.medium", 250, 10, (2, 5), 2, (2, 5), 2, (1, MAX_WORKERS_QUOTA))
MW1_LARGE = EnvironmentClass("mw1.large", 1000, 20, (2, 5), 2, (2, 5), 2, (1, MAX_WORKERS_QUOTA))
MW1_XLARGE = EnvironmentClass("mw1.xlarge", 2000, 40, (2, 5), 2, (2, 5), 2, (1, MAX_WORKERS_QUOTA))
MW1_2XLARGE = EnvironmentClass("mw1.2xlarge", 4000, 80, (2, 5), 2, (2, 5), 2, (1, MAX_WORKERS_QUOTA))

ENVIRONMENT_CLASSES: dict[str, EnvironmentClass] = {
    c.name: c for c in (MW1_MICRO, MW1_SMALL, MW1_MEDIUM, MW1_LARGE, MW1_XLARGE, MW1_2XLARGE)
}


def lookup_environment_class(value: "EnvironmentClass | str") -> EnvironmentClass:
    """Look up a class by name; raise naming the allowed classes."""
    if isinstance(value, EnvironmentClass):
        return value
    try:
        return ENVIRONMENT_CLASSES[value]
    except (KeyError, TypeError):
        raise MwaaPlatformError(
            f"environment_class must be one of {', '.join(ENVIRONMENT_CLASSES)}, got {shorten(value)}"
        ) from None


@dataclass(frozen=True)
class Capacity:
    """Resolved scaling of one environment. Token values are passed through unchecked."""

    schedulers: int
    min_workers: int
    max_workers: int
    min_webservers: int
    max_webservers: int


def resolve_capacity(
    env_class: EnvironmentClass,
    *,
    schedulers: Optional[int] = None,
    min_workers: Optional[int] = None,
    max_workers: Optional[int] = None,
    min_webservers: Optional[int] = None,
    max_webservers: Optional[int] = None,
) -> Capacity:
    """Fill defaults from the class and reject anything outside its limits."""
    resolved = Capacity(
        schedulers=env_class.default_schedulers if schedulers is None else schedulers,
        min_workers=env_class.workers[0] if min_workers is None else min_workers,
        max_workers=(
            (env_class.workers[0] if env_class.fixed_capacity else 10) if max_workers is None else max_workers
        ),
        min_webservers=env_class.default_webservers if min_webservers is None else min_webservers,
        max_webservers=env_class.default_webservers if max_webservers is None else max_webservers,
    )
    if max_workers is None and min_workers is not None and not is_unresolved(min_workers):
        resolved = Capacity(**{**resolved.__dict__, "max_workers": max(resolved.max_workers, min_workers)})
    for field, bounds in (
        ("schedulers", env_class.schedulers),
        ("min_workers", env_class.workers),
        ("max_workers", env_class.workers),
        ("min_webservers", env_class.webservers),
        ("max_webservers", env_class.webservers),
    ):
        _check_range(field, getattr(resolved, field), bounds, env_class)
    for low, high in (("min_workers", "max_workers"), ("min_webservers", "max_webservers")):
        low_value, high_value = getattr(resolved, low), getattr(resolved, high)
        if not (is_unresolved(low_value) or is_unresolved(high_value)) and low_value > high_value:
            raise MwaaPlatformError(f"{low} must not exceed {high} ({high_value}) for {env_class}, got {low_value}")
    return resolved


def _check_range(field: str, value: int, bounds: tuple[int, int], env_class: EnvironmentClass) -> None:
    if is_unresolved(value):
        return
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        allowed = f"exactly {low} (fixed capacity)" if low == high else f"between {low} and {high}"
        raise MwaaPlatformError(f"{field} must be {allowed} for {env_class}, got {shorten(value)}")
