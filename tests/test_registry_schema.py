"""The registry's published schema and reference stay in step with its models, and editors can use the
schema. Onboarding a team as the README says is a round trip (tests/test_roundtrips.py, make roundtrips)."""

import json

import aws_cdk as cdk
import jsonschema
import pytest
import yaml

from harness import FIXTURE_REGISTRY, REPO_ROOT
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
