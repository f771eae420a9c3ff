"""Construct ids are a contract: the logical ids of stateful resources must never change by accident.

Renaming or moving a construct changes its logical id, and CloudFormation then replaces the
resource in every deployed stack: a new key (old data unreadable), a new bucket, a new named MWAA
environment that collides with the old one. These ids are the same in every team stack (the stack
name is not part of a logical id), so the test reads the stacks from the example platform and
holds each one to the list below. A change here needs a reason in the commit message.
"""

import json
from pathlib import Path

#: Stateful resources of a team stack: logical id -> resource type.
TEAM_STACK_STATEFUL = {
    "Environment78414C64": "AWS::MWAA::Environment",
    "EnvironmentKeyDEA985CB": "AWS::KMS::Key",
    "EnvironmentSourceBucket17EEC0C9": "AWS::S3::Bucket",
    "EnvironmentSourceBucketAccessLogsF22CE715": "AWS::S3::Bucket",
    "EnvironmentDAGProcessingLogsFD4B22D8": "AWS::Logs::LogGroup",
    "EnvironmentSchedulerLogsBB4EC7D4": "AWS::Logs::LogGroup",
    "EnvironmentTaskLogs41CAC725": "AWS::Logs::LogGroup",
    "EnvironmentWebServerLogs31DFEC3A": "AWS::Logs::LogGroup",
    "EnvironmentWorkerLogs6930F8D4": "AWS::Logs::LogGroup",
    "EnvironmentExecutionRole932C6690": "AWS::IAM::Role",
}

#: Stateful resources of the network stack.
NETWORK_STACK_STATEFUL = {
    "NetworkKey1D162FA0": "AWS::KMS::Key",
    "NetworkVpc7FB7348F": "AWS::EC2::VPC",
    "NetworkVpcAirflowSubnet1Subnet2ECE42DD": "AWS::EC2::Subnet",
    "NetworkVpcAirflowSubnet2SubnetB814F4F4": "AWS::EC2::Subnet",
    "NetworkEndpointsSecurityGroup188E4053": "AWS::EC2::SecurityGroup",
    "NetworkFlowLogs2BEC3212": "AWS::Logs::LogGroup",
    "NetworkVpcIdParameterCEA05764": "AWS::SSM::Parameter",
    "NetworkSubnet1IdParameterD70C5279": "AWS::SSM::Parameter",
    "NetworkSubnet2IdParameterAD76C8A4": "AWS::SSM::Parameter",
    "NetworkEndpointSecurityGroupIdParameter0DA1F028": "AWS::SSM::Parameter",
    "NetworkS3PrefixListIdParameter576E8C8B": "AWS::SSM::Parameter",
    "NetworkEndpointClientsFE811ED6": "AWS::EC2::SecurityGroup",
    "NetworkEndpointClientsSecurityGroupIdParameterC9372FED": "AWS::SSM::Parameter",
}


def missing_stateful_ids(template: dict, expected: dict[str, str]) -> list[str]:
    """One readable line per expected stateful resource that is gone or changed type."""
    resources = template["Resources"]
    problems = []
    for logical_id, resource_type in expected.items():
        found = resources.get(logical_id, {}).get("Type")
        if found != resource_type:
            same_type = sorted(k for k, v in resources.items() if v["Type"] == resource_type and k not in expected)
            problems.append(
                f"{resource_type} {logical_id} is {'missing' if found is None else 'now a ' + found}; "
                f"unexpected {resource_type} ids: {same_type}. A changed logical id replaces the resource in every "
                "deployed stack: restore the construct id, or explain the replacement in the commit."
            )
    return problems


def _templates(platform):
    return {s.stack_name: json.loads((Path(platform.assembly.directory) / s.template_file).read_text())
            for s in platform.assembly.stacks}


def test_team_stacks_keep_their_stateful_logical_ids(platform):
    templates = _templates(platform)
    team_stacks = [name for name, t in templates.items()
                   if any(r["Type"] == "AWS::MWAA::Environment" for r in t["Resources"].values())]
    assert team_stacks
    for name in team_stacks:
        assert missing_stateful_ids(templates[name], TEAM_STACK_STATEFUL) == [], name


def test_network_stack_keeps_its_stateful_logical_ids(platform):
    templates = _templates(platform)
    networks = [t for t in templates.values() if any(r["Type"] == "AWS::EC2::VPC" for r in t["Resources"].values())]
    assert networks
    for network in networks:
        assert missing_stateful_ids(network, NETWORK_STACK_STATEFUL) == []


def test_a_renamed_stateful_resource_is_reported_readably():
    template = {"Resources": {"EnvironmentKeyRenamed123": {"Type": "AWS::KMS::Key"}}}
    (problem,) = missing_stateful_ids(template, {"EnvironmentKeyDEA985CB": "AWS::KMS::Key"})
    assert "AWS::KMS::Key EnvironmentKeyDEA985CB is missing" in problem
    assert "EnvironmentKeyRenamed123" in problem and "replaces the resource" in problem

