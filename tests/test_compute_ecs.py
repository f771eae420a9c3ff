"""EcsTaskCompute: a Fargate task in the platform network, and exactly the grants EcsRunTaskOperator needs."""

import json

import pytest
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from harness import TEST_ACCOUNT, TEST_REGION, assert_nag_clean, assert_stack_cfn_lint_clean, new_stack, resolve_literals
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError
from mwaa_platform.compute import EcsTaskCompute, TaskImage, check_fargate_size

SECRET_ARN = f"arn:aws:secretsmanager:{TEST_REGION}:{TEST_ACCOUNT}:secret:team-a/db-AbCdEf"


def build(*, endpoint_sets=("ecs", "secretsmanager"), grant=None, **kwargs):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=list(endpoint_sets))
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="2.11.0")
    kwargs.setdefault("image", TaskImage.team_repository("v1"))
    compute = EcsTaskCompute(stack, "Etl", network=network, family="team-a-etl", **kwargs)
    compute.grant_run(env, **(grant or {}))
    return stack, network, env, compute


def env_statements(stack, env):
    template = Template.from_stack(stack).to_json()
    role = {"Ref": stack.get_logical_id(env.execution_role.node.default_child)}
    return [resolve_literals(s, template) for p in template["Resources"].values()
            if p["Type"] == "AWS::IAM::ManagedPolicy" and role in p["Properties"].get("Roles", [])
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_grant_run_is_exactly_what_the_operator_calls():
    stack, _, env, compute = build()
    cluster = stack.get_logical_id(compute.cluster.node.default_child)
    statements = {tuple(sorted(s["Action"])) if isinstance(s["Action"], list) else (s["Action"],): s
                  for s in env_statements(stack, env) if "ecs:" in json.dumps(s["Action"]) or "iam:PassRole" in
                  json.dumps(s["Action"]) or s["Action"] == "logs:GetLogEvents"}
    run = statements[("ecs:RunTask",)]
    assert run["Resource"] == f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:task-definition/team-a-etl:*"
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": f"{cluster}.Arn"}}
    watch = statements[("ecs:DescribeTasks", "ecs:StopTask")]
    assert watch["Resource"] == f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:task/ref:{cluster}/*"
    passing = statements[("iam:PassRole",)]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert sorted(passing["Resource"]) == sorted(
        f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(role.node.default_child)}"
        for role in (compute.task_role, compute.execution_role))
    logs = statements[("logs:GetLogEvents",)]
    assert logs["Resource"].endswith(":log-stream:team-a-etl/*")
    assert ("ecs:ListTasks",) not in statements and ("ecs:TagResource",) not in statements
    assert not any(s["Action"] in ("*", "ecs:*") for s in env_statements(stack, env))


def test_reattach_and_tag_propagation_add_only_their_calls():
    stack, _, env, _ = build(grant={"reattach": True, "propagate_tags": True})
    statements = env_statements(stack, env)
    (listing,) = [s for s in statements if s["Action"] == "ecs:ListTasks"]
    assert listing["Resource"] == "*" and "ecs:cluster" in listing["Condition"]["ArnEquals"]
    (tagging,) = [s for s in statements if s["Action"] == "ecs:TagResource"]
    assert tagging["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}


def test_the_task_runs_privately_with_no_ingress_and_a_role_without_permissions():
    stack, network, _, compute = build()
    template = Template.from_stack(stack)
    own = template.find_resources("AWS::EC2::SecurityGroup")[stack.get_logical_id(compute.security_group.node.default_child)]
    assert "SecurityGroupIngress" not in own["Properties"]
    assert compute.security_groups[1] is network.endpoint_clients_security_group
    assert compute.network_configuration["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    task_role = stack.get_logical_id(compute.task_role.node.default_child)
    assert not [p for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
                if {"Ref": task_role} in p["Properties"].get("Roles", [])]
    template.has_resource_properties("AWS::ECS::Cluster", {"ClusterSettings": [
        {"Name": "containerInsights", "Value": "enabled"}]})
    template.has_resource_properties("AWS::ECR::Repository", {
        "ImageScanningConfiguration": {"ScanOnPush": True}, "ImageTagMutability": "IMMUTABLE"})
    (definition,) = template.find_resources("AWS::ECS::TaskDefinition").values()
    container = definition["Properties"]["ContainerDefinitions"][0]
    assert container["Name"] == "main" and container["ReadonlyRootFilesystem"] is True
    assert container["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "team-a-etl"


def test_secrets_come_from_secrets_manager_and_need_its_endpoint():
    stack = new_stack()
    network = AirflowNetwork(stack, "WithSecrets", endpoint_sets=["ecs", "secretsmanager"])
    secret = secretsmanager.Secret.from_secret_complete_arn(stack, "Db", SECRET_ARN)
    compute = EcsTaskCompute(stack, "Ok", network=network, family="ok", image=TaskImage.from_uri("x"),
                             secrets={"DB": secret})
    template = Template.from_stack(stack).to_json()
    (definition,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert definition["Properties"]["ContainerDefinitions"][0]["Secrets"] == [{"Name": "DB", "ValueFrom": SECRET_ARN}]
    execution = [p for p in template["Resources"].values() if p["Type"] == "AWS::IAM::ManagedPolicy" and
                 {"Ref": stack.get_logical_id(compute.execution_role.node.default_child)} in p["Properties"]["Roles"]]
    assert "secretsmanager:GetSecretValue" in json.dumps(execution)
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["ecs"])
    secret = secretsmanager.Secret.from_secret_complete_arn(stack, "Db", SECRET_ARN)
    with pytest.raises(MwaaPlatformError, match=r"^Test/Etl: secrets needs the 'secretsmanager' VPC endpoint"):
        EcsTaskCompute(stack, "Etl", network=network, family="etl", image=TaskImage.from_uri("x"), secrets={"DB": secret})


@pytest.mark.parametrize("cpu, memory, message", [
    (300, 512, r"cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 CPU units for a Fargate task, got 300"),
    (256, 4096, r"memory_mib must be 512, 1024, 2048 MiB with 256 CPU units for a Fargate task, got 4096"),
    (1024, 1536, r"memory_mib must be 2048-8192 in steps of 1024 MiB with 1024 CPU units"),
])
def test_fargate_sizes_are_checked(cpu, memory, message):
    with pytest.raises(MwaaPlatformError, match=message):
        check_fargate_size(cpu, memory)
    check_fargate_size(8192, 16384)


def test_bad_options_fail_before_anything_is_created():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["ecs"])
    with pytest.raises(MwaaPlatformError, match=r"image must name exactly one source"):
        EcsTaskCompute(stack, "A", network=network, family="a", image=TaskImage())
    with pytest.raises(MwaaPlatformError, match=r"image needs a tag for a repository image"):
        EcsTaskCompute(stack, "B", network=network, family="b", image=TaskImage(new_repository=True))
    with pytest.raises(MwaaPlatformError, match=r"family must be 1-255 letters, digits, '-' and '_', got 'a b'"):
        EcsTaskCompute(stack, "C", network=network, family="a b", image=TaskImage.from_uri("x"))
    no_ecs = AirflowNetwork(stack, "Plain")
    with pytest.raises(MwaaPlatformError, match=r"EcsTaskCompute needs the 'ecs' VPC endpoint"):
        EcsTaskCompute(stack, "D", network=no_ecs, family="d", image=TaskImage.from_uri("x"))
    assert all(not stack.node.find_child(name).node.children for name in "ABCD")


def test_ecs_compute_and_its_grant_pass_all_packs_and_cfn_lint(tmp_path):
    stack, *_ = build(grant={"reattach": True}, environment={"MODE": "batch"})
    assert_nag_clean(stack)
    assert_stack_cfn_lint_clean(stack, tmp_path)


def test_task_roles_trust_ecs_tasks_of_this_account_and_region_only():
    """Confused-deputy conditions the ECS developer guide gives for task and task execution roles."""
    stack, _, _, compute = build()
    template = Template.from_stack(stack).to_json()
    for role in (compute.task_role, compute.execution_role):
        trust = template["Resources"][stack.get_logical_id(role.node.default_child)]["Properties"]["AssumeRolePolicyDocument"]
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert resolve_literals(statement["Condition"], template) == {
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:*"},
            "StringEquals": {"aws:SourceAccount": TEST_ACCOUNT}}
