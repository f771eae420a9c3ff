"""The CodeArtifact mode: a repository with a PyPI upstream, its endpoints, grants and startup script."""

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from harness import TEST_ACCOUNT, TEST_REGION, assert_nag_clean, assert_stack_cfn_lint_clean, new_stack, resolve_literals
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError
from mwaa_platform.environment import AirflowPackageIndex, Wheelhouse


@pytest.fixture
def requirements(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("pandas==2.1.4\n")
    return str(path)


def build(requirements, tmp_path=None, **kwargs):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["codeartifact"])
    index = AirflowPackageIndex(stack, "Packages", domain_name="analytics")
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="2.11.0",
                             requirements=requirements, package_index=index, **kwargs)
    return stack, network, index, env


def test_a_repository_with_a_pypi_upstream(requirements):
    stack, *_ = build(requirements)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CodeArtifact::Domain", {"DomainName": "analytics"})
    repositories = {r["Properties"]["RepositoryName"]: r["Properties"]
                    for r in template.find_resources("AWS::CodeArtifact::Repository").values()}
    assert repositories["pypi-upstream"]["ExternalConnections"] == ["public:pypi"]
    assert len(repositories["pypi"]["Upstreams"]) == 1


def test_the_execution_role_may_only_read_the_repository(requirements):
    stack, _, index, env = build(requirements)
    template = Template.from_stack(stack).to_json()
    role = {"Ref": stack.get_logical_id(env.execution_role.node.default_child)}
    statements = [s for p in template["Resources"].values() if p["Type"] == "AWS::IAM::ManagedPolicy"
                  and role in p["Properties"].get("Roles", []) for s in p["Properties"]["PolicyDocument"]["Statement"]]
    by_sid = {s["Sid"]: resolve_literals(s, template) for s in statements if s.get("Sid", "").startswith("CodeArtifact")}
    assert by_sid["CodeArtifactToken"]["Action"] == "codeartifact:GetAuthorizationToken"
    assert by_sid["CodeArtifactBearerToken"]["Condition"] == {
        "StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}
    assert sorted(by_sid["CodeArtifactRead"]["Action"]) == ["codeartifact:GetRepositoryEndpoint",
                                                           "codeartifact:ReadFromRepository"]
    assert f"arn:aws:codeartifact:{TEST_REGION}:{TEST_ACCOUNT}:package/analytics/pypi/*" in \
        by_sid["CodeArtifactRead"]["Resource"]
    assert f"{stack.get_logical_id(index.repository)}.Arn" in by_sid["CodeArtifactRead"]["Resource"]


def test_a_startup_script_points_pip_at_the_repository_before_the_teams_own(requirements, tmp_path):
    own = tmp_path / "startup.sh"
    own.write_text("#!/bin/sh\nexport TEAM=analytics\n")
    stack, _, index, env = build(requirements, startup_script=str(own))
    text = Path(index.startup_script(then=str(own))).read_text()  # the same file the environment uploads
    (environment,) = Template.from_stack(stack).find_resources("AWS::MWAA::Environment").values()
    assert environment["Properties"]["StartupScriptS3Path"] == "startup/startup.sh"
    assert ("aws codeartifact get-authorization-token --domain analytics --domain-owner 123456789012 "
            "--region eu-west-1") in text
    assert 'PIP_INDEX_URL="https://aws:${TOKEN}@analytics-123456789012.d.codeartifact.eu-west-1.amazonaws.com/' \
           'pypi/pypi/simple/"' in text
    assert text.index("PIP_INDEX_URL") < text.index("export TEAM=analytics")
    assert env.wheelhouse is None  # packages come from the index, not a wheelhouse


def test_the_network_reaches_codeartifact_and_its_asset_bucket(requirements):
    stack, *_ = build(requirements)
    template = Template.from_stack(stack)
    services = {r["Properties"]["ServiceName"] for r in template.find_resources("AWS::EC2::VPCEndpoint").values()
                if isinstance(r["Properties"]["ServiceName"], str)}
    assert {f"com.amazonaws.{TEST_REGION}.codeartifact.api", f"com.amazonaws.{TEST_REGION}.codeartifact.repositories"} \
        <= services
    (gateway,) = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}}).values()
    (assets,) = [s for s in gateway["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "CodeArtifactAssets"]
    assert (assets["Action"], assets["Resource"]) == ("s3:GetObject", f"arn:aws:s3:::assets-*-{TEST_REGION}/*")


def test_the_package_index_passes_all_packs_and_cfn_lint(requirements, tmp_path):
    stack, *_ = build(requirements)
    assert_nag_clean(stack)
    assert_stack_cfn_lint_clean(stack, tmp_path)


def test_the_index_needs_its_endpoints_and_excludes_a_wheelhouse(requirements, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("built a wheelhouse before refusing the arguments")
    monkeypatch.setattr("mwaa_platform.environment.environment.build_wheelhouse", no_download)
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    index = AirflowPackageIndex(stack, "Packages", domain_name="analytics")
    with pytest.raises(MwaaPlatformError, match=r"package_index needs the 'codeartifact.api' VPC endpoint"):
        AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, requirements=requirements,
                           package_index=index)
    with pytest.raises(MwaaPlatformError, match=r"pass wheelhouse or package_index, not both"):
        build(requirements, wheelhouse=Wheelhouse())
    with pytest.raises(MwaaPlatformError, match=r"domain_name must be 2-50 lowercase letters.*got 'Analytics'"):
        AirflowPackageIndex(cdk.Stack(), "Bad", domain_name="Analytics")
