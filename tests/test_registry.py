"""The team registry: every error names the file, the team and the field, and nothing is built."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import REPO_ROOT, new_app
from mwaa_platform import SecretsManagerBackend
from stacks.platform import build_platform
from stacks.registry import DEFAULT_ACCOUNT, RegistryError, load_registry, retention

EXAMPLE = REPO_ROOT / "platform.yaml"


def example():
    return yaml.safe_load(EXAMPLE.read_text())


def write(tmp_path, document, name="platform.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    # artifact paths in the example are relative to the registry file
    for folder in ("examples",):
        link = tmp_path / folder
        if not link.exists():
            link.symlink_to(REPO_ROOT / folder)
    return path


def edited(edit):
    document = example()
    edit(document)
    return document


def team(document, index):
    return document["teams"][index]


CASES = [
    pytest.param(lambda d: d.update(extra=1), r"platform.yaml: unknown key 'extra' in the registry; allowed: platform, teams",
                 id="unknown-top-level-key"),
    pytest.param(lambda d: d["platform"].update(acount="1"), r"platform.yaml: unknown key 'acount' in platform; allowed: "
                 r"account, availability_zones, name, network, region, tags", id="unknown-platform-key"),
    pytest.param(lambda d: d["platform"]["network"].update(nat=1), r"unknown key 'nat' in platform.network; allowed: cidr, ",
                 id="unknown-network-key"),
    pytest.param(lambda d: team(d, 0).update(max_worker=3),
                 r"platform.yaml: team 'analytics' \(teams\[0\]\): unknown key 'max_worker' in team entry; allowed: ",
                 id="unknown-team-key"),
    pytest.param(lambda d: team(d, 1).update(name="analytics"),
                 r"team 'analytics' \(teams\[1\]\): name 'analytics' is already used by teams\[0\]; team names must be unique",
                 id="duplicate-team"),
    pytest.param(lambda d: team(d, 0).update(name="Analytics_Team"),
                 r"team 'Analytics_Team' \(teams\[0\]\): name must be 2-40 lowercase letters, digits and '-'.*got 'Analytics_Team'",
                 id="invalid-team-name"),
    pytest.param(lambda d: team(d, 0).update(name="a" * 41),
                 r"name must be 2-40 lowercase letters.*got 'a{41}'", id="team-name-too-long"),
    pytest.param(lambda d: team(d, 0).update(environment_class="mw1.huge"),
                 r"team 'analytics' \(teams\[0\]\): .*environment_class.*'mw1.huge'", id="unknown-class"),
    pytest.param(lambda d: team(d, 0).update(max_workers=3),
                 r"team 'analytics' \(teams\[0\]\): max_workers must be exactly 1 \(fixed capacity\) for mw1.micro, got 3",
                 id="micro-with-3-workers"),
    pytest.param(lambda d: team(d, 0).update(max_workers="3"),
                 r"team 'analytics' \(teams\[0\]\): max_workers must be an integer, got '3'", id="workers-not-int"),
    pytest.param(lambda d: team(d, 0).update(stage="qa"), r"stage must be one of dev, prod, got 'qa'", id="bad-stage"),
    pytest.param(lambda d: team(d, 0).update(compute=[{"kind": "ecs"}]),
                 r"team 'analytics' \(teams\[0\]\): compute is not yet supported", id="compute-not-yet"),
    pytest.param(lambda d: team(d, 0).update(alerts={"email": "a@b.c"}), r"alerts is not yet supported", id="alerts-not-yet"),
    pytest.param(lambda d: team(d, 0).update(cross_account=["111111111111"]), r"cross_account is not yet supported",
                 id="cross-account-not-yet"),
    pytest.param(lambda d: team(d, 0).pop("cost_center"), r"team 'analytics' \(teams\[0\]\): cost_center must be a non-empty "
                 r"string, got None", id="missing-cost-center"),
    pytest.param(lambda d: team(d, 0)["web_access"][0].update(airflow_role="Owner"),
                 r"web_access\[0\].airflow_role must be one of Admin, Op, User, Viewer, Public, got 'Owner'", id="bad-airflow-role"),
    pytest.param(lambda d: team(d, 0)["web_access"][0].update(role_name="arn:aws:iam::123456789012:role/x"),
                 r"web_access\[0\].role_name must be the name of an IAM role in the platform account.*got 'arn:aws:iam",
                 id="arn-not-name"),
    pytest.param(lambda d: d["platform"]["network"].update(dns_allowed_domains=["pypi.org"]),
                 r"platform.network: dns_allowed_domains applies to the DNS firewall: set dns_firewall: true",
                 id="dns-domains-without-firewall"),
    pytest.param(lambda d: d["platform"]["network"].update(perimeter_accounts=[123456789012]),
                 r"platform.network: perimeter_accounts entries must be 12-digit AWS account ids \(quoted in YAML\)",
                 id="unquoted-perimeter-account"),
    pytest.param(lambda d: team(d, 0)["web_access"][0].update(policy_name="x"),
                 r"web_access\[0\] needs exactly one of role_name .* or policy_name", id="role-and-policy"),
    pytest.param(lambda d: team(d, 0)["web_access"][0].update(role_name="AWSReservedSSO_Analysts_0123456789abcdef"),
                 r"is an IAM Identity Center role, which IAM cannot change; use policy_name", id="sso-role"),
    pytest.param(lambda d: team(d, 0).update(web_ingress=[{"cidr": "0.0.0.0/0", "description": "everyone"}]),
                 r"team 'analytics' \(teams\[0\]\): allow_web_from refuses 0.0.0.0/0", id="web-from-anywhere"),
    pytest.param(lambda d: team(d, 0).update(web_ingress=[{"cidr": "10.8.0.0/16"}]),
                 r"allow_web_from\(10.8.0.0/16\) needs a description saying whose range it is", id="cidr-no-description"),
    pytest.param(lambda d: team(d, 0).update(web_ingress=[{"security_group_id": "vpn"}]),
                 r"web_ingress\[0\].security_group_id must match sg-", id="bad-sg-id"),
    pytest.param(lambda d: team(d, 0).update(web_ingress=[{"cidr": "10.8.0.0/16", "prefix_list_id": "pl-12345678"}]),
                 r"web_ingress\[0\] needs exactly one of security_group_id, prefix_list_id, cidr", id="two-peers"),
    pytest.param(lambda d: team(d, 0)["web_access"][0].update(role_arn="x"),
                 r"unknown key 'role_arn' in web_access\[0\]; allowed: airflow_role, policy_name, role_name", id="web-access-key"),
    pytest.param(lambda d: team(d, 1).update(weekly_maintenance_window_start="SUN:03:15"),
                 r"team 'payments' \(teams\[1\]\): weekly_maintenance_window_start must be DAY:HH:MM.*got 'SUN:03:15'",
                 id="bad-maintenance-window"),
    pytest.param(lambda d: team(d, 0).update(dags="examples/nope"),
                 r"team 'analytics' \(teams\[0\]\): dags must be an existing directory, got '.*examples/nope'", id="missing-dags"),
    pytest.param(lambda d: team(d, 1).update(secrets_backend={"connections_prefix": "bad/"}),
                 r"team 'payments' \(teams\[1\]\): secrets backend connections_prefix must be a Secrets Manager name prefix",
                 id="bad-secrets-prefix"),
    pytest.param(lambda d: team(d, 1).update(log_retention_days=100),
                 r"log_retention_days must be one of 1, 3, .*, got 100", id="bad-retention"),
    pytest.param(lambda d: d["platform"]["network"].update(cidr="10.0.0.0/8"),
                 r"platform.network: cidr prefix length must be between /16 and /22, got '10.0.0.0/8'", id="bad-cidr"),
    pytest.param(lambda d: d["platform"]["network"].update(endpoint_sets=["lambda"]),
                 r"platform.network: endpoint_sets: unknown set 'lambda'; allowed: secretsmanager, sts, ecs, batch, eks",
                 id="unknown-endpoint-set"),
    pytest.param(lambda d: d["platform"].update(name="Platform_1"),
                 r"platform: name must be 2-40 lowercase letters, digits and '-'.*got 'Platform_1'", id="bad-platform-name"),
    pytest.param(lambda d: d["platform"].update(account="12345"), r"platform: account must be a 12-digit", id="bad-account"),
    pytest.param(lambda d: d["platform"]["tags"].update({"aws:owner": "x"}), r"tags: key 'aws:owner'", id="reserved-tag"),
    pytest.param(lambda d: d.update(teams=[]), r"teams must be a non-empty list", id="no-teams"),
    pytest.param(lambda d: team(d, 0).update(airflow_version="two"), r"team 'analytics' \(teams\[0\]\): .*'two'",
                 id="bad-version"),
]


@pytest.mark.parametrize("edit, message", CASES)
def test_invalid_registry_is_rejected_with_file_team_and_field(tmp_path, edit, message):
    path = write(tmp_path, edited(edit))
    with pytest.raises(RegistryError, match=message) as error:
        load_registry(path)
    assert str(error.value).startswith(f"{path}: ")


def test_nothing_is_built_from_an_invalid_registry(tmp_path):
    app = new_app()
    path = write(tmp_path, edited(lambda d: team(d, 1).update(max_workers=99)))
    with pytest.raises(RegistryError):
        build_platform(app, load_registry(path))
    assert app.node.children == []


def test_cdk_app_exits_with_the_error_and_writes_no_templates(tmp_path):
    path = write(tmp_path, edited(lambda d: team(d, 0).update(max_workers=3)))
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MWAA_PLATFORM_REGISTRY": str(path), "CDK_OUTDIR": str(out)},
    )
    assert result.returncode == 1
    assert f"error: {path}: team 'analytics' (teams[0]): max_workers must be exactly 1 (fixed capacity) for mw1.micro, got 3" in result.stderr
    assert not list(out.glob("*.template.json"))


def test_yaml_syntax_and_missing_file_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("teams: [\n")
    with pytest.raises(RegistryError, match=r"broken.yaml: not valid YAML"):
        load_registry(broken)
    with pytest.raises(RegistryError, match=r"missing.yaml: registry file not found"):
        load_registry(tmp_path / "missing.yaml")


def test_example_registry_settings():
    platform = load_registry(EXAMPLE, environ={})
    assert platform.account == DEFAULT_ACCOUNT and platform.region == "eu-west-1"
    dev, prod = platform.teams
    assert (dev.name, dev.stage, dev.environment_class, dev.environment_name, dev.stack_name) == (
        "analytics", "dev", "mw1.micro", "analytics-dev", "mwaa-platform-analytics-dev")
    assert (prod.environment_class, prod.max_workers, prod.stack_name) == ("mw1.large", 10, "mwaa-platform-payments-prod")
    assert prod.cost_tags == {"data-classification": "confidential", "team": "payments", "cost-center": "cc-2002",
                              "stage": "prod"}
    assert platform.endpoint_sets == ("secretsmanager",)  # switched on by the payments secrets backend
    assert Path(dev.dags) == REPO_ROOT / "examples" / "dags"


def test_account_and_region_come_from_the_environment_when_the_registry_omits_them():
    platform = load_registry(EXAMPLE, environ={"CDK_DEPLOY_ACCOUNT": "210987654321", "CDK_DEPLOY_REGION": "us-east-2"})
    assert (platform.account, platform.region) == ("210987654321", "us-east-2")


def test_secrets_backend_true_uses_the_defaults(tmp_path):
    document = edited(lambda d: team(d, 0).update(secrets_backend=True))
    platform = load_registry(write(tmp_path, document))
    backend = platform.teams[0].secrets_backend
    assert backend == SecretsManagerBackend()
    assert backend.for_environment("analytics-dev").prefixes == ("airflow/analytics-dev/connections",
                                                                 "airflow/analytics-dev/variables")


@pytest.mark.parametrize("days, name", [(1, "ONE_DAY"), (90, "THREE_MONTHS"), (365, "ONE_YEAR"), (3653, "TEN_YEARS")])
def test_retention_days_map_to_cdk_members(days, name):
    assert retention(days).name == name



# --- a real account, no credentials -------------------------------------------------------------

REAL = {"CDK_DEPLOY_ACCOUNT": "111122223333", "CDK_DEPLOY_REGION": "eu-central-1"}


def synth_without_credentials(path, environ):
    """Build and synthesize as `cdk synth` would; return the cloud assembly's missing context."""
    app = new_app()
    build_platform(app, load_registry(path, environ=environ))
    manifest = Path(app.synth().directory) / "manifest.json"
    return json.loads(manifest.read_text()).get("missing")


def test_a_real_account_synthesizes_without_credentials_once_its_zones_are_declared(tmp_path):
    path = write(tmp_path, edited(lambda d: d["platform"].update(
        availability_zones=["eu-central-1a", "eu-central-1b"])))
    # nothing left for the CLI to look up, so no AWS call and no credentials are needed
    assert not synth_without_credentials(path, REAL)


def test_a_real_account_without_declared_zones_fails_naming_the_lookup_and_both_remedies(tmp_path):
    path = write(tmp_path, example())
    with pytest.raises(RegistryError) as error:
        synth_without_credentials(path, REAL)
    message = str(error.value)
    assert "look up the availability zones of account 111122223333 in eu-central-1 (an AWS call" in message
    assert "`availability_zones: [eu-central-1a, eu-central-1b]` under `platform:`" in message
    assert '"availability-zones:account=111122223333:region=eu-central-1"' in message


@pytest.mark.parametrize("zones, message", [
    (["eu-central-1a"], r"availability_zones must list at least two different zones of eu-central-1, got \['eu-central-1a'\]"),
    (["eu-central-1a", "eu-central-1a"], r"availability_zones must list at least two different zones"),
    (["eu-west-1a", "eu-west-1b"], r"availability_zones entries must be zone names of eu-central-1 .*got 'eu-west-1a'"),
    ("eu-central-1a", r"availability_zones must list at least two"),
])
def test_declared_zones_are_checked(tmp_path, zones, message):
    path = write(tmp_path, edited(lambda d: d["platform"].update(availability_zones=zones)))
    with pytest.raises(RegistryError, match=r"platform.yaml: platform: " + message):
        load_registry(path, environ=REAL)


def test_artifact_writers_reach_the_team_and_are_checked(tmp_path):
    ci = "arn:aws:iam::123456789012:role/analytics-ci"
    platform = load_registry(write(tmp_path, edited(lambda d: team(d, 0).update(artifact_writers=[ci]))))
    assert platform.teams[0].artifact_writers == (ci,)
    bad = write(tmp_path, edited(lambda d: team(d, 0).update(artifact_writers=["analytics-ci"])), name="bad.yaml")
    with pytest.raises(RegistryError, match=r"bad.yaml: team 'analytics' \(teams\[0\]\): artifact_writers entries must be "
                                            r"IAM role or user ARNs .*got 'analytics-ci'"):
        load_registry(bad)


def test_identity_center_policies_and_web_ingress_from_the_registry(tmp_path):
    from aws_cdk.assertions import Template

    def edit(document):
        team(document, 0)["web_access"].append({"policy_name": "analytics-dev-viewers", "airflow_role": "Viewer"})
        team(document, 0)["web_ingress"] = [{"prefix_list_id": "pl-0123456789abcdef0", "description": "corporate VPN"}]
    app = new_app()
    platform = build_platform(app, load_registry(write(tmp_path, edited(edit))))
    template = Template.from_stack(platform.teams["analytics"])
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "analytics-dev-viewers"})
    template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "SourcePrefixListId": "pl-0123456789abcdef0", "FromPort": 443, "ToPort": 443, "Description": "corporate VPN"})
