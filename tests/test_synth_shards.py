"""Selective synthesis (-c teams=, -c stages=) and sharded synthesis merged into one cloud assembly."""

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from harness import FIXTURE_REGISTRY, REPO_ROOT, build_inputs_key, cdk_json_context, mark_passed, passed_before
from mwaa_platform import MwaaPlatformError
from stacks.platform import Selection, build_platform
from stacks.registry import load_registry

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import synth_shards  # noqa: E402


def build(selection=Selection()):
    app = cdk.App(context=cdk_json_context(), builtin_cloud_formation_validation=False)
    return build_platform(app, load_registry(FIXTURE_REGISTRY, environ={}), selection)


@pytest.fixture(scope="module")
def full():
    return build()


def names(platform):
    return {stack.stack_name for stack in platform.stacks}


def test_a_team_selection_builds_its_stacks_and_every_platform_wide_stack(full):
    selected = build(Selection(teams=frozenset({"payments"})))
    platform_wide = {s.stack_name for s in [*full.networks.values(), *full.clusters.values(), *full.monitoring.values()]}
    assert names(selected) == platform_wide | {n for n in names(full) if "-payments-" in n}
    # built from the whole registry: the same templates as a full synthesis
    for key, stack in selected.networks.items():
        assert Template.from_stack(stack).to_json() == Template.from_stack(full.networks[key]).to_json()
    for key, stack in selected.monitoring.items():
        assert Template.from_stack(stack).to_json() == Template.from_stack(full.monitoring[key]).to_json()


def test_a_team_on_a_shared_environment_brings_that_environment_and_a_stage_selection_its_platform_stacks(full):
    analytics = build(Selection(teams=frozenset({"analytics"}), stages=frozenset({"prod"})))
    assert {"mwaa-platform-analytics-prod", "mwaa-platform-central-prod", "mwaa-platform-network-prod",
            "mwaa-platform-eks-prod", "mwaa-platform-monitoring-prod"} == names(analytics)


def test_a_selection_still_reads_and_checks_the_whole_registry(tmp_path):
    """A mistake in a team that is not selected still fails: the registry is validated whole."""
    broken = tmp_path / "platform.yaml"
    text = FIXTURE_REGISTRY.read_text().replace("cost_center: cc-4004", "cost_center: \"\"")
    broken.write_text(text.replace("../../../examples", str(REPO_ROOT / "examples")))
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO_ROOT, capture_output=True, text=True, env={
        **__import__("os").environ, "CDK_OUTDIR": str(tmp_path / "out"),
        "CDK_CONTEXT_JSON": json.dumps({"registry": str(broken), "teams": "payments", "checks": "off"})})
    assert result.returncode != 0 and "cost_center" in result.stderr and "reporting" in result.stderr, result.stderr


@pytest.mark.parametrize("teams, stages, shard, message", [
    ("payment", None, None, "context teams must name some of analytics, central, payments, reporting"),
    (None, "qa", None, "context stages must name some of dev, prod"),
    (None, None, "2/2", "context shard must be INDEX/COUNT with 0 <= INDEX < COUNT"),
])
def test_a_bad_selection_names_the_value_and_what_is_allowed(teams, stages, shard, message):
    with pytest.raises(MwaaPlatformError, match=message):
        Selection.from_context(teams, stages, shard, load_registry(FIXTURE_REGISTRY, environ={}))


def test_two_shards_merge_into_the_single_process_assembly(platform, tmp_path):
    """Byte-identical templates, the same artifacts and dependencies, one validation report, and an
    assembly the pinned CDK CLI lists. Deterministic: a pass with the same inputs is not rerun."""
    key = build_inputs_key("shards", (REPO_ROOT / "scripts" / "synth_shards.py").read_text(), Path(__file__).read_text())
    if passed_before("shards", key):
        return
    merged = tmp_path / "cdk.out"
    synth_shards.synthesize(2, merged, {"registry": str(FIXTURE_REGISTRY)})
    single = Path(platform.assembly.directory)
    one, two = (json.loads((d / "manifest.json").read_text())["artifacts"] for d in (single, merged))
    assert one == two
    for name, artifact in one.items():
        if artifact["type"] == "aws:cloudformation:stack":
            template = artifact["properties"]["templateFile"]
            assert (single / template).read_bytes() == (merged / template).read_bytes(), name
    report = json.loads((merged / "validation-report.json").read_text())
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"])
    single_report = json.loads((single / "validation-report.json").read_text())
    counts = {p["pluginName"]: len(p.get("suppressedViolations", [])) for p in single_report["pluginReports"]}
    assert {p["pluginName"]: len(p["suppressedViolations"]) for p in report["pluginReports"]} == counts
    assert (merged / "dag-paths.md").read_text() == (single / "dag-paths.md").read_text()
    listed = subprocess.run([str(REPO_ROOT / "node_modules" / ".bin" / "cdk"), "ls", "--app", str(merged)],
                            cwd=tmp_path, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == {a["displayName"] if "displayName" in a else n for n, a in one.items()
                                          if a["type"] == "aws:cloudformation:stack"}
    mark_passed("shards", key)


def test_a_failed_merge_leaves_no_assembly_to_deploy(tmp_path):
    shards = []
    for index, template in enumerate(("a", "b")):
        shard = tmp_path / f"shard-{index}"
        shard.mkdir()
        (shard / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": {"net": {
            "type": "aws:cloudformation:stack", "properties": {"templateFile": f"net-{template}.template.json"}}}}))
        shards.append(shard)
    out = tmp_path / "cdk.out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # a previous assembly is replaced, not kept
    with pytest.raises(SystemExit, match="artifact net differs between shards"):
        synth_shards.merge(shards, out)
    assert not out.exists()
