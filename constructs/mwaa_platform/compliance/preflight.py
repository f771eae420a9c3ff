"""Preflight checks: what AWS rejects at deploy time that CloudFormation's schema (and so cfn-lint)
does not know.

``PreflightChecks`` is a CDK policy-validation plugin, attached next to the cdk-nag packs
(``attach_preflight_checks(app)``). It reads every synthesized template of the app once, so checks
that span stacks (a security group's inbound rules added from many team stacks, two stacks
claiming one log group name, environments per account and Region) see the whole app. Errors fail
synthesis; warnings (adjustable quotas) are reported and let synthesis pass.

Each rule is a plain function over the templates, so it can be tested on a template dict. Rules
and their sources are in ``PREFLIGHT_RULES`` and ``docs/security-review.md``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Optional

import aws_cdk as cdk
import botocore.session
import jsii

from mwaa_platform._internal.ec2_rules import EC2_DESCRIPTION, EC2_DESCRIPTION_CHARS, EC2_DESCRIPTION_MAX
from mwaa_platform.compliance.path_rules import PATH_RULES, describe_paths
from mwaa_platform.compliance._templates import Finding, Quotas, StackTemplate, literal, literal_fragments
from mwaa_platform.errors import MwaaPlatformError, shorten

__all__ = [
    "PATHS_REPORT",
    "PREFLIGHT_PLUGIN_NAME",
    "PREFLIGHT_RULES",
    "RESOURCES_PER_STACK_MAX",
    "STACK_LIMIT_WARNING_SHARE",
    "TEMPLATE_BODY_MAX_BYTES",
    "Finding",
    "PreflightChecks",
    "Quotas",
    "StackTemplate",
    "attach_preflight_checks",
    "paths_report",
    "run_preflight",
]

PREFLIGHT_PLUGIN_NAME = "mwaa-platform-preflight"
#: The file the plugin writes beside the templates: every environment's DAG paths, for reviewers.
PATHS_REPORT = "dag-paths.md"


# --- rule: EC2 security group descriptions ------------------------------------------------------


def _descriptions(resource_type: str, properties: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    if resource_type == "AWS::EC2::SecurityGroup":
        yield "Properties/GroupDescription", properties.get("GroupDescription")
        for direction in ("SecurityGroupIngress", "SecurityGroupEgress"):
            for index, rule in enumerate(properties.get(direction) or []):
                if isinstance(rule, dict):
                    yield f"Properties/{direction}/{index}/Description", rule.get("Description")
    elif resource_type in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        yield "Properties/Description", properties.get("Description")


def check_ec2_descriptions(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            for path, value in _descriptions(resource.get("Type", ""), resource.get("Properties", {})):
                if value is None:
                    continue
                bad = sorted({char for fragment in literal_fragments(value) for char in fragment
                              if not EC2_DESCRIPTION.match(char)})
                text = literal(value, stack)
                if bad:
                    yield Finding("ec2-description-charset", "error", stack, logical_id, path,
                                  f"EC2 accepts only {EC2_DESCRIPTION_CHARS} in security group descriptions; "
                                  f"{shorten(text or value)} has {''.join(bad)!r}")
                if text is not None and len(text) > EC2_DESCRIPTION_MAX:
                    yield Finding("ec2-description-charset", "error", stack, logical_id, path,
                                  f"EC2 accepts descriptions of at most {EC2_DESCRIPTION_MAX} characters, got {len(text)}")


# --- physical names ------------------------------------------------------------------------------

Scope = Literal["region", "account", "global"]


@dataclass(frozen=True)
class PhysicalName:
    """How a resource type is named: the property, where names must be unique, and the length limit.

    ``api`` names the botocore input member whose ``max`` is the limit (read from the installed
    model); ``limit`` is used where the model has none or a looser one than the service enforces.
    """

    prop: str
    scope: Scope
    api: Optional[tuple[str, str, str]] = None
    limit: Optional[int] = None


#: Resource types with a fixed physical name: "region" names are unique per account and Region,
#: "account" ones per account (IAM, dashboards, budgets), "global" ones across all accounts (S3).
PHYSICAL_NAMES: dict[str, PhysicalName] = {
    "AWS::MWAA::Environment": PhysicalName("Name", "region", api=("mwaa", "CreateEnvironmentInput", "Name")),
    "AWS::Logs::LogGroup": PhysicalName("LogGroupName", "region", api=("logs", "CreateLogGroupRequest", "logGroupName")),
    # SSM counts "arn:PARTITION:ssm:REGION:ACCOUNT:parameter" into its 1011 (the model's 2048 includes reserved space)
    "AWS::SSM::Parameter": PhysicalName("Name", "region", limit=1011),
    "AWS::SecretsManager::Secret": PhysicalName("Name", "region", api=("secretsmanager", "CreateSecretRequest", "Name")),
    # the model's 140 admits a whole ARN; a name alone may have 64 (Lambda API: FunctionName)
    "AWS::Lambda::Function": PhysicalName("FunctionName", "region", limit=64),
    "AWS::KMS::Alias": PhysicalName("AliasName", "region", api=("kms", "CreateAliasRequest", "AliasName")),
    "AWS::SNS::Topic": PhysicalName("TopicName", "region", limit=256),  # SNS API: CreateTopic Name
    "AWS::SQS::Queue": PhysicalName("QueueName", "region", limit=80),  # SQS API: CreateQueue QueueName
    "AWS::ECS::Cluster": PhysicalName("ClusterName", "region", limit=255),  # ECS API: CreateCluster clusterName
    "AWS::ECR::Repository": PhysicalName("RepositoryName", "region",
                                         api=("ecr", "CreateRepositoryRequest", "repositoryName")),
    "AWS::Batch::JobQueue": PhysicalName("JobQueueName", "region", limit=128),  # Batch API: CreateJobQueue
    "AWS::Batch::ComputeEnvironment": PhysicalName("ComputeEnvironmentName", "region", limit=128),
    "AWS::Events::Rule": PhysicalName("Name", "region", api=("events", "PutRuleRequest", "Name")),
    "AWS::CloudWatch::Alarm": PhysicalName("AlarmName", "region", api=("cloudwatch", "PutMetricAlarmInput", "AlarmName")),
    # dashboards are global to the account: one name in two Regions is one dashboard (PutDashboard)
    "AWS::CloudWatch::Dashboard": PhysicalName("DashboardName", "account", limit=255),
    "AWS::Budgets::Budget": PhysicalName("Budget.BudgetName", "account", api=("budgets", "Budget", "BudgetName")),
    "AWS::EKS::Cluster": PhysicalName("Name", "region", api=("eks", "CreateClusterRequest", "name")),
    "AWS::IAM::Role": PhysicalName("RoleName", "account", api=("iam", "CreateRoleRequest", "RoleName")),
    "AWS::IAM::ManagedPolicy": PhysicalName("ManagedPolicyName", "account",
                                            api=("iam", "CreatePolicyRequest", "PolicyName")),
    "AWS::S3::Bucket": PhysicalName("BucketName", "global", limit=63),  # S3 bucket naming rules
}


@cache
def name_limit(resource_type: str) -> Optional[int]:
    """The most characters a ``resource_type``'s name may have: botocore's model where it says, else
    the service's documented limit (``PHYSICAL_NAMES``)."""
    spec = PHYSICAL_NAMES.get(resource_type)
    if spec is None:
        return None
    if spec.limit is not None:
        return spec.limit
    assert spec.api is not None
    service, shape, member = spec.api
    model = botocore.session.get_session().get_service_model(service)
    return model.shape_for(shape).members[member].metadata.get("max")


def _named(stacks: Iterable[StackTemplate]) -> Iterator[tuple[StackTemplate, str, Mapping[str, Any], str, Optional[str]]]:
    """(stack, logical id, resource, name property, literal name or None) for each fixed-name resource."""
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            spec = PHYSICAL_NAMES.get(resource.get("Type", ""))
            if spec is None:
                continue
            value: Any = resource.get("Properties", {})
            for part in spec.prop.split("."):  # a nested name, e.g. Budget.BudgetName
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                yield stack, logical_id, resource, spec.prop, literal(value, stack)


def check_name_lengths(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    for stack, logical_id, resource, prop, name in _named(stacks):
        limit = name_limit(resource["Type"])
        if name is None or limit is None:
            continue
        used = len(name)
        if resource["Type"] == "AWS::SSM::Parameter":
            used += len(f"arn:aws:ssm:{stack.region or 'ap-southeast-3'}:{'0' * 12}:parameter")
        if used > limit:
            yield Finding("physical-name-length", "error", stack, logical_id, f"Properties/{prop}",
                          f"{resource['Type']} {prop} may have at most {limit} characters, got {used} ({shorten(name)})")


def check_retained_fixed_names(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    for stack, logical_id, resource, prop, name in _named(stacks):
        if resource.get("DeletionPolicy") == "Retain":
            yield Finding("retain-fixed-name", "error", stack, logical_id, "DeletionPolicy",
                          f"{resource['Type']} has the fixed name {shorten(name or resource['Properties'][prop])} and "
                          "DeletionPolicy Retain: a failed first create leaves it behind and every retry fails with "
                          "'already exists'; use RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE (RetainExceptOnCreate)")


def check_duplicate_names(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    claims: dict[tuple, list[tuple[StackTemplate, str, str]]] = defaultdict(list)
    for stack, logical_id, resource, prop, name in _named(stacks):
        if name is None:
            continue
        scope = PHYSICAL_NAMES[resource["Type"]].scope
        where = {"region": (stack.account, stack.region), "account": (stack.account,), "global": ()}[scope]
        key = (resource["Type"], name.lower() if resource["Type"].startswith("AWS::IAM::") else name, *where)
        claims[key].append((stack, logical_id, prop))
    for key, owners in claims.items():
        if len(owners) < 2:
            continue
        names = ", ".join(f"{stack.name}/{logical_id}" for stack, logical_id, _ in owners)
        for stack, logical_id, prop in owners:
            yield Finding("duplicate-physical-name", "error", stack, logical_id, f"Properties/{prop}",
                          f"{key[0]} name {shorten(key[1])} is claimed by {len(owners)} resources in one "
                          f"{'account and Region' if len(key) == 4 else 'account' if len(key) == 3 else 'partition'}: "
                          f"{names}; the second create fails")


# --- rule: inbound rules per security group across the app --------------------------------------


def _security_group_key(stack: StackTemplate, group: Any, published: Mapping[tuple, tuple[str, str]]) -> Optional[tuple]:
    """The (stack, logical id) of the security group ``group`` refers to, across stacks through SSM
    parameters of the stack's own account and Region."""
    if isinstance(group, dict) and "Fn::GetAtt" in group:
        return (stack.name, group["Fn::GetAtt"][0])
    if isinstance(group, dict) and "Ref" in group:
        ref = group["Ref"]
        if stack.resources.get(ref, {}).get("Type") == "AWS::EC2::SecurityGroup":
            return (stack.name, ref)
        parameter = stack.template.get("Parameters", {}).get(ref, {})
        if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
            return published.get((stack.account, stack.region, str(parameter.get("Default"))))
    return None


def _published_security_groups(stacks: Iterable[StackTemplate]) -> dict[tuple, tuple[str, str]]:
    """(account, Region, SSM parameter name) -> the security group (stack, logical id) whose id it holds:
    one parameter name in two accounts or Regions is two parameters."""
    published = {}
    for stack in stacks:
        for resource in stack.resources.values():
            if resource.get("Type") != "AWS::SSM::Parameter":
                continue
            properties = resource.get("Properties", {})
            value = properties.get("Value")
            name = literal(properties.get("Name"), stack)
            if name and isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "GroupId":
                published[(stack.account, stack.region, name)] = (stack.name, value["Fn::GetAtt"][0])
    return published


def check_inbound_rules(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    stacks = list(stacks)
    published = _published_security_groups(stacks)
    counts: Counter = Counter()
    by_key = {}
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") == "AWS::EC2::SecurityGroup":
                key = (stack.name, logical_id)
                by_key[key] = stack
                counts[key] += len(resource.get("Properties", {}).get("SecurityGroupIngress") or [])
            elif resource.get("Type") == "AWS::EC2::SecurityGroupIngress":
                target = _security_group_key(stack, resource.get("Properties", {}).get("GroupId"), published)
                if target is not None:
                    counts[target] += 1
    limit = quotas.inbound_rules_per_security_group
    for key, count in counts.items():
        if count > limit and key in by_key:
            yield Finding("security-group-inbound-rules", "error", by_key[key], key[1], "SecurityGroupIngress",
                          f"{count} inbound rules would reach this security group across the app, over the EC2 quota "
                          f"of {limit} per group (Service Quotas L-0EA8095F); share one client security group "
                          "instead of one rule per team, or raise the quota and Quotas.inbound_rules_per_security_group")


# --- rule: MWAA environments per account and Region ---------------------------------------------


def check_environment_quota(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    environments: dict[tuple, list[tuple[StackTemplate, str]]] = defaultdict(list)
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") == "AWS::MWAA::Environment":
                environments[(stack.account, stack.region)].append((stack, logical_id))
    limit = quotas.mwaa_environments_per_region
    for (account, region), found in environments.items():
        if len(found) > limit:
            stack, logical_id = found[limit]
            yield Finding("mwaa-environments-quota", "warning", stack, logical_id, "Type",
                          f"{len(found)} MWAA environments in account {account} and Region {region}, over the default "
                          f"quota of {limit} (Service Quotas: Amazon MWAA 'Environments', adjustable); request an "
                          "increase before deploying, share environments, or use another account or Region")


# --- rule: one Secrets Manager prefix per environment -----------------------------------------------


def _secret_prefixes(stack: StackTemplate, resource: Mapping[str, Any]) -> list[str]:
    options = resource.get("Properties", {}).get("AirflowConfigurationOptions") or {}
    kwargs = options.get("secrets.backend_kwargs") if isinstance(options, dict) else None
    if not isinstance(kwargs, str):
        return []
    try:
        parsed = json.loads(kwargs)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    return [parsed[key] for key in ("connections_prefix", "variables_prefix") if isinstance(parsed.get(key), str)]


def _overlap(one: str, other: str) -> bool:
    """Whether a grant on ``one/*`` reaches secrets under ``other/`` or the reverse."""
    return one == other or one.startswith(other + "/") or other.startswith(one + "/")


def check_secret_prefixes(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    claims: dict[tuple, list[tuple[StackTemplate, str, str, str]]] = defaultdict(list)
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") == "AWS::MWAA::Environment":
                name = literal(resource.get("Properties", {}).get("Name"), stack) or logical_id
                for prefix in _secret_prefixes(stack, resource):
                    claims[(stack.account, stack.region)].append((stack, logical_id, name, prefix))
    for owners in claims.values():
        for index, (stack, logical_id, name, prefix) in enumerate(owners):
            for other_stack, other_id, other_name, other_prefix in owners[:index]:
                if other_name != name and _overlap(prefix, other_prefix):
                    yield Finding("shared-secret-prefix", "error", stack, logical_id,
                                  "Properties/AirflowConfigurationOptions/secrets.backend_kwargs",
                                  f"environment {name} reads secrets under {prefix!r}, which overlaps {other_prefix!r} "
                                  f"of environment {other_name} ({other_stack.name}/{other_id}): each could read the "
                                  "other's connections; give each environment its own prefix")


# --- rule: no environment's log-group wildcard reaches another's logs -------------------------------


def check_log_group_prefixes(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    """The execution role reads its logs through ``log-group:airflow-<name>-*`` (the five log groups MWAA
    names ``airflow-<name>-<Type>``), which also matches every log group of an environment named
    ``<name>-<anything>`` in the same account and Region: that environment's task logs, with whatever
    they print, would be readable by the other environment's DAGs."""
    names: dict[tuple, list[tuple[StackTemplate, str, str]]] = defaultdict(list)
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") == "AWS::MWAA::Environment":
                name = literal(resource.get("Properties", {}).get("Name"), stack)
                if name is not None:
                    names[(stack.account, stack.region)].append((stack, logical_id, name))
    for found in names.values():
        for stack, logical_id, name in found:
            for _, _, shorter in found:
                if name != shorter and name.startswith(shorter + "-"):
                    yield Finding("log-group-prefix-overlap", "error", stack, logical_id, "Properties/Name",
                                  f"environment {name}'s log groups (airflow-{name}-Task, ...) match the log-group "
                                  f"wildcard airflow-{shorter}-* of environment {shorter} in the same account and "
                                  f"Region, so {shorter}'s execution role could read {name}'s task logs; rename one "
                                  "of them (e.g. a team or stage name that does not extend the other)")


# --- rule: roles a policy attaches to must exist before the deploy ----------------------------------


def check_prerequisite_roles(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    """A managed policy attached by role name to a role the app does not create (web access for an
    existing team role) fails to create with ``NoSuchEntity`` unless that role exists in the account:
    name each one, as a deploy prerequisite."""
    stacks = list(stacks)
    created = {(stack.account, name.lower()) for stack, _, resource, _, name in _named(stacks)
               if resource["Type"] == "AWS::IAM::Role" and name is not None}
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                continue
            for index, role in enumerate(resource.get("Properties", {}).get("Roles") or []):
                # a Ref to a resource or a GetAtt names a role of the app; a literal (or a Join of literals)
                # names one outside it; a Ref to a template parameter is outside it too, by a name unknown here
                local = isinstance(role, dict) and (
                    "Fn::GetAtt" in role or ("Ref" in role and role["Ref"] in stack.resources))
                if isinstance(role, dict) and "Ref" in role and not local:
                    name: Optional[str] = f"(template parameter {role['Ref']})"
                else:
                    name = None if local else literal(role, stack)
                if name is None or (stack.account, name.lower()) in created:
                    continue
                yield Finding("prerequisite-role", "warning", stack, logical_id, f"Properties/Roles/{index}",
                              f"attaches to IAM role {name}, which this app does not create: it must exist in account "
                              f"{stack.account} before this stack deploys, or the policy fails with NoSuchEntity "
                              "(docs/deploying.md, prerequisites)")


# --- rule: a stack within CloudFormation's template limits ------------------------------------------

#: CloudFormation's limits on one template (cloudformation-limits; cfn-lint's ``LIMITS`` holds the same).
TEMPLATE_BODY_MAX_BYTES = 1_000_000
RESOURCES_PER_STACK_MAX = 500
#: Warn when a stack has used this share of either limit: room for one more capability, not for ten.
STACK_LIMIT_WARNING_SHARE = 0.8


def _limit_finding(stack: StackTemplate, what: str, used: int, limit: int, remedy: str, *, rule: str = "stack-limits",
                   owner: str = "CloudFormation", refused: str = "the stack", logical_id: str = "Template",
                   property_path: Optional[str] = None) -> Optional[Finding]:
    """An error over ``limit``, a warning from ``STACK_LIMIT_WARNING_SHARE`` of it, else None."""
    where = property_path or what
    if used > limit:
        return Finding(rule, "error", stack, logical_id, where,
                       f"{used} {what}, over {owner}'s limit of {limit}; {owner} rejects {refused}: {remedy}")
    if used >= STACK_LIMIT_WARNING_SHARE * limit:
        return Finding(rule, "warning", stack, logical_id, where,
                       f"{used} {what}, {used * 100 // limit}% of {owner}'s limit of {limit}; {remedy} before "
                       "the next capability pushes it over")
    return None


def check_stack_limits(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    for stack in stacks:
        for finding in (
            _limit_finding(stack, "resources", len(stack.resources), RESOURCES_PER_STACK_MAX,
                           "split the team's capabilities over more stacks (e.g. compute in its own stack)"),
            _limit_finding(stack, "template bytes", stack.size_bytes, TEMPLATE_BODY_MAX_BYTES,
                           "split the stack, or shorten repeated policy documents"),
        ):
            if finding is not None:
                yield finding


# --- rule: one EKS access entry per principal and cluster ----------------------------------------


def _local_or_literal(value: Any, stack: StackTemplate) -> Optional[tuple]:
    """What ``value`` names, comparable across stacks: its literal string, or (stack, logical id)."""
    text = literal(value, stack)
    if text is not None:
        return ("literal", text)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return (stack.name, value["Fn::GetAtt"][0])
    if isinstance(value, dict) and "Ref" in value:
        target = stack.resources.get(value["Ref"], {})
        name = literal(target.get("Properties", {}).get("Name"), stack) if target else None
        return ("literal", name) if name is not None else (stack.name, value["Ref"])
    return None


def check_access_entries(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    """EKS accepts one access entry per principal and cluster: a second one fails at deploy
    (ResourceInUseException), wherever it is declared. A role several namespaces serve needs one
    entry listing them all (``EksNamespaceAccess``)."""
    claims: dict[tuple, list[tuple[StackTemplate, str]]] = defaultdict(list)
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") != "AWS::EKS::AccessEntry":
                continue
            props = resource.get("Properties", {})
            cluster, principal = (_local_or_literal(props.get(key), stack) for key in ("ClusterName", "PrincipalArn"))
            if cluster is not None and principal is not None:
                claims[(stack.account, stack.region, cluster, principal)].append((stack, logical_id))
    for owners in claims.values():
        if len(owners) > 1:
            names = ", ".join(f"{stack.name}/{logical_id}" for stack, logical_id in owners)
            for stack, logical_id in owners:
                yield Finding("eks-access-entry-per-principal", "error", stack, logical_id, "Properties/PrincipalArn",
                              f"{len(owners)} EKS access entries name one principal on one cluster ({names}); EKS "
                              "accepts one per principal and cluster: list every namespace in one entry "
                              "(EksNamespaceAccess, or grant_pod_launch(access_entry=False))")


# --- rule: VPC endpoint policies within 20,480 characters ------------------------------------------

#: AWS PrivateLink quotas, "Characters per VPC endpoint policy" (not adjustable), white space included.
ENDPOINT_POLICY_MAX_CHARS = 20_480


def _deployed_form(value: Any, stack: StackTemplate) -> Any:
    """``value`` with each intrinsic the template alone resolves replaced by its string (the rest as written)."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
            text = literal(value, stack)
            return text if text is not None else value
        return {key: _deployed_form(item, stack) for key, item in value.items()}
    if isinstance(value, list):
        return [_deployed_form(item, stack) for item in value]
    return value


def check_endpoint_policy_size(stacks: Iterable[StackTemplate], quotas: Quotas) -> Iterator[Finding]:
    """EC2 refuses an endpoint policy over 20,480 characters; each path statement on a shared endpoint
    (the S3 gateway, a glue endpoint) adds to it, team by team."""
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            policy = resource.get("Properties", {}).get("PolicyDocument") if resource.get("Type") == \
                "AWS::EC2::VPCEndpoint" else None
            if not isinstance(policy, dict):
                continue
            size = len(json.dumps(_deployed_form(policy, stack), separators=(",", ":")))
            finding = _limit_finding(
                stack, "characters of the endpoint policy", size, ENDPOINT_POLICY_MAX_CHARS,
                "fewer statements or resources per target (a prefix wildcard with its reason), path_policy_scope "
                "account (one statement per target account; the registry's network.path_policy_scope), or NAT for "
                "the service",
                rule="endpoint-policy-size", owner="EC2", refused="the endpoint", logical_id=logical_id,
                property_path="Properties/PolicyDocument")
            if finding is not None:
                yield finding


#: rule name -> (check, what it enforces). The order is the report's.
PREFLIGHT_RULES: dict[str, tuple[Callable[[Iterable[StackTemplate], Quotas], Iterator[Finding]], str]] = {
    "ec2-description-charset": (check_ec2_descriptions,
                                "security group and rule descriptions: EC2's character set, 255 characters"),
    "physical-name-length": (check_name_lengths, "fixed physical names within the service's length limit"),
    "retain-fixed-name": (check_retained_fixed_names,
                          "no fixed-name resource with plain DeletionPolicy Retain (use RetainExceptOnCreate)"),
    "duplicate-physical-name": (check_duplicate_names,
                                "no two resources of the app claim one physical name in one account and Region"),
    "security-group-inbound-rules": (check_inbound_rules,
                                     "inbound rules per security group across the app within the EC2 quota"),
    "shared-secret-prefix": (check_secret_prefixes,
                             "no two environments of one account and Region read secrets under one prefix"),
    "prerequisite-role": (check_prerequisite_roles,
                          "roles that policies attach to by name and the app does not create, named (warning)"),
    "log-group-prefix-overlap": (check_log_group_prefixes,
                                 "no environment's log-group wildcard (airflow-<name>-*) matches another's log groups"),
    "mwaa-environments-quota": (check_environment_quota,
                                "MWAA environments per account and Region within the default quota (warning)"),
    "stack-limits": (check_stack_limits,
                     "each template under 500 resources and 1 MB; a warning from 80% of either"),
    "eks-access-entry-per-principal": (check_access_entries,
                                       "at most one EKS access entry per principal and cluster across the app"),
    "endpoint-policy-size": (check_endpoint_policy_size,
                             "each VPC endpoint policy within 20,480 characters; a warning from 80%"),
    **PATH_RULES,
}


def paths_report(stacks: Iterable[StackTemplate]) -> Optional[str]:
    """The ``PATHS_REPORT`` page of ``stacks``: every DAG path their templates record; ``None`` without any."""
    paths = describe_paths(stacks)
    if not paths:
        return None
    return ("# DAG paths\n\nEvery way a DAG reaches AWS, as the templates record it (docs/paths.md); "
            "the preflight checked each one.\n\n" + paths)


def run_preflight(stacks: Iterable[StackTemplate], quotas: Quotas = Quotas()) -> list[Finding]:
    """Every finding of every rule over ``stacks``, errors and warnings."""
    stacks = list(stacks)
    return [finding for check, _ in PREFLIGHT_RULES.values() for finding in check(stacks, quotas)]


# --- the CDK plugin ----------------------------------------------------------------------------


@jsii.implements(cdk.IPolicyValidationPlugin)
class PreflightChecks:
    """A policy-validation plugin running ``PREFLIGHT_RULES`` over all of an app's templates at once.

    Attach it with ``attach_preflight_checks(app)``. Errors fail ``cdk synth``; warnings are in
    ``validation-report.json`` and printed to stderr. CDK leaves a plugin with nothing to report
    out of ``validation-report.json``.
    """

    def __init__(self, *, quotas: Optional[Quotas] = None) -> None:
        """
        :param quotas: the quotas to hold the app to. Default: AWS's default quotas (``Quotas()``).
        """
        self._quotas = quotas or Quotas()

    @property
    def name(self) -> str:
        return PREFLIGHT_PLUGIN_NAME

    @property
    def version(self) -> Optional[str]:
        return "1"

    @property
    def rule_ids(self) -> Optional[list[str]]:
        return list(PREFLIGHT_RULES)

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        stacks = [
            StackTemplate(
                name=stack.stack_construct_path, template=json.loads(Path(stack.template_path).read_text()),
                account=stack.account_id, region=stack.region, path=stack.template_path,
            )
            for stack in context.stack_templates
        ]
        findings = run_preflight(stacks, self._quotas)
        report = paths_report(stacks)
        if report is not None and stacks[0].path:
            # beside the templates and validation-report.json: what each environment's DAGs may reach
            (Path(stacks[0].path).parent / PATHS_REPORT).write_text(report)
        for finding in findings:
            if finding.severity == "warning":
                print(f"warning: {finding}", file=sys.stderr)
        return cdk.PolicyValidationPluginReport(
            success=not any(f.severity == "error" for f in findings),
            violations=[
                cdk.PolicyViolation(
                    rule_name=finding.rule, description=finding.message, severity=finding.severity,
                    violating_resources=[cdk.PolicyViolatingResource(
                        resource_logical_id=finding.logical_id, template_path=finding.stack.path,
                        locations=[finding.property_path],
                    )],
                )
                for finding in findings
            ],
        )


def attach_preflight_checks(app: cdk.App, *, quotas: Optional[Quotas] = None) -> PreflightChecks:
    """Register ``PreflightChecks`` as a policy-validation plugin of ``app`` and return it."""
    if not isinstance(app, cdk.App):
        raise MwaaPlatformError(f"attach_preflight_checks takes the cdk.App, got {shorten(app)}")
    plugin = PreflightChecks(quotas=quotas)
    cdk.Validations.of(app).add_plugins(plugin)
    return plugin
