"""Team isolation on a two-team platform: one team cannot read another's secrets or write its code;
and, on the example platform, what each principal of one team can reach of another."""

import json
import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template

from harness import TEST_ACCOUNT, TEST_REGION, iam_decision, new_stack, resolve_literals
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError, SecretsManagerBackend

CI_ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/analytics-ci"


@pytest.fixture(scope="module")
def two_teams():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["secretsmanager"])
    analytics = AirflowEnvironment(stack, "Analytics", environment_name="analytics-dev", network=network,
                                   secrets_backend=SecretsManagerBackend(), artifact_writers=[CI_ROLE])
    payments = AirflowEnvironment(stack, "Payments", environment_name="payments-prod", network=network,
                                  secrets_backend=SecretsManagerBackend(connections_lookup_pattern="^payments_"))
    template = Template.from_stack(stack).to_json()
    return stack, template, analytics, payments


def role_statements(stack, template, env):
    role_id = stack.get_logical_id(env.execution_role.node.default_child)
    return [statement for policy in template["Resources"].values()
            if policy["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role_id} in policy["Properties"].get("Roles", [])
            for statement in resolve_literals(policy["Properties"]["PolicyDocument"]["Statement"], template)]


def secret(environment, kind="connections", name="warehouse"):
    return f"arn:aws:secretsmanager:{TEST_REGION}:{TEST_ACCOUNT}:secret:airflow/{environment}/{kind}/{name}-AbCdEf"


@pytest.mark.parametrize("reader, owner", [("analytics-dev", "payments-prod"), ("payments-prod", "analytics-dev")])
def test_neither_execution_role_can_read_the_other_teams_secrets(two_teams, reader, owner):
    stack, template, analytics, payments = two_teams
    env = {"analytics-dev": analytics, "payments-prod": payments}[reader]
    statements = role_statements(stack, template, env)
    for kind in ("connections", "variables"):
        assert iam_decision(statements, action="secretsmanager:GetSecretValue", resource=secret(reader, kind)) == "allow"
        assert iam_decision(statements, action="secretsmanager:GetSecretValue",
                            resource=secret(owner, kind)) == "implicit-deny"
    # nor a shared, unprefixed secret
    assert iam_decision(statements, action="secretsmanager:GetSecretValue",
                        resource=f"arn:aws:secretsmanager:{TEST_REGION}:{TEST_ACCOUNT}:secret:airflow/connections/x-AbCdEf") \
        == "implicit-deny"


def test_the_backend_reads_its_own_prefixes(two_teams):
    _, template, *_ = two_teams
    kwargs = [r["Properties"]["AirflowConfigurationOptions"]["secrets.backend_kwargs"]
              for r in template["Resources"].values() if r["Type"] == "AWS::MWAA::Environment"]
    assert sorted(kwargs)[0].startswith('{"connections_prefix":"airflow/analytics-dev/connections",'
                                        '"variables_prefix":"airflow/analytics-dev/variables"')


def test_a_customer_managed_secrets_key_is_decryptable_through_secrets_manager_only():
    stack = new_stack()
    key = kms.Key(stack, "SecretsKey", enable_key_rotation=True)
    network = AirflowNetwork(stack, "Network", endpoint_sets=["secretsmanager"])
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network,
                             secrets_backend=SecretsManagerBackend(key=key))
    template = Template.from_stack(stack).to_json()
    (decrypt,) = [s for s in role_statements(stack, template, env) if s.get("Sid") == "DecryptAirflowSecrets"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"secretsmanager.{TEST_REGION}.amazonaws.com"}}
    assert decrypt["Resource"] == f"arn:aws:kms:{TEST_REGION}:{TEST_ACCOUNT}:key/{stack.get_logical_id(key.node.default_child)}"


# --- who may write a team's code ----------------------------------------------------------------


def bucket_statements(stack, template, env):
    bucket_id = stack.get_logical_id(env.source_bucket.node.default_child)
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"
                 and r["Properties"]["Bucket"] == {"Ref": bucket_id}]
    return resolve_literals(policy["Properties"]["PolicyDocument"]["Statement"], template), f"arn:aws:s3:::{bucket_id.lower()}"


@pytest.mark.parametrize("action", ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"])
def test_only_the_handler_and_listed_deployers_may_write_a_teams_bucket(two_teams, action):
    stack, template, analytics, payments = two_teams
    statements, bucket = bucket_statements(stack, template, analytics)
    handler = f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(analytics.artifacts.role.node.default_child)}"
    other_handler = f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(payments.artifacts.role.node.default_child)}"
    key = f"{bucket}/dags/etl.py"
    tls = {"aws:SecureTransport": "true"}
    # the team's own deploy still works: the bucket policy does not deny its handler or its CI role
    assert iam_decision(statements, action=action, resource=key, context={"aws:PrincipalArn": handler, **tls}) != "deny"
    assert iam_decision(statements, action=action, resource=key, context={"aws:PrincipalArn": CI_ROLE, **tls}) != "deny"
    # everyone else is denied, whatever their IAM policies say
    for intruder in (other_handler, f"arn:aws:iam::{TEST_ACCOUNT}:role/admin",
                     f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(analytics.execution_role.node.default_child)}"):
        assert iam_decision(statements, action=action, resource=key,
                            context={"aws:PrincipalArn": intruder, **tls}) == "deny", intruder


def test_the_other_teams_bucket_admits_only_its_own_handler(two_teams):
    stack, template, analytics, payments = two_teams
    statements, bucket = bucket_statements(stack, template, payments)
    (deny,) = [s for s in statements if s.get("Sid") == "OnlyDeployersWriteArtifacts"]
    handler = f"arn:aws:iam::{TEST_ACCOUNT}:role/{stack.get_logical_id(payments.artifacts.role.node.default_child)}"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [handler]}}
    assert iam_decision(statements, action="s3:PutObject", resource=f"{bucket}/requirements/requirements.txt",
                        context={"aws:PrincipalArn": CI_ROLE, "aws:SecureTransport": "true"}) == "deny"


def test_artifact_writers_must_be_role_or_user_arns():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    with pytest.raises(MwaaPlatformError, match=r"artifact_writers entries must be IAM role or user ARNs .*got 'ci-role'"):
        AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, artifact_writers=["ci-role"])
    with pytest.raises(MwaaPlatformError, match=r"artifact_writers must be a list"):
        AirflowEnvironment(stack, "Env2", environment_name="team-b", network=network, artifact_writers=CI_ROLE)


def test_a_bucket_the_library_does_not_manage_gets_a_warning_instead_of_a_policy():
    from aws_cdk import aws_s3 as s3

    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket.from_bucket_attributes(stack, "Bucket", bucket_name="team-a-artifacts", encryption_key=key)
    AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, source_bucket=bucket)
    Annotations.from_stack(stack).has_warning("/Test/Env", Match.string_like_regexp(
        "source_bucket Test/Bucket is not managed here, so its policy cannot be restricted"))


def test_the_evaluator_itself_tells_deny_from_allow():
    statements = [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/*",
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/ok"]}}},
    ]
    assert iam_decision(statements, action="s3:PutObject", resource="arn:aws:s3:::b/k",
                        context={"aws:PrincipalArn": "arn:aws:iam::1:role/ok"}) == "allow"
    assert iam_decision(statements, action="s3:PutObject", resource="arn:aws:s3:::b/k",
                        context={"aws:PrincipalArn": "arn:aws:iam::1:role/no"}) == "deny"
    assert iam_decision(statements, action="s3:GetObject", resource="arn:aws:s3:::c/k") == "implicit-deny"


# --- a way to the UI ------------------------------------------------------------------------------


def web_rules(stack, env):
    own = stack.get_logical_id(env.security_groups[0].node.default_child)
    template = Template.from_stack(stack).to_json()
    return [r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"]["GroupId"] == {"Fn::GetAtt": [own, "GroupId"]}
            and r["Properties"]["FromPort"] == 443 and "SourceSecurityGroupId" not in r["Properties"]] + [
        rule for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroup"
        and r is template["Resources"][own] for rule in r["Properties"].get("SecurityGroupIngress", [])
        if "SourceSecurityGroupId" not in rule]


def test_allow_web_from_admits_https_from_a_prefix_list_or_a_described_cidr_only():
    from aws_cdk import aws_ec2 as ec2

    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    env.allow_web_from(ec2.Peer.prefix_list("pl-0123456789abcdef0"))
    env.allow_web_from(ec2.Peer.ipv4("10.8.0.0/16"), description="corporate VPN")
    with pytest.raises(MwaaPlatformError, match=r"^Test/Env: allow_web_from refuses 0.0.0.0/0"):
        env.allow_web_from(ec2.Peer.any_ipv4(), description="everyone")
    with pytest.raises(MwaaPlatformError, match=r"allow_web_from refuses ::/0"):
        env.allow_web_from(ec2.Peer.any_ipv6(), description="everyone")
    with pytest.raises(MwaaPlatformError, match=r"allow_web_from\(10.9.0.0/16\) needs a description"):
        env.allow_web_from(ec2.Peer.ipv4("10.9.0.0/16"))
    rules = sorted((r.get("SourcePrefixListId") or r.get("CidrIp"), r["FromPort"], r["Description"])
                   for r in web_rules(stack, env))
    assert rules == [("10.8.0.0/16", 443, "corporate VPN"), ("pl-0123456789abcdef0", 443, "Airflow UI (HTTPS) for team-a")]


def test_allow_web_from_a_bastion_security_group_adds_the_matching_egress():
    from aws_cdk import aws_ec2 as ec2

    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    bastion = ec2.SecurityGroup(stack, "Bastion", vpc=network.vpc, allow_all_outbound=False)
    env.allow_web_from(bastion)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "FromPort": 443, "Description": "Airflow UI (HTTPS) for team-a",
        "SourceSecurityGroupId": {"Fn::GetAtt": [stack.get_logical_id(bastion.node.default_child), "GroupId"]},
        "GroupId": {"Fn::GetAtt": [stack.get_logical_id(env.security_groups[0].node.default_child), "GroupId"]}})


def test_identity_center_gets_a_fixed_name_policy_instead_of_an_attachment():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    policy = env.grant_web_login_policy("User")
    assert env.grant_web_login_policy("User") is policy
    env.grant_web_login_policy("Viewer", policy_name="team-a-readers")
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy", {"Properties": {
        "Description": Match.string_like_regexp("Identity Center")}})
    by_name = {p["Properties"]["ManagedPolicyName"]: p["Properties"] for p in policies.values()}
    assert set(by_name) == {"team-a-airflow-user-web-login", "team-a-readers"}
    user = by_name["team-a-airflow-user-web-login"]
    assert "Roles" not in user  # a permission set references it by name; nothing is attached
    assert user["PolicyDocument"]["Statement"] == [{
        "Action": "airflow:CreateWebLoginToken", "Effect": "Allow",
        "Resource": f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}:role/team-a/User"}]
    with pytest.raises(MwaaPlatformError, match=r"policy_name must be 1-128 letters, digits .*got 'team a'"):
        env.grant_web_login_policy("Op", policy_name="team a")


# --- the example platform: what each principal of team X can reach of team Y ---------------------
#
# docs/security-review.md, "What each principal of team X can reach of team Y", answers the question
# for every kind of principal the example platform creates; these tests hold its answers on the
# synthesized cloud assembly (the ``platform`` fixture), with the teams read from the registry.

#: Grants whose resource is neither the principal's own (a resource of its stack) nor named after its
#: team, by the service that assumes the role: what a principal can reach of every team. Each entry is
#: (assumed by, action, resource, condition) with the account, Region, cluster and asset hashes replaced;
#: ``managed-policy`` entries are AWS managed policies attached to the role. The document's table of
#: account-wide grants says what each gives over another team; a grant added or removed fails the
#: test until both change.
ACCOUNT_WIDE_GRANTS = {
    # execution roles: actions without resource-level permissions, the Celery queues in MWAA's
    # service account, the CodeArtifact bearer token, Batch's job actions, the stage's one EKS cluster
    *(("airflow", action, "*", None) for action in
      ("cloudwatch:PutMetricData", "logs:DescribeLogGroups", "s3:GetAccountPublicAccessBlock", "batch:DescribeJobs")),
    *(("airflow", f"sqs:{action}", "arn:aws:sqs:{region}:*:airflow-celery-*", None) for action in (
        "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl", "ReceiveMessage",
        "SendMessage")),
    ("airflow", "sts:GetServiceBearerToken", "*", '{"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}'),
    ("airflow", "batch:TerminateJob", "arn:aws:batch:{region}:{account}:job/*", None),
    ("airflow", "eks:DescribeCluster", "arn:aws:eks:{region}:{account}:cluster/{cluster}", None),
    # ECS launchers: Step Functions' log delivery and X-Ray, and the .sync rule Step Functions manages
    *(("states", action, "*", None) for action in (
        "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
        "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments")),
    *(("states", action, "arn:aws:events:{region}:{account}:rule/StepFunctionsGetEventsForECSTaskRule", None)
      for action in ("events:DescribeRule", "events:PutRule", "events:PutTargets")),
    # task and job execution roles: the ECR login (every pull is on the task's own repository)
    ("ecs-tasks", "ecr:GetAuthorizationToken", "*", None),
    # node roles: the ECR login, other accounts' images, and the policies EKS documents for nodes
    ("ec2", "ecr:GetAuthorizationToken", "*", None),
    *(("ec2", action, "*", '{"StringNotEquals": {"aws:ResourceAccount": "{account}"}}') for action in (
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")),
    ("ec2", "managed-policy", "AmazonEKSWorkerNodePolicy", None),
    ("ec2", "managed-policy", "AmazonEKS_CNI_Policy", None),
    # the cluster role; deploy-time handlers: the CDK assets they copy (by content hash), the prefix
    # list lookup, and the namespace handler's network interfaces in the VPC
    ("eks", "managed-policy", "AmazonEKSClusterPolicy", None),
    ("lambda", "s3:GetObject", "arn:aws:s3:::cdk-hnb659fds-assets-{account}-{region}/[asset-hash]", None),
    ("lambda", "ec2:DescribeManagedPrefixLists", "*", None),
    ("lambda", "managed-policy", "service-role/AWSLambdaVPCAccessExecutionRole", None),
}

_TRUSTED_KIND = {"airflow.amazonaws.com": "airflow", "airflow-env.amazonaws.com": "airflow",
                 "states.amazonaws.com": "states", "ecs-tasks.amazonaws.com": "ecs-tasks", "ec2.amazonaws.com": "ec2",
                 "eks.amazonaws.com": "eks", "lambda.amazonaws.com": "lambda",
                 "vpc-flow-logs.amazonaws.com": "vpc-flow-logs"}


@pytest.fixture(scope="module")
def registry(platform):
    """The registry the platform fixture was built from: the tests read its teams, never hard-code them."""
    from stacks.registry import load_registry

    return load_registry(platform.registry, environ={})


def _stacks(platform):
    """(stack name, account, Region, template) of every stack of the example platform."""
    return [(s.stack_name, s.environment.account, s.environment.region, s.template) for s in platform.assembly.stacks]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _team_names(registry):
    """Team -> every name its resources carry (lowercase): the team, its environments, their execution
    roles and package domains, its task families, job definitions, namespaces, image repositories,
    web-access roles and policies, its target roles and its serverless workflows."""
    names = {}

    def add(team, *values):
        names.setdefault(team, {team}).update(v.lower() for v in values if v)

    def add_compute(team, compute):
        if compute is None:
            return
        add(team, *(task.family for task in compute.ecs_tasks), *(job.name for job in compute.batch_jobs))
        if compute.eks is not None:
            add(team, compute.eks.namespace or team, *compute.eks.image_repositories)

    for env in registry.environments:
        add(env.name, env.environment_name, env.execution_role_name,
            *(grant.role_name or grant.policy_name for grant in env.web_access),
            *(target.role_name for target in env.cross_account))
        index = getattr(env.settings, "package_index", None)
        if index is not None:
            add(env.name, index.domain_name)
        add_compute(env.name, getattr(env.settings, "compute", None))
    for team in registry.team_access:
        add(team.team, *(grant.role_name or grant.policy_name for grant in team.web_access))
        add_compute(team.team, team.compute)
    for spec in registry.serverless:
        add(spec.team, *(name for name, _ in spec.workflows))
    return names


def _owners(registry):
    """Team stack -> the teams whose names it may carry: its own team, and for a shared environment its
    sharing teams (a team's stack on a shared environment names that environment)."""
    owners = {env.stack_name: {env.name, *env.shared_by} for env in registry.environments}
    owners.update({team.stack_name: {team.team, team.environment.name} for team in registry.team_access})
    owners.update({name: {env.name for env, _ in roles} for name, roles in registry.target_roles.items()})
    owners.update({spec.stack_name: {spec.team} for spec in registry.serverless})
    return owners


def _foreign(text, own, others):
    """The names of ``others`` that ``text`` carries once the names of its ``own`` teams are taken out
    (so a team named ``pay`` is not found inside ``payments-prod``)."""
    text = text.lower()
    for name in sorted(own, key=len, reverse=True):
        text = text.replace(name, "\0")
    return sorted(name for name in others if name in text)


def test_no_team_stack_names_anything_of_another_team(platform, registry):
    """A team's template, policies and trust policies included, names no environment, role, bucket,
    secret prefix, task family, job, namespace, repository or log group of another team."""
    names, owners = _team_names(registry), _owners(registry)
    assert len(names) >= 3 and len(owners) >= 5, "the example has several teams and a shared environment"
    found = []
    for stack_name, _, _, template in _stacks(platform):
        if stack_name not in owners:
            continue  # the platform's own stacks (network, EKS cluster, monitoring) serve every team
        own = set().union(*(names[team] for team in owners[stack_name]))
        others = set().union(*(names[team] for team in names if team not in owners[stack_name])) - own
        for section in ("Resources", "Parameters", "Outputs"):
            for logical_id, body in template.get(section, {}).items():
                for text in _strings(body):
                    found += [(stack_name, logical_id, name, text[:120]) for name in _foreign(text, own, others)]
    assert found == []


def test_the_name_check_finds_another_teams_name():
    assert _foreign("arn:aws:iam::1:role/payments-prod-exec", {"analytics", "central"}, {"payments", "pay"}) == [
        "pay", "payments"]
    assert _foreign("arn:aws:iam::1:role/payments-prod-exec", {"payments", "payments-prod"}, {"pay"}) == []


def _principal_policies(template, execution_role_names):
    """(assumed by, "statement", statement) of every statement of every role policy in ``template``, and
    (assumed by, "managed-policy", name) of every AWS managed policy attached to a role. A policy
    attached by name belongs to an execution role (``execution_role_names``) or to a team's own role
    outside the platform (web access, ``named:<role>``)."""
    resources = template["Resources"]
    kinds = {}
    for logical_id, body in resources.items():
        if body["Type"] == "AWS::IAM::Role":
            statements = body["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            services = {s for statement in statements for s in _as_list(statement["Principal"].get("Service", []))}
            kinds[logical_id] = {_TRUSTED_KIND.get(s, s) for s in services} or {"AWS"}
    for logical_id, body in resources.items():
        props = body.get("Properties", {})
        if body["Type"] == "AWS::IAM::Role":
            (kind,) = kinds[logical_id]
            for arn in props.get("ManagedPolicyArns", []):
                yield kind, "managed-policy", resolve_literals(arn, template).split(":policy/", 1)[1]
            for policy in props.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield kind, "statement", statement
        elif body["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            roles = props.get("Roles") or [None]
            for role in roles:
                if isinstance(role, dict):
                    (kind,) = kinds[role["Ref"]]
                else:
                    kind = "airflow" if role in execution_role_names else f"named:{role}"
                for statement in props["PolicyDocument"]["Statement"]:
                    yield kind, "statement", statement


def _execution_role_names(registry):
    return {env.execution_role_name for env in registry.environments if env.execution_role_name}


def _normalized(value, account, region, clusters):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = re.sub(r"\b[0-9a-f]{64}(\.[a-z]+)?\b", "[asset-hash]", text)
    for cluster in clusters:
        text = text.replace(f"cluster/{cluster}", "cluster/{cluster}")
    return text.replace(account, "{account}").replace(f":{region}:", ":{region}:").replace(
        f"-{region}/", "-{region}/")


def test_every_grant_beyond_a_principals_own_resources_is_a_listed_account_wide_grant(platform, registry):
    """No principal of any stack holds a grant on another team's resource: every resource of every
    Allow statement is a resource of the principal's own stack, carries its own team's name, is one
    the registry declared for its target role, or is one of the account-wide grants the document
    lists (``ACCOUNT_WIDE_GRANTS``), none of which is a team's resource."""
    names, owners = _team_names(registry), _owners(registry)
    clusters = [n.cluster_name for n in registry.networks if n.cluster_name]
    # a target role's statements are the registry's, on the target account's resources the team named
    declared = {name: {r for _, role in roles for statement in role.target.statements for r in statement.resources}
                for name, roles in registry.target_roles.items()}
    # a serverless workflow's derived grants are on what its team's definition names (derive_grants: true)
    for spec in registry.serverless:
        declared.setdefault(spec.stack_name, set()).update(_derived_resources(spec))
    found = set()
    for stack_name, account, region, template in _stacks(platform):
        logical_ids = set(template["Resources"])
        own = set().union(*(names[team] for team in owners.get(stack_name, ())))
        for kind, what, body in _principal_policies(template, _execution_role_names(registry)):
            if what == "managed-policy":
                found.add((kind, "managed-policy", body, None))
                continue
            if body["Effect"] != "Allow":
                continue
            condition = body.get("Condition")
            for resource in _as_list(resolve_literals(body["Resource"], template, account, region)):
                resource = resource if isinstance(resource, str) else json.dumps(resource, sort_keys=True)
                text = resource.lower()
                if any(lid.lower() in text for lid in logical_ids) or any(name in text for name in own) or \
                        resource in declared.get(stack_name, ()):
                    continue
                for action in _as_list(body["Action"]):
                    found.add((kind, action, _normalized(resource, account, region, clusters),
                               _normalized(condition, account, region, clusters) if condition else None))
    assert sorted(found - ACCOUNT_WIDE_GRANTS, key=str) == [], "an account-wide grant the document does not list"
    assert sorted(ACCOUNT_WIDE_GRANTS - found, key=str) == [], "listed, but no longer granted: update the document"


def _derived_resources(spec) -> set[str]:
    """The resources the derived grants of ``spec``'s workflows name, as the team's definitions write them."""
    import aws_cdk as cdk
    from mwaa_platform.serverless import derive_grants, load_definition

    account, region = spec.stage.account, spec.stage.region
    stack = cdk.Stack(cdk.App(), "Derive", env=cdk.Environment(account=account, region=region))
    return {resolve_literals(stack.resolve(resource), {}, account, region)
            for _, workflow in spec.workflows if workflow.derive_grants
            for grant in derive_grants(load_definition(workflow.definition), stack).grants
            for resource in grant.resources}


def _roles(template):
    return {lid: body for lid, body in template["Resources"].items() if body["Type"] == "AWS::IAM::Role"}


def test_every_role_is_assumable_only_by_its_own_service_resource_or_its_own_execution_role(platform, registry):
    """Trust policies: MWAA only for the stack's own environment, Step Functions only for the stack's
    own state machine, ECS tasks, Lambda and VPC Flow Logs only of this account; EC2 and EKS without
    conditions (the document says why); an AWS principal only in a target account's stack, and only
    the execution role that the registry gave that target."""
    environments = {env.stack_name: env for env in registry.environments}
    targets = {name: {env.execution_role_arn for env, _ in roles} for name, roles in registry.target_roles.items()}
    for stack_name, account, region, template in _stacks(platform):
        machines = {r["Properties"].get("StateMachineName") for r in template["Resources"].values()
                    if r["Type"] == "AWS::StepFunctions::StateMachine"}
        for logical_id, role in _roles(template).items():
            where = (stack_name, logical_id)
            (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow", where
            condition = resolve_literals(statement.get("Condition", {}), template, account, region)
            principal = statement["Principal"]
            if "AWS" in principal:
                assert stack_name in targets and condition == {}, where
                assert {principal["AWS"]} <= targets[stack_name], where
                continue
            services = set(_as_list(principal["Service"]))
            source_account = {"StringEquals": {"aws:SourceAccount": account}}
            if services == {"airflow.amazonaws.com", "airflow-env.amazonaws.com"}:
                env = environments[stack_name]
                assert condition == {**source_account, "ArnLike": {
                    "aws:SourceArn": f"arn:aws:airflow:{region}:{account}:environment/{env.environment_name}"}}, where
            elif services == {"states.amazonaws.com"}:
                (arn,) = [condition["ArnEquals"]["aws:SourceArn"]]
                assert arn.startswith(f"arn:aws:states:{region}:{account}:stateMachine:"), where
                assert arn.rsplit(":", 1)[1] in machines, where  # a state machine of this stack
                assert condition["StringEquals"] == source_account["StringEquals"], where
            elif services == {"ecs-tasks.amazonaws.com"}:
                assert condition == {**source_account, "ArnLike": {
                    "aws:SourceArn": f"arn:aws:ecs:{region}:{account}:*"}}, where
            elif services == {"lambda.amazonaws.com"}:
                assert condition == source_account, where
            elif services == {"airflow-serverless.amazonaws.com"}:
                names = {name for spec in registry.serverless if spec.stack_name == stack_name
                         for name, _ in spec.workflows}
                arn = condition["ArnLike"]["aws:SourceArn"]
                assert arn.startswith(f"arn:aws:airflow-serverless:{region}:{account}:workflow/"), where
                assert arn.rsplit("/", 1)[1].removesuffix("-*") in names, where  # a workflow of this stack
                assert condition["StringEquals"] == source_account["StringEquals"], where
            elif services == {"vpc-flow-logs.amazonaws.com"}:
                assert condition == {**source_account, "ArnLike": {
                    "aws:SourceArn": f"arn:aws:ec2:{region}:{account}:vpc-flow-log/*"}}, where
            else:
                assert services in ({"ec2.amazonaws.com"}, {"eks.amazonaws.com"}) and condition == {}, where


def test_no_team_principal_can_pass_assume_invoke_or_run_anything_of_another_team(platform, registry):
    """The actions that would turn one principal into another: iam:PassRole only on roles of its own
    stack and only to ECS tasks; sts:AssumeRole only on its own environment's target roles; no IAM,
    Lambda or Kubernetes-changing EKS action; ecs:RunTask only by a launcher, on its own family in its
    own cluster; task and job roles hold nothing at all."""
    targets = {env.stack_name: {t.role_arn for t in env.cross_account} for env in registry.environments}
    for stack_name, account, region, template in _stacks(platform):
        resources = template["Resources"]
        task_roles = [d["Properties"][key]["Fn::GetAtt"][0] for d in resources.values()
                      for key in ("TaskRoleArn",) if d["Type"] == "AWS::ECS::TaskDefinition"] + [
            d["Properties"]["ContainerProperties"]["JobRoleArn"]["Fn::GetAtt"][0] for d in resources.values()
            if d["Type"] == "AWS::Batch::JobDefinition"]
        for role in task_roles:
            assert "ManagedPolicyArns" not in resources[role]["Properties"], (stack_name, role)
            assert not [p for p in resources.values() if p["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
                        and {"Ref": role} in p["Properties"].get("Roles", [])], (stack_name, role)
        for kind, what, statement in _principal_policies(template, _execution_role_names(registry)):
            if what != "statement" or statement["Effect"] != "Allow":
                continue
            where = (stack_name, kind, statement.get("Sid"))
            actions = _as_list(statement["Action"])
            targeted = _as_list(statement["Resource"])
            assert not [a for a in actions if a.startswith(("lambda:", "iam:")) and a != "iam:PassRole"], where
            assert not [a for a in actions if a.startswith("eks:") and a != "eks:DescribeCluster"], where
            if "iam:PassRole" in actions:
                assert actions == ["iam:PassRole"], where
                assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
                assert all(isinstance(r, dict) and list(r) == ["Fn::GetAtt"] and r["Fn::GetAtt"][1] == "Arn"
                           and resources[r["Fn::GetAtt"][0]]["Type"] == "AWS::IAM::Role" for r in targeted), where
            if "sts:AssumeRole" in actions:
                assert kind == "airflow", where
                assert set(targeted) <= targets.get(stack_name, set()), where
            if "ecs:RunTask" in actions:
                assert kind == "states", where
                cluster = statement["Condition"]["ArnEquals"]["ecs:cluster"]
                assert cluster["Fn::GetAtt"][0] in resources, where
                (family,) = targeted
                families = {d["Properties"]["Family"] for d in resources.values() if d["Type"] == "AWS::ECS::TaskDefinition"}
                assert family.rsplit("/", 1)[1].removesuffix(":*") in families, where


def _team_stacks(platform, registry):
    """(stack name, template, registry entry) of every environment and team-on-a-shared-environment stack."""
    entries = {**{env.stack_name: env for env in registry.environments},
               **{team.stack_name: team for team in registry.team_access}}
    return [(name, template, entries[name]) for name, _, _, template in _stacks(platform) if name in entries]


def _group_of(value, template, registry):
    """"own" for a security group of ``template``, the SSM parameter's last part for a network or
    cluster group the stack reads, else the value itself (which no test accepts)."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "own" if template["Resources"][value["Fn::GetAtt"][0]]["Type"] == "AWS::EC2::SecurityGroup" else value
    if isinstance(value, dict) and value.get("Ref") in template.get("Parameters", {}):
        parameter = template["Parameters"][value["Ref"]]["Default"]
        return parameter.rsplit("/", 1)[1] if parameter.startswith(f"/{registry.name}/") else parameter
    if isinstance(value, str) and value.endswith(".GroupId"):  # resolve_literals' rendering of a GetAtt
        return _group_of({"Fn::GetAtt": value.split(".", 1)}, template, registry)
    if isinstance(value, str) and value.startswith("ref:"):
        return _group_of({"Ref": value[4:]}, template, registry)
    return value


def test_team_compute_runs_in_its_own_groups_and_no_rule_names_another_teams_group(platform, registry):
    """Where a team's compute runs on the network: the environment, the ECS launcher's tasks and the Batch
    compute environment in a group of the team's own stack plus the network's endpoint clients group
    (which admits nothing); the nodes in the cluster's own group, which every node group of the cluster
    shares, plus the endpoint clients group. An environment that launches pods also joins the cluster's
    pod launch clients group (which admits nothing; the API endpoint admits it). Every rule a team stack
    writes is on its own groups; no rule admits a CIDR or a prefix list except HTTPS to the team's own
    web server."""
    clients = "endpoint-clients-security-group-id"
    launching = {env.stack_name for env in registry.environments if registry.eks_namespaces(env)}
    for stack_name, template, _ in _team_stacks(platform, registry):
        for logical_id, resource in template["Resources"].items():
            props, where = resource.get("Properties", {}), (stack_name, logical_id)
            placed = None
            if resource["Type"] == "AWS::MWAA::Environment":
                placed = props["NetworkConfiguration"]["SecurityGroupIds"]
                pods = ["pod-launch-clients-security-group-id"] if stack_name in launching else []
                assert [_group_of(g, template, registry) for g in placed] == ["own", clients, *pods], where
                continue
            elif resource["Type"] == "AWS::Batch::ComputeEnvironment":
                placed = props["ComputeResources"]["SecurityGroupIds"]
            elif resource["Type"] == "AWS::StepFunctions::StateMachine":
                definition = json.loads(resolve_literals(props["DefinitionString"], template))
                for state in definition["States"].values():
                    network = state["Arguments"]["NetworkConfiguration"]["AwsvpcConfiguration"]
                    assert network["AssignPublicIp"] == "DISABLED", where
                    placed = network["SecurityGroups"]
            elif resource["Type"] == "AWS::EC2::LaunchTemplate":
                placed = props["LaunchTemplateData"].get("SecurityGroupIds")
                if placed is not None:  # EKS nodes; Batch's EC2 instances take the compute environment's groups
                    assert [_group_of(g, template, registry) for g in placed] == [
                        "cluster-security-group-id", clients], where
                    continue
            if placed is not None:
                assert [_group_of(g, template, registry) for g in placed] == ["own", clients], where
            if resource["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
                group = _group_of(props["GroupId"], template, registry)
                peer = props.get("SourceSecurityGroupId") or props.get("DestinationSecurityGroupId")
                assert group == "own", where
                if peer is not None:
                    assert _group_of(peer, template, registry) == "own", where
                else:  # a CIDR or prefix list: only HTTPS in, to the team's own web server
                    assert resource["Type"] == "AWS::EC2::SecurityGroupIngress" and props["FromPort"] == 443, where
            if resource["Type"] == "AWS::EC2::SecurityGroup":
                for rule in props.get("SecurityGroupIngress", []):
                    assert "SourceSecurityGroupId" not in rule and rule["FromPort"] == 443, where
                for rule in props.get("SecurityGroupEgress", []):  # CDK's placeholder for "no egress"
                    assert rule == {"CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic",
                                    "FromPort": 252, "IpProtocol": "icmp", "ToPort": 86}, where


#: Resource types that would change something a team stack does not own: the network, the cluster and
#: what runs in it, parameters others read, identities outside the team's roles, invoke permissions.
_OUTSIDE_A_TEAM = {
    "AWS::EC2::VPCEndpoint", "AWS::EC2::Route", "AWS::EC2::RouteTable", "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::NetworkAclEntry", "AWS::EC2::SubnetNetworkAclAssociation", "AWS::EKS::Cluster", "AWS::EKS::Addon",
    "AWS::EKS::PodIdentityAssociation", "AWS::EKS::IdentityProviderConfig", "Custom::MwaaEksNamespace",
    "AWS::SSM::Parameter", "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::UserToGroupAddition",
    "AWS::IAM::AccessKey", "AWS::Lambda::Permission", "AWS::Route53Resolver::FirewallRuleGroupAssociation",
    "AWS::Route53Resolver::ResolverRule", "AWS::Route53Resolver::ResolverRuleAssociation",
}


def test_a_team_stacks_deploy_changes_nothing_of_another_team(platform, registry):
    """What deploying a team's stack creates or changes outside its own resources: policies attached by
    name to the team's own web-access roles (and, for a team on a shared environment, to that
    environment's execution role), the environment's one access entry and the team's node group on the
    stage's cluster, each for the team's namespaces only, and the HTTPS rule into the EKS API
    endpoint's group (held by the previous test). No resource policy on anything it does not create;
    none of the types in ``_OUTSIDE_A_TEAM``."""
    for stack_name, template, entry in _team_stacks(platform, registry):
        resources = template["Resources"]
        shared = getattr(entry, "environment", None)
        team = entry.team if shared is not None else entry.name
        compute = entry.compute if shared is not None else getattr(entry.settings, "compute", None)
        attachable = {grant.role_name for grant in entry.web_access if grant.role_name} | (
            {shared.execution_role_name} if shared is not None else set())
        cluster = registry.network_of(entry.stage).cluster_name
        assert not {r["Type"] for r in resources.values()} & _OUTSIDE_A_TEAM, stack_name
        for logical_id, resource in resources.items():
            props, where = resource.get("Properties", {}), (stack_name, logical_id)
            if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                assert "Users" not in props and "Groups" not in props, where
                for role in props.get("Roles", []):
                    assert (role in attachable) if isinstance(role, str) else (
                        resources[role["Ref"]]["Type"] == "AWS::IAM::Role"), where
            for key in ("Bucket", "SecretId", "Topics", "Queues", "KeyId"):
                if resource["Type"].endswith("Policy") and key in props:
                    for target in _as_list(props[key]):
                        assert next(iter(target.values())) in resources, where
            if resource["Type"] == "AWS::EKS::AccessEntry":
                assert props["ClusterName"] == cluster and resources[props["PrincipalArn"]["Fn::GetAtt"][0]]
                (access,) = props["AccessPolicies"]
                assert access["AccessScope"] == {"Type": "namespace", "Namespaces": list(registry.eks_namespaces(entry))}
            if resource["Type"] == "AWS::EKS::Nodegroup":
                namespace = compute.eks.namespace or team
                assert props["ClusterName"] == cluster, where
                assert props["Taints"] == [{"Key": "mwaa-platform/namespace", "Value": namespace, "Effect": "NO_SCHEDULE"}]
                assert props["Labels"] == {"mwaa-platform/team": team, "mwaa-platform/namespace": namespace}, where


def test_batch_instances_hold_awss_ecs_instance_policy_on_every_resource_of_the_account():
    """Batch on EC2 or Spot instances (not in the example): the instance role is AWS's managed ECS
    instance policy and nothing else, whose image pulls and log writes are on every repository and log
    group of the account; the launch template requires IMDSv2 with one hop, so job containers (bridge
    mode, one hop further) cannot reach the instance metadata and its credentials."""
    from mwaa_platform.compute import BatchCompute, BatchJob, TaskImage

    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["batch", "ecs-agent"])
    compute = BatchCompute(stack, "Batch", network=network, capacity="EC2",
                           jobs=[BatchJob("team-a-report", TaskImage.team_repository("v1"), vcpus=2)])
    template = Template.from_stack(stack).to_json()
    role = stack.get_logical_id(compute.node.find_child("InstanceRole").node.default_child)
    props = template["Resources"][role]["Properties"]
    assert props["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}]
    assert [resolve_literals(arn, template) for arn in props["ManagedPolicyArns"]] == [
        "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"]
    assert not [p for p in template["Resources"].values() if p["Type"] == "AWS::IAM::ManagedPolicy"
                and {"Ref": role} in p["Properties"].get("Roles", [])]
    (launch,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
    assert launch["Properties"]["LaunchTemplateData"]["MetadataOptions"] == {
        "HttpPutResponseHopLimit": 1, "HttpTokens": "required"}
