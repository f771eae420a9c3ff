"""The review's DAG paths: each way an environment's DAGs reach AWS (``MwaaPlatform::DagPaths`` in the
template, docs/paths.md), as a table and as a Mermaid diagram GitHub renders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from mwaa_platform.paths.model import PATHS_METADATA_KEY
from mwaa_platform.review._template import readable
from mwaa_platform.review.assembly import ReviewedStack
from mwaa_platform.review.markdown import code, table

__all__ = ["dag_paths"]


def _text(path: Mapping[str, Any], key: str, default: str = "") -> str:
    """A path field as a reader reads it (a value the template resolves at deploy time stays readable)."""
    return readable(path[key]) if path.get(key) else default


def _label(text: str) -> str:
    """A Mermaid node label: quoted, its quotes as entities."""
    return '"' + text.replace('"', "#quot;") + '"'


def _diagram(environment: str, paths: list[Mapping[str, Any]], stack: ReviewedStack) -> list[str]:
    """environment -> (connection) -> principal -> service in Region -> resource account."""
    nodes: dict[str, str] = {}
    edges: set[tuple[str, str, str]] = set()

    def node(label: str) -> str:
        return nodes.setdefault(label, f"n{len(nodes)}")

    ordered = sorted(paths, key=lambda p: (_text(p, "principalArn"), ",".join(p.get("services", []))))
    origin = node(f"{environment}: DAGs as the execution role")
    for path in ordered:
        account = _text(path, "resourceAccount", stack.account or "this account")
        region = _text(path, "region", stack.region or "this Region")
        actor = origin
        if path.get("principalArn"):
            actor = node(f"acts as {_text(path, 'principalArn')}")
            edges.add((origin, actor, f"connection {_text(path, 'connId', '-')}"))
        for service in path.get("services", []):
            target = node(f"{service} in {region}, account {account}")
            edges.add((actor, target, _text(path, "capability")))
    lines = ["```mermaid", "flowchart LR"]
    lines += [f"  {node_id}[{_label(label)}]" for label, node_id in nodes.items()]
    lines += [f"  {a} -->|{_label(text)}| {b}" if text else f"  {a} --> {b}" for a, b, text in sorted(edges)]
    return [*lines, "```", ""]


def dag_paths(stack: ReviewedStack) -> list[str]:
    """Per environment of the stack's recorded paths: a table of the paths, then their diagram."""
    by_environment: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for path in (stack.template.get("Metadata") or {}).get(PATHS_METADATA_KEY) or []:
        if isinstance(path, Mapping):
            by_environment[str(path.get("environment", "?"))].append(path)
    if not by_environment:
        return ["No DAG paths recorded in this stack.", ""]
    lines: list[str] = []
    for environment in sorted(by_environment):
        paths = by_environment[environment]
        lines += [f"### {environment}", ""]
        lines += table(("path", "connection", "acts as", "services", "Region", "resource account", "operator"), (
            (_text(p, "capability"), code(_text(p, "connId")),
             code(_text(p, "principalArn")) if p.get("principalArn") else "execution role",
             ", ".join(p.get("services", [])), _text(p, "region", stack.region or "-"),
             _text(p, "resourceAccount", stack.account or "-"), code(_text(p, "operator")))
            for p in paths))
        lines += _diagram(environment, paths, stack)
    return lines
