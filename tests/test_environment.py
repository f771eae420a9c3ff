"""AirflowEnvironment: class limits, validation, execution role, key policy, artifacts, grants."""

import functools
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match, Template

from harness import TEST_ACCOUNT, TEST_REGION, assert_nag_clean, assert_stack_cfn_lint_clean, new_stack
from mwaa_platform import AirflowEnvironment, CeleryConcurrency, SecretsManagerBackend
from mwaa_platform.environment.environment_class import ENVIRONMENT_CLASSES
from mwaa_platform._internal.service_model import known_environment_classes

CONSTRAINT = '--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-2.11.0/constraints-3.12.txt"\n'


def vpc_of(stack, azs=("eu-west-1a", "eu-west-1b"), subnets=("subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb")):
    return ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=list(azs),
        private_subnet_ids=list(subnets), private_subnet_route_table_ids=[f"rtb-{i}" for i, _ in enumerate(subnets)],
    )


@functools.cache
def shared_env():
    """The default environment, built once for the tests that only read it (a build is a synthesis)."""
    return make_env()


def make_env(stack=None, construct_id="Env", **kwargs):
    stack = stack or new_stack()
    vpc = stack.node.try_find_child("Vpc") or vpc_of(stack)
    kwargs.setdefault("environment_name", "team-a")
    kwargs.setdefault("airflow_version", "2.11.0")
    return AirflowEnvironment(stack, construct_id, vpc=vpc, **kwargs)


def norm(value):
    """CDK sorts actions and principals in policy documents: compare string lists as sets."""
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [norm(v) for v in value]
        return sorted(items) if all(isinstance(v, str) for v in items) else items
    return value


def env_props(env):
    template = Template.from_stack(cdk.Stack.of(env))
    (resource,) = template.find_resources("AWS::MWAA::Environment").values()
    return resource["Properties"]


# --- classes --------------------------------------------------------------------------------


def test_class_table_matches_botocore_model():
    assert tuple(ENVIRONMENT_CLASSES) == known_environment_classes()


@pytest.mark.parametrize(
    "env_class, schedulers, workers, webservers",
    [
        ("mw1.micro", 1, (1, 1), (1, 1)),
        ("mw1.small", 2, (1, 10), (2, 2)),
        ("mw1.medium", 2, (1, 10), (2, 2)),
        ("mw1.large", 2, (1, 10), (2, 2)),
        ("mw1.xlarge", 2, (1, 10), (2, 2)),
        ("mw1.2xlarge", 2, (1, 10), (2, 2)),
    ],
)
def test_every_class_gets_its_defaults(env_class, schedulers, workers, webservers):
    props = env_props(make_env(environment_class=env_class))
    assert props["EnvironmentClass"] == env_class
    assert props["Schedulers"] == schedulers
    assert (props["MinWorkers"], props["MaxWorkers"]) == workers
    assert (props["MinWebservers"], props["MaxWebservers"]) == webservers


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"environment_class": "mw1.micro", "schedulers": 2}, r"schedulers must be exactly 1 \(fixed capacity\) for mw1.micro, got 2"),
        ({"environment_class": "mw1.micro", "max_workers": 3}, r"max_workers must be exactly 1 \(fixed capacity\) for mw1.micro, got 3"),
        ({"environment_class": "mw1.micro", "max_webservers": 2}, r"max_webservers must be exactly 1 .*mw1.micro, got 2"),
        ({"environment_class": "mw1.small", "max_workers": 40}, r"max_workers must be between 1 and 25 for mw1.small, got 40"),
        ({"environment_class": "mw1.large", "schedulers": 6}, r"schedulers must be between 2 and 5 for mw1.large, got 6"),
        ({"environment_class": "mw1.small", "min_webservers": 1}, r"min_webservers must be between 2 and 5 for mw1.small, got 1"),
        ({"environment_class": "mw1.small", "min_workers": 5, "max_workers": 3}, r"min_workers must not exceed max_workers \(3\) for mw1.small, got 5"),
        ({"environment_class": "mw1.huge"}, r"environment_class must be one of mw1.micro, .*mw1.2xlarge, got 'mw1.huge'"),
        ({"environment_name": "1team"}, r"environment_name must be 1-80 characters .*got '1team'"),
        ({"environment_name": "team a"}, r"environment_name must be .*got 'team a'"),
        ({"environment_name": "a" * 81}, r"environment_name must be 1-80 characters"),
        ({"weekly_maintenance_window_start": "SUN:03:15"}, r"weekly_maintenance_window_start must be DAY:HH:MM .*got 'SUN:03:15'"),
        ({"weekly_maintenance_window_start": "SUNDAY:03:00"}, r"weekly_maintenance_window_start .*got 'SUNDAY:03:00'"),
        ({"weekly_maintenance_window_start": "MON:24:00"}, r"got 'MON:24:00'"),
        ({"webserver_access_mode": "OPEN"}, r"webserver_access_mode must be one of PRIVATE_ONLY, PUBLIC_ONLY, PUBLIC_AND_PRIVATE, got 'OPEN'"),
        ({"webserver_access_mode": "PUBLIC_AND_PRIVATE"}, r"PUBLIC_AND_PRIVATE needs Airflow 3.2 or later, got 2.11.0"),
        ({"endpoint_management": "SHARED"}, r"endpoint_management must be one of CUSTOMER, SERVICE, got 'SHARED'"),
        ({"worker_replacement_strategy": "NOW"}, r"worker_replacement_strategy must be one of FORCED, GRACEFUL, got 'NOW'"),
        ({"airflow_version": "2.11"}, r"airflow_version must look like MAJOR.MINOR.PATCH .*got '2.11'"),
        ({"log_levels": {"scheduler": "LOUD"}}, r"log_levels\['scheduler'\] must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, got 'LOUD'"),
        ({"log_levels": {"audit": "INFO"}}, r"log_levels keys must be among .*got 'audit'"),
        ({"celery_concurrency": CeleryConcurrency(max_tasks=4)}, r"celery_concurrency max_tasks must be between 0 and 3 for mw1.micro, got 4"),
        ({"environment_class": "mw1.micro", "dags": "/does/not/exist"}, r"dags must be an existing directory, got '/does/not/exist'"),
    ],
)
def test_invalid_options_are_rejected_before_anything_is_created(kwargs, message):
    kwargs.setdefault("environment_class", "mw1.micro")
    stack = new_stack()
    with pytest.raises(ValueError, match=message):
        make_env(stack, **kwargs)
    env_children = [c for c in stack.node.children if c.node.id == "Env"]
    assert all(not child.node.children for child in env_children), "resources were created before validation"


def test_subnets_must_be_two_in_different_azs():
    stack = new_stack()
    vpc = vpc_of(stack, azs=("eu-west-1a", "eu-west-1b", "eu-west-1c"),
                 subnets=("subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"))
    with pytest.raises(ValueError, match="subnets must select exactly 2 private subnets for MWAA, got 3"):
        AirflowEnvironment(stack, "Env", environment_name="team-a", vpc=vpc,
                           subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))
    env = AirflowEnvironment(stack, "Env2", environment_name="team-b", vpc=vpc)  # default: first two AZs
    assert [s.availability_zone for s in env.subnets] == ["eu-west-1a", "eu-west-1b"]


def test_a_vpc_with_one_private_az_is_rejected():
    stack = new_stack()
    vpc = vpc_of(stack, azs=("eu-west-1a",), subnets=("subnet-0aaaaaaaaaaaaaaaa",))
    with pytest.raises(ValueError, match=r"private subnets in at least two availability zones .*got 1 private subnet"):
        AirflowEnvironment(stack, "Env", environment_name="team-a", vpc=vpc)


def test_token_values_skip_validation():
    stack = new_stack()
    max_workers = cdk.CfnParameter(stack, "MaxWorkers", type="Number").value_as_number
    window = cdk.CfnParameter(stack, "Window").value_as_string
    props = env_props(make_env(stack, environment_class="mw1.small", max_workers=max_workers,
                               weekly_maintenance_window_start=window))
    assert props["MaxWorkers"] == {"Ref": "MaxWorkers"}
    assert props["WeeklyMaintenanceWindowStart"] == {"Ref": "Window"}


def test_unknown_well_formed_version_warns_instead_of_failing():
    env = make_env(airflow_version="3.9.1")
    assert env_props(env)["AirflowVersion"] == "3.9.1"
    Annotations.from_stack(cdk.Stack.of(env)).has_warning("/Test/Env", Match.string_like_regexp("Airflow 3.9.1 is not in the library.s version table"))
    assert env.rest_api_path == "/api/v2"


def test_secure_defaults():
    env = shared_env()
    props = env_props(env)
    assert props["WebserverAccessMode"] == "PRIVATE_ONLY"
    assert props["EndpointManagement"] == "SERVICE"
    assert props["KmsKey"] == {"Fn::GetAtt": [cdk.Stack.of(env).get_logical_id(env.key.node.default_child), "Arn"]}
    logging = props["LoggingConfiguration"]
    assert set(logging) == {"DagProcessingLogs", "SchedulerLogs", "TaskLogs", "WebserverLogs", "WorkerLogs"}
    assert all(v == {"Enabled": True, "LogLevel": "INFO"} for v in logging.values())
    assert len(props["NetworkConfiguration"]["SubnetIds"]) == 2
    assert env.rest_api_path == "/api/v1"


def test_log_groups_are_precreated_with_retention_and_the_key():
    env = make_env(log_levels={"task": "WARNING"})
    template = Template.from_stack(cdk.Stack.of(env))
    key_id = cdk.Stack.of(env).get_logical_id(env.key.node.default_child)
    for suffix in ("DAGProcessing", "Scheduler", "Task", "WebServer", "Worker"):
        template.has_resource(
            "AWS::Logs::LogGroup",
            {
                "Properties": {"LogGroupName": f"airflow-team-a-{suffix}", "RetentionInDays": 90,
                               "KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
                "DeletionPolicy": "RetainExceptOnCreate",
            },
        )
    assert env_props(env)["LoggingConfiguration"]["TaskLogs"]["LogLevel"] == "WARNING"


def test_operations_settings_and_tags():
    env = make_env(environment_class="mw1.medium", weekly_maintenance_window_start="TUE:03:30",
                   worker_replacement_strategy="GRACEFUL", tags={"team": "a", "cost-center": "42"})
    props = env_props(env)
    assert props["WeeklyMaintenanceWindowStart"] == "TUE:03:30"
    assert props["WorkerReplacementStrategy"] == "GRACEFUL"
    assert props["Tags"] == {"team": "a", "cost-center": "42"}
    Template.from_stack(cdk.Stack.of(env)).has_resource_properties(
        "AWS::S3::Bucket", {"Tags": Match.array_with([{"Key": "cost-center", "Value": "42"}])}
    )


def test_customer_endpoint_management_exposes_endpoint_services():
    env = make_env(endpoint_management="CUSTOMER")
    stack = cdk.Stack.of(env)
    assert env_props(env)["EndpointManagement"] == "CUSTOMER"
    env_id = stack.get_logical_id(env.resource)
    assert stack.resolve(env.database_vpc_endpoint_service) == {"Fn::GetAtt": [env_id, "DatabaseVpcEndpointService"]}
    assert stack.resolve(env.webserver_vpc_endpoint_service) == {"Fn::GetAtt": [env_id, "WebserverVpcEndpointService"]}


# --- configuration options ------------------------------------------------------------------


def test_configuration_helpers_merge_into_one_map():
    env = make_env(
        environment_class="mw1.small",
        airflow_configuration_options={"core.default_timezone": "utc"},
        secrets_backend=SecretsManagerBackend(connections_lookup_pattern="^team_a_", cache_ttl_seconds=600),
        metrics_allow_list=["scheduler", "executor"],
        celery_concurrency=CeleryConcurrency(max_tasks=5, min_tasks=1),
    )
    options = env_props(env)["AirflowConfigurationOptions"]
    assert options == {
        "celery.worker_autoscale": "5,1",
        "core.default_timezone": "utc",
        "metrics.metrics_allow_list": "scheduler,executor",
        "secrets.backend": "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        "secrets.backend_kwargs": json.dumps(
            {"connections_prefix": "airflow/team-a/connections", "variables_prefix": "airflow/team-a/variables",
             "connections_lookup_pattern": "^team_a_"}, separators=(",", ":")),
        "secrets.cache_ttl_seconds": "600",
        "secrets.use_cache": "True",
    }


def test_configuration_conflicts_raise_naming_both_sources():
    with pytest.raises(ValueError, match=r"celery_concurrency sets Airflow configuration option 'celery.worker_autoscale' to '5,0', "
                                         r"but airflow_configuration_options already set it to '3,1'"):
        make_env(environment_class="mw1.small", airflow_configuration_options={"celery.worker_autoscale": "3,1"},
                 celery_concurrency=CeleryConcurrency(max_tasks=5))


@pytest.mark.parametrize("version", ["2.11.0", "3.0.6"])
def test_the_metrics_allow_list_is_the_option_every_airflow_version_reads(version):
    # Airflow 3 does not read metrics.statsd_allow_list: the old option was silently ignored there
    env = make_env(airflow_version=version, metrics_allow_list=["scheduler", "executor", "dag_processing"])
    options = env_props(env)["AirflowConfigurationOptions"]
    assert options == {"metrics.metrics_allow_list": "scheduler,executor,dag_processing"}


def test_statsd_allow_list_is_a_deprecated_alias_that_warns_and_never_combines_with_its_new_name():
    env = make_env(airflow_version="3.0.6", statsd_allow_list=["scheduler", "executor"])
    assert env_props(env)["AirflowConfigurationOptions"] == {"metrics.metrics_allow_list": "scheduler,executor"}
    Annotations.from_stack(cdk.Stack.of(env)).has_warning("/Test/Env", Match.string_like_regexp(
        "statsd_allow_list is deprecated: pass the same prefixes as metrics_allow_list"))
    with pytest.raises(ValueError, match="pass metrics_allow_list or statsd_allow_list, not both"):
        make_env(metrics_allow_list=["scheduler"], statsd_allow_list=["scheduler"])
    with pytest.raises(ValueError, match=r"^Test/Env: statsd_allow_list entries are metric name prefixes .*got 'a b'"):
        make_env(statsd_allow_list=["a b"])


@pytest.mark.parametrize("old, new", [("metrics.statsd_allow_list", "metrics.metrics_allow_list"),
                                      ("metrics.statsd_block_list", "metrics.metrics_block_list")])
def test_airflow_3_refuses_the_statsd_metrics_options_it_no_longer_reads(old, new):
    stack = new_stack()
    with pytest.raises(ValueError, match=rf"^Test/Env: airflow_configuration_options sets {old}, which Airflow 3.0.6 no "
                                         rf"longer reads \(the filter would be silently ignored\): use {new}$"):
        make_env(stack, airflow_version="3.0.6", airflow_configuration_options={old: "scheduler"})
    assert Template.from_stack(stack).find_resources("AWS::MWAA::Environment") == {}


def test_airflow_2_reads_the_statsd_metrics_options_with_a_warning_and_refuses_both_spellings():
    env = make_env(airflow_version="2.11.0", airflow_configuration_options={"metrics.statsd_block_list": "ti"})
    assert env_props(env)["AirflowConfigurationOptions"] == {"metrics.statsd_block_list": "ti"}
    Annotations.from_stack(cdk.Stack.of(env)).has_warning("/Test/Env", Match.string_like_regexp(
        "airflow_configuration_options sets metrics.statsd_block_list, a deprecated name that Airflow 3 no longer "
        "reads: use metrics.metrics_block_list"))
    # Airflow 2 reads metrics.metrics_allow_list and ignores its old name when both are set
    with pytest.raises(ValueError, match=r"airflow_configuration_options sets metrics.statsd_allow_list and "
                                         r"metrics_allow_list sets metrics.metrics_allow_list: Airflow reads only "
                                         r"metrics.metrics_allow_list .*drop metrics.statsd_allow_list"):
        make_env(airflow_version="2.11.0", airflow_configuration_options={"metrics.statsd_allow_list": "scheduler"},
                 metrics_allow_list=["scheduler", "executor"])


def test_an_allow_list_and_a_block_list_together_warn_that_airflow_ignores_the_block_list():
    env = make_env(airflow_version="3.0.6", metrics_allow_list=["scheduler"],
                   airflow_configuration_options={"metrics.metrics_block_list": "scheduler.tasks"})
    Annotations.from_stack(cdk.Stack.of(env)).has_warning("/Test/Env", Match.string_like_regexp(
        "metrics.metrics_allow_list and metrics.metrics_block_list are both set: Airflow applies the allow list and "
        "ignores the block list"))


def test_secrets_backend_grants_read_on_exactly_its_prefixes():
    env = make_env(secrets_backend=SecretsManagerBackend(connections_prefix="team-a/conn", variables_prefix="team-a/var"))
    arn = f"arn:aws:secretsmanager:{TEST_REGION}:{TEST_ACCOUNT}:secret:"
    Template.from_stack(cdk.Stack.of(env)).has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([{
            "Sid": "ReadAirflowSecrets", "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": [arn + "team-a/conn/*", arn + "team-a/var/*"],
        }])}},
    )


def test_secrets_backend_rejects_bad_prefixes():
    with pytest.raises(ValueError, match=r"connections_prefix must be a Secrets Manager name prefix .*got 'a b'"):
        SecretsManagerBackend(connections_prefix="a b")
    with pytest.raises(ValueError, match=r"variables_lookup_pattern must be a regular expression, got '\('"):
        SecretsManagerBackend(variables_lookup_pattern="(")


# --- execution role -------------------------------------------------------------------------


def _statements(template, path_fragment):
    for logical_id, resource in template.find_resources("AWS::IAM::ManagedPolicy").items():
        if path_fragment in logical_id:
            return resource["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no managed policy like {path_fragment}")


def test_execution_role_trust_policy_prevents_confused_deputy():
    env = shared_env()
    template = Template.from_stack(cdk.Stack.of(env))
    role = template.find_resources("AWS::IAM::Role", {"Properties": {"Description": Match.string_like_regexp("MWAA execution role")}})
    (props,) = [r["Properties"] for r in role.values()]
    assert norm(props["AssumeRolePolicyDocument"]["Statement"]) == norm([{
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Principal": {"Service": ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]},
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}:environment/team-a"},
            "StringEquals": {"aws:SourceAccount": TEST_ACCOUNT},
        },
    }])
    assert "Policies" not in props and "ManagedPolicyArns" not in props


def test_execution_role_policy_is_exactly_the_published_shape():
    env = shared_env()
    stack = cdk.Stack.of(env)
    template = Template.from_stack(stack)
    bucket = {"Fn::GetAtt": [stack.get_logical_id(env.source_bucket.node.default_child), "Arn"]}
    objects = {"Fn::Join": ["", [bucket, "/*"]]}
    key = {"Fn::GetAtt": [stack.get_logical_id(env.key.node.default_child), "Arn"]}
    assert norm(_statements(template, "ExecutionRolePolicy")) == norm([
        {"Sid": "PublishMetrics", "Effect": "Allow", "Action": "airflow:PublishMetrics",
         "Resource": f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}:environment/team-a"},
        {"Sid": "DenyListAllBuckets", "Effect": "Deny", "Action": "s3:ListAllMyBuckets", "Resource": [bucket, objects]},
        {"Sid": "ReadSourceBucket", "Effect": "Allow", "Action": ["s3:GetObject*", "s3:GetBucket*", "s3:List*"],
         "Resource": [bucket, objects]},
        {"Sid": "WriteEnvironmentLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:PutLogEvents", "logs:GetLogEvents",
                    "logs:GetLogRecord", "logs:GetLogGroupFields", "logs:GetQueryResults"],
         "Resource": f"arn:aws:logs:{TEST_REGION}:{TEST_ACCOUNT}:log-group:airflow-team-a-*"},
        {"Sid": "ActionsWithoutResourceScope", "Effect": "Allow",
         "Action": ["logs:DescribeLogGroups", "cloudwatch:PutMetricData", "s3:GetAccountPublicAccessBlock"],
         "Resource": "*"},
        {"Sid": "CeleryQueue", "Effect": "Allow",
         "Action": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
                    "sqs:ReceiveMessage", "sqs:SendMessage"],
         "Resource": f"arn:aws:sqs:{TEST_REGION}:*:airflow-celery-*"},
        {"Sid": "UseEnvironmentKey", "Effect": "Allow",
         "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"], "Resource": key,
         "Condition": {"StringLike": {"kms:ViaService": [f"sqs.{TEST_REGION}.amazonaws.com", f"s3.{TEST_REGION}.amazonaws.com"]}}},
    ])
    assert not template.find_resources("AWS::IAM::Policy"), "no inline policies"


def test_an_existing_execution_role_is_used_as_is():
    stack = new_stack()
    role = iam.Role.from_role_arn(stack, "Existing", f"arn:aws:iam::{TEST_ACCOUNT}:role/mwaa-exec", mutable=False)
    env = make_env(stack, execution_role=role)
    assert env_props(env)["ExecutionRoleArn"] == f"arn:aws:iam::{TEST_ACCOUNT}:role/mwaa-exec"
    assert not [k for k in Template.from_stack(stack).find_resources("AWS::IAM::Role") if "ExecutionRole" in k]


# --- key and bucket -------------------------------------------------------------------------


def test_key_rotates_is_retained_and_lets_logs_use_it_for_the_environments_log_groups_only():
    """Issue 24: the key used to admit CloudWatch Logs for any log group of the account."""
    env = shared_env()
    stack = cdk.Stack.of(env)
    template = Template.from_stack(stack)
    name = env.environment_name
    template.has_resource("AWS::KMS::Key", {
        "DeletionPolicy": "RetainExceptOnCreate",
        "Properties": {"EnableKeyRotation": True, "KeyPolicy": {"Statement": Match.array_with([{
            "Sid": "AllowCloudWatchLogsOfTheseLogGroups", "Effect": "Allow",
            "Principal": {"Service": f"logs.{TEST_REGION}.amazonaws.com"},
            "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [
                f"arn:aws:logs:{TEST_REGION}:{TEST_ACCOUNT}:log-group:airflow-{name}-*",
                f"arn:aws:logs:{TEST_REGION}:{TEST_ACCOUNT}:log-group:/mwaa-platform/{name}/artifacts"]}},
        }])}},
    })
    # every log group the key encrypts is one of those names
    key_id = stack.get_logical_id(env.key.node.default_child)
    names = [r["Properties"]["LogGroupName"] for r in template.to_json()["Resources"].values()
             if r["Type"] == "AWS::Logs::LogGroup" and r["Properties"].get("KmsKeyId") == {"Fn::GetAtt": [key_id, "Arn"]}]
    assert len(names) == 6 and all(n.startswith(f"airflow-{name}-") or n == f"/mwaa-platform/{name}/artifacts"
                                   for n in names)


def test_source_bucket_is_versioned_private_ssl_only_and_uses_the_environment_key():
    env = shared_env()
    stack = cdk.Stack.of(env)
    template = Template.from_stack(stack)
    bucket_id = stack.get_logical_id(env.source_bucket.node.default_child)
    resource = template.to_json()["Resources"][bucket_id]
    assert resource["DeletionPolicy"] == "RetainExceptOnCreate"
    props = resource["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {k: True for k in (
        "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")}
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [stack.get_logical_id(env.key.node.default_child), "Arn"]}}
    assert "LoggingConfiguration" in props
    template.has_resource_properties("AWS::S3::BucketPolicy", {
        "Bucket": {"Ref": bucket_id},
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])},
    })


# --- artifacts -------------------------------------------------------------------------------


def _artifact_template(tmp_path, requirements_text, plugins_bytes=b"PK\x05\x06" + b"\0" * 18):
    (tmp_path / "dags").mkdir(parents=True, exist_ok=True)
    (tmp_path / "dags" / "a.py").write_text("# dag\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(requirements_text)
    plugins = tmp_path / "plugins.zip"
    plugins.write_bytes(plugins_bytes)
    env = make_env(dags=str(tmp_path / "dags"), requirements=str(requirements), plugins=str(plugins))
    return env, Template.from_stack(cdk.Stack.of(env)).to_json()


def _artifact_objects(template):
    return {
        r["Properties"]["DestinationKey"]: r["Properties"]
        for r in template["Resources"].values() if r["Type"] == "Custom::MwaaArtifactObject"
    }


def test_artifact_versions_are_wired_into_the_environment(tmp_path):
    env, template = _artifact_template(tmp_path, CONSTRAINT + "pandas\n")
    stack = cdk.Stack.of(env)
    props = template["Resources"][stack.get_logical_id(env.resource)]["Properties"]
    requirements_cr = stack.get_logical_id(env.artifacts.node.find_child("Requirements").node.default_child)
    plugins_cr = stack.get_logical_id(env.artifacts.node.find_child("Plugins").node.default_child)
    assert props["RequirementsS3Path"] == "requirements/requirements.txt"
    assert props["RequirementsS3ObjectVersion"] == {"Fn::GetAtt": [requirements_cr, "VersionId"]}
    assert props["PluginsS3Path"] == "plugins/plugins.zip"
    assert props["PluginsS3ObjectVersion"] == {"Fn::GetAtt": [plugins_cr, "VersionId"]}
    assert props["DagS3Path"] == "dags"
    assert set(_artifact_objects(template)) == {"requirements/requirements.txt", "plugins/plugins.zip"}


def test_template_changes_only_when_an_artifact_file_changes(tmp_path):
    _, first = _artifact_template(tmp_path / "a", CONSTRAINT + "pandas\n")
    _, same = _artifact_template(tmp_path / "b", CONSTRAINT + "pandas\n")
    _, changed = _artifact_template(tmp_path / "c", CONSTRAINT + "pandas==2.2.0\n")
    assert _artifact_objects(first) == _artifact_objects(same), "unchanged file must not touch the custom resource"
    before, after = _artifact_objects(first), _artifact_objects(changed)
    assert before["requirements/requirements.txt"]["SourceKey"] != after["requirements/requirements.txt"]["SourceKey"]
    assert before["plugins/plugins.zip"] == after["plugins/plugins.zip"], "plugins did not change"


def test_requirements_without_a_constraint_line_are_accepted(tmp_path):
    """MWAA applies its own constraints file for the environment's version when there is no --constraint line."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pandas\n")
    make_env(requirements=str(requirements))
    # versions before 2.7.2 are ones MWAA no longer runs
    with pytest.raises(ValueError, match=r"airflow_version 2.7.1 is older than any version MWAA runs \(the oldest is 2.7.2\)"):
        make_env(requirements=str(requirements), airflow_version="2.7.1", environment_name="old-team")


def test_artifact_handler_role_is_scoped_to_its_assets_and_prefixes(tmp_path):
    env, template = _artifact_template(tmp_path, CONSTRAINT)
    statements = _statements(Template.from_stack(cdk.Stack.of(env)), "ArtifactsHandlerPolicy")
    actions = sorted({a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])})
    assert actions == ["kms:Decrypt", "kms:GenerateDataKey", "logs:CreateLogStream", "logs:PutLogEvents",
                       "s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    assert all(s["Resource"] != "*" for s in statements)


# --- grants and metrics --------------------------------------------------------------------


def test_grants_use_airflow_role_and_environment_arns():
    env = make_env()
    stack = cdk.Stack.of(env)
    user_role = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    env.grant_web_login(user_role, "Op")
    env.grant_invoke_rest_api(user_role, "User")
    env.grant_cli_token(user_role)
    base = f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}"
    Template.from_stack(stack).has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": [
        {"Action": "airflow:CreateWebLoginToken", "Effect": "Allow", "Resource": f"{base}:role/team-a/Op"},
        {"Action": "airflow:InvokeRestApi", "Effect": "Allow", "Resource": f"{base}:role/team-a/User"},
        {"Action": "airflow:CreateCliToken", "Effect": "Allow", "Resource": f"{base}:environment/team-a"},
    ]}})
    with pytest.raises(ValueError, match=r"airflow_role must be one of Admin, Op, User, Viewer, Public, got 'Root'"):
        env.grant_web_login(user_role, "Root")


def test_metrics_carry_the_environment_dimension():
    env = make_env()
    metric = env.metric_scheduler_heartbeat()
    assert (metric.namespace, metric.metric_name) == ("AmazonMWAA", "SchedulerHeartbeat")
    assert metric.dimensions == {"Environment": "team-a", "Function": "Scheduler"}
    assert env.metric_queued_tasks().dimensions["Function"] == "Executor"


def test_connections_expose_the_self_referencing_security_group():
    env = shared_env()
    template = Template.from_stack(cdk.Stack.of(env))
    sg_id = cdk.Stack.of(env).get_logical_id(env.security_groups[0].node.default_child)
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress")
    assert sorted(r["Properties"]["FromPort"] for r in ingress.values()) == [443, 5432]
    for rule in ingress.values():
        assert rule["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}
        assert rule["Properties"]["Description"]
    assert env.connections.security_groups == env.security_groups
    # a plain VPC's routing is unknown: HTTPS may go anywhere, and the rule says why, not "NAT"
    egress = template.find_resources("AWS::EC2::SecurityGroup")[sg_id]["Properties"]["SecurityGroupEgress"]
    assert egress == [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS to AWS service APIs (VPC endpoints or NAT)",
                       "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}]


# --- whole stacks ----------------------------------------------------------------------------


def test_micro_and_large_environments_pass_all_packs_and_cfn_lint(tmp_path):
    stack = new_stack()
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "a.py").write_text("# dag\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(CONSTRAINT)
    make_env(stack, "Micro", environment_name="dev", environment_class="mw1.micro", dags=str(tmp_path / "dags"),
             requirements=str(requirements))
    make_env(stack, "Large", environment_name="prod", environment_class="mw1.large", max_workers=20,
             secrets_backend=SecretsManagerBackend(), dags=str(tmp_path / "dags"))
    assert_nag_clean(stack)
    assert_stack_cfn_lint_clean(stack, tmp_path)


def test_several_dag_folders_sync_each_under_its_own_prefix(tmp_path):
    for team in ("analytics", "payments"):
        (tmp_path / team).mkdir()
        (tmp_path / team / "dag.py").write_text(f"# {team}\n")
    env = make_env(dags={"analytics": str(tmp_path / "analytics"), "payments": str(tmp_path / "payments")})
    template = Template.from_stack(cdk.Stack.of(env))
    syncs = template.find_resources("Custom::MwaaDagSync")
    assert sorted(r["Properties"]["DestinationPrefix"] for r in syncs.values()) == ["dags/analytics", "dags/payments"]
    (environment,) = template.find_resources("AWS::MWAA::Environment").values()
    assert environment["Properties"]["DagS3Path"] == "dags"
    assert set(syncs) <= set(environment["DependsOn"])


@pytest.mark.parametrize("dags, message", [
    ({"Analytics Team": "."}, r"dags names become S3 prefixes dags/<name>: .*got 'Analytics Team'"),
    ({}, r"dags must be a folder or a non-empty mapping"),
    ({"analytics": "/does/not/exist"}, r"dags\['analytics'\] must be an existing directory, got '/does/not/exist'"),
])
def test_dag_folder_mappings_are_checked(dags, message):
    with pytest.raises(ValueError, match=message):
        make_env(dags=dags)
