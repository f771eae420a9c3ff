"""cdk-nag rule packs and the one audited way to acknowledge a finding.

Constructs acknowledge the findings AWS makes unavoidable where they create the resource, so
every app that uses them, ours or a data team's, inherits the same audited exceptions. Nothing
else in the code base calls ``Validations.acknowledge`` (a test enforces it), so every exception
is greppable as ``acknowledge(`` and carries a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct

from mwaa_platform._internal.cfn import cfn_resource
from mwaa_platform.compliance.mwaa_checks import MwaaChecks
from mwaa_platform.errors import MwaaPlatformError, shorten

#: The rule packs this library is held to, in report order: cdk-nag's four, then the library's own
#: MWAA pack (no cdk-nag pack has rules for MWAA).
NAG_PACK_TYPES: tuple[type[cdk_nag.NagPack], ...] = (
    cdk_nag.AwsSolutionsChecks,
    cdk_nag.NIST80053R5Checks,
    cdk_nag.HIPAASecurityChecks,
    cdk_nag.PCIDSS321Checks,
    MwaaChecks,
)

#: The three compliance packs, which share most rule names (``LambdaInsideVPC``, ``S3BucketReplicationEnabled``, ...).
COMPLIANCE_PACKS: tuple[str, ...] = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")

#: Minimum length of an acknowledgment reason: long enough to say *why*, not just "ok".
MIN_REASON_LENGTH = 30

#: checkov (the scanner security reviewers run on CloudFormation) reads skips from a resource's own
#: Metadata; ``acknowledge`` writes them there for ids of the form ``checkov::CKV_AWS_117``.
CHECKOV = "checkov"
_CHECKOV_ID = re.compile(r"^checkov::(?P<check>CKV2?_[A-Z0-9]+_\d+)$")

# "<Pack>::<Pack>-<Rule>[<finding>]": the pack named twice, as CDK's validation report matches it.
_RULE_ID = re.compile(r"^(?P<pack>[A-Za-z0-9.]+)::(?P<rule>(?P=pack)-[A-Za-z0-9]+(\[[^\]\s][^\]]*\])?)$")


@cache
def known_pack_names() -> tuple[str, ...]:
    """The names cdk-nag gives its packs (``AwsSolutions``, ``NIST.800.53.R5``, ...)."""
    packs: tuple[type[cdk_nag.NagPack], ...] = (
        *NAG_PACK_TYPES,
        cdk_nag.NIST80053R4Checks,
        cdk_nag.ServerlessChecks,
    )
    return tuple(pack().name for pack in packs)


def nag_packs(*, verbose: bool = False) -> list[cdk_nag.NagPack]:
    """Fresh instances of the packs: AwsSolutions, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1 and MwaaChecks."""
    return [pack_type(verbose=verbose) for pack_type in NAG_PACK_TYPES]


def attach_nag_packs(app: cdk.App, *, verbose: bool = True) -> None:
    """Register the packs (``NAG_PACK_TYPES``) as policy-validation plugins of ``app``.

    ``app.synth()`` (and ``cdk synth``) then fails on any unacknowledged finding and writes
    ``validation-report.json`` into the cloud assembly, acknowledged findings included.
    """
    cdk.Validations.of(app).add_plugins(*nag_packs(verbose=verbose))


def acknowledge(scope: IConstruct, rule_ids: str | Iterable[str], reason: str) -> None:
    """Acknowledge cdk-nag findings on ``scope`` and everything below it, with an audit record.

    :param rule_ids: pack-prefixed ids, one per granular finding, e.g.
        ``"AwsSolutions::AwsSolutions-IAM5[Resource::*]"``. A bare id (``AwsSolutions-IAM5``) hides
        the finding from the validation report without an audit record, so it is refused.
        ``"checkov::CKV_AWS_117"`` skips a checkov check on ``scope``'s CloudFormation resource
        (``Metadata.checkov.skip``, with the reason as its comment).
    :param reason: why the finding is acceptable, in words a security reviewer accepts
        (at least ``MIN_REASON_LENGTH`` characters).
    :raises MwaaPlatformError: before anything is recorded, naming the bad id or reason.
    """
    ids = [rule_ids] if isinstance(rule_ids, str) else list(rule_ids)
    if not ids:
        raise MwaaPlatformError("rule_ids must name at least one finding, got none")
    for rule_id in ids:
        _check_rule_id(rule_id)
    stripped = reason.strip() if isinstance(reason, str) else ""
    if len(stripped) < MIN_REASON_LENGTH:
        raise MwaaPlatformError(
            f"reason must explain the exception in at least {MIN_REASON_LENGTH} characters, "
            f"got {len(stripped)} ({shorten(reason)}) for {', '.join(ids)}"
        )
    checkov = [match["check"] for match in map(_CHECKOV_ID.match, ids) if match]
    resource = _checkov_resource(scope, checkov) if checkov else None
    nag_ids = [rule_id for rule_id in ids if not _CHECKOV_ID.match(rule_id)]
    if nag_ids:
        # one jsii call for all of them: acknowledgments are a measurable share of synthesis time
        cdk.Validations.of(scope).acknowledge(*(cdk.Acknowledgment(id=rule_id, reason=stripped) for rule_id in nag_ids))
    if resource is not None:
        existing = resource.get_metadata(CHECKOV) or {}
        skips = [*existing.get("skip", []), *({"id": check, "comment": stripped} for check in checkov)]
        resource.add_metadata(CHECKOV, {**existing, "skip": skips})


def _checkov_resource(scope: IConstruct, checks: list[str]) -> cdk.CfnResource:
    try:
        return cfn_resource(scope)
    except TypeError:
        raise MwaaPlatformError(
            f"checkov skips ({', '.join(checks)}) live on one CloudFormation resource; {scope.node.path} is not one "
            "and has none as its default child"
        ) from None


def acknowledge_across_packs(
    scope: IConstruct, rule: str, reason: str, *, packs: Sequence[str] = COMPLIANCE_PACKS,
    also: Sequence[str] = (),
) -> None:
    """Acknowledge the same rule in each of ``packs`` with one reason, through ``acknowledge``.

    ``rule`` is the rule name without its pack (``"LambdaInsideVPC"``, optionally with a finding
    such as ``"IAM5[Resource::*]"``); it becomes ``"<Pack>::<Pack>-<rule>"`` for every pack, so one
    line records the audited exception in all of them.

    :param packs: the packs that have the rule. Default: the three compliance packs (NIST 800-53
        R5, HIPAA Security, PCI DSS 3.2.1).
    :param also: further ids for the same finding under another name, e.g. its checkov check
        (``"checkov::CKV_AWS_117"``). Default: none.
    """
    if not packs:
        raise MwaaPlatformError(f"packs must name at least one cdk-nag pack for rule {shorten(rule)}, got none")
    acknowledge(scope, [*(f"{pack}::{pack}-{rule}" for pack in packs), *also], reason)


def _check_rule_id(rule_id: str) -> None:
    if isinstance(rule_id, str) and _CHECKOV_ID.match(rule_id):
        return
    match = _RULE_ID.match(rule_id) if isinstance(rule_id, str) else None
    packs = known_pack_names()
    if match is None or match["pack"] not in packs:
        raise MwaaPlatformError(
            f"rule_id must be pack-prefixed as '<Pack>::<Pack>-<Rule>[<finding>]' with Pack one of "
            f"{', '.join(packs)} (or 'checkov::CKV_AWS_<n>' for a checkov check), got {shorten(rule_id)}"
        )


def wildcard_resource_finding(scope: IConstruct, resource: str) -> str:
    """The AwsSolutions-IAM5 finding id for a wildcard ``resource`` as cdk-nag renders it.

    cdk-nag names resources by their resolved form, with ``Fn::GetAtt`` as ``<LogicalId.Attr>``
    and ``Ref`` as ``<LogicalId>``, so an acknowledgment must be computed from the same tokens the
    policy uses rather than typed by hand.
    """
    return f"AwsSolutions::AwsSolutions-IAM5[Resource::{_render(cdk.Stack.of(scope).resolve(resource))}]"


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Fn::Join" and argument[0] == "":
            return "".join(_render(part) for part in argument[1])
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Ref":
            return f"<{argument}>"
    raise MwaaPlatformError(f"cannot render {shorten(value)} as a cdk-nag resource finding")
