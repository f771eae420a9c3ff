"""Paths: each way a DAG reaches AWS is recorded where it is granted, and the preflight follows it
through the whole app. Each rule fails on the broken shape the example platform once had, and passes
the fixed one (issue 23)."""

import json
import re

import pytest
from aws_cdk.assertions import Template

from harness import new_stack
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError, SecretsManagerBackend
from mwaa_platform.compliance import PREFLIGHT_RULES, StackTemplate, run_preflight
from mwaa_platform.compute import BatchCompute, BatchJob, EcsTaskCompute, TaskImage
from mwaa_platform.network import PathEndpoint
from mwaa_platform.paths import (
    ENVIRONMENT_METADATA_KEY,
    KUBERNETES_PROVIDER,
    PATHS_METADATA_KEY,
    DagPath,
    recorded_paths,
)

CENTRAL, TARGET = "222222222222", "333333333333"
GLUE_ROLE = f"arn:aws:iam::{TARGET}:role/mwaa-payments-prod-finance_glue"
ARCHIVE = "arn:aws:s3:::finance-archive/payments/*"
PATH_RULE_NAMES = {"path-connection-lookup", "path-route", "path-provider", "airflow-configuration-options"}


def environment(version="2.11.0", options=None, requirements=None, egress=False, name="payments-prod"):
    return {"Type": "AWS::MWAA::Environment",
            "Metadata": {ENVIRONMENT_METADATA_KEY: {"requirements": requirements or {}, "internetEgress": egress}},
            "Properties": {"Name": name, "AirflowVersion": version, "AirflowConfigurationOptions": options or {}}}


def backend(pattern=None):
    kwargs = {"connections_prefix": "airflow/payments-prod/connections"}
    if pattern is not None:
        kwargs["connections_lookup_pattern"] = pattern
    return {"secrets.backend": "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
            "secrets.backend_kwargs": json.dumps(kwargs)}


def endpoint(service, *, region="eu-west-1", gateway=False, policy=None, service_region=None):
    properties = {"ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, f".{service}"]]}
                  if service_region is None else f"com.amazonaws.{service_region}.{service}",
                  "VpcEndpointType": "Gateway" if gateway else "Interface", "VpcId": "vpc-1"}
    if policy is not None:
        properties["PolicyDocument"] = {"Version": "2012-10-17", "Statement": policy}
    if service_region is not None:
        properties["ServiceRegion"] = service_region
    return {"Type": "AWS::EC2::VPCEndpoint", "Properties": properties}


def allow(prefix, *, principal_accounts=None, resource_accounts=None, resources="*", actions=None,
          principal_arns=None, effect="Allow"):
    condition = {}
    if principal_accounts:
        condition["aws:PrincipalAccount"] = principal_accounts
    if resource_accounts:
        condition["aws:ResourceAccount"] = resource_accounts
    statement = {"Effect": effect, "Principal": {"AWS": "*"}, "Action": actions or f"{prefix}:*", "Resource": resources}
    if condition:
        statement["Condition"] = {"StringEquals": condition}
    if principal_arns:
        statement.setdefault("Condition", {})["ArnEquals"] = {"aws:PrincipalArn": principal_arns}
    return statement


def app(resources, paths, *, network=None, nat=False):
    """The environment's stack (its paths in the template metadata) and the account's network stack."""
    env_stack = StackTemplate(name="env", account=CENTRAL, region="eu-west-1", template={
        "Resources": resources, "Metadata": {PATHS_METADATA_KEY: [path.to_metadata() for path in paths]}})
    network_resources = dict(network or {})
    if nat:
        network_resources["Nat"] = {"Type": "AWS::EC2::NatGateway", "Properties": {}}
    return [env_stack, StackTemplate(name="network", account=CENTRAL, region="eu-west-1",
                                     template={"Resources": network_resources})]


def findings(stacks, rule):
    return [finding for finding in run_preflight(stacks) if finding.rule == rule]


def glue_path(**changes):
    values = dict(environment="payments-prod", capability="glue through connection finance_glue",
                  operator="airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook", services=("glue",),
                  conn_id="finance_glue", principal_arn=GLUE_ROLE, principal_account=TARGET, resource_account=TARGET)
    values.update(changes)
    return DagPath(**values)


def test_the_path_rules_are_preflight_rules():
    assert PATH_RULE_NAMES <= set(PREFLIGHT_RULES)


def test_paths_round_trip_through_template_metadata():
    path = glue_path(region="us-east-1", resources=(ARCHIVE,), providers=("apache-airflow-providers-amazon>=9.0.0",))
    assert DagPath.from_metadata(json.loads(json.dumps(path.to_metadata()))) == path
    assert path.provider_requirements == {"apache-airflow-providers-amazon": "9.0.0"}
    with pytest.raises(MwaaPlatformError, match="path principal_account must be a 12-digit AWS account id"):
        glue_path(principal_account="3333")


# --- path-connection-lookup ----------------------------------------------------------------------


def test_a_connection_the_lookup_pattern_hides_fails():
    stacks = app({"Env": environment(options=backend("^payments_"))}, [glue_path()], nat=True)
    (finding,) = findings(stacks, "path-connection-lookup")
    assert "environment payments-prod" in finding.message and "connection id 'finance_glue'" in finding.message
    assert "'^payments_'" in finding.message and "runs as the execution role" in finding.message


@pytest.mark.parametrize("pattern", [None, "^(payments|finance)_", "^FINANCE_"])
def test_a_pattern_that_matches_or_none_passes(pattern):
    assert findings(app({"Env": environment(options=backend(pattern))}, [glue_path()], nat=True),
                    "path-connection-lookup") == []


def test_a_connection_on_an_environment_without_the_backend_fails():
    (finding,) = findings(app({"Env": environment()}, [glue_path()], nat=True), "path-connection-lookup")
    assert "no Secrets Manager backend" in finding.message


# --- path-route: endpoints in the Region, NAT, cross-Region --------------------------------------


def test_a_service_without_its_endpoint_in_a_network_without_nat_fails():
    stacks = app({"Env": environment(options=backend())}, [glue_path()], network={"Sts": endpoint("sts")})
    (finding,) = findings(stacks, "path-route")
    assert "no glue endpoint in eu-west-1" in finding.message and "path_endpoints" in finding.message


def test_nat_or_the_endpoint_gives_the_route():
    path = [glue_path()]
    assert findings(app({"Env": environment(options=backend(), egress=True)}, path, nat=True), "path-route") == []
    ok = app({"Env": environment(options=backend())}, path,
             network={"Glue": endpoint("glue", policy=[allow("glue", principal_accounts=[CENTRAL, TARGET])])})
    assert findings(ok, "path-route") == []


def test_an_endpoint_policy_admitting_only_the_networks_account_denies_the_assumed_role():
    stacks = app({"Env": environment(options=backend())}, [glue_path()],
                 network={"Glue": endpoint("glue", policy=[allow("glue", principal_accounts=CENTRAL)])})
    (finding,) = findings(stacks, "path-route")
    assert f"does not allow glue calls of {GLUE_ROLE} (account 333333333333)" in finding.message


def test_another_region_needs_a_cross_region_endpoint_or_nat():
    path = glue_path(services=("s3",), region="us-east-1", resources=(ARCHIVE,))
    local_s3 = {"S3": endpoint("s3", gateway=True, policy=[allow("s3", principal_accounts=[TARGET],
                                                                 resources=[ARCHIVE], actions=["s3:GetObject"])])}
    (finding,) = findings(app({"Env": environment(options=backend())}, [path], network=local_s3), "path-route")
    assert "s3 in us-east-1 is not reachable from eu-west-1" in finding.message and "cross-Region" in finding.message
    remote = {**local_s3, "S3Us": endpoint("s3", service_region="us-east-1", policy=[
        allow("s3", principal_accounts=[TARGET], resources=[ARCHIVE], actions=["s3:GetObject"])])}
    assert findings(app({"Env": environment(options=backend())}, [path], network=remote), "path-route") == []


def test_a_service_without_cross_region_privatelink_is_refused_unless_routed():
    path = glue_path(region="us-east-1")
    network = {"Sts": endpoint("sts")}
    (finding,) = findings(app({"Env": environment(options=backend())}, [path], network=network), "path-route")
    assert "glue has no cross-Region PrivateLink" in finding.message
    routed = glue_path(region="us-east-1", route_reason="Transit Gateway to the us-east-1 endpoint VPC of finance")
    assert findings(app({"Env": environment(options=backend())}, [routed], network=network), "path-route") == []


def test_the_s3_perimeter_must_admit_the_paths_resources_not_only_the_platform_accounts():
    path = glue_path(services=("s3",), resources=(ARCHIVE,))
    perimeter = {"S3": endpoint("s3", gateway=True, policy=[allow("s3", resource_accounts=[CENTRAL])])}
    (finding,) = findings(app({"Env": environment(options=backend())}, [path], network=perimeter), "path-route")
    assert f"on {ARCHIVE}" in finding.message and "resource account 333333333333" in finding.message
    # the narrow fix: exactly the path's resources for the target account's principals
    narrow = {"S3": endpoint("s3", gateway=True, policy=[
        allow("s3", resource_accounts=[CENTRAL]),
        allow("s3", principal_accounts=[TARGET], resources=["arn:aws:s3:::finance-archive/payments/*"],
              actions=["s3:GetObject", "s3:PutObject"])])}
    assert findings(app({"Env": environment(options=backend())}, [path], network=narrow), "path-route") == []
    # another bucket of the same account is still outside
    other = glue_path(services=("s3",), resources=("arn:aws:s3:::finance-ledger/*",))
    assert len(findings(app({"Env": environment(options=backend())}, [other], network=narrow), "path-route")) == 1


def test_the_policy_must_allow_each_recorded_action_for_the_role_itself():
    path = glue_path(actions=("glue:GetJob", "glue:StartJobRun"),
                     resources=("arn:aws:glue:eu-west-1:333333333333:job/settlement-eu",))
    def check(*statements):
        network = {"Glue": endpoint("glue", policy=list(statements))}
        return findings(app({"Env": environment(options=backend())}, [path], network=network), "path-route")
    only_get = allow("glue", actions=["glue:GetJob"], principal_arns=[GLUE_ROLE], resource_accounts=[TARGET])
    (finding,) = check(only_get)
    assert "does not allow glue:GetJob, glue:StartJobRun of " + GLUE_ROLE in finding.message
    exact = allow("glue", actions=["glue:GetJob", "glue:StartJobRun"], principal_arns=[GLUE_ROLE],
                  resource_accounts=[TARGET], resources=["arn:aws:glue:eu-west-1:333333333333:job/settlement-*"])
    assert check(exact) == []
    other_role = allow("glue", principal_arns=[GLUE_ROLE.replace("finance_glue", "other")])
    assert len(check(other_role)) == 1
    # an explicit deny wins, and a deny the check cannot read counts as denying
    assert len(check(exact, allow("glue", actions=["glue:StartJobRun"], effect="Deny"))) == 1
    odd_deny = {**allow("glue", effect="Deny"), "Condition": {"StringEquals": {"aws:SourceVpc": "v"}}}
    assert len(check(exact, odd_deny)) == 1


def test_a_wildcard_resource_of_the_path_is_covered_only_by_a_wildcard():
    path = glue_path(services=("s3",), resources=("arn:aws:s3:::finance-archive/a*",))
    def check(pattern):
        network = {"S3": endpoint("s3", gateway=True, policy=[allow("s3", resources=[pattern])])}
        return findings(app({"Env": environment(options=backend())}, [path], network=network), "path-route")
    assert len(check("arn:aws:s3:::finance-archive/a?")) == 1   # two-character keys only
    assert check("arn:aws:s3:::finance-archive/*") == []


def test_with_nat_a_missing_endpoint_is_fine_but_an_endpoint_that_denies_is_not():
    """Private DNS sends the calls to an endpoint of the service even when the network has NAT."""
    env = {"Env": environment(options=backend(), egress=True)}
    assert findings(app(env, [glue_path()], network={"Sts": endpoint("sts")}, nat=True), "path-route") == []
    own_only = {"Glue": endpoint("glue", policy=[allow("glue", principal_accounts=CENTRAL)])}
    assert len(findings(app(env, [glue_path()], network=own_only, nat=True), "path-route")) == 1


def test_an_unknown_condition_is_never_taken_as_admitting():
    odd = {"Glue": endpoint("glue", policy=[{**allow("glue"), "Condition": {"StringEquals": {"aws:SourceVpc": "v"}}}])}
    assert len(findings(app({"Env": environment(options=backend())}, [glue_path()], network=odd), "path-route")) == 1


# --- path-provider --------------------------------------------------------------------------------


def eks_path():
    return DagPath(environment="payments-prod", capability="EKS pods in namespace payments",
                   operator="airflow.providers.amazon.aws.operators.eks.EksPodOperator", services=("eks",),
                   providers=("apache-airflow-providers-amazon", KUBERNETES_PROVIDER))


@pytest.mark.parametrize("version, constrained", [("2.11.0", "10.5.0"), ("3.0.6", "10.7.0")])
def test_an_operator_whose_provider_mwaas_image_lacks_fails_until_the_requirements_add_it(version, constrained):
    (finding,) = findings(app({"Env": environment(version)}, [eks_path()], nat=True), "path-provider")
    assert f"imports {KUBERNETES_PROVIDER}, which MWAA's image for Airflow {version} does not install" in finding.message
    assert f"'{KUBERNETES_PROVIDER}=={constrained}'" in finding.message
    fixed = environment(version, requirements={KUBERNETES_PROVIDER: f"=={constrained}"})
    assert findings(app({"Env": fixed}, [eks_path()], nat=True), "path-provider") == []


def test_a_provider_pinned_against_mwaas_constraints_fails():
    pinned = environment("2.11.0", requirements={KUBERNETES_PROVIDER: "==10.4.0"})
    (finding,) = findings(app({"Env": pinned}, [eks_path()], nat=True), "path-provider")
    assert "pin 10.5.0" in finding.message and "leaves the package out" in finding.message


def test_a_provider_below_the_operators_minimum_fails():
    path = DagPath(environment="payments-prod", capability="x", operator="some.Operator", services=("ecs",),
                   providers=("apache-airflow-providers-amazon>=99.0.0",))
    (finding,) = findings(app({"Env": environment("2.11.0")}, [path], nat=True), "path-provider")
    assert "needs apache-airflow-providers-amazon>=99.0.0" in finding.message


# --- airflow-configuration-options ------------------------------------------------------------------


def test_a_deprecated_alias_airflow_3_no_longer_reads_fails_and_names_the_replacement():
    options = {"metrics.statsd_allow_list": "scheduler,executor"}
    (finding,) = findings(app({"Env": environment("3.0.6", options=options)}, []), "airflow-configuration-options")
    assert "metrics.statsd_allow_list is not read by Airflow 3.0.6" in finding.message
    assert "use metrics.metrics_allow_list" in finding.message
    # Airflow 2.11 still reads the alias; both read the new key
    assert findings(app({"Env": environment("2.11.0", options=options)}, []), "airflow-configuration-options") == []
    new = {"metrics.metrics_allow_list": "scheduler"}
    assert findings(app({"Env": environment("3.0.6", options=new)}, []), "airflow-configuration-options") == []


def test_an_option_no_version_reads_fails():
    options = {"core.default_task_retrys": "2", "celery.worker_autoscale": "5,5"}
    (finding,) = findings(app({"Env": environment("2.11.0", options=options)}, []), "airflow-configuration-options")
    assert "'core.default_task_retrys' is not a configuration option of Airflow 2.11.0" in finding.message


# --- recording: the constructs that grant a path record it --------------------------------------------


@pytest.fixture(scope="module")
def granted():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["ecs", "batch", "secretsmanager"])
    env = AirflowEnvironment(stack, "Env", environment_name="payments-prod", network=network, airflow_version="2.11.0",
                             secrets_backend=SecretsManagerBackend())
    ecs = EcsTaskCompute(stack, "Ecs", network=network, family="settle", image=TaskImage.from_uri("public.ecr.aws/x/y:1"))
    ecs.grant_run(env)
    batch = BatchCompute(stack, "Batch", network=network, jobs=[BatchJob("recon", TaskImage.from_uri("public.ecr.aws/x/y:1"))])
    batch.grant_submit(env)
    return stack, Template.from_stack(stack).to_json()


def test_grants_record_their_paths_in_the_template(granted):
    stack, template = granted
    paths = {path.operator.rsplit(".", 1)[-1]: path for path in recorded_paths(stack)}
    assert set(paths) == {"SecretsManagerBackend", "StepFunctionStartExecutionOperator", "BatchOperator"}
    assert paths["StepFunctionStartExecutionOperator"].services == ("states",)
    assert paths["BatchOperator"].services == ("batch", "logs")
    assert all(path.environment == "payments-prod" and path.principal_arn is None for path in paths.values())
    assert [DagPath.from_metadata(p) for p in template["Metadata"][PATHS_METADATA_KEY]] == list(recorded_paths(stack))
    (env,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::MWAA::Environment"]
    assert env["Metadata"][ENVIRONMENT_METADATA_KEY] == {"requirements": {}, "internetEgress": False}


def test_the_recorded_paths_of_a_working_stack_pass(granted):
    stack, template = granted
    result = run_preflight([StackTemplate(name="s", template=template, account=stack.account, region=stack.region)])
    assert [f for f in result if f.rule in PATH_RULE_NAMES] == []


def test_a_network_built_for_a_path_passes_its_checks():
    """path_endpoints: the glue endpoint and the S3 gateway admit exactly the role's statements; the
    preflight follows the connection's paths through them."""
    stack = new_stack()
    glue = ("glue:GetJob", "glue:StartJobRun", "glue:GetJobRun")
    jobs = ("arn:aws:glue:eu-west-1:333333333333:job/settlement-*",)
    network = AirflowNetwork(stack, "Network", endpoint_sets=["sts", "secretsmanager"], path_endpoints=[
        PathEndpoint("glue", principal_arns=(GLUE_ROLE,), actions=glue, resources=jobs, resource_account=TARGET),
        PathEndpoint("s3", principal_arns=(GLUE_ROLE,), actions=("s3:GetObject",), resources=(ARCHIVE,),
                     resource_account=TARGET),
    ])
    env = AirflowEnvironment(stack, "Env", environment_name="payments-prod", network=network, airflow_version="2.11.0",
                             secrets_backend=SecretsManagerBackend())
    from mwaa_platform.cross_account import AirflowAwsConnection
    AirflowAwsConnection(stack, "Glue", environment=env, conn_id="finance_glue", role_arn=GLUE_ROLE,
                         region_name=stack.region, services=["glue", "s3"], actions=[*glue, "s3:GetObject"],
                         resources=[*jobs, ARCHIVE])
    template = Template.from_stack(stack).to_json()
    checked = [StackTemplate(name="s", template=template, account=stack.account, region=stack.region)]
    assert [f for f in run_preflight(checked) if f.rule in PATH_RULE_NAMES] == []
    glue_policy = next(r["Properties"]["PolicyDocument"] for r in template["Resources"].values()
                       if r["Type"] == "AWS::EC2::VPCEndpoint" and ".glue" in json.dumps(r["Properties"]["ServiceName"]))
    (own, role) = glue_policy["Statement"]
    assert own["Condition"] == {"StringEquals": {"aws:PrincipalAccount": stack.account}}
    assert role["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [GLUE_ROLE]},
                                 "StringEquals": {"aws:ResourceAccount": TARGET}}
    assert sorted(role["Action"]) == sorted(glue) and role["Resource"] == jobs[0]
    # without the glue endpoint the same app fails, naming the environment and the path
    broken = json.loads(json.dumps(template))
    for logical_id in [k for k, r in broken["Resources"].items() if ".glue" in json.dumps(r.get("Properties", {})
                                                                                         .get("ServiceName", ""))]:
        del broken["Resources"][logical_id]
    (finding,) = findings([StackTemplate(name="s", template=broken, account=stack.account, region=stack.region)],
                          "path-route")
    assert "environment payments-prod, path glue, s3 through connection finance_glue" in finding.message


def glue_paths(count, account=TARGET):
    return [PathEndpoint("glue", principal_arns=(f"arn:aws:iam::{account}:role/mwaa-team{index:03}-prod-data",),
                         actions=("glue:StartJobRun", "glue:GetJobRun") if index % 2 else ("glue:GetJob",),
                         resources=(f"arn:aws:glue:eu-west-1:{account}:job/team{index:03}-nightly",),
                         resource_account=account) for index in range(count)]


def endpoint_findings(network_stack):
    template = Template.from_stack(network_stack).to_json()
    return template, [f for f in run_preflight([StackTemplate(name="s", template=template, account=network_stack.account,
                                                              region=network_stack.region)])
                      if f.rule == "endpoint-policy-size"]


def test_path_policy_scope_account_keeps_a_hundred_roles_within_the_endpoint_policy_limit():
    """A statement per role outgrows EC2's 20,480 characters at about 60 roles; one per target account
    does not grow with them: that account's principals, the union of their actions, its resources only."""
    by_role = new_stack()
    AirflowNetwork(by_role, "Network", path_endpoints=glue_paths(100))
    _, (finding,) = endpoint_findings(by_role)
    assert finding.severity == "error" and "path_policy_scope account" in finding.message
    by_account = new_stack()
    AirflowNetwork(by_account, "Network", path_policy_scope="account",
                   path_endpoints=[*glue_paths(100), *glue_paths(2, account="444444444444")])
    template, found = endpoint_findings(by_account)
    assert found == []
    glue_policy = next(r["Properties"]["PolicyDocument"] for r in template["Resources"].values()
                       if r["Type"] == "AWS::EC2::VPCEndpoint" and ".glue" in json.dumps(r["Properties"]["ServiceName"]))
    assert [(st.get("Sid"), st["Action"], st["Resource"], st["Condition"]) for st in glue_policy["Statement"]] == [
        ("OnlyThisAccountsPrincipals", "glue:*", "*", {"StringEquals": {"aws:PrincipalAccount": by_account.account}}),
        ("PathAccount0", ["glue:GetJob", "glue:GetJobRun", "glue:StartJobRun"], "*",
         {"StringEquals": {"aws:PrincipalAccount": TARGET, "aws:ResourceAccount": TARGET}}),
        ("PathAccount1", ["glue:GetJob", "glue:GetJobRun", "glue:StartJobRun"], "*",
         {"StringEquals": {"aws:PrincipalAccount": "444444444444", "aws:ResourceAccount": "444444444444"}}),
    ]


def test_the_preflight_follows_a_path_through_an_account_scoped_endpoint_policy():
    """The same connection as the role-scoped network above passes; a role of another account does not."""
    def built(role):
        stack = new_stack()
        network = AirflowNetwork(stack, "Network", endpoint_sets=["sts", "secretsmanager"], path_policy_scope="account",
                                 path_endpoints=glue_paths(3))
        env = AirflowEnvironment(stack, "Env", environment_name="payments-prod", network=network,
                                 airflow_version="2.11.0", secrets_backend=SecretsManagerBackend())
        from mwaa_platform.cross_account import AirflowAwsConnection
        AirflowAwsConnection(stack, "Glue", environment=env, conn_id="finance_glue", role_arn=role,
                             region_name=stack.region, services=["glue"], actions=["glue:GetJobRun"],
                             resources=[f"arn:aws:glue:eu-west-1:{TARGET}:job/settlement"])
        return [StackTemplate(name="s", template=Template.from_stack(stack).to_json(), account=stack.account,
                              region=stack.region)]
    assert findings(built(GLUE_ROLE), "path-route") == []
    (finding,) = findings(built(GLUE_ROLE.replace(TARGET, "555555555555")), "path-route")
    assert "does not allow glue:GetJobRun" in finding.message


@pytest.mark.parametrize("scope, paths, message", [
    ("roles", [], "path_policy_scope must be one of role, account, got 'roles'"),
    ("account", [PathEndpoint("glue", principal_arns=("mwaa-data",), actions=("glue:GetJob",), resource_account=TARGET)],
     "principal_arns (their accounts, for path_policy_scope account)"),
])
def test_a_bad_path_policy_scope_or_an_arn_without_an_account_is_refused_before_anything_is_built(scope, paths, message):
    stack = new_stack()
    with pytest.raises(MwaaPlatformError, match=re.escape(message)):
        AirflowNetwork(stack, "Network", path_policy_scope=scope, path_endpoints=paths)
    assert stack.node.children == []


def test_paths_to_one_service_in_another_region_share_one_cross_region_endpoint():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", path_endpoints=[
        PathEndpoint("s3", region="us-east-1", principal_arns=(GLUE_ROLE,), actions=("s3:GetObject",),
                     resources=("arn:aws:s3:::a/*",), resource_account=TARGET),
        PathEndpoint("s3", region="us-east-1", principal_arns=(GLUE_ROLE.replace("glue", "ledger"),),
                     actions=("s3:PutObject",), resources=("arn:aws:s3:::b/*",), resource_account="444444444444"),
    ])
    (endpoint_,) = [r["Properties"] for r in Template.from_stack(stack).to_json()["Resources"].values()
                    if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"].get("ServiceRegion") == "us-east-1"]
    assert [st["Resource"] for st in endpoint_["PolicyDocument"]["Statement"]] == ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]
    assert "s3.us-east-1" in network.endpoint_services


def test_a_path_endpoint_without_cross_region_privatelink_is_refused():
    stack = new_stack()
    with pytest.raises(MwaaPlatformError, match="glue has no cross-Region PrivateLink"):
        AirflowNetwork(stack, "Network", path_endpoints=[PathEndpoint(
            "glue", region="us-east-1", principal_arns=(GLUE_ROLE,), actions=("glue:GetJob",), resource_account=TARGET)])


# --- the example platform: every path recorded and passing ------------------------------------------


def example_templates(platform):
    import json as _json

    return [StackTemplate(name=stack.stack_name, template=_json.loads(open(stack.template_full_path).read()),
                          account=stack.environment.account, region=stack.environment.region,
                          path=stack.template_full_path)
            for stack in platform.assembly.stacks]


def test_every_path_of_the_example_platform_is_recorded_and_passes(platform):
    stacks = example_templates(platform)
    paths = {(stack.name, path.capability) for stack in stacks
             for path in (DagPath.from_metadata(p) for p in stack.template.get("Metadata", {}).get(PATHS_METADATA_KEY, []))}
    assert {capability for name, capability in paths if name == "mwaa-platform-payments-prod"} == {
        "Secrets Manager backend: connections and variables", "ECS task family payments-settlement",
        "Batch job queue of payments-reconciliation", "EKS pods in namespace payments",
        "assume arn:aws:iam::333333333333:role/mwaa-payments-prod-finance_glue for connection finance_glue",
        "glue through connection finance_glue",
        "assume arn:aws:iam::333333333333:role/mwaa-payments-prod-finance_archive_us for connection finance_archive_us",
        "s3 through connection finance_archive_us"}
    # analytics' compute on the shared environment is recorded for central-prod, from the team's stack
    assert {capability for name, capability in paths if name == "mwaa-platform-analytics-prod"} == {
        "ECS task family analytics-features", "EKS pods in namespace analytics"}
    assert [f for f in run_preflight(stacks) if f.rule in PATH_RULE_NAMES] == []


def test_synthesis_writes_the_paths_of_every_environment_for_reviewers(platform):
    from pathlib import Path

    from mwaa_platform.compliance import PATHS_REPORT

    report = (Path(platform.assembly.directory) / PATHS_REPORT).read_text()
    assert "### payments-prod (222222222222, eu-west-1)" in report and "### central-prod (222222222222, eu-west-1)" in report
    assert "| s3 through connection finance_archive_us | finance_archive_us |" in report and "| us-east-1 |" in report


def test_a_rest_api_grant_to_another_environment_records_the_callers_path():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    target = AirflowEnvironment(stack, "Target", environment_name="reporting-prod", network=network,
                                airflow_version="3.0.6")
    caller = AirflowEnvironment(stack, "Caller", environment_name="payments-prod", network=network,
                                airflow_version="3.0.6")
    target.grant_invoke_rest_api(caller, "User")
    (path,) = recorded_paths(stack)
    assert (path.environment, path.services, path.operator.rsplit(".", 1)[-1]) == (
        "payments-prod", ("airflow.env",), "MwaaTriggerDagRunOperator")
    template = Template.from_stack(stack).to_json()
    checked = [StackTemplate(name="s", template=template, account=stack.account, region=stack.region)]
    assert [f for f in run_preflight(checked) if f.rule in PATH_RULE_NAMES] == []
