"""check_upgrade: the Airflow version changes MWAA makes in place, and the way named for the others (issue 26)."""

import datetime

import pytest

from mwaa_platform.environment.upgrade import END_OF_SUPPORT, NEWEST_2_11, check_upgrade
from mwaa_platform.errors import MwaaPlatformError

TODAY = datetime.date(2026, 11, 30)


@pytest.mark.parametrize("deployed, target", [
    ("2.10.3", "2.10.3"),   # no change
    ("2.9.2", "2.11.0"),    # minor upgrade
    ("2.11.0", "2.10.3"),   # minor downgrade
    ("2.11.0", NEWEST_2_11),
    (NEWEST_2_11, "3.3.1"),  # major upgrade from the newest 2.11 patch
    ("3.0.6", "3.3.1"),
    ("3.3.1", "3.2.1"),
    ("3.3.1", "2.11.0"),    # Airflow 3 back to 2.11.x
])
def test_in_place_changes_pass(deployed, target):
    check_upgrade(deployed, target, today=TODAY)


@pytest.mark.parametrize("deployed, target, message", [
    ("2.10.3", "3.3.1", r"^airflow_version 2.10.3 -> 3.3.1: MWAA upgrades to Airflow 3 in place only from 2.11.2; "
                        r"from 2.10.3 create a new environment on 3.3.1 beside this one \(blue/green\)"),
    ("2.11.0", "3.0.6", r"^airflow_version 2.11.0 -> 3.0.6: MWAA upgrades to Airflow 3 in place only from 2.11.2; "
                        r"deploy 2.11.2 first, then 3.0.6$"),
    ("3.0.6", "2.10.3", r"Airflow 3 goes back in place only to 2.11.x; create a new environment on 2.10.3 instead"),
    ("2.7.2", "2.6.3", r"^airflow_version 2.6.3 reached end of support on 2025-12-30: no environment may move to it"),
])
def test_changes_mwaa_refuses_are_refused_with_the_way_that_works(deployed, target, message):
    with pytest.raises(MwaaPlatformError, match=message):
        check_upgrade(deployed, target, today=TODAY)


def test_end_of_support_counts_from_its_date():
    retired = END_OF_SUPPORT["2.6.3"]
    check_upgrade("2.5.1", "2.6.3", today=retired - datetime.timedelta(days=1))
    with pytest.raises(MwaaPlatformError, match="end of support"):
        check_upgrade("2.5.1", "2.6.3", today=retired)


def test_malformed_versions_are_named():
    with pytest.raises(MwaaPlatformError, match=r"airflow_version must look like MAJOR.MINOR.PATCH .*got '3'"):
        check_upgrade("2.11.2", "3")
