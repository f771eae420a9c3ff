"""A library as strict as the registry, in the same words (issue 25, point 4).

What the registry refuses, the constructs refuse too: wildcard actions on a cross-account role, a
Region that does not exist, an argument of the wrong kind, a value outside a closed set (and mypy
sees the closed sets). Alerting takes any SNS topic, the constructs that take an environment take
the interface, and every construct with security groups is an ``ec2.IConnectable``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
import sys
import textwrap

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template

from harness import REPO_ROOT, TEST_ACCOUNT, TEST_REGION, new_app, new_stack
from mwaa_platform import (
    AirflowEnvironment,
    AirflowNetwork,
    MwaaPlatformError,
    MwaaPlatformTypeError,
    NetworkAttributes,
    SecretsManagerBackend,
    SharedAirflowNetwork,
)
from mwaa_platform.alerting import (
    AlarmOverride,
    AlarmOverrides,
    AlarmSettings,
    AlarmThresholds,
    AlertTopic,
    EnvironmentAlarms,
    FailureEvents,
    TeamBudget,
    TeamDashboard,
)
from mwaa_platform.compute import BatchCompute, BatchJob, EcsTaskCompute, EksClusterBase, EksCompute, TaskImage
from mwaa_platform.cross_account import AirflowAwsConnection, CrossAccountRole
from mwaa_platform.environment import ENVIRONMENT_CLASS_NAMES, ENVIRONMENT_CLASSES
from mwaa_platform.network import AirflowVpcEndpoints
from mwaa_platform.validation import (
    check_actions,
    check_mwaa_region,
    check_target_region,
    mwaa_regions,
    target_regions,
)

CENTRAL = f"arn:aws:iam::{TEST_ACCOUNT}:role/payments-prod-exec"
TARGET = "arn:aws:iam::333333333333:role/mwaa-payments-prod-finance_glue"
TOPIC_ARN = f"arn:aws:sns:{TEST_REGION}:{TEST_ACCOUNT}:platform-alerts"
IMAGE = TaskImage.from_uri("public.ecr.aws/docker/library/python:3.12-slim")


def shared_network(stack, *services, internet=False):
    """A network of another stack: no resources, only the SSM parameters it reads."""
    return SharedAirflowNetwork(stack, "Network", attributes=NetworkAttributes(
        parameter_prefix="/platform/network", availability_zones=(f"{TEST_REGION}a", f"{TEST_REGION}b"),
        internet_egress=internet, endpoint_services=frozenset(services)))


def created(stack, construct_id):
    return stack.node.try_find_child(construct_id) is not None


# --- 1. cross-account actions: the registry's rule, from the library ----------------------------------


@pytest.mark.parametrize("action", ["*", "glue:*", "s3:*"])
def test_a_cross_account_role_refuses_wildcard_actions(action):
    stack = new_stack(stack_id="Target")
    with pytest.raises(MwaaPlatformError, match=re.escape(
            f"Target/Glue: statements[0].actions must be service:Action (no service:*), got {action!r}")):
        CrossAccountRole(stack, "Glue", central_role_arn=CENTRAL, role_name="glue", statements=[
            iam.PolicyStatement(actions=["glue:GetJob", action], resources=["*"])])
    assert not created(stack, "Glue")


def test_a_cross_account_role_keeps_named_and_prefix_actions_and_denies():
    stack = new_stack(stack_id="Target")
    CrossAccountRole(stack, "Glue", central_role_arn=CENTRAL, role_name="glue", statements=[
        iam.PolicyStatement(actions=["glue:StartJobRun", "glue:Get*"], resources=["arn:aws:glue:eu-west-1:1:job/x"]),
        # a Deny takes away: a wildcard there is a guard rail, not a grant
        iam.PolicyStatement(effect=iam.Effect.DENY, actions=["*"], resources=["*"],
                            conditions={"Bool": {"aws:SecureTransport": "false"}}),
    ])
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    actions = [statement["Action"] for statement in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert sorted(actions[0]) == ["glue:Get*", "glue:StartJobRun"] and actions[1] == "*"


@pytest.mark.parametrize("actions", [["glue"], ["glue:Start Job"], [":StartJobRun"], ["Glue:GetJob"], "glue:GetJob"])
def test_malformed_actions_are_refused_naming_the_value(actions):
    with pytest.raises(MwaaPlatformError, match=r"^statements\[0\]\.actions must be"):
        check_actions("statements[0].actions", actions)


def test_a_cross_account_role_refuses_an_allow_with_not_actions():
    with pytest.raises(MwaaPlatformError, match=r"statements\[0\] allows not_actions \['iam:\*'\]: an Allow with "
                                                r"NotAction grants every other action"):
        CrossAccountRole(new_stack(), "Glue", central_role_arn=CENTRAL, role_name="glue", statements=[
            iam.PolicyStatement(not_actions=["iam:*"], resources=["*"])])


@pytest.mark.parametrize("action", ["*", "glue:*", "glue", "glue:Start Job", "glue:StartJobRun"])
def test_the_registry_and_the_library_hold_actions_to_one_rule_in_the_same_words(action):
    """What the library refuses the registry refuses, with the library's words (the registry may add rules
    of its own on top, such as a reason for wildcards it lets through)."""
    from pydantic import ValidationError

    from stacks.registry_schema import PolicyStatementSettings

    try:
        check_actions("actions", [action])
        library = None
    except MwaaPlatformError as error:
        library = error.message
    try:
        PolicyStatementSettings(actions=[action], resources=["arn:aws:glue:eu-west-1:333333333333:job/x"])
        registry = None
    except ValidationError as error:
        registry = error.errors()[0]["msg"]
    assert (library is None) == (registry is None), (library, registry)
    if library is not None:
        assert library in registry


# --- 2. Regions: botocore's list, one source ------------------------------------------------------------


def central_environment(stack, **kwargs):
    """The central environment of another stack, imported with what a connection needs."""
    kwargs.setdefault("execution_role", iam.Role.from_role_arn(stack, "ExecRole", CENTRAL, mutable=False))
    kwargs.setdefault("key", kms.Key.from_key_arn(stack, "EnvKey", f"arn:aws:kms:{TEST_REGION}:{TEST_ACCOUNT}:key/1"))
    kwargs.setdefault("secrets_backend", SecretsManagerBackend())
    return AirflowEnvironment.from_environment_name(stack, "Central", "payments-prod", **kwargs)


def test_a_connection_refuses_a_region_that_does_not_exist():
    stack = new_stack()
    env = central_environment(stack)
    with pytest.raises(MwaaPlatformError, match=re.escape(
            "Test/Glue: region_name must be a Region botocore knows for STS, e.g. eu-west-1, got 'eu-wst-1'")):
        AirflowAwsConnection(stack, "Glue", environment=env, conn_id="glue", role_arn=TARGET, region_name="eu-wst-1")
    assert not created(stack, "Glue")


def test_a_connections_region_is_in_its_roles_partition():
    stack = new_stack()
    with pytest.raises(MwaaPlatformError, match="region_name must be a Region botocore knows for STS, e.g. cn-north-1"):
        AirflowAwsConnection(stack, "Glue", environment=central_environment(stack), conn_id="glue",
                             role_arn=TARGET.replace("arn:aws:", "arn:aws-cn:"), region_name="eu-west-1")
    check_target_region("region", "cn-northwest-1", partition="aws-cn")


def test_the_region_lists_are_botocores():
    import botocore.session

    session = botocore.session.get_session()
    assert target_regions() == tuple(session.get_available_regions("sts"))
    assert mwaa_regions() == tuple(session.get_available_regions("mwaa"))
    assert "cn-north-1" in mwaa_regions(None) and "cn-north-1" not in mwaa_regions()
    with pytest.raises(MwaaPlatformError, match=re.escape(
            f"region must be a Region where MWAA runs (botocore knows {len(mwaa_regions())}, e.g. eu-west-1, "
            "us-east-1), got 'eu-west-9'")):
        check_mwaa_region("region", "eu-west-9")
    check_target_region("region", cdk.Aws.REGION)  # a token is only known at deployment


def test_an_environment_refuses_a_stack_region_where_mwaa_does_not_run():
    stack = cdk.Stack(new_app(), "Mars", env=cdk.Environment(account=TEST_ACCOUNT, region="mars-north-1"))
    with pytest.raises(MwaaPlatformError, match=r"^Mars/Env: the stack's region must be a Region where MWAA runs .*"
                                                r"got 'mars-north-1'"):
        AirflowEnvironment(stack, "Env", environment_name="payments")
    assert not created(stack, "Env")


# --- 3. the wrong kind of argument: a type error naming the parameter, before anything exists -----------


def test_a_string_for_the_network_is_a_type_error_naming_the_parameter():
    stack = new_stack()
    with pytest.raises(MwaaPlatformTypeError) as raised:
        AirflowEnvironment(stack, "Env", environment_name="payments", network="vpc-123")
    assert str(raised.value) == ("Test/Env: network must be of type AirflowNetworkBase (an AirflowNetwork or "
                                 "SharedAirflowNetwork) or None, got str 'vpc-123'")
    # one error type for the library, and a TypeError as Python reports a wrong type
    assert isinstance(raised.value, MwaaPlatformError) and isinstance(raised.value, TypeError)
    assert not created(stack, "Env")


def _environment(stack, **kwargs):
    AirflowEnvironment(stack, "Subject", environment_name="payments", **kwargs)


def _alarms(stack, **kwargs):
    kwargs.setdefault("environment", AirflowEnvironment.from_environment_name(stack, "Env", "payments"))
    kwargs.setdefault("topic", AlertTopic.from_topic_arn(stack, "Topic", TOPIC_ARN))
    EnvironmentAlarms(stack, "Subject", **kwargs)


WRONG_KINDS = [
    pytest.param(_environment, {"vpc": "vpc-123"}, "vpc must be of type ec2.IVpc or None, got str 'vpc-123'", id="env-vpc"),
    pytest.param(_environment, {"vpc": "vpc-1", "key": "alias/payments"}, "vpc must be of type ec2.IVpc",
                 id="env-checks-in-order"),
    pytest.param(lambda stack, **kw: _environment(stack, network=shared_network(stack), **kw),
                 {"key": "alias/payments"}, "key must be of type kms.IKey or None, got str 'alias/payments'",
                 id="env-key"),
    pytest.param(lambda stack, **kw: _environment(stack, network=shared_network(stack), **kw),
                 {"execution_role": CENTRAL}, "execution_role must be of type iam.IRole or None, got str",
                 id="env-role"),
    pytest.param(lambda stack, **kw: _environment(stack, network=shared_network(stack), **kw),
                 {"security_groups": ["sg-0123"]}, r"security_groups\[0\] must be of type ec2.ISecurityGroup, got str",
                 id="env-security-groups"),
    pytest.param(lambda stack, **kw: _environment(stack, network=shared_network(stack), **kw),
                 {"secrets_backend": True}, "secrets_backend must be of type SecretsManagerBackend or None, got True",
                 id="env-secrets-backend"),
    pytest.param(lambda stack, **kw: EcsTaskCompute(stack, "Subject", family="etl", image=IMAGE, **kw),
                 {"network": "vpc-123"}, "network must be of type AirflowNetworkBase", id="ecs-network"),
    pytest.param(lambda stack, **kw: EcsTaskCompute(stack, "Subject", network=shared_network(stack, "states"),
                                                    family="etl", image=IMAGE, **kw),
                 {"cluster": "tasks"}, "cluster must be of type ecs.ICluster or None, got str 'tasks'", id="ecs-cluster"),
    pytest.param(lambda stack, **kw: EcsTaskCompute(stack, "Subject", network=shared_network(stack, "states"),
                                                    family="etl", **kw),
                 {"image": "python:3.12"}, "image must be of type TaskImage", id="ecs-image"),
    pytest.param(lambda stack, **kw: BatchCompute(stack, "Subject", network=shared_network(stack, "batch"), **kw),
                 {"jobs": BatchJob("etl", IMAGE)}, "jobs must be a list of BatchJob, got BatchJob", id="batch-jobs"),
    pytest.param(lambda stack, **kw: EksCompute(stack, "Subject", network=shared_network(stack, "eks"), team="a", **kw),
                 {"cluster": "tasks"}, "cluster must be of type EksClusterBase", id="eks-cluster"),
    pytest.param(_alarms, {"environment": "payments"}, "environment must be of type IAirflowEnvironment", id="alarms-env"),
    pytest.param(_alarms, {"topic": TOPIC_ARN}, "topic must be of type AlertTopicBase or sns.ITopic", id="alarms-topic"),
    pytest.param(_alarms, {"thresholds": 40}, "thresholds must be a mapping of alarm settings", id="alarms-thresholds"),
    pytest.param(lambda stack, **kw: FailureEvents(stack, "Subject", environment_name="payments", **kw),
                 {"topic": TOPIC_ARN}, "topic must be of type AlertTopicBase or sns.ITopic", id="events-topic"),
    pytest.param(lambda stack, **kw: TeamBudget(stack, "Subject", budget_name="b", team="a", monthly_limit_usd=1, **kw),
                 {"topic": TOPIC_ARN}, "topic must be of type AlertTopicBase or sns.ITopic", id="budget-topic"),
    pytest.param(lambda stack, **kw: TeamDashboard(stack, "Subject", dashboard_name="d", **kw),
                 {"environment": "payments"}, "environment must be of type IAirflowEnvironment", id="dashboard-env"),
    pytest.param(lambda stack, **kw: AlertTopic(stack, "Subject", display_name="alerts", **kw),
                 {"key": "alias/alerts"}, "key must be of type kms.IKey or None", id="topic-key"),
    pytest.param(lambda stack, **kw: AirflowAwsConnection(stack, "Subject", conn_id="glue", role_arn=TARGET,
                                                          region_name=TEST_REGION, **kw),
                 {"environment": "payments-prod"}, "environment must be of type IAirflowEnvironment", id="connection-env"),
    pytest.param(lambda stack, **kw: CrossAccountRole(stack, "Subject", central_role_arn=CENTRAL, role_name="r", **kw),
                 {"statements": [{"Action": "glue:GetJob"}]}, r"statements\[0\] must be of type iam.PolicyStatement, got dict",
                 id="role-statements"),
    pytest.param(lambda stack, **kw: AirflowVpcEndpoints(stack, "Subject", subnets=[], **kw),
                 {"vpc": "vpc-123"}, "vpc must be of type ec2.IVpc, got str", id="endpoints-vpc"),
    pytest.param(lambda stack, **kw: AirflowNetwork(stack, "Subject", **kw),
                 {"key": "alias/network"}, "key must be of type kms.IKey or None", id="network-key"),
]


@pytest.mark.parametrize("build, kwargs, message", WRONG_KINDS)
def test_an_argument_of_the_wrong_kind_is_a_type_error_before_anything_is_created(build, kwargs, message):
    stack = new_stack()
    with pytest.raises(MwaaPlatformTypeError, match=f"^Test/Subject: {message}"):
        build(stack, **kwargs)
    assert not created(stack, "Subject")


def test_aws_cdk_lib_interfaces_are_recognized_in_every_form():
    """A created resource, an import (a jsii proxy) and a subclass all pass; a lookalike does not."""
    stack = new_stack()
    network = shared_network(stack, "states")
    cluster = cdk.aws_ecs.Cluster.from_cluster_attributes(stack, "Cluster", cluster_name="tasks", vpc=network.vpc)
    key = kms.Key.from_key_arn(stack, "Key", f"arn:aws:kms:{TEST_REGION}:{TEST_ACCOUNT}:key/1")
    EcsTaskCompute(stack, "Etl", network=network, family="etl", image=IMAGE, cluster=cluster, key=key)
    with pytest.raises(MwaaPlatformTypeError, match=r"key must be of type kms.IKey or None, got Topic"):
        EcsTaskCompute(stack, "Other", network=network, family="etl2", image=IMAGE, key=sns.Topic(stack, "NotAKey"))


# --- 4. closed sets: Literal types mypy checks, and the same sets checked at run time --------------------


def test_the_environment_class_literal_is_the_librarys_list_of_classes():
    assert ENVIRONMENT_CLASS_NAMES == tuple(ENVIRONMENT_CLASSES)


@pytest.mark.parametrize("build, message", [
    (lambda stack: AirflowEnvironment(stack, "Env", environment_name="p", network=shared_network(stack),
                                      environment_class="mw1.tiny"), "environment_class must be one of mw1.micro"),
    (lambda stack: AirflowEnvironment(stack, "Env", environment_name="p", network=shared_network(stack),
                                      webserver_access_mode="PUBLIC"), "webserver_access_mode must be one of"),
    (lambda stack: EksCompute(stack, "Env", cluster=EksClusterBase.from_cluster_attributes(
        stack, "C", cluster_name="c", control_plane_security_group_id="sg-1", cluster_security_group_id="sg-2"),
        network=shared_network(stack, "eks"), team="a", capacity_type="RESERVED"), "capacity_type must be one of"),
    (lambda stack: _alarms(stack, environment_class="mw1.tiny"), "environment_class must be one of mw1.micro"),
])
def test_closed_sets_are_still_checked_at_run_time(build, message):
    with pytest.raises(MwaaPlatformError, match=message):
        build(new_stack())


#: Each line ending in "# error" must fail mypy, each ending in "# ok" must pass.
MYPY_SNIPPET = textwrap.dedent('''
    from aws_cdk import App, Stack, aws_ec2 as ec2, aws_iam as iam, aws_sns as sns
    from mwaa_platform import AirflowEnvironment, AirflowNetwork, SecretsManagerBackend
    from mwaa_platform.alerting import AlarmOverride, AlarmOverrides, AlarmThresholds, AlertTopic, EnvironmentAlarms
    from mwaa_platform.compute import BatchCompute, EksClusterBase, EksCompute, TaskImage
    from mwaa_platform.cross_account import AirflowAwsConnection

    stack = Stack(App(), "S")
    vpc = ec2.Vpc(stack, "Vpc")
    network = AirflowNetwork(stack, "N")
    env = AirflowEnvironment(stack, "E", environment_name="e", vpc=vpc)
    imported = AirflowEnvironment.from_environment_name(stack, "I", "i", secrets_backend=SecretsManagerBackend())
    cluster = EksClusterBase.from_parameters(stack, "C", cluster_name="c", parameter_prefix="/p")
    role = iam.Role.from_role_name(stack, "R", "r")
    AlarmThresholds.for_class("mw1.tiny")  # error
    AlarmThresholds.for_class("mw1.small").overridden(queued_tasks={"threshold": 40})  # ok
    AlarmThresholds.for_class("mw1.small").overridden(queued_tasks={"treshold": 40})  # error
    AlarmThresholds.for_class("mw1.small").overridden(queue_tasks={"threshold": 40})  # error
    AlarmOverrides(queued_taks=AlarmOverride(threshold=3))  # error
    AlarmOverride(threshold=3, period_minutes=7)  # error
    EnvironmentAlarms(stack, "A1", environment=env, topic=AlertTopic(stack, "T1", display_name="t"), environment_class="mw1.tiny")  # error
    EnvironmentAlarms(stack, "A2", environment=imported, topic=sns.Topic(stack, "T2"))  # ok
    EnvironmentAlarms(stack, "A3", environment=imported, topic=AlertTopic.from_topic_arn(stack, "T3", "arn:aws:sns:eu-west-1:1:t"), thresholds=AlarmOverrides(queued_tasks=AlarmOverride(threshold=40)))  # ok
    AirflowAwsConnection(stack, "C1", environment=imported, conn_id="c", role_arn="r", region_name="eu-west-1")  # ok
    AirflowEnvironment(stack, "E2", environment_name="e", vpc=vpc, webserver_access_mode="PUBLIC")  # error
    AirflowEnvironment(stack, "E3", environment_name="e", vpc=vpc, log_levels={"task": "TRACE"})  # error
    AirflowNetwork(stack, "N2", nat_gateways=3)  # error
    EksCompute(stack, "K1", cluster=cluster, network=network, team="a", capacity_type="RESERVED")  # error
    EksCompute(stack, "K2", cluster=cluster, network=network, team="a", pod_security="privileged")  # error
    BatchCompute(stack, "B", network=network, jobs=[], capacity="GPU")  # error
    env.grant_web_login(role, airflow_role="Owner")  # error
    env.metric_cpu_utilization("Workers")  # error
    env.metric_database("CPUUtilization", database_role="PRIMARY")  # error
    AirflowEnvironment(stack, "E4", environment_name="e", vpc=vpc, environment_class="mw1.tiny")  # error: no such class
''')


@pytest.fixture(scope="module")
def mypy_findings(tmp_path_factory):
    """Line numbers mypy flags in ``MYPY_SNIPPET``, checked with the project's configuration.

    It reads aws-cdk-lib's types from the project's mypy cache, which ``make test`` fills before the
    tests run: about two seconds warm, minutes cold, so a cold cache skips rather than waits.
    """
    if not (REPO_ROOT / ".mypy_cache").is_dir():
        pytest.skip("mypy's cache is cold (make test runs mypy first); a cold check takes minutes")
    snippet = tmp_path_factory.mktemp("mypy") / "strictness_snippet.py"
    snippet.write_text(MYPY_SNIPPET)
    try:
        result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(REPO_ROOT / "pyproject.toml"),
                                 "--no-error-summary", "--hide-error-context", str(snippet)],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("mypy took over a minute: its cache is cold (make test runs mypy first)")
    flagged = {int(match[1]) for match in re.finditer(r"strictness_snippet\.py:(\d+): error", result.stdout)}
    if not flagged and result.returncode != 1:
        pytest.fail(f"mypy did not run: {result.stdout}{result.stderr}")
    return flagged


def _tagged(tag):
    return {number for number, line in enumerate(MYPY_SNIPPET.splitlines(), start=1) if line.endswith(f"# {tag}")}


def test_mypy_refuses_values_outside_the_closed_sets_and_misspelt_thresholds(mypy_findings):
    assert mypy_findings & _tagged("ok") == set()
    assert _tagged("error") - mypy_findings == set()


def test_mypy_refuses_an_environment_class_that_does_not_exist(mypy_findings):
    assert _tagged("error: no such class") <= mypy_findings


# --- 5. alarm thresholds, typed --------------------------------------------------------------------------


def alarm_template(thresholds):
    stack = new_stack()
    _alarms(stack, thresholds=thresholds)
    return {name: (props["Properties"]["Threshold"], props["Properties"]["EvaluationPeriods"],
                   props["Properties"]["Period"])
            for name, props in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").items()}


def test_typed_overrides_and_the_registrys_dict_give_the_same_alarms():
    typed = alarm_template(AlarmOverrides(queued_tasks=AlarmOverride(threshold=40, evaluation_periods=2)))
    assert typed == alarm_template({"queued_tasks": {"threshold": 40, "evaluation_periods": 2}})
    assert typed == alarm_template(
        AlarmThresholds.for_class("mw1.small").overridden(queued_tasks={"threshold": 40, "evaluation_periods": 2}))
    assert typed == alarm_template({"queued_tasks": AlarmSettings(40, evaluation_periods=2)})
    (queued,) = [value for name, value in typed.items() if "queuedtasks" in name.lower()]
    assert queued == (40, 2, 300)


def test_the_typed_forms_name_every_alarm_and_setting():
    assert set(AlarmOverrides.__annotations__) == {f for f in AlarmThresholds.__dataclass_fields__}
    assert set(AlarmOverride.__annotations__) == {f for f in AlarmSettings.__dataclass_fields__}


def test_a_whole_thresholds_object_is_checked_too():
    bad = replace(AlarmThresholds.for_class("mw1.small"), cpu_percent=AlarmSettings(90, period_minutes=7))
    with pytest.raises(MwaaPlatformError, match="thresholds.cpu_percent.period_minutes must be one of 1, 5"):
        alarm_template(bad)


# --- 6. any SNS topic; an imported one says what its owner must allow ------------------------------------


def alerting_on(topic_of):
    stack = new_stack()
    topic = topic_of(stack)
    env = AirflowEnvironment.from_environment_name(stack, "Env", "payments")
    EnvironmentAlarms(stack, "Alarms", environment=env, topic=topic)
    FailureEvents(stack, "Failures", topic=topic, environment_name="payments")
    TeamBudget(stack, "Budget", budget_name="payments", team="payments", monthly_limit_usd=100, topic=topic)
    return stack, topic


def test_a_plain_topic_of_this_app_gets_exactly_the_publishers_an_alert_topic_gets():
    stack, topic = alerting_on(lambda s: sns.Topic(s, "Plain", master_key=kms.Key(s, "PlainKey")))
    template = Template.from_stack(stack)
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"CloudWatchAlarms", "EventBridgeRules", "Budgets"}
    alarms = statements["CloudWatchAlarms"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": TEST_ACCOUNT}
    assert len(alarms["Condition"]["ArnEquals"]["aws:SourceArn"]) == len(
        template.find_resources("AWS::CloudWatch::Alarm"))
    # the topic's key lets the three publishers of this account use it
    (key,) = template.find_resources("AWS::KMS::Key").values()
    publishers = {s["Principal"]["Service"] for s in key["Properties"]["KeyPolicy"]["Statement"]
                  if s.get("Sid", "").endswith("Publish")}
    assert publishers == {"cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com"}
    # the budget waits for the policy that admits it
    (budget,) = template.find_resources("AWS::Budgets::Budget").values()
    assert any("TopicPolicy" in dependency or "Policy" in dependency for dependency in budget["DependsOn"])


@pytest.mark.parametrize("topic_of", [
    lambda s: AlertTopic.from_topic_arn(s, "Imported", TOPIC_ARN),
    lambda s: sns.Topic.from_topic_arn(s, "Imported", TOPIC_ARN),
], ids=["AlertTopic.from_topic_arn", "sns.Topic.from_topic_arn"])
def test_an_imported_topic_is_notified_and_its_owner_is_told_what_to_allow(topic_of):
    stack, topic = alerting_on(topic_of)
    template = Template.from_stack(stack)
    assert template.find_resources("AWS::SNS::TopicPolicy") == {}
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [TOPIC_ARN]
    warnings = [w.entry.data for w in Annotations.from_stack(stack).find_warning("*", Match.any_value())]
    for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com"):
        assert any(f"its owner must let {service} publish to it" in w and "kms:GenerateDataKey*" in w
                   for w in warnings), service


def test_an_imported_alert_topic_lists_its_publishers_and_refuses_a_bad_arn():
    stack = new_stack()
    topic = AlertTopic.from_topic_arn(stack, "Imported", TOPIC_ARN)
    EnvironmentAlarms(stack, "Alarms", environment=AirflowEnvironment.from_environment_name(stack, "Env", "p"),
                      topic=topic)
    assert list(topic.publishers) == ["cloudwatch.amazonaws.com"]
    assert topic.topic_arn == TOPIC_ARN
    with pytest.raises(MwaaPlatformError, match="topic_arn must be an SNS topic ARN like arn:aws:sns:"):
        AlertTopic.from_topic_arn(stack, "Bad", "platform-alerts")


def test_a_given_key_of_this_app_admits_the_publishers():
    stack = new_stack()
    key = kms.Key(stack, "Given")
    topic = AlertTopic(stack, "Alerts", display_name="alerts", key=key)
    EnvironmentAlarms(stack, "Alarms", environment=AirflowEnvironment.from_environment_name(stack, "Env", "p"),
                      topic=topic)
    (policy,) = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
               for s in policy["Properties"]["KeyPolicy"]["Statement"])


# --- 7. the environment interface --------------------------------------------------------------------------


def test_a_connection_works_for_an_environment_of_another_stack():
    stack = new_stack()
    env = central_environment(stack)
    connection = AirflowAwsConnection(stack, "Glue", environment=env, conn_id="glue", role_arn=TARGET,
                                      region_name=TEST_REGION)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SecretsManager::Secret", {
        "Name": "airflow/payments-prod/connections/glue",
        "KmsKeyId": f"arn:aws:kms:{TEST_REGION}:{TEST_ACCOUNT}:key/1"})
    template.has_resource_properties("AWS::SecretsManager::ResourcePolicy", {"ResourcePolicy": {"Statement": [
        Match.object_like({"Condition": {"ArnNotEquals": {"aws:PrincipalArn": CENTRAL}}})]}})
    assert connection.document["extra"]["region_name"] == TEST_REGION


@pytest.mark.parametrize("kwargs, message", [
    ({"key": None}, "connection glue needs the environment's key: the secret is encrypted with the key"),
    ({"key": None, "execution_role": None}, "needs the environment's key and execution_role"),
    ({"secrets_backend": None}, "pass the same secrets_backend to from_environment_name"),
])
def test_a_connection_names_what_an_imported_environment_lacks(kwargs, message):
    stack = new_stack()
    with pytest.raises(MwaaPlatformError, match=message):
        AirflowAwsConnection(stack, "Glue", environment=central_environment(stack, **kwargs), conn_id="glue",
                             role_arn=TARGET, region_name=TEST_REGION)
    assert not created(stack, "Glue")


def test_a_dashboard_takes_an_imported_environment():
    stack = new_stack()
    TeamDashboard(stack, "Dashboard", dashboard_name="payments",
                  environment=AirflowEnvironment.from_environment_name(stack, "Env", "payments"))
    (dashboard,) = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    assert "payments" in str(dashboard["Properties"]["DashboardBody"])


# --- 8. every construct with security groups is an ec2.IConnectable ---------------------------------------


def rules(stack):
    template = Template.from_stack(stack)
    return {**template.find_resources("AWS::EC2::SecurityGroupIngress"),
            **template.find_resources("AWS::EC2::SecurityGroupEgress")}


def connectables(stack):
    network = AirflowNetwork(stack, "Network", endpoint_sets=["ecs", "batch"])
    ecs_task = EcsTaskCompute(stack, "Etl", network=network, family="etl", image=IMAGE)
    batch = BatchCompute(stack, "Batch", network=network, jobs=[BatchJob("etl", IMAGE)])
    cluster = EksClusterBase.from_cluster_attributes(stack, "Cluster", cluster_name="tasks",
                                                     control_plane_security_group_id="sg-0control",
                                                     cluster_security_group_id="sg-0cluster")
    assert isinstance(network.endpoints, AirflowVpcEndpoints)
    return network, {"ecs": ecs_task, "batch": batch, "cluster": cluster, "endpoints": network.endpoints}


def test_compute_clusters_and_endpoints_are_connectable_through_their_own_groups_only():
    stack = new_stack()
    network, built = connectables(stack)
    def groups(construct):
        return [group.node.path for group in construct.connections.security_groups]

    assert groups(built["ecs"]) == [built["ecs"].security_group.node.path]
    assert groups(built["batch"]) == [built["batch"].security_group.node.path]
    assert groups(built["cluster"]) == [built["cluster"].control_plane_security_group.node.path]
    assert groups(built["endpoints"]) == [built["endpoints"].security_group.node.path]
    # the shared endpoint clients group is nobody's own: a rule through it would open the port for everyone
    for construct in built.values():
        assert network.endpoint_clients_security_group.node.path not in groups(construct)
    assert built["cluster"].connections.default_port.to_string() == "443"
    untouched = new_stack()
    connectables(untouched)
    assert rules(stack) == rules(untouched)  # reading connections adds no rule


def test_aws_cdk_lib_rules_take_the_compute_as_a_peer():
    stack = new_stack()
    network, built = connectables(stack)
    database = ec2.SecurityGroup(stack, "Database", vpc=network.vpc, allow_all_outbound=False)
    database.connections.allow_from(built["ecs"], ec2.Port.tcp(5432), "Postgres from the ETL task")
    database.connections.allow_from(built["batch"], ec2.Port.tcp(5432), "Postgres from the Batch jobs")
    built["cluster"].connections.allow_default_port_from(built["ecs"], "the ETL task reads pods")
    ingress = [rule["Properties"] for rule in Template.from_stack(stack).find_resources(
        "AWS::EC2::SecurityGroupIngress").values() if rule["Properties"].get("FromPort") == 5432]
    sources = {rule["SourceSecurityGroupId"]["Fn::GetAtt"][0] for rule in ingress}
    assert sources == {stack.get_logical_id(built[name].security_group.node.default_child) for name in ("ecs", "batch")}
    Template.from_stack(stack).has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "GroupId": "sg-0control", "FromPort": 443, "ToPort": 443})


def test_the_partition_of_a_region_is_botocores():
    from mwaa_platform.validation import partition_of_region

    assert [partition_of_region(region) for region in ("eu-west-1", "cn-north-1", "us-gov-west-1")] == [
        "aws", "aws-cn", "aws-us-gov"]
