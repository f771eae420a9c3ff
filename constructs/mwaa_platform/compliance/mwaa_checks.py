"""``MwaaChecks``: a cdk-nag 3.x rule pack for Amazon MWAA, which none of cdk-nag's packs covers.

Each rule reads the stack's template as CloudFormation receives it, so it can follow references
between resources (an environment's execution role and the policies attached to it, its source
bucket and the bucket's policy). During ``cdk synth`` the pack reads the templates CDK has just
written, property overrides included; ``validate_scope`` (tests) renders the construct tree's
properties instead. Rules, what each holds and how to acknowledge one: ``MWAA_RULES`` and
``docs/security-review.md``.

A finding is acknowledged like any other, with the pack-prefixed id, on the resource or a construct
above it: ``acknowledge(environment, f"MwaaChecks::{WEB_SERVER_PRIVATE_RULE}", reason)``.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union, cast

import aws_cdk as cdk
import cdk_nag
import jsii
from constructs import IConstruct

from mwaa_platform.review._template import (
    Resources,
    account_of,
    account_root,
    as_list,
    principals,
    readable,
    role_statements,
    target_of,
    trust_statements,
)

__all__ = ["EXECUTION_ROLE_UNSCOPED_ACTIONS", "MWAA_CHECKS_PACK", "MWAA_RULES", "WEB_SERVER_PRIVATE_RULE", "MwaaChecks",
           "MwaaRule"]

#: The pack's name: acknowledgment ids read ``MwaaChecks::MwaaChecks-<Rule>[<finding>]``.
MWAA_CHECKS_PACK = "MwaaChecks"
#: The full id of the web server rule, for a team's reasoned opt-out:
#: ``acknowledge(environment, f"{MWAA_CHECKS_PACK}::{WEB_SERVER_PRIVATE_RULE}", reason)``.
WEB_SERVER_PRIVATE_RULE = f"{MWAA_CHECKS_PACK}-WebServerPrivate"

#: Actions an execution role may hold on ``Resource: *``: each accepts no narrower resource (service
#: authorization reference). MWAA's own three (``execution_role.ACTIONS_WITHOUT_RESOURCE_SCOPE``, a test
#: holds them equal), ``sts:GetServiceBearerToken`` (CodeArtifact, ``package_index``) and
#: ``batch:DescribeJobs`` (``BatchJobQueue.grant_submit``).
EXECUTION_ROLE_UNSCOPED_ACTIONS: frozenset[str] = frozenset({
    "logs:DescribeLogGroups", "cloudwatch:PutMetricData", "s3:GetAccountPublicAccessBlock",
    "sts:GetServiceBearerToken", "batch:DescribeJobs",
})

_ENVIRONMENT = "AWS::MWAA::Environment"
_ROLE = "AWS::IAM::Role"
_AIRFLOW_SERVICES = frozenset({"airflow.amazonaws.com", "airflow-env.amazonaws.com"})
_SERVERLESS_SERVICE = "airflow-serverless.amazonaws.com"
_LOG_TYPES = ("DagProcessingLogs", "SchedulerLogs", "TaskLogs", "WebserverLogs", "WorkerLogs")
_FINE_LOG_LEVELS = frozenset({"DEBUG", "INFO"})
_ARTIFACTS = (("RequirementsS3Path", "RequirementsS3ObjectVersion"), ("PluginsS3Path", "PluginsS3ObjectVersion"),
              ("StartupScriptS3Path", "StartupScriptS3ObjectVersion"))
_PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


@dataclass(frozen=True)
class _Template:
    """One stack's resources as CloudFormation receives them, and the account it deploys to (None: any)."""

    resources: Resources
    account: Optional[str]

    def properties(self, logical_id: Optional[str]) -> Mapping[str, Any]:
        return (self.resources.get(logical_id or "", {}).get("Properties")) or {}

    def type_of(self, logical_id: Optional[str]) -> Optional[str]:
        return self.resources.get(logical_id or "", {}).get("Type")


#: What a rule returns: a list of findings (each becomes ``<rule>[<finding>]``), True for a whole-resource
#: violation, or an empty list / False when the resource complies.
_Verdict = Union[list[str], bool]


@dataclass(frozen=True)
class MwaaRule:
    """One rule of the pack: the resource type it reads, what a finding means and how to fix it.

    :param suffix: the rule's name in its id, ``MwaaChecks-<suffix>``.
    :param resource_type: the CloudFormation type it is applied to.
    :param info: what is wrong, in one sentence.
    :param explanation: why it matters and how to fix it.
    :param check: the rule over the stack's template and the resource's logical id.
    :param granular: whether each finding is reported (and acknowledged) on its own, as
        ``MwaaChecks-<suffix>[<finding>]``. Default: True; False reports the resource once.
    """

    suffix: str
    resource_type: str
    info: str
    explanation: str
    check: Callable[[_Template, str], _Verdict]
    granular: bool = True

    @property
    def rule_id(self) -> str:
        return f"{MWAA_CHECKS_PACK}-{self.suffix}"


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


# --- environment rules -------------------------------------------------------------------------------


def _web_server_private(template: _Template, logical_id: str) -> _Verdict:
    return template.properties(logical_id).get("WebserverAccessMode") != "PRIVATE_ONLY"


def _all_logging_info(template: _Template, logical_id: str) -> _Verdict:
    logging = template.properties(logical_id).get("LoggingConfiguration") or {}
    findings = []
    for log_type in _LOG_TYPES:
        module = logging.get(log_type) if isinstance(logging, dict) else None
        module = module if isinstance(module, dict) else {}
        if not _truthy(module.get("Enabled")) or module.get("LogLevel") not in _FINE_LOG_LEVELS:
            findings.append(log_type)
    return findings


def _customer_managed_key(template: _Template, logical_id: str) -> _Verdict:
    return not template.properties(logical_id).get("KmsKey")


def _artifact_versions(template: _Template, logical_id: str) -> _Verdict:
    properties = template.properties(logical_id)
    return [version for path, version in _ARTIFACTS if properties.get(path) and not properties.get(version)]


def _source_bucket(template: _Template, logical_id: str) -> _Verdict:
    properties = template.properties(logical_id)
    bucket_id = target_of(properties.get("SourceBucketArn"))
    if bucket_id is None or template.type_of(bucket_id) != "AWS::S3::Bucket":
        return ["NotInStack"]
    bucket = template.properties(bucket_id)
    findings = []
    if (bucket.get("VersioningConfiguration") or {}).get("Status") != "Enabled":
        findings.append("Versioning")
    block = bucket.get("PublicAccessBlockConfiguration") or {}
    if not all(_truthy(block.get(setting)) for setting in _PUBLIC_ACCESS_BLOCK):
        findings.append("PublicAccessBlock")
    if not _denies_insecure_transport(template, bucket_id):
        findings.append("TLS")
    if not _same_key(bucket, properties.get("KmsKey")):
        findings.append("SameKey")
    return findings


def _denies_insecure_transport(template: _Template, bucket_id: str) -> bool:
    for logical_id, resource in template.resources.items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") != "AWS::S3::BucketPolicy" or target_of(properties.get("Bucket")) != bucket_id:
            continue
        for statement in as_list((properties.get("PolicyDocument") or {}).get("Statement")):
            condition = (statement.get("Condition") or {}).get("Bool") or {}
            if (statement.get("Effect") == "Deny" and statement.get("Principal") in ("*", {"AWS": "*"})
                    and any(action in ("*", "s3:*") for action in as_list(statement.get("Action")))
                    and str(condition.get("aws:SecureTransport")).lower() == "false"):
                return True
    return False


def _same_key(bucket: Mapping[str, Any], environment_key: Any) -> bool:
    """MWAA reads a KMS-encrypted source bucket only with the environment's own key (MWAA user guide)."""
    rules = as_list((bucket.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration"))
    for rule in rules:
        default = (rule or {}).get("ServerSideEncryptionByDefault") or {}
        if str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
            bucket_key = default.get("KMSMasterKeyID")
            if bucket_key is None or environment_key is None:
                return False
            return (target_of(bucket_key) or readable(bucket_key)) == (target_of(environment_key)
                                                                       or readable(environment_key))
    return True


# --- role rules ---------------------------------------------------------------------------------------


def _environments_using(template: _Template, role_id: str) -> list[str]:
    """The names of the environments of this stack whose ``ExecutionRoleArn`` is the role ``role_id``."""
    environments = [template.properties(lid) for lid, r in template.resources.items() if r.get("Type") == _ENVIRONMENT]
    return sorted(readable(env.get("Name")) for env in environments
                  if target_of(env.get("ExecutionRoleArn")) == role_id)


def _airflow_trust(template: _Template, role_id: str) -> list[Mapping[str, Any]]:
    """The role's trust statements that admit MWAA (``airflow.amazonaws.com``, ``airflow-env.amazonaws.com``)."""
    return [statement for statement in trust_statements(template.properties(role_id))
            if statement.get("Effect") == "Allow"
            and any(kind == "Service" and name in _AIRFLOW_SERVICES for kind, name in principals(statement))]


def _is_execution_role(template: _Template, role_id: str) -> bool:
    return bool(_airflow_trust(template, role_id) or _environments_using(template, role_id))


def _condition_values(statement: Mapping[str, Any], key: str, operators: tuple[str, ...]) -> list[str]:
    condition = statement.get("Condition") or {}
    return [readable(value) for operator in operators for name, values in (condition.get(operator) or {}).items()
            if name.lower() == key.lower() for value in as_list(values)]


def _execution_role_trust(template: _Template, role_id: str) -> _Verdict:
    if not _is_execution_role(template, role_id):
        return []
    findings: set[str] = set()
    users = _environments_using(template, role_id)
    for statement in _airflow_trust(template, role_id):
        arns = _condition_values(statement, "aws:SourceArn", ("ArnLike", "ArnEquals", "StringEquals", "StringLike"))
        if not arns:
            findings.add("SourceArn")
        if not _condition_values(statement, "aws:SourceAccount", ("StringEquals",)):
            findings.add("SourceAccount")
        named = [arn.partition(":environment/")[2] for arn in arns]
        if any(not name or "*" in name or "?" in name for name in named):
            findings.add("AnyEnvironment")
        elif named and users and set(users) - set(named):
            findings.add("OtherEnvironment")
    return sorted(findings)


def _serverless_role_trust(template: _Template, role_id: str) -> _Verdict:
    findings: set[str] = set()
    for statement in trust_statements(template.properties(role_id)):
        if statement.get("Effect") != "Allow" or ("Service", _SERVERLESS_SERVICE) not in principals(statement):
            continue
        if not _condition_values(statement, "aws:SourceArn", ("ArnLike", "ArnEquals", "StringEquals", "StringLike")):
            findings.add("SourceArn")
        if not _condition_values(statement, "aws:SourceAccount", ("StringEquals",)):
            findings.add("SourceAccount")
    return sorted(findings)


def _execution_role_wildcards(template: _Template, role_id: str) -> _Verdict:
    if not _is_execution_role(template, role_id):
        return []
    findings: set[str] = set()
    for attached in role_statements(template.resources, role_id):
        statement = attached.statement
        if not statement:
            findings.add(f"ManagedPolicy::{attached.source}")  # its statements are not in the template
            continue
        if statement.get("Effect") != "Allow":
            continue
        for key in ("NotAction", "NotResource"):
            if key in statement:
                findings.add(key)
        actions = [readable(action) for action in as_list(statement.get("Action"))]
        findings.update(f"Action::{action}" for action in actions if action == "*" or action.endswith(":*"))
        if "*" in (readable(resource) for resource in as_list(statement.get("Resource"))):
            findings.update(f"UnscopedAction::{action}" for action in actions
                            if action not in EXECUTION_ROLE_UNSCOPED_ACTIONS and action != "*")
    return sorted(findings)


def _cross_account_root_trust(template: _Template, role_id: str) -> _Verdict:
    named = [principal for statement in trust_statements(template.properties(role_id))
             if statement.get("Effect") == "Allow" for kind, principal in principals(statement) if kind in ("AWS", "*")]
    own = {"${AWS::AccountId}", template.account}
    if "*" in named:
        return sorted({"*", *(account_root(p) or "" for p in named)} - {""})
    if not any(account_of(principal) not in own for principal in named if account_of(principal)):
        return []  # trusts only principals of its own account (or none): not a cross-account role
    return sorted({root for root in map(account_root, named) if root is not None})


_FIX_ACK = ("If the exception is intended, acknowledge it on the resource with mwaa_platform.acknowledge(scope, "
            "'MwaaChecks::<rule id>[<finding>]', reason), which the validation report and docs/review show.")

#: Rule id suffix -> rule, in report order.
MWAA_RULES: dict[str, MwaaRule] = {rule.suffix: rule for rule in (
    MwaaRule(
        "WebServerPrivate", _ENVIRONMENT, granular=False, check=_web_server_private,
        info="The MWAA environment's web server is not PRIVATE_ONLY (WebserverAccessMode).",
        explanation="A public web server puts the Airflow UI and REST API on the internet, guarded by IAM sign-in "
                    "alone. Set webserver_access_mode='PRIVATE_ONLY' (the library's default) and reach it through the "
                    "VPC. A team that needs a public web server opts out explicitly: acknowledge "
                    "'MwaaChecks::MwaaChecks-WebServerPrivate' on the environment with the reason."),
    MwaaRule(
        "AllLoggingInfo", _ENVIRONMENT, check=_all_logging_info,
        info="An MWAA log type is disabled or logs above INFO (finding: the log type).",
        explanation="DagProcessingLogs, SchedulerLogs, TaskLogs, WebserverLogs and WorkerLogs are the only record of "
                    "what DAGs, the scheduler and the web server did; WARNING and above drop the audit trail of task "
                    "runs and sign-ins. Enable all five at INFO or DEBUG (the library's default: log_levels INFO)."),
    MwaaRule(
        "CustomerManagedKey", _ENVIRONMENT, granular=False, check=_customer_managed_key,
        info="The MWAA environment does not name a customer managed KMS key (KmsKey).",
        explanation="Without KmsKey, MWAA encrypts the metadata database, logs and queue with an AWS owned key that "
                    "no key policy of yours controls or audits, and the key cannot be added later (KmsKey forces a "
                    "new environment). Pass a customer managed key (AirflowKey, the library's default)."),
    MwaaRule(
        "ArtifactVersions", _ENVIRONMENT, check=_artifact_versions,
        info="requirements.txt, plugins.zip or the startup script is given without its S3 object version "
             "(finding: the missing *S3ObjectVersion property).",
        explanation="MWAA installs a new requirements file, plugins or startup script only when the object version it "
                    "is given changes; without one, a changed file is never installed, or is installed at an "
                    "unreviewed moment. Wire each artifact by version (AirflowArtifacts does)."),
    MwaaRule(
        "SourceBucket", _ENVIRONMENT, check=_source_bucket,
        info="The environment's source bucket is not held to MWAA's requirements (finding: NotInStack, Versioning, "
             "PublicAccessBlock, TLS or SameKey).",
        explanation="The source bucket holds the DAGs MWAA runs with the execution role's permissions: it must be "
                    "versioned, block all public access, deny requests without TLS (a bucket policy denying "
                    "aws:SecureTransport false) and, if KMS-encrypted, use the environment's own key. NotInStack: "
                    "SourceBucketArn is not a bucket of this stack, so none of this can be read from the template; "
                    "create the bucket in the stack (AirflowSourceBucket) or acknowledge with where it is held."),
    MwaaRule(
        "ExecutionRoleTrust", _ROLE, check=_execution_role_trust,
        info="The MWAA execution role's trust policy does not pin aws:SourceArn and aws:SourceAccount to its own "
             "environment (finding: SourceArn, SourceAccount, AnyEnvironment or OtherEnvironment).",
        explanation="Without both conditions any MWAA environment, in any account, could act as this role (the "
                    "confused deputy); a wildcard environment lets every environment of the account use it. Trust "
                    "airflow.amazonaws.com and airflow-env.amazonaws.com with ArnLike aws:SourceArn "
                    "arn:<partition>:airflow:<region>:<account>:environment/<name> of the environment using the role "
                    "and StringEquals aws:SourceAccount <account> (AirflowExecutionRole does)."),
    MwaaRule(
        "ExecutionRoleWildcards", _ROLE, check=_execution_role_wildcards,
        info="The MWAA execution role is allowed a wildcard action, NotAction/NotResource, an action on Resource * "
             "that accepts a narrower resource, or a managed policy the template does not show (finding names it).",
        explanation="Every DAG of the environment runs with the execution role, so a wildcard reaches beyond what "
                    "the environment needs. Only actions that accept no resource may be granted on '*' ("
                    + ", ".join(sorted(EXECUTION_ROLE_UNSCOPED_ACTIONS)) + "); grant everything else on the ARNs it "
                    "touches, through the grant_* methods of the resource."),
    MwaaRule(
        "ServerlessRoleTrust", _ROLE, check=_serverless_role_trust,
        info="A role MWAA Serverless may assume does not pin aws:SourceArn and aws:SourceAccount (finding: the "
             "missing condition).",
        explanation="Without both conditions any workflow of any account could run as this role (the confused "
                    "deputy). Trust airflow-serverless.amazonaws.com with StringEquals aws:SourceAccount <account> and "
                    "ArnLike aws:SourceArn arn:<partition>:airflow-serverless:<region>:<account>:workflow/<name> "
                    "(the library's serverless workflow role does)."),
    MwaaRule(
        "CrossAccountRootTrust", _ROLE, check=_cross_account_root_trust,
        info="A cross-account role trusts a whole account (its root, or a bare account id) or everyone (finding: the "
             "account, or *).",
        explanation="Trusting an account root delegates the decision to every administrator of that account: any of "
                    "its principals allowed sts:AssumeRole may assume this role. Trust the exact role ARN that "
                    "assumes it (e.g. the environment's execution role), or acknowledge with the reason and the "
                    "conditions that narrow it."),
)}


# --- the pack ----------------------------------------------------------------------------------------


@jsii.implements(cdk_nag.IApplyRule)
class _AppliedRule:
    """One rule applied to one resource, in the shape cdk-nag's ``applyRule`` takes."""

    def __init__(self, rule: MwaaRule, node: cdk.CfnResource, verdict: Callable[[], _Verdict]) -> None:
        self._rule, self._node, self._verdict = rule, node, verdict

    @property
    def explanation(self) -> str:
        return f"{self._rule.explanation} {_FIX_ACK}"

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def level(self) -> cdk_nag.NagMessageLevel:
        return cdk_nag.NagMessageLevel.ERROR

    @property
    def node(self) -> cdk.CfnResource:
        return self._node

    @property
    def rule_suffix_override(self) -> Optional[str]:
        return self._rule.suffix

    def rule(self, node: cdk.CfnResource) -> Union[cdk_nag.NagRuleCompliance, list[str]]:
        verdict = self._verdict()  # an error here is reported as "Rule threw an error", never as a pass
        if isinstance(verdict, list):
            if not self._rule.granular:
                return cdk_nag.NagRuleCompliance.NON_COMPLIANT if verdict else cdk_nag.NagRuleCompliance.COMPLIANT
            return verdict or cdk_nag.NagRuleCompliance.COMPLIANT
        return cdk_nag.NagRuleCompliance.NON_COMPLIANT if verdict else cdk_nag.NagRuleCompliance.COMPLIANT


_RULES_BY_TYPE: dict[str, list[MwaaRule]] = {}
for _rule in MWAA_RULES.values():
    _RULES_BY_TYPE.setdefault(_rule.resource_type, []).append(_rule)


class MwaaChecks(cdk_nag.NagPack):
    """cdk-nag rules for Amazon MWAA environments, their execution roles and source buckets, and
    cross-account trust (``MWAA_RULES``).

    Attach it with the other packs (``attach_nag_packs`` does), or on its own:
    ``cdk.Validations.of(app).add_plugins(MwaaChecks())``; in tests, ``MwaaChecks().validate_scope(stack)``.
    """

    def __init__(self, scope: Optional[IConstruct] = None, *, verbose: Optional[bool] = None,
                 write_suppressions_to_cloud_formation: Optional[bool] = None) -> None:
        """
        :param scope: the app, needed only with ``write_suppressions_to_cloud_formation``. Default: none.
        :param verbose: add each rule's explanation to its finding. Default: False.
        :param write_suppressions_to_cloud_formation: write acknowledgments into the resources' template
            Metadata (``cdk_nag.rules_to_suppress``). Default: False.
        """
        super().__init__(scope, verbose=verbose,
                         write_suppressions_to_cloud_formation=write_suppressions_to_cloud_formation)
        self._pack_name = MWAA_CHECKS_PACK
        self._written: dict[str, Mapping[str, Any]] = {}  # template path -> template, during cdk synth
        self._rendered: dict[str, _Template] = {}  # per walk: stack path -> its rendered template

    @property
    def name(self) -> str:
        return MWAA_CHECKS_PACK

    @property
    def rule_ids(self) -> Optional[list[str]]:
        return [rule.rule_id for rule in MWAA_RULES.values()]

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        # CDK has written the templates: read them, so property overrides count too
        written = [(os.path.realpath(stack.template_path), json.loads(open(stack.template_path).read()), stack.account_id)
                   for stack in context.stack_templates]
        self._written = {path: template for path, template, _ in written}
        try:
            if _all_compliant((template, account) for _, template, account in written):
                # nothing to report or acknowledge: cdk-nag's walk would call back into Python a few times for
                # every rule and resource (most of the pack's cost) only to find the same
                return cdk.PolicyValidationPluginReport(success=True, violations=[])
            return cdk_nag.NagPack.validate(self, context)
        finally:
            self._written = {}

    def validate_scope(self, scope: IConstruct) -> cdk.PolicyValidationPluginReport:
        self._rendered = {}
        try:
            return cdk_nag.NagPack.validate_scope(self, scope)
        finally:
            self._rendered = {}

    def _check_resource(self, node: cdk.CfnResource) -> None:
        rules = _RULES_BY_TYPE.get(node.cfn_resource_type)
        if not rules:
            return
        stack = cdk.Stack.of(node)
        template = self._template(stack)
        logical_id = stack.resolve(node.logical_id)
        for rule in rules:
            # read-only properties are enough: cdk-nag only reads them (mypy's protocol asks for setters)
            check = functools.partial(rule.check, template, logical_id)
            self._apply_rule(cast(cdk_nag.IApplyRule, _AppliedRule(rule, node, check)))

    def _template(self, stack: cdk.Stack) -> _Template:
        account = None if cdk.Token.is_unresolved(stack.account) else stack.account
        stage = cdk.Stage.of(stack)
        path = os.path.realpath(os.path.join(stage.outdir, stack.template_file)) if stage else ""
        written = self._written.get(path)
        if written is not None:
            return _Template(written.get("Resources") or {}, account)
        key = stack.node.path
        if key not in self._rendered:
            self._rendered[key] = _Template(_render(stack), account)
        return self._rendered[key]


def _all_compliant(templates: Iterable[tuple[Mapping[str, Any], Optional[str]]]) -> bool:
    """Whether every rule passes on every resource of ``templates`` (each with the account it deploys to, or
    None), in Python alone. A rule that fails, or raises, says no: cdk-nag then reports it as usual."""
    for written, account in templates:
        template = _Template(written.get("Resources") or {}, None if not account or cdk.Token.is_unresolved(account)
                             else account)
        for logical_id, resource in template.resources.items():
            for rule in _RULES_BY_TYPE.get(resource.get("Type", ""), ()):
                try:
                    if rule.check(template, logical_id):
                        return False
                except Exception:  # noqa: BLE001 - reported by cdk-nag's own walk, as "Rule threw an error"
                    return False
    return True


def _render(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    """The stack's resources from the construct tree, as the template will have them (raw overrides aside)."""
    resources = {}
    for construct in stack.node.find_all():
        if isinstance(construct, cdk.CfnResource) and cdk.Stack.of(construct) is stack:
            # resolved first: L1 classes check their properties when rendering, and lazy values only resolve
            properties = stack.resolve(construct._render_properties(stack.resolve(construct._cfn_properties)))
            resources[stack.resolve(construct.logical_id)] = {"Type": construct.cfn_resource_type,
                                                              "Properties": properties or {}}
    return resources
