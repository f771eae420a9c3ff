"""The platform app's stacks: names, stages, tags on every taggable resource, wiring to the network."""

import json
from types import SimpleNamespace
from pathlib import Path

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from harness import FIXTURE_REGISTRY, REPO_ROOT, TEST_REGION


def _template(platform, stack_name):
    stack = platform.assembly.get_stack_by_name(stack_name)
    return json.loads((Path(platform.assembly.directory) / stack.template_file).read_text())


def _taggable(resource_type):
    """Whether CloudFormation's resource schema (as cfn-lint ships it) says the type takes tags."""
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return False
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(TEST_REGION, resource_type).schema
    return bool(schema.get("tagging", {}).get("taggable")) and "Tags" in schema.get("properties", {})


def _tags(properties):
    tags = properties.get("Tags", {})
    return tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}


@pytest.fixture(scope="module")
def registry():
    """The example registry the platform fixture was built from: tests read it, never hard-code its teams."""
    from stacks.registry import load_registry

    return load_registry(FIXTURE_REGISTRY, environ={})


def test_stack_names_come_from_the_registry(platform, registry):
    expected = {n.stack_name for n in registry.networks} | {e.stack_name for e in registry.environments} | {
        a.stack_name for a in registry.team_access} | {n.eks_stack_name for n in registry.networks if n.eks_stack_name} | {
        n.monitoring_stack_name for n in registry.networks} | {
        *registry.target_roles} | {s.stack_name for s in registry.serverless}
    assert {s.stack_name for s in platform.assembly.stacks} == expected
    for env in registry.environments:
        assert env.stack_name == f"{registry.name}-{env.name}-{env.stage.name}"


def test_two_stages_in_two_accounts_produce_stacks_in_both(platform):
    stacks = platform.assembly.stacks
    accounts = {stack.stack_name: stack.environment.account for stack in stacks}
    assert accounts == {
        "mwaa-platform-network-dev": "111111111111", "mwaa-platform-network-prod": "222222222222",
        "mwaa-platform-analytics-dev": "111111111111", "mwaa-platform-payments-dev": "111111111111",
        "mwaa-platform-payments-prod": "222222222222", "mwaa-platform-central-prod": "222222222222",
        "mwaa-platform-analytics-prod": "222222222222", "mwaa-platform-eks-prod": "222222222222",
        "mwaa-platform-monitoring-dev": "111111111111", "mwaa-platform-monitoring-prod": "222222222222",
        "mwaa-platform-payments-prod-access-333333333333-eu-west-1": "333333333333",
        "mwaa-platform-payments-prod-access-333333333333-us-east-1": "333333333333",
        "mwaa-platform-reporting-dev": "111111111111",
    }
    assert {s.stack_name for s in stacks if s.termination_protection} == {
        "mwaa-platform-network-dev", "mwaa-platform-network-prod", "mwaa-platform-payments-prod",
        "mwaa-platform-central-prod", "mwaa-platform-analytics-prod", "mwaa-platform-eks-prod"}


def test_production_stages_have_termination_protection_and_others_do_not(platform, registry):
    stacks = {s.stack_name: s for s in platform.assembly.stacks}
    for env in [*registry.environments, *registry.team_access]:
        assert bool(stacks[env.stack_name].termination_protection) is env.stage.production, env.stack_name
    for network in registry.networks:
        assert stacks[network.stack_name].termination_protection is True
        if network.eks_stack_name:
            assert bool(stacks[network.eks_stack_name].termination_protection) is network.production


def test_stacks_deploy_into_their_stages_account_after_its_network(platform, registry):
    stacks = {s.stack_name: s for s in platform.assembly.stacks}
    networks = {(n.account, n.region): n for n in registry.networks}
    for env in registry.environments:
        stack = stacks[env.stack_name]
        assert stack.environment.account == env.stage.account and stack.environment.region == env.stage.region
        network = networks[(env.stage.account, env.stage.region)]
        # an environment whose teams run pods also reads the cluster's parameters
        expected = [network.stack_name] + ([network.eks_stack_name] if registry.eks_namespaces(env) else [])
        assert [d.id for d in stack.dependencies if not d.id.endswith(".assets")] == expected
    for network in registry.networks:
        if network.eks_stack_name:
            assert [d.id for d in stacks[network.eks_stack_name].dependencies
                    if not d.id.endswith(".assets")] == [network.stack_name]


def test_every_taggable_resource_of_an_environment_stack_carries_the_cost_tags(platform, registry):
    platform_tags = dict(registry.tags)
    for env in registry.environments:
        expected = {**env.cost_tags, **platform_tags}
        resources = _template(platform, env.stack_name)["Resources"]
        taggable = {lid: r for lid, r in resources.items() if _taggable(r["Type"])}
        assert {r["Type"] for r in taggable.values()} >= {
            "AWS::MWAA::Environment", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::IAM::Role", "AWS::Logs::LogGroup",
            "AWS::Lambda::Function", "AWS::EC2::SecurityGroup"}
        missing = {lid: r["Type"] for lid, r in taggable.items()
                   if not expected.items() <= _tags(r.get("Properties", {})).items()}
        assert missing == {}, env.stack_name


def test_network_stack_resources_carry_the_platform_tags(platform, registry):
    for network in registry.networks:
        resources = _template(platform, network.stack_name)["Resources"]
        missing = {lid: r["Type"] for lid, r in resources.items() if _taggable(r["Type"])
                   and not dict(registry.tags).items() <= _tags(r.get("Properties", {})).items()}
        assert missing == {}


def test_network_endpoints_follow_what_the_environments_there_use(platform, registry):
    for network in registry.networks:
        resources = _template(platform, network.stack_name)["Resources"]
        services = {r["Properties"]["ServiceName"].rsplit(".", 1)[-1] for r in resources.values()
                    if r["Type"] == "AWS::EC2::VPCEndpoint" and isinstance(r["Properties"]["ServiceName"], str)}
        uses_secrets = any(e.secrets_backend is not None for e in registry.environments
                           if (e.stage.account, e.stage.region) == (network.account, network.region))
        assert ("secretsmanager" in services) is uses_secrets, network.stack_name
        # STS only where nodes need it (EKS) or an environment assumes roles in other accounts
        assumes = any(env.cross_account for env in registry.environments_of(network))
        assert ("sts" in services) is (network.eks_stack_name is not None or assumes), network.stack_name


def test_web_access_attaches_a_managed_policy_or_names_one_for_identity_center(platform, registry):
    for owner in [*registry.environments, *registry.team_access]:
        environment = owner.environment if hasattr(owner, "environment") else owner
        resources = _template(platform, owner.stack_name)["Resources"]
        policies = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"
                    and r["Properties"]["PolicyDocument"]["Statement"][0]["Action"] == "airflow:CreateWebLoginToken"]
        arn = f"arn:aws:airflow:{owner.stage.region}:{owner.stage.account}:role/{environment.environment_name}/{{}}"
        expected = sorted((grant.role_name or grant.policy_name, arn.format(grant.airflow_role))
                          for grant in owner.web_access)
        found = sorted(((p.get("Roles") or [p.get("ManagedPolicyName")])[0],
                        p["PolicyDocument"]["Statement"][0]["Resource"]) for p in policies)
        assert found == expected, owner.stack_name


def test_team_stacks_export_nothing_and_import_nothing(platform):
    for stack in platform.assembly.stacks:
        template = _template(platform, stack.stack_name)
        assert "Fn::ImportValue" not in json.dumps(template)
        assert not any("Export" in output for output in template.get("Outputs", {}).values())


def test_team_stacks_add_no_rule_to_any_network_resource(platform, registry):
    """Onboarding a team changes nothing in the network stack: its rules name only its own groups, and
    the EKS API endpoint's group (one HTTPS rule from the environment's own group)."""
    team_stacks = [s.stack_name for s in platform.assembly.stacks
                   if any(r["Type"] == "AWS::MWAA::Environment"
                          for r in _template(platform, s.stack_name)["Resources"].values())]
    assert team_stacks
    for name in team_stacks:
        template = _template(platform, name)
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
                group = resource["Properties"]["GroupId"]
                if "Ref" in group:
                    parameter = template["Parameters"][group["Ref"]]["Default"]
                    assert parameter == f"/{registry.name}/eks/control-plane-security-group-id", (name, logical_id)
                    assert resource["Type"] == "AWS::EC2::SecurityGroupIngress"
                    assert (resource["Properties"]["FromPort"], resource["Properties"]["ToPort"]) == (443, 443)
                    source = resource["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0]
                    assert template["Resources"][source]["Type"] == "AWS::EC2::SecurityGroup"
                    continue
                assert "Fn::GetAtt" in group and group["Fn::GetAtt"][0] in template["Resources"], (name, logical_id)


def test_task_compute_from_the_registry_is_in_the_teams_stack_with_its_tags(platform, registry):
    with_compute = [(env.stack_name, env.settings.compute, env.cost_tags) for env in registry.environments
                    if getattr(env.settings, "compute", None) is not None] + [
        (team.stack_name, team.compute, team.cost_tags) for team in registry.team_access if team.compute is not None]
    assert len(with_compute) >= 2, "the example shows task compute on an own and on a shared environment"
    for stack_name, compute, cost_tags in with_compute:
        resources = _template(platform, stack_name)["Resources"]
        families = {r["Properties"]["Family"] for r in resources.values() if r["Type"] == "AWS::ECS::TaskDefinition"}
        jobs = {r["Properties"]["JobDefinitionName"] for r in resources.values() if r["Type"] == "AWS::Batch::JobDefinition"}
        assert families == {task.family for task in compute.ecs_tasks}
        assert jobs == {job.name for job in compute.batch_jobs}
        env = SimpleNamespace(cost_tags=cost_tags)
        for resource in resources.values():
            if resource["Type"] in ("AWS::ECS::Cluster", "AWS::Batch::JobQueue", "AWS::ECR::Repository"):
                assert env.cost_tags.items() <= _tags(resource["Properties"]).items(), resource["Type"]


def test_a_teams_compute_on_a_shared_environment_is_granted_to_the_shared_role_from_its_own_stack(platform, registry):
    for team in [t for t in registry.team_access if t.compute is not None]:
        resources = _template(platform, team.stack_name)["Resources"]
        (policy,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"
                     and "may start" in r["Properties"].get("Description", "")]
        assert policy["Roles"] == [team.environment.execution_role_name]
        actions = {s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"])
                   for s in policy["PolicyDocument"]["Statement"]}
        # the launcher's StartExecution, never RunTask or PassRole: the DAG cannot pick the task's network
        assert "states:StartExecution" in actions
        assert not any(a.startswith(("ecs:", "iam:")) for action in actions
                       for a in ([action] if isinstance(action, str) else action))
        environment = _template(platform, team.environment.stack_name)["Resources"]
        (role,) = [r for r in environment.values() if r["Type"] == "AWS::IAM::Role"
                   and r["Properties"].get("RoleName") == team.environment.execution_role_name]
        assert role


def _control_plane_rules(template, registry):
    parameter = f"/{registry.name}/eks/control-plane-security-group-id"
    refs = {name for name, p in template.get("Parameters", {}).items() if p.get("Default") == parameter}
    return [r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"]["GroupId"].get("Ref") in refs]


def test_pods_from_the_registry_get_a_namespace_node_group_and_access_limited_to_it(platform, registry):
    launching = [env for env in registry.environments if registry.eks_namespaces(env)]
    assert {env.shared for env in launching} == {True, False}, "the example shows pods on an own and a shared environment"
    for env in launching:
        template = _template(platform, env.stack_name)
        resources = template["Resources"]
        # no rule on the API endpoint's group: the environment joins the cluster's pod launch clients group,
        # which the EKS stack's one rule admits
        assert _control_plane_rules(template, registry) == []
        (environment,) = [r for r in resources.values() if r["Type"] == "AWS::MWAA::Environment"]
        clients = environment["Properties"]["NetworkConfiguration"]["SecurityGroupIds"][-1]
        assert template["Parameters"][clients["Ref"]]["Default"] == (
            f"/{registry.name}/eks/pod-launch-clients-security-group-id")
        # one access entry for the execution role, editing exactly the namespaces whose pods it launches
        (entry,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EKS::AccessEntry"]
        assert entry["PrincipalArn"] == {"Fn::GetAtt": [environment["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0],
                                                        "Arn"]}
        assert entry["AccessPolicies"] == [{
            "PolicyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
            "AccessScope": {"Type": "namespace", "Namespaces": list(registry.eks_namespaces(env))}}]
        assert entry["ClusterName"] == registry.network_of(env.stage).cluster_name
    for team in registry.team_access:
        if team.compute is None or team.compute.eks is None:
            continue
        resources = _template(platform, team.stack_name)["Resources"]
        # the team's own stack: its nodes only; no access entry (the shared role has one), no namespace
        assert not [r for r in resources.values() if r["Type"] in ("AWS::EKS::AccessEntry", "Custom::MwaaEksNamespace")]
        (group,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EKS::Nodegroup"]
        namespace = team.compute.eks.namespace or team.team
        assert group["Taints"] == [{"Key": "mwaa-platform/namespace", "Value": namespace, "Effect": "NO_SCHEDULE"}]
        assert group["Labels"]["mwaa-platform/team"] == team.team


def test_the_eks_stack_owns_every_team_namespace_with_its_own_handler(platform, registry):
    """Issue 24: namespaces are the platform's; team stacks never hold the handler's token, and no
    stack reads it from SSM (a token that could change under an existing custom resource)."""
    for network in registry.networks:
        if network.eks_stack_name is None:
            continue
        resources = _template(platform, network.eks_stack_name)["Resources"]
        namespaces = {r["Properties"]["Namespace"]: r["Properties"] for r in resources.values()
                      if r["Type"] == "Custom::MwaaEksNamespace"}
        assert sorted(namespaces) == sorted(namespace for _, namespace, _ in registry.eks_namespace_owners(network))
        (handler,) = [name for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"
                      and "namespace" in json.dumps(r["Properties"].get("Description", "")).lower()]
        for props in namespaces.values():
            assert props["ServiceToken"] == {"Fn::GetAtt": [handler, "Arn"]}
    for stack in platform.assembly.stacks:
        assert "namespace-handler-arn" not in json.dumps(stack.template), stack.stack_name
        if stack.stack_name not in {n.eks_stack_name for n in registry.networks}:
            assert not [r for r in stack.template["Resources"].values() if r["Type"] == "Custom::MwaaEksNamespace"]


def test_every_environment_alerts_its_own_topic_and_team_stacks_watch_their_compute(platform, registry):
    for env in registry.environments:
        resources = _template(platform, env.stack_name)["Resources"]
        alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
        assert alarms and all(a["AlarmName"].startswith(f"{env.environment_name}-") for a in alarms), env.stack_name
        assert all({"Name": "Environment", "Value": env.environment_name} in a["Dimensions"] for a in alarms)
        (topic,) = [name for name, r in resources.items() if r["Type"] == "AWS::SNS::Topic"]
        assert all(a["AlarmActions"] == [{"Ref": topic}] for a in alarms)
        emails = sorted(r["Properties"]["Endpoint"] for r in resources.values()
                        if r["Type"] == "AWS::SNS::Subscription")
        assert emails == sorted(env.alerts.emails if env.alerts else []), env.stack_name
        budgets = [r["Properties"]["Budget"] for r in resources.values() if r["Type"] == "AWS::Budgets::Budget"]
        assert [b["CostFilters"] for b in budgets] == (
            [{"TagKeyValue": [f"user:team${env.name}"]}] if env.budget_usd else []), env.stack_name
    for team in registry.team_access:
        resources = _template(platform, team.stack_name)["Resources"]
        assert not [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]  # the shared env's own
        rules = [r["Properties"]["EventPattern"] for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
        if team.compute is not None and team.compute.ecs_tasks:
            (ecs,) = [p for p in rules if p["source"] == ["aws.ecs"]]
            (cluster,) = ecs["detail"]["clusterArn"]
            assert cluster["Fn::GetAtt"][0] in resources  # the team's own cluster, in its own stack


def test_target_roles_trust_exactly_their_central_role_and_deploy_after_it(platform, registry):
    stacks = {s.stack_name: s for s in platform.assembly.stacks}
    assert registry.target_roles, "the example shows cross-account targets"
    for stack_name, roles in registry.target_roles.items():
        stack = stacks[stack_name]
        assert {(role.target.account, role.target.region) for _, role in roles} == {
            (stack.environment.account, stack.environment.region)}
        assert {d.id for d in stack.dependencies if not d.id.endswith(".assets")} == {
            env.stack_name for env, _ in roles}
        resources = _template(platform, stack.stack_name)["Resources"]
        trusted = {r["Properties"]["RoleName"]: r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                   for r in resources.values() if r["Type"] == "AWS::IAM::Role"}
        for env, role in roles:
            assert trusted[role.role_name] == [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                                "Principal": {"AWS": env.execution_role_arn}}]
            central = _template(platform, env.stack_name)["Resources"]
            (execution_role,) = [r for r in central.values() if r["Type"] == "AWS::IAM::Role"
                                 and r["Properties"].get("RoleName") == env.execution_role_name]
            secrets = {r["Properties"]["Name"] for r in central.values() if r["Type"] == "AWS::SecretsManager::Secret"}
            assert f"airflow/{env.environment_name}/connections/{role.target.conn_id}" in secrets


def test_each_networks_s3_perimeter_admits_its_own_accounts_buckets_only(platform, registry):
    """Each account its own perimeter (issue 24): dev's network never reaches prod's buckets."""
    for network in registry.networks:
        resources = _template(platform, network.stack_name)["Resources"]
        (gateway,) = [r["Properties"] for r in resources.values()
                      if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"].get("VpcEndpointType") == "Gateway"]
        (platform_buckets,) = [s for s in gateway["PolicyDocument"]["Statement"] if s.get("Sid") == "PlatformAccountsBuckets"]
        assert platform_buckets["Condition"] == {"StringEquals": {"aws:ResourceAccount": [network.account]}}
