"""IAirflowEnvironment: aws-cdk-lib's grant and connections APIs take an environment directly,
environments defined elsewhere are imported by name, and bring-your-own resources are checked."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from harness import TEST_ACCOUNT, TEST_REGION, new_stack
from mwaa_platform import AirflowEnvironment, IAirflowEnvironment, MwaaPlatformError, SecretsManagerBackend
from test_environment import make_env, vpc_of

ARN = f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}"


def policy_statements(stack):
    return [statement for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]]


def test_an_environment_is_a_grantable_for_aws_cdk_lib_grants():
    env = make_env()
    stack = cdk.Stack.of(env)
    bucket = s3.Bucket(stack, "Data")
    bucket.grant_read(env)  # raised a jsii TypeError before the environment implemented iam.IGrantable
    template = Template.from_stack(stack)
    # the grant lands in the execution role's managed policy: no inline policy for the packs to reject
    assert template.find_resources("AWS::IAM::Policy") == {}
    role_ref = {"Ref": stack.get_logical_id(env.execution_role.node.default_child)}
    (policy,) = [p for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
                 if p["Properties"].get("Roles") == [role_ref]]
    data = {"Fn::GetAtt": [stack.get_logical_id(bucket.node.default_child), "Arn"]}
    (read,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
               if isinstance(s["Resource"], list) and data in s["Resource"]]
    assert "s3:GetObject*" in read["Action"]


def test_an_environment_is_a_connections_peer():
    env = make_env()
    stack = cdk.Stack.of(env)
    redshift = ec2.SecurityGroup(stack, "Redshift", vpc=stack.node.find_child("Vpc"), allow_all_outbound=False)
    redshift.connections.allow_from(env, ec2.Port.tcp(5439), "Redshift from the MWAA environment")
    env_sg = {"Fn::GetAtt": [stack.get_logical_id(env.security_groups[0].node.default_child), "GroupId"]}
    Template.from_stack(stack).has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "FromPort": 5439, "ToPort": 5439, "SourceSecurityGroupId": env_sg,
        "GroupId": {"Fn::GetAtt": [stack.get_logical_id(redshift.node.default_child), "GroupId"]},
    })
    Template.from_stack(stack).has_resource_properties("AWS::EC2::SecurityGroupEgress", {
        "FromPort": 5439, "GroupId": env_sg,
    })


def test_an_environment_satisfies_the_interface():
    assert isinstance(make_env(), IAirflowEnvironment)


def test_an_imported_environment_grants_on_its_own_arns():
    stack = new_stack()
    role = iam.Role.from_role_arn(stack, "Role", f"arn:aws:iam::{TEST_ACCOUNT}:role/central-mwaa")
    env = AirflowEnvironment.from_environment_name(stack, "Central", "central-prod", execution_role=role)
    assert isinstance(env, IAirflowEnvironment)
    analyst = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    env.grant_web_login(analyst, "Op")
    env.grant_cli_token(analyst)
    statements = policy_statements(stack)
    assert {"Action": "airflow:CreateWebLoginToken", "Effect": "Allow",
            "Resource": f"{ARN}:role/central-prod/Op"} in statements
    assert {"Action": "airflow:CreateCliToken", "Effect": "Allow",
            "Resource": f"{ARN}:environment/central-prod"} in statements
    assert env.environment_arn == f"{ARN}:environment/central-prod" or cdk.Token.is_unresolved(env.environment_arn)
    assert stack.resolve(env.environment_arn) == f"{ARN}:environment/central-prod"
    assert env.metric_scheduler_heartbeat().dimensions == {"Environment": "central-prod", "Function": "Scheduler"}


def test_an_imported_environment_grantee_gets_the_permission_on_its_role():
    stack = new_stack()
    role = iam.Role(stack, "CentralRole", assumed_by=iam.ServicePrincipal("airflow.amazonaws.com"))
    env = AirflowEnvironment.from_environment_name(stack, "Central", "central-prod", execution_role=role)
    s3.Bucket(stack, "Data").grant_read(env)
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    assert policy["Properties"]["Roles"] == [{"Ref": stack.get_logical_id(role.node.default_child)}]


def test_an_imported_environment_without_a_role_warns_about_dropped_grants():
    stack = new_stack()
    env = AirflowEnvironment.from_environment_name(stack, "Central", "central-prod")
    s3.Bucket(stack, "Data").grant_read(env)
    assert Template.from_stack(stack).find_resources("AWS::IAM::Policy") == {}
    annotations = Annotations.from_stack(stack)
    annotations.has_warning("/Test/Central", Match.string_like_regexp("s3:GetObject"))


def test_an_imported_environment_is_a_peer_through_the_security_groups_it_was_given():
    stack = new_stack()
    env = AirflowEnvironment.from_environment_name(stack, "Central", "central-prod")
    s3.Bucket(stack, "Data")  # a stack needs one resource to synthesize
    assert env.connections.security_groups == []
    Annotations.from_stack(stack).has_info("/Test/Central", Match.string_like_regexp(
        "without execution_role and security_groups: grants to it are dropped"))
    sg = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    peer = AirflowEnvironment.from_environment_name(stack, "Peer", "peer-prod", security_groups=[sg])
    assert peer.connections.security_groups[0].security_group_id == "sg-0123456789abcdef0"


def test_an_import_checks_its_name():
    with pytest.raises(MwaaPlatformError, match=r"^Test/Bad: environment_name must be 1-80 characters .*got 'bad name'"):
        AirflowEnvironment.from_environment_name(new_stack(), "Bad", "bad name")


def test_two_web_login_grants_for_one_airflow_role_share_one_policy():
    env = make_env()
    stack = cdk.Stack.of(env)
    first = env.grant_web_login_to_roles([iam.Role.from_role_name(stack, "A", "analysts")], "Viewer")
    second = env.grant_web_login_to_roles([iam.Role.from_role_name(stack, "B", "auditors")], "Viewer")  # collided before
    assert first is second
    env.grant_web_login_to_roles([iam.Role.from_role_name(stack, "C", "operators")], "Op")
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy", {"Properties": {
        "Description": Match.string_like_regexp("^Open the Airflow UI")}})
    by_role = {p["Properties"]["PolicyDocument"]["Statement"][0]["Resource"].rsplit("/", 1)[1]: p["Properties"]["Roles"]
               for p in policies.values()}
    assert by_role == {"Viewer": ["analysts", "auditors"], "Op": ["operators"]}


def _web_policies(env):
    """construct id -> (logical id, properties) of the managed policies directly under the environment."""
    stack = cdk.Stack.of(env)
    resources = Template.from_stack(stack).to_json()["Resources"]
    return {child.node.id: (logical_id, resources[logical_id]["Properties"])
            for child in env.node.children if isinstance(child, iam.ManagedPolicy)
            for logical_id in [stack.get_logical_id(child.node.default_child)]}


def _web_access(rest_api):
    env = make_env()
    stack = cdk.Stack.of(env)
    env.grant_web_login_to_roles([iam.Role.from_role_name(stack, "A", "analysts")], "Viewer")
    env.grant_web_login_to_roles([iam.Role.from_role_name(stack, "B", "operators")], "Viewer", rest_api=rest_api)
    env.grant_web_login_policy("User", rest_api=rest_api)
    return env, stack


def test_rest_api_for_named_roles_is_a_sibling_policy_and_web_login_keeps_its_ids():
    before, _ = _web_access(rest_api=False)
    after, _ = _web_access(rest_api=True)
    old, new = _web_policies(before), _web_policies(after)
    # the web login policies keep their construct ids, logical ids and, for named roles, their document
    assert old["WebLoginViewer"] == new["WebLoginViewer"]
    assert old["WebLoginPolicyUser"][0] == new["WebLoginPolicyUser"][0]
    assert set(new) - set(old) == {"InvokeRestApiViewer"}
    rest = new["InvokeRestApiViewer"][1]
    assert rest["Roles"] == ["operators"]  # analysts were given web login only
    assert rest["PolicyDocument"]["Statement"] == [
        {"Action": "airflow:InvokeRestApi", "Effect": "Allow", "Resource": f"{ARN}:role/team-a/Viewer"}]
    assert new["WebLoginViewer"][1]["Roles"] == ["analysts", "operators"]
    # IAM Identity Center: the same named policy gets both actions, and only its document changes (a new
    # description would replace it, and a fixed-name policy cannot be replaced)
    sso_old, sso_new = old["WebLoginPolicyUser"][1], new["WebLoginPolicyUser"][1]
    assert {k: v for k, v in sso_old.items() if k != "PolicyDocument"} == {
        k: v for k, v in sso_new.items() if k != "PolicyDocument"}
    assert sso_old["ManagedPolicyName"] == "team-a-airflow-user-web-login"
    assert sso_old["PolicyDocument"]["Statement"] == [
        {"Action": "airflow:CreateWebLoginToken", "Effect": "Allow", "Resource": f"{ARN}:role/team-a/User"}]
    assert sso_new["PolicyDocument"]["Statement"] == [
        {"Action": ["airflow:CreateWebLoginToken", "airflow:InvokeRestApi"], "Effect": "Allow",
         "Resource": f"{ARN}:role/team-a/User"}]


def test_rest_api_grants_refuse_what_they_would_otherwise_drop_silently():
    env = make_env()
    stack = cdk.Stack.of(env)
    policy = env.grant_web_login_policy("User", rest_api=True)
    assert env.grant_web_login_policy("User", rest_api=True) is policy
    with pytest.raises(MwaaPlatformError, match=r"^Test/Env: the web login policy for Airflow role User is "
                                                r"team-a-airflow-user-web-login with rest_api=True; one policy per "
                                                r"Airflow role, got 'team-a-airflow-user-web-login' with rest_api=False$"):
        env.grant_web_login_policy("User")
    with pytest.raises(MwaaPlatformError, match="got 'team-a-users' with rest_api=True"):
        env.grant_web_login_policy("User", policy_name="team-a-users", rest_api=True)
    with pytest.raises(MwaaPlatformError, match="rest_api must be True or False, got 'yes'"):
        env.grant_web_login_to_roles([iam.Role.from_role_name(stack, "A", "analysts")], "Op", rest_api="yes")
    with pytest.raises(MwaaPlatformError, match="roles must be a non-empty list of IAM roles"):
        env.grant_invoke_rest_api_to_roles([], "Op")


def test_invoke_rest_api_alone_for_systems_that_never_open_the_ui():
    env = make_env()
    stack = cdk.Stack.of(env)
    first = env.grant_invoke_rest_api_to_roles([iam.Role.from_role_name(stack, "Ci", "team-a-ci")], "User")
    assert env.grant_invoke_rest_api_to_roles([iam.Role.from_role_name(stack, "Ci2", "team-a-ci2")], "User") is first
    policies = _web_policies(env)
    assert set(policies) == {"InvokeRestApiUser"}
    assert policies["InvokeRestApiUser"][1]["Roles"] == ["team-a-ci", "team-a-ci2"]


# --- metrics --------------------------------------------------------------------------------


def test_metric_helpers_take_typed_options_and_use_the_right_namespace():
    env = make_env()
    metric = env.metric_queued_tasks(period=cdk.Duration.minutes(1), label="queued", region="eu-central-1")
    assert (metric.namespace, metric.statistic, metric.label, metric.region) == ("AmazonMWAA", "Maximum", "queued",
                                                                              "eu-central-1")
    assert metric.period.to_seconds() == 60
    cpu = env.metric_cpu_utilization("BaseWorker")
    assert (cpu.namespace, cpu.dimensions) == ("AWS/MWAA", {"Environment": "team-a", "Cluster": "BaseWorker"})
    db = env.metric_database("FreeableMemory", statistic="Minimum")
    assert (db.dimensions, db.statistic) == ({"Environment": "team-a", "DatabaseRole": "WRITER"}, "Minimum")
    with pytest.raises(MwaaPlatformError, match=r"metric options must be among account, color, .*got 'dimensions'"):
        env.metric("QueuedTasks", dimensions={"x": "y"})  # type: ignore[call-arg]


# --- bring your own resources -----------------------------------------------------------------


def test_a_bucket_without_its_key_uses_the_buckets_key():
    stack = new_stack()
    key = kms.Key(stack, "OwnKey", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "OwnBucket", encryption=s3.BucketEncryption.KMS, encryption_key=key, versioned=True)
    env = make_env(stack, source_bucket=bucket)
    assert env.key is key
    assert not Template.from_stack(stack).find_resources("AWS::KMS::Key", {"Properties": {
        "Description": Match.string_like_regexp("Encrypts MWAA environment")}})
    props = Template.from_stack(stack).find_resources("AWS::MWAA::Environment")
    (environment,) = props.values()
    assert environment["Properties"]["KmsKey"] == {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}


def test_a_bucket_whose_key_is_unknown_needs_the_key():
    stack = new_stack()
    bucket = s3.Bucket.from_bucket_name(stack, "Imported", "team-a-artifacts")
    with pytest.raises(MwaaPlatformError, match=r"^Test/Env: source_bucket was given without key: MWAA needs"):
        make_env(stack, source_bucket=bucket)
    assert not stack.node.find_child("Env").node.children


def test_a_key_that_is_not_the_buckets_key_is_refused():
    stack = new_stack()
    bucket = s3.Bucket(stack, "OwnBucket", encryption_key=kms.Key(stack, "BucketKey"), versioned=True)
    with pytest.raises(MwaaPlatformError, match=r"key must be the source_bucket's own key .*got key Test/OtherKey"):
        make_env(stack, source_bucket=bucket, key=kms.Key(stack, "OtherKey"))


@pytest.mark.parametrize("count", [0, 6])
def test_security_groups_must_be_one_to_five(count):
    stack = new_stack()
    vpc = vpc_of(stack)
    groups = [ec2.SecurityGroup(stack, f"Sg{i}", vpc=vpc) for i in range(count)]
    with pytest.raises(MwaaPlatformError, match=rf"security_groups must hold 1 to 5 security groups .*got {count}"):
        make_env(stack, security_groups=groups)


def test_an_immutable_execution_role_warns_about_the_secrets_permission_it_cannot_take():
    stack = new_stack()
    role = iam.Role.from_role_arn(stack, "Role", f"arn:aws:iam::{TEST_ACCOUNT}:role/mwaa", mutable=False)
    make_env(stack, execution_role=role, secrets_backend=SecretsManagerBackend())
    Annotations.from_stack(stack).has_warning(
        "/Test/Env", Match.string_like_regexp(r"cannot be changed, so this permission was not attached: .*secretsmanager:GetSecretValue"))
    assert Template.from_stack(stack).find_resources("AWS::IAM::Policy") == {}


# --- errors -------------------------------------------------------------------------------------


def test_errors_carry_the_construct_path_and_the_bare_message():
    stack = new_stack()
    with pytest.raises(MwaaPlatformError) as raised:
        make_env(stack, "Airflow", environment_class="mw1.small", max_workers=40)
    assert raised.value.construct_path == "Test/Airflow"
    assert raised.value.message == "max_workers must be between 1 and 25 for mw1.small, got 40"
    assert str(raised.value) == "Test/Airflow: max_workers must be between 1 and 25 for mw1.small, got 40"
    assert isinstance(raised.value, ValueError)


def test_echoed_values_are_truncated():
    from mwaa_platform.errors import MAX_VALUE_CHARS, shorten

    bomb: list = ["lol"] * 10
    for _ in range(30):  # 10**30 strings if expanded; shorten must not expand it
        bomb = [bomb] * 10
    text = shorten(bomb)
    assert len(text) <= MAX_VALUE_CHARS
    assert len(shorten("x" * 10_000)) <= MAX_VALUE_CHARS
    assert shorten("mw1.huge") == "'mw1.huge'"


def test_descriptions_ec2_rejects_are_refused_when_the_rule_is_asked_for():
    env = make_env()
    stack = cdk.Stack.of(env)
    redshift = ec2.SecurityGroup(stack, "Redshift", vpc=stack.node.find_child("Vpc"))
    with pytest.raises(MwaaPlatformError, match=r"^Test/Env: description may hold only a-z A-Z 0-9.*with \"'\""):
        env.allow_egress_to(redshift, 5439, description="the team's Redshift")
    with pytest.raises(MwaaPlatformError, match=r"at most 255 characters \(EC2\), got 300"):
        env.allow_egress_to(redshift, 5439, description="x" * 300)
    env.allow_egress_to(redshift, 5439, description="Redshift cluster analytics-wh (team a)")
