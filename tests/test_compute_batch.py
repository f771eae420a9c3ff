"""BatchCompute: a Fargate queue in the platform network, checked options, and exactly the BatchOperator's grants."""

import json

import pytest
from aws_cdk.assertions import Template

from harness import TEST_ACCOUNT, TEST_REGION, assert_cfn_lint_clean, assert_nag_clean, assert_stack_cfn_lint_clean, new_stack, resolve_literals
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError
from mwaa_platform.compute import BatchCompute, BatchJob, TaskImage

IMAGE = TaskImage.team_repository("v1")


def build(jobs=None, **kwargs):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["batch"])
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="2.11.0")
    compute = BatchCompute(stack, "Batch", network=network, jobs=jobs or [BatchJob("team-a-report", IMAGE)], **kwargs)
    compute.grant_submit(env)
    return stack, network, env, compute


def test_grant_submit_is_exactly_what_the_operator_calls():
    stack, _, env, compute = build()
    template = Template.from_stack(stack).to_json()
    role = {"Ref": stack.get_logical_id(env.execution_role.node.default_child)}
    statements = [resolve_literals(s, template) for p in template["Resources"].values()
                  if p["Type"] == "AWS::IAM::ManagedPolicy" and role in p["Properties"].get("Roles", [])
                  for s in p["Properties"]["PolicyDocument"]["Statement"] if "batch:" in json.dumps(s["Action"])
                  or (s["Action"] == "logs:GetLogEvents" and "Batch" in json.dumps(s["Resource"]))]
    by_action = {s["Action"]: s["Resource"] for s in statements}
    queue = f"{stack.get_logical_id(compute.job_queue.node.default_child)}.JobQueueArn"
    assert sorted(by_action["batch:SubmitJob"]) == sorted(
        [queue, f"arn:aws:batch:{TEST_REGION}:{TEST_ACCOUNT}:job-definition/team-a-report:*"])
    assert by_action["batch:DescribeJobs"] == "*"
    assert by_action["batch:TerminateJob"] == f"arn:aws:batch:{TEST_REGION}:{TEST_ACCOUNT}:job/*"
    assert by_action["logs:GetLogEvents"].endswith(":log-stream:*")
    assert set(by_action) == {"batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob", "logs:GetLogEvents"}


def test_jobs_run_on_fargate_in_private_subnets_with_their_retry_and_timeout():
    stack, network, _, compute = build(jobs=[BatchJob("etl", IMAGE, vcpus=2, memory_mib=4096, retry_attempts=3)],
                                       capacity="FARGATE_SPOT", max_vcpus=64, priority=10)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Batch::ComputeEnvironment", {"ComputeResources": {
        "Type": "FARGATE_SPOT", "MaxvCpus": 64}})
    template.has_resource_properties("AWS::Batch::JobQueue", {"Priority": 10})
    (definition,) = template.find_resources("AWS::Batch::JobDefinition").values()
    properties = definition["Properties"]
    assert properties["JobDefinitionName"] == "etl" and properties["RetryStrategy"]["Attempts"] == 3
    assert properties["Timeout"] == {"AttemptDurationSeconds": 3600}
    assert properties["ContainerProperties"]["NetworkConfiguration"]["AssignPublicIp"] == "DISABLED"
    assert compute.security_groups[1] is network.endpoint_clients_security_group
    own = template.find_resources("AWS::EC2::SecurityGroup")[stack.get_logical_id(compute.security_group.node.default_child)]
    assert "SecurityGroupIngress" not in own["Properties"]


@pytest.mark.parametrize("kwargs, message", [
    ({"jobs": [BatchJob("a", IMAGE, vcpus=3)]}, r"jobs\['a'\]: vcpus must be one of 0.25, 0.5, 1, 2, 4, 8, 16, got 3"),
    ({"jobs": [BatchJob("a", IMAGE, vcpus=1, memory_mib=512)]},
     r"memory_mib must be 2048-8192 in steps of 1024 MiB with 1024 CPU units for a Fargate job, got 512"),
    ({"jobs": [BatchJob("a", IMAGE, retry_attempts=11)]}, r"jobs\['a'\]: retry_attempts must be between 1 and 10, got 11"),
    ({"jobs": [BatchJob("a", IMAGE), BatchJob("a", IMAGE)]}, r"job name 'a' is used twice"),
    ({"jobs": [BatchJob("a b", IMAGE)]}, r"job name must be 1-100 letters, digits, '-' and '_', got 'a b'"),
    ({"priority": 1001}, r"priority must be between 0 and 1000, got 1001"),
    ({"max_vcpus": 0}, r"max_vcpus must be between 1 and 10000, got 0"),
    ({"capacity": "GPU"}, r"capacity must be FARGATE, FARGATE_SPOT, EC2 or SPOT, got .GPU."),
])
def test_invalid_options_are_refused_before_anything_is_created(kwargs, message):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["batch"])
    kwargs.setdefault("jobs", [BatchJob("ok", IMAGE)])
    with pytest.raises(MwaaPlatformError, match=r"^Test/Batch: " + message):
        BatchCompute(stack, "Batch", network=network, **kwargs)
    assert not stack.node.find_child("Batch").node.children


def test_batch_needs_its_endpoint():
    stack = new_stack()
    with pytest.raises(MwaaPlatformError, match=r"BatchCompute needs the 'batch' VPC endpoint"):
        BatchCompute(stack, "Batch", network=AirflowNetwork(stack, "Network"), jobs=[BatchJob("a", IMAGE)])


def test_batch_compute_and_its_grant_pass_all_packs_and_cfn_lint(tmp_path):
    stack, *_ = build()
    assert_nag_clean(stack)
    assert_stack_cfn_lint_clean(stack, tmp_path)


def test_ec2_and_spot_instances_with_imdsv2_encrypted_volumes_and_the_agent_endpoints(tmp_path):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["batch", "ecs-agent"])
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="2.11.0")
    compute = BatchCompute(stack, "Batch", network=network, capacity="SPOT", max_vcpus=64,
                           jobs=[BatchJob("big", IMAGE, vcpus=4, memory_mib=16000)])
    compute.grant_submit(env)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Batch::ComputeEnvironment", {"ComputeResources": {
        "Type": "SPOT", "MaxvCpus": 64, "MinvCpus": 0, "AllocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED"}})
    (launch,) = template.find_resources("AWS::EC2::LaunchTemplate").values()
    data = launch["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    (definition,) = template.find_resources("AWS::Batch::JobDefinition").values()
    assert "FARGATE" not in json.dumps(definition["Properties"].get("PlatformCapabilities", []))
    assert_nag_clean(stack)
    path = tmp_path / "ec2.template.json"
    path.write_text(json.dumps(template.to_json()))
    assert_cfn_lint_clean([path])


@pytest.mark.parametrize("vcpus, message", [(0.5, r"vcpus must be a whole number from 1 to max_vcpus \(16\) on EC2"),
                                            (32, r"vcpus must be a whole number from 1 to max_vcpus \(16\)")])
def test_ec2_jobs_take_whole_vcpus_within_the_cap(vcpus, message):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["batch", "ecs-agent"])
    with pytest.raises(MwaaPlatformError, match=message):
        BatchCompute(stack, "Batch", network=network, capacity="EC2", jobs=[BatchJob("a", IMAGE, vcpus=vcpus)])


def test_instances_need_the_ecs_agent_endpoints():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["batch"])
    with pytest.raises(MwaaPlatformError, match=r"BatchCompute on EC2 instances needs the 'ecs-agent' VPC endpoint"):
        BatchCompute(stack, "Batch", network=network, capacity="EC2", jobs=[BatchJob("a", IMAGE, vcpus=2)])
