"""Upgrades as MWAA allows them, from a cached lookup of the deployed version; blue/green migrations
from the registry, with the example of docs/airflow-environment.md synthesized; the cutover."""

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Template

from harness import REPO_ROOT, cdk_json_context, nag_violations, write_registry
from mwaa_platform import MwaaPlatformError
from mwaa_platform.environment.upgrade import CC_API_PROVIDER, deployed_version_lookup
from stacks.platform import build_platform
from stacks.registry import RegistryError, load_registry

DOC = REPO_ROOT / "docs" / "airflow-environment.md"
STAGES = {"prod": {"account": "222222222222", "region": "eu-west-1", "availability_zones": ["eu-west-1a", "eu-west-1b"]}}


def doc_example() -> dict:
    """The team entry of docs/airflow-environment.md's blue/green example, as written there."""
    text = DOC.read_text()
    block = re.search(r"<!-- blue/green example: tests/test_blue_green.py synthesizes it -->\n```yaml\n(.*?)```",
                      text, re.S)
    assert block, f"{DOC.name} lost its blue/green example"
    (team,) = yaml.load(block.group(1), Loader=yaml.CSafeLoader)
    return team


def registry(tmp_path: Path, team: dict) -> Path:
    """A registry of one team in prod, written with the docs' paths."""
    return write_registry(tmp_path, {"platform": {"name": "mwaa-platform"}, "stages": STAGES, "teams": [team]})


def build(path: Path, context: dict | None = None):
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, builtin_cloud_formation_validation=False)
    return app, build_platform(app, load_registry(path))


def lookup_key(environment_name: str) -> str:
    scope = cdk.Stack(cdk.App(), "Key", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    return cdk.ContextProvider.get_key(scope, provider=CC_API_PROVIDER,
                                       props=deployed_version_lookup(environment_name)).key


def environments(template: Template) -> dict[str, dict]:
    return {props["Properties"]["Name"]: {"id": logical_id, **props["Properties"]}
            for logical_id, props in template.find_resources("AWS::MWAA::Environment").items()}


@pytest.fixture(scope="module")
def blue_green(tmp_path_factory):
    app, platform = build(registry(tmp_path_factory.mktemp("bluegreen"), doc_example()))
    stack = platform.environments["orders-prod"]
    return app, stack, Template.from_stack(stack)


# --- blue/green -------------------------------------------------------------------------------------


def test_the_docs_example_runs_two_environments_on_their_versions(blue_green):
    _, _, template = blue_green
    envs = environments(template)
    assert {name: env["AirflowVersion"] for name, env in envs.items()} == {"orders-prod": "2.10.3",
                                                                        "orders-prod-af3": "3.3.1"}
    assert envs["orders-prod"]["id"].startswith("Environment") and not envs["orders-prod"]["id"].startswith(
        "EnvironmentOrdersProdAf3")
    assert envs["orders-prod-af3"]["id"].startswith("EnvironmentOrdersProdAf3")
    roles = {name: env["ExecutionRoleArn"] for name, env in envs.items()}
    assert roles["orders-prod"] != roles["orders-prod-af3"]


def test_both_read_the_stages_secrets(blue_green):
    _, _, template = blue_green
    for env in environments(template).values():
        kwargs = env["AirflowConfigurationOptions"]["secrets.backend_kwargs"]
        assert '"connections_prefix":"airflow/orders-prod/connections"' in kwargs


def test_both_may_start_the_same_task_launcher(blue_green):
    _, _, template = blue_green
    (launcher,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    arn = f"arn:aws:states:eu-west-1:222222222222:stateMachine:{launcher['Properties']['StateMachineName']}"
    starters = {role["Ref"] for policy in template.find_resources("AWS::IAM::ManagedPolicy").values()
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                if statement["Action"] == "states:StartExecution" and statement["Resource"] == arn
                for role in policy["Properties"]["Roles"]}
    assert starters == {env["ExecutionRoleArn"]["Fn::GetAtt"][0] for env in environments(template).values()}


def test_the_new_environment_gets_only_the_selected_dags(blue_green):
    app, stack, _ = blue_green
    staged = Path(app.outdir) / ".dag-subsets" / "orders-prod-af3"
    assert sorted(p.name for p in staged.iterdir()) == ["settlement_ecs.py"]


def test_each_has_its_alarms_and_the_stage_one_topic(blue_green):
    _, _, template = blue_green
    alarmed = {dimension["Value"] for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
               for dimension in alarm["Properties"].get("Dimensions", []) if dimension["Name"] == "Environment"}
    assert {"orders-prod", "orders-prod-af3"} <= alarmed
    assert len(template.find_resources("AWS::SNS::Topic")) == 1
    assert len(template.find_resources("AWS::CloudWatch::Dashboard")) == 2


def test_the_stack_is_nag_clean(blue_green):
    _, stack, _ = blue_green
    assert nag_violations(stack) == []


def test_the_cutover_keeps_the_new_environment_in_place(tmp_path, blue_green):
    _, _, before = blue_green
    team = doc_example()
    prod = team["environments"]["prod"]
    green = prod.pop("blue_green")
    prod.update(environment_name=green["environment_name"], airflow_version=green["airflow_version"])
    _, platform = build(registry(tmp_path, team))
    after = Template.from_stack(platform.environments["orders-prod-af3"])
    assert after.to_json() and platform.environments["orders-prod-af3"].stack_name == "mwaa-platform-orders-prod"
    assert set(environments(after)) == {"orders-prod-af3"}
    # the environment, and every resource of its, keep their logical ids: nothing of it is replaced
    kept = {logical_id for logical_id in before.to_json()["Resources"] if logical_id.startswith(
        ("EnvironmentOrdersProdAf3", "AlarmsOrdersProdAf3", "DashboardOrdersProdAf3"))}
    assert kept and kept <= set(after.to_json()["Resources"])
    assert environments(after)["orders-prod-af3"]["id"] == environments(before)["orders-prod-af3"]["id"]


@pytest.mark.parametrize("edit, message", [
    (lambda prod: prod["blue_green"].update(environment_name="orders-prod"),
     "blue_green.environment_name must differ from the current environment's"),
    (lambda prod: prod["blue_green"].update(dags=["nothing_*.py"]),
     r"blue_green.dags\[0\] must be a glob pattern matching files of"),
    (lambda prod: prod["blue_green"].update(airflow_version="2.6.3"),
     "airflow_version 2.6.3 reached end of support on 2025-12-30"),
    (lambda prod: prod["blue_green"].update(environment_name="orders prod"), "environment"),
], ids=["same-name", "no-dags-match", "end-of-support", "bad-name"])
def test_blue_green_mistakes_are_registry_errors(tmp_path, edit, message):
    team = doc_example()
    edit(team["environments"]["prod"])
    with pytest.raises(RegistryError, match=message):
        load_registry(registry(tmp_path, team))


# --- the deployed version, from a cached context lookup ------------------------------------------


def upgrade(tmp_path, deployed_answer, target="3.3.1"):
    team = doc_example()
    prod = team["environments"]["prod"]
    del prod["blue_green"]
    prod.update(airflow_version=target, deployed_version="lookup")
    context = {} if deployed_answer is None else {lookup_key("orders-prod"): deployed_answer}
    return build(registry(tmp_path, team), context)


@pytest.mark.parametrize("deployed, target", [("2.11.2", "3.3.1"), ("3.0.6", "3.3.1"), ("3.3.1", "2.11.2"),
                                              ("2.10.1", "2.11.2"), ("3.3.1", "3.0.6")])
def test_an_upgrade_mwaa_makes_in_place_builds(tmp_path, deployed, target):
    _, platform = upgrade(tmp_path, [{"Identifier": "orders-prod", "AirflowVersion": deployed}], target)
    assert environments(Template.from_stack(platform.environments["orders-prod"]))["orders-prod"][
        "AirflowVersion"] == target


@pytest.mark.parametrize("deployed, target, fix", [
    ("2.10.3", "3.3.1", "create a new environment on 3.3.1 beside this one (blue/green)"),
    ("2.11.0", "3.3.1", "deploy 2.11.2 first, then 3.3.1"),
    ("3.3.1", "2.10.3", "Airflow 3 goes back in place only to 2.11.x"),
])
def test_an_upgrade_mwaa_refuses_fails_naming_the_way_that_works(tmp_path, deployed, target, fix):
    with pytest.raises(MwaaPlatformError, match=re.escape(fix)) as error:
        upgrade(tmp_path, [{"Identifier": "orders-prod", "AirflowVersion": deployed}], target)
    assert f"orders-prod runs Airflow {deployed} (deployed_version: lookup, cached in cdk.context.json)" in str(error.value)


def test_an_environment_not_deployed_yet_is_not_checked(tmp_path):
    upgrade(tmp_path, [], "3.3.1")


def test_without_a_cached_answer_synthesis_asks_for_the_lookup(tmp_path):
    app, platform = upgrade(tmp_path, None)
    import json

    missing = json.loads((Path(app.synth().directory) / "manifest.json").read_text()).get("missing", [])
    assert [entry["props"]["exactIdentifier"] for entry in missing if entry["provider"] == "cc-api-provider"] == [
        "orders-prod"]


# --- web server access from the registry ---------------------------------------------------------


def web(tmp_path, **settings):
    team = doc_example()
    prod = team["environments"]["prod"]
    del prod["blue_green"]
    prod.update(settings)
    return registry(tmp_path, team)


def test_a_public_web_server_needs_a_reason_and_3_2_for_public_and_private(tmp_path):
    with pytest.raises(RegistryError, match="webserver_access_mode PUBLIC_AND_PRIVATE puts the web server on the "
                                            "internet: give public_web_reason"):
        load_registry(web(tmp_path, airflow_version="3.3.1", webserver_access_mode="PUBLIC_AND_PRIVATE"))
    with pytest.raises(RegistryError, match="PUBLIC_AND_PRIVATE needs Airflow 3.2 or later, got airflow_version 3.0.6"):
        load_registry(web(tmp_path, airflow_version="3.0.6", webserver_access_mode="PUBLIC_AND_PRIVATE",
                          public_web_reason="Partners open the UI from the internet, through IAM login only."))


def test_the_reason_acknowledges_the_web_server_rule(tmp_path):
    _, platform = build(web(tmp_path, airflow_version="3.3.1", webserver_access_mode="PUBLIC_AND_PRIVATE",
                            public_web_reason="Partners open the UI from the internet, through IAM login only."))
    stack = platform.environments["orders-prod"]
    assert environments(Template.from_stack(stack))["orders-prod"]["WebserverAccessMode"] == "PUBLIC_AND_PRIVATE"
    assert nag_violations(stack) == []
