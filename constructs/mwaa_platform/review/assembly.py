"""What the review reads from a cloud assembly: each stack's template, where it deploys, and the
acknowledgments recorded for its resources. Only files: ``manifest.json``, the templates, each
stack's metadata (logical ids of construct paths) and, when present, ``validation-report.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mwaa_platform.errors import MwaaPlatformError, shorten

__all__ = ["AcceptedFinding", "ReviewedStack", "read_assembly"]

#: CDK's built-in template validation runs only when the app asks for it, so two syntheses of one
#: app can differ in it; its acknowledgments are CDK's own, not the app's.
_SKIPPED_PLUGINS = frozenset({"CloudFormation Validate"})


@dataclass(frozen=True, order=True)
class AcceptedFinding:
    """One accepted finding: the rule id, the resource it was found on, where it was acknowledged, why."""

    rule: str
    resource: str
    acknowledged_at: str
    reason: str


@dataclass(frozen=True)
class ReviewedStack:
    """One stack of the assembly, as the review reads it."""

    name: str
    template: Mapping[str, Any]
    account: Optional[str]
    region: Optional[str]
    acknowledgments: tuple[AcceptedFinding, ...] = field(default=())

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        return self.template.get("Resources") or {}

    @property
    def parameters(self) -> Mapping[str, Any]:
        return self.template.get("Parameters") or {}


def read_assembly(directory: Path) -> list[ReviewedStack]:
    """Every CloudFormation stack of the cloud assembly in ``directory``, sorted by name."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise MwaaPlatformError(f"assembly must be a cloud assembly directory with manifest.json (cdk.out), got "
                                f"{shorten(str(directory))}")
    manifest = json.loads(manifest_path.read_text())
    report = _validation_report(directory)
    stacks = []
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
        logical_ids = _logical_ids(directory, artifact)
        account, region = _environment(artifact.get("environment", ""))
        name = artifact.get("displayName") or artifact_id
        stacks.append(ReviewedStack(
            name=artifact.get("properties", {}).get("stackName") or artifact_id, template=template,
            account=account, region=region,
            acknowledgments=tuple(sorted({*_reported(report, name, logical_ids), *_in_template(template)}))))
    return sorted(stacks, key=lambda stack: stack.name)


def _environment(environment: str) -> tuple[Optional[str], Optional[str]]:
    """``aws://111111111111/eu-west-1`` -> (account, Region); ``unknown-account`` -> None."""
    account, _, region = environment.removeprefix("aws://").partition("/")
    return (None if account.startswith("unknown") else account or None,
            None if region.startswith("unknown") else region or None)


def _logical_ids(directory: Path, artifact: Mapping[str, Any]) -> dict[str, str]:
    """Construct path (``/stack/Env/Resource``) -> logical id, from the stack's metadata."""
    metadata = dict(artifact.get("metadata") or {})
    extra = artifact.get("additionalMetadataFile")
    if extra and (directory / extra).is_file():
        metadata.update(json.loads((directory / extra).read_text()))
    return {path: entry["data"] for path, entries in metadata.items() for entry in entries
            if entry.get("type") == "aws:cdk:logicalId"}


def _validation_report(directory: Path) -> list[Mapping[str, Any]]:
    path = directory / "validation-report.json"
    if not path.is_file():
        return []
    return [plugin for plugin in json.loads(path.read_text()).get("pluginReports") or []
            if plugin.get("pluginName") not in _SKIPPED_PLUGINS]


def _reported(report: list[Mapping[str, Any]], stack: str, logical_ids: Mapping[str, str]) -> set[AcceptedFinding]:
    """The acknowledgments CDK's validation report lists for resources of the stack at construct path ``stack``."""
    found = set()
    for plugin in report:
        for violation in plugin.get("suppressedViolations") or []:
            for construct in violation.get("violatingConstructs") or []:
                path = str(construct.get("constructPath", ""))
                if not path.startswith(f"{stack}/"):
                    continue
                logical_id = logical_ids.get(f"/{path}")
                resource = path.removeprefix(f"{stack}/") + (f" ({logical_id})" if logical_id else "")
                found.add(AcceptedFinding(
                    rule=str(violation.get("acknowledgedId") or violation.get("ruleName")), resource=resource,
                    acknowledged_at=str(violation.get("acknowledgedAt", "")).removeprefix(f"{stack}/"),
                    reason=" ".join(str(violation.get("reason", "")).split())))
    return found


def _in_template(template: Mapping[str, Any]) -> set[AcceptedFinding]:
    """Acknowledgments written into resource Metadata: cdk-nag's ``rules_to_suppress`` (cdk-nag 2.x, or 3.x with
    ``write_suppressions_to_cloud_formation``) and checkov's ``skip``."""
    found = set()
    for logical_id, resource in (template.get("Resources") or {}).items():
        metadata = resource.get("Metadata") or {}
        entries = [(str(rule.get("id")), rule.get("reason")) for rule in
                   (metadata.get("cdk_nag") or {}).get("rules_to_suppress") or []]
        entries += [(f"checkov::{skip.get('id')}", skip.get("comment")) for skip in
                    (metadata.get("checkov") or {}).get("skip") or []]
        for rule, reason in entries:
            found.add(AcceptedFinding(rule=rule, resource=logical_id, acknowledged_at="template metadata",
                                     reason=" ".join(str(reason or "").split())))
    return found
