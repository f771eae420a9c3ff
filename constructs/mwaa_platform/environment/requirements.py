"""Checks of a requirements.txt against the environment it is for, with file and line.

MWAA installs requirements when workers start and logs a failed ``pip install`` instead of failing
(aws/amazon-mwaa-docker-images, ``mwaa/utils/user_requirements.py``): a package that cannot be
installed goes missing silently, and the team finds out when its DAGs fail to import. So what
cannot work is refused at synthesis:

- a ``--constraint`` file for another Airflow or Python version than the environment runs;
- on a network without internet egress: anything pip would fetch from the internet (a URL
  constraints file, packages from PyPI). Without a ``--constraint`` line MWAA applies its own
  constraints file for the environment's version, which needs no download;
- credentials in a requirement (``git+https://user:token@...``), which would sit in the bucket
  and in every log;
- a line that is not a constraints line but that MWAA's image takes for one: it searches every
  line, comments included, for ``-c `` or ``--constraint `` (``_requirements_has_constraints``),
  and a match switches off the constraints it would otherwise force, so every package installs
  unconstrained and can replace Airflow's own dependencies.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from mwaa_platform.environment.image_facts import ImageFacts, image_facts, normalize
from mwaa_platform.environment.versions import version_info
from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform.paths.checks import same_version

__all__ = ["check_requirements", "requirement_specifiers"]

_CONSTRAINT = re.compile(r"^\s*(?:--constraint|-c)(?:\s+|=)[\"']?(?P<target>[^\"'\s]+)")
_APACHE_CONSTRAINTS = re.compile(r"constraints-(?P<airflow>\d+\.\d+\.\d+)/constraints-(?P<python>\d+\.\d+)\.txt$")
_CREDENTIALS = re.compile(r"://[^/@\s:]+:[^/@\s]+@")
_LOCAL_SOURCE = re.compile(r"^\s*(?:--find-links|-f|--no-index)\b")
_OWN_INDEX = re.compile(r"^\s*(?:--index-url|-i|--extra-index-url)\b")
#: What MWAA's image looks for in each line, comments included, to decide the file has constraints.
_MWAA_CONSTRAINT_MARKERS = ("-c ", "--constraint ")
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>[<>=!~][^;#]*)?")


def check_requirements(path: str, *, airflow_version: str, internet: bool) -> None:
    """Raise ``MwaaPlatformError`` naming ``path``, the line and the fix for the first line that cannot work.

    :param internet: whether the environment's network reaches the internet (NAT).
    """
    lines = Path(path).read_text().splitlines()
    runtime = version_info(airflow_version)
    local_only = any(_LOCAL_SOURCE.match(line) for line in lines)
    own_index = any(_OWN_INDEX.match(line) for line in lines)
    # without a line MWAA takes for its own constraints, MWAA forces the image's constraints file
    forced = runtime.image if not any(
        marker in line for line in lines for marker in _MWAA_CONSTRAINT_MARKERS) else None
    for number, raw in enumerate(lines, start=1):
        line = raw.split(" #", 1)[0].strip()
        where = f"requirements {shorten(path)} line {number}"
        if any(marker in raw for marker in _MWAA_CONSTRAINT_MARKERS) and not _CONSTRAINT.match(line):
            raise MwaaPlatformError(
                f"{where}: MWAA's image takes any line containing '-c ' or '--constraint ', comments included, for a "
                "constraints line (mwaa/utils/user_requirements.py), and then applies no constraints at all, so "
                f"every package would install unconstrained; reword {shorten(raw.strip())} (e.g. 'no constraints "
                f"file needed'), or add a real '--constraint {runtime.constraints_url}' line"
            )
        if not line or line.startswith("#"):
            continue
        if _CREDENTIALS.search(line):
            raise MwaaPlatformError(
                f"{where}: a requirement must not embed credentials (user:secret@), they would be stored in the "
                "bucket and in every log; install from a private index the network reaches (AWS CodeArtifact) or "
                "from wheels in plugins.zip (docs/python-dependencies.md)"
            )
        constraint = _CONSTRAINT.match(line)
        if constraint is not None:
            _check_constraint(where, constraint["target"], runtime.airflow, runtime.python_minor, runtime.constraints_url,
                              internet)
            continue
        if line.startswith("-"):
            continue
        _check_pin(where, line, forced)
        if not internet and not local_only and not own_index:
            raise MwaaPlatformError(
                f"{where}: {shorten(line)} would be downloaded from PyPI, which this network cannot reach (no NAT), "
                "and MWAA would leave it out without failing; ship it as a wheel in plugins.zip with "
                "'--no-index --find-links /usr/local/airflow/plugins', use a private index, or drop the line if MWAA's "
                "image already has the package (docs/python-dependencies.md)"
            )


def _check_pin(where: str, line: str, forced: Optional[ImageFacts]) -> None:
    """A ``==`` pin against the constraints MWAA forces makes pip refuse the whole file: MWAA logs the
    failure and installs none of it."""
    requirement = _REQUIREMENT.match(line)
    pin = re.match(r"^==\s*(?P<version>[0-9][0-9A-Za-z.]*)\s*$", (requirement["spec"] or "").strip()) if requirement else None
    if forced is None or requirement is None or pin is None:
        return
    name = normalize(requirement["name"])
    constrained = forced.constraints.get(name)
    if constrained is not None and not same_version(pin["version"], constrained):
        raise MwaaPlatformError(
            f"{where}: {requirement['name']}=={pin['version']} conflicts with MWAA's constraints for Airflow "
            f"{forced.airflow_version}, which pin {constrained}: pip refuses the whole file and MWAA installs none of "
            f"it, without failing; pin {requirement['name']}=={constrained} or leave the version out")


def _check_constraint(where: str, target: str, airflow: str, python: str, url: str, internet: bool) -> None:
    if target.startswith(("http://", "https://")) and not internet:
        raise MwaaPlatformError(
            f"{where}: the constraints file {shorten(target)} cannot be downloaded on this network (no NAT); remove the "
            f"line, and MWAA applies its own constraints file for Airflow {airflow} (docs/python-dependencies.md)"
        )
    apache = _APACHE_CONSTRAINTS.search(target)
    if apache is not None and (apache["airflow"], apache["python"]) != (airflow, python):
        raise MwaaPlatformError(
            f"{where}: the constraints file is for Airflow {apache['airflow']} on Python {apache['python']}, but the "
            f"environment runs Airflow {airflow} on Python {python}; use {url}"
        )


def requirement_specifiers(path: str) -> dict[str, Optional[str]]:
    """The packages ``path`` names: normalized distribution name (PEP 503) -> version specifier, or
    None where it names none. Options (``-c``, ``--find-links``, ...) and comments are skipped."""
    packages: dict[str, Optional[str]] = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        match = _REQUIREMENT.match(line) if line and not line.startswith("-") else None
        if match is not None:
            packages[normalize(match["name"])] = match["spec"].strip() if match["spec"] else None
    return packages
