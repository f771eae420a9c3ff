"""The delivery pipeline (docs/delivery.md): CDK Pipelines on CodePipeline V2 in the tooling account.

`make synth-pipeline` builds it (`cdk synth -c delivery=pipeline`): the platform's stacks inside one
``cdk.Stage`` per unit (``stacks.delivery``), each under its usual CloudFormation stack name, and this
stack, whose pipeline tests, synthesizes and deploys them wave by wave. Only the approver roles built
here may answer the production gates; ``approval_guard`` is the service control policy that makes
them the only ones in the tooling account.
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
from mwaa_platform.errors import MwaaPlatformError
from mwaa_platform.validation import partition_of_region

from stacks.delivery import PLATFORM_GATE, TEAM_GATE, Wave
from stacks.registry import PlatformSettings

if TYPE_CHECKING:
    from stacks.platform import Platform

#: What an approver reads of the pipeline to decide, besides answering its gate.
APPROVER_READ_ACTIONS = ("codepipeline:GetPipeline", "codepipeline:GetPipelineState",
                         "codepipeline:GetPipelineExecution", "codepipeline:ListPipelineExecutions",
                         "codepipeline:ListActionExecutions")
#: What makes an author in CodeCommit, or changes what is reviewed: an approver role may do none of it.
AUTHOR_ACTIONS = ("codecommit:GitPush", "codecommit:CreateCommit", "codecommit:PutFile", "codecommit:DeleteFile",
                  "codecommit:CreateUnreferencedMergeCommit", "codecommit:CreateBranch", "codecommit:DeleteBranch",
                  "codecommit:UpdateDefaultBranch", "codecommit:MergeBranchesByFastForward",
                  "codecommit:MergeBranchesBySquash", "codecommit:MergeBranchesByThreeWay",
                  "codecommit:MergePullRequestByFastForward", "codecommit:MergePullRequestBySquash",
                  "codecommit:MergePullRequestByThreeWay", "codecommit:OverridePullRequestApprovalRules",
                  "codecommit:CreatePullRequestApprovalRule", "codecommit:UpdatePullRequestApprovalRuleContent",
                  "codecommit:DeletePullRequestApprovalRule", "codecommit:AssociateApprovalRuleTemplateWithRepository",
                  "codecommit:DisassociateApprovalRuleTemplateFromRepository", "codecommit:PutRepositoryTriggers",
                  "codecommit:UpdateRepositoryName", "codecommit:DeleteRepository")
#: What the approval guard keeps to CloudFormation on the approver roles and policies.
GUARDED_IAM_ACTIONS = ("iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
                       "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                       "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary", "iam:TagRole",
                       "iam:UntagRole", "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion",
                       "iam:DeletePolicyVersion", "iam:DeletePolicy")
#: The CDK bootstrap roles another account's `cdk bootstrap --trust` opens to the tooling account.
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
#: The synth step: the pipeline's cloud assembly, every pack and the preflight checks on every template.
SYNTH_COMMANDS = ("make synth-pipeline",)
#: The checks step, before the first wave: the README's test command, then every team's DAGs imported on
#: its Airflow version with ruff's AIR rules. A failure stops every deployment.
CHECK_COMMANDS = ("make test", "make dags-check")
#: Every way to write or remove an artifact object: denied to the checks step, which runs the teams' code.
ARTIFACT_WRITE_ACTIONS = ("s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutObjectTagging",
                          "s3:PutObjectVersionTagging", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
                          "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload", "s3:RestoreObject")
#: CodePipeline's longest action name (API reference: ActionDeclaration).
ACTION_NAME_MAX = 100
PIPELINE_OUT = "cdk.out.pipeline"


def pipeline_name(platform: PlatformSettings) -> str:
    return f"{platform.name}-delivery"


class DeliveryStack(cdk.Stack):
    """The pipeline, its approver roles, and the SCP that keeps the gates theirs."""

    def __init__(self, scope: Construct, construct_id: str, *, platform: PlatformSettings, waves: list[Wave],
                 stages: dict[str, cdk.Stage], **kwargs: Any) -> None:
        # compact JSON: a pipeline of 200 teams (806 deploy actions) is 947 KB indented, 94% of CloudFormation's
        # 1 MB template limit, and 623 KB without the indentation (the preflight's stack-limits rule watches it)
        super().__init__(scope, construct_id, description=f"{platform.name}: the delivery pipeline (docs/delivery.md)",
                         termination_protection=True, suppress_template_indentation=True, **kwargs)
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
        # synthesis reads the teams' folders but runs none of their code: what the pipeline deploys to itself
        # (UpdatePipeline, before any gate) comes from code the platform team owns. The tests and the DAG
        # checks, which import the teams' DAGs, run in their own step, which has no output to deploy.
        synth = pipelines.ShellStep("Synth", input=source, commands=list(SYNTH_COMMANDS),
                                    primary_output_directory=PIPELINE_OUT)
        # the artifacts (the cloud assembly every stage deploys) in a versioned, KMS-encrypted bucket with
        # server access logs; the stage accounts' deploy roles read it through the key's policy
        self.key = kms.Key(self, "ArtifactsKey", enable_key_rotation=True,
                           description=f"Encrypts the artifacts of {self.pipeline_name}")
        self.artifacts = AirflowSourceBucket(self, "Artifacts", key=self.key, access_logs_prefix="artifacts/",
                                             noncurrent_version_expiration=cdk.Duration.days(30))
        # the team code the checks run must not rewrite what the waves after them deploy: CDK Pipelines gives
        # every CodeBuild step read and write on the artifacts; this step is denied every write
        checks = pipelines.CodeBuildStep("Checks", input=source, commands=list(CHECK_COMMANDS), role_policy_statements=[
            iam.PolicyStatement(sid="NeverRewriteTheArtifacts", effect=iam.Effect.DENY,
                                actions=list(ARTIFACT_WRITE_ACTIONS), resources=[self.artifacts.bucket.arn_for_objects("*")])])
        self.pipeline = pipelines.CodePipeline(
            self, "Pipeline", pipeline_name=self.pipeline_name, pipeline_type=codepipeline.PipelineType.V2,
            synth=synth, artifact_bucket=self.artifacts.bucket, cross_account_keys=True, enable_key_rotation=True,
            use_change_sets=False,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(build_environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0, compute_type=codebuild.ComputeType.MEDIUM)),
        )
        #: (pipeline stage, action) of each approval -> the approving team ("" for the platform approvers)
        approvals_of_unit = {unit.name: unit.approved_by for wave in waves for unit in wave.units}
        for index, wave in enumerate(waves):
            pre: list[pipelines.Step] = [checks] if index == 0 else []
            if wave.gated:
                pre.append(pipelines.ManualApprovalStep(PLATFORM_GATE, comment=(
                    f"Production: {wave.stage}. Approve only a change you did not write (docs/delivery.md).")))
            step = self.pipeline.add_wave(wave.name, pre=pre)
            for unit in wave.units:
                team_pre = [pipelines.ManualApprovalStep(TEAM_GATE, comment=(
                    f"Four eyes: team {unit.approved_by} approves {unit.name} in {wave.stage}."))] \
                    if unit.approved_by is not None else []
                step.add_stage(stages[unit.name], pre=team_pre)
        self.pipeline.build_pipeline()
        # the approval actions as CodePipeline names them ("<unit>.Approve", or "Approve" in a wave of one unit,
        # which CDK Pipelines names after the unit), matched to who opens them through the plan
        self.gates: dict[str, list[str]] = {}
        too_long = []
        for stage in self.pipeline.pipeline.stages:
            for action in stage.actions:
                props = action.action_properties
                if len(props.action_name) > ACTION_NAME_MAX:
                    too_long.append(f"{stage.stage_name}/{props.action_name}")
                if props.category != codepipeline.ActionCategory.APPROVAL:
                    continue
                if props.action_name.endswith(PLATFORM_GATE):
                    approver = ""
                else:
                    unit_name = props.action_name.rsplit(".", 1)[0] if "." in props.action_name else stage.stage_name
                    approver = approvals_of_unit[unit_name] or ""
                self.gates.setdefault(approver, []).append(f"{stage.stage_name}/{props.action_name}")
        if too_long:
            raise MwaaPlatformError(
                f"delivery: CodePipeline refuses action names over {ACTION_NAME_MAX} characters, and the pipeline "
                f"would have {', '.join(too_long[:3])}{' ...' if len(too_long) > 3 else ''}: shorten the platform "
                "or team names")
        # what CDK Pipelines generated, walked once
        self._generated: list[Any] = list(self.pipeline.node.find_all())
        for node in self._generated:
            if isinstance(node, iam.CfnRole):
                # the guard knows the pipeline's roles by their names (a path would break CodeBuild's ServiceRole)
                relative = node.node.path.removeprefix(self.node.path + "/")
                node.role_name = f"{self.deployers_prefix}{hashlib.md5(relative.encode()).hexdigest()[:8]}"
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
        # under the pipeline's own IAM path, which the approval guard reserves for these roles; names are unique
        # in the account, paths aside
        name = f"{self.pipeline_name}-approver-{approver or 'platform'}"
        if len(name) > 64:
            name = f"{name[:55]}-{hashlib.md5(name.encode()).hexdigest()[:8]}"
        self.approver_role_names[approver] = name
        role = iam.Role(
            self, f"{approver.title().replace('-', '') or 'Platform'}Approver", role_name=name, path=self.iam_path,
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
        iam.ManagedPolicy(self, f"{role.node.id}Policy", roles=[role], statements=statements, path=self.iam_path,
                          description=f"What {name} may do: answer its gates and read the pipeline")
        return role

    @property
    def iam_path(self) -> str:
        """The IAM path of the approver roles and their policies: the approval guard reserves it."""
        return f"/{self.pipeline_name}/approvers/"

    @property
    def deployers_prefix(self) -> str:
        """The name prefix of the roles CDK Pipelines generates (pipeline, actions, CodeBuild projects): the
        approval guard lets only them assume other accounts' bootstrap roles. At most 49 + 3 + 8 characters."""
        return f"{self.pipeline_name}-d-"

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
            f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:*:iam::{self.account}:role/*]",
        ], "The self-mutation step assumes only the CDK bootstrap roles of the tooling account (its policy's "
           "condition: iam:ResourceTag/aws-cdk:bootstrap-role is deploy, file-publishing or image-publishing).")
        # the three generated policies with a grant on *, each acknowledged where it is, with what it grants
        roles = {role.node.path.removeprefix(pipeline.node.path + "/"): role for role in self._generated
                 if isinstance(role, iam.Role)}
        unconstrained = {
            "Pipeline/Role": ("the pipeline role's KMS use of the cross-Region replication keys, which aws-cdk-lib "
                              "grants on * because it reaches them by alias", True),
            "Assets/FileRole": ("the asset role's codebuild:StartBuild and BatchGetBuilds, which CDK Pipelines grants "
                                "on * for the publishing projects it creates", True),
            "UpdatePipeline/SelfMutation/Role": ("the self-mutation step's cloudformation:DescribeStacks and "
                                                 "s3:ListBucket, to read the pipeline stack and the bootstrap bucket",
                                                 False),
        }
        for path, (why, writes) in unconstrained.items():
            policy = roles[path].node.try_find_child("DefaultPolicy") if path in roles else None
            if policy is None:
                continue
            acknowledge(policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", f"Generated by aws-cdk-lib: {why}.")
            if writes:
                acknowledge(policy, "checkov::CKV_AWS_111", f"Generated by aws-cdk-lib: {why}.")
        acknowledge_across_packs(pipeline, "IAMNoInlinePolicy", (
            "CDK Pipelines writes each generated role's grants as its inline default policy, one role per "
            "action; the approver roles, which this app writes, use managed policies."))
        acknowledge_across_packs(pipeline, "CodeBuildProjectSourceRepoUrl", (
            "The projects take their source from the pipeline's artifacts (CodePipeline source), never from "
            "a repository URL with credentials; the connection holds the repository access."))
        for region, support in sorted(pipeline.pipeline.cross_region_support.items()):
            replica = support.replication_bucket
            acknowledge(pipeline, [wildcard_resource_finding(self, f"{replica.bucket_arn}/*")], (
                f"The pipeline's replica of its artifacts in {region} (CodePipeline cross-Region actions): its "
                "objects only, as for the artifact bucket."))
            stack = support.stack
            reason = (f"CodePipeline's artifact replica bucket for the deploy actions in {region}, created by "
                      "aws-cdk-lib's cross-Region support stack with a KMS key: transient copies of the pipeline's "
                      "artifacts, rebuilt by every run, private and encrypted.")
            acknowledge(stack, ["AwsSolutions::AwsSolutions-S1"], reason)
            for node in stack.node.find_all():
                if isinstance(node, s3.CfnBucket):
                    # a fixed name retained on a failed first create would make every retry fail: keep it only
                    # once created
                    node.apply_removal_policy(cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
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
        return [node for node in self._generated if isinstance(node, codebuild.Project)]

    def approval_guard(self) -> dict[str, Any]:
        """A service control policy for the tooling account (AWS Organizations, attached from the management
        account). It does not change as teams and gates come and go, and stays far below the SCP's 5,120
        characters. It denies, whatever their identity policies allow (an administrator's included):

        - answering a gate of this pipeline, to every principal but a role under the pipeline's IAM path;
        - creating or changing a role or policy under that path or the pipeline's own roles, and changing or
          deleting the pipeline, to every principal but CloudFormation's execution role (the pipeline deploying
          itself);
        - assuming the CDK bootstrap roles of another account (what ``cdk bootstrap --trust`` opens to the
          whole tooling account), to every principal but the pipeline's own roles.
        """
        partition = partition_of_region(self.region)  # the registry checked the Region
        account, path = self.account, self.iam_path
        deployer = f"arn:{partition}:iam::{account}:role/cdk-*-cfn-exec-role-{account}-*"
        pipeline_roles = f"arn:{partition}:iam::{account}:role/{self.deployers_prefix}*"
        return {"Version": "2012-10-17", "Statement": [
            {"Sid": "OnlyApproverRolesAnswerGates", "Effect": "Deny", "Action": "codepipeline:PutApprovalResult",
             "Resource": f"arn:{partition}:codepipeline:{self.region}:{account}:{self.pipeline_name}/*",
             "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:{partition}:iam::{account}:role{path}*"}}},
            {"Sid": "OnlyTheDeploymentChangesApprovers", "Effect": "Deny", "Action": list(GUARDED_IAM_ACTIONS),
             "Resource": [f"arn:{partition}:iam::{account}:role{path}*", f"arn:{partition}:iam::{account}:policy{path}*",
                          pipeline_roles],
             "Condition": {"ArnNotLike": {"aws:PrincipalArn": deployer}}},
            {"Sid": "OnlyTheDeploymentChangesThePipeline", "Effect": "Deny",
             "Action": ["codepipeline:UpdatePipeline", "codepipeline:DeletePipeline"],
             "Resource": f"arn:{partition}:codepipeline:{self.region}:{account}:{self.pipeline_name}",
             "Condition": {"ArnNotLike": {"aws:PrincipalArn": deployer}}},
            {"Sid": "OnlyThePipelineDeploysElsewhere", "Effect": "Deny", "Action": "sts:AssumeRole",
             "Resource": [f"arn:{partition}:iam::*:role/cdk-*-{kind}-role-*" for kind in BOOTSTRAP_ROLES],
             "Condition": {
                 "StringNotEquals": {"aws:ResourceAccount": account},
                 "ArnNotLike": {"aws:PrincipalArn": pipeline_roles}}},
        ]}


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


#: How aws-cdk-lib names a rule between groups: "from|to <peer unique id>:<port>", or, for a peer in another
#: stack, "<group unique id>:<port> from|to" on the peer.
_RULE_ID = re.compile(r"^(from|to) (?P<peer>\S+):(.+)$")
_REVERSED_RULE_ID = re.compile(r"^(?P<peer>\S+):(.+) (from|to)$")
#: A node unique id: letters and digits ending in an 8-character upper-case hex hash (not a CIDR or a prefix list).
_NODE_UNIQUE_ID = re.compile(r"^[A-Za-z0-9]*[0-9A-F]{8}$")


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
            match = _RULE_ID.match(part) or _REVERSED_RULE_ID.match(part)
            if match is None or not _NODE_UNIQUE_ID.search(match["peer"]):  # a CIDR, a prefix list, {IndirectPeer}
                continue
            if match["peer"] not in flat_ids:
                # a peer outside this stack: its unique id cannot be mapped, and a silent new id would replace
                # the rule in every deployed stack
                raise MwaaPlatformError(
                    f"{rule.node.path}: a security group rule names {match['peer']}, a group outside its stack, "
                    "so its logical id cannot be kept in the delivery pipeline; reference the group by id "
                    "(an SSM parameter) instead")
            relative[index] = part.replace(match["peer"], flat_ids[match["peer"]])
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
        if position[after] >= position[name]:
            raise MwaaPlatformError(f"delivery: {name} would deploy in a wave no later than {after}, which it "
                                    f"{reason}: the wave plan is wrong (stacks.delivery.plan_waves)")
    delivery = platform.delivery
    stack = DeliveryStack(app, pipeline_name(platform), platform=platform, waves=waves, stages=stages,
                          env=cdk.Environment(account=delivery.account, region=delivery.region))
    return built, stack
