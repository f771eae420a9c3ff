"""The team registry: every mistake is reported at once, each naming the file, where and the field;
nothing is built from an invalid registry; stages, accounts and shared environments."""

import json
import re
import runpy
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from harness import FIXTURE_REGISTRY, REPO_ROOT, new_app
from mwaa_platform import SecretsManagerBackend
from stacks.platform import build_platform
from mwaa_platform.network import PathEndpoint
from stacks.registry import DEFAULT_ACCOUNT, RegistryError, load_registry, retention

EXAMPLE = FIXTURE_REGISTRY
V1_EXAMPLE = REPO_ROOT / "tests" / "fixtures" / "platform-v1.yaml"


def example(path=EXAMPLE):
    return yaml.load(path.read_text(), Loader=yaml.CSafeLoader)


def home(tmp_path):
    """Where ``write`` puts registry files in ``tmp_path``: the fixture registry's place in a copy of the
    repository. Files a test's registry names relative to itself go here."""
    base = tmp_path / FIXTURE_REGISTRY.relative_to(REPO_ROOT).parent
    base.mkdir(parents=True, exist_ok=True)
    return base


def write(tmp_path, document, name="platform.yaml"):
    """``document`` as a registry file at ``home(tmp_path)``, so the fixture's relative paths
    (``../../../examples/...``) resolve; documents written with the repository root's paths
    (``examples/...``, the v1 example) resolve there too."""
    base = home(tmp_path)
    path = base / name
    path.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False))
    for link in (tmp_path / "examples", base / "examples"):
        if not link.exists():
            link.symlink_to(REPO_ROOT / "examples")
    return path


def edited(edit, path=EXAMPLE):
    document = example(path)
    edit(document)
    return document


def team(document, index):
    return document["teams"][index]


def env(document, index, stage):
    return document["teams"][index]["environments"][stage]


def one_stage(document, stage):
    """The document with ``stage`` only: its stage entry, the teams there with their environments and budgets."""
    document["teams"] = [team for team in document["teams"] if stage in team["environments"]]
    for kept in document["teams"]:
        kept["environments"] = {name: value for name, value in kept["environments"].items() if name == stage}
        if "alerts" in kept:
            budgets = kept["alerts"].get("monthly_budget_usd", {})
            kept["alerts"]["monthly_budget_usd"] = {name: value for name, value in budgets.items() if name == stage}
    document["stages"] = {stage: document["stages"][stage]}
    return document


def only(document, index, stage, *, drop=("compute", "cross_account")):
    """The example cut down to one team in one stage (and without ``drop``): a test of one feature
    builds a few stacks instead of the whole platform."""
    kept = document["teams"][index]
    document["teams"] = [kept]
    kept.pop("approved_by", None)  # the approving team is gone
    one_stage(document, stage)
    kept["environments"][stage].pop("shared", None)
    for key in drop:
        kept["environments"][stage].pop(key, None)
        kept.pop(key, None)
    document["shared_environments"] = []
    return document


ANALYTICS_DEV = r"team 'analytics' \(teams\[0\]\) stage 'dev': "
PAYMENTS_PROD = r"team 'payments' \(teams\[1\]\) stage 'prod': "

CASES = [
    pytest.param(lambda d: d.update(extra=1),
                 r"platform.yaml:\d+: unknown key 'extra' in the registry; allowed: delivery, platform, shared_environments, stages, "
                 r"teams", id="unknown-top-level-key"),
    pytest.param(lambda d: d["platform"].update(acount="1"),
                 r"platform.yaml:\d+: platform: unknown key 'acount' in this entry; allowed: eks, name, network, tags",
                 id="unknown-platform-key"),
    pytest.param(lambda d: d["platform"]["network"].update(nat=1),
                 r"platform.network: unknown key 'nat' in this entry; allowed: cidr, ", id="unknown-network-key"),
    pytest.param(lambda d: env(d, 0, "dev").update(max_worker=3),
                 ANALYTICS_DEV + r"unknown key 'max_worker' in this entry; allowed: ", id="unknown-environment-key"),
    pytest.param(lambda d: team(d, 1).update(name="analytics"),
                 r"team 'analytics' \(teams\[1\]\): name 'analytics' is already used by teams\[0\]", id="duplicate-team"),
    pytest.param(lambda d: d["shared_environments"][0].update(name="payments"),
                 r"shared environment 'payments' \(shared_environments\[0\]\): name 'payments' is already used by teams\[1\]",
                 id="shared-name-clash"),
    pytest.param(lambda d: team(d, 0).update(name="Analytics_Team"),
                 r"team 'Analytics_Team' \(teams\[0\]\): name must be 2-40 lowercase letters, digits and '-'.*got 'Analytics_Team'",
                 id="invalid-team-name"),
    pytest.param(lambda d: team(d, 0).update(name="a" * 41), r"name must be 2-40 lowercase letters.*got 'a{41}'",
                 id="team-name-too-long"),
    pytest.param(lambda d: env(d, 0, "dev").update(environment_class="mw1.huge"),
                 ANALYTICS_DEV + r"environment_class must be one of mw1.micro, .*got 'mw1.huge'", id="unknown-class"),
    pytest.param(lambda d: env(d, 0, "dev").update(max_workers=3),
                 ANALYTICS_DEV + r"max_workers must be exactly 1 \(fixed capacity\) for mw1.micro, got 3",
                 id="micro-with-3-workers"),
    pytest.param(lambda d: env(d, 0, "dev").update(max_workers="3"),
                 ANALYTICS_DEV + r"max_workers must be a whole number, exactly 1 \(fixed capacity\) for mw1.micro, got '3' "
                 r"\(quoted, YAML reads it as a string: write 3 without quotes\)", id="workers-not-int"),
    pytest.param(lambda d: team(d, 0)["environments"].update(qa={"dags": "examples/dags"}),
                 r"team 'analytics' \(teams\[0\]\) stage 'qa': stage 'qa' is not declared in stages \(dev, prod\)",
                 id="undeclared-stage"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"]["ecs_tasks"][0].update(cpu=1024, memory_mib=1000),
                 PAYMENTS_PROD + r"compute.ecs_tasks\[0\] memory_mib must be 2048-8192 in steps of 1024 MiB",
                 id="ecs-size"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"]["batch_jobs"][0].update(vcpus=3),
                 PAYMENTS_PROD + r"compute batch_jobs 'payments-reconciliation': vcpus must be one of 0.25, 0.5, 1, 2, "
                 r"4, 8, 16 on Fargate, got 3", id="batch-fargate-vcpus"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"].update(batch_capacity="EC2", batch_max_vcpus=1),
                 PAYMENTS_PROD + r"compute batch_jobs 'payments-reconciliation': vcpus must be a whole number from 1 "
                 r"to batch_max_vcpus \(1\) on EC2 instances, got 2", id="batch-ec2-vcpus"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"]["batch_jobs"][0].update(retry_attempts=11),
                 PAYMENTS_PROD + r"compute.batch_jobs\[0\] retry_attempts must be between 1 and 10, got 11",
                 id="batch-retries"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"]["batch_jobs"][0].update(image={"uri": "x", "directory": "y"}),
                 PAYMENTS_PROD + r"compute.batch_jobs\[0\].image needs exactly one of uri, directory, team_repository_tag",
                 id="two-image-sources"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"]["eks"].update(namespace="kube-system"),
                 PAYMENTS_PROD + r"compute.eks namespace kube-system is kept by Kubernetes", id="reserved-namespace"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"]["eks"].update(instance_types=["m6i.large", "m7g.large"]),
                 PAYMENTS_PROD + r"compute.eks instance_types mixes Graviton \(arm64\) and x86_64 types", id="mixed-arch"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"]["eks"].update(namespace="analytics"),
                 r"team 'analytics' stage 'prod': compute.eks.namespace 'analytics' is already used by team 'payments' in "
                 r"stage 'prod' on the same cluster \(account 222222222222, eu-west-1\); set another namespace, e.g. "
                 r"analytics-prod", id="namespace-taken"),
    # ECS families and Batch job definition names are account- and Region-wide: two stacks sharing one would
    # share its revisions, and one stage's DAGs could run the other's task, with the other's role (issue 24)
    pytest.param(lambda d: env(d, 0, "prod")["compute"]["ecs_tasks"][0].update(family="payments-settlement"),
                 r"compute.ecs_tasks family 'payments-settlement' is already used by team '(analytics|payments)' in "
                 r"stage 'prod' in the same account and Region \(222222222222, eu-west-1\); names there are shared",
                 id="ecs-family-taken"),
    pytest.param(lambda d: env(d, 0, "prod")["compute"].update(
                     batch_jobs=[{"name": "payments-reconciliation", "image": {"uri": "public.ecr.aws/x/y:1"}}]),
                 r"compute.batch_jobs name 'payments-reconciliation' is already used by team", id="batch-name-taken"),
    pytest.param(lambda d: env(d, 0, "prod")["compute"]["eks"].update(image_repositories=["payments"]),
                 r"compute.eks.image_repositories repository 'payments' is already named by team '(analytics|payments)' "
                 r"in the same account and Region \(222222222222, eu-west-1\)", id="repository-of-another-team"),
    # issue 26: a version change MWAA cannot make in place is refused before anything is built
    pytest.param(lambda d: env(d, 1, "prod").update(deployed_version="2.10.3", airflow_version="3.0.6"),
                 PAYMENTS_PROD + r"airflow_version 2.10.3 -> 3.0.6: MWAA upgrades to Airflow 3 in place only from "
                 r"2.11.2; from 2.10.3 create a new environment on 3.0.6 beside this one \(blue/green\)",
                 id="upgrade-needs-blue-green"),
    pytest.param(lambda d: env(d, 1, "prod")["compute"]["ecs_tasks"][0].update(family="f" * 81),
                 PAYMENTS_PROD + r"compute.ecs_tasks\[0\].family must be 1-80 letters, digits, .-. and ._. \(it names the "
                 r"task definition family and its launcher state machine\), got .f{30}", id="ecs-family-too-long"),
    pytest.param(lambda d: d["platform"].update(eks={"kubernetes_version": "1.29"}),
                 r"platform.eks: kubernetes_version must be one of 1.30, ", id="old-kubernetes"),
    pytest.param(lambda d: team(d, 0).update(alerts={"email": "a@b.c"}),
                 r"team 'analytics' \(teams\[0\]\): unknown key 'email' in alerts; allowed: budget_actual_percent, ",
                 id="alerts-unknown-key"),
    pytest.param(lambda d: team(d, 1)["alerts"].update(emails=["oncall"]),
                 r"team 'payments' \(teams\[1\]\): alerts emails entries must look like data-oncall@example.com, "
                 r"got 'oncall'", id="alerts-bad-email"),
    pytest.param(lambda d: team(d, 1)["alerts"].update(thresholds={"queued": {"threshold": 3}}),
                 r"alerts thresholds: unknown alarm 'queued'; allowed: scheduler_heartbeat", id="alerts-bad-threshold"),
    pytest.param(lambda d: team(d, 1)["alerts"].update(monthly_budget_usd={"staging": 10}),
                 r"team 'payments' \(teams\[1\]\): alerts.monthly_budget_usd names stage 'staging', where the team "
                 r"has no environment \(dev, prod\)", id="budget-unknown-stage"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0].update(account="33333333333"),
                 r"team 'payments' \(teams\[1\]\): cross_account\[0\] account .*12-digit", id="target-bad-account"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0].update(account="222222222222"),
                 r"cross_account\[0\] \(finance_glue\): account 222222222222 is the central environment's own "
                 r"account; set allow_same_account: true", id="target-same-account"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0].update(region="mars-north-1"),
                 r"cross_account\[0\] \(finance_glue\): region must be a Region botocore knows for STS, e.g. "
                 r"eu-west-1, got 'mars-north-1'", id="target-unknown-region"),
    pytest.param(lambda d: team(d, 1)["cross_account"][1].update(conn_id="finance_glue"),
                 r"cross_account\[1\] \(finance_glue\): conn_id 'finance_glue' is used twice in stage 'prod'",
                 id="target-duplicate-conn-id"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0].update(conn_id="finance glue"),
                 r"cross_account\[0\] conn_id must be 1-250 letters, digits, '_', '.' and '-'", id="target-bad-conn-id"),
    pytest.param(lambda d: team(d, 0).update(cross_account=[{**example()["teams"][1]["cross_account"][0]}]),
                 r"team 'analytics' \(teams\[0\]\) cross_account\[0\] \(finance_glue\): stage 'prod' must be a "
                 r"stage where the team has its own environment \(dev\)", id="target-on-shared"),
    pytest.param(lambda d: env(d, 1, "prod").pop("secrets_backend"),
                 r"team 'payments' \(teams\[1\]\) stage 'prod': cross_account connections are Secrets Manager "
                 r"secrets: set secrets_backend: true", id="target-needs-secrets-backend"),
    # the paths of issue 23: each broken one the example once had, refused before anything is built
    pytest.param(lambda d: env(d, 1, "prod")["secrets_backend"].update(connections_lookup_pattern="^payments_"),
                 r"cross_account\[0\] \(finance_glue\): conn_id 'finance_glue' does not match "
                 r"secrets_backend.connections_lookup_pattern '\^payments_' of stage 'prod': Airflow would never look",
                 id="path-lookup-pattern-hides-the-connection"),
    pytest.param(lambda d: team(d, 1)["cross_account"][1].pop("route_reason"),
                 r"cross_account\[1\] \(finance_archive_us\): sts in us-east-1 cannot be reached privately from "
                 r"eu-west-1: the network has no NAT and it has no cross-Region PrivateLink",
                 id="path-cross-region-without-a-route"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0].update(services=[]),
                 r"cross_account\[0\] services must list every service the statements call, so the network gets "
                 r"its endpoint: add glue", id="path-services-missing"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0]["statements"][0].pop("wildcard_reason"),
                 r"cross_account\[0\].statements\[0\] resources .* hold a wildcard, which cdk-nag reports "
                 r"\(AwsSolutions-IAM5\): say why it is acceptable in wildcard_reason \(at least 30 characters\)(?!, got)",
                 id="target-wildcard-without-reason"),
    pytest.param(lambda d: team(d, 0).pop("cost_center"), r"team 'analytics' \(teams\[0\]\): cost_center is required",
                 id="missing-cost-center"),
    pytest.param(lambda d: env(d, 0, "dev")["web_access"][0].update(airflow_role="Owner"),
                 ANALYTICS_DEV + r"web_access\[0\].airflow_role must be one of Admin, Op, User, Viewer, Public"
                 r", got 'Owner'", id="bad-airflow-role"),
    pytest.param(lambda d: env(d, 0, "dev")["web_access"][0].update(role_name="arn:aws:iam::123456789012:role/x"),
                 ANALYTICS_DEV + r"web_access\[0\] role_name must be the name of an IAM role .*got 'arn:aws:iam",
                 id="arn-not-name"),
    pytest.param(lambda d: env(d, 0, "dev")["web_access"][0].update(policy_name="x"),
                 r"web_access\[0\] needs exactly one of role_name .* or policy_name", id="role-and-policy"),
    pytest.param(lambda d: env(d, 0, "dev")["web_access"][0].update(role_name="AWSReservedSSO_Analysts_0123456789abcdef"),
                 r"is an IAM Identity Center role, which IAM cannot change; use policy_name", id="sso-role"),
    pytest.param(lambda d: env(d, 0, "dev").update(web_ingress=[{"cidr": "0.0.0.0/0", "description": "everyone"}]),
                 ANALYTICS_DEV + r"web_ingress\[0\] allow_web_from refuses 0.0.0.0/0", id="web-from-anywhere"),
    pytest.param(lambda d: env(d, 0, "dev").update(web_ingress=[{"cidr": "10.8.0.0/16"}]),
                 r"allow_web_from\(10.8.0.0/16\) needs a description saying whose range it is", id="cidr-no-description"),
    pytest.param(lambda d: env(d, 0, "dev").update(web_ingress=[{"security_group_id": "vpn"}]),
                 r"web_ingress\[0\].security_group_id string should match pattern", id="bad-sg-id"),
    pytest.param(lambda d: env(d, 0, "dev").update(web_ingress=[{"cidr": "10.8.0.0/16", "prefix_list_id": "pl-12345678"}]),
                 r"web_ingress\[0\] needs exactly one of security_group_id, prefix_list_id, cidr", id="two-peers"),
    pytest.param(lambda d: env(d, 0, "dev")["web_access"][0].update(role_arn="x"),
                 r"unknown key 'role_arn' in web_access\[0\]; allowed: airflow_role, policy_name, rest_api, role_name",
                 id="web-access-key"),
    pytest.param(lambda d: env(d, 1, "prod").update(weekly_maintenance_window_start="SUN:03:15"),
                 PAYMENTS_PROD + r"weekly_maintenance_window_start must be DAY:HH:MM.*got 'SUN:03:15'",
                 id="bad-maintenance-window"),
    pytest.param(lambda d: env(d, 0, "dev").update(dags="examples/nope"),
                 ANALYTICS_DEV + r"dags must be an existing directory, got '.*examples/nope'", id="missing-dags"),
    pytest.param(lambda d: env(d, 0, "prod").update(dags="examples/nope"),
                 r"team 'analytics' \(teams\[0\]\) stage 'prod': dags must be an existing directory", id="missing-shared-dags"),
    pytest.param(lambda d: env(d, 1, "prod").update(secrets_backend={"connections_prefix": "bad/"}),
                 PAYMENTS_PROD + r"secrets backend connections_prefix must be a Secrets Manager name prefix",
                 id="bad-secrets-prefix"),
    pytest.param(lambda d: env(d, 1, "prod")["airflow_configuration_options"].update(
                     {"secrets.backend": "airflow.secrets.local_filesystem.LocalFilesystemBackend"}),
                 PAYMENTS_PROD + r"secrets_backend sets Airflow configuration option 'secrets.backend' to .*but "
                 r"airflow_configuration_options already set it", id="configuration-conflict"),
    pytest.param(lambda d: env(d, 1, "prod").update(log_retention_days=100),
                 r"log_retention_days must be one of 1, 3, .*, got 100", id="bad-retention"),
    pytest.param(lambda d: d["platform"]["network"].update(cidr="10.0.0.0/8"),
                 r"platform.network: cidr prefix length must be between /16 and /22, got '10.0.0.0/8'", id="bad-cidr"),
    pytest.param(lambda d: d["platform"]["network"].update(endpoint_sets=["lambda"]),
                 r"platform.network: endpoint_sets: unknown set 'lambda'; allowed: secretsmanager, sts, codeartifact, ecs, batch, ecs-agent, eks",
                 id="unknown-endpoint-set"),
    pytest.param(lambda d: d["platform"]["network"].update(dns_allowed_domains=["pypi.org"]),
                 r"platform.network: dns_allowed_domains applies to the DNS firewall: set dns_firewall: true",
                 id="dns-domains-without-firewall"),
    pytest.param(lambda d: d["platform"].update(name="Platform_1"),
                 r"platform: name must be 2-40 lowercase letters, digits and '-'.*got 'Platform_1'", id="bad-platform-name"),
    pytest.param(lambda d: d["stages"]["dev"].update(account="12345"),
                 r"stages.dev: account entries must be 12-digit AWS account ids", id="bad-account"),
    pytest.param(lambda d: d["platform"]["tags"].update({"aws:owner": "x"}), r"platform: tags key 'aws:owner'",
                 id="reserved-tag"),
    pytest.param(lambda d: d.update(teams=[]), r"teams must list at least one team", id="no-teams"),
    pytest.param(lambda d: env(d, 0, "dev").update(airflow_version="two"),
                 ANALYTICS_DEV + r"airflow_version must look like MAJOR.MINOR.PATCH .*got 'two'", id="bad-version"),
    pytest.param(lambda d: env(d, 0, "dev").update(airflow_version="1.10.12"),
                 ANALYTICS_DEV + r"airflow_version 1.10.12 is older than any version MWAA runs \(the oldest is 2.7.2\)",
                 id="version-too-old"),
    pytest.param(lambda d: d["stages"]["dev"].update(region="eu-west-9"),
                 r"stages.dev: region must be a Region where MWAA runs .*got 'eu-west-9'", id="unknown-region"),
    pytest.param(lambda d: d["stages"]["dev"].update(availability_zones=["eu-west-1a"]),
                 r"stages.dev: availability_zones must list at least two different zone names", id="one-zone"),
    pytest.param(lambda d: d["stages"]["dev"].update(availability_zones=["us-east-1a", "us-east-1b"]),
                 r"stages.dev: availability_zones must be zones of eu-west-1", id="zones-of-another-region"),
    pytest.param(lambda d: env(d, 0, "prod").update(shared="nowhere"),
                 r"stage 'prod': shared 'nowhere' is not a shared environment of stage 'prod' \(there: central\)",
                 id="unknown-shared"),
    pytest.param(lambda d: env(d, 0, "prod").update(max_workers=5),
                 r"stage 'prod': max_workers belong to the shared environment 'central', not to a team on it",
                 id="settings-on-a-shared-placement"),
    pytest.param(lambda d: d["shared_environments"][0].update(stage="staging"),
                 r"shared environment 'central' \(shared_environments\[0\]\): stage 'staging' is not declared",
                 id="shared-in-undeclared-stage"),
    # issue 25: what failed only after building, or deploying, is a registry error
    pytest.param(lambda d: team(d, 0).update(cost_center=""),
                 r"team 'analytics' \(teams\[0\]\): cost_center becomes the cost-center tag of every resource: it must "
                 r"be 1-256 letters, digits, spaces and _.:/=\+-@ \(several CloudFormation resource types refuse an "
                 r"empty tag value\), got ''", id="empty-cost-center"),
    pytest.param(lambda d: d["shared_environments"][0].update(cost_center=""),
                 r"shared environment 'central' \(shared_environments\[0\]\): cost_center becomes the cost-center tag",
                 id="empty-shared-cost-center"),
    pytest.param(lambda d: team(d, 1)["tags"].update(owner=""),
                 r"team 'payments' \(teams\[1\]\): tags value of 'owner' must be 1-256 letters, digits, spaces and "
                 r"_.:/=\+-@ \(several CloudFormation resource types refuse an empty tag value\), got ''",
                 id="empty-tag-value"),
    pytest.param(lambda d: d["platform"]["tags"].update(owner="data#team"),
                 r"platform: tags value of 'owner' must be 1-256 letters, digits, spaces and _.:/=\+-@, got 'data#team'",
                 id="tag-value-character"),
    pytest.param(lambda d: env(d, 1, "prod").update(tags={"k" * 129: "v"}),
                 PAYMENTS_PROD + r"tags key 'k{129}' must be 1-128 letters, digits, spaces and _.:/=\+-@",
                 id="tag-key-too-long"),
    pytest.param(lambda d: team(d, 1)["tags"].update({"AWS:owner": "x"}),
                 r"team 'payments' \(teams\[1\]\): tags key 'AWS:owner' starts with 'aws:' \(in any case\), which AWS "
                 r"reserves for its own tags", id="reserved-tag-key-any-case"),
    pytest.param(lambda d: team(d, 1)["tags"].update(source="aws:marketplace"),
                 r"tags value of 'source' must not start with 'aws:' \(in any case\), which AWS reserves",
                 id="reserved-tag-value"),
    pytest.param(lambda d: team(d, 0).update(tags={f"key-{i}": "v" for i in range(46)}),
                 ANALYTICS_DEV + r"tags: its resources would carry 51 tags \(the platform's, the team's, the "
                 r"environment's and team, cost-center, stage\); AWS allows 50 per resource", id="too-many-tags"),
    pytest.param(lambda d: d["stages"]["dev"].update(availability_zones=["eu-west-1a", "eu-west-1z"]),
                 r"stages.dev: availability_zones entries must be a Region's name and one letter a-f, such as "
                 r"eu-west-1a, got 'eu-west-1z'", id="zone-letter"),
    pytest.param(lambda d: d["stages"]["prod"].update(account="111111111111",
                                                     availability_zones=["eu-west-1a", "eu-west-1c"]),
                 r"stages.prod: availability_zones must be those of stage 'dev', which deploys to the same account and "
                 r"Region \(111111111111, eu-west-1\) and so to the same network: \['eu-west-1a', 'eu-west-1b'\], got "
                 r"\['eu-west-1a', 'eu-west-1c'\]", id="zones-differ-in-one-network"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0]["statements"][0]["actions"].append("glue:Get*"),
                 r"team 'payments' \(teams\[1\]\): cross_account\[0\].statements\[0\] actions \['glue:Get\*'\] hold "
                 r"a wildcard, which cdk-nag reports \(AwsSolutions-IAM5\): say why it is acceptable in "
                 r"wildcard_action_reason \(at least 30 characters\)", id="wildcard-action-without-reason"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0]["statements"][0].update(wildcard_reason="settlement jobs"),
                 r"cross_account\[0\].statements\[0\] resources .* say why it is acceptable in wildcard_reason \(at "
                 r"least 30 characters\), got 'settlement jobs'", id="wildcard-reason-too-short"),
    pytest.param(lambda d: team(d, 1)["cross_account"][0]["statements"][0]["actions"].append("glue:*"),
                 r"cross_account\[0\].statements\[0\] actions must be service:Action \(no service:\*\), got 'glue:\*'",
                 id="service-wide-action"),
    # advice that fits the field: a number is not quoted, an account id has 12 digits
    pytest.param(lambda d: env(d, 1, "prod").update(schedulers=True),
                 PAYMENTS_PROD + r"schedulers must be a whole number, between 2 and 5 for mw1.large, got True \(YAML "
                 r"reads true as a boolean, not a number\)", id="schedulers-boolean"),
    pytest.param(lambda d: d["stages"]["dev"].update(account=12345),
                 r"stages.dev: account must be a 12-digit AWS account id in quotes, got 12345 \(YAML reads 12345 as a "
                 r"number; an account id is exactly 12 digits, quoted, such as \"111122223333\", and this one has 5\)",
                 id="account-unquoted-and-short"),
]


@pytest.mark.parametrize("edit, message", CASES)
def test_invalid_registry_is_rejected_with_file_where_and_field(tmp_path, edit, message):
    path = write(tmp_path, edited(edit))
    with pytest.raises(RegistryError, match=message) as error:
        load_registry(path)
    report = str(error.value).splitlines()
    problems = report[1:] if len(report) > 1 else report  # after the "N problems" head
    assert all(re.match(rf"{re.escape(str(path))}:\d+: ", problem) for problem in problems), problems
    assert "got {" not in str(error.value)  # a value, never a dump of the whole entry


def test_every_mistake_is_reported_in_one_run(tmp_path):
    def edit(document):
        env(document, 0, "dev").update(max_workers=3)
        env(document, 1, "prod").update(weekly_maintenance_window_start="SUN:03:15")
        document["platform"]["network"].update(cidr="10.0.0.0/8")
        document["stages"]["dev"].update(region="eu-west-9")
    with pytest.raises(RegistryError) as error:
        load_registry(write(tmp_path, edited(edit)))
    message = str(error.value)
    assert message.startswith("4 problems in the registry:")  # the Region too, though the schema failed elsewhere
    assert "max_workers must be exactly 1" in message and "SUN:03:15" in message and "10.0.0.0/8" in message
    assert "region must be a Region where MWAA runs" in message


def line_of(path, text, after=None):
    """The line of ``path`` (1-based) holding ``text``, the first after the line holding ``after``."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else -1
    return next(i for i, line in enumerate(lines) if i > start and text in line) + 1


def test_schema_and_semantic_problems_of_every_entry_and_field_come_in_one_run_each_on_its_line(tmp_path):
    """Issue 25: a schema error no longer hides a semantic one (an unknown Region), nor an entry's first
    problem its others; each names the file and the line of its value."""
    def edit(document):
        document["stages"]["dev"].update(region="eu-west-9")                          # semantic, a stage
        team(document, 1)["cross_account"][0].update(account="33333333333", conn_id="finance glue")  # two fields
        team(document, 1)["cross_account"][1].update(max_session_hours=13)            # another target, same team
        env(document, 0, "dev")["web_access"][0].update(role_name="arn:aws:iam::1:role/x", policy_name="x")
        env(document, 1, "prod").update(schedulers=9, max_workers=40)                  # two capacity fields
        team(document, 1)["alerts"].update(monthly_budget_usd={"dev": 300, "staging": 10})  # semantic, same team
    path = write(tmp_path, edited(edit))
    with pytest.raises(RegistryError) as error:
        load_registry(path)
    report = str(error.value).splitlines()

    def problem(line, text):
        return any(entry.startswith(f"{path}:{line}: ") and text in entry for entry in report), (line, text, report)
    assert problem(line_of(path, "region: eu-west-9"), "stages.dev: region must be a Region where MWAA runs")
    assert problem(line_of(path, "account: '33333333333'"), "cross_account[0] account entries must be 12-digit")
    assert problem(line_of(path, "conn_id: finance glue"), "cross_account[0] conn_id must be 1-250 letters")
    assert problem(line_of(path, "max_session_hours: 13"), "cross_account[1] max_session_hours must be 1-12, got 13")
    assert problem(line_of(path, "role_name: arn:aws"), "web_access[0] role_name must be the name of an IAM role")
    assert problem(line_of(path, "role_name: arn:aws"), "web_access[0] needs exactly one of role_name")
    assert problem(line_of(path, "schedulers: 9"), PAYMENTS_PROD.replace("\\", "") + "schedulers must be between 2 "
                                                   "and 5 for mw1.large, got 9")
    assert problem(line_of(path, "max_workers: 40"), "max_workers must be between 1 and 25 for mw1.large, got 40")
    assert problem(line_of(path, "staging: 10"), "alerts.monthly_budget_usd names stage 'staging'")
    assert report[0] == f"{len(report) - 1} problems in the registry:"
    lines = [int(entry[len(str(path)) + 1:].split(":")[0]) for entry in report[1:]]
    assert lines == sorted(lines)  # in the order of the file


def test_an_entry_the_schema_refuses_causes_no_second_misleading_problem(tmp_path):
    def edit(document):
        document["stages"]["dev"].update(account="12345")   # the dev stage is refused ...
        document["shared_environments"][0].update(max_workers=99)   # ... and the shared environment
        env(document, 1, "prod").update(dags="examples/nope")  # a semantic problem elsewhere still counts
    with pytest.raises(RegistryError) as error:
        load_registry(write(tmp_path, edited(edit)))
    message = str(error.value)
    assert "stages.dev: account entries must be 12-digit AWS account ids" in message
    assert "shared environment 'central' (shared_environments[0]): max_workers must be between" in message
    assert PAYMENTS_PROD.replace("\\", "") + "dags must be an existing directory" in message
    # ... so nothing says stage dev is undeclared, or that central is no shared environment
    assert "is not declared" not in message and "is not a shared environment" not in message
    assert message.startswith("3 problems in the registry:")


def test_a_key_written_twice_is_an_error_naming_both_lines(tmp_path):
    """YAML keeps the last of two equal keys without a word: a second `dev:` under stages moved every dev
    stack to another account."""
    path = write(tmp_path, edited(lambda d: None))
    lines = path.read_text().replace("stages:\n", "stages:\n  dev:\n    account: '999999999999'\n", 1).splitlines()
    first_class = next(i for i, line in enumerate(lines) if line.strip() == "environment_class: mw1.micro")
    indent = lines[first_class][:-len(lines[first_class].lstrip())]
    lines[first_class + 1:first_class + 1] = [f"{indent}max_workers: 1", f"{indent}environment_class: mw1.small"]
    path.write_text("\n".join(lines) + "\n")
    first_dev, other_dev = line_of(path, "dev:", after="stages:"), line_of(path, "dev:", after="999999999999")
    first_class += 1
    with pytest.raises(RegistryError) as error:
        load_registry(path)
    message = str(error.value)
    assert (f"{path}:{other_dev}: stages: key 'dev' is written twice, here and at {path}:{first_dev}; YAML would keep "
            "only this one and silently drop the other: merge them into one") in message
    assert f"{path}:{first_class + 2}: teams[0].environments.dev: key 'environment_class' is written twice, here and " \
           f"at {path}:{first_class}" in message


def test_a_wildcard_action_is_acknowledged_with_the_reason_the_registry_gives(tmp_path):
    """cdk-nag's AwsSolutions-IAM5 flags glue:Get* in a target role; its acknowledgment is written in the
    registry (wildcard_action_reason), so the platform team can justify it where it grants it."""
    import aws_cdk as cdk

    from harness import acknowledgments, assert_nag_clean, nag_violations
    from stacks.target_stack import TargetAccessStack

    reason = "GlueJobOperator reads the runs, jobs and triggers of the settlement Glue jobs only."

    def edit(document):
        statement = team(document, 1)["cross_account"][0]["statements"][0]
        statement["actions"].append("glue:Get*")
        statement["wildcard_action_reason"] = reason
    registry = load_registry(write(tmp_path, edited(edit)))
    ((env_spec, role),) = registry.target_roles["mwaa-platform-payments-prod-access-333333333333-eu-west-1"]

    def target_stack(role):
        app = new_app()
        return TargetAccessStack(app, "Target", platform=registry, roles=[(env_spec, role)],
                                 env=cdk.Environment(account="333333333333", region="eu-west-1"))
    stack = target_stack(role)
    assert_nag_clean(stack)
    (path,) = acknowledgments(stack)["AwsSolutions::AwsSolutions-IAM5[Action::glue:Get*]"]
    assert path.endswith("/Permissions")
    # the acknowledgment suppresses a real finding: without it, the pack reports the action
    statements = [statement.model_copy(update={"wildcard_action_reason": None}) for statement in role.target.statements]
    bare = replace(role, target=role.target.model_copy(update={"statements": statements}))
    assert any("AwsSolutions-IAM5" in violation for violation in nag_violations(target_stack(bare)))


def test_yaml_type_surprises_say_to_quote_the_value(tmp_path):
    path = tmp_path / "platform.yaml"
    text = EXAMPLE.read_text().replace('account: "111111111111"', "account: 111111111111")
    text = text.replace("cost_center: cc-1001", "cost_center: 0123").replace("cost_center: cc-2002", "cost_center: yes")
    path.write_text(text)
    (tmp_path / "examples").symlink_to(REPO_ROOT / "examples")
    with pytest.raises(RegistryError) as error:
        load_registry(path)
    message = str(error.value)
    assert 'stages.dev: account must be a 12-digit AWS account id in quotes, got 111111111111 (YAML reads ' \
           '111111111111 as a number; quote it: "111111111111")' in message
    assert 'cost_center must be a string, got 83 (YAML reads 0123 as the number 83; quote it: "0123")' in message
    assert 'cost_center must be a string, got True (YAML reads yes as a boolean; quote it: "yes")' in message


def test_yaml_aliases_are_refused_before_they_can_expand(tmp_path):
    bomb = "\n".join([
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
          f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(8)),
        "teams: [{name: x, cost_center: y, environments: {dev: {tags: *i}}}]",
    ])
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb)
    with pytest.raises(RegistryError, match=r"bomb.yaml:\d+: not valid YAML: .*aliases \(\*name\) are not supported"):
        load_registry(path)


def test_long_values_are_cut_in_messages(tmp_path):
    path = write(tmp_path, edited(lambda d: env(d, 0, "dev").update(environment_class="x" * 5000)))
    with pytest.raises(RegistryError) as error:
        load_registry(path)
    assert len(str(error.value)) < 1000


def test_newer_well_formed_versions_pass_with_a_warning(tmp_path):
    from aws_cdk.assertions import Annotations, Match

    app = new_app()
    # one team in one stage is enough, and keeps the synthesis that reads the annotations small
    document = {"stages": {"dev": example()["stages"]["dev"]},
                "teams": [{"name": "payments", "cost_center": "cc-2002",
                           "environments": {"dev": {"environment_class": "mw1.micro", "airflow_version": "3.9.1"}}}]}
    platform = build_platform(app, load_registry(write(tmp_path, document)))
    Annotations.from_stack(platform.environments["payments-dev"]).has_warning(
        "*", Match.string_like_regexp("Airflow 3.9.1 is not in the library.s version table"))


def test_nothing_is_built_from_an_invalid_registry(tmp_path):
    app = new_app()
    path = write(tmp_path, edited(lambda d: env(d, 1, "prod").update(max_workers=99)))
    with pytest.raises(RegistryError):
        build_platform(app, load_registry(path))
    assert app.node.children == []


def test_cdk_app_exits_with_the_error_and_writes_no_templates(tmp_path, monkeypatch):
    """app.py as `cdk synth` runs it (as __main__), in this process: a new interpreter would start
    another jsii runtime for the same check. Python prints a SystemExit's message, without a
    traceback, and exits 1."""
    path = write(tmp_path, edited(lambda d: env(d, 0, "dev").update(max_workers=3)))
    out = tmp_path / "cdk.out"
    monkeypatch.setenv("MWAA_PLATFORM_REGISTRY", str(path))
    monkeypatch.setenv("CDK_OUTDIR", str(out))
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(REPO_ROOT / "app.py"), run_name="__main__")
    assert exit_.value.code == (f"error: {path}:{line_of(path, 'max_workers: 3')}: team 'analytics' (teams[0]) stage "
                                "'dev': max_workers must be exactly 1 (fixed capacity) for mw1.micro, got 3")
    assert not list(out.glob("*.template.json"))


def test_yaml_syntax_and_missing_file_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("teams: [\n")
    with pytest.raises(RegistryError, match=r"broken.yaml:2: not valid YAML"):
        load_registry(broken)
    with pytest.raises(RegistryError, match=r"missing.yaml: registry file not found"):
        load_registry(tmp_path / "missing.yaml")


# --- stages, accounts and shared environments --------------------------------------------------------


def test_the_example_has_two_stages_in_two_accounts_and_a_shared_environment():
    platform = load_registry(EXAMPLE, environ={})
    stages = {stage.name: stage for stage in platform.stages}
    assert (stages["dev"].account, stages["prod"].account) == ("111111111111", "222222222222")
    assert stages["prod"].production and not stages["dev"].production
    assert {(n.account, n.stack_name) for n in platform.networks} == {
        ("111111111111", "mwaa-platform-network-dev"), ("222222222222", "mwaa-platform-network-prod")}
    by_name = {env.environment_name: env for env in platform.environments}
    assert set(by_name) == {"analytics-dev", "payments-dev", "payments-prod", "central-prod"}
    central = by_name["central-prod"]
    assert central.shared_by == ("analytics",)
    assert central.dags == {"analytics": str(REPO_ROOT / "examples" / "analytics" / "dags")}
    assert by_name["payments-prod"].cost_tags == {"data-classification": "confidential", "team": "payments",
                                                  "cost-center": "cc-2002", "stage": "prod"}
    (access,) = platform.team_access
    assert (access.team, access.stack_name, access.environment.environment_name) == (
        "analytics", "mwaa-platform-analytics-prod", "central-prod")
    networks = {n.stack_name: n for n in platform.networks}
    # payments' secrets backend, package index and task compute switch these on in its account only
    assert networks["mwaa-platform-network-prod"].endpoint_sets == (
        "secretsmanager", "sts", "codeartifact", "ecs", "batch", "eks")
    assert networks["mwaa-platform-network-dev"].endpoint_sets == ()
    # the paths of payments-prod's cross-account targets: the glue endpoint admits exactly the finance
    # role's statement; the US archive (STS and S3 of us-east-1) goes by its declared route, not through here
    assert networks["mwaa-platform-network-prod"].path_endpoints == (
        PathEndpoint("glue", principal_arns=("arn:aws:iam::333333333333:role/mwaa-payments-prod-finance_glue",),
                     actions=("glue:GetJob", "glue:StartJobRun", "glue:GetJobRun"), resource_account="333333333333",
                     resources=("arn:aws:glue:eu-west-1:333333333333:job/settlement-*",)),)
    assert networks["mwaa-platform-network-dev"].path_endpoints == ()
    # pods of analytics (shared environment) and payments (its own): one cluster in prod's account, none in dev's
    assert networks["mwaa-platform-network-prod"].eks_stack_name == "mwaa-platform-eks-prod"
    assert networks["mwaa-platform-network-dev"].eks_stack_name is None
    assert platform.eks_namespaces(by_name["central-prod"]) == ("analytics",)
    assert platform.eks_namespaces(by_name["payments-prod"]) == ("payments",)
    assert platform.eks_namespaces(by_name["payments-dev"]) == ()


def test_a_shared_environment_syncs_each_teams_dags_under_its_own_prefix(tmp_path):
    from aws_cdk.assertions import Template

    (home(tmp_path) / "payments-dags").mkdir()
    (home(tmp_path) / "payments-dags" / "p.py").write_text("# payments\n")

    def edit(document):
        env(document, 1, "prod").clear()
        env(document, 1, "prod").update(shared="central", dags="payments-dags")
        team(document, 1).pop("approved_by")  # its own production gate needs its own environment
        team(document, 1).pop("cross_account")  # roles are an own environment's
        one_stage(document, "prod")  # the prod stage is enough
    app = new_app()
    platform = build_platform(app, load_registry(write(tmp_path, edited(edit))))
    template = Template.from_stack(platform.environments["central-prod"])
    prefixes = sorted(r["Properties"]["DestinationPrefix"] for r in template.find_resources("Custom::MwaaDagSync").values())
    assert prefixes == ["dags/analytics", "dags/payments"]
    assert "payments-prod" not in platform.environments


def test_account_and_region_come_from_the_environment_when_a_stage_omits_them(tmp_path):
    def edit(document):
        document["stages"]["dev"] = {}
    platform = load_registry(write(tmp_path, edited(edit)),
                             environ={"CDK_DEPLOY_ACCOUNT": "210987654321", "CDK_DEPLOY_REGION": "us-east-2"})
    dev = next(stage for stage in platform.stages if stage.name == "dev")
    assert (dev.account, dev.region) == ("210987654321", "us-east-2")


def test_secrets_backend_true_uses_the_defaults(tmp_path):
    platform = load_registry(write(tmp_path, edited(lambda d: env(d, 0, "dev").update(secrets_backend=True))))
    backend = next(e for e in platform.environments if e.environment_name == "analytics-dev").secrets_backend
    # bound to the team and stage, which a blue/green migration's two environments share
    assert backend == SecretsManagerBackend().for_environment("analytics-dev")
    assert backend.prefixes == ("airflow/analytics-dev/connections", "airflow/analytics-dev/variables")


def test_two_environments_with_one_secrets_prefix_fail_naming_both(tmp_path):
    def edit(document):
        env(document, 0, "dev").update(secrets_backend={"connections_prefix": "airflow/shared"})
        env(document, 1, "dev").update(secrets_backend={"connections_prefix": "airflow/shared"})
    with pytest.raises(RegistryError, match=r"environment 'payments-dev': secrets prefix 'airflow/shared' is also read "
                                            r"by environment 'analytics-dev'"):
        load_registry(write(tmp_path, edited(edit)))


@pytest.mark.parametrize("days, name", [(1, "ONE_DAY"), (90, "THREE_MONTHS"), (365, "ONE_YEAR"), (3653, "TEN_YEARS")])
def test_retention_days_map_to_cdk_members(days, name):
    assert retention(days).name == name


# --- migration from the single-stage format ---------------------------------------------------------


def test_the_single_stage_format_still_loads(tmp_path):
    platform = load_registry(write(tmp_path, example(V1_EXAMPLE)), environ={})
    assert {(e.environment_name, e.stage.name, e.stage.account) for e in platform.environments} == {
        ("analytics-dev", "dev", DEFAULT_ACCOUNT), ("payments-prod", "prod", DEFAULT_ACCOUNT)}
    # its one network keeps its stack name, so upgrading does not build a second network
    assert [n.stack_name for n in platform.networks] == ["mwaa-platform-network"]
    assert {e.stack_name for e in platform.environments} == {"mwaa-platform-analytics-dev", "mwaa-platform-payments-prod"}


def test_single_stage_mistakes_are_reported_in_the_new_form(tmp_path):
    path = write(tmp_path, edited(lambda d: team(d, 0).update(max_workers=3), V1_EXAMPLE))
    with pytest.raises(RegistryError, match=ANALYTICS_DEV + r"max_workers must be exactly 1"):
        load_registry(path)


# --- a real account, no credentials -------------------------------------------------------------

REAL = {"CDK_DEPLOY_ACCOUNT": "111122223333", "CDK_DEPLOY_REGION": "eu-central-1"}


def synth_without_credentials(path, environ):
    """Build and synthesize as `cdk synth` would; return the cloud assembly's missing context."""
    app = new_app()
    build_platform(app, load_registry(path, environ=environ))
    manifest = Path(app.synth().directory) / "manifest.json"
    return json.loads(manifest.read_text()).get("missing")


def test_a_real_account_synthesizes_without_credentials_once_its_zones_are_declared(tmp_path, platform):
    # the example declares the zones of both its accounts: nothing is left for the CLI to look up (its
    # stages name their accounts, so the environment's account and Region play no part: the shared
    # synthesis of the example says it)
    assert load_registry(EXAMPLE, environ=REAL) == load_registry(EXAMPLE, environ={})
    assert not json.loads((Path(platform.assembly.directory) / "manifest.json").read_text()).get("missing")
    path = write(tmp_path, edited(lambda d: d["platform"].update(availability_zones=["eu-central-1a", "eu-central-1b"]),
                                  V1_EXAMPLE))
    assert not synth_without_credentials(path, REAL)


def test_a_real_account_without_declared_zones_fails_naming_the_lookup_and_both_remedies(tmp_path):
    def edit(document):
        document["stages"]["dev"] = {}
    path = write(tmp_path, edited(edit))
    with pytest.raises(RegistryError) as error:
        synth_without_credentials(path, REAL)
    message = str(error.value)
    assert "stages.dev: synthesis would look up the availability zones of account 111122223333 in eu-central-1 " \
           "(an AWS call" in message
    assert "`availability_zones: [eu-central-1a, eu-central-1b]` under the stage (dev)" in message
    assert '"availability-zones:account=111122223333:region=eu-central-1"' in message


def test_artifact_writers_reach_the_environment_and_are_checked(tmp_path):
    ci = "arn:aws:iam::111111111111:role/analytics-ci"
    platform = load_registry(write(tmp_path, edited(lambda d: env(d, 0, "dev").update(artifact_writers=[ci]))))
    analytics = next(e for e in platform.environments if e.environment_name == "analytics-dev")
    assert analytics.settings.artifact_writers == [ci]
    bad = write(tmp_path, edited(lambda d: env(d, 0, "dev").update(artifact_writers=["analytics-ci"])), name="bad.yaml")
    with pytest.raises(RegistryError, match=ANALYTICS_DEV + r"artifact_writers entries must be IAM role or user ARNs"):
        load_registry(bad)


def test_identity_center_policies_and_web_ingress_from_the_registry(tmp_path):
    from aws_cdk.assertions import Template

    def edit(document):
        env(document, 0, "dev")["web_access"].append({"policy_name": "analytics-dev-viewers", "airflow_role": "Viewer"})
        env(document, 0, "dev")["web_ingress"] = [{"prefix_list_id": "pl-0123456789abcdef0",
                                                   "description": "corporate VPN"}]
        only(document, 0, "dev")
    app = new_app()
    platform = build_platform(app, load_registry(write(tmp_path, edited(edit))))
    template = Template.from_stack(platform.environments["analytics-dev"])
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "analytics-dev-viewers"})
    template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "SourcePrefixListId": "pl-0123456789abcdef0", "FromPort": 443, "ToPort": 443, "Description": "corporate VPN"})


def test_requirements_that_need_the_internet_are_refused_without_a_wheelhouse_on_a_network_without_it(tmp_path):
    (home(tmp_path) / "requirements.txt").write_text("# the team's packages\npandas==2.1.4\n")

    def without_wheelhouse(document):
        env(document, 1, "prod").update(requirements="requirements.txt", wheelhouse=False, package_index=None)
    with pytest.raises(RegistryError, match=PAYMENTS_PROD + r"requirements '.*requirements.txt' line 2: 'pandas==2.1.4' "
                                            r"would be downloaded from PyPI, which this network cannot reach"):
        load_registry(write(tmp_path, edited(without_wheelhouse)))
    # by default the packages become a wheelhouse built at synthesis, so the registry accepts them
    load_registry(write(tmp_path, edited(lambda d: env(d, 1, "prod").update(requirements="requirements.txt",
                                                                              package_index=None)),
                        name="default.yaml"))


def test_a_wheelhouse_from_the_registry_ships_the_teams_wheels(tmp_path):
    import zipfile

    from aws_cdk.assertions import Template

    from test_wheelhouse import make_wheel

    make_wheel(home(tmp_path) / "wheels")
    (home(tmp_path) / "requirements.txt").write_text("demo-lib==1.0\n")

    def edit(document):
        env(document, 1, "prod").update(requirements="requirements.txt", wheelhouse={"find_links": "wheels"},
                                         package_index=None)
        only(document, 1, "prod")
    app = new_app()
    platform = build_platform(app, load_registry(write(tmp_path, edited(edit))))
    environment = platform.environments["payments-prod"].airflow
    assert environment.wheelhouse.wheels == ("demo_lib-1.0-py3-none-any.whl",)
    with zipfile.ZipFile(environment.wheelhouse.plugins) as archive:
        assert archive.namelist() == ["demo_lib-1.0-py3-none-any.whl"]
    Template.from_stack(platform.environments["payments-prod"]).has_resource_properties(
        "AWS::MWAA::Environment", {"PluginsS3Path": "plugins/plugins.zip"})


def test_a_package_index_from_the_registry_switches_on_its_endpoints(tmp_path):
    from aws_cdk.assertions import Template

    (home(tmp_path) / "requirements.txt").write_text("pandas==2.1.4\n")

    def edit(document):
        env(document, 1, "prod").update(requirements="requirements.txt", package_index={"domain_name": "payments"})
    full = load_registry(write(tmp_path, edited(edit)))
    networks = {n.stack_name: n for n in full.networks}
    assert "codeartifact" in networks["mwaa-platform-network-prod"].endpoint_sets
    assert "codeartifact" not in networks["mwaa-platform-network-dev"].endpoint_sets
    app = new_app()
    registry = load_registry(write(tmp_path, edited(lambda d: only(edit(d) or d, 1, "prod"))))
    platform = build_platform(app, registry)
    Template.from_stack(platform.environments["payments-prod"]).has_resource_properties(
        "AWS::CodeArtifact::Domain", {"DomainName": "payments"})
    assert platform.environments["payments-prod"].airflow.wheelhouse is None


def test_batch_on_ec2_instances_switches_on_the_ecs_agent_endpoints(tmp_path):
    registry = load_registry(write(tmp_path, edited(lambda d: env(d, 1, "prod")["compute"].update(
        batch_capacity="SPOT", batch_max_vcpus=32))))
    prod = next(n for n in registry.networks if n.stack_name == "mwaa-platform-network-prod")
    assert {"batch", "ecs-agent"} <= set(prod.endpoint_sets)


def test_the_benchmarks_generated_registry_is_a_valid_v2_registry_with_every_capability(tmp_path):
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        import bench
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(bench.registry(3)))
    settings = load_registry(path)
    assert not settings.single_stage_format
    assert [stage.name for stage in settings.stages] == list(bench.STAGES)
    assert len(settings.environments) == 3 * len(bench.STAGES)
    computes = [spec.settings.compute for spec in settings.environments]
    assert all(compute is not None and compute.ecs_tasks and compute.batch_jobs for compute in computes)
    assert all(spec.secrets_backend is not None and spec.web_access for spec in settings.environments)
    assert all(compute.eks is not None for compute in computes)  # 3 teams: all under bench.EKS_TEAMS
    assert all(spec.alerts is not None and spec.budget_usd and spec.cross_account for spec in settings.environments)
    assert len(settings.target_roles) == 3 * len(bench.STAGES)


def test_teams_of_different_data_classifications_on_one_environment_are_warned_about(tmp_path, capsys, monkeypatch):
    """Issue 24: a shared environment is one execution role; a confidential team there shares it with the rest."""
    assert load_registry(EXAMPLE, environ={}).warnings == ()   # analytics alone on central, pods with their images

    def place_payments(document):
        env(document, 1, "prod").clear()
        env(document, 1, "prod").update(shared="central", dags="../../../examples/payments/dags")
        team(document, 1).pop("approved_by")  # its own production gate needs its own environment
        team(document, 1).pop("cross_account")
        team(document, 1)["alerts"]["monthly_budget_usd"].pop("prod")
    platform = load_registry(write(tmp_path, edited(place_payments)))
    (warning,) = platform.warnings
    assert warning.startswith("shared environment 'central' stage 'prod': teams of different data-classification "
                              "share it: analytics (unclassified), payments (confidential)")
    # the app says it on every synthesis, and goes on to build
    import app
    built = []
    monkeypatch.setattr(app, "build_platform", lambda _app, settings, *selection: built.append(settings))
    application = new_app()
    application.node.set_context("registry", str(write(tmp_path, edited(place_payments), name="again.yaml")))
    app.build(application)
    assert f"warning: {home(tmp_path) / 'again.yaml'}: shared environment 'central'" in capsys.readouterr().err and built


def test_pods_that_name_no_repository_of_their_account_are_warned_about(tmp_path):
    """Nodes pull only the repositories a team names; none named means none of its own account's."""
    def no_images(document):
        env(document, 1, "prod")["compute"]["eks"].pop("image_repositories")
    (warning,) = load_registry(write(tmp_path, edited(no_images))).warnings
    assert warning.startswith("team 'payments' stage 'prod': compute.eks names no image_repositories")


def test_network_path_policy_scope_reaches_the_networks_endpoint_policies(tmp_path):
    from aws_cdk.assertions import Template
    from stacks.network_stack import NetworkStack

    def scoped(value):
        def edit(document):
            document["platform"]["network"]["path_policy_scope"] = value
        return write(tmp_path, edited(edit))
    with pytest.raises(RegistryError, match=r"platform\.network: path_policy_scope must be one of role, account, got 'team'"):
        load_registry(scoped("team"))
    platform = load_registry(scoped("account"))
    (spec,) = [n for n in platform.networks if n.stack_name == "mwaa-platform-network-prod"]
    stack = NetworkStack(new_app(), spec.stack_name, platform=platform, spec=spec,
                         env={"account": spec.account, "region": spec.region})
    (glue,) = [r["Properties"]["PolicyDocument"] for r in Template.from_stack(stack).to_json()["Resources"].values()
               if r["Type"] == "AWS::EC2::VPCEndpoint" and ".glue" in json.dumps(r["Properties"]["ServiceName"])]
    assert glue["Statement"][-1] == {
        "Sid": "PathAccount0", "Effect": "Allow", "Principal": {"AWS": "*"}, "Resource": "*",
        "Action": ["glue:GetJob", "glue:GetJobRun", "glue:StartJobRun"],
        "Condition": {"StringEquals": {"aws:PrincipalAccount": "333333333333", "aws:ResourceAccount": "333333333333"}}}
