#!/usr/bin/env python3
"""Write the data of ``mwaa_platform.environment.image_facts`` under
``constructs/mwaa_platform/environment/_mwaa_images/<version>/``.

    python3 scripts/airflow_facts.py images GITDIR [VERSION...]
        copy each image's constraints and its list of installed distributions from a clone of
        aws/amazon-mwaa-docker-images (read with ``git show``, no work tree needed)
    .venv-airflow-X/bin/python scripts/airflow_facts.py config [--out FILE]
        run by an Airflow virtualenv (scripts/airflow_venv.py): the options this Airflow and its
        installed providers read, and the deprecated aliases it still reads, as airflow_config.json

``config`` imports Airflow and the standard library only. tests/test_airflow_real.py regenerates
each airflow_config.json from its virtualenv and fails while the committed file differs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "constructs" / "mwaa_platform" / "environment" / "_mwaa_images"
IMAGES_REPO = "aws/amazon-mwaa-docker-images"
IMAGE_VERSIONS = ("2.11.0", "2.11.2", "3.0.6", "3.2.1", "3.3.1")


# ---------------------------------------------------------------------------------------------
# images: copied from MWAA's image sources


def _git(gitdir: str, *args: str) -> str:
    return subprocess.run(["git", "-C", gitdir, *args], check=True, capture_output=True, text=True).stdout


def bom_distributions(bom: str, constraints: dict[str, str]) -> list[tuple[str, str]]:
    """(name, version) of each distribution in a ``pip-licenses --format=plain-vertical --with-url
    --with-license-file`` listing (the image's BillOfMaterials/<version>/Python-Packages-BOM.txt).

    Each entry opens with a name line and a version line, then the license (sometimes several
    lines), the URL and the license file's path; license texts follow. An entry is recognised by a
    name and version line, either pinned so in the constraints or opening a block (after a blank
    line or the header) with a URL or UNKNOWN within the next lines.
    """
    lines = bom.split("\n")
    found = []
    for i in range(1, len(lines) - 1):
        name, version = lines[i], lines[i + 1]
        if not (re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) and re.fullmatch(r"\d[\w.+!-]*", version)):
            continue
        pinned = constraints.get(_normalize(name)) == version
        opens = (i == 1 or lines[i - 1] == "") and any(
            line.startswith("http") or line == "UNKNOWN" for line in lines[i + 2:i + 40])
        if pinned or opens:
            found.append((name, version))
    return found


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def copy_image(gitdir: str, version: str) -> None:
    commit = _git(gitdir, "rev-parse", "HEAD").strip()
    base = f"images/airflow/{version}"
    out = DATA / version
    out.mkdir(parents=True, exist_ok=True)

    def origin(path: str) -> str:
        return f"# copied from https://github.com/{IMAGES_REPO} commit {commit} path {path}\n"

    for source, target in (("etc/airflow_constraints.txt", "constraints.txt"),
                           ("etc/mwaa_essential_constraints.txt", "essential_constraints.txt")):
        (out / target).write_text(origin(f"{base}/{source}") + _git(gitdir, "show", f"{commit}:{base}/{source}"))
    constraints = {_normalize(line.split("==")[0]): line.split("==")[1].strip()
                   for line in (out / "constraints.txt").read_text().splitlines() if "==" in line and not line.startswith("#")}
    bom_path = f"{base}/BillOfMaterials/{version}/Python-Packages-BOM.txt"
    install_path = f"{base}/bootstrap/02-airflow/001-install-required-pip-packages.sh"
    script = _git(gitdir, "show", f"{commit}:{install_path}")
    required = re.search(r"REQUIRED_PACKAGES=\((.*?)\n\)", script, re.S)
    packages = " ".join(line.strip() for line in (required.group(1) if required else "").splitlines() if line.strip())
    found = set(bom_distributions(_git(gitdir, "show", f"{commit}:{bom_path}"), constraints))
    # pip-licenses leaves itself and its own dependencies out of its listing; prompt-toolkit (Airflow's
    # CLI) needs wcwidth, so the image has it, at the constraints' version
    if "wcwidth" in constraints and not any(_normalize(name) == "wcwidth" for name, _ in found):
        found.add(("wcwidth", constraints["wcwidth"]))
    distributions = sorted(found, key=lambda item: item[0].lower())
    (out / "installed.txt").write_text(
        "# the distributions installed in MWAA's image: the name and version of each entry of\n"
        + origin(bom_path)
        + "# (and wcwidth, which pip-licenses leaves out of the listing as its own dependency);\n"
        + f"# the image pip-installs ({install_path}), with -c its constraints:\n# {packages}\n"
        + "".join(f"{name}=={dist_version}\n" for name, dist_version in distributions))
    print(f"{out.relative_to(REPO)}: {len(distributions)} distributions")


# ---------------------------------------------------------------------------------------------
# config: run inside an Airflow virtualenv


def image_providers(version: str) -> set[str]:
    """The provider distributions MWAA's image of this version installs (its installed.txt)."""
    installed = DATA / version / "installed.txt"
    names = {_normalize(line.split("==")[0]) for line in installed.read_text().splitlines()
             if "==" in line and not line.startswith("#")}
    return {name for name in names if name.startswith("apache-airflow-providers-")}


def airflow_config() -> dict[str, Any]:
    """The options this Airflow and the providers of MWAA's image read, and the deprecated aliases.

    Providers the virtualenv has beyond the image's (from the registry's requirements) are left out.
    """
    from importlib.metadata import distributions

    import airflow  # type: ignore[import-not-found]
    from airflow.configuration import conf  # type: ignore[import-not-found]
    from airflow.providers_manager import ProvidersManager  # type: ignore[import-not-found]

    # Providers contribute configuration sections (celery, aws, ...) only once discovered and loaded.
    ProvidersManager().initialize_providers_configuration()
    conf.load_providers_configuration()
    in_image = image_providers(airflow.__version__)
    description = {section: body for section, body in conf.configuration_description.items()
                   if not str(body.get("source", "")).startswith("default-apache-airflow-providers-")
                   or body["source"][len("default-"):] in in_image}
    options = sorted(f"{section}.{key}" for section, body in description.items()
                     for key in (body.get("options") or {}))
    deprecated = {f"{old_section}.{old_key}": f"{section}.{key}"
                  for (section, key), (old_section, old_key, _) in conf.deprecated_options.items()}
    # sections renamed wholesale: every option of the new section is still read under the old name
    for old_section, (section, _) in getattr(conf, "deprecated_sections", {}).items():
        for key in (description.get(section) or {}).get("options") or {}:
            deprecated.setdefault(f"{old_section}.{key}", f"{section}.{key}")
    providers = sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in distributions()
                       if _normalize(dist.metadata["Name"]) in in_image)
    return {
        "airflow_version": airflow.__version__,
        "source": (f"generated by scripts/airflow_facts.py from apache-airflow=={airflow.__version__} "
                   f"with providers {', '.join(providers)}"),
        "options": options,
        "deprecated": dict(sorted(deprecated.items())),
    }


def config_text() -> str:
    return json.dumps(airflow_config(), indent=1) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    images = commands.add_parser("images", help="copy constraints and installed lists from MWAA's image sources")
    images.add_argument("gitdir", help="a clone (bare is fine) of aws/amazon-mwaa-docker-images")
    images.add_argument("versions", nargs="*", default=list(IMAGE_VERSIONS))
    config = commands.add_parser("config", help="print (or write) airflow_config.json: run by an Airflow venv")
    config.add_argument("--out", help="write here instead of stdout")
    args = parser.parse_args(argv)
    if args.command == "images":
        for version in args.versions:
            copy_image(args.gitdir, version)
        return 0
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    text = config_text()
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
