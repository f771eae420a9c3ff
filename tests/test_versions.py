"""The version table: every version MWAA runs, what each one is, and what depends on it."""

import datetime
import re

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match

from harness import REPO_ROOT, new_stack
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError
from mwaa_platform._internal.service_model import known_airflow_versions
from mwaa_platform.environment import (
    AIRFLOW_VERSIONS,
    CLOUDFORMATION_DOCUMENTED,
    default_airflow_version,
    newest_of_major,
    version_info,
    version_table_markdown,
)
from mwaa_platform.environment.configuration import MetricsFilter
from mwaa_platform.environment.image_facts import image_facts, image_versions
from mwaa_platform.environment.upgrade import END_OF_SUPPORT, NEWEST_2_11

URL = "https://raw.githubusercontent.com/apache/airflow/constraints-{}/constraints-{}.txt"
DOC = REPO_ROOT / "docs" / "airflow-environment.md"


# --- freshness: a version anyone else knows must be in the table ----------------------------------


def test_every_version_botocore_names_is_in_the_table():
    missing = set(known_airflow_versions()) - set(AIRFLOW_VERSIONS)
    assert not missing, f"botocore names Airflow {sorted(missing)}: add them to versions.AIRFLOW_VERSIONS"


def test_every_version_with_image_data_is_in_the_table():
    missing = set(image_versions()) - set(AIRFLOW_VERSIONS)
    assert not missing, f"_mwaa_images/ has Airflow {sorted(missing)}: add them to versions.AIRFLOW_VERSIONS"


def test_every_supported_version_from_2_11_on_has_image_data():
    """The versions the example platform and users move to carry MWAA's constraints and provider."""
    recent = [version for version, info in AIRFLOW_VERSIONS.items()
              if info.available is not None and info.supported()]
    assert recent and all(image_facts(version) is not None for version in recent), recent


# --- what each row says ------------------------------------------------------------------------------


@pytest.mark.parametrize("version, python, provider", [
    ("2.9.2", "3.11", None), ("2.10.3", "3.11", None), ("2.11.0", "3.12", "9.8.0"), ("2.11.2", "3.12", "9.22.0"),
    ("3.0.6", "3.12", "9.12.0"), ("3.2.1", "3.12", "9.25.0"), ("3.3.1", "3.12", "9.34.0"),
])
def test_python_constraints_and_provider_follow_mwaas_images(version, python, provider):
    info = version_info(version)
    assert (info.python_minor, info.amazon_provider) == (python, provider)
    assert info.constraints_url == URL.format(version, python)
    if provider is not None:
        assert "amazon-mwaa-docker-images" in info.constraints_source and f"images/airflow/{version}/" in info.constraints_source


def test_an_unknown_newer_version_gets_the_newest_python_and_its_majors_features():
    info = version_info("3.9.0")
    assert (info.known, info.python_minor, info.rest_api_path, info.public_and_private) == (False, "3.12", "/api/v2", True)
    with pytest.raises(MwaaPlatformError, match="MAJOR.MINOR.PATCH"):
        version_info("3.9")


@pytest.mark.parametrize("version, rest, public_and_private, statsd_names", [
    ("2.10.3", "/api/v1", False, True), ("2.11.2", "/api/v1", False, True), ("3.0.6", "/api/v2", False, False),
    ("3.2.1", "/api/v2", True, False), ("3.3.1", "/api/v2", True, False),
])
def test_features_by_version(version, rest, public_and_private, statsd_names):
    info = version_info(version)
    assert (info.rest_api_path, info.public_and_private, info.reads_statsd_metrics_filters) == (
        rest, public_and_private, statsd_names)
    assert ("metrics.statsd_allow_list" in info.metrics_filter_options) is statsd_names
    assert "metrics.metrics_allow_list" in info.metrics_filter_options


@pytest.mark.parametrize("version", [v for v in image_versions() if image_facts(v).config_options is not None])
def test_the_metrics_options_agree_with_what_real_airflow_reads(version):
    """Generated from real Airflow (airflow_config.json): the table's metrics options are the ones it reads."""
    info, image = version_info(version), image_facts(version)
    for option in ("metrics.metrics_allow_list", "metrics.metrics_block_list", "metrics.statsd_allow_list"):
        assert image.reads_option(option) is (option in info.metrics_filter_options), option


def test_metrics_filters_are_read_as_each_version_reads_them():
    options = {"metrics.statsd_allow_list": "scheduler"}
    assert MetricsFilter.read(options, version_info("2.11.2")).key == "metrics.statsd_allow_list"
    assert MetricsFilter.read(options, version_info("3.3.1")) is None
    assert MetricsFilter.read({"metrics.metrics_allow_list": "sched"}, version_info("3.3.1")).patterns
    assert not MetricsFilter.read({"metrics.metrics_allow_list": "sched"}, version_info("2.11.2")).patterns


def test_upgrade_rules_read_the_table():
    assert NEWEST_2_11 == "2.11.2" == newest_of_major(2).airflow
    assert END_OF_SUPPORT == {v: datetime.date(2025, 12, 30) for v in ("2.4.3", "2.5.1", "2.6.3")}
    assert not version_info("2.6.3").supported(datetime.date(2026, 1, 1))
    assert version_info("2.6.3").supported(datetime.date(2025, 12, 29))


def test_the_default_version_is_the_newest_cloudformation_documents():
    assert default_airflow_version() == "3.0.6"
    assert set(CLOUDFORMATION_DOCUMENTED) <= set(AIRFLOW_VERSIONS)


# --- environments: warnings and refusals from the table ----------------------------------------------


def environment(version, **kwargs):
    stack = new_stack()
    return AirflowEnvironment(stack, "Env", environment_name="team-a", network=AirflowNetwork(stack, "Network"),
                              airflow_version=version, **kwargs)


def warnings(env):
    return [str(w.entry.data) for w in Annotations.from_stack(cdk.Stack.of(env)).find_warning("*", Match.any_value())]


def test_a_version_cloudformation_does_not_list_yet_warns_and_names_the_fallback():
    env = environment("3.3.1")
    assert [w for w in warnings(env) if "CloudFormation's AWS::MWAA::Environment documentation lists" in w
            and "3.0.6" in w and "#2517" in w]
    assert env.rest_api_path == "/api/v2"


def test_a_version_cloudformation_lists_gives_no_version_warning():
    assert not [w for w in warnings(environment("3.0.6")) if "AirflowVersion" in w or "version table" in w]


def test_an_end_of_support_version_is_refused():
    with pytest.raises(MwaaPlatformError, match=r"airflow_version 2.6.3 reached end of support on 2025-12-30"):
        environment("2.6.3")


def test_public_and_private_needs_3_2():
    with pytest.raises(MwaaPlatformError, match="PUBLIC_AND_PRIVATE needs Airflow 3.2 or later, got 3.0.6"):
        environment("3.0.6", webserver_access_mode="PUBLIC_AND_PRIVATE")
    environment("3.2.1", webserver_access_mode="PUBLIC_AND_PRIVATE")


# --- the docs' table is the table --------------------------------------------------------------------


def test_the_docs_show_the_version_table():
    text = DOC.read_text()
    begin, end = "<!-- BEGIN GENERATED VERSIONS: make registry-docs -->", "<!-- END GENERATED VERSIONS -->"
    assert begin in text and end in text, f"{DOC.name} lost its version table markers"
    assert text.split(begin)[1].split(end)[0] == f"\n\n{version_table_markdown()}\n", (
        f"{DOC.name}'s version table is stale: run `make registry-docs`")
