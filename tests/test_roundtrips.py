"""Round trips as the platform team makes them: change platform.yaml the documented way, commit, make a
fresh clone, and run `make synth`, the one documented snapshot command and the tests there.

Slow (a synthesis and the user-platform checks per step, a few minutes in all), so not part of
`make test`: `make roundtrips` runs them, and CI runs that target (.ci/run). Each step builds on the
previous one in one clone, the way a platform grows:

1. onboarding a team: README's "Onboarding a team" commands and entry, exactly as written;
2. a stage in a new account and Region;
3. compute, alerting and cross-account for that team.

The clone gets this working tree's files that git tracks or would track (uncommitted edits included) and reuses this
checkout's virtualenvs and CDK CLI (symlinks): `make`'s set-up targets are marked up to date with
``-o``, because building them is what `make test` on a fresh machine measures, not these tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness import REPO_ROOT, worktree_files

pytestmark = pytest.mark.roundtrip

#: make's set-up targets, taken as up to date in the clone (its virtualenvs are this checkout's)
_SETUP = (".venv/.installed", ".venv-checkov/.installed", "node_modules/.installed")
_LINKED = (".venv", ".venv-checkov", "node_modules")


def _run(command: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd / "constructs"), "CI": "true"}
    env.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed in {cwd} ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def _make(target: str, cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["make", *(arg for marker in _SETUP for arg in ("-o", marker)), target], cwd, check=check)


def _git(cwd: Path, *args: str) -> str:
    return _run(["git", "-c", "user.name=roundtrip", "-c", "user.email=roundtrip@example.com", *args], cwd).stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A repository holding this working tree's tracked files as one commit: the platform team's repo."""
    work = tmp_path_factory.mktemp("roundtrip") / "platform"
    work.mkdir()
    for name in worktree_files():
        source = REPO_ROOT / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "the platform as it is")
    return work


def _fresh_clone(work: Path, step: str) -> Path:
    """Commit ``work``'s change, clone it afresh (only what git keeps), and link the set-up into the clone."""
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", step)
    clone = work.parent / f"clone-{step}"
    _run(["git", "clone", "-q", str(work), str(clone)], work.parent)
    for name in _LINKED:
        (clone / name).symlink_to(REPO_ROOT / name)
    with open(clone / ".git" / "info" / "exclude", "a") as exclude:  # .gitignore's `.venv/` matches no symlink
        exclude.write("".join(f"/{name}\n" for name in _LINKED))
    return clone


def _check_in_clone(work: Path, clone: Path) -> None:
    """`make synth` (which also writes docs/review/), then `make snapshots` (the documented command), then `make test`'s user-platform tests
    (the library's do not read platform.yaml: tests/test_your_platform.py says so and
    test_only_your_platform_tests_read_platform_yaml holds it): green.
    The new snapshots go back into ``work``, as the platform team commits them."""
    _make("synth", clone)
    before = _run(["git", "status", "--porcelain"], clone).stdout
    _make("snapshots", clone)
    _run([str(clone / ".venv" / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "load",
          "tests/test_your_platform.py"], clone)
    changed = _run(["git", "status", "--porcelain"], clone).stdout
    # make synth regenerates the security review (docs/review/), which the platform team commits with the change
    assert not [line for line in before.splitlines() if "docs/review/" not in line], before
    assert "tests/__snapshots__/test_your_platform/" in changed, changed
    # the library's own snapshots did not move: its tests do not read platform.yaml
    assert "tests/__snapshots__/test_platform_app/" not in changed, changed
    shutil.copytree(clone / "tests" / "__snapshots__" / "test_your_platform",
                    work / "tests" / "__snapshots__" / "test_your_platform", dirs_exist_ok=True)
    shutil.copytree(clone / "docs" / "review", work / "docs" / "review", dirs_exist_ok=True)


def _registry(work: Path) -> dict:
    return yaml.safe_load((work / "platform.yaml").read_text())


def _append_team(work: Path, entry_text: str) -> None:
    """The README's entry, appended to platform.yaml's teams list as written (indented for it)."""
    text = (work / "platform.yaml").read_text()
    assert text.rstrip().splitlines()[-1].startswith(" "), "platform.yaml is expected to end inside teams:"
    (work / "platform.yaml").write_text(text.rstrip("\n") + "\n\n" + entry_text)


def _readme_onboarding() -> tuple[str, str]:
    section = (REPO_ROOT / "README.md").read_text().split("## Onboarding a team")[1].split("\n## ")[0]
    shell = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    entry = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return shell, entry


def test_1_onboarding_a_team_as_the_readme_says(work):
    shell, entry = _readme_onboarding()
    _run(["bash", "-euo", "pipefail", "-c", shell], work)
    _append_team(work, entry)
    clone = _fresh_clone(work, "onboard-marketing")
    assert (clone / "teams" / "marketing" / "dags").is_dir(), "the DAG folder did not survive git"
    _check_in_clone(work, clone)
    assert (clone / "cdk.out" / "mwaa-platform-marketing-dev.template.json").is_file()


def test_2_a_stage_in_a_new_account(work):
    """A stage with its own account and Region, zones declared (docs/deploying.md), and the team's
    environment there: its network, monitoring and team stacks appear."""
    document = _registry(work)
    document["stages"]["qa"] = {"account": "444444444444", "region": "eu-central-1",
                                "availability_zones": ["eu-central-1a", "eu-central-1b"]}
    marketing = next(team for team in document["teams"] if team["name"] == "marketing")
    marketing["environments"]["qa"] = {"environment_class": "mw1.small", "airflow_version": "2.11.0",
                                       "dags": "teams/marketing/dags"}
    (work / "platform.yaml").write_text(_dump_keeping_header(work, document))
    clone = _fresh_clone(work, "stage-qa")
    _check_in_clone(work, clone)
    for stack in ("network-qa", "monitoring-qa", "marketing-qa"):
        assert (clone / "cdk.out" / f"mwaa-platform-{stack}.template.json").is_file(), stack


def test_3_compute_alerting_and_cross_account_for_the_team(work):
    document = _registry(work)
    marketing = next(team for team in document["teams"] if team["name"] == "marketing")
    marketing["alerts"] = {"emails": ["marketing-oncall@example.com"], "monthly_budget_usd": {"dev": 200}}
    marketing["cross_account"] = [{
        "conn_id": "marketing_warehouse", "stage": "dev", "account": "555555555555", "region": "eu-west-1",
        "services": ["glue"],
        "statements": [{"actions": ["glue:GetJob", "glue:StartJobRun", "glue:GetJobRun"],
                        "resources": ["arn:aws:glue:eu-west-1:555555555555:job/marketing-load"]}],
    }]
    dev = marketing["environments"]["dev"]
    dev["secrets_backend"] = {"connections_lookup_pattern": "^marketing_"}
    dev["compute"] = {"ecs_tasks": [{"family": "marketing-load", "image": {"uri": "public.ecr.aws/docker/library/python:3.12"}}],
                      "batch_jobs": [{"name": "marketing-batch", "image": {"uri": "public.ecr.aws/docker/library/python:3.12"}}]}
    (work / "platform.yaml").write_text(_dump_keeping_header(work, document))
    clone = _fresh_clone(work, "capabilities")
    _check_in_clone(work, clone)
    template = (clone / "cdk.out" / "mwaa-platform-marketing-dev.template.json").read_text()
    assert "AWS::StepFunctions::StateMachine" in template and "AWS::Batch::JobQueue" in template
    assert (clone / "cdk.out" / "mwaa-platform-marketing-dev-access-555555555555-eu-west-1.template.json").is_file()


def _dump_keeping_header(work: Path, document: dict) -> str:
    """The document as YAML under platform.yaml's comment header (the schema line editors read)."""
    lines = (work / "platform.yaml").read_text().splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    return "\n".join(header) + "\n" + yaml.safe_dump(document, sort_keys=False)
