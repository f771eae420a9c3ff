#!/usr/bin/env python3
"""Build a virtualenv of real Apache Airflow per version, the way MWAA's image installs it.

    python scripts/airflow_venv.py 2.11.0 3.0.6
    python scripts/airflow_venv.py --from-registry platform.yaml     # the versions the registry uses
    python scripts/airflow_venv.py --list platform.yaml              # print them, build nothing

Each ``.venv-airflow-<version>/`` gets, with ``-c`` the image's constraints file
(``constructs/mwaa_platform/environment/_mwaa_images/<version>/constraints.txt``), the packages the
image's bootstrap script pip-installs (``installed.txt`` names them), except ``psycopg2`` and
``pycurl``: they build from source against libpq and libcurl, and parsing DAGs needs neither (the
image has ``psycopg2-binary`` too). With ``--from-registry`` it also gets the packages the registry's
requirements files name, at the constraints' versions. Airflow 3 venvs get ruff (``AIR3`` rules).

A marker file keyed on every input (python, constraints, package list) makes a rerun instant.
"""

from __future__ import annotations

import argparse
import hashlib
from concurrent.futures import ThreadPoolExecutor
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "constructs" / "mwaa_platform" / "environment" / "_mwaa_images"
#: ruff for ``AIR3xx`` (Airflow 3 migration) rules; not constrained by Airflow's file (it pins a dev ruff).
RUFF = "ruff==0.17.6"
#: C extensions built from source in the image; not needed to parse DAGs (psycopg2-binary is there).
SKIPPED = ("psycopg2", "pycurl")
MARKER = ".installed"
#: bump when the way a venv is built changes (the marker also keys on python, constraints and packages)
BUILD_RECIPE = "1"


def venv_dir(version: str) -> Path:
    return REPO / f".venv-airflow-{version}"


def venv_python(version: str) -> Path:
    return venv_dir(version) / "bin" / "python"


def image_packages(version: str) -> list[str]:
    """What MWAA's image pip-installs for this version (the bootstrap script's list, copied into
    installed.txt's header), ``${AIRFLOW_VERSION}`` filled in, less ``SKIPPED``."""
    installed = DATA / version / "installed.txt"
    if not installed.is_file():
        raise SystemExit(f"airflow_version {version!r}: no MWAA image data under {DATA.relative_to(REPO)}/ "
                         f"(versions with data: {', '.join(sorted(p.name for p in DATA.iterdir() if p.is_dir()))})")
    lines = installed.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if "pip-installs" in line)
    words = [word.strip('"') for word in lines[header + 1].lstrip("# ").split()]
    return [word.replace("${AIRFLOW_VERSION}", version) for word in words if word not in SKIPPED]


# ---------------------------------------------------------------------------------------------
# the registry: which environments run which Airflow, on which DAG folders


@dataclass(frozen=True)
class RegistryEnvironment:
    name: str                        # <team>-<stage>, or <shared environment>-<stage>
    airflow_version: str
    dags: tuple[tuple[str, Path], ...]     # (team, folder): one per team, several on a shared environment
    requirements: Optional[Path]


def registry_environments(registry: Path) -> list[RegistryEnvironment]:
    """Each environment of a registry file with its Airflow version, DAG folders and requirements.

    Reads the YAML directly (not the validating loader: fast, and no CDK import); the registry's
    own validation happens at synthesis.
    """
    import yaml

    document: dict[str, Any] = yaml.safe_load(registry.read_text()) or {}
    base = registry.resolve().parent

    def path(value: Optional[str]) -> Optional[Path]:
        return base / value if value else None

    def version(entry: dict[str, Any]) -> str:
        if entry.get("airflow_version"):
            return str(entry["airflow_version"])
        from mwaa_platform.environment.airflow_version import default_airflow_version
        return default_airflow_version()

    environments: list[RegistryEnvironment] = []
    placed: dict[tuple[str, str], list[tuple[str, Path]]] = {}
    for team in document.get("teams") or []:
        for stage, entry in (team.get("environments") or {}).items():
            dags = path(entry.get("dags"))
            if entry.get("shared"):
                if dags is not None:
                    placed.setdefault((entry["shared"], stage), []).append((team["name"], dags))
                continue
            if entry.get("serverless_only"):
                continue  # no environment: MWAA Serverless runs the team's workflows
            name = entry.get("environment_name") or f"{team['name']}-{stage}"
            environments.append(RegistryEnvironment(name, version(entry), ((team["name"], dags),) if dags else (),
                                                    path(entry.get("requirements"))))
            green = entry.get("blue_green")
            if green:  # a blue/green migration: its DAGs are checked on the new version too (ruff's AIR3 on 3.x)
                environments.append(RegistryEnvironment(green["environment_name"], str(green["airflow_version"]),
                                                        ((team["name"], dags),) if dags else (),
                                                        path(entry.get("requirements"))))
    for shared in document.get("shared_environments") or []:
        environments.append(RegistryEnvironment(
            f"{shared['name']}-{shared['stage']}", version(shared),
            tuple(placed.get((shared["name"], shared["stage"]), ())), path(shared.get("requirements"))))
    return environments


def requirement_lines(requirements: Path) -> list[str]:
    """The package lines of a requirements file (no comments, no options such as -c or --find-links)."""
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


# ---------------------------------------------------------------------------------------------


def build(version: str, extra: list[str], quiet: bool = True) -> bool:
    """Create or update ``.venv-airflow-<version>``; False when it was already up to date."""
    venv = venv_dir(version)
    constraints = DATA / version / "constraints.txt"
    packages = image_packages(version)
    tools = [RUFF] if int(version.split(".")[0]) >= 3 else []
    key = hashlib.sha256("\n".join([
        sys.version, constraints.read_text(), *packages, "--", *sorted(extra), "--", *tools,
        BUILD_RECIPE]).encode()).hexdigest()
    marker = venv / MARKER
    if marker.is_file() and marker.read_text().strip() == key:
        return False
    started = time.monotonic()
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
           *(["-qq"] if quiet else [])]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-c", str(constraints), *packages, *extra], check=True)
    if tools:
        subprocess.run([*pip, *tools], check=True)
    marker.write_text(key + "\n")
    print(f"{venv.name}: built in {time.monotonic() - started:.0f} s")
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("versions", nargs="*", help="Airflow versions, e.g. 2.11.0 3.0.6")
    parser.add_argument("--from-registry", type=Path, action="append", default=[],
                        help="also every version this registry file uses, with the packages its requirements files "
                             "name (repeatable)")
    parser.add_argument("--list", type=Path, metavar="REGISTRY", help="print the versions a registry uses and exit")
    parser.add_argument("--verbose", action="store_true", help="show pip's output")
    args = parser.parse_args(argv)
    if args.list:
        print(" ".join(sorted({env.airflow_version for env in registry_environments(args.list)})))
        return 0
    # per version: the packages the requirements of the environments on that version name
    extra: dict[str, set[str]] = {version: set() for version in args.versions}
    for registry in args.from_registry:
        for env in registry_environments(registry):
            names = extra.setdefault(env.airflow_version, set())
            if env.requirements is not None and env.requirements.is_file():
                names.update(requirement_lines(env.requirements))
    if not extra:
        parser.error("name at least one Airflow version, or --from-registry")
    # one pip per version, side by side: a fresh build spends much of its time downloading and unpacking
    with ThreadPoolExecutor(max_workers=len(extra)) as pool:
        built = dict(zip(sorted(extra), pool.map(
            lambda version: build(version, sorted(extra[version]), quiet=not args.verbose), sorted(extra))))
    for version, fresh in built.items():
        if not fresh and os.environ.get("VERBOSE"):
            print(f"{venv_dir(version).name}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
