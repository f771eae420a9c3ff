"""EcsTaskCompute: a Fargate task in the platform network, its Step Functions launcher, and exactly the grants
StepFunctionStartExecutionOperator needs."""

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


@pytest.fixture(scope="module")
def built():
    """The default build, shared by the tests that only read it (each build is a synthesis)."""
    return build()


def env_statements(stack, env):
    template = Template.from_stack(stack).to_json()
    role = {"Ref": stack.get_logical_id(env.execution_role.node.default_child)}
    return [resolve_literals(s, template) for p in template["Resources"].values()
            if p["Type"] == "AWS::IAM::ManagedPolicy" and role in p["Properties"].get("Roles", [])
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_grant_run_is_exactly_what_the_operator_calls_and_no_ecs_action(built):
    stack, _, env, compute = built
    statements = env_statements(stack, env)
    states = {s["Action"]: s for s in statements if "states:" in json.dumps(s["Action"])}
    assert states["states:StartExecution"]["Resource"] == (
        f"arn:aws:states:{TEST_REGION}:{TEST_ACCOUNT}:stateMachine:team-a-etl")
    assert states["states:DescribeExecution"]["Resource"] == (
        f"arn:aws:states:{TEST_REGION}:{TEST_ACCOUNT}:execution:team-a-etl:*")
    assert "states:RedriveExecution" not in states
    # the DAG can neither start a task itself nor pass the task's roles: the launcher does both
    assert not [s for s in statements if "ecs:" in json.dumps(s["Action"]) or "iam:PassRole" in json.dumps(s["Action"])]
    assert compute.state_machine_arn.endswith(":stateMachine:team-a-etl")


def test_redrive_adds_only_its_call():
    stack, _, env, _ = build(grant={"redrive": True})
    (redrive,) = [s for s in env_statements(stack, env) if "states:RedriveExecution" in s["Action"]]
    assert sorted(redrive["Action"]) == ["states:DescribeExecution", "states:RedriveExecution"]
    assert redrive["Resource"].endswith(":execution:team-a-etl:*")


def launcher(stack, compute):
    template = Template.from_stack(stack).to_json()
    machine = template["Resources"][stack.get_logical_id(compute.state_machine.node.default_child)]
    definition = json.loads(resolve_literals(stack.resolve(
        compute.state_machine.node.default_child.definition_string), template))
    role = template["Resources"][stack.get_logical_id(compute.launcher.role.node.default_child)]
    policy = [resolve_literals(s, template) for p in template["Resources"].values()
              if p["Type"] == "AWS::IAM::ManagedPolicy" and
              {"Ref": stack.get_logical_id(compute.launcher.role.node.default_child)} in p["Properties"]["Roles"]
              for s in p["Properties"]["PolicyDocument"]["Statement"]]
    return machine, definition, role, policy


def test_the_launcher_fixes_cluster_family_and_network(built):
    """Finding (issue 24): a RunTask caller picks awsvpcConfiguration.securityGroups, so a DAG with
    ecs:RunTask could put its task in another team's security group. The launcher's definition fixes
    them; nothing in it reads the input except the overrides expression."""
    stack, network, _, compute = built
    machine, definition, _, _ = launcher(stack, compute)
    assert machine["Properties"]["StateMachineName"] == "team-a-etl"
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    assert definition["QueryLanguage"] == "JSONata"
    (state,) = definition["States"].values()
    assert state["Resource"] == "arn:aws:states:::ecs:runTask.sync" and state["End"] is True
    arguments = state["Arguments"]
    cluster = stack.get_logical_id(compute.cluster.node.default_child)
    assert arguments["Cluster"] == f"{cluster}.Arn" and arguments["TaskDefinition"] == "team-a-etl"
    assert arguments["LaunchType"] == "FARGATE"
    vpc = arguments["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert vpc["AssignPublicIp"] == "DISABLED"
    assert vpc["SecurityGroups"] == [
        f"{stack.get_logical_id(compute.security_group.node.default_child)}.GroupId",
        f"{stack.get_logical_id(network.endpoint_clients_security_group.node.default_child)}.GroupId"]
    assert vpc["Subnets"] == [f"ref:{stack.get_logical_id(s.node.default_child)}" for s in network.subnets]
    # only the overrides are an expression; every other argument is a literal of the definition
    expressions = [key for key, value in arguments.items() if "{%" in json.dumps(value)]
    assert expressions == ["Overrides"]


@pytest.mark.parametrize("execution_input, overrides", [
    ({}, [{"Name": "main", "Environment": []}]),
    ({"command": ["settle", "2026-11-30"]}, [{"Name": "main", "Command": ["settle", "2026-11-30"], "Environment": []}]),
    ({"command": ["one"]}, [{"Name": "main", "Command": ["one"], "Environment": []}]),
    ({"environment": {"RUN_DATE": "2026-11-30", "N": 3}},
     [{"Name": "main", "Environment": [{"Name": "RUN_DATE", "Value": "2026-11-30"}, {"Name": "N", "Value": "3"}]}]),
    # whatever else the DAG sends is not read: no network, role, size, family or second container
    ({"command": ["x"], "NetworkConfiguration": {"AwsvpcConfiguration": {"SecurityGroups": ["sg-other"]}},
      "TaskRoleArn": "arn:aws:iam::111111111111:role/other", "Cpu": "16384", "ContainerOverrides": [{"Name": "side"}]},
     [{"Name": "main", "Command": ["x"], "Environment": []}]),
])
def test_the_dag_input_sets_the_command_and_environment_only(execution_input, overrides, built):
    """The Overrides expression evaluated by a JSONata engine, as Step Functions evaluates it for each execution."""
    import jsonata

    stack, _, _, compute = built
    _, definition, _, _ = launcher(stack, compute)
    (state,) = definition["States"].values()
    source = state["Arguments"]["Overrides"]
    assert source.startswith("{%") and source.endswith("%}")
    expression = jsonata.Jsonata(source[2:-2].strip())
    expression.assign("states", {"input": execution_input})
    assert expression.evaluate(None) == {"ContainerOverrides": overrides}


def test_the_launcher_role_runs_only_this_family_and_trusts_only_this_state_machine(built):
    stack, _, _, compute = built
    _, _, role, policy = launcher(stack, compute)
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"] == {
        "ArnEquals": {"aws:SourceArn": f"arn:aws:states:{TEST_REGION}:{TEST_ACCOUNT}:stateMachine:team-a-etl"},
        "StringEquals": {"aws:SourceAccount": TEST_ACCOUNT}}
    by_sid = {s.get("Sid"): s for s in policy}
    cluster = stack.get_logical_id(compute.cluster.node.default_child)
    assert by_sid["RunTaskFamily"]["Resource"] == f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:task-definition/team-a-etl:*"
    assert by_sid["RunTaskFamily"]["Condition"] == {"ArnEquals": {"ecs:cluster": f"{cluster}.Arn"}}
    assert by_sid["WatchAndStopTasks"]["Resource"] == f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:task/ref:{cluster}/*"
    assert by_sid["PassTaskRoles"]["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert sorted(by_sid["PassTaskRoles"]["Resource"]) == sorted(
        f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(r.node.default_child)}"
        for r in (compute.task_role, compute.execution_role))
    assert by_sid["SyncRule"]["Resource"] == (
        f"arn:aws:events:{TEST_REGION}:{TEST_ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule")
    wildcards = [s for s in policy if s["Resource"] == "*"]
    assert {a for s in wildcards for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} <= {
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}


def test_the_launcher_logs_under_vendedlogs_with_a_name_a_new_stack_does_not_collide_with(built):
    stack, _, _, compute = built
    template = Template.from_stack(stack).to_json()
    group = template["Resources"][stack.get_logical_id(compute.launcher.log_group.node.default_child)]
    name = json.dumps(group["Properties"]["LogGroupName"])
    assert "/aws/vendedlogs/states/team-a-etl-" in name and "AWS::StackId" in name
    assert "KmsKeyId" in group["Properties"]


def test_the_task_runs_privately_with_no_ingress_and_a_role_without_permissions(built):
    stack, network, _, compute = built
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
    with pytest.raises(MwaaPlatformError, match=r"EcsTaskCompute \(its DAGs start a Step Functions execution\) needs "
                                                r"the 'states' VPC endpoint"):
        EcsTaskCompute(stack, "D", network=no_ecs, family="d", image=TaskImage.from_uri("x"))
    with pytest.raises(MwaaPlatformError, match=r"family 'f{81}' is 81 characters, longer than a state machine name "
                                                r"may be \(80\); pass state_machine_name"):
        EcsTaskCompute(stack, "E", network=network, family="f" * 81, image=TaskImage.from_uri("x"))
    with pytest.raises(MwaaPlatformError, match=r"state_machine_name must be 1-80 letters, digits, '-' and '_', got 'a:b'"):
        EcsTaskCompute(stack, "F", network=network, family="f", image=TaskImage.from_uri("x"), state_machine_name="a:b")
    assert all(not stack.node.find_child(name).node.children for name in "ABCDEF")


def test_ecs_compute_and_its_grant_pass_all_packs_and_cfn_lint(tmp_path):
    stack, *_ = build(grant={"redrive": True}, environment={"MODE": "batch"})
    assert_nag_clean(stack)
    assert_stack_cfn_lint_clean(stack, tmp_path)


def test_task_roles_trust_ecs_tasks_of_this_account_and_region_only(built):
    """Confused-deputy conditions the ECS developer guide gives for task and task execution roles."""
    stack, _, _, compute = built
    template = Template.from_stack(stack).to_json()
    for role in (compute.task_role, compute.execution_role):
        trust = template["Resources"][stack.get_logical_id(role.node.default_child)]["Properties"]["AssumeRolePolicyDocument"]
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert resolve_literals(statement["Condition"], template) == {
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:*"},
            "StringEquals": {"aws:SourceAccount": TEST_ACCOUNT}}
