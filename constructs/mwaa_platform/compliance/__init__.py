"""Compliance: the cdk-nag packs this library is held to (cdk-nag's four and its own ``MwaaChecks``), the
preflight checks of what AWS rejects at deploy time, and the one audited way to make an exception.

``acknowledge`` and ``acknowledge_across_packs`` are the only places that record an exception;
``grep -rn "acknowledge" constructs/`` lists every one, each with its reason.
"""

from mwaa_platform.compliance.mwaa_checks import (
    EXECUTION_ROLE_UNSCOPED_ACTIONS,
    MWAA_CHECKS_PACK,
    MWAA_RULES,
    WEB_SERVER_PRIVATE_RULE,
    MwaaChecks,
    MwaaRule,
)
from mwaa_platform.compliance.nag import (
    COMPLIANCE_PACKS,
    MIN_REASON_LENGTH,
    NAG_PACK_TYPES,
    acknowledge,
    acknowledge_across_packs,
    attach_nag_packs,
    known_pack_names,
    nag_packs,
    wildcard_resource_finding,
)
from mwaa_platform.compliance.preflight import (
    PATHS_REPORT,
    PREFLIGHT_PLUGIN_NAME,
    PREFLIGHT_RULES,
    RESOURCES_PER_STACK_MAX,
    STACK_LIMIT_WARNING_SHARE,
    TEMPLATE_BODY_MAX_BYTES,
    Finding,
    PreflightChecks,
    Quotas,
    StackTemplate,
    attach_preflight_checks,
    paths_report,
    run_preflight,
)

__all__ = [
    "EXECUTION_ROLE_UNSCOPED_ACTIONS",
    "MWAA_CHECKS_PACK",
    "MWAA_RULES",
    "WEB_SERVER_PRIVATE_RULE",
    "MwaaChecks",
    "MwaaRule",
    "PATHS_REPORT",
    "COMPLIANCE_PACKS",
    "PREFLIGHT_PLUGIN_NAME",
    "PREFLIGHT_RULES",
    "RESOURCES_PER_STACK_MAX",
    "STACK_LIMIT_WARNING_SHARE",
    "TEMPLATE_BODY_MAX_BYTES",
    "Finding",
    "PreflightChecks",
    "Quotas",
    "StackTemplate",
    "attach_preflight_checks",
    "paths_report",
    "run_preflight",
    "MIN_REASON_LENGTH",
    "NAG_PACK_TYPES",
    "acknowledge",
    "acknowledge_across_packs",
    "attach_nag_packs",
    "known_pack_names",
    "nag_packs",
    "wildcard_resource_finding",
]
