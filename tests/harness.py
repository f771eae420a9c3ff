"""Test harness shared by every test module: stable apps, cdk-nag, cfn-lint and snapshot scrubbing."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from constructs import IConstruct

from mwaa_platform.compliance.nag import nag_packs

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The registry the library's and the app's tests build: a copy of the shipped example, so they pass
#: whatever the platform team writes in platform.yaml.
FIXTURE_REGISTRY = REPO_ROOT / "tests" / "fixtures" / "platform" / "platform.yaml"
#: The platform team's own registry, checked by tests/test_your_platform.py only.
USER_REGISTRY = REPO_ROOT / "platform.yaml"

#: Fixed environment for test stacks; cdk.json carries the matching AZ context.
TEST_ACCOUNT = "123456789012"
TEST_REGION = "eu-west-1"
TEST_ENV = cdk.Environment(account=TEST_ACCOUNT, region=TEST_REGION)


def cdk_json_context() -> dict[str, Any]:
    """The context of cdk.json: feature flags and AZs, so tests synthesize what `cdk synth` does."""
    return json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


def new_app(**kwargs: Any) -> cdk.App:
    """An App with cdk.json's context and no plugins (Template.from_stack refuses apps with plugins).

    CDK's built-in CloudFormation validation is off here: every ``Template.from_stack`` would run it
    on the whole app, and starting its engine alone costs 2 s per process. The example platform
    (the ``platform`` fixture) is synthesized as `cdk synth` does, with it on; templates that the
    platform does not cover are held to cfn-lint by their modules.
    """
    kwargs.setdefault("builtin_cloud_formation_validation", False)
    return cdk.App(context=cdk_json_context(), **kwargs)


def new_stack(app: cdk.App | None = None, stack_id: str = "Test") -> cdk.Stack:
    """A stack with a fixed account, region and AZs, so its template is stable."""
    return cdk.Stack(app or new_app(), stack_id, env=TEST_ENV)


# --- cdk-nag ---------------------------------------------------------------------------------


def acknowledgments(root: IConstruct) -> dict[str, list[str]]:
    """Acknowledged id -> construct paths where it was recorded, across the whole tree."""
    acks: dict[str, list[str]] = {}
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY and entry.data:
                for ack_id in entry.data:
                    acks.setdefault(ack_id, []).append(construct.node.path)
    return acks


def _covers(ack_path: str, resource_path: str) -> bool:
    return ack_path == "" or resource_path == ack_path or resource_path.startswith(ack_path + "/")


def nag_violations(scope: IConstruct) -> list[str]:
    """Unacknowledged findings of the four packs on ``scope``, one line per rule and construct.

    ``validate_scope`` alone only honours bare ids; CDK's synthesis-time report matches the
    pack-prefixed ids (``AwsSolutions::AwsSolutions-IAM5[...]``) that the library records. This
    applies the same matching so the helper agrees with ``cdk synth``: a finding is acknowledged
    when ``<pack>::<rule>`` was recorded on its construct or an ancestor.
    """
    acks = acknowledgments(scope.node.root)
    lines = []
    for pack in nag_packs():
        report = pack.validate_scope(scope)
        for violation in report.violations:
            ack_id = f"{pack.name}::{violation.rule_name}"
            for resource in violation.violating_resources:
                path = resource.construct_path
                if not any(_covers(at, path) for at in acks.get(ack_id, [])):
                    lines.append(f"{ack_id} at {path}: {violation.description}")
    return lines


def assert_nag_clean(scope: IConstruct) -> None:
    """Fail listing every unacknowledged finding (rule and construct path) of the four packs."""
    violations = nag_violations(scope)
    if violations:
        raise AssertionError(
            f"{len(violations)} unacknowledged cdk-nag finding(s):\n" + "\n".join(violations)
        )


# --- cfn-lint ------------------------------------------------------------------------------


@functools.cache
def _cfn_lint_rules() -> Any:
    """cfn-lint's rules, loaded once per process: loading them costs 0.4 s, as much as linting a template."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn([])).rules


def cfn_lint_findings(templates: Iterable[Path], region: str = TEST_REGION) -> list[str]:
    """Every cfn-lint error and warning (informational matches are left out) in ``templates``."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode import decode
    from cfnlint.runner import run_template_by_data

    config, rules, findings = ConfigMixIn([], regions=[region]), _cfn_lint_rules(), []
    for template in map(Path, templates):
        data, matches = decode(str(template))
        if data is not None and not matches:
            matches = list(run_template_by_data(data, config, rules))
        findings += [f"{template.name}:{match.linenumber} {match.rule.id} {match.message}"
                     for match in matches if match.rule.id[0] in "EW"]
    return findings


def assert_cfn_lint_clean(templates: Iterable[Path]) -> None:
    """cfn-lint finds nothing in ``templates`` (the answer cached on their content, ``cached_json``)."""
    from cfnlint.version import __version__ as cfn_lint_version

    templates = sorted(templates)
    assert templates, "no templates to lint"
    key = content_key("cfn-lint", cfn_lint_version, TEST_REGION, Path(__file__), *templates)
    findings = cached_json("cfn-lint", key, lambda: cfn_lint_findings(templates))
    if findings:
        raise AssertionError(f"{len(findings)} cfn-lint finding(s):\n" + "\n".join(findings))


def worktree_files() -> list[str]:
    """The repository's files as git sees them in the working tree: tracked, plus untracked ones it does not
    ignore (uncommitted edits and new files included), as paths relative to the repository, sorted."""
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return sorted(filter(None, listed))


#: Results of deterministic tool runs, kept across runs and keyed on every input (``cached_json``).
CACHE_DIR = REPO_ROOT / ".pytest_cache" / "mwaa-platform"


def content_key(*parts: str | bytes | Path) -> str:
    """A digest of strings, bytes and files (a directory: every file under it, by relative name and content)."""
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
                if part.is_dir() else [part]
            for file in files:
                digest.update(str(file.relative_to(part) if part.is_dir() else file.name).encode())
                digest.update(file.read_bytes() if file.exists() else b"<missing>")
        else:
            digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def write_registry(folder: Path, document: dict[str, Any]) -> Path:
    """``document`` as ``folder/platform.yaml`` beside a link to the repository's examples, so a registry
    written with the docs' paths (``examples/...``) resolves."""
    import yaml

    if not (folder / "examples").exists():
        (folder / "examples").symlink_to(REPO_ROOT / "examples")
    path = folder / "platform.yaml"
    path.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False))
    return path


def build_inputs_key(*parts: str) -> str:
    """A digest of every input of a build: ``parts``, and what ``_build_inputs`` digests."""
    return content_key(*parts, _build_inputs())


@functools.cache
def _build_inputs() -> str:
    """The library, the app and every file a registry may name (all the repository's files but the tests,
    docs and CI; the test fixtures included), the pinned requirements and CLI, the installed CDK, cdk-nag
    and Python, and the environment the app reads; digested once per test process."""
    import os
    import sys
    from importlib.metadata import version

    skipped = ("tests/", "docs/", ".ci/")
    files = [REPO_ROOT / name for name in worktree_files()
             if (not name.startswith(skipped) or name.startswith("tests/fixtures/")) and not name.endswith(".md")]
    versions = " ".join(f"{package}=={version(package)}" for package in ("aws-cdk-lib", "constructs", "cdk-nag", "jsii"))
    # what the app and the registry read of the environment (app.py, stacks/registry.py)
    environ = " ".join(f"{key}={os.environ.get(key, '')}" for key in (
        "CDK_DEPLOY_ACCOUNT", "CDK_DEPLOY_REGION", "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "MWAA_PLATFORM_REGISTRY"))
    return content_key(sys.version, versions, environ, *[str(path.relative_to(REPO_ROOT)) for path in files], *files)


def passed_before(name: str, key: str) -> bool:
    """Whether a check named ``name`` already passed with exactly the inputs ``key`` digests (``mark_passed``).
    For deterministic checks whose inputs ``key`` covers in full; a cold run (CI's clean clone) or
    ``MWAA_PLATFORM_TEST_CACHE=off`` always runs them."""
    return cache_enabled() and (CACHE_DIR / f"passed-{name}-{key}").exists()


def mark_passed(name: str, key: str) -> None:
    if cache_enabled():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        (CACHE_DIR / f"passed-{name}-{key}").touch()


def cache_enabled() -> bool:
    """``MWAA_PLATFORM_TEST_CACHE=off`` runs every tool afresh; CI starts from a clean clone, with no cache."""
    import os

    return os.environ.get("MWAA_PLATFORM_TEST_CACHE", "on") != "off"


def cached_json(name: str, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()``'s JSON result, kept in ``.pytest_cache/mwaa-platform/`` across runs: a deterministic tool
    given exactly the same inputs (``key`` covers them all, tool version included) gives the same answer,
    so a warm run does not ask again."""
    import os

    if not cache_enabled():
        return compute()
    path = CACHE_DIR / f"{name}-{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    result = compute()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(result))
    partial.replace(path)  # atomic: a concurrent worker reads the whole file or none
    return result


def once_per_assembly(directory: str | Path, name: str, compute: Callable[[], Any]) -> Any:
    """``compute()``'s JSON result for a synthesized assembly, computed once per run and shared by the
    xdist workers (stored in the assembly's directory, under a lock): the example platform and the
    user's platform.yaml are one assembly when they build the same thing, and are linted once."""
    import fcntl

    result = Path(directory) / f".{name}.json"
    with open(Path(directory) / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            result.write_text(json.dumps(compute()))
    return json.loads(result.read_text())


def assembly_templates(assembly: Any) -> dict[str, Path]:
    """Stack name -> template file of a cloud assembly."""
    return {stack.stack_name: Path(assembly.directory) / stack.template_file for stack in assembly.stacks}


def assert_assembly_cfn_lint_clean(assembly: Any) -> None:
    """cfn-lint on every template of a synthesized assembly (once per assembly and run)."""
    templates = sorted(assembly_templates(assembly).values())
    once_per_assembly(assembly.directory, "cfn-lint", lambda: assert_cfn_lint_clean(templates))


def checkov_reports(assembly: Any) -> list[dict]:
    """checkov's JSON reports on every template of a synthesized assembly (once per assembly and run).

    checkov lives in its own virtualenv (``.venv-checkov``, made by ``make setup``) because it pins its
    own boto3; the Makefile exports its path as CHECKOV.
    """
    import os
    import subprocess

    checkov = os.environ.get("CHECKOV", str(REPO_ROOT / ".venv-checkov" / "bin" / "checkov"))
    if not Path(checkov).exists():
        raise AssertionError(f"checkov is not installed at {checkov}: run `make setup` (or `make test`), which "
                             "creates .venv-checkov from requirements-checkov.txt")

    templates = sorted(assembly_templates(assembly).values())
    assert templates

    def run() -> list[dict]:
        # the templates by name: with --directory, checkov also parses tree.json and the manifest (1.5 s)
        result = subprocess.run(
            [checkov, *(arg for path in templates for arg in ("--file", str(path))), "--framework", "cloudformation",
             "--output", "json", "--compact", "--skip-download"],
            capture_output=True, text=True, timeout=300,
        )
        assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: failed checks, reported by the tests
        reports = json.loads(result.stdout)
        return reports if isinstance(reports, list) else [reports]

    key = content_key("checkov", REPO_ROOT / "requirements-checkov.txt", *templates)
    return once_per_assembly(assembly.directory, "checkov", lambda: cached_json("checkov", key, run))


def checkov_failures(reports: list[dict]) -> list[str]:
    return [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
            for report in reports for c in report["results"]["failed_checks"]]


def assert_stack_cfn_lint_clean(stack: cdk.Stack, directory: Path) -> None:
    """Write ``stack``'s template into ``directory`` (a test's tmp_path) and hold it to cfn-lint."""
    path = directory / f"{stack.stack_name}.template.json"
    path.write_text(json.dumps(Template.from_stack(stack).to_json()))
    assert_cfn_lint_clean([path])


# --- snapshots -----------------------------------------------------------------------------

_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def scrub(value: Any) -> Any:
    """A template with asset hashes replaced, so snapshots change only when the template does."""
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return _ASSET_HASH.sub("[asset-hash]", value)
    return value


# --- source scanning -----------------------------------------------------------------------

_SKIP_DIRS = {".venv", ".venv-checkov", "node_modules", "cdk.out", ".git", "build", "dist", "__pycache__", ".bench"}


def repo_python_files() -> Iterator[Path]:
    """The repository's own Python files. Skipped folders are pruned, not walked: the virtualenvs
    (.venv, .venv-checkov, .venv-airflow-<version>) and node_modules hold tens of thousands of files."""
    import os

    found = []
    for folder, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [name for name in dirs if name not in _SKIP_DIRS and not name.startswith((".venv", ".pytest_cache",
                                                                                            ".mypy_cache"))]
        found += [Path(folder) / name for name in files if name.endswith(".py")]
    yield from sorted(found)


# --- custom resource handlers ------------------------------------------------------------------


def load_handler(name: str):
    """Import a handler module the way Lambda does: from the handlers folder as a top-level module."""
    import importlib
    import sys

    from mwaa_platform._internal.deploy_function import HANDLERS_DIR

    if str(HANDLERS_DIR) not in sys.path:
        sys.path.insert(0, str(HANDLERS_DIR))
    return importlib.import_module(name)


# --- a small IAM policy evaluator ----------------------------------------------------------------


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str) -> bool:
    import fnmatch

    return any(fnmatch.fnmatchcase(value, pattern) for pattern in _as_list(patterns))


def _conditions_hold(conditions: dict, context: dict) -> bool:
    """The condition operators the library's policies use, on the keys in ``context``."""
    for operator, entries in (conditions or {}).items():
        for key, expected in entries.items():
            actual = context.get(key)
            if operator in ("ArnNotEquals", "StringNotEquals"):
                if actual is None or actual in _as_list(expected):
                    return False
            elif operator in ("ArnNotLike", "StringNotLike"):
                if actual is None or _matches(expected, actual):
                    return False
            elif operator == "Bool":
                if actual is None or str(actual).lower() not in [str(v).lower() for v in _as_list(expected)]:
                    return False
            elif operator in ("ArnEquals", "StringEquals", "ArnLike", "StringLike"):
                if actual is None or not _matches(expected, actual):
                    return False
            else:
                raise NotImplementedError(f"condition operator {operator} in a tested policy")
    return True


def iam_decision(statements: Iterable[dict], *, action: str, resource: str, context: dict | None = None) -> str:
    """"allow", "deny" or "implicit-deny" for one request, as IAM decides it (explicit deny wins).

    ``statements`` must be resolved to literal strings (see ``resolve_literals``); ``context``
    holds condition keys such as ``aws:PrincipalArn``.
    """
    context = context or {}
    decision = "implicit-deny"
    for statement in statements:
        if not _matches(statement.get("Action", []), action) or not _matches(statement.get("Resource", []), resource):
            continue
        if not _conditions_hold(statement.get("Condition", {}), context):
            continue
        if statement["Effect"] == "Deny":
            return "deny"
        decision = "allow"
    return decision


def resolve_literals(value: Any, template: dict, account: str = TEST_ACCOUNT, region: str = TEST_REGION) -> Any:
    """``value`` with pseudo parameters, Fn::Join and GetAtt Arn of roles/buckets made literal."""
    if isinstance(value, list):
        return [resolve_literals(item, template, account, region) for item in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (function, argument), = value.items()
            if function == "Ref" and isinstance(argument, str):
                return {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account,
                        "AWS::URLSuffix": "amazonaws.com"}.get(argument, f"ref:{argument}")
            if function == "Fn::Join":
                return argument[0].join(str(resolve_literals(part, template, account, region)) for part in argument[1])
            if function == "Fn::GetAtt":
                logical_id, attribute = argument
                resource_type = template["Resources"][logical_id]["Type"]
                if attribute == "Arn" and resource_type == "AWS::IAM::Role":
                    return f"arn:aws:iam::{account}:role/{logical_id}"
                if attribute == "Arn" and resource_type == "AWS::S3::Bucket":
                    return f"arn:aws:s3:::{logical_id.lower()}"
                if attribute == "Arn" and resource_type == "AWS::KMS::Key":
                    return f"arn:aws:kms:{region}:{account}:key/{logical_id}"
                return f"{logical_id}.{attribute}"
        return {key: resolve_literals(item, template, account, region) for key, item in value.items()}
    return value


# --- EventBridge patterns ------------------------------------------------------------------------

_MISSING = object()


def event_matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether EventBridge would match ``event`` against ``pattern`` (the subset the library uses:
    exact values, ``anything-but``, ``prefix``, ``exists``, nested objects, arrays, ``$or``)."""
    for key, expected in pattern.items():
        if key == "$or":
            if not any(event_matches(alternative, event) for alternative in expected):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(expected, dict):
            candidates = value if isinstance(value, list) else [value]
            if not any(isinstance(item, dict) and event_matches(expected, item) for item in candidates):
                return False
        elif not any(_leaf_matches(matcher, item) for matcher in expected
                     for item in (value if isinstance(value, list) else [value])):
            return False
    return True


def _leaf_matches(matcher: Any, value: Any) -> bool:
    if isinstance(matcher, dict):
        if "anything-but" in matcher:
            excluded = matcher["anything-but"] if isinstance(matcher["anything-but"], list) else [matcher["anything-but"]]
            return value is not _MISSING and value not in excluded
        if "exists" in matcher:
            return (value is not _MISSING) is matcher["exists"]
        if "prefix" in matcher:
            return isinstance(value, str) and value.startswith(matcher["prefix"])
        raise NotImplementedError(f"pattern matcher {matcher!r}")
    return value is not _MISSING and value == matcher
