"""The delivery pipeline (docs/delivery.md): CDK Pipelines on CodePipeline V2, one wave per stage in order,
production after the platform approvers' gate, four eyes per team, and waves within CodePipeline's quotas.

The `pipeline` fixture is `make synth-pipeline` on the fixture registry: every pack, the preflight and
synthesis ran; these tests read what CodePipeline and IAM would be given.
"""

import json
import re
import sys
from pathlib import Path

import pytest

from harness import (FIXTURE_REGISTRY, REPO_ROOT, assert_cfn_lint_clean, checkov_failures, iam_decision,
                     resolve_literals, write_registry)
from stacks.delivery import FIXED_PIPELINE_STAGES, PLATFORM_GATE, plan_waves
from stacks.delivery_stack import AUTHOR_ACTIONS, CHECK_COMMANDS, SYNTH_COMMANDS
from stacks.registry import RegistryError, load_registry

TOOLING = "444444444444"
PIPELINE = "mwaa-platform-delivery"
PIPELINE_ARN = f"arn:aws:codepipeline:eu-west-1:{TOOLING}:{PIPELINE}"
PLATFORM_APPROVER = f"arn:aws:iam::{TOOLING}:role/{PIPELINE}/approvers/{PIPELINE}-approver-platform"
ANALYTICS_APPROVER = f"arn:aws:iam::{TOOLING}:role/{PIPELINE}/approvers/{PIPELINE}-approver-analytics"


def top_templates(pipeline):
    return {stack.stack_name: Path(pipeline.assembly.directory) / stack.template_file
            for stack in pipeline.assembly.stacks}


@pytest.fixture(scope="module")
def template(pipeline):
    return json.loads(top_templates(pipeline)[PIPELINE].read_text())


@pytest.fixture(scope="module")
def stages(template):
    (cfn,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert (cfn["Name"], cfn["PipelineType"]) == (PIPELINE, "V2")
    return cfn["Stages"]


def actions(stage, category=None):
    return [a for a in stage["Actions"] if category is None or a["ActionTypeId"]["Category"] == category]


def gates(stages):
    """pipeline stage/action of every approval action."""
    return [f"{stage['Name']}/{action['Name']}" for stage in stages for action in actions(stage, "Approval")]


# --- what deploys where, and in which order ----------------------------------------------------------


def test_every_stack_of_the_platform_deploys_from_the_pipeline_with_its_own_template(pipeline, platform):
    """The pipeline's stages hold exactly the platform's stacks, under their CloudFormation names, with the
    templates `make synth` writes: moving from `cdk deploy` to the pipeline replaces nothing."""
    flat = {stack.stack_name: json.loads((Path(platform.assembly.directory) / stack.template_file).read_text())
            for stack in platform.assembly.stacks}
    nested = {stack.stack_name: json.loads((Path(stack.assembly.directory) / stack.template_file).read_text())
              for stack in pipeline.assembly.stacks_recursively if stack.stack_name in flat}
    assert sorted(nested) == sorted(flat)
    assert [name for name in nested if nested[name] != flat[name]] == []


def test_waves_follow_the_stages_in_order_and_only_production_waits_for_the_platform_approvers(stages):
    names = [stage["Name"] for stage in stages]
    assert tuple(names[:len(FIXED_PIPELINE_STAGES)]) == FIXED_PIPELINE_STAGES
    waves = names[len(FIXED_PIPELINE_STAGES):]
    assert waves == ["mwaa-platform-dev-platform", "dev-teams-1", "mwaa-platform-prod-platform", "prod-teams-1"]
    dev = [s for s in stages if s["Name"] in waves[:2]]
    assert [a for s in dev for a in actions(s, "Approval")] == []
    first_prod = stages[names.index("mwaa-platform-prod-platform")]
    (gate,) = actions(first_prod, "Approval")
    assert (gate["Name"], gate["RunOrder"]) == (PLATFORM_GATE, 1)
    # nothing of production deploys before the gate opens
    assert all(a["RunOrder"] > 1 for a in actions(first_prod, "Deploy"))
    # each stack is one action (no change set pair), run by the stage account's bootstrap roles
    deploys = [a for s in stages for a in actions(s, "Deploy")]
    assert {a["Configuration"]["ActionMode"] for a in deploys} == {"CREATE_UPDATE"}
    assert {re.search(r":iam::(\d{12}):role/cdk-", a["Configuration"]["RoleArn"]["Fn::Sub"])[1] for a in deploys} == {
        "111111111111", "222222222222", "333333333333"}


def test_a_team_with_approved_by_waits_for_that_teams_approvers_and_nobody_else_waits(stages):
    (wave,) = [s for s in stages if s["Name"] == "prod-teams-1"]
    (gate,) = actions(wave, "Approval")
    assert gate["Name"] == "mwaa-platform-payments-prod.Approve"
    payments = [a for a in actions(wave, "Deploy") if a["Name"].startswith("mwaa-platform-payments-prod.")]
    others = [a for a in actions(wave, "Deploy") if not a["Name"].startswith("mwaa-platform-payments-prod.")]
    assert payments and all(a["RunOrder"] > gate["RunOrder"] for a in payments)
    assert min(a["RunOrder"] for a in others) == 1  # central-prod does not wait for payments' reviewers


def test_team_code_runs_only_in_the_checks_step_which_outputs_nothing_and_comes_before_any_deployment(template, stages):
    """The tests and the DAG checks import the teams' DAGs: they run in their own step, with no output, so
    what the pipeline deploys to itself (UpdatePipeline, before any gate) comes from synthesis alone."""
    readme = (REPO_ROOT / "README.md").read_text()
    test_command = re.search(r"```sh\n.*\n(make test)\b", readme)[1]
    assert CHECK_COMMANDS == (test_command, "make dags-check") and SYNTH_COMMANDS == ("make synth-pipeline",)

    def buildspec(command):
        (project,) = [r["Properties"] for r in template["Resources"].values()
                      if r["Type"] == "AWS::CodeBuild::Project" and command in json.dumps(r["Properties"])]
        return json.loads(project["Source"]["BuildSpec"])
    assert buildspec("make synth-pipeline")["phases"]["build"]["commands"] == list(SYNTH_COMMANDS)
    assert buildspec("make synth-pipeline")["artifacts"]["base-directory"] == "cdk.out.pipeline"
    checks = buildspec("make dags-check")
    assert checks["phases"]["build"]["commands"] == list(CHECK_COMMANDS) and "artifacts" not in checks
    first_wave = stages[len(FIXED_PIPELINE_STAGES)]
    (check,) = [a for a in actions(first_wave, "Build")]
    assert check["RunOrder"] == 1 and "OutputArtifacts" not in check
    assert all(a["RunOrder"] > 1 for a in actions(first_wave, "Deploy"))
    # and it cannot rewrite what the later actions deploy: every artifact write is denied to its role
    (project,) = [r["Properties"] for r in template["Resources"].values()
                  if r["Type"] == "AWS::CodeBuild::Project" and "make dags-check" in json.dumps(r["Properties"])]
    role_id = project["ServiceRole"]["Fn::GetAtt"][0]
    statements = [st for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                  and {"Ref": role_id} in r["Properties"]["Roles"] for st in r["Properties"]["PolicyDocument"]["Statement"]]
    statements = resolve_literals(statements, template, account=TOOLING)
    bucket = next(r for r in statements if r.get("Sid") == "NeverRewriteTheArtifacts")["Resource"].removesuffix("/*")
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl"):
        assert iam_decision(statements, action=action, resource=f"{bucket}/mwaa-platform-deli/Synth_Outp/x") == "deny"
    assert iam_decision(statements, action="s3:GetObject", resource=f"{bucket}/mwaa-platform-deli/x") == "allow"


# --- who may approve ---------------------------------------------------------------------------------


def approver_roles(template):
    """role name -> (its trusted principals, its managed policy's statements), literal."""
    roles = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role" or "approver" not in json.dumps(resource["Properties"].get("RoleName")):
            continue
        assert resource["Properties"]["Path"] == f"/{PIPELINE}/approvers/"
        (policy,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"
                     and {"Ref": logical_id} in r["Properties"].get("Roles", [])]
        trust = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        principals = sorted(p for st in trust for p in (lambda a: a if isinstance(a, list) else [a])(
            st["Principal"]["AWS"]))
        roles[resource["Properties"]["RoleName"]] = (
            principals, resolve_literals(policy["PolicyDocument"]["Statement"], template, account=TOOLING))
    return roles


def test_only_each_gates_approvers_may_answer_it(template, stages):
    roles = approver_roles(template)
    platform_gate, team_gate = (f"{PIPELINE_ARN}/{gate}" for gate in gates(stages))
    assert platform_gate.endswith("/mwaa-platform-prod-platform/ApproveProduction")
    platform_role, analytics_role = roles[f"{PIPELINE}-approver-platform"], roles[f"{PIPELINE}-approver-analytics"]
    assert sorted(roles) == [f"{PIPELINE}-approver-analytics", f"{PIPELINE}-approver-platform"]
    # who may assume them: the registry's approvers, nobody else
    assert platform_role[0] == [f"arn:aws:iam::{TOOLING}:role/platform-approvers"]
    assert analytics_role[0] == [f"arn:aws:iam::{TOOLING}:role/analytics-leads"]

    def decide(role, gate):
        return iam_decision(role[1], action="codepipeline:PutApprovalResult", resource=gate)
    assert (decide(platform_role, platform_gate), decide(platform_role, team_gate)) == ("allow", "implicit-deny")
    assert (decide(analytics_role, team_gate), decide(analytics_role, platform_gate)) == ("allow", "implicit-deny")
    # and they read the pipeline to decide, nothing else
    assert iam_decision(platform_role[1], action="codepipeline:GetPipelineState", resource=PIPELINE_ARN) == "allow"
    assert iam_decision(platform_role[1], action="codepipeline:StartPipelineExecution",
                        resource=PIPELINE_ARN) == "implicit-deny"


def test_the_approval_guard_denies_every_other_principal_an_answer_and_a_way_around(template, stages):
    """The service control policy `make synth-pipeline` writes beside the templates (and into the template's
    metadata): an administrator with every permission still cannot answer a gate, make themselves an
    approver, rewrite the pipeline, or deploy into another account through the bootstrap trust."""
    guard = template["Metadata"]["ApprovalGuardServiceControlPolicy"]
    assert len(json.dumps(guard, separators=(",", ":"))) < 5120  # AWS Organizations' SCP size limit
    platform_gate, team_gate = (f"{PIPELINE_ARN}/{gate}" for gate in gates(stages))
    admin = f"arn:aws:iam::{TOOLING}:role/Administrator"
    deployer = f"arn:aws:iam::{TOOLING}:role/cdk-hnb659fds-cfn-exec-role-{TOOLING}-eu-west-1"
    pipeline_role = f"arn:aws:iam::{TOOLING}:role/{PIPELINE}-d-0123abcd"

    def decide(principal, action, resource, **context):
        everything = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]  # the identity's own policies
        return iam_decision([*everything, *guard["Statement"]], action=action, resource=resource,
                            context={"aws:PrincipalArn": principal, **context})
    answer = "codepipeline:PutApprovalResult"
    assert decide(admin, answer, platform_gate) == decide(admin, answer, team_gate) == "deny"
    assert decide(PLATFORM_APPROVER, answer, platform_gate) == decide(ANALYTICS_APPROVER, answer, team_gate) == "allow"
    # who answers which gate is the approver roles' own policies' business (above); the guard is stable
    for action, resource in [("iam:UpdateAssumeRolePolicy", PLATFORM_APPROVER),
                             ("iam:CreateRole", f"arn:aws:iam::{TOOLING}:role/{PIPELINE}/approvers/mine"),
                             ("iam:UpdateAssumeRolePolicy", pipeline_role),
                             ("codepipeline:UpdatePipeline", PIPELINE_ARN)]:
        assert (decide(admin, action, resource), decide(deployer, action, resource)) == ("deny", "allow"), action
    prod_deploy = "arn:aws:iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1"
    assert decide(admin, "sts:AssumeRole", prod_deploy, **{"aws:ResourceAccount": "222222222222"}) == "deny"
    assert decide(pipeline_role, "sts:AssumeRole", prod_deploy, **{"aws:ResourceAccount": "222222222222"}) == "allow"
    own = f"arn:aws:iam::{TOOLING}:role/cdk-hnb659fds-deploy-role-{TOOLING}-eu-west-1"
    assert decide(admin, "sts:AssumeRole", own, **{"aws:ResourceAccount": TOOLING}) == "allow"  # deploys the pipeline


def test_every_role_of_the_pipeline_is_an_approver_or_a_deployer_the_guard_knows(template):
    roles = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    approvers = [r for r in roles if r.get("Path") == f"/{PIPELINE}/approvers/"]
    deployers = [r for r in roles if re.fullmatch(rf"{PIPELINE}-d-[0-9a-f]{{8}}", r.get("RoleName", ""))]
    assert len(approvers) == 2 and len(deployers) + len(approvers) == len(roles)
    assert len({r["RoleName"] for r in roles}) == len(roles) and max(len(r["RoleName"]) for r in roles) <= 64


def test_with_codecommit_an_approver_can_never_author_a_change(tmp_path):
    """A CodeCommit source: the approver roles are denied every way of writing to the repository."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from harness import cdk_json_context
    from stacks.delivery_stack import build_delivery

    document = _registry_document()
    document["delivery"]["source"] = {"codecommit_repository": "mwaa-platform", "branch": "main"}
    platform = load_registry(write_registry(tmp_path, document), environ={})
    app = cdk.App(context=cdk_json_context())
    _, stack = build_delivery(app, platform)
    template = Template.from_stack(stack).to_json()
    for name, (_, statements) in approver_roles(template).items():
        repository = f"arn:aws:codecommit:eu-west-1:{TOOLING}:mwaa-platform"
        assert {iam_decision(statements, action=action, resource=repository) for action in AUTHOR_ACTIONS} == {"deny"}, name


# --- quotas ------------------------------------------------------------------------------------------


def bench_registry(teams):
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        import bench
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    document = bench.registry(teams)
    document["delivery"] = _registry_document()["delivery"]
    return document


def test_200_teams_split_into_waves_within_codepipelines_quotas(tmp_path):
    """Two stages of 200 teams, every team with a target-account stack: 800 team stacks and the stages'
    platform stacks, in waves of at most 50 actions, in at most 50 pipeline stages."""
    platform = load_registry(write_registry(tmp_path, bench_registry(200)), environ={})
    waves = plan_waves(platform)
    assert max(wave.actions for wave in waves) <= 50
    assert len(FIXED_PIPELINE_STAGES) + len(waves) <= 50
    placed = [name for wave in waves for unit in wave.units for name in unit.stacks]
    expected = ({env.stack_name for env in platform.environments} | set(platform.target_roles)
                | {n.stack_name for n in platform.networks} | {n.monitoring_stack_name for n in platform.networks}
                | {n.eks_stack_name for n in platform.networks})
    assert len(placed) == len(set(placed)) and set(placed) == expected
    # each stage's platform wave first, and stages in order
    assert [(w.stage, w.name.endswith("-platform")) for w in waves][:2] == [("dev", True), ("dev", False)]
    assert [w.stage for w in waves] == sorted((w.stage for w in waves), key=["dev", "prod"].index)
    assert [w.name for w in waves if w.gated] == ["prod-platform"]


def test_a_registry_beyond_the_pipeline_quotas_is_refused_naming_them_by_every_synth(tmp_path):
    """`make synth` refuses it too, before building anything: the registry could not be delivered."""
    import aws_cdk as cdk

    import app as platform_app

    document = bench_registry(200)
    document["delivery"]["actions_per_stage"] = 10
    path = write_registry(tmp_path, document)
    quota = (r"the pipeline would have \d+ stages \(4 fixed and \d+ waves of at most 10 actions\), over "
             r"CodePipeline's 50 stages per pipeline")
    with pytest.raises(RegistryError, match=quota):
        plan_waves(load_registry(path, environ={}))
    app = cdk.App(context={"registry": str(path)})
    with pytest.raises(RegistryError, match=quota):
        platform_app.build(app)
    assert app.node.children == []


def test_a_network_production_shares_is_gated_in_the_earlier_stage_that_deploys_it(tmp_path):
    """dev and prod in one account and Region share a network: dev's wave deploys production's network,
    so the platform approvers open it; prod's first wave (its teams) is gated too."""
    document = _registry_document()
    document["stages"]["prod"]["account"] = document["stages"]["dev"]["account"]
    waves = plan_waves(load_registry(write_registry(tmp_path, document), environ={}))
    assert [(w.name, w.gated) for w in waves] == [
        ("dev-platform", True), ("dev-teams-1", False), ("prod-teams-1", True)]


def test_a_teams_serverless_workflows_wait_for_its_reviewers_in_production(tmp_path):
    document = _registry_document()
    (reporting,) = [team for team in document["teams"] if team["name"] == "reporting"]
    reporting["environments"]["prod"] = json.loads(json.dumps(reporting["environments"]["dev"]))  # no YAML alias
    reporting["approved_by"] = "analytics"
    waves = plan_waves(load_registry(write_registry(tmp_path, document), environ={}))
    units = {unit.name: unit for wave in waves for unit in wave.units}
    assert units["mwaa-platform-reporting-prod"].approved_by == "analytics"
    assert units["mwaa-platform-reporting-dev"].approved_by is None


def test_the_plan_counts_the_actions_codepipeline_is_given(stages, tmp_path):
    """The planner's action count per wave is what the synthesized pipeline holds, wave by wave."""
    platform = load_registry(FIXTURE_REGISTRY, environ={})
    planned = [wave.actions for wave in plan_waves(platform)]
    assert planned == [len(stage["Actions"]) for stage in stages[len(FIXED_PIPELINE_STAGES):]]


# --- the registry ------------------------------------------------------------------------------------


def _registry_document():
    import yaml

    return yaml.safe_load(FIXTURE_REGISTRY.read_text().replace("../../../", ""))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["teams"][1].update(approved_by="payments"),
     "approved_by names the team itself ('payments'): four eyes means another team's approvers"),
    (lambda d: d["teams"][1].update(approved_by="risk"), "approved_by must name another team of the registry, got 'risk'"),
    (lambda d: d["teams"][0].update(approvers=[]), "approved_by names team 'analytics', which lists no approvers"),
    (lambda d: d.pop("delivery"), "approved_by applies to the delivery pipeline's production gates: declare delivery"),
    (lambda d: d["delivery"].update(approvers=[]), "must name at least one role: a production change needs someone"),
    (lambda d: (d["teams"][0].update(approved_by="payments"), d["teams"][1].update(approvers=[
        "arn:aws:iam::444444444444:role/payments-leads"])),
     "approved_by gates a team's own production deployment, but in prod the team is on a shared environment"),
    (lambda d: d["delivery"].update(approvers=["platform-approvers"]),
     "approvers entries are IAM role ARNs (arn:aws:iam::123456789012:role/NAME), got 'platform-approvers'"),
    (lambda d: d["delivery"]["source"].update(codecommit_repository="mwaa-platform"),
     "name either connection_arn with repository, or codecommit_repository"),
    (lambda d: d["delivery"]["source"].update(connection_arn="arn:aws:iam::444444444444:role/x"),
     "connection_arn must be a CodeConnections connection ARN"),
    (lambda d: d["delivery"].update(region="eu-wset-1"), "region must be a Region where CodePipeline runs (botocore "),
    # the stages' partition: a pipeline in another could not deploy to them
    (lambda d: d["delivery"].update(region="cn-north-1"), "got 'cn-north-1'"),
])
def test_a_delivery_mistake_is_refused_naming_its_field(tmp_path, edit, message):
    document = _registry_document()
    edit(document)
    with pytest.raises(RegistryError, match=re.escape(message)):
        load_registry(write_registry(tmp_path, document), environ={})


def test_the_pipeline_template_is_written_without_indentation(pipeline):
    """A 200-team pipeline (806 deploy actions) measured 947 KB indented: 94% of CloudFormation's 1 MB."""
    text = top_templates(pipeline)[PIPELINE].read_text()
    assert "\n " not in text and len(text) == len(json.dumps(json.loads(text), separators=(",", ":")))


def test_the_pipeline_templates_pass_cfn_lint_and_checkov(pipeline):
    from harness import checkov_reports

    templates = top_templates(pipeline)
    assert sorted(templates) == [PIPELINE, f"{PIPELINE}-support-us-east-1"]
    assert_cfn_lint_clean(templates.values())
    assert checkov_failures(checkov_reports(pipeline.assembly)) == []


def test_the_pipeline_mode_refuses_a_selection_and_a_registry_without_delivery(tmp_path):
    import aws_cdk as cdk

    import app as platform_app
    from mwaa_platform import MwaaPlatformError

    with pytest.raises(MwaaPlatformError, match="context delivery must be platform or pipeline, got 'yes'"):
        platform_app.build(cdk.App(context={"registry": str(FIXTURE_REGISTRY), "delivery": "yes"}))
    with pytest.raises(MwaaPlatformError, match="drop teams, stages and shard"):
        platform_app.build(cdk.App(context={"registry": str(FIXTURE_REGISTRY), "delivery": "pipeline", "teams": "payments"}))
    document = _registry_document()
    document.pop("delivery")
    for team in document["teams"]:
        team.pop("approved_by", None)
    with pytest.raises(RegistryError, match="the delivery pipeline needs delivery: in the registry"):
        platform_app.build(cdk.App(context={"registry": str(write_registry(tmp_path, document)), "delivery": "pipeline"}))


def test_every_action_the_pipeline_grants_or_denies_is_an_operation_of_its_service():
    """Read from botocore's service models: a misspelt action in a Deny would deny nothing."""
    import botocore.session

    from stacks.delivery_stack import APPROVER_READ_ACTIONS, GUARDED_IAM_ACTIONS

    session = botocore.session.get_session()

    def operations(service):
        return set(session.get_service_model(service).operation_names)
    iam_only = {"codecommit:GitPush"}  # a permission without an API operation (Git over HTTPS or SSH)
    for action in (*AUTHOR_ACTIONS, *APPROVER_READ_ACTIONS, *GUARDED_IAM_ACTIONS, "codepipeline:PutApprovalResult",
                   "codepipeline:UpdatePipeline", "codepipeline:DeletePipeline"):
        service, name = action.split(":")
        assert action in iam_only or name in operations(service), action
