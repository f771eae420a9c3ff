"""ServerlessWorkflow: definitions and code packages checked at synthesis, a versioned definition, a role
per workflow that only MWAA Serverless assumes for that workflow, and grants derived from the YAML."""

import datetime as dt
import json
import zipfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from harness import (
    REPO_ROOT,
    TEST_ACCOUNT,
    TEST_ENV,
    TEST_REGION,
    assert_cfn_lint_clean,
    assert_nag_clean,
    checkov_failures,
    checkov_reports,
    new_app,
    new_stack,
    resolve_literals,
)
from mwaa_platform import AirflowNetwork, MwaaPlatformError, MwaaPlatformTypeError, attach_preflight_checks
from mwaa_platform.serverless import (
    SERVERLESS_OPERATORS,
    ServerlessWorkflow,
    check_code_package,
    load_definition,
    schedule_problem,
    wheel_problem,
)

EXAMPLE = REPO_ROOT / "examples" / "serverless" / "simple_s3_test.yaml"
S3 = "airflow.providers.amazon.aws.operators.s3"
PYTHON = "airflow.providers.standard.operators.python.PythonOperator"
WORKFLOW_ARNS = f"arn:aws:airflow-serverless:{TEST_REGION}:{TEST_ACCOUNT}:workflow/simple_s3_test-*"


def definition(tmp_path, text, name="workflow.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def workflow_yaml(tasks, *, name="etl", extra=""):
    return f"{name}:\n  dag_id: {name}\n{extra}  tasks:\n{tasks}"


LIST_TASK = f"    list:\n      operator: {S3}.S3ListOperator\n      bucket: data\n"


# --- the definition: each problem names the file, the workflow, the task --------------------------------

BAD_DEFINITIONS = {
    "not YAML": ("etl: [unclosed\n", r"line \d+: not valid YAML"),
    "an alias": ("base: &b {dag_id: x}\netl: *b\n", "anchors and aliases are not allowed"),
    "two workflows": (workflow_yaml(LIST_TASK) + workflow_yaml(LIST_TASK, name="other"),
                      "exactly one workflow, keyed by its name, got \\['etl', 'other'\\]"),
    "a dag_id that differs": ("etl:\n  dag_id: other\n  tasks:\n" + LIST_TASK, "dag_id 'other' differs"),
    "an unknown key": (workflow_yaml(LIST_TASK, extra="  owner_name: me\n"), "workflow etl: unknown key 'owner_name'"),
    "an operator the service does not run": (
        workflow_yaml("    run:\n      operator: airflow.providers.google.cloud.operators.gcs.GCSListObjectsOperator\n"),
        "workflow etl, task run: operator .*GCSListObjectsOperator' is not one MWAA Serverless runs"),
    "a short operator name": (workflow_yaml("    run:\n      operator: S3ListOperator\n      bucket: b\n"),
                              f"write its full import path, {S3}.S3ListOperator"),
    "PythonOperator without a code package": (
        workflow_yaml(f"    run:\n      operator: {PYTHON}\n      python_callable_name: main\n"),
        "task run: .*PythonOperator runs the workflow's own code: pass code_package"),
    "a dependency on no task": (workflow_yaml(LIST_TASK + "      dependencies: [lsit]\n"),
                                "task list: dependency 'lsit' is not a task of the workflow"),
    "a cycle": (workflow_yaml(f"    a:\n      operator: {S3}.S3ListOperator\n      dependencies: [b]\n"
                              f"    b:\n      operator: {S3}.S3ListOperator\n      dependencies: [a]\n"),
                "dependencies form a cycle: a -> b -> a"),
    "a bad cron": (workflow_yaml(LIST_TASK, extra="  schedule: 0 25 * * *\n"), "hour field '25' is not 0-23"),
    "a bad rate": (workflow_yaml(LIST_TASK, extra="  schedule: rate(5 weeks)\n"), "rate\\(\\) takes a positive"),
    "a start_date in the past": (workflow_yaml(LIST_TASK, extra="  start_date: 2020-01-01\n"),
                                 "start_date 2020-01-01T00:00:00\\+00:00 is not in the future"),
    "retries above 3": (workflow_yaml(LIST_TASK + "      retries: 5\n"),
                        "task list: retries must be a whole number from 0 to 3, got 5"),
    "a retry delay above 300 s": (workflow_yaml(LIST_TASK + "      retry_delay: 600\n"),
                                  "retry_delay must be between 0 and 300 seconds, got 600"),
    "a timeout above an hour": (workflow_yaml(LIST_TASK + "      execution_timeout: '02:00:00'\n"),
                                "execution_timeout must be between 0 and 3600 seconds"),
    "default_args above the limits": (
        workflow_yaml(LIST_TASK, extra="  default_args:\n    retries: 4\n"), "workflow etl: default_args retries"),
    "no tasks": ("etl:\n  dag_id: etl\n", "the workflow has no tasks"),
}


@pytest.mark.parametrize("case", BAD_DEFINITIONS)
def test_each_problem_of_a_definition_is_an_error_naming_file_workflow_and_task(tmp_path, case):
    text, message = BAD_DEFINITIONS[case]
    path = definition(tmp_path, text)
    with pytest.raises(MwaaPlatformError, match=message) as error:
        load_definition(path)
    assert str(path) in str(error.value)


def test_every_problem_is_reported_at_once(tmp_path):
    path = definition(tmp_path, workflow_yaml(LIST_TASK + "      retries: 9\n      dependencies: [nope]\n",
                                              extra="  schedule: '@sometimes'\n"))
    with pytest.raises(MwaaPlatformError) as error:
        load_definition(path)
    assert len(str(error.value).splitlines()) == 3


def test_a_definition_over_50_kb_is_refused_before_it_is_parsed(tmp_path):
    path = definition(tmp_path, workflow_yaml(LIST_TASK) + "# " + "x" * 51 * 1024 + "\n")
    with pytest.raises(MwaaPlatformError, match="at most 51200 \\(50 KB\\)"):
        load_definition(path)


def test_keys_the_service_ignores_are_warnings_not_errors(tmp_path):
    parsed = load_definition(definition(tmp_path, workflow_yaml(
        LIST_TASK + "      bukcet_typo: x\n", extra="  catchup: false\n  tags: [a]\n")))
    assert any("catchup is ignored by MWAA Serverless" in warning for warning in parsed.warnings)
    assert any("tags is ignored" in warning for warning in parsed.warnings)
    assert any("task list: 'bukcet_typo' is not an argument" in warning for warning in parsed.warnings)


def test_a_future_start_date_and_the_launch_example_pass(tmp_path):
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    assert load_definition(definition(tmp_path, workflow_yaml(LIST_TASK, extra=f"  start_date: {future}\n")))
    example = load_definition(str(EXAMPLE))
    assert example.name == "simple_s3_test" and example.schedule == "0 0 * * *"
    assert list(example.tasks) == ["list_objects", "create_object_list"]
    assert example.tasks["create_object_list"].dependencies == ("list_objects",)
    assert example.warnings == ()


@pytest.mark.parametrize("schedule", [None, "@daily", "@once", "0 2 * * *", "*/15 8-18 * * MON-FRI", "0 0 1 JAN,JUL *",
                                      "rate(1 hour)", "rate(5 minutes)", "cron(0 12 * * ? *)", "cron(15 10 ? * 6L 2027)"])
def test_schedules_the_service_accepts(schedule):
    assert schedule_problem(schedule) is None


@pytest.mark.parametrize("schedule", ["@sometimes", "0 2 * *", "60 * * * *", "rate(1 hours)", "rate(0 days)",
                                      "cron(0 12 * * *)", "cron(0 12 1 * MON *)", 7])
def test_schedules_the_service_refuses(schedule):
    assert schedule_problem(schedule)


def test_the_operator_list_is_the_converters_and_includes_the_launch_examples():
    assert f"{S3}.S3ListOperator" in SERVERLESS_OPERATORS and f"{S3}.S3CreateObjectOperator" in SERVERLESS_OPERATORS
    assert len(SERVERLESS_OPERATORS) == len(set(SERVERLESS_OPERATORS)) > 200
    assert PYTHON not in SERVERLESS_OPERATORS  # allowed only with a code package


# --- the code package ---------------------------------------------------------------------------


def zip_with(tmp_path, *names):
    path = tmp_path / "code.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("main.py", "def main():\n    return 1\n")
        for name in names:
            archive.writestr(name, b"")
    return str(path)


@pytest.mark.parametrize("wheel", ["six-1.16.0-py2.py3-none-any.whl", "attrs-23.1.0-py3-none-any.whl",
                                   "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                                   "cryptography-43.0.0-cp39-abi3-manylinux_2_28_x86_64.whl"])
def test_wheels_that_install_on_the_workers(wheel):
    assert wheel_problem(wheel) is None


@pytest.mark.parametrize("wheel, problem", [
    ("numpy-2.1.0-cp312-cp312-macosx_11_0_arm64.whl", "built for macosx_11_0_arm64"),
    ("numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "workers run CPython 3.12"),
    ("numpy-2.1.0-cp312-cp312-manylinux_2_17_aarch64.whl", "Linux x86_64"),
    ("oldlib-1.0-py2-none-any.whl", "not Python 3.12"),
])
def test_wheels_that_do_not(wheel, problem):
    assert problem in wheel_problem(wheel)


def test_a_code_package_with_a_wrong_wheel_or_suffix_is_refused(tmp_path):
    with pytest.raises(MwaaPlatformError, match="numpy-2.1.0-cp312-cp312-win_amd64.whl: it is built for win_amd64"):
        check_code_package(zip_with(tmp_path, "wheels/numpy-2.1.0-cp312-cp312-win_amd64.whl"))
    with pytest.raises(MwaaPlatformError, match="must be a .py, .sh, .zip file"):
        check_code_package(definition(tmp_path, "x", "code.tar.gz"))
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(MwaaPlatformError, match="not a valid zip file"):
        check_code_package(str(broken))
    check_code_package(zip_with(tmp_path, "wheels/attrs-23.1.0-py3-none-any.whl"))


# --- the construct ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example():
    stack = new_stack()
    workflow = ServerlessWorkflow(stack, "S3Test", definition=str(EXAMPLE), derive_grants=True,
                                  description="Lists a bucket into filelist.txt", tags={"team": "analytics"})
    return stack, workflow, Template.from_stack(stack).to_json()


def role_statements(stack, workflow, template):
    policy = template["Resources"][stack.get_logical_id(workflow.role.policy.node.default_child)]
    return [resolve_literals(s, template) for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def test_the_role_is_trusted_only_by_mwaa_serverless_for_this_workflow(example):
    stack, workflow, template = example
    role = template["Resources"][stack.get_logical_id(workflow.role.node.default_child)]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "airflow-serverless.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": TEST_ACCOUNT},
                                  "ArnLike": {"aws:SourceArn": WORKFLOW_ARNS}}


def test_the_role_reads_its_own_definition_writes_its_logs_and_uses_the_key_only_for_this_workflow(example):
    stack, workflow, template = example
    statements = {s.get("Sid", json.dumps(s["Action"])): s for s in role_statements(stack, workflow, template)}
    read = statements["ReadOwnDefinition"]
    assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["Resource"].endswith("/workflows/simple_s3_test/definition.yaml")
    assert statements["UseKeyForThisWorkflow"]["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:airflow-serverless:workflow-arn": WORKFLOW_ARNS}}
    logs = statements[json.dumps(["logs:CreateLogStream", "logs:PutLogEvents"])]
    assert logs["Resource"] == f"{stack.get_logical_id(workflow.log_group.node.default_child)}.Arn"  # its own group
    # nothing else but the grants derived from the definition
    derived = [s for sid, s in statements.items() if sid.startswith("Derived")]
    assert [(s["Action"], s["Resource"]) for s in derived] == [
        ("s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket"),
        ("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/filelist.txt")]
    assert len(statements) == 6


def test_the_workflow_names_bucket_key_version_key_and_logs(example):
    stack, workflow, template = example
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::MWAAServerless::Workflow"]
    props = resource["Properties"]
    copy = stack.get_logical_id(workflow.artifacts.node.find_child("Definition").node.default_child)
    assert props["DefinitionS3Location"] == {
        "Bucket": {"Ref": stack.get_logical_id(workflow.bucket.node.default_child)},
        "ObjectKey": "workflows/simple_s3_test/definition.yaml",
        "VersionId": {"Fn::GetAtt": [copy, "VersionId"]}}
    assert props["Name"] == "simple_s3_test" and props["Description"] == "Lists a bucket into filelist.txt"
    assert props["EncryptionConfiguration"]["Type"] == "CUSTOMER_MANAGED_KEY"
    assert props["Tags"] == {"team": "analytics"}
    log_group = template["Resources"][stack.get_logical_id(workflow.log_group.node.default_child)]["Properties"]
    assert log_group["LogGroupName"] == "/aws/mwaa-serverless/simple_s3_test" and log_group["RetentionInDays"] == 90
    assert "KmsKeyId" in log_group


def source_key(tmp_path, text):
    stack = new_stack()
    workflow = ServerlessWorkflow(stack, "Etl", definition=definition(tmp_path, text))
    template = Template.from_stack(stack).to_json()
    copy = workflow.artifacts.node.find_child("Definition").node.default_child
    return template["Resources"][stack.get_logical_id(copy)]["Properties"]["SourceKey"]


def test_the_version_id_changes_with_the_file_and_only_with_it(tmp_path):
    """The copy's asset key is content-addressed: a changed file is a new copy, so a new VersionId for the
    workflow; the same file gives the same template, so no new workflow version."""
    first = source_key(tmp_path, workflow_yaml(LIST_TASK))
    assert source_key(tmp_path, workflow_yaml(LIST_TASK)) == first
    assert source_key(tmp_path, workflow_yaml(LIST_TASK + "      prefix: raw/\n")) != first


def test_a_code_package_is_versioned_and_lets_python_tasks_run(tmp_path):
    stack = new_stack()
    code = zip_with(tmp_path, "wheels/attrs-23.1.0-py3-none-any.whl")
    path = definition(tmp_path, workflow_yaml(f"    run:\n      operator: {PYTHON}\n      python_callable_name: main\n"))
    workflow = ServerlessWorkflow(stack, "Etl", definition=path, code_package=code)
    template = Template.from_stack(stack).to_json()
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::MWAAServerless::Workflow"]
    location = resource["Properties"]["Code"]["S3Location"]
    assert location["ObjectKey"] == "workflows/etl/code.zip" and "Fn::GetAtt" in location["VersionId"]
    read = [s for s in role_statements(stack, workflow, template) if s.get("Sid") == "ReadOwnDefinition"][0]
    assert len(read["Resource"]) == 2


def test_derived_grants_understand_glue_and_athena_and_warn_on_the_rest(tmp_path):
    stack = new_stack()
    path = definition(tmp_path, workflow_yaml(
        "    job:\n      operator: airflow.providers.amazon.aws.operators.glue.GlueJobOperator\n      job_name: nightly\n"
        "    query:\n      operator: airflow.providers.amazon.aws.operators.athena.AthenaOperator\n      query: SELECT 1\n"
        "      database: sales\n      output_location: s3://results/athena\n"
        f"    templated:\n      operator: {S3}.S3ListOperator\n      bucket: '{{{{ var.value.bucket }}}}'\n"
        "    sns:\n      operator: airflow.providers.amazon.aws.operators.sns.SnsPublishOperator\n"))
    workflow = ServerlessWorkflow(stack, "Etl", definition=path, derive_grants=True)
    template = Template.from_stack(stack).to_json()
    derived = [s for s in role_statements(stack, workflow, template) if s.get("Sid", "").startswith("Derived")]
    by_action = {" ".join(sorted(s["Action"])): s["Resource"] for s in derived}
    assert by_action["glue:GetJob glue:GetJobRun glue:StartJobRun"] == (
        f"arn:aws:glue:{TEST_REGION}:{TEST_ACCOUNT}:job/nightly")
    assert by_action["athena:GetQueryExecution athena:StartQueryExecution athena:StopQueryExecution"] == (
        f"arn:aws:athena:{TEST_REGION}:{TEST_ACCOUNT}:workgroup/primary")
    assert f"arn:aws:glue:{TEST_REGION}:{TEST_ACCOUNT}:table/sales/*" in by_action[
        "glue:GetDatabase glue:GetPartition glue:GetPartitions glue:GetTable glue:GetTables"]
    assert by_action["s3:AbortMultipartUpload s3:GetObject s3:PutObject"] == "arn:aws:s3:::results/athena/*"
    assert set(workflow.derived.skipped) == {"templated", "sns"}
    warnings = [entry.data for entry in workflow.node.metadata if entry.type == "aws:cdk:warning"]
    assert any("task templated: no grant derived (bucket is not a literal string)" in str(w) for w in warnings)
    assert any("task sns: no grant derived" in str(w) for w in warnings)


def test_arguments_of_the_wrong_kind_and_bad_options_fail_before_anything_is_built(tmp_path):
    stack = new_stack()
    with pytest.raises(MwaaPlatformTypeError, match="network must be of type AirflowNetworkBase"):
        ServerlessWorkflow(stack, "A", definition=str(EXAMPLE), network="vpc-123")  # type: ignore[arg-type]
    with pytest.raises(MwaaPlatformError, match="workflow_name must be 1-255 letters"):
        ServerlessWorkflow(stack, "B", definition=str(EXAMPLE), workflow_name="-bad")
    with pytest.raises(MwaaPlatformError, match=r"Test/C: .*retries must be"):
        ServerlessWorkflow(stack, "C", definition=definition(tmp_path, workflow_yaml(LIST_TASK + "      retries: 7\n")))
    with pytest.raises(MwaaPlatformError, match="workflow d has no network, so no security group to open"):
        ServerlessWorkflow(stack, "D", definition=str(EXAMPLE), workflow_name="d").connections
    assert [child.node.id for child in stack.node.children] == ["D"]


# --- a stack with two workflows, one in the platform network: packs, cfn-lint, checkov, preflight --------


@pytest.fixture(scope="module")
def two_workflows(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("serverless")
    app = new_app(outdir=str(outdir))
    stack = cdk.Stack(app, "Serverless", env=TEST_ENV)
    network = AirflowNetwork(stack, "Network")
    first = ServerlessWorkflow(stack, "S3Test", definition=str(EXAMPLE), derive_grants=True, network=network)
    folder = tmp_path_factory.mktemp("second")
    second = ServerlessWorkflow(stack, "Etl", definition=definition(folder, workflow_yaml(LIST_TASK)),
                                bucket=first.bucket, key=first.key)
    return app, stack, network, first, second


def test_two_workflows_pass_the_nag_packs(two_workflows):
    _, stack, _, _, _ = two_workflows
    assert_nag_clean(stack)


def test_two_workflows_pass_cfn_lint_checkov_and_the_preflight(two_workflows, tmp_path):
    app, stack, network, first, _ = two_workflows
    assert first.connections.security_groups[0] is first.security_group
    attach_preflight_checks(app)
    assembly = app.synth()
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    # a plugin with nothing to say is left out of the report; one with a finding would be here
    assert [r["violations"] for r in report["pluginReports"] if r["pluginName"] == "mwaa-platform-preflight"] in ([], [[]])
    template = json.loads((Path(assembly.directory) / "Serverless.template.json").read_text())
    (networked,) = [r for r in template["Resources"].values()
                    if r["Type"] == "AWS::MWAAServerless::Workflow" and "NetworkConfiguration" in r["Properties"]]
    assert len(networked["Properties"]["NetworkConfiguration"]["SubnetIds"]) == 2
    assert_cfn_lint_clean([Path(assembly.directory) / "Serverless.template.json"])
    assert checkov_failures(checkov_reports(assembly)) == []
