"""Docs that cannot drift: every ```python block of README.md and docs/*.md runs, or says why not.

A block is one of three kinds, told by an HTML comment on the line right before its fence:

- no comment: a complete CDK app (imports, an ``App``, a ``Stack``, ``app.synth()``), run as it is
  in a fresh namespace;
- ``<!-- continues the example above -->``: a fragment, run in the namespace the previous runnable
  block of the same page left, after which its apps are synthesized again;
- ``<!-- not run: <reason> -->``: code that cannot run here, such as a DAG that imports Airflow
  (``make dags-check`` runs DAGs in real Airflow). A library example is never marked so.

Each app a block creates is ``aws_cdk.App`` with cdk.json's context, no CloudFormation validation
(starting its engine costs seconds) and the four nag packs and the preflight checks attached, so
synthesis fails on an unacknowledged finding, as ``cdk synth`` of the platform does. Blocks run in
a folder holding what they name: ``dags/`` and ``requirements*.txt`` (the shipped examples). CDK
resolves an asset's relative path in its Node.js process, whose working directory is where pytest
started; asset paths are made absolute first, as ``cdk synth``, which starts both in the app's
folder, would find them.
"""

from __future__ import annotations

import ast
import re
import shutil
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3_assets as s3_assets
from pydantic import BaseModel

from harness import REPO_ROOT, build_inputs_key, cdk_json_context, mark_passed, passed_before
from mwaa_platform import attach_nag_packs, attach_preflight_checks

PAGES = (REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")))

NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>.*?)\s*-->$")
CONTINUES = re.compile(r"^<!--\s*continues the example above\s*-->$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")

#: Each capability's page, and what its runnable examples must use (a complete example each, at least).
CAPABILITY_PAGES = {
    "README.md": ("AirflowEnvironment", "AirflowNetwork", "attach_nag_packs", "attach_preflight_checks"),
    "docs/airflow-environment.md": ("AirflowEnvironment", "from_environment_name", "grant_web_login_to_roles"),
    "docs/network.md": ("AirflowNetwork", "SharedAirflowNetwork", "AirflowVpcEndpoints", "dns_firewall",
                        "network_acls", "allow_egress_to"),
    "docs/compute.md": ("EcsTaskCompute", "grant_run", "BatchCompute", "grant_submit", "EksCluster", "EksCompute",
                        "grant_pod_launch"),
    "docs/alerting.md": ("AlertTopic", "from_topic_arn", "EnvironmentAlarms", "FailureEvents", "TeamBudget",
                         "TeamDashboard"),
    "docs/cross-account.md": ("CrossAccountRole", "AirflowAwsConnection", "grant_assume_roles"),
    "docs/python-dependencies.md": ("AirflowPackageIndex", "requirements"),
    "docs/web-access.md": ("allow_web_from", "grant_web_login_to_roles", "grant_web_login_policy"),
    "docs/paths.md": ("recorded_paths", "attach_preflight_checks"),
    "docs/security-review.md": ("acknowledge", "attach_nag_packs", "attach_preflight_checks"),
    "docs/serverless.md": ("ServerlessWorkflow", "derive_grants", "network"),
}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    marker: Optional[str]  # None, "continues" or "not run: <reason>"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a page, with the marker comment right before each (indented fences too)."""
    lines = path.read_text().splitlines()
    page = str(path.relative_to(REPO_ROOT))
    blocks, index = [], 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        indent, start = fence["indent"], index
        end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "```")
        if fence["lang"] == "python":
            body = "\n".join(line[len(indent):] if line.startswith(indent) else line.lstrip()
                             for line in lines[start + 1:end])
            previous = lines[start - 1].strip() if start else ""
            marker = None
            if CONTINUES.match(previous):
                marker = "continues"
            elif previous.startswith("<!--"):
                marker = previous
            blocks.append(Block(page, start + 1, body + "\n", marker))
        index = end + 1
    return blocks


BLOCKS = [block for page in PAGES for block in python_blocks(page)]


def runs() -> list[list[Block]]:
    """Runnable blocks grouped: a complete example and the fragments that continue it."""
    groups: list[list[Block]] = []
    for block in BLOCKS:
        if block.marker is None:
            groups.append([block])
        elif block.marker == "continues" and groups and groups[-1][0].page == block.page:
            groups[-1].append(block)
    return groups


RUNS = runs()


def test_every_python_block_runs_or_says_why_not():
    assert len(BLOCKS) > 10 and RUNS, "no ```python blocks found: has the extraction broken?"
    run = {block for group in RUNS for block in group}
    for block in BLOCKS:
        ast.parse(block.code, filename=block.where)  # even a block that is not run must be Python
        if block.marker == "continues":
            assert block in run, f"{block.where} continues the example above, but no runnable block comes before it"
        if block.marker in (None, "continues"):
            continue
        not_run = NOT_RUN.match(block.marker)
        assert not_run and len(not_run["reason"]) >= 10, (
            f"{block.where}: the comment before a ```python block must be '<!-- continues the example above -->' "
            f"or '<!-- not run: <why> -->', got {block.marker!r}")
        assert "mwaa_platform" not in block.code, (
            f"{block.where} uses the library but is not run: make it a complete example, or mark it "
            "'<!-- continues the example above -->'")


def test_each_capability_page_has_a_complete_example():
    for page, names in CAPABILITY_PAGES.items():
        groups = [group for group in RUNS if group[0].page == page]
        assert groups, f"{page} has no complete, runnable ```python example"
        code = "".join(block.code for group in groups for block in group)
        unused = [name for name in names if not re.search(rf"\b{name}\b", code)]
        assert not unused, f"{page}: no runnable example uses {', '.join(unused)}"


def doc_app_type(root: Path) -> type[cdk.App]:
    """``aws_cdk.App`` while a block runs: cdk.json's context, packs and preflight attached, an outdir each."""
    created = iter(range(1000))

    class DocApp(cdk.App):
        def __init__(self, *, context: Optional[dict[str, Any]] = None, **kwargs: Any) -> None:
            kwargs.setdefault("outdir", str(root / f"cdk.out.{next(created)}"))
            kwargs["builtin_cloud_formation_validation"] = False
            super().__init__(context={**cdk_json_context(), **(context or {})}, **kwargs)
            attach_nag_packs(self, verbose=False)
            attach_preflight_checks(self)

    return DocApp


def run_block(block: Block, namespace: dict[str, Any]) -> None:
    """Execute ``block`` so that a traceback names its page and the page's line numbers."""
    exec(compile("\n" * block.line + block.code, block.page, "exec"), namespace)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder with what the examples name: a DAG folder, the serverless workflows and the requirements
    files of examples/team."""
    shutil.copytree(REPO_ROOT / "examples" / "dags", tmp_path / "dags")
    shutil.copytree(REPO_ROOT / "examples" / "serverless", tmp_path / "serverless")
    for requirements in (REPO_ROOT / "examples" / "team").glob("requirements*.txt"):
        shutil.copy(requirements, tmp_path / requirements.name)
    monkeypatch.chdir(tmp_path)
    asset_init = s3_assets.Asset.__init__

    def absolute_path_asset(self, scope, construct_id, *, path, **kwargs):
        asset_init(self, scope, construct_id, path=str(Path(path).absolute()), **kwargs)

    monkeypatch.setattr(s3_assets.Asset, "__init__", absolute_path_asset)
    return tmp_path


@pytest.mark.parametrize("group", RUNS, ids=[group[0].where for group in RUNS])
def test_the_example_synthesizes(group, request, monkeypatch):
    """Synthesis is deterministic: an example that passed with the same code, library, app, examples, this
    module and installed versions (``harness.build_inputs_key``) passes again, so a warm run does not build it again."""
    key = build_inputs_key("docs-example", Path(__file__).read_text(), *(block.code for block in group))
    if passed_before("docs-example", key):
        return
    synthesize_example(group, request.getfixturevalue("workdir"), monkeypatch)
    mark_passed("docs-example", key)


def synthesize_example(group: list[Block], workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app_type = doc_app_type(workdir)
    monkeypatch.setattr(cdk, "App", app_type)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    complete, *fragments = group
    run_block(complete, namespace)
    # the block's own apps: the library may build a private one (alerting reads metric definitions so)
    apps = [value for value in namespace.values() if isinstance(value, app_type)]
    assert apps, f"{complete.where} builds no App: a complete example is a whole CDK app"
    assert all((Path(app.outdir) / "manifest.json").exists() for app in apps), (
        f"{complete.where} ends without app.synth(), as a CDK app must")
    for fragment in fragments:
        run_block(fragment, namespace)
        for app in apps:
            app.synth(force=True)


# --- docs/registry.md covers every key of the registry -------------------------------------------


def _registry_models() -> list[type[BaseModel]]:
    """Every model a registry reaches from its root, through lists, mappings and Optional."""
    from stacks.registry_schema import Registry

    def models_in(annotation: Any) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [model for arg in typing.get_args(annotation) for model in models_in(arg)]

    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [Registry]
    while pending:
        model = pending.pop(0)
        if model not in found:
            found.append(model)
            pending += [m for info in model.model_fields.values() for m in models_in(info.annotation)]
    return found


def test_the_registry_reference_covers_every_key_once():
    """The generated reference lists its models by hand (``reference_markdown``); a model it leaves out
    is documented after it, and comes out once the generator lists it (no key documented twice)."""
    text = (REPO_ROOT / "docs" / "registry.md").read_text()
    sections = dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^#{2,3} |\Z)", text, flags=re.M | re.S))
    for model in _registry_models():
        count = text.count(f"### `{model.__name__}`\n")
        assert count == 1, f"docs/registry.md documents {model.__name__} {count} times, not once"
        missing = [name for name in model.model_fields if f"| `{name}` |" not in sections[model.__name__]]
        assert not missing, f"docs/registry.md, {model.__name__}: no row for {', '.join(missing)}"
