"""The Airflow versions MWAA runs, in one table: what each one is, and what depends on it.

Every part of the library that depends on the Airflow version reads this table: requirements and
constraints checks (Python, constraints file, bundled provider), configuration checks (which metrics
options the version reads), web access (REST API path, ``PUBLIC_AND_PRIVATE``), upgrade rules
(end of support, the newest 2.11 patch) and the synth-time warning for versions CloudFormation's
documentation does not list yet.

Sources, each recorded in its row or property:

- MWAA user guide, airflow-versions (2026-11): the versions, their availability and end-of-support
  dates, and Python 3.11 for 2.7.2 and 2.8.1 (3.10 for the retired 2.4.3-2.6.3);
- MWAA's images (aws/amazon-mwaa-docker-images: ``Dockerfile.base.j2`` ``PYTHON_VERSION``; each
  image's ``etc/airflow_constraints.txt``, copied into ``_mwaa_images/<version>/``, whose first line
  names the commit): the Python patch, the constraints and the bundled Amazon provider;
- the MWAA API reference: ``PUBLIC_AND_PRIVATE`` web server access needs Airflow 3.2 or later;
  the REST API is ``/api/v1`` on Airflow 2 and ``/api/v2`` on Airflow 3;
- Airflow itself (``_mwaa_images/<version>/airflow_config.json``, generated from real Airflow):
  Airflow 3 no longer reads the ``metrics.statsd_*`` spellings of the metrics filters, and matches
  their entries as regular expressions.

tests/test_versions.py keeps the table current: it fails when botocore's list of versions, or the
image data, names a version the table does not know.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Optional

import re

from mwaa_platform.environment.image_facts import ImageFacts, image_facts
from mwaa_platform.errors import MwaaPlatformError, shorten

__all__ = [
    "AIRFLOW_VERSIONS",
    "parse",
    "AirflowVersionInfo",
    "CLOUDFORMATION_DOCUMENTED",
    "newest_of_major",
    "newest_patch",
    "version_info",
    "version_table_markdown",
]

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse(version: str) -> tuple[int, int, int]:
    """``(2, 11, 2)`` for ``2.11.2``; an error naming the expected form for anything else."""
    match = _VERSION.match(version) if isinstance(version, str) else None
    if not match:
        raise MwaaPlatformError(f"airflow_version must look like MAJOR.MINOR.PATCH (e.g. 2.11.2), got {shorten(version)}")
    return tuple(int(part) for part in match.groups())  # type: ignore[return-value]


#: The ``metrics.*`` options that filter what reaches CloudWatch, by the name every version reads.
_METRICS_FILTERS = ("metrics.metrics_allow_list", "metrics.metrics_block_list")
#: Their Airflow 2 spellings (deprecated since 2.6.0), which Airflow 3 no longer reads.
_METRICS_FILTERS_AIRFLOW_2 = ("metrics.statsd_allow_list", "metrics.statsd_block_list")


@dataclass(frozen=True)
class AirflowVersionInfo:
    """One Airflow version as MWAA runs it.

    :param airflow: the Airflow version, e.g. ``2.11.2``.
    :param python: the Python version of MWAA's image, ``MAJOR.MINOR`` or ``MAJOR.MINOR.PATCH``.
    :param available: when MWAA made it available. Default: ``None``, before the dates this table records.
    :param end_of_support: when MWAA stops supporting it. Default: ``None``, supported.
    :param known: whether the version is in this table; ``version_info`` of a newer, well-formed
        version returns a row with ``known=False`` and the newest row's Python. Default: ``True``.
    """

    airflow: str
    python: str
    available: Optional[datetime.date] = None
    end_of_support: Optional[datetime.date] = None
    known: bool = True

    @property
    def major(self) -> int:
        return parse(self.airflow)[0]

    @property
    def python_minor(self) -> str:
        """``3.12`` for Python 3.12.10: what constraint file names and wheel tags use."""
        return ".".join(self.python.split(".")[:2])

    @property
    def image(self) -> Optional[ImageFacts]:
        """What MWAA's image of this version holds (constraints, installed packages, configuration
        options, and where they were copied from); ``None`` where the library has no image data."""
        return image_facts(self.airflow)

    @property
    def amazon_provider(self) -> Optional[str]:
        """The ``apache-airflow-providers-amazon`` MWAA's image bundles (its constraints file pins it);
        ``None`` without image data."""
        image = self.image
        return image.constraints.get("apache-airflow-providers-amazon") if image is not None else None

    @property
    def constraints_url(self) -> str:
        """Apache Airflow's constraints file for this Airflow and Python version, which MWAA's image copies."""
        return (f"https://raw.githubusercontent.com/apache/airflow/constraints-{self.airflow}/"
                f"constraints-{self.python_minor}.txt")

    @property
    def constraints_source(self) -> str:
        """Where the constraints the library checks against come from."""
        image = self.image
        return image.source if image is not None else self.constraints_url

    def supported(self, today: Optional[datetime.date] = None) -> bool:
        """Whether MWAA still supports the version on ``today`` (default: today)."""
        return self.end_of_support is None or (today or datetime.date.today()) < self.end_of_support

    def status(self, today: Optional[datetime.date] = None) -> str:
        if self.end_of_support is None:
            return "supported"
        verb = "ended" if not self.supported(today) else "ends"
        return f"support {verb} {self.end_of_support.isoformat()}"

    @property
    def rest_api_path(self) -> str:
        """The Airflow REST API's prefix: ``/api/v1`` on Airflow 2, ``/api/v2`` on Airflow 3.
        ``airflow:InvokeRestApi``'s ``Path`` leaves it out."""
        return "/api/v2" if self.major >= 3 else "/api/v1"

    @property
    def public_and_private(self) -> bool:
        """Whether ``webserver_access_mode`` ``PUBLIC_AND_PRIVATE`` is available (Airflow 3.2 and later)."""
        return parse(self.airflow) >= (3, 2, 0)

    @property
    def metrics_filter_options(self) -> tuple[str, ...]:
        """The options that filter which metrics reach CloudWatch, as this version reads them."""
        return _METRICS_FILTERS + (_METRICS_FILTERS_AIRFLOW_2 if self.major < 3 else ())

    @property
    def reads_statsd_metrics_filters(self) -> bool:
        """Whether it still reads ``metrics.statsd_allow_list`` / ``statsd_block_list`` (Airflow 2 only)."""
        return self.major < 3

    @property
    def metrics_entries_are_patterns(self) -> bool:
        """Whether filter entries are regular expressions matched anywhere in a name always (Airflow 3),
        rather than prefixes unless ``metrics.metrics_use_pattern_match`` is true (Airflow 2)."""
        return self.major >= 3

    @property
    def task_execution_api(self) -> bool:
        """Whether workers reach the Airflow API server to run tasks (Airflow 3's Task Execution API),
        so the web server's endpoint must be reachable from the workers' network."""
        return self.major >= 3

    @property
    def cloudformation_documented(self) -> bool:
        """Whether CloudFormation's documentation of ``AWS::MWAA::Environment`` lists the version."""
        return self.airflow in CLOUDFORMATION_DOCUMENTED


def _row(airflow: str, python: str, available: Optional[str] = None,
         end_of_support: Optional[str] = None) -> AirflowVersionInfo:
    return AirflowVersionInfo(
        airflow, python,
        available=datetime.date.fromisoformat(available) if available else None,
        end_of_support=datetime.date.fromisoformat(end_of_support) if end_of_support else None,
    )


#: Every Airflow version MWAA has run since the oldest still named by its user guide, oldest first.
AIRFLOW_VERSIONS: Mapping[str, AirflowVersionInfo] = MappingProxyType({
    row.airflow: row
    for row in (
        _row("2.4.3", "3.10", end_of_support="2025-12-30"),
        _row("2.5.1", "3.10", end_of_support="2025-12-30"),
        _row("2.6.3", "3.10", end_of_support="2025-12-30"),
        _row("2.7.2", "3.11"),
        _row("2.8.1", "3.11"),
        _row("2.9.2", "3.11.9"),
        _row("2.10.1", "3.11.9"),
        _row("2.10.3", "3.11.9"),
        _row("3.0.6", "3.12.10", available="2025-10-01"),
        _row("2.11.0", "3.12.10", available="2026-01-07"),
        _row("3.2.1", "3.12.13", available="2026-05-19"),
        _row("2.11.2", "3.12.10", available="2026-07-23"),
        _row("3.3.1", "3.12.13", available="2026-09-01"),
    )
})

#: The versions CloudFormation's documentation of ``AWS::MWAA::Environment`` ``AirflowVersion`` lists
#: (2026-11: up to 3.0.6; aws-cloudformation/cloudformation-coverage-roadmap#2517 reports 3.2.1 missing).
#: The resource schema itself (cfn-lint's copy) types it as any string matching ``^[0-9a-z.]+$``, and the
#: resource passes it to MWAA; whether CloudFormation deploys a version past this list cannot be checked
#: without an account, so synthesis warns (docs/airflow-environment.md, "Versions").
CLOUDFORMATION_DOCUMENTED: frozenset[str] = frozenset(
    ("2.4.3", "2.5.1", "2.6.3", "2.7.2", "2.8.1", "2.9.2", "2.10.1", "2.10.3", "2.11.0", "3.0.6"))


def version_info(version: str) -> AirflowVersionInfo:
    """The row of ``version``; for a well-formed version the table does not know, a row with
    ``known=False`` and the newest row's Python (MWAA ships new versions on its newest image)."""
    row = AIRFLOW_VERSIONS.get(version)
    if row is not None:
        return row
    parse(version)
    newest = max(AIRFLOW_VERSIONS.values(), key=lambda info: parse(info.airflow))
    return AirflowVersionInfo(version, newest.python, known=False)


def newest_patch(major: int, minor: int) -> str:
    """The newest patch of ``major.minor`` in the table, e.g. ``2.11.2`` for (2, 11)."""
    patches = [version for version in AIRFLOW_VERSIONS if parse(version)[:2] == (major, minor)]
    if not patches:
        raise LookupError(f"no Airflow {major}.{minor} in the version table")
    return max(patches, key=parse)


def newest_of_major(major: int) -> AirflowVersionInfo:
    """The newest row of Airflow ``major``."""
    rows = [info for info in AIRFLOW_VERSIONS.values() if info.major == major]
    if not rows:
        raise LookupError(f"no Airflow {major} in the version table")
    return max(rows, key=lambda info: parse(info.airflow))


def version_table_markdown(today: Optional[datetime.date] = None) -> str:
    """The table as Markdown, newest first, for docs/airflow-environment.md (a test keeps it current)."""
    lines = [
        "| Airflow | status | available | Python | Amazon provider | REST API | `PUBLIC_AND_PRIVATE` | metrics filter options | CloudFormation docs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for info in sorted(AIRFLOW_VERSIONS.values(), key=lambda row: parse(row.airflow), reverse=True):
        lines.append(" | ".join((
            f"| {info.airflow}", info.status(today), info.available.isoformat() if info.available else "",
            info.python, info.amazon_provider or "", f"`{info.rest_api_path}`",
            "yes" if info.public_and_private else "no",
            ", ".join(f"`{option}`" for option in info.metrics_filter_options),
            "listed" if info.cloudformation_documented else "not yet",
        )) + " |")
    return "\n".join(lines) + "\n"
