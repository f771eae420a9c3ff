"""Your platform: the checks that read platform.yaml, the registry the platform team edits.

Everything else in tests/ tests the library and the app on their own registry
(tests/fixtures/platform/platform.yaml), so it stays green whatever platform.yaml holds. These
tests hold platform.yaml itself: it is valid (schema and registry), it synthesizes with the cdk-nag
packs (cdk-nag's four and the library's MwaaChecks) and the preflight checks, cfn-lint and checkov find
nothing, every stack matches its snapshot in tests/__snapshots__/test_your_platform/, and the security
review in docs/review/ is the one its templates generate.

After changing platform.yaml, review the new templates and run `make snapshots` (which also rewrites
docs/review/); commit the snapshots and the review with the change (docs/testing.md).
"""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from syrupy.extensions.json import JSONSnapshotExtension

from harness import (REPO_ROOT, USER_REGISTRY, assembly_templates, assert_assembly_cfn_lint_clean, checkov_failures,
                     checkov_reports, scrub)

SCHEMA = REPO_ROOT / "docs" / "registry.schema.json"


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_platform_yaml_points_editors_at_the_schema():
    first = USER_REGISTRY.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=docs/registry.schema.json"
    assert (REPO_ROOT / first.split("$schema=")[1]).resolve() == SCHEMA


def test_platform_yaml_is_valid():
    """The schema editors check it with, then the registry's own checks (which also read the files it names)."""
    from stacks.registry import load_registry

    jsonschema.validate(yaml.safe_load(USER_REGISTRY.read_text()), json.loads(SCHEMA.read_text()))
    assert load_registry(USER_REGISTRY, environ={}).environments


def test_all_packs_and_the_preflight_pass(user_platform):
    """Synthesis raises on any unacknowledged finding; the report says every plugin ran and passed."""
    report = json.loads((Path(user_platform.assembly.directory) / "validation-report.json").read_text())
    reports = {r["pluginName"]: r for r in report["pluginReports"]}
    assert {"AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321", "CloudFormation Validate"} <= set(reports)
    assert any("reflight" in name for name in reports), sorted(reports)
    for name, plugin in reports.items():
        assert plugin["conclusion"] == "success", (name, plugin["violations"])


def test_every_stack_passes_cfn_lint(user_platform):
    assert_assembly_cfn_lint_clean(user_platform.assembly)


def test_checkov_reports_no_failed_check(user_platform):
    assert checkov_failures(checkov_reports(user_platform.assembly)) == []


def test_every_stack_matches_its_snapshot(user_platform, snapshot_json):
    templates = assembly_templates(user_platform.assembly)
    assert templates
    for name, path in sorted(templates.items()):
        assert scrub(json.loads(path.read_text())) == snapshot_json(name=name)


def test_the_mwaa_pack_passes_with_no_acknowledgment_but_reasoned_team_opt_outs(user_platform):
    """MwaaChecks (part of the synthesis above) accepts no exception but a team's opt-out of the private web server."""
    from mwaa_platform import WEB_SERVER_PRIVATE_RULE

    ours = {rule for rule in user_platform.acknowledgments if rule.startswith("MwaaChecks::")}
    assert ours <= {f"MwaaChecks::{WEB_SERVER_PRIVATE_RULE}"}, sorted(ours)


def test_the_committed_security_review_is_current(user_platform, request):
    """docs/review/ is what `python -m mwaa_platform.review` writes from these templates; `make snapshots` (or
    `make synth`) rewrites it."""
    from mwaa_platform.review import stale_pages, write_review

    assembly, review = Path(user_platform.assembly.directory), REPO_ROOT / "docs" / "review"
    if request.config.getoption("--snapshot-update", default=False):
        write_review(assembly, review)
    stale = stale_pages(assembly, review)
    assert stale == [], (f"docs/review/ is stale ({', '.join(stale)}): run `make snapshots` (or `make synth`), "
                         "review the change and commit docs/review/")


def test_only_your_platform_tests_read_platform_yaml():
    """The split that keeps the library's tests green whatever platform.yaml holds: no other test module
    (nor the harness) names it, so they all build tests/fixtures/platform/platform.yaml."""
    allowed = {"test_your_platform.py", "test_roundtrips.py", "conftest.py", "harness.py"}
    readers = sorted(path.name for path in (REPO_ROOT / "tests").glob("*.py") if path.name not in allowed
                     and ("USER_REGISTRY" in path.read_text() or re.search(r"""REPO(_ROOT)? / ["']platform\.yaml""",
                                                                           path.read_text())))
    assert readers == []
