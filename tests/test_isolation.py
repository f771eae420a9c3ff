"""Team isolation on a two-team platform: one team cannot read another's secrets or write its code."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template

from harness import TEST_ACCOUNT, TEST_REGION, iam_decision, new_stack, resolve_literals
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError, SecretsManagerBackend

CI_ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/analytics-ci"


@pytest.fixture(scope="module")
def two_teams():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["secretsmanager"])
    analytics = AirflowEnvironment(stack, "Analytics", environment_name="analytics-dev", network=network,
                                   secrets_backend=SecretsManagerBackend(), artifact_writers=[CI_ROLE])
    payments = AirflowEnvironment(stack, "Payments", environment_name="payments-prod", network=network,
                                  secrets_backend=SecretsManagerBackend(connections_lookup_pattern="^payments_"))
    template = Template.from_stack(stack).to_json()
    return stack, template, analytics, payments


def role_statements(stack, template, env):
    role_id = stack.get_logical_id(env.execution_role.node.default_child)
    return [statement for policy in template["Resources"].values()
            if policy["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role_id} in policy["Properties"].get("Roles", [])
            for statement in resolve_literals(policy["Properties"]["PolicyDocument"]["Statement"], template)]


def secret(environment, kind="connections", name="warehouse"):
    return f"arn:aws:secretsmanager:{TEST_REGION}:{TEST_ACCOUNT}:secret:airflow/{environment}/{kind}/{name}-AbCdEf"


@pytest.mark.parametrize("reader, owner", [("analytics-dev", "payments-prod"), ("payments-prod", "analytics-dev")])
def test_neither_execution_role_can_read_the_other_teams_secrets(two_teams, reader, owner):
    stack, template, analytics, payments = two_teams
    env = {"analytics-dev": analytics, "payments-prod": payments}[reader]
    statements = role_statements(stack, template, env)
    for kind in ("connections", "variables"):
        assert iam_decision(statements, action="secretsmanager:GetSecretValue", resource=secret(reader, kind)) == "allow"
        assert iam_decision(statements, action="secretsmanager:GetSecretValue",
                            resource=secret(owner, kind)) == "implicit-deny"
    # nor a shared, unprefixed secret
    assert iam_decision(statements, action="secretsmanager:GetSecretValue",
                        resource=f"arn:aws:secretsmanager:{TEST_REGION}:{TEST_ACCOUNT}:secret:airflow/connections/x-AbCdEf") \
        == "implicit-deny"


def test_the_backend_reads_its_own_prefixes(two_teams):
    _, template, *_ = two_teams
    kwargs = [r["Properties"]["AirflowConfigurationOptions"]["secrets.backend_kwargs"]
              for r in template["Resources"].values() if r["Type"] == "AWS::MWAA::Environment"]
    assert sorted(kwargs)[0].startswith('{"connections_prefix":"airflow/analytics-dev/connections",'
                                        '"variables_prefix":"airflow/analytics-dev/variables"')


def test_a_customer_managed_secrets_key_is_decryptable_through_secrets_manager_only():
    stack = new_stack()
    key = kms.Key(stack, "SecretsKey", enable_key_rotation=True)
    network = AirflowNetwork(stack, "Network", endpoint_sets=["secretsmanager"])
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network,
                             secrets_backend=SecretsManagerBackend(key=key))
    template = Template.from_stack(stack).to_json()
    (decrypt,) = [s for s in role_statements(stack, template, env) if s.get("Sid") == "DecryptAirflowSecrets"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"secretsmanager.{TEST_REGION}.amazonaws.com"}}
    assert decrypt["Resource"] == f"arn:aws:kms:{TEST_REGION}:{TEST_ACCOUNT}:key/{stack.get_logical_id(key.node.default_child)}"


# --- who may write a team's code ----------------------------------------------------------------


def bucket_statements(stack, template, env):
    bucket_id = stack.get_logical_id(env.source_bucket.node.default_child)
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"
                 and r["Properties"]["Bucket"] == {"Ref": bucket_id}]
    return resolve_literals(policy["Properties"]["PolicyDocument"]["Statement"], template), f"arn:aws:s3:::{bucket_id.lower()}"


@pytest.mark.parametrize("action", ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"])
def test_only_the_handler_and_listed_deployers_may_write_a_teams_bucket(two_teams, action):
    stack, template, analytics, payments = two_teams
    statements, bucket = bucket_statements(stack, template, analytics)
    handler = f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(analytics.artifacts.role.node.default_child)}"
    other_handler = f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(payments.artifacts.role.node.default_child)}"
    key = f"{bucket}/dags/etl.py"
    tls = {"aws:SecureTransport": "true"}
    # the team's own deploy still works: the bucket policy does not deny its handler or its CI role
    assert iam_decision(statements, action=action, resource=key, context={"aws:PrincipalArn": handler, **tls}) != "deny"
    assert iam_decision(statements, action=action, resource=key, context={"aws:PrincipalArn": CI_ROLE, **tls}) != "deny"
    # everyone else is denied, whatever their IAM policies say
    for intruder in (other_handler, f"arn:aws:iam::{TEST_ACCOUNT}:role/admin",
                     f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(analytics.execution_role.node.default_child)}"):
        assert iam_decision(statements, action=action, resource=key,
                            context={"aws:PrincipalArn": intruder, **tls}) == "deny", intruder


def test_the_other_teams_bucket_admits_only_its_own_handler(two_teams):
    stack, template, analytics, payments = two_teams
    statements, bucket = bucket_statements(stack, template, payments)
    (deny,) = [s for s in statements if s.get("Sid") == "OnlyDeployersWriteArtifacts"]
    handler = f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(payments.artifacts.role.node.default_child)}"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [handler]}}
    assert iam_decision(statements, action="s3:PutObject", resource=f"{bucket}/requirements/requirements.txt",
                        context={"aws:PrincipalArn": CI_ROLE, "aws:SecureTransport": "true"}) == "deny"


def test_artifact_writers_must_be_role_or_user_arns():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    with pytest.raises(MwaaPlatformError, match=r"artifact_writers entries must be IAM role or user ARNs .*got 'ci-role'"):
        AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, artifact_writers=["ci-role"])
    with pytest.raises(MwaaPlatformError, match=r"artifact_writers must be a list"):
        AirflowEnvironment(stack, "Env2", environment_name="team-b", network=network, artifact_writers=CI_ROLE)


def test_a_bucket_the_library_does_not_manage_gets_a_warning_instead_of_a_policy():
    from aws_cdk import aws_s3 as s3

    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket.from_bucket_attributes(stack, "Bucket", bucket_name="team-a-artifacts", encryption_key=key)
    AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, source_bucket=bucket)
    Annotations.from_stack(stack).has_warning("/Test/Env", Match.string_like_regexp(
        "source_bucket Test/Bucket is not managed here, so its policy cannot be restricted"))


def test_the_evaluator_itself_tells_deny_from_allow():
    statements = [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/*",
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/ok"]}}},
    ]
    assert iam_decision(statements, action="s3:PutObject", resource="arn:aws:s3:::b/k",
                        context={"aws:PrincipalArn": "arn:aws:iam::1:role/ok"}) == "allow"
    assert iam_decision(statements, action="s3:PutObject", resource="arn:aws:s3:::b/k",
                        context={"aws:PrincipalArn": "arn:aws:iam::1:role/no"}) == "deny"
    assert iam_decision(statements, action="s3:GetObject", resource="arn:aws:s3:::c/k") == "implicit-deny"


# --- a way to the UI ------------------------------------------------------------------------------


def web_rules(stack, env):
    own = stack.get_logical_id(env.security_groups[0].node.default_child)
    template = Template.from_stack(stack).to_json()
    return [r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"]["GroupId"] == {"Fn::GetAtt": [own, "GroupId"]}
            and r["Properties"]["FromPort"] == 443 and "SourceSecurityGroupId" not in r["Properties"]] + [
        rule for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroup"
        and r is template["Resources"][own] for rule in r["Properties"].get("SecurityGroupIngress", [])
        if "SourceSecurityGroupId" not in rule]


def test_allow_web_from_admits_https_from_a_prefix_list_or_a_described_cidr_only():
    from aws_cdk import aws_ec2 as ec2

    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    env.allow_web_from(ec2.Peer.prefix_list("pl-0123456789abcdef0"))
    env.allow_web_from(ec2.Peer.ipv4("10.8.0.0/16"), description="corporate VPN")
    with pytest.raises(MwaaPlatformError, match=r"^Test/Env: allow_web_from refuses 0.0.0.0/0"):
        env.allow_web_from(ec2.Peer.any_ipv4(), description="everyone")
    with pytest.raises(MwaaPlatformError, match=r"allow_web_from refuses ::/0"):
        env.allow_web_from(ec2.Peer.any_ipv6(), description="everyone")
    with pytest.raises(MwaaPlatformError, match=r"allow_web_from\(10.9.0.0/16\) needs a description"):
        env.allow_web_from(ec2.Peer.ipv4("10.9.0.0/16"))
    rules = sorted((r.get("SourcePrefixListId") or r.get("CidrIp"), r["FromPort"], r["Description"])
                   for r in web_rules(stack, env))
    assert rules == [("10.8.0.0/16", 443, "corporate VPN"), ("pl-0123456789abcdef0", 443, "Airflow UI (HTTPS) for team-a")]


def test_allow_web_from_a_bastion_security_group_adds_the_matching_egress():
    from aws_cdk import aws_ec2 as ec2

    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    bastion = ec2.SecurityGroup(stack, "Bastion", vpc=network.vpc, allow_all_outbound=False)
    env.allow_web_from(bastion)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "FromPort": 443, "Description": "Airflow UI (HTTPS) for team-a",
        "SourceSecurityGroupId": {"Fn::GetAtt": [stack.get_logical_id(bastion.node.default_child), "GroupId"]},
        "GroupId": {"Fn::GetAtt": [stack.get_logical_id(env.security_groups[0].node.default_child), "GroupId"]}})


def test_identity_center_gets_a_fixed_name_policy_instead_of_an_attachment():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    policy = env.grant_web_login_policy("User")
    assert env.grant_web_login_policy("User") is policy
    env.grant_web_login_policy("Viewer", policy_name="team-a-readers")
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy", {"Properties": {
        "Description": Match.string_like_regexp("Identity Center")}})
    by_name = {p["Properties"]["ManagedPolicyName"]: p["Properties"] for p in policies.values()}
    assert set(by_name) == {"team-a-airflow-user-web-login", "team-a-readers"}
    user = by_name["team-a-airflow-user-web-login"]
    assert "Roles" not in user  # a permission set references it by name; nothing is attached
    assert user["PolicyDocument"]["Statement"] == [{
        "Action": "airflow:CreateWebLoginToken", "Effect": "Allow",
        "Resource": f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}:role/team-a/User"}]
    with pytest.raises(MwaaPlatformError, match=r"policy_name must be 1-128 letters, digits .*got 'team a'"):
        env.grant_web_login_policy("Op", policy_name="team a")
