"""Reading one CloudFormation template the way a reviewer reads it: intrinsics as readable strings,
IAM statements of a role wherever they are attached, and the principals a trust policy names.

Plain functions over the template's ``Resources`` mapping, shared by the review pages and by the
``MwaaChecks`` rule pack, so both read a policy the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

__all__: list[str] = []

Resources = Mapping[str, Mapping[str, Any]]

_ACCOUNT = re.compile(r"^\d{12}$")
_PARTITION = r"(?:\$\{AWS::Partition\}|[a-z-]+)"
_ROOT = re.compile(rf"^arn:{_PARTITION}:iam::(?P<account>\d{{12}}|\$\{{AWS::AccountId\}}):root$")
_PRINCIPAL_ACCOUNT = re.compile(rf"^arn:{_PARTITION}:(?:iam|sts)::(?P<account>\d{{12}}|\$\{{AWS::AccountId\}}):")
_SSM_PARAMETER = "AWS::SSM::Parameter::Value"


def as_list(value: Any) -> list[Any]:
    """``value`` as a list: IAM and CloudFormation accept a single item where they accept a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def readable(value: Any, parameters: Optional[Mapping[str, Any]] = None) -> str:
    """``value`` as a string a reviewer reads: ``Ref`` of a pseudo parameter as ``${AWS::AccountId}``, of a
    resource as ``<LogicalId>``, of an SSM parameter as ``<ssm:/name>``; ``Fn::GetAtt`` as
    ``<LogicalId.Attribute>``; ``Fn::Join`` and ``Fn::Sub`` spelled out; anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ", ".join(readable(item, parameters) for item in value)
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref" and isinstance(argument, str):
            if argument.startswith("AWS::"):
                return f"${{{argument}}}"
            parameter = (parameters or {}).get(argument)
            if isinstance(parameter, dict) and str(parameter.get("Type", "")).startswith(_SSM_PARAMETER):
                return f"<ssm:{parameter.get('Default')}>"
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return f"<{'.'.join(str(part) for part in parts)}>"
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            return str(argument[0]).join(readable(part, parameters) for part in as_list(argument[1]))
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
            return re.sub(r"\$\{([^}!]+)\}", lambda m: readable(variables[m[1]], parameters)
                          if m[1] in variables else m[0], text)
        if function == "Fn::ImportValue":
            return f"<import:{readable(argument, parameters)}>"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def target_of(value: Any) -> Optional[str]:
    """The logical id ``value`` points at (``Ref`` or ``Fn::GetAtt``), or None."""
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
            return argument
        if function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return str(parts[0])
    return None


def of_type(resources: Resources, *types: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(logical id, properties) of every resource of ``types``, in logical id order."""
    for logical_id in sorted(resources):
        resource = resources[logical_id]
        if resource.get("Type") in types:
            yield logical_id, resource.get("Properties") or {}


@dataclass(frozen=True)
class AttachedStatement:
    """One statement of a role's permissions and where it comes from (``inline <name>``, a managed
    policy's logical id, or an AWS managed policy's ARN, whose statements the template does not hold)."""

    source: str
    statement: Mapping[str, Any]


def role_statements(resources: Resources, role_id: str) -> list[AttachedStatement]:
    """Every statement the template grants the role ``role_id``: its inline policies, the managed
    policies it lists, and the ``AWS::IAM::Policy`` / ``ManagedPolicy`` resources that name it in ``Roles``.
    A managed policy outside the template is returned as one empty statement naming its ARN."""
    role = resources.get(role_id, {}).get("Properties") or {}
    found: list[AttachedStatement] = []
    for policy in as_list(role.get("Policies")):
        if isinstance(policy, dict):
            name = readable(policy.get("PolicyName"))
            found += [AttachedStatement(f"inline {name}", s) for s in _statements(policy.get("PolicyDocument"))]
    attached = set()
    for arn in as_list(role.get("ManagedPolicyArns")):
        local = target_of(arn)
        if local is not None and resources.get(local, {}).get("Type") == "AWS::IAM::ManagedPolicy":
            attached.add(local)
        else:
            found.append(AttachedStatement(readable(arn), {}))
    for logical_id, properties in of_type(resources, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        if logical_id in attached or any(target_of(r) == role_id for r in as_list(properties.get("Roles"))):
            found += [AttachedStatement(logical_id, s) for s in _statements(properties.get("PolicyDocument"))]
    return found


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, dict):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def trust_statements(role: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements of a role's trust policy (``AssumeRolePolicyDocument``)."""
    return _statements(role.get("AssumeRolePolicyDocument"))


def principals(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, principal) pairs a statement names: ``("AWS", "arn:...")``, ``("Service", "airflow.amazonaws.com")``,
    ``("*", "*")`` for everyone; each principal readable."""
    principal = statement.get("Principal")
    if principal == "*":
        return [("*", "*")]
    if not isinstance(principal, dict):
        return []
    return [(kind, readable(value)) for kind in sorted(principal) for value in as_list(principal[kind])]


def account_root(principal: str) -> Optional[str]:
    """The account whose root ``principal`` names (``arn:aws:iam::<account>:root`` or a bare account id;
    ``${AWS::AccountId}`` for the stack's own account), or None for any other principal."""
    if _ACCOUNT.match(principal):
        return principal
    match = _ROOT.match(principal)
    return match["account"] if match else None


def account_of(principal: str) -> Optional[str]:
    """The account an IAM principal ARN (or bare account id) belongs to, or None (a service, ``*``)."""
    if _ACCOUNT.match(principal):
        return principal
    match = _PRINCIPAL_ACCOUNT.match(principal)
    return match["account"] if match else None
