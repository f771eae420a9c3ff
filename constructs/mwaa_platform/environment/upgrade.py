"""Which changes of an environment's Airflow version MWAA makes in place, and what to do instead.

The rules of the MWAA user guide ("Upgrading the Apache Airflow version", 2026-11):

- a minor upgrade or downgrade (same major version) runs in place;
- a major upgrade from 2.x to 3.x runs in place only from the newest 2.11 patch MWAA offers;
  from an older 2.11 patch, step to it first; from 2.10 or older, create a new environment
  (blue/green);
- 3.x can go back to 2.11.x in place, to nothing older;
- no environment may move to a version past its end of support.

``check_upgrade`` applies them before anything is built: CloudFormation would otherwise start a
long in-place update that MWAA then refuses.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Optional

from mwaa_platform.environment.versions import AIRFLOW_VERSIONS, newest_patch, parse
from mwaa_platform.errors import MwaaPlatformError

__all__ = ["END_OF_SUPPORT", "NEWEST_2_11", "check_upgrade"]

#: Versions with an end of support (the version table): no environment may move to them after it.
END_OF_SUPPORT: Mapping[str, datetime.date] = {
    version: info.end_of_support for version, info in AIRFLOW_VERSIONS.items() if info.end_of_support is not None}
#: The 2.11 patch a major upgrade to Airflow 3 starts from: the newest 2.11 in the version table.
NEWEST_2_11 = newest_patch(2, 11)


def check_upgrade(deployed: str, target: str, *, today: Optional[datetime.date] = None,
                  end_of_support: Mapping[str, datetime.date] = END_OF_SUPPORT,
                  newest_2_11: str = NEWEST_2_11) -> None:
    """Raise, naming the way that works, unless MWAA changes ``deployed`` to ``target`` in place.

    :param deployed: the version the environment runs now.
    :param target: the version it should run.
    :param today: the date end of support is judged on. Default: today.
    """
    old, new = parse(deployed), parse(target)
    if old == new:
        return
    retired = end_of_support.get(target)
    if retired is not None and (today or datetime.date.today()) >= retired:
        raise MwaaPlatformError(
            f"airflow_version {target} reached end of support on {retired.isoformat()}: no environment may move to "
            f"it; choose a supported version")
    if old[0] == new[0]:
        return  # minor upgrades and downgrades run in place
    if old[0] == 2 and new[0] == 3:
        if old[:2] != (2, 11):
            raise MwaaPlatformError(
                f"airflow_version {deployed} -> {target}: MWAA upgrades to Airflow 3 in place only from {newest_2_11}; "
                f"from {deployed} create a new environment on {target} beside this one (blue/green) and move the "
                "DAGs, or step through 2.11 first")
        if old != parse(newest_2_11):
            raise MwaaPlatformError(
                f"airflow_version {deployed} -> {target}: MWAA upgrades to Airflow 3 in place only from {newest_2_11}; "
                f"deploy {newest_2_11} first, then {target}")
        return
    if old[0] == 3 and new[0] == 2:
        if new[:2] != (2, 11):
            raise MwaaPlatformError(
                f"airflow_version {deployed} -> {target}: Airflow 3 goes back in place only to 2.11.x; create a new "
                f"environment on {target} instead (blue/green)")
        return
    raise MwaaPlatformError(
        f"airflow_version {deployed} -> {target}: MWAA has no in-place path between these major versions; create a "
        "new environment (blue/green)")
