"""The registry's published schema and reference stay in step with its models, editors can use the
schema on the shipped platform.yaml, and onboarding a team as the README says keeps the checks green."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import aws_cdk as cdk
import jsonschema
import pytest
import yaml

import test_team_stacks
from harness import FIXTURE_REGISTRY, REPO_ROOT, assert_cfn_lint_clean, cdk_json_context
from stacks.registry_schema import json_schema, reference_markdown

SCHEMA = REPO_ROOT / "docs" / "registry.schema.json"
DOCS = REPO_ROOT / "docs" / "registry.md"


def test_the_committed_schema_is_the_generated_one():
    assert json.loads(SCHEMA.read_text()) == json_schema(), "run `make registry-docs` and commit the result"


def test_the_reference_in_the_docs_is_the_generated_one():
    text = DOCS.read_text()
    block = text.split("<!-- BEGIN GENERATED REFERENCE: make registry-docs -->")[1].split("<!-- END GENERATED REFERENCE -->")[0]
    assert block.strip() == reference_markdown().strip(), "run `make registry-docs` and commit the result"


def test_the_fixture_registry_points_editors_at_the_schema():
    first = FIXTURE_REGISTRY.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (FIXTURE_REGISTRY.parent / first.split("$schema=")[1]).resolve() == SCHEMA


def test_the_schema_validates_the_fixture_registry_and_rejects_a_mistake():
    schema = json.loads(SCHEMA.read_text())
    document = yaml.safe_load(FIXTURE_REGISTRY.read_text())
    jsonschema.validate(document, schema)
    document["teams"][0]["environments"]["dev"]["max_worker"] = 3
    with pytest.raises(jsonschema.ValidationError, match="'max_worker' was unexpected"):
        jsonschema.validate(document, schema)
    document["teams"][0]["environments"]["dev"].pop("max_worker")
    document["stages"]["dev"]["account"] = 111111111111  # unquoted: an editor flags it too
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_web_access_rest_api_is_a_typed_option_wired_to_both_kinds_of_grant():
    import pydantic
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    from stacks.registry_schema import WebAccess
    from stacks.team_stack import grant_web_access
    from test_environment import make_env

    assert WebAccess(role_name="analysts").rest_api is False
    assert json_schema()["$defs"]["WebAccess"]["properties"]["rest_api"]["type"] == "boolean"
    with pytest.raises(pydantic.ValidationError, match="rest_api"):
        WebAccess(role_name="analysts", rest_api="yes")  # strict: YAML's "yes" is no boolean here
    env = make_env()
    stack = cdk.Stack.of(env)
    grant_web_access(stack, env, (
        WebAccess(role_name="analysts", airflow_role="User"),
        WebAccess(role_name="team-a-ci", airflow_role="User", rest_api=True),
        WebAccess(policy_name="team-a-sso-op", airflow_role="Op", rest_api=True),
    ))
    arn = f"arn:aws:airflow:{stack.region}:{stack.account}:role/team-a/{{}}"
    policies = {child.node.id: Template.from_stack(stack).to_json()["Resources"][
                    stack.get_logical_id(child.node.default_child)]["Properties"]
                for child in env.node.children if isinstance(child, iam.ManagedPolicy)}
    assert {name: (p.get("Roles") or p["ManagedPolicyName"], p["PolicyDocument"]["Statement"])
            for name, p in policies.items()} == {
        "WebLoginUser": (["analysts", "team-a-ci"], [
            {"Action": "airflow:CreateWebLoginToken", "Effect": "Allow", "Resource": arn.format("User")}]),
        "InvokeRestApiUser": (["team-a-ci"], [
            {"Action": "airflow:InvokeRestApi", "Effect": "Allow", "Resource": arn.format("User")}]),
        "WebLoginPolicyOp": ("team-a-sso-op", [
            {"Action": ["airflow:CreateWebLoginToken", "airflow:InvokeRestApi"], "Effect": "Allow",
             "Resource": arn.format("Op")}]),
    }


def readme_snippet():
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Onboarding a team")[1]
    folder = re.search(r"mkdir -p (\S+)", section).group(1)
    entry = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return folder, yaml.safe_load(entry)


def test_onboarding_a_team_as_the_readme_says_keeps_the_checks_green(tmp_path):
    """The README's steps on a copy of the registry: synthesis passes all packs and the preflight,
    cfn-lint is clean, and every test that reads the example passes for the new registry too."""
    from mwaa_platform import attach_nag_packs, attach_preflight_checks
    from stacks.platform import build_platform
    from stacks.registry import load_registry

    folder, entries = readme_snippet()
    # the fixture registry's place in a copy of the repository: its ../../../examples are the repository's
    base = tmp_path / FIXTURE_REGISTRY.relative_to(REPO_ROOT).parent
    (base / folder).mkdir(parents=True)
    (base / folder / "hello.py").write_text("# a DAG\n")
    (tmp_path / "examples").symlink_to(REPO_ROOT / "examples")
    document = yaml.safe_load(FIXTURE_REGISTRY.read_text())
    # the example's teams that share an environment with the new one stay: their stacks change when
    # it joins. The others' stacks do not, and the platform fixture already holds them to every check.
    joined = {stage["shared"] for entry in entries for stage in entry["environments"].values() if "shared" in stage}
    document["teams"] = [team for team in document["teams"]
                         if joined & {stage.get("shared") for stage in team["environments"].values()}] + entries
    registry_path = base / "platform.yaml"
    registry_path.write_text(yaml.safe_dump(document, sort_keys=False))

    # CDK's own template validation is left to the platform fixture: cfn-lint holds the new stack below
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=cdk_json_context(), builtin_cloud_formation_validation=False)
    attach_nag_packs(app)
    attach_preflight_checks(app)
    registry = load_registry(registry_path, environ={})
    build_platform(app, registry)
    platform = SimpleNamespace(app=app, assembly=app.synth())  # raises on any nag or preflight error
    new_stack = f"{registry.name}-{entries[0]['name']}-dev"
    assert new_stack in {s.stack_name for s in platform.assembly.stacks}
    assert_cfn_lint_clean([Path(platform.assembly.directory) / f"{new_stack}.template.json"])
    for check in (test_team_stacks.test_stack_names_come_from_the_registry,
                  test_team_stacks.test_production_stages_have_termination_protection_and_others_do_not,
                  test_team_stacks.test_stacks_deploy_into_their_stages_account_after_its_network,
                  test_team_stacks.test_every_taggable_resource_of_an_environment_stack_carries_the_cost_tags,
                  test_team_stacks.test_web_access_attaches_a_managed_policy_or_names_one_for_identity_center):
        check(platform, registry)
