"""The platform app's stacks: names, stages, tags on every taggable resource, wiring to the network."""

import json
from pathlib import Path

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from harness import TEST_REGION


def _template(platform, stack_name):
    stack = platform.assembly.get_stack_by_name(stack_name)
    return json.loads((Path(platform.assembly.directory) / stack.template_file).read_text())


def _taggable(resource_type):
    """Whether CloudFormation's resource schema (as cfn-lint ships it) says the type takes tags."""
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return False
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(TEST_REGION, resource_type).schema
    return bool(schema.get("tagging", {}).get("taggable")) and "Tags" in schema.get("properties", {})


def _tags(properties):
    tags = properties.get("Tags", {})
    return tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}


def test_stack_names_come_from_the_registry(platform):
    assert sorted(s.stack_name for s in platform.assembly.stacks) == [
        "mwaa-platform-analytics-dev", "mwaa-platform-network", "mwaa-platform-payments-prod"]


def test_prod_has_termination_protection_and_dev_does_not(platform):
    stacks = {s.stack_name: s for s in platform.assembly.stacks}
    assert stacks["mwaa-platform-payments-prod"].termination_protection is True
    assert not stacks["mwaa-platform-analytics-dev"].termination_protection


def test_team_stacks_deploy_after_the_network(platform):
    for stack in platform.assembly.stacks:
        if stack.stack_name != "mwaa-platform-network":
            assert [d.id for d in stack.dependencies if not d.id.endswith(".assets")] == ["mwaa-platform-network"]


@pytest.mark.parametrize("stack_name, expected", [
    ("mwaa-platform-analytics-dev", {"team": "analytics", "cost-center": "cc-1001", "stage": "dev"}),
    ("mwaa-platform-payments-prod", {"team": "payments", "cost-center": "cc-2002", "stage": "prod",
                                     "data-classification": "confidential"}),
])
def test_every_taggable_resource_of_a_team_stack_carries_the_cost_tags(platform, stack_name, expected):
    expected = {**expected, "platform": "mwaa-platform", "managed-by": "cdk"}
    resources = _template(platform, stack_name)["Resources"]
    taggable = {lid: r for lid, r in resources.items() if _taggable(r["Type"])}
    assert {r["Type"] for r in taggable.values()} >= {
        "AWS::MWAA::Environment", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::IAM::Role", "AWS::Logs::LogGroup",
        "AWS::Lambda::Function", "AWS::EC2::SecurityGroup"}
    missing = {lid: r["Type"] for lid, r in taggable.items()
               if not expected.items() <= _tags(r.get("Properties", {})).items()}
    assert missing == {}


def test_network_stack_resources_carry_the_platform_tags(platform):
    resources = _template(platform, "mwaa-platform-network")["Resources"]
    missing = {lid: r["Type"] for lid, r in resources.items() if _taggable(r["Type"])
               and not {"platform": "mwaa-platform", "managed-by": "cdk"}.items() <= _tags(r.get("Properties", {})).items()}
    assert missing == {}


def test_network_endpoints_follow_what_teams_use(platform):
    resources = _template(platform, "mwaa-platform-network")["Resources"]
    services = {r["Properties"]["ServiceName"] for r in resources.values() if r["Type"] == "AWS::EC2::VPCEndpoint"
                and isinstance(r["Properties"]["ServiceName"], str)}
    assert "com.amazonaws.eu-west-1.secretsmanager" in services  # payments uses the secrets backend
    assert "com.amazonaws.eu-west-1.sts" not in services


def test_web_access_attaches_a_managed_policy_to_each_named_role(platform):
    resources = _template(platform, "mwaa-platform-payments-prod")["Resources"]
    policies = sorted(
        (r["Properties"]["Roles"], r["Properties"]["PolicyDocument"]["Statement"])
        for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"
        and r["Properties"]["PolicyDocument"]["Statement"][0]["Action"] == "airflow:CreateWebLoginToken"
    )
    arn = "arn:aws:airflow:eu-west-1:123456789012:role/payments-prod/{}"
    assert policies == [
        (["payments-engineers"], [{"Action": "airflow:CreateWebLoginToken", "Effect": "Allow",
                                    "Resource": arn.format("User")}]),
        (["payments-oncall"], [{"Action": "airflow:CreateWebLoginToken", "Effect": "Allow", "Resource": arn.format("Op")}]),
    ]


def test_team_stacks_export_nothing_and_import_nothing(platform):
    for stack in platform.assembly.stacks:
        template = _template(platform, stack.stack_name)
        assert "Fn::ImportValue" not in json.dumps(template)
        assert not any("Export" in output for output in template.get("Outputs", {}).values())


def test_team_stacks_add_no_rule_to_any_network_resource(platform):
    """Onboarding a team changes nothing in the network stack: its rules name only its own groups."""
    team_stacks = [s.stack_name for s in platform.assembly.stacks
                   if any(r["Type"] == "AWS::MWAA::Environment"
                          for r in _template(platform, s.stack_name)["Resources"].values())]
    assert team_stacks
    for name in team_stacks:
        template = _template(platform, name)
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
                group = resource["Properties"]["GroupId"]
                assert "Fn::GetAtt" in group and group["Fn::GetAtt"][0] in template["Resources"], (name, logical_id)
