"""Cross-account access: target roles trusted by exactly one central role, and connections that use them."""

import json

import pytest
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from harness import TEST_ACCOUNT, TEST_REGION, assert_nag_clean, new_stack, resolve_literals
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError, SecretsManagerBackend
from mwaa_platform.paths import PATHS_METADATA_KEY, DagPath
from mwaa_platform.cross_account import (
    AirflowAwsConnection,
    CrossAccountRole,
    check_conn_id,
    grant_assume_roles,
)

CENTRAL = f"arn:aws:iam::{TEST_ACCOUNT}:role/payments-prod-exec"
TARGET = "arn:aws:iam::333333333333:role/mwaa-payments-prod-finance_glue"


def role_template(**kwargs):
    stack = new_stack(stack_id="Target")
    kwargs.setdefault("central_role_arn", CENTRAL)
    role = CrossAccountRole(stack, "Glue", role_name="mwaa-payments-prod-finance_glue", **kwargs)
    return stack, role, Template.from_stack(stack).to_json()


def trust(template):
    (role,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    return role["Properties"]


def test_the_trust_policy_names_exactly_the_central_role():
    _, _, template = role_template(external_id="finance-7d1f", organization_id="o-a1b2c3d4e5")
    props = trust(template)
    assert props["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": CENTRAL},
        "Condition": {"StringEquals": {"sts:ExternalId": "finance-7d1f", "aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
    }]
    assert props["MaxSessionDuration"] == 3600 and props["RoleName"] == "mwaa-payments-prod-finance_glue"
    assert ":root" not in json.dumps(template)


def test_the_account_root_is_trusted_only_with_a_reason_and_narrowed_to_the_central_role():
    _, role, template = role_template(trust_account_root_reason="The central stack is deployed after this one in "
                                                                "the bootstrap pipeline of the finance account.")
    (statement,) = trust(template)["AssumeRolePolicyDocument"]["Statement"]
    assert f":iam::{TEST_ACCOUNT}:root" in json.dumps(statement["Principal"])
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": CENTRAL}}
    with pytest.raises(MwaaPlatformError, match="trust_account_root_reason must say why"):
        role_template(trust_account_root_reason="because")


def test_session_tags_and_source_identity_are_trusted_only_when_asked():
    _, _, template = role_template(tag_session=True, source_identity=True)
    actions = sorted(a for s in trust(template)["AssumeRolePolicyDocument"]["Statement"]
                     for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
    principals = {json.dumps(s["Principal"]) for s in trust(template)["AssumeRolePolicyDocument"]["Statement"]}
    assert principals == {json.dumps({"AWS": CENTRAL})}


def test_permissions_come_only_from_statements_and_grants():
    stack, role, template = role_template(statements=[iam.PolicyStatement(
        actions=["glue:StartJobRun"], resources=["arn:aws:glue:eu-west-1:333333333333:job/settlement"])])
    (policy,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert [s["Action"] for s in policy["PolicyDocument"]["Statement"]] == ["glue:StartJobRun"]
    assert "ManagedPolicyArns" not in trust(template)
    _, _, bare = role_template()
    assert not [r for r in bare["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert_nag_clean(stack)


@pytest.mark.parametrize("kwargs, message", [
    ({"central_role_arn": "arn:aws:iam::123:root"}, "central_role_arn must be an IAM role ARN"),
    ({"max_session_duration": Duration.hours(13)}, "max_session_duration must be 1-12 hours"),
    ({"external_id": "x"}, "external_id must be 2-1224"),
    ({"organization_id": "org-1"}, "organization_id must look like o-a1b2c3d4e5"),
])
def test_bad_role_settings_fail_naming_the_field(kwargs, message):
    with pytest.raises(MwaaPlatformError, match=message):
        role_template(**kwargs)


# --- the central side -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def central():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["sts", "secretsmanager"])
    env = AirflowEnvironment(stack, "Env", environment_name="payments-prod", network=network, airflow_version="2.11.0",
                             secrets_backend=SecretsManagerBackend(), execution_role_name="payments-prod-exec")
    same = AirflowAwsConnection(stack, "Glue", environment=env, conn_id="finance_glue", role_arn=TARGET,
                                region_name=TEST_REGION, services=["glue"])
    other = AirflowAwsConnection(stack, "Archive", environment=env, conn_id="finance_archive_us",
                                 role_arn=TARGET.replace("finance_glue", "finance_archive_us"),
                                 region_name="us-east-1", services=["s3", "glue"], external_id="finance-7d1f")
    grant_assume_roles(env, [same.document["extra"]["role_arn"], other.document["extra"]["role_arn"]])
    return stack, env, same, other, Template.from_stack(stack).to_json()


def test_the_assume_role_grant_lists_only_the_target_roles(central):
    stack, env, *_, template = central
    role = {"Ref": stack.get_logical_id(env.execution_role.node.default_child)}
    statements = [resolve_literals(s, template) for p in template["Resources"].values()
                  if p["Type"] == "AWS::IAM::ManagedPolicy" and role in p["Properties"].get("Roles", [])
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (assume,) = [s for s in statements if "sts:" in json.dumps(s["Action"])]
    assert assume["Action"] == "sts:AssumeRole"
    assert sorted(assume["Resource"]) == sorted([TARGET, TARGET.replace("finance_glue", "finance_archive_us")])


def test_the_connection_secret_is_the_providers_json_under_the_environments_prefix(central):
    stack, env, same, other, template = central
    secrets = {r["Properties"]["Name"]: r["Properties"] for r in template["Resources"].values()
               if r["Type"] == "AWS::SecretsManager::Secret"}
    glue = secrets["airflow/payments-prod/connections/finance_glue"]
    value = json.loads(glue["SecretString"])
    # the documented shape the Amazon provider's secrets backend reads: conn type aws, role and Region in extra
    assert value == {"conn_type": "aws", "extra": {"role_arn": TARGET, "region_name": TEST_REGION}}
    assert not {"login", "password", "aws_access_key_id", "aws_secret_access_key"} & set(json.dumps(value).split('"'))
    archive = json.loads(secrets["airflow/payments-prod/connections/finance_archive_us"]["SecretString"])
    assert archive["extra"]["assume_role_kwargs"] == {"ExternalId": "finance-7d1f"}
    assert glue["KmsKeyId"] == {"Fn::GetAtt": [stack.get_logical_id(env.key.node.default_child), "Arn"]}


def test_only_the_execution_role_may_read_the_connection(central):
    stack, env, *_, template = central
    policies = [r["Properties"] for r in template["Resources"].values()
                if r["Type"] == "AWS::SecretsManager::ResourcePolicy"]
    assert len(policies) == 2
    for policy in policies:
        (deny,) = policy["ResourcePolicy"]["Statement"]
        assert deny["Effect"] == "Deny" and deny["Action"] == "secretsmanager:GetSecretValue"
        assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {
            "Fn::GetAtt": [stack.get_logical_id(env.execution_role.node.default_child), "Arn"]}}}


def test_each_connection_records_its_paths(central):
    """Assuming the role (STS of the connection's Region, as the execution role) and the calls made as
    the role (its services, account and Region): what the preflight follows end to end."""
    stack, _, same, other, template = central
    # the provider assumes the role with STS of the connection's Region, which has no cross-Region
    # PrivateLink; s3 has, glue has not
    assert same.needs_nat == [] and other.needs_nat == ["sts", "glue"]
    paths = [DagPath.from_metadata(p) for p in template["Metadata"][PATHS_METADATA_KEY]]
    by_capability = {(p.conn_id, p.services): p for p in paths}
    assume = by_capability[("finance_archive_us", ("sts",))]
    assert assume.principal_arn is None and assume.region == "us-east-1"  # the execution role, STS of us-east-1
    assert assume.actions == ("sts:AssumeRole",) and assume.resources == (TARGET.replace("finance_glue", "finance_archive_us"),)
    assert assume.resource_account == "333333333333"  # the role it reaches
    calls = by_capability[("finance_archive_us", ("s3", "glue"))]
    assert (calls.principal_arn, calls.principal_account, calls.region, calls.resource_account) == (
        TARGET.replace("finance_glue", "finance_archive_us"), "333333333333", "us-east-1", "333333333333")
    assert ("finance_glue", ("glue",)) in by_capability


def test_a_connection_the_lookup_pattern_hides_fails_before_anything_is_built():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["sts", "secretsmanager"])
    env = AirflowEnvironment(stack, "Env", environment_name="payments-prod", network=network, airflow_version="2.11.0",
                             secrets_backend=SecretsManagerBackend(connections_lookup_pattern="^payments_"))
    with pytest.raises(MwaaPlatformError, match=r"conn_id 'finance_glue' does not match .*'\^payments_'"):
        AirflowAwsConnection(stack, "C", environment=env, conn_id="finance_glue", role_arn=TARGET,
                             region_name=TEST_REGION)
    assert stack.node.try_find_child("C") is None
    # the provider matches with re.match, ignoring case
    AirflowAwsConnection(stack, "D", environment=env, conn_id="Payments_glue", role_arn=TARGET, region_name=TEST_REGION)


def test_the_central_stack_is_nag_clean(central):
    # cfn-lint and checkov run once on the example platform, whose payments-prod has two targets
    assert_nag_clean(central[0])


@pytest.mark.parametrize("conn_id", ["", "finance glue", "finance/glue?", "a" * 251])
def test_connection_ids_outside_airflows_characters_fail(conn_id):
    with pytest.raises(MwaaPlatformError, match="conn_id must be 1-250 letters, digits"):
        check_conn_id(conn_id)


def test_a_connection_needs_the_secrets_backend_and_a_role_arn():
    stack = new_stack()
    env = AirflowEnvironment(stack, "Env", environment_name="plain", network=AirflowNetwork(stack, "Network"),
                             airflow_version="2.11.0")
    with pytest.raises(MwaaPlatformError, match="needs the environment's Secrets Manager backend"):
        AirflowAwsConnection(stack, "C", environment=env, conn_id="x", role_arn=TARGET, region_name=TEST_REGION)
    with pytest.raises(MwaaPlatformError, match="role_arns must be an IAM role ARN"):
        grant_assume_roles(env, ["arn:aws:iam::333333333333:user/bob"])
