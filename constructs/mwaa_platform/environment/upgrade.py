"""Which changes of an environment's Airflow version MWAA makes in place, and what to do instead.

The rules of the MWAA user guide ("Upgrading the Apache Airflow version", 2026-11):

- a minor upgrade or downgrade (same major version) runs in place;
- a major upgrade from 2.x to 3.x runs in place only from the newest 2.11 patch MWAA offers;
  from an older 2.11 patch, step to it first; from 2.10 or older, create a new environment
  (blue/green);
- 3.x can go back to 2.11.x in place, to nothing older;
- no environment may move to a version past its end of support.

``check_upgrade`` applies them before anything is built: CloudFormation would otherwise start a
long in-place update that MWAA then refuses. ``deployed_airflow_version`` reads the version an
environment runs through a CDK context lookup (the Cloud Control API), cached in ``cdk.context.json``
like availability zones, so later synthesis needs no credentials.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Optional

from aws_cdk import ContextProvider, Stack, Token
from constructs import Construct

from mwaa_platform.environment.versions import AIRFLOW_VERSIONS, newest_patch, parse
from mwaa_platform.errors import MwaaPlatformError, construct_path

__all__ = ["CC_API_PROVIDER", "END_OF_SUPPORT", "NEWEST_2_11", "check_upgrade", "deployed_airflow_version",
           "deployed_version_lookup"]

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


#: The Cloud Control API context provider, as the CDK CLI names it (cloud-assembly-schema
#: ``ContextProvider.CC_API_PROVIDER``; jsii gives Python that enum's member name, not its value).
CC_API_PROVIDER = "cc-api-provider"


def deployed_version_lookup(environment_name: str) -> dict[str, object]:
    """The context query ``deployed_airflow_version`` makes: the Cloud Control API's ``GetResource`` of
    ``AWS::MWAA::Environment`` ``environment_name``, returning its ``AirflowVersion``; an environment that
    does not exist yet gives an empty list instead of an error."""
    return {
        "typeName": "AWS::MWAA::Environment",
        "exactIdentifier": environment_name,
        "propertiesToReturn": ["AirflowVersion"],
        "ignoreErrorOnMissingContext": True,
        "dummyValue": [],
    }


def deployed_airflow_version(scope: Construct, environment_name: str) -> Optional[str]:
    """The Airflow version deployed environment ``environment_name`` runs, or ``None`` when it does not
    exist (yet), or while the lookup is pending.

    A CDK context lookup through the Cloud Control API, in the account and Region of ``scope``'s stack:
    ``cdk synth`` with credentials asks once and caches the answer in ``cdk.context.json``, which is
    committed, so later synthesis (CI, tests) needs none; ``cdk context --reset <key>`` asks again
    after an upgrade. The stack needs an explicit account and Region.
    """
    stack = Stack.of(scope)
    if Token.is_unresolved(stack.account) or Token.is_unresolved(stack.region):
        raise MwaaPlatformError(
            "the deployed Airflow version is looked up in the stack's account and Region, which must be explicit "
            f"(env=Environment(account=..., region=...)), got {stack.account} / {stack.region}", construct_path(scope))
    query = deployed_version_lookup(environment_name)
    found = ContextProvider.get_value(
        scope, provider=CC_API_PROVIDER, props=query, dummy_value=query["dummyValue"],
    ).value
    if not found:
        return None
    version = found[0].get("AirflowVersion") if isinstance(found, list) and isinstance(found[0], dict) else None
    if not isinstance(version, str):
        raise MwaaPlatformError(f"the context lookup of environment {environment_name} answered {found!r}, with no "
                                "AirflowVersion: reset it with `cdk context --reset`", construct_path(scope))
    return version
