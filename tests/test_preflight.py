"""Preflight checks: each rule fails on a template AWS would reject and passes the fixed one."""

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs

from harness import TEST_ENV, new_app
from mwaa_platform.compliance import (
    PREFLIGHT_RULES,
    RESOURCES_PER_STACK_MAX,
    TEMPLATE_BODY_MAX_BYTES,
    Quotas,
    StackTemplate,
    attach_preflight_checks,
    run_preflight,
)


def stack(resources, name="team", account="123456789012", region="eu-west-1", parameters=None):
    template = {"Resources": resources}
    if parameters:
        template["Parameters"] = parameters
    return StackTemplate(name=name, template=template, account=account, region=region)


def rules(findings):
    return sorted({(f.rule, f.severity) for f in findings})


def sg_rule(description):
    return {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
        "GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "SourceSecurityGroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}, "Description": description}}


# --- ec2-description-charset --------------------------------------------------------------------


def test_an_apostrophe_in_a_rule_description_fails():
    (finding,) = run_preflight([stack({"Rule": sg_rule("MWAA web server from the environment's own components")})])
    assert (finding.rule, finding.severity, finding.logical_id, finding.property_path) == (
        "ec2-description-charset", "error", "Rule", "Properties/Description")
    assert "has \"'\"" in finding.message and "team/Rule" in str(finding)


@pytest.mark.parametrize("where", ["GroupDescription", "SecurityGroupEgress"])
def test_inline_descriptions_of_a_security_group_are_checked_too(where):
    properties = {"GroupDescription": "ok", "SecurityGroupEgress": [{"CidrIp": "0.0.0.0/0", "Description": "ok"}]}
    if where == "GroupDescription":
        properties["GroupDescription"] = "team's group"
    else:
        properties["SecurityGroupEgress"][0]["Description"] = "to the team's API"
    (finding,) = run_preflight([stack({"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": properties}})])
    assert finding.property_path.startswith(f"Properties/{where}")


def test_a_description_over_255_characters_fails_and_a_clean_one_passes():
    assert rules(run_preflight([stack({"Rule": sg_rule("x" * 256)})])) == [("ec2-description-charset", "error")]
    assert run_preflight([stack({"Rule": sg_rule("MWAA web server (HTTPS) from other components: [ok] #1")})]) == []


def test_literal_parts_of_a_joined_description_are_checked():
    joined = {"Fn::Join": ["", ["from ", {"Ref": "AWS::StackName"}, "'s group"]]}
    assert rules(run_preflight([stack({"Rule": sg_rule(joined)})])) == [("ec2-description-charset", "error")]


# --- physical-name-length -----------------------------------------------------------------------


def log_group(name, deletion="Delete"):
    return {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": deletion, "Properties": {"LogGroupName": name}}


def test_a_name_longer_than_the_service_allows_fails():
    role = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Join": ["-", [
        "mwaa", {"Ref": "AWS::Region"}, "x" * 50]]}, "AssumeRolePolicyDocument": {}}}
    (finding,) = run_preflight([stack({"Role": role})])
    assert finding.rule == "physical-name-length"
    assert "AWS::IAM::Role RoleName may have at most 64 characters, got 65" in finding.message


def test_ssm_parameter_names_count_the_arn_prefix():
    parameter = {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/" + "p" * 980, "Type": "String", "Value": "x"}}
    (finding,) = run_preflight([stack({"P": parameter})])
    assert "may have at most 1011 characters" in finding.message
    parameter["Properties"]["Name"] = "/mwaa-platform/network/vpc-id"
    assert run_preflight([stack({"P": parameter})]) == []


# --- retain-fixed-name --------------------------------------------------------------------------


def test_a_fixed_name_with_plain_retain_fails_and_retain_except_on_create_passes():
    (finding,) = run_preflight([stack({"Logs": log_group("airflow-team-Task", "Retain")})])
    assert (finding.rule, finding.property_path) == ("retain-fixed-name", "DeletionPolicy")
    assert "RETAIN_ON_UPDATE_OR_DELETE" in finding.message
    assert run_preflight([stack({"Logs": log_group("airflow-team-Task", "RetainExceptOnCreate")})]) == []
    assert run_preflight([stack({"Logs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
                                          "Properties": {}}})]) == []  # a generated name cannot collide


# --- duplicate-physical-name --------------------------------------------------------------------


def test_two_stacks_claiming_one_log_group_name_in_one_region_fail():
    findings = run_preflight([stack({"A": log_group("airflow-x-Task")}, name="one"),
                              stack({"B": log_group("airflow-x-Task")}, name="two")])
    assert rules(findings) == [("duplicate-physical-name", "error")]
    assert {f.logical_id for f in findings} == {"A", "B"}
    assert "one/A, two/B" in findings[0].message


def test_the_same_name_in_another_region_or_account_passes():
    assert run_preflight([stack({"A": log_group("airflow-x-Task")}, name="one"),
                          stack({"B": log_group("airflow-x-Task")}, name="two", region="us-east-1")]) == []
    assert run_preflight([stack({"A": log_group("airflow-x-Task")}, name="one"),
                          stack({"B": log_group("airflow-x-Task")}, name="two", account="210987654321")]) == []


def test_iam_names_collide_across_regions_and_ignore_case():
    role = lambda name: {"Type": "AWS::IAM::Role", "Properties": {"RoleName": name, "AssumeRolePolicyDocument": {}}}  # noqa: E731
    findings = run_preflight([stack({"A": role("Central-Execution")}, name="one"),
                              stack({"B": role("central-execution")}, name="two", region="us-east-1")])
    assert rules(findings) == [("duplicate-physical-name", "error")]


def test_dashboards_and_budgets_are_named_once_per_account_whatever_the_region():
    dashboard = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardName": "payments-prod"}}
    budget = {"Type": "AWS::Budgets::Budget", "Properties": {"Budget": {"BudgetName": "payments-prod"}}}
    findings = run_preflight([stack({"D": dashboard, "B": budget}, name="one"),
                              stack({"D": dashboard, "B": budget}, name="two", region="us-east-1")])
    assert sorted((f.stack.name, f.logical_id) for f in findings) == [("one", "B"), ("one", "D"), ("two", "B"),
                                                                      ("two", "D")]
    assert rules(findings) == [("duplicate-physical-name", "error")]
    assert run_preflight([stack({"D": dashboard, "B": budget}, name="one"),
                          stack({"D": dashboard, "B": budget}, name="two", account="210987654321")]) == []


def test_a_budget_name_over_100_characters_fails():
    budget = {"Type": "AWS::Budgets::Budget", "Properties": {"Budget": {"BudgetName": "b" * 101}}}
    assert rules(run_preflight([stack({"B": budget})])) == [("physical-name-length", "error")]


# --- security-group-inbound-rules ---------------------------------------------------------------


def shared_network(parameter_name="/p/network/endpoint-security-group-id", account="123456789012"):
    return stack({
        "EndpointSg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "endpoints"}},
        "Param": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": parameter_name, "Type": "String", "Value": {"Fn::GetAtt": ["EndpointSg", "GroupId"]}}},
    }, name=f"network-{account}", account=account)


def team_adding_one_rule(index, account="123456789012"):
    return stack(
        {"Ingress": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Ref": "EndpointSgParam"}, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "Description": f"team {index}"}}},
        name=f"team-{index}-{account}", account=account,
        parameters={"EndpointSgParam": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::SecurityGroup::Id>",
                                        "Default": "/p/network/endpoint-security-group-id"}},
    )


def test_rules_added_from_many_stacks_through_ssm_are_counted_against_the_quota():
    findings = run_preflight([shared_network(), *(team_adding_one_rule(i) for i in range(61))])
    (finding,) = findings
    assert (finding.rule, finding.stack.name, finding.logical_id) == ("security-group-inbound-rules",
                                                                     "network-123456789012", "EndpointSg")
    assert "61 inbound rules" in finding.message and "quota of 60" in finding.message
    assert run_preflight([shared_network(), *(team_adding_one_rule(i) for i in range(60))]) == []


def test_one_parameter_name_in_two_accounts_is_two_groups():
    """The same platform in two accounts publishes the same parameter names: each account's rules
    count against its own group (30 + 40 rules: no group over 60)."""
    other = "210987654321"
    assert run_preflight([shared_network(), shared_network(account=other),
                          *(team_adding_one_rule(i) for i in range(30)),
                          *(team_adding_one_rule(i, other) for i in range(40))]) == []


def test_a_raised_quota_is_honoured():
    stacks = [shared_network(), *(team_adding_one_rule(i) for i in range(61))]
    assert run_preflight(stacks, Quotas(inbound_rules_per_security_group=100)) == []


# --- shared-secret-prefix ----------------------------------------------------------------------


def environment_reading(name, connections, variables, region="eu-west-1", stack_name=None):
    kwargs = json.dumps({"connections_prefix": connections, "variables_prefix": variables})
    return stack({"Env": {"Type": "AWS::MWAA::Environment", "Properties": {
        "Name": name, "AirflowConfigurationOptions": {"secrets.backend_kwargs": kwargs}}}},
        name=stack_name or name, region=region)


def test_two_environments_reading_one_prefix_fail_naming_both():
    findings = run_preflight([
        environment_reading("payments-prod", "airflow/connections", "airflow/payments/variables"),
        environment_reading("analytics-dev", "airflow/connections", "airflow/analytics/variables"),
    ])
    (finding,) = findings
    assert finding.rule == "shared-secret-prefix"
    assert "environment analytics-dev reads secrets under 'airflow/connections', which overlaps" in finding.message
    assert "of environment payments-prod (payments-prod/Env)" in finding.message


def test_a_prefix_nested_in_another_environments_prefix_fails():
    findings = run_preflight([
        environment_reading("a", "airflow/a/connections", "airflow/a/variables"),
        environment_reading("b", "airflow/a/connections/b", "airflow/b/variables"),
    ])
    assert rules(findings) == [("shared-secret-prefix", "error")]


def test_own_prefixes_and_other_regions_pass():
    assert run_preflight([
        environment_reading("a", "airflow/a/connections", "airflow/a/variables"),
        environment_reading("ab", "airflow/ab/connections", "airflow/ab/variables"),  # no '/' boundary: distinct
        environment_reading("c", "airflow/a/connections", "airflow/a/variables", region="us-east-1", stack_name="c"),
    ]) == []


# --- mwaa-environments-quota --------------------------------------------------------------------


def environments(count, region="eu-west-1"):
    return [stack({"Env": {"Type": "AWS::MWAA::Environment", "Properties": {"Name": f"e{i}-{region}"}}},
                  name=f"team-{i}-{region}", region=region) for i in range(count)]


def test_more_environments_than_the_default_quota_is_a_warning_not_an_error():
    (finding,) = run_preflight(environments(11))
    assert (finding.rule, finding.severity) == ("mwaa-environments-quota", "warning")
    assert "11 MWAA environments in account 123456789012 and Region eu-west-1" in finding.message
    assert "Service Quotas" in finding.message
    assert run_preflight(environments(10) + environments(10, region="us-east-1")) == []


# --- stack-limits --------------------------------------------------------------------------------


def handles(count):
    return {f"Handle{i}": {"Type": "AWS::CloudFormation::WaitConditionHandle"} for i in range(count)}


def test_the_limits_are_cloudformations_as_cfn_lint_knows_them():
    from cfnlint.helpers import LIMITS

    assert (RESOURCES_PER_STACK_MAX, TEMPLATE_BODY_MAX_BYTES) == (LIMITS["Resources"]["number"], LIMITS["template"]["body"])


def test_a_stack_within_20_percent_of_the_resource_limit_warns_and_over_it_fails():
    assert run_preflight([stack(handles(399))]) == []
    (warning,) = run_preflight([stack(handles(400))])
    assert (warning.rule, warning.severity, warning.stack.name) == ("stack-limits", "warning", "team")
    assert "400 resources, 80% of CloudFormation's limit of 500" in warning.message
    (error,) = run_preflight([stack(handles(501))])
    assert error.severity == "error" and "501 resources, over CloudFormation's limit of 500" in error.message


def big_policy(size):
    return {"Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"Description": "x" * size}}}


def test_a_template_within_20_percent_of_one_megabyte_warns_and_over_it_fails():
    assert run_preflight([stack(big_policy(790_000))]) == []
    (warning,) = run_preflight([stack(big_policy(810_000))])
    assert warning.severity == "warning" and "template bytes, 81% of CloudFormation's limit of 1000000" in warning.message
    (error,) = run_preflight([stack(big_policy(1_000_001))])
    assert error.severity == "error" and "over CloudFormation's limit of 1000000" in error.message


def test_the_size_is_the_synthesized_files_when_there_is_one(tmp_path):
    path = tmp_path / "team.template.json"
    path.write_text(" " * 900_000)
    (finding,) = run_preflight([StackTemplate(name="team", template={"Resources": {}}, path=str(path))])
    assert "900000 template bytes" in finding.message


def access_entry(cluster, principal):
    return {"Type": "AWS::EKS::AccessEntry", "Properties": {"ClusterName": cluster, "PrincipalArn": principal}}


ROLE_ARN = "arn:aws:iam::123456789012:role/central-prod-exec"


def test_two_access_entries_for_one_role_on_one_cluster_fail_across_stacks():
    findings = run_preflight([stack({"Access": access_entry("tasks", ROLE_ARN)}, name="central"),
                              stack({"Access": access_entry("tasks", ROLE_ARN)}, name="analytics")])
    assert rules(findings) == [("eks-access-entry-per-principal", "error")]
    assert {f.stack.name for f in findings} == {"central", "analytics"}
    assert "central/Access, analytics/Access" in findings[0].message


def test_two_access_entries_for_one_local_role_fail_and_the_cluster_ref_resolves_to_its_name():
    cluster = {"Type": "AWS::EKS::Cluster", "Properties": {"Name": "tasks"}}
    role = {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    findings = run_preflight([stack({"Cluster": cluster, "A": access_entry({"Ref": "Cluster"}, role),
                                     "B": access_entry("tasks", role)})])
    assert rules(findings) == [("eks-access-entry-per-principal", "error")]


def test_one_entry_per_role_cluster_account_and_region_passes():
    other = "arn:aws:iam::123456789012:role/payments-prod-exec"
    assert run_preflight([
        stack({"A": access_entry("tasks", ROLE_ARN), "B": access_entry("tasks", other),
               "C": access_entry("batch", ROLE_ARN)}),
        stack({"A": access_entry("tasks", ROLE_ARN)}, name="elsewhere", region="eu-central-1"),
        # the same logical id in two stacks names two roles
        stack({"D": access_entry("tasks", {"Fn::GetAtt": ["Role", "Arn"]})}, name="one"),
        stack({"D": access_entry("tasks", {"Fn::GetAtt": ["Role", "Arn"]})}, name="two"),
    ]) == []


def test_every_rule_is_exercised_here():
    tested = {"ec2-description-charset", "physical-name-length", "retain-fixed-name", "duplicate-physical-name",
              "security-group-inbound-rules", "shared-secret-prefix", "mwaa-environments-quota", "stack-limits",
              "eks-access-entry-per-principal", "endpoint-policy-size", "log-group-prefix-overlap",
              "prerequisite-role"}
    # the rules over paths are exercised in tests/test_paths.py
    paths = {"path-connection-lookup", "path-route", "path-provider", "airflow-configuration-options"}
    assert set(PREFLIGHT_RULES) == tested | paths


# --- the plugin in a CDK app ----------------------------------------------------------------------


def test_the_plugin_fails_synthesis_on_an_error_naming_the_rule(tmp_path):
    app = new_app(outdir=str(tmp_path))
    attach_preflight_checks(app)
    bad = cdk.Stack(app, "Bad", env=TEST_ENV)
    vpc = ec2.Vpc(bad, "Vpc", restrict_default_security_group=False, nat_gateways=0, max_azs=2)
    group = ec2.SecurityGroup(bad, "Sg", vpc=vpc, allow_all_outbound=False)
    group.add_ingress_rule(group, ec2.Port.tcp(443), "from the team's own group")
    with pytest.raises(RuntimeError, match="ec2-description-charset"):
        app.synth()


def test_the_plugin_passes_a_clean_app_and_reports_warnings(tmp_path):
    app = new_app(outdir=str(tmp_path))
    attach_preflight_checks(app, quotas=Quotas(mwaa_environments_per_region=0))
    good = cdk.Stack(app, "Good", env=TEST_ENV)
    logs.LogGroup(good, "Logs", log_group_name="airflow-good-Task", removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
    cdk.CfnResource(good, "Env", type="AWS::MWAA::Environment", properties={"Name": "good"})
    app.synth()
    report = json.loads((Path(tmp_path) / "validation-report.json").read_text())
    (plugin,) = [r for r in report["pluginReports"] if r["pluginName"] == "mwaa-platform-preflight"]
    assert plugin["conclusion"] == "success"
    assert [v["ruleName"] for v in plugin["violations"]] == ["mwaa-environments-quota"]
    assert plugin["violations"][0]["violatingConstructs"][0]["constructPath"] == "Good/Env"


def test_the_plugin_reports_a_stack_near_its_resource_limit_as_a_warning(tmp_path):
    app = new_app(outdir=str(tmp_path))
    attach_preflight_checks(app)
    crowded = cdk.Stack(app, "Crowded", env=TEST_ENV)
    for index in range(RESOURCES_PER_STACK_MAX * 4 // 5):
        cdk.CfnResource(crowded, f"Handle{index}", type="AWS::CloudFormation::WaitConditionHandle")
    app.synth()
    report = json.loads((Path(tmp_path) / "validation-report.json").read_text())
    (plugin,) = [r for r in report["pluginReports"] if r["pluginName"] == "mwaa-platform-preflight"]
    assert plugin["conclusion"] == "success"
    assert [(v["ruleName"], v["severity"]) for v in plugin["violations"]] == [("stack-limits", "warning")]


# --- endpoint-policy-size ---------------------------------------------------------------------------


def endpoint_with(statements):
    return {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
        "ServiceName": "com.amazonaws.eu-west-1.glue", "VpcId": "vpc-1",
        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}


def test_an_endpoint_policy_over_20480_characters_fails_and_one_near_it_warns():
    """AWS PrivateLink quotas: 'Characters per VPC endpoint policy', 20,480, not adjustable."""
    def statement(index):
        return {"Sid": f"PathRole{index}", "Effect": "Allow", "Principal": {"AWS": "*"},
                "Action": ["glue:GetJob", "glue:StartJobRun", "glue:GetJobRun"],
                "Resource": {"Fn::Join": ["", ["arn:aws:glue:", {"Ref": "AWS::Region"}, f":333333333333:job/j{index:04}"]]},
                "Condition": {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::333333333333:role/team-{index:04}"}}}
    def size(count):
        # the deployed form: the Region resolved, compact JSON
        return len(json.dumps({"Version": "2012-10-17", "Statement": [
            {**statement(i), "Resource": f"arn:aws:glue:eu-west-1:333333333333:job/j{i:04}"} for i in range(count)]},
            separators=(",", ":")))
    over = next(count for count in range(1, 200) if size(count) > 20480)
    (finding,) = run_preflight([stack({"Glue": endpoint_with([statement(i) for i in range(over)])})])
    assert (finding.rule, finding.severity, finding.logical_id) == ("endpoint-policy-size", "error", "Glue")
    assert f"{size(over)} characters of the endpoint policy, over EC2's limit of 20480" in finding.message
    near = next(count for count in range(1, 200) if size(count) >= 0.8 * 20480)
    (warning,) = run_preflight([stack({"Glue": endpoint_with([statement(i) for i in range(near)])})])
    assert warning.severity == "warning"
    assert run_preflight([stack({"Glue": endpoint_with([statement(0)])})]) == []


# --- log-group-prefix-overlap --------------------------------------------------------------------------


def mwaa(name):
    return {"Type": "AWS::MWAA::Environment", "Properties": {"Name": name}}


def test_an_environment_whose_name_extends_another_s_fails_its_log_wildcard_would_reach_it():
    (finding,) = run_preflight([stack({"A": mwaa("data-dev"), "B": mwaa("data-dev-prod")})])
    assert (finding.rule, finding.logical_id) == ("log-group-prefix-overlap", "B")
    assert "match the log-group wildcard airflow-data-dev-* of environment data-dev" in finding.message
    # a name that only shares letters, or the same names in another Region, is fine
    assert run_preflight([stack({"A": mwaa("data-dev"), "B": mwaa("data-development")})]) == []
    assert run_preflight([stack({"A": mwaa("data-dev")}),
                          stack({"B": mwaa("data-dev-prod")}, name="other", region="eu-central-1")]) == []


# --- prerequisite-role ----------------------------------------------------------------------------------


def test_a_policy_attached_to_a_role_the_app_does_not_create_names_it_as_a_prerequisite():
    policy = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
        "PolicyDocument": {}, "Roles": ["payments-engineers", {"Ref": "ExecutionRole"}, "payments-prod-exec"]}}
    role = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "payments-prod-exec", "AssumeRolePolicyDocument": {}}}
    (finding,) = run_preflight([stack({"WebLogin": policy, "ExecutionRole": role})])
    assert (finding.rule, finding.severity, finding.property_path) == ("prerequisite-role", "warning", "Properties/Roles/0")
    assert "IAM role payments-engineers, which this app does not create" in finding.message
    # an inline policy (CDK's for an imported role) and a role named by a template parameter count too
    inline = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {}, "PolicyName": "p",
                                                         "Roles": [{"Ref": "RoleName"}]}}
    (named,) = run_preflight([stack({"Inline": inline})])
    assert "IAM role (template parameter RoleName)" in named.message
    # a role of the same name in another account does not count
    other = stack({"R": {**role, "Properties": {"RoleName": "payments-engineers"}}}, name="o", account="999999999999")
    assert len(run_preflight([stack({"WebLogin": policy, "ExecutionRole": role}), other])) == 1
