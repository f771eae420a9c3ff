"""Python dependencies for a network without internet: a wheelhouse built at synthesis.

MWAA's documented way to install packages privately (user guide, "Installing Python dependencies"):
the wheels travel in ``plugins.zip``, which MWAA unpacks to ``/usr/local/airflow/plugins``, and
``requirements.txt`` installs only from there (``--no-index --find-links``). This module builds
both from a team's ``requirements.txt``:

- ``pip download`` fetches wheels for MWAA's runtime (``manylinux2014_x86_64``, CPython of the
  environment's Airflow version, ``--only-binary=:all:``), against the constraints file;
- the wheels, the team's own ``plugins.zip`` and the constraints file become one ``plugins.zip``,
  written deterministically (sorted, fixed timestamps), so an unchanged input gives a byte-identical
  file, the same asset and no environment update;
- the build is cached by content: an unchanged requirements file is not downloaded again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mwaa_platform.errors import MwaaPlatformError, shorten

__all__ = ["MWAA_PLUGINS_PATH", "WHEEL_PLATFORM", "Wheelhouse", "WheelhouseBuild", "build_wheelhouse",
           "needs_packages"]

#: Where MWAA unpacks plugins.zip on every scheduler, worker and web server.
MWAA_PLUGINS_PATH = "/usr/local/airflow/plugins"
#: The platform tag of MWAA's Fargate containers (Amazon Linux, x86_64).
WHEEL_PLATFORM = "manylinux2014_x86_64"

_OPTION = re.compile(r"^\s*-")
_CONSTRAINT = re.compile(r"^\s*(?:--constraint|-c)(?:\s+|=)[\"']?(?P<target>[^\"'\s]+)")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Wheelhouse:
    """Build the requirements into wheels at synthesis and install only those.

    :param find_links: a local folder of wheels to resolve from instead of PyPI (an offline
        build, a private mirror on disk, tests). Default: PyPI, from the synthesizing machine.
    :param constraints: a local constraints file, also shipped in plugins.zip and applied by
        MWAA's pip. Default: the ``--constraint`` line of the requirements file, if any.
    :param cache_dir: where built wheelhouses are kept by content hash. Default:
        ``$MWAA_PLATFORM_CACHE`` or ``~/.cache/mwaa-platform``.
    :param max_size_mib: refuse a plugins.zip larger than this: every scheduler, worker and web
        server downloads and unpacks it at start, and the install must finish within MWAA's
        9 minutes. Default: 500.
    """

    find_links: Optional[str] = None
    constraints: Optional[str] = None
    cache_dir: Optional[str] = None
    max_size_mib: int = 500


@dataclass(frozen=True)
class WheelhouseBuild:
    """The files to upload: a requirements.txt that installs only from plugins.zip, and that zip."""

    requirements: str
    plugins: str
    wheels: tuple[str, ...]


def needs_packages(requirements: str) -> bool:
    """Whether the requirements file names any package (not only options and comments)."""
    return bool(_package_lines(Path(requirements).read_text()))


def _package_lines(text: str) -> list[str]:
    lines = [line.split(" #", 1)[0].strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not _OPTION.match(line)]


def build_wheelhouse(
    wheelhouse: Wheelhouse, *, requirements: str, plugins: Optional[str], python: str
) -> WheelhouseBuild:
    """Download, zip and rewrite (or take from the cache); raise ``MwaaPlatformError`` naming what failed."""
    text = Path(requirements).read_text()
    packages = _package_lines(text)
    constraints = wheelhouse.constraints or next(
        (match["target"] for match in map(_CONSTRAINT.match, text.splitlines()) if match), None)
    local_constraints = constraints if constraints and not constraints.startswith(("http://", "https://")) else None
    if wheelhouse.find_links is not None and not os.path.isdir(wheelhouse.find_links):
        raise MwaaPlatformError(f"wheelhouse find_links must be an existing folder, got {shorten(wheelhouse.find_links)}")
    if local_constraints is not None and not os.path.isfile(local_constraints):
        raise MwaaPlatformError(f"wheelhouse constraints must be an existing file, got {shorten(local_constraints)}")

    key = _cache_key(packages, constraints, local_constraints, python, plugins, wheelhouse.find_links)
    root = Path(wheelhouse.cache_dir or os.environ.get("MWAA_PLATFORM_CACHE") or Path.home() / ".cache" / "mwaa-platform")
    out = root / "wheelhouse" / key
    done = out / "done"
    if not done.exists():
        staging = out.with_name(key + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "wheels").mkdir(parents=True)
        if packages:
            _download(packages, constraints, python, wheelhouse.find_links, staging / "wheels")
        _write_plugins(staging / "plugins.zip", staging / "wheels", plugins, local_constraints)
        size = (staging / "plugins.zip").stat().st_size
        if size > wheelhouse.max_size_mib * 1024 * 1024:
            raise MwaaPlatformError(
                f"the wheelhouse for {shorten(requirements)} is {size / 1024 / 1024:.0f} MiB, over max_size_mib "
                f"{wheelhouse.max_size_mib}: every MWAA container downloads it at start; trim the requirements or use a "
                "private index"
            )
        (staging / "requirements.txt").write_text(_requirements(packages, local_constraints is not None))
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
        done.write_text(key)
    wheels = tuple(sorted(path.name for path in (out / "wheels").glob("*.whl")))
    return WheelhouseBuild(requirements=str(out / "requirements.txt"), plugins=str(out / "plugins.zip"), wheels=wheels)


def _cache_key(packages: list[str], constraints: Optional[str], local_constraints: Optional[str], python: str,
               plugins: Optional[str], find_links: Optional[str]) -> str:
    digest = hashlib.sha256()
    for part in (*packages, "|", constraints or "", python, WHEEL_PLATFORM):
        digest.update(part.encode() + b"\0")
    for path in filter(None, (local_constraints, plugins)):
        digest.update(Path(path).read_bytes())
    if find_links is not None:
        for wheel in sorted(Path(find_links).iterdir()):
            digest.update(f"{wheel.name}:{wheel.stat().st_size}".encode())
    return digest.hexdigest()[:32]


def _download(packages: list[str], constraints: Optional[str], python: str, find_links: Optional[str],
              destination: Path) -> None:
    listed = destination.parent / "packages.txt"
    listed.write_text("\n".join(packages) + "\n")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
               "--platform", WHEEL_PLATFORM, "--implementation", "cp", "--python-version", python,
               "--dest", str(destination), "-r", str(listed)]
    if constraints:
        command += ["-c", constraints]
    if find_links:
        command += ["--no-index", "--find-links", find_links]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        tail = " ".join(result.stderr.strip().splitlines()[-3:])
        raise MwaaPlatformError(
            f"building the wheelhouse failed: pip could not get wheels for Python {python} on {WHEEL_PLATFORM} "
            f"({shorten(tail)}); every package needs a binary wheel for MWAA's runtime"
        )


def _write_plugins(target: Path, wheels: Path, plugins: Optional[str], constraints: Optional[str]) -> None:
    entries: dict[str, bytes] = {}
    if plugins is not None:
        with zipfile.ZipFile(plugins) as source:
            for info in source.infolist():
                if not info.is_dir():
                    entries[info.filename] = source.read(info)
    for wheel in sorted(wheels.glob("*.whl")):
        entries[wheel.name] = wheel.read_bytes()
    if constraints is not None:
        entries["constraints.txt"] = Path(constraints).read_bytes()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])


def _requirements(packages: list[str], constraints: bool) -> str:
    lines = ["# Generated by mwaa-platform: installs only the wheels in plugins.zip (no index).",
             "--no-index", f"--find-links {MWAA_PLUGINS_PATH}"]
    if constraints:
        lines.append(f"--constraint {MWAA_PLUGINS_PATH}/constraints.txt")
    return "\n".join([*lines, *packages]) + "\n"
