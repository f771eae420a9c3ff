"""The library's example platform (tests/fixtures/platform/platform.yaml) as `cdk synth` produces it: nag-clean,
cfn-lint-clean, snapshotted. The user's own platform.yaml is checked by tests/test_your_platform.py."""

import json
import re
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from harness import REPO_ROOT, assembly_templates, assert_assembly_cfn_lint_clean, scrub
from mwaa_platform.compliance.nag import known_pack_names


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


_templates = assembly_templates


def test_every_stack_passes_cfn_lint(platform):
    assert_assembly_cfn_lint_clean(platform.assembly)


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


def test_the_readme_names_every_template_of_the_example(platform):
    """README's template table lists exactly the templates `make synth` writes for the example."""
    text = (REPO_ROOT / "README.md").read_text()
    table = text.split("| template in `cdk.out/` | what |")[1].split("\n\n")[0]
    named = set(re.findall(r"`([\w.-]+)\.template\.json`", table))
    assert named == set(_templates(platform.assembly)), "update the table in README.md, 'What `make synth` produces'"
