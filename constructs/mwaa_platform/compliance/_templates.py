"""What the preflight checks read: one synthesized template and where it deploys, a finding, the
quotas, and the values a template's properties resolve to where the template alone says so."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

__all__: list[str] = []

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Quotas:
    """Default Service Quotas the checks hold the app to; raise one here after raising it in the account.

    :param inbound_rules_per_security_group: EC2 "Inbound or outbound rules per security group"
        (Service Quotas L-0EA8095F; inbound and outbound count separately). Default: 60.
    :param mwaa_environments_per_region: MWAA "Environments" per account and Region. Default: 10.
    """

    inbound_rules_per_security_group: int = 60
    mwaa_environments_per_region: int = 10


@dataclass(frozen=True)
class StackTemplate:
    """One synthesized template and where it deploys.

    :param name: the stack's name, used in messages.
    :param template: the parsed template.
    :param account: the account it deploys to. Default: unknown (checks that need it skip).
    :param region: the Region it deploys to. Default: unknown (checks that need it skip).
    :param path: the template file, for the validation report. Default: none.
    """

    name: str
    template: Mapping[str, Any]
    account: Optional[str] = None
    region: Optional[str] = None
    path: str = ""

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        return self.template.get("Resources", {})

    @property
    def size_bytes(self) -> int:
        """The template body CloudFormation receives: the file's size, else the template as CDK writes it."""
        if self.path and Path(self.path).is_file():
            return Path(self.path).stat().st_size
        return len(json.dumps(self.template, indent=1).encode())


@dataclass(frozen=True)
class Finding:
    """One violation: the rule, where (stack, logical id, property) and what is wrong."""

    rule: str
    severity: Severity
    stack: StackTemplate
    logical_id: str
    property_path: str
    message: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.rule}: {self.stack.name}/{self.logical_id} {self.property_path}: {self.message}"


# --- resolving literal values ------------------------------------------------------------------


def literal(value: Any, stack: StackTemplate) -> Optional[str]:
    """The string ``value`` deploys as, where the template alone says so; else None.

    Literal strings, ``Fn::Join`` of literals, and the pseudo parameters whose value the stack's
    environment gives (``AWS::Region``, ``AWS::AccountId``, ``AWS::StackName``, ``AWS::Partition``).
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (function, argument), = value.items()
    if function == "Ref":
        return {"AWS::Region": stack.region, "AWS::AccountId": stack.account, "AWS::StackName": stack.name,
                "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}.get(argument)
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
        parts = [literal(part, stack) for part in argument[1]]
        if any(part is None for part in parts):
            return None
        return str(argument[0]).join(p for p in parts if p is not None)
    return None


def literal_fragments(value: Any) -> Iterator[str]:
    """Every literal string inside ``value`` (for checking characters of partly-known values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("Ref", "Fn::GetAtt", "Fn::ImportValue"):
                yield from literal_fragments(item)
    elif isinstance(value, list):
        for item in value:
            yield from literal_fragments(item)
