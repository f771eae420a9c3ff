"""What MWAA runs for each Airflow version: the Python version, the constraints file, the Amazon provider.

Source: MWAA's own images (aws/amazon-mwaa-docker-images: ``Dockerfile.base.j2`` ``PYTHON_VERSION``
and each image's ``etc/airflow_constraints.txt``) for the versions that repository ships, and the
MWAA user guide (Python 3.11 for 2.7.2 and 2.8.1). A test holds the table to botocore's list of
versions, so a version the SDK knows cannot be missing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mwaa_platform.environment.airflow_version import parse

__all__ = ["AIRFLOW_RUNTIMES", "AirflowRuntime", "runtime_for"]


@dataclass(frozen=True)
class AirflowRuntime:
    """One Airflow version as MWAA runs it.

    :param airflow: the Airflow version, e.g. ``2.11.0``.
    :param python: the Python version of MWAA's image, ``MAJOR.MINOR`` or ``MAJOR.MINOR.PATCH``.
    :param amazon_provider: the bundled ``apache-airflow-providers-amazon``. Default: not recorded.
    """

    airflow: str
    python: str
    amazon_provider: Optional[str] = None

    @property
    def python_minor(self) -> str:
        """``3.12`` for Python 3.12.10: what constraint file names and wheel tags use."""
        return ".".join(self.python.split(".")[:2])

    @property
    def constraints_url(self) -> str:
        """Apache Airflow's constraints file for this Airflow and Python version."""
        return (f"https://raw.githubusercontent.com/apache/airflow/constraints-{self.airflow}/"
                f"constraints-{self.python_minor}.txt")


AIRFLOW_RUNTIMES: dict[str, AirflowRuntime] = {
    runtime.airflow: runtime
    for runtime in (
        AirflowRuntime("2.7.2", "3.11"),
        AirflowRuntime("2.8.1", "3.11"),
        AirflowRuntime("2.9.2", "3.11.9"),
        AirflowRuntime("2.10.1", "3.11.9"),
        AirflowRuntime("2.10.3", "3.11.9"),
        AirflowRuntime("2.11.0", "3.12.10"),
        AirflowRuntime("2.11.2", "3.12.10", "9.22.0"),
        AirflowRuntime("3.0.6", "3.12.10", "9.12.0"),
        AirflowRuntime("3.2.1", "3.12.13", "9.25.0"),
        AirflowRuntime("3.3.1", "3.12.13", "9.34.0"),
    )
}


def runtime_for(version: str) -> AirflowRuntime:
    """The runtime of ``version``; for a version not in the table, the newest runtime's Python
    (MWAA ships new versions on the newest image), which synthesis warns about elsewhere."""
    if version in AIRFLOW_RUNTIMES:
        return AIRFLOW_RUNTIMES[version]
    newest = max(AIRFLOW_RUNTIMES.values(), key=lambda runtime: parse(runtime.airflow))
    return AirflowRuntime(version, newest.python)
