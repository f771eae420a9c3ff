"""MWAA Serverless workflows from the registry: a team with only workflows, quotas across teams."""

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from harness import cdk_json_context, nag_violations, write_registry
from stacks.platform import build_platform
from stacks.registry import RegistryError, load_registry

STAGES = {"dev": {"account": "111111111111", "region": "eu-west-1", "availability_zones": ["eu-west-1a", "eu-west-1b"]}}
WORKFLOW = {"definition": "examples/serverless/simple_s3_test.yaml", "derive_grants": True}


def registry(tmp_path: Path, *teams: dict) -> Path:
    return write_registry(tmp_path, {"platform": {"name": "mwaa-platform"}, "stages": STAGES, "teams": list(teams)})


def team(name="reporting", **dev):
    return {"name": name, "cost_center": "cc-4004",
            "environments": {"dev": dev or {"serverless_only": True, "serverless_workflows": [dict(WORKFLOW)]}}}


def test_a_team_with_only_workflows_gets_their_stack_and_no_environment(tmp_path):
    app = cdk.App(context=cdk_json_context(), builtin_cloud_formation_validation=False)
    platform = build_platform(app, load_registry(registry(tmp_path, team())))
    assert platform.environments == {} and platform.networks == {}
    stack = platform.serverless["mwaa-platform-reporting-dev"]
    template = Template.from_stack(stack)
    (workflow,) = template.find_resources("AWS::MWAAServerless::Workflow").values()
    assert workflow["Properties"]["Name"] == "simple_s3_test"
    assert "VersionId" in workflow["Properties"]["DefinitionS3Location"]
    assert not template.find_resources("AWS::MWAA::Environment")
    tags = {tag["Key"]: tag["Value"] for tag in template.find_resources("AWS::S3::Bucket").popitem()[1][
        "Properties"]["Tags"]}
    assert (tags["team"], tags["cost-center"], tags["stage"]) == ("reporting", "cc-4004", "dev")
    assert nag_violations(stack) == []


def test_workflows_beside_an_environment_get_a_stack_of_their_own(tmp_path):
    own = team(dags="examples/dags", environment_class="mw1.micro", serverless_workflows=[WORKFLOW])
    platform = load_registry(registry(tmp_path, own))
    assert [spec.stack_name for spec in platform.serverless] == ["mwaa-platform-reporting-dev-serverless"]
    assert [env.environment_name for env in platform.environments] == ["reporting-dev"]


@pytest.mark.parametrize("teams, message", [
    ((team(serverless_only=True),), "serverless_only needs serverless_workflows"),
    ((team(serverless_only=True, serverless_workflows=[WORKFLOW], environment_class="mw1.small"),),
     "environment_class configure an MWAA environment, which serverless_only leaves out"),
    ((team(serverless_only=True, serverless_workflows=[{"definition": "examples/dags/hello_platform.py"}]),),
     r"serverless_workflows\[0\]: .*hello_platform.py"),
    ((team(serverless_only=True, serverless_workflows=[{"definition": "missing.yaml"}]),),
     r"serverless_workflows\[0\]: definition must be an existing YAML file"),
    ((team(), team("finance")),
     r"platform.yaml:\d+: team 'finance' stage 'dev': serverless workflow simple_s3_test is also a workflow of team "
     "'reporting' in stage 'dev', in the same account 111111111111"),
    ((team(serverless_only=True, serverless_workflows=[{**WORKFLOW, "workflow_name": f"w{i}"} for i in range(101)]),),
     "would hold 101 MWAA Serverless workflows across teams; the quota is 100 per account"),
], ids=["no-workflows", "environment-fields", "not-a-definition", "missing-file", "same-name", "quota"])
def test_serverless_mistakes_are_registry_errors(tmp_path, teams, message):
    with pytest.raises(RegistryError, match=message):
        load_registry(registry(tmp_path, *teams))
