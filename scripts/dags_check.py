#!/usr/bin/env python3
"""Import every environment's DAGs with the Airflow version it runs, before deploying.

    make dags-check                                                     # every environment of platform.yaml
    python scripts/dags_check.py --registry platform.yaml
    python scripts/dags_check.py --dags teams/marketing/dags --airflow-version 3.0.6   # one folder

Each DAG folder is imported into a real ``DagBag`` in the Airflow virtualenv of its environment's
version (scripts/airflow_venv.py builds them): MWAA's image's packages plus the requirements of
the registry; a package only another environment's requirements name cannot be imported. Each
import error is printed as ``file:line: message``. For Airflow 3 it also runs ruff's ``AIR`` rules:
``AIR301``/``AIR302`` (removed in Airflow 3) are errors, the other ``AIR`` findings warnings.
Exit code 1 on any error, 2 when a virtualenv is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from airflow_venv import (  # type: ignore[import-not-found]  # noqa: E402
    REPO, RegistryEnvironment, registry_environments, requirement_lines, venv_dir)

PROBE = Path(__file__).resolve().parent / "airflow_probe.py"
#: ruff's Airflow 3 rules for what no longer works on Airflow 3 (the others are suggestions)
RUFF_ERRORS = ("AIR301", "AIR302")


def _names(lines: list[str]) -> set[str]:
    return {re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;@]", line, maxsplit=1)[0]).lower() for line in lines}


def hidden_distributions(environment: RegistryEnvironment, everyone: list[RegistryEnvironment]) -> list[str]:
    """What another environment's requirements name that neither this one's nor MWAA's image has:
    the venv has the union of the registry's requirements, this environment would not."""
    from_version = _image_installed(environment.airflow_version)

    def names(env: RegistryEnvironment) -> set[str]:
        return _names(requirement_lines(env.requirements)) if env.requirements and env.requirements.is_file() else set()

    others = set().union(*(names(env) for env in everyone if env.airflow_version == environment.airflow_version))
    return sorted(others - names(environment) - from_version)


def _image_installed(version: str) -> set[str]:
    installed = REPO / "constructs" / "mwaa_platform" / "environment" / "_mwaa_images" / version / "installed.txt"
    return _names([line for line in installed.read_text().splitlines() if line and not line.startswith("#")])


def probe(version: str, request: dict[str, Any]) -> dict[str, Any]:
    """Run scripts/airflow_probe.py in the version's virtualenv."""
    python = venv_dir(version) / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"no Airflow {version} virtualenv ({venv_dir(version).name}): run "
                         f"`python scripts/airflow_venv.py {version}` (or make airflow-venvs) first") from None
    result = subprocess.run([str(python), str(PROBE)], input=json.dumps(request), capture_output=True, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if result.returncode != 0:
        raise RuntimeError(f"Airflow {version} probe failed:\n{result.stderr[-4000:]}")
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def ruff(version: str, folders: list[str]) -> list[dict[str, Any]]:
    """ruff's AIR findings on the folders (Airflow 3 only)."""
    result = subprocess.run([str(venv_dir(version) / "bin" / "ruff"), "check", "--select", "AIR", "--no-cache",
                             "--output-format", "json", "--exit-zero", *folders], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ruff failed:\n{result.stderr[-2000:]}")
    findings: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return findings


def check(environments: list[RegistryEnvironment], everyone: list[RegistryEnvironment]) -> int:
    """Print each environment's import errors (and ruff findings); the number of errors."""
    by_version: dict[str, list[RegistryEnvironment]] = defaultdict(list)
    for env in environments:
        by_version[env.airflow_version].append(env)
    errors = 0
    for version, envs in sorted(by_version.items()):
        request = {"dags": [{"name": env.name, "folders": [str(folder) for _, folder in env.dags],
                             "hide": hidden_distributions(env, everyone)} for env in envs if env.dags]}
        answer = probe(version, request)["dags"]
        for env in envs:
            if not env.dags:
                print(f"{env.name} (Airflow {version}): no DAG folder")
                continue
            result = answer[env.name]
            findings = ruff(version, [str(folder) for _, folder in env.dags]) if int(version.split(".")[0]) >= 3 else []
            failing = [f for f in findings if f["code"] in RUFF_ERRORS]
            errors += len(result["import_errors"]) + len(failing)
            status = "FAILED" if result["import_errors"] or failing else "ok"
            print(f"{env.name} (Airflow {version}): {len(result['dag_ids'])} DAGs, "
                  f"{len(result['import_errors'])} import errors: {status}")
            for error in result["import_errors"]:
                last = error["message"].strip().splitlines()[-1] if error["message"].strip() else ""
                print(f"  {_relative(error['file'])}:{error['line'] or '?'}: import error: {last}")
            for finding in findings:
                level = "error" if finding["code"] in RUFF_ERRORS else "warning"
                print(f"  {_relative(finding['filename'])}:{finding['location']['row']}: {level} {finding['code']} "
                      f"{finding['message']}")
    return errors


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", type=Path, default=REPO / "platform.yaml", help="Default: platform.yaml")
    parser.add_argument("--dags", type=Path, help="check this one folder instead of the registry's")
    parser.add_argument("--airflow-version", help="with --dags: the Airflow version to import it with")
    args = parser.parse_args(argv)
    if args.dags is not None:
        if not args.airflow_version:
            parser.error("--dags needs --airflow-version, e.g. --airflow-version 2.11.0")
        if not args.dags.is_dir():
            parser.error(f"--dags {str(args.dags)!r} is not a folder")
        environments = [RegistryEnvironment(str(args.dags), args.airflow_version, (("", args.dags.resolve()),), None)]
        everyone = environments
    else:
        everyone = registry_environments(args.registry)
        environments = everyone
    errors = check(environments, everyone)
    print(f"{errors} error(s)" if errors else "All DAGs import.")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
