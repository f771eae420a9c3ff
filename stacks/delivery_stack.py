"""The delivery pipeline (docs/delivery.md): CDK Pipelines on CodePipeline V2 in the tooling account.

`make synth-pipeline` builds it (`cdk synth -c delivery=pipeline`): the platform's stacks inside one
``cdk.Stage`` per unit (``stacks.delivery``), each under its usual CloudFormation stack name, and this
stack, whose pipeline tests, synthesizes and deploys them wave by wave. Only the approver roles built
here may answer the production gates; ``approval_guard`` is the service control policy that makes
them the only ones in the tooling account's organization.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from mwaa_platform.compliance import acknowledge, acknowledge_across_packs, wildcard_resource_finding
from mwaa_platform.environment import AirflowSourceBucket

from stacks.delivery import PLATFORM_GATE, Wave, team_gate
from stacks.registry import PlatformSettings

if TYPE_CHECKING:
    from stacks.platform import Platform

#: What an approver reads of the pipeline to decide, besides answering its gate.
APPROVER_READ_ACTIONS = ("codepipeline:GetPipeline", "codepipeline:GetPipelineState",
                         "codepipeline:GetPipelineExecution", "codepipeline:ListPipelineExecutions",
                         "codepipeline:ListActionExecutions")
#: What makes an author in CodeCommit: an approver role may do none of it (four eyes).
AUTHOR_ACTIONS = ("codecommit:GitPush", "codecommit:CreateCommit", "codecommit:PutFile", "codecommit:DeleteFile",
                  "codecommit:MergeBranchesByFastForward", "codecommit:MergeBranchesBySquash",
                  "codecommit:MergeBranchesByThreeWay", "codecommit:MergePullRequestByFastForward",
                  "codecommit:MergePullRequestBySquash", "codecommit:MergePullRequestByThreeWay")
#: The commands of the synth step: the README's test command, every team's DAGs imported on its Airflow
#: version with ruff's AIR rules, then the pipeline's cloud assembly. A failure stops every deployment.
SYNTH_COMMANDS = ("make test", "make dags-check", "make synth-pipeline")
PIPELINE_OUT = "cdk.out.pipeline"


def pipeline_name(platform: PlatformSettings) -> str:
    return f"{platform.name}-delivery"


class DeliveryStack(cdk.Stack):
    """The pipeline, its approver roles, and the SCP that keeps the gates theirs."""

    def __init__(self, scope: Construct, construct_id: str, *, platform: PlatformSettings, waves: list[Wave],
                 stages: dict[str, cdk.Stage], **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=f"{platform.name}: the delivery pipeline (docs/delivery.md)",
                         termination_protection=True, **kwargs)
        delivery = platform.delivery
        self.pipeline_name = pipeline_name(platform)
        self.repository = None
        if delivery.source.codecommit_repository is not None:
            self.repository = codecommit.Repository.from_repository_name(
                self, "Repository", delivery.source.codecommit_repository)
            source = pipelines.CodePipelineSource.code_commit(self.repository, delivery.source.branch)
        else:
            source = pipelines.CodePipelineSource.connection(
                delivery.source.repository, delivery.source.branch, connection_arn=delivery.source.connection_arn)
        synth = pipelines.ShellStep("Synth", input=source, commands=list(SYNTH_COMMANDS),
                                    primary_output_directory=PIPELINE_OUT)
        # the artifacts (the cloud assembly every stage deploys) in a versioned, KMS-encrypted bucket with
        # server access logs; the stage accounts' deploy roles read it through the key's policy
        self.key = kms.Key(self, "ArtifactsKey", enable_key_rotation=True,
                           description=f"Encrypts the artifacts of {self.pipeline_name}")
        self.artifacts = AirflowSourceBucket(self, "Artifacts", key=self.key, access_logs_prefix="artifacts/",
                                             noncurrent_version_expiration=cdk.Duration.days(30))
        self.pipeline = pipelines.CodePipeline(
            self, "Pipeline", pipeline_name=self.pipeline_name, pipeline_type=codepipeline.PipelineType.V2,
            synth=synth, artifact_bucket=self.artifacts.bucket, cross_account_keys=True, enable_key_rotation=True,
            use_change_sets=False,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(build_environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0, compute_type=codebuild.ComputeType.MEDIUM)),
        )
        gates: dict[str, list[str]] = {}  # approving team ("" for the platform) -> (stage/action) it opens
        for wave in waves:
            pre = [pipelines.ManualApprovalStep(PLATFORM_GATE, comment=(
                f"Production: {wave.stage}. Approve only a change you did not write (docs/delivery.md)."))] \
                if wave.gated else []
            step = self.pipeline.add_wave(wave.name, pre=pre)
            if wave.gated:
                gates.setdefault("", []).append(f"{wave.name}/{PLATFORM_GATE}")
            for unit in wave.units:
                team_pre = [pipelines.ManualApprovalStep(team_gate(unit), comment=(
                    f"Four eyes: team {unit.approved_by} approves {unit.name} in {wave.stage}."))] \
                    if unit.approved_by is not None else []
                step.add_stage(stages[unit.name], pre=team_pre)
        self.pipeline.build_pipeline()
        # the approval actions as CodePipeline names them, matched to who opens them
        self.gates: dict[str, list[str]] = {}
        for stage in self.pipeline.pipeline.stages:
            for action in stage.actions:
                props = action.action_properties
                if props.category != codepipeline.ActionCategory.APPROVAL:
                    continue
                approver = "" if props.action_name.endswith(PLATFORM_GATE) else props.action_name.split("Approve-", 1)[-1]
                self.gates.setdefault(approver, []).append(f"{stage.stage_name}/{props.action_name}")
        self._acknowledge_generated()
        self._lintable_pipeline()
        self.approver_role_names: dict[str, str] = {}
        self.approver_roles = {
            approver: self._approver_role(approver, platform, gate_names)
            for approver, gate_names in sorted(self.gates.items())
        }
        # in the template, where a reviewer reads it; `make synth-pipeline` also writes it as a file to attach
        self.add_metadata("ApprovalGuardServiceControlPolicy", self.approval_guard())

    def _approver_role(self, approver: str, platform: PlatformSettings, gate_names: list[str]) -> iam.Role:
        """The role ``approver``'s people assume to open exactly their gates, and never author a change."""
        delivery = platform.delivery
        principals = delivery.approvers if not approver else next(
            approvers for team, (by, approvers) in platform.approvals.items() if by == approver)
        name = f"{self.pipeline_name}-{approver or 'platform'}-approver"[:64]
        self.approver_role_names[approver] = name
        role = iam.Role(
            self, f"{approver.title().replace('-', '') or 'Platform'}Approver", role_name=name,
            assumed_by=iam.CompositePrincipal(*(iam.ArnPrincipal(arn) for arn in principals)),
            description=(f"Approves the {'production waves' if not approver else 'production units of teams it reviews'}"
                         f" of {self.pipeline_name}: nothing else (docs/delivery.md)")[:1000],
            max_session_duration=cdk.Duration.hours(1))
        pipeline_arn = self.format_arn(service="codepipeline", resource=self.pipeline_name)
        statements = [
            iam.PolicyStatement(sid="AnswerItsGates", actions=["codepipeline:PutApprovalResult"],
                                resources=[f"{pipeline_arn}/{gate}" for gate in gate_names]),
            iam.PolicyStatement(sid="ReadThePipeline", actions=list(APPROVER_READ_ACTIONS), resources=[pipeline_arn]),
        ]
        if self.repository is not None:
            statements.append(iam.PolicyStatement(
                sid="NeverAnAuthor", effect=iam.Effect.DENY, actions=list(AUTHOR_ACTIONS),
                resources=[self.repository.repository_arn]))
        iam.ManagedPolicy(self, f"{role.node.id}Policy", roles=[role], statements=statements,
                          description=f"What {name} may do: answer its gates and read the pipeline")
        return role

    def _acknowledge_generated(self) -> None:
        """The findings on what aws-cdk-lib's CDK Pipelines generates and does not let us configure, each
        with its reason; every other construct of this stack passes the packs as they are."""
        pipeline = self.pipeline
        bucket, key = self.artifacts.bucket, self.key
        scoped = ("the pipeline's artifact bucket and key only (CDK Pipelines' own grants): the synth step writes "
                  "the cloud assembly, the stages' actions read it; objects are build outputs, not data")
        acknowledge(pipeline, [
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
            *(f"AwsSolutions::AwsSolutions-IAM5[Action::s3:{action}]"
              for action in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*")),
            wildcard_resource_finding(self, f"{bucket.bucket_arn}/*"),
        ], f"Wildcards on {scoped}.")
        acknowledge(pipeline, [
            wildcard_resource_finding(self, f"arn:{self.partition}:logs:{self.region}:{self.account}:"
                                            "log-group:/aws/codebuild/*"),
            wildcard_resource_finding(self, f"arn:{self.partition}:codebuild:{self.region}:{self.account}:"
                                            "report-group/*"),
            *(finding for project in self._projects() for finding in (
                wildcard_resource_finding(self, f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:"
                                                f"/aws/codebuild/{project.project_name}:*"),
                wildcard_resource_finding(self, f"arn:{self.partition}:codebuild:{self.region}:{self.account}:"
                                                f"report-group/{project.project_name}-*"))),
        ], "CodeBuild's own log streams and test reports of the pipeline's build projects, as aws-cdk-lib grants "
           "them to each project role (the asset project's role covers the projects CDK Pipelines creates for it).")
        acknowledge(pipeline, [
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        ], "CDK Pipelines' generated grants that name no resource: the self-mutation step's "
           "cloudformation:DescribeStacks and s3:ListBucket (to read the pipeline stack and the bootstrap "
           "bucket), the asset role's codebuild:StartBuild/BatchGetBuilds of its own publishing projects, and the "
           "pipeline role's KMS use of the cross-Region replication keys, which it reaches by alias.")
        acknowledge(pipeline, [
            f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:*:iam::{self.account}:role/*]",
        ], "The self-mutation step assumes only the CDK bootstrap roles of the tooling account (its policy's "
           "condition: iam:ResourceTag/aws-cdk:bootstrap-role is deploy, file-publishing or image-publishing).")
        unconstrained: dict[Any, str] = {
            self.pipeline.pipeline.role: "the pipeline role's KMS use of the cross-Region replication keys, which "
                                         "aws-cdk-lib grants on * because it reaches them by alias",
            **{node: "the asset role's codebuild:StartBuild and BatchGetBuilds, which CDK Pipelines grants on * for "
                     "the publishing projects it creates" for node in self.pipeline.node.find_all()
               if isinstance(node, iam.Role) and node.node.path.endswith("/Assets/FileRole")},
        }
        for role_, why in unconstrained.items():
            policy = role_.node.try_find_child("DefaultPolicy")
            if policy is not None:
                acknowledge(policy, "checkov::CKV_AWS_111", f"Generated by aws-cdk-lib: {why}.")
        for rule in ("IAMNoInlinePolicy",):
            acknowledge_across_packs(pipeline, rule, (
                "CDK Pipelines writes each generated role's grants as its inline default policy, one role per "
                "action; the approver roles, which this app writes, use managed policies."))
        for rule in ("CodeBuildProjectSourceRepoUrl",):
            acknowledge_across_packs(pipeline, rule, (
                "The projects take their source from the pipeline's artifacts (CodePipeline source), never from "
                "a repository URL with credentials; the connection holds the repository access."))
        for region, support in sorted(pipeline.pipeline.cross_region_support.items()):
            replica = support.replication_bucket
            acknowledge(pipeline, [wildcard_resource_finding(self, f"{replica.bucket_arn}/*")], (
                f"The pipeline's replica of its artifacts in {region} (CodePipeline cross-Region actions): its "
                "objects only, as for the artifact bucket."))
            stack = support.stack
            # a fixed name retained on a failed first create would make every retry fail: keep it only once created
            for node in stack.node.find_all():
                if isinstance(node, s3.CfnBucket):
                    node.apply_removal_policy(cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
            reason = (f"CodePipeline's artifact replica bucket for the deploy actions in {region}, created by "
                      "aws-cdk-lib's cross-Region support stack with a KMS key: transient copies of the pipeline's "
                      "artifacts, rebuilt by every run; the construct does not expose its settings.")
            acknowledge(stack, ["AwsSolutions::AwsSolutions-S1"], reason)
            for node in stack.node.find_all():
                if isinstance(node, s3.CfnBucket):
                    acknowledge(node, ["checkov::CKV_AWS_18", "checkov::CKV_AWS_21"], reason)
            for rule in ("S3BucketLoggingEnabled", "S3BucketReplicationEnabled", "S3BucketVersioningEnabled"):
                acknowledge_across_packs(stack, rule, reason)

    def _lintable_pipeline(self) -> None:
        """What cfn-lint reads of the generated pipeline: each deploy action's RoleArn as Fn::Sub (it validates
        the role ARN format and refuses the equivalent Fn::Join), and no DependsOn its RoleArn already implies."""
        cfn = self.pipeline.pipeline.node.default_child
        assert isinstance(cfn, codepipeline.CfnPipeline)
        for stage_index, stage in enumerate(self.resolve(cfn.stages)):
            for action_index, action in enumerate(stage["actions"]):  # the L1 property, in its jsii names
                role_arn = (action.get("configuration") or {}).get("RoleArn")
                if isinstance(role_arn, dict) and "Fn::Join" in role_arn:
                    cfn.add_property_override(f"Stages.{stage_index}.Actions.{action_index}.Configuration.RoleArn",
                                              {"Fn::Sub": _as_sub(role_arn)})
        # the role's grants must exist before the pipeline runs; the role itself is already implied by RoleArn
        policy = self.pipeline.pipeline.role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, cdk.CfnResource)
        cfn.add_override("DependsOn", [self.get_logical_id(policy)])

    def _projects(self) -> list[codebuild.IProject]:
        return [node for node in self.pipeline.node.find_all() if isinstance(node, codebuild.Project)]

    def approval_guard(self) -> dict[str, Any]:
        """A service control policy for the tooling account: nobody but the approver roles answers a gate of
        this pipeline (an administrator's ``codepipeline:*`` included). Attach it in AWS Organizations."""
        partition, region, account = "aws", self.region, self.account
        base = f"arn:{partition}:codepipeline:{region}:{account}:{self.pipeline_name}"
        roles = {approver: f"arn:{partition}:iam::{account}:role/{name}"
                 for approver, name in self.approver_role_names.items()}
        statements = []
        for approver, gate_names in sorted(self.gates.items()):
            statements.append({
                "Sid": f"Only{(approver or 'platform').title().replace('-', '')}Approvers",
                "Effect": "Deny", "Action": "codepipeline:PutApprovalResult",
                "Resource": [f"{base}/{gate}" for gate in gate_names],
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": roles[approver]}},
            })
        return {"Version": "2012-10-17", "Statement": statements}


def _unique_id(components: list[str]) -> str:
    """aws-cdk-lib's ``makeUniqueId`` (core/lib/private/uniqueid.ts): the logical id of a path relative to its
    stack, and ``Names.nodeUniqueId`` of a path from the app."""
    components = [part for part in components if part != "Default"]
    if len(components) == 1 and len(re.sub(r"[^A-Za-z0-9]", "", components[0])) <= 255:
        return re.sub(r"[^A-Za-z0-9]", "", components[0])
    digest = hashlib.md5("/".join(components).encode()).hexdigest()[:8].upper()
    human: list[str] = []
    for part in components:
        if not human or not human[-1].endswith(part):
            human.append(part)
    return "".join(re.sub(r"[^A-Za-z0-9]", "", part) for part in human if part != "Resource")[:240] + digest


_RULE_ID = re.compile(r"^(from|to) (\S+):(.+)$")


#: What aws-cdk-lib tags with its construct path as Name (the console's name column).
_NAMED_BY_PATH = (ec2.Vpc, ec2.Subnet, ec2.FlowLog)


def keep_top_level_identity(stack: cdk.Stack) -> int:
    """Make ``stack``, built in a pipeline's stage (a direct child of it), synthesize the template it has at
    the app's top level, so moving from `cdk deploy` to the pipeline changes nothing deployed:

    - security group rules keep their logical ids. aws-cdk-lib names a rule between two groups after the
      peer's unique id, which hashes the peer's whole path, the stage included; a new logical id would make
      CloudFormation create the same rule beside the old one, which EC2 refuses as a duplicate;
    - the Name tags aws-cdk-lib writes from construct paths (VPC, subnets, flow logs) keep their value.

    Returns how many rules it kept. tests/test_delivery.py compares every template with `make synth`'s."""
    flat_ids: dict[str, str] = {}
    rules = []
    for node in stack.node.find_all():
        path = node.node.path.split("/")
        flat_ids[_unique_id(path)] = _unique_id(path[1:])
        if isinstance(node, (ec2.CfnSecurityGroupIngress, ec2.CfnSecurityGroupEgress)):
            rules.append((node, path))
        elif isinstance(node, _NAMED_BY_PATH):
            # the deepest path wins, as aws-cdk-lib's own tags (priority 100) would
            cdk.Tags.of(node).add("Name", "/".join(path[1:]), priority=100 + len(path))
    kept = 0
    for rule, path in rules:
        relative = path[2:]  # below the stage and the stack
        for index, part in enumerate(relative):
            match = _RULE_ID.match(part)
            if match is not None and match[2] in flat_ids:
                relative[index] = f"{match[1]} {flat_ids[match[2]]}:{match[3]}"
                rule.override_logical_id(_unique_id(relative))
                kept += 1
                break
    return kept


def _as_sub(value: Any) -> str:
    """An ``Fn::Join`` with an empty delimiter of strings, ``Ref`` and ``Fn::GetAtt``, as an ``Fn::Sub`` string."""
    if isinstance(value, str):
        return value.replace("${", "${!")
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if isinstance(value, dict) and list(value) == ["Fn::Join"] and value["Fn::Join"][0] == "":
        return "".join(_as_sub(part) for part in value["Fn::Join"][1])
    raise ValueError(f"cannot write {value!r} as Fn::Sub")


def build_delivery(app: cdk.App, platform: PlatformSettings) -> tuple["Platform", DeliveryStack]:
    """The pipeline's cloud assembly: every stack of the platform in its unit's ``cdk.Stage``, and the pipeline."""
    from stacks.delivery import plan_waves
    from stacks.platform import build_platform, declare_availability_zones

    waves = plan_waves(platform)
    declare_availability_zones(app, platform)
    stages: dict[str, cdk.Stage] = {}
    stage_of: dict[str, cdk.Stage] = {}
    for wave in waves:
        for unit in wave.units:
            stages[unit.name] = stage = cdk.Stage(app, unit.name)
            stage_of.update({name: stage for name in unit.stacks})
    built = build_platform(app, platform, placement=lambda name: stage_of[name])
    for built_stack in built.stacks:
        keep_top_level_identity(built_stack)
    position = {name: index for index, wave in enumerate(waves) for unit in wave.units for name in unit.stacks}
    for name, after, reason in built.orderings:
        # a link CDK cannot make across stages: the wave order must keep it
        assert position[after] < position[name], f"{name} deploys in a wave before {after}, which it {reason}"
    delivery = platform.delivery
    stack = DeliveryStack(app, pipeline_name(platform), platform=platform, waves=waves, stages=stages,
                          env=cdk.Environment(account=delivery.account, region=delivery.region))
    return built, stack
