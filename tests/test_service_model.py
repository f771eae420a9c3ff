"""Facts read from botocore's MWAA model."""

import pytest

from mwaa_platform.environment import airflow_version
from mwaa_platform._internal.service_model import documented_valid_values, enum_values, known_airflow_versions, name_limits


def test_versions_and_defaults_come_from_the_pinned_sdk():
    versions = known_airflow_versions()
    assert "2.11.0" in versions and "3.0.6" in versions and "2.7.2" in versions
    assert airflow_version.default_airflow_version() == max(versions, key=airflow_version.parse)
    assert all(airflow_version.parse(v) for v in versions)


def test_enums_and_name_pattern():
    assert enum_values("WebserverAccessMode") == ("PRIVATE_ONLY", "PUBLIC_ONLY", "PUBLIC_AND_PRIVATE")
    assert enum_values("WorkerReplacementStrategy") == ("FORCED", "GRACEFUL")
    assert name_limits()[:2] == (1, 80)


def test_missing_facts_fail_loudly():
    with pytest.raises(LookupError, match="lists no valid values"):
        documented_valid_values("Name")
    with pytest.raises(KeyError, match="no environment field 'Nope'"):
        enum_values("Nope")
