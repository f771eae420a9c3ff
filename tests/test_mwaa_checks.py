"""MwaaChecks, the library's cdk-nag pack for MWAA: each rule passes a compliant resource and names the bad case."""

import copy
import json

import aws_cdk as cdk
import pytest

from harness import TEST_ACCOUNT, TEST_REGION, new_app, new_stack, nag_violations
from mwaa_platform import AirflowEnvironment, WEB_SERVER_PRIVATE_RULE, acknowledge
from mwaa_platform.compliance import EXECUTION_ROLE_UNSCOPED_ACTIONS, MWAA_CHECKS_PACK, MWAA_RULES, MwaaChecks

REASON = "The team's reviewers accepted this exception for the test, see ticket SEC-1234."
ENV_ARN = f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}:environment/team-a"
BUCKET_ARN = {"Fn::GetAtt": ["Bucket", "Arn"]}
KEY_ARN = {"Fn::GetAtt": ["Key", "Arn"]}
LOGS = {kind: {"Enabled": True, "LogLevel": "INFO"}
        for kind in ("DagProcessingLogs", "SchedulerLogs", "TaskLogs", "WebserverLogs", "WorkerLogs")}


def compliant():
    """Raw resources of one environment that every rule of the pack accepts, by logical id."""
    return {
        "Key": ["AWS::KMS::Key", {"EnableKeyRotation": True, "KeyPolicy": {"Statement": []}}],
        "Bucket": ["AWS::S3::Bucket", {
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}}]},
        }],
        "BucketPolicy": ["AWS::S3::BucketPolicy", {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Statement": [{
            "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
            "Resource": [BUCKET_ARN, {"Fn::Join": ["", [BUCKET_ARN, "/*"]]}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}],
        "ExecutionRole": ["AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]},
            "Condition": {"ArnLike": {"aws:SourceArn": ENV_ARN}, "StringEquals": {"aws:SourceAccount": TEST_ACCOUNT}},
        }]}}],
        "ExecutionPolicy": ["AWS::IAM::ManagedPolicy", {"Roles": [{"Ref": "ExecutionRole"}], "PolicyDocument": {
            "Statement": [
                {"Effect": "Allow", "Action": sorted(EXECUTION_ROLE_UNSCOPED_ACTIONS), "Resource": "*"},
                {"Effect": "Allow", "Action": ["s3:GetObject*", "s3:List*"],
                 "Resource": [BUCKET_ARN, {"Fn::Join": ["", [BUCKET_ARN, "/*"]]}]},
                {"Effect": "Deny", "Action": "*", "Resource": "*"},  # a Deny is never a grant
            ]}}],
        "Environment": ["AWS::MWAA::Environment", {
            "Name": "team-a", "WebserverAccessMode": "PRIVATE_ONLY", "KmsKey": KEY_ARN, "LoggingConfiguration": LOGS,
            "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}, "SourceBucketArn": BUCKET_ARN,
            "DagS3Path": "dags", "RequirementsS3Path": "requirements.txt",
            "RequirementsS3ObjectVersion": {"Fn::GetAtt": ["Requirements", "VersionId"]},
            "StartupScriptS3Path": "startup.sh", "StartupScriptS3ObjectVersion": "v1",
        }],
    }


def build(resources, stack=None):
    stack = stack or new_stack()
    for logical_id, (kind, properties) in resources.items():
        cdk.CfnResource(stack, logical_id, type=kind, properties=properties)
    return stack


def findings(stack):
    """``rule[finding] at logical id`` of every MwaaChecks violation, none of them a rule error."""
    report = MwaaChecks(verbose=True).validate_scope(stack)
    lines = set()
    for violation in report.violations:
        assert "threw an error" not in violation.description, violation.description
        for resource in violation.violating_resources:
            lines.add(f"{violation.rule_name} at {resource.construct_path.split('/')[1]}")
    return lines


def props(resources, logical_id):
    return resources[logical_id][1]


def test_the_compliant_environment_passes_every_rule():
    assert findings(build(compliant())) == set()


def _set(logical_id, key, value):
    def change(resources):
        props(resources, logical_id)[key] = value
    return change


def _drop(logical_id, key):
    def change(resources):
        del props(resources, logical_id)[key]
    return change


def _statement(logical_id, **fields):
    def change(resources):
        document = props(resources, logical_id).get("PolicyDocument") or props(resources, logical_id)[
            "AssumeRolePolicyDocument"]
        document["Statement"].append({"Effect": "Allow", **fields})
    return change


def _trust(principal, condition=None):
    def change(resources):
        props(resources, "ExecutionRole")["AssumeRolePolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal,
             **({"Condition": condition} if condition else {})})
    return change


def _trust_condition(operator, key, value):
    def change(resources):
        conditions = props(resources, "ExecutionRole")["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
        if value is None:
            del conditions[operator]
        else:
            conditions[operator] = {key: value}
    return change


def _log(kind, **module):
    def change(resources):
        props(resources, "Environment")["LoggingConfiguration"] = {**LOGS, kind: module}
    return change


def _bucket(key, value):
    return _set("Bucket", key, value)


def _other_key(resources):
    resources["OtherKey"] = ["AWS::KMS::Key", {"KeyPolicy": {"Statement": []}}]
    props(resources, "Bucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["KMSMasterKeyID"] = {"Fn::GetAtt": ["OtherKey", "Arn"]}


def _no_bucket_policy(resources):
    del resources["BucketPolicy"]


def _inline(resources):
    props(resources, "ExecutionRole")["Policies"] = [{"PolicyName": "extra", "PolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:*:table/x"}]}}]


def _default_policy(resources):
    resources["DefaultPolicy"] = ["AWS::IAM::Policy", {"PolicyName": "p", "Roles": [{"Ref": "ExecutionRole"}],
                                                       "PolicyDocument": {"Statement": [
                                                           {"Effect": "Allow", "Action": "sqs:SendMessage",
                                                            "Resource": "*"}]}}]


BAD_CASES = {
    "public web server": (_set("Environment", "WebserverAccessMode", "PUBLIC_ONLY"), "WebServerPrivate"),
    "access mode left to the service": (_drop("Environment", "WebserverAccessMode"), "WebServerPrivate"),
    "worker logs at WARNING": (_log("WorkerLogs", Enabled=True, LogLevel="WARNING"), "AllLoggingInfo[WorkerLogs]"),
    "task logs off": (_log("TaskLogs", Enabled=False, LogLevel="INFO"), "AllLoggingInfo[TaskLogs]"),
    "no logging configuration": (_drop("Environment", "LoggingConfiguration"), "AllLoggingInfo[SchedulerLogs]"),
    "AWS owned key": (_drop("Environment", "KmsKey"), "CustomerManagedKey"),
    "requirements without version": (_drop("Environment", "RequirementsS3ObjectVersion"),
                                     "ArtifactVersions[RequirementsS3ObjectVersion]"),
    "plugins without version": (_set("Environment", "PluginsS3Path", "plugins.zip"),
                                "ArtifactVersions[PluginsS3ObjectVersion]"),
    "bucket not versioned": (_bucket("VersioningConfiguration", {"Status": "Suspended"}), "SourceBucket[Versioning]"),
    "bucket public policy allowed": (_bucket("PublicAccessBlockConfiguration", {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}),
        "SourceBucket[PublicAccessBlock]"),
    "bucket without TLS policy": (_no_bucket_policy, "SourceBucket[TLS]"),
    "bucket under another key": (_other_key, "SourceBucket[SameKey]"),
    "bucket outside the stack": (_set("Environment", "SourceBucketArn", "arn:aws:s3:::elsewhere"),
                                 "SourceBucket[NotInStack]"),
    "trust without SourceArn": (_trust_condition("ArnLike", "aws:SourceArn", None), "ExecutionRoleTrust[SourceArn]"),
    "trust without SourceAccount": (_trust_condition("StringEquals", "aws:SourceAccount", None),
                                    "ExecutionRoleTrust[SourceAccount]"),
    "trust of any environment": (_trust_condition("ArnLike", "aws:SourceArn", ENV_ARN.replace("team-a", "*")),
                                 "ExecutionRoleTrust[AnyEnvironment]"),
    "trust of another environment": (_trust_condition("ArnLike", "aws:SourceArn", ENV_ARN.replace("team-a", "team-b")),
                                     "ExecutionRoleTrust[OtherEnvironment]"),
    "service wildcard action": (_statement("ExecutionPolicy", Action="s3:*", Resource="arn:aws:s3:::x/*"),
                                "ExecutionRoleWildcards[Action::s3:*]"),
    "any action": (_statement("ExecutionPolicy", Action="*", Resource="arn:aws:s3:::x/*"),
                   "ExecutionRoleWildcards[Action::*]"),
    "scoped action on *": (_statement("ExecutionPolicy", Action="ec2:DescribeInstances", Resource="*"),
                           "ExecutionRoleWildcards[UnscopedAction::ec2:DescribeInstances]"),
    "NotAction": (_statement("ExecutionPolicy", NotAction="iam:*", Resource="*"), "ExecutionRoleWildcards[NotAction]"),
    "inline policy wildcard": (_inline, "ExecutionRoleWildcards[Action::dynamodb:*]"),
    "attached IAM policy on *": (_default_policy, "ExecutionRoleWildcards[UnscopedAction::sqs:SendMessage]"),
    "AWS managed policy": (_set("ExecutionRole", "ManagedPolicyArns", ["arn:aws:iam::aws:policy/AdministratorAccess"]),
                           "ExecutionRoleWildcards[ManagedPolicy::arn:aws:iam::aws:policy/AdministratorAccess]"),
}


@pytest.mark.parametrize("change, finding", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_each_rule_names_its_bad_case(change, finding):
    resources = compliant()
    change(resources)
    where = "ExecutionRole" if "ExecutionRole" in finding else "Environment"
    assert f"{MWAA_CHECKS_PACK}-{finding} at {where}" in findings(build(resources))


def test_an_airflow_trusted_role_is_an_execution_role_even_when_no_environment_uses_it():
    resources = compliant()
    del resources["Environment"]
    props(resources, "ExecutionRole")["AssumeRolePolicyDocument"]["Statement"][0].pop("Condition")
    assert findings(build(resources)) == {"MwaaChecks-ExecutionRoleTrust[SourceAccount] at ExecutionRole",
                                          "MwaaChecks-ExecutionRoleTrust[SourceArn] at ExecutionRole"}


def test_other_roles_may_use_wildcards_the_other_packs_judge():
    resources = {"TaskRole": ["AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]},
        "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]}]}
    assert findings(build(resources)) == set()


def _serverless_role(condition):
    return {"WorkflowRole": ["AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "airflow-serverless.amazonaws.com"},
        **({"Condition": condition} if condition else {})}]}}]}


@pytest.mark.parametrize("condition, expected", [
    ({"StringEquals": {"aws:SourceAccount": TEST_ACCOUNT}, "ArnLike": {
        "aws:SourceArn": f"arn:aws:airflow-serverless:{TEST_REGION}:{TEST_ACCOUNT}:workflow/etl*"}}, set()),
    ({"StringEquals": {"aws:SourceAccount": TEST_ACCOUNT}}, {"ServerlessRoleTrust[SourceArn]"}),
    (None, {"ServerlessRoleTrust[SourceAccount]", "ServerlessRoleTrust[SourceArn]"}),
], ids=["pinned", "no SourceArn", "no conditions"])
def test_serverless_roles_pin_their_trust(condition, expected):
    assert findings(build(_serverless_role(condition))) == {f"MwaaChecks-{e} at WorkflowRole" for e in expected}


def _target_role(*trusted):
    return {"Target": ["AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": list(trusted)}}]}}]}


@pytest.mark.parametrize("trusted, expected", [
    (["arn:aws:iam::999999999999:root"], {"CrossAccountRootTrust[999999999999]"}),
    (["999999999999"], {"CrossAccountRootTrust[999999999999]"}),
    (["*"], {"CrossAccountRootTrust[*]"}),
    (["arn:aws:iam::999999999999:role/exec", {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::",
                                                                 {"Ref": "AWS::AccountId"}, ":root"]]}],
     {"CrossAccountRootTrust[${AWS::AccountId}]"}),
], ids=["another account's root", "a bare account id", "everyone", "own root in a cross-account role"])
def test_cross_account_roles_trust_no_account_root(trusted, expected):
    assert findings(build(_target_role(*trusted))) == {f"MwaaChecks-{e} at Target" for e in expected}


@pytest.mark.parametrize("trusted", [
    ["arn:aws:iam::999999999999:role/payments-prod-exec"],  # the exact role that assumes it
    [f"arn:aws:iam::{TEST_ACCOUNT}:root"],  # its own account: not a cross-account role
], ids=["exact role of another account", "own account root"])
def test_cross_account_roles_may_trust_exact_roles(trusted):
    assert findings(build(_target_role(*trusted))) == set()


def test_the_library_environment_passes_the_pack():
    stack = new_stack()
    from test_environment import vpc_of  # the environment tests' imported VPC: no network resources to read

    AirflowEnvironment(stack, "Env", environment_name="team-a", airflow_version="2.11.0", vpc=vpc_of(stack))
    assert findings(stack) == set()


def test_a_team_opt_out_of_the_private_web_server_is_an_acknowledgment_with_its_reason():
    stack = new_stack()
    from test_environment import vpc_of

    env = AirflowEnvironment(stack, "Env", environment_name="team-a", airflow_version="2.11.0", vpc=vpc_of(stack),
                             webserver_access_mode="PUBLIC_ONLY")
    assert findings(stack) == {f"{WEB_SERVER_PRIVATE_RULE} at Env"}
    acknowledge(env, f"{MWAA_CHECKS_PACK}::{WEB_SERVER_PRIVATE_RULE}", REASON)
    assert [line for line in nag_violations(stack) if line.startswith(MWAA_CHECKS_PACK)] == []


def test_cdk_synth_reads_the_written_templates_property_overrides_included(tmp_path):
    app = new_app(outdir=str(tmp_path / "cdk.out"))
    stack = build(compliant(), cdk.Stack(app, "Test", env=cdk.Environment(account=TEST_ACCOUNT, region=TEST_REGION)))
    stack.node.find_child("Environment").add_property_override("WebserverAccessMode", "PUBLIC_ONLY")
    cdk.Validations.of(app).add_plugins(MwaaChecks())
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    (mwaa,) = [plugin for plugin in report["pluginReports"] if plugin["pluginName"] == MWAA_CHECKS_PACK]
    assert [v["ruleName"] for v in mwaa["violations"]] == [WEB_SERVER_PRIVATE_RULE]


def test_the_unscoped_actions_include_the_execution_role_s_own():
    from mwaa_platform.environment.execution_role import ACTIONS_WITHOUT_RESOURCE_SCOPE

    assert set(ACTIONS_WITHOUT_RESOURCE_SCOPE) <= EXECUTION_ROLE_UNSCOPED_ACTIONS


def test_every_rule_explains_what_is_wrong_why_and_how_to_fix_it():
    assert WEB_SERVER_PRIVATE_RULE == "MwaaChecks-WebServerPrivate"
    for rule in MWAA_RULES.values():
        assert rule.rule_id == f"MwaaChecks-{rule.suffix}"
        assert len(rule.info) > 40 and len(rule.explanation) > 120, rule.suffix
    assert MwaaChecks().rule_ids == [rule.rule_id for rule in MWAA_RULES.values()]


def test_a_clean_assembly_is_decided_in_python_and_anything_else_goes_to_cdk_nag(monkeypatch):
    """During `cdk synth` the pack first runs its rules over the written templates in Python: when all pass it
    reports success without cdk-nag's walk (a few jsii callbacks per rule and resource, most of the pack's
    cost); a failing or raising rule sends the assembly through cdk-nag, which reports it as before."""
    from mwaa_platform.compliance import mwaa_checks

    public = {"Resources": {"Env": {"Type": "AWS::MWAA::Environment",
                                    "Properties": {"WebserverAccessMode": "PUBLIC_ONLY"}}}}
    private = {"Resources": {"Env": {"Type": "AWS::MWAA::Environment", "Properties": {
        "WebserverAccessMode": "PRIVATE_ONLY"}}}}
    assert mwaa_checks._all_compliant([({"Resources": {}}, "123456789012")])
    assert not mwaa_checks._all_compliant([({"Resources": {}}, None), (public, "123456789012")])
    # the private environment still fails other rules (no logging, no key): only a fully compliant one passes
    assert not mwaa_checks._all_compliant([(private, "123456789012")])

    def raises(template, logical_id):
        raise KeyError("a rule that cannot read its resource")
    broken = mwaa_checks.MwaaRule("Broken", "AWS::S3::Bucket", info="i", explanation="e", check=raises)
    monkeypatch.setitem(mwaa_checks._RULES_BY_TYPE, "AWS::S3::Bucket", [broken])
    assert not mwaa_checks._all_compliant([({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}, None)])


def test_synthesis_still_fails_on_a_finding_through_cdk_nag():
    from aws_cdk import aws_mwaa as mwaa

    app = new_app()
    cdk.Validations.of(app).add_plugins(MwaaChecks())
    stack = new_stack(app)
    mwaa.CfnEnvironment(stack, "Env", name="public", webserver_access_mode="PUBLIC_ONLY")
    with pytest.raises(RuntimeError, match=r"MwaaChecks-WebServerPrivate"):
        app.synth()
