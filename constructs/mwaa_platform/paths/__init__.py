"""Paths: every way a DAG reaches AWS, recorded where it is granted and checked at synthesis.

A construct that gives a DAG a way to something (a connection, ``grant_run``, ``grant_submit``,
``grant_pod_launch``, the secrets backend) records a ``DagPath`` in its stack's template metadata
(``MwaaPlatform::DagPaths``): the environment, the principal the DAG acts as, the AWS services and
Region it calls, the account that owns the resource, the connection id, and the operator with the
provider package it imports. The preflight checks (``mwaa_platform.compliance``) read the paths of
every template of the app and check the lookup patterns, the network, the endpoint policies and
the installed packages against them (``docs/paths.md``). Because paths live in the templates, a
reviewer reads them there too, and they hold for any CDK app that uses the library.
"""

from mwaa_platform.paths.checks import (
    CROSS_REGION_SERVICES,
    GATEWAY_SERVICES,
    configuration_key_problems,
    endpoints_of_action,
    iam_prefix_of,
    lookup_pattern_admits,
    provider_problems,
)
from mwaa_platform.paths.model import (
    AMAZON_PROVIDER,
    ENVIRONMENT_METADATA_KEY,
    KUBERNETES_PROVIDER,
    PATHS_METADATA_KEY,
    DagPath,
    environment_name_of,
    is_endpoint_name,
    record_path,
    recorded_paths,
)

__all__ = [
    "AMAZON_PROVIDER",
    "CROSS_REGION_SERVICES",
    "GATEWAY_SERVICES",
    "configuration_key_problems",
    "endpoints_of_action",
    "iam_prefix_of",
    "lookup_pattern_admits",
    "provider_problems",
    "ENVIRONMENT_METADATA_KEY",
    "KUBERNETES_PROVIDER",
    "PATHS_METADATA_KEY",
    "DagPath",
    "environment_name_of",
    "is_endpoint_name",
    "record_path",
    "recorded_paths",
]
