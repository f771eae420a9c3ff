"""The example platform as `cdk synth` produces it: nag-clean, cfn-lint-clean, snapshotted."""

import json
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from harness import assert_cfn_lint_clean, scrub
from mwaa_platform.compliance.nag import known_pack_names


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def _templates(assembly):
    return {stack.stack_name: Path(assembly.directory) / stack.template_file for stack in assembly.stacks}


def test_every_stack_passes_cfn_lint(platform):
    assert_cfn_lint_clean(_templates(platform.assembly).values())


def test_every_stack_matches_its_snapshot(platform, snapshot_json):
    templates = _templates(platform.assembly)
    assert templates
    for name, path in sorted(templates.items()):
        assert scrub(json.loads(path.read_text())) == snapshot_json(name=name)


def _validation_report(assembly):
    return json.loads((Path(assembly.directory) / "validation-report.json").read_text())


def test_all_four_packs_ran_and_passed(platform):
    reports = {r["pluginName"]: r for r in _validation_report(platform.assembly)["pluginReports"]}
    # CDK's own template validation runs too, as in `cdk synth`; it downgrades its errors to warnings,
    # so it must report nothing at all
    assert {"AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321", "CloudFormation Validate"} <= set(reports)
    for name, report in reports.items():
        assert report["conclusion"] == "success", (name, report["violations"])
    assert reports["CloudFormation Validate"]["violations"] == []


def test_every_acknowledgment_suppresses_a_real_finding(platform):
    """No stale exceptions: each acknowledgment recorded in the tree is used by the report."""
    suppressed = {
        (item["acknowledgedId"], item["acknowledgedAt"])
        for report in _validation_report(platform.assembly)["pluginReports"]
        for item in report.get("suppressedViolations", [])
    }
    ours = tuple(f"{pack}::" for pack in known_pack_names())  # CDK records acknowledgments of its own too
    recorded = {(ack_id, path) for ack_id, paths in platform.acknowledgments.items() for path in paths
                if ack_id.startswith(ours)}
    assert suppressed and recorded
    assert sorted(recorded - suppressed) == []
