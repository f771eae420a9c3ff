"""A workflow's code package: the .py, .sh or .zip PythonOperator and BashOperator tasks run.

Workers run Python 3.12 on Linux x86_64 without internet (unless a VPC with a route is attached),
so a zip's wheels must install there as they are: pure-Python (``py3-none-any``) or built for
manylinux x86_64 and CPython 3.12. A wheel for macOS or Python 3.11 fails only when the task runs.
"""

from __future__ import annotations

import os
import re
import zipfile

from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform.serverless.limits import CODE_PACKAGE_SUFFIXES, MAX_CODE_PACKAGE_BYTES, PYTHON_VERSION

__all__ = ["check_code_package", "wheel_problem"]

# name-version(-build)?-python-abi-platform.whl (PEP 427); tags may be compressed with '.'
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?-(?P<python>[^-]+)-(?P<abi>[^-]+)"
                    r"-(?P<platform>[^-]+)\.whl$")
_MANYLINUX = re.compile(r"^manylinux(?:1|2010|2014|_\d+_\d+)_x86_64$")


def wheel_problem(filename: str) -> str | None:
    """Why the wheel ``filename`` does not install on MWAA Serverless's workers, or None when it does."""
    match = _WHEEL.match(os.path.basename(filename))
    if match is None:
        return "its name is not a wheel's (name-version-python-abi-platform.whl)"
    pythons, abis, platforms = (set(match[part].split(".")) for part in ("python", "abi", "platform"))
    major, minor = PYTHON_VERSION
    if "any" in platforms:
        if pythons & {"py3", f"py{major}{minor}", f"cp{major}{minor}"}:
            return None
        return f"it is for {match['python']}, not Python {major}.{minor}"
    if not any(_MANYLINUX.match(platform) for platform in platforms):
        return f"it is built for {match['platform']}; workers run Linux x86_64 (manylinux x86_64 wheels)"
    cpython = f"cp{major}{minor}"
    stable = {f"cp3{n}" for n in range(2, minor + 1)}  # abi3 wheels built for 3.2 ... 3.12
    if cpython in pythons and abis & {cpython, "none", "abi3"}:
        return None
    if "abi3" in abis and pythons & stable:
        return None
    return f"it is built for {match['python']}-{match['abi']}; workers run CPython {major}.{minor} ({cpython})"


def check_code_package(path: str) -> None:
    """Raise unless ``path`` is a .py, .sh or .zip of at most 250 MB whose wheels install on the workers."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise MwaaPlatformError(f"code_package must be an existing file, got {shorten(path)}")
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in CODE_PACKAGE_SUFFIXES:
        raise MwaaPlatformError(f"code_package must be a {', '.join(CODE_PACKAGE_SUFFIXES)} file, got {shorten(path)}")
    size = os.path.getsize(path)
    if size > MAX_CODE_PACKAGE_BYTES:
        raise MwaaPlatformError(f"{path}: the code package is {size} bytes; MWAA Serverless takes at most "
                                f"{MAX_CODE_PACKAGE_BYTES} (250 MB)")
    if suffix != ".zip":
        return
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise MwaaPlatformError(f"{path}: the code package is not a valid zip file") from None
    problems = [f"{name}: {problem}" for name in names if name.endswith(".whl")
                for problem in [wheel_problem(name)] if problem]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise MwaaPlatformError(f"{path}: wheels that do not install on MWAA Serverless (Linux x86_64, Python "
                                f"{PYTHON_VERSION[0]}.{PYTHON_VERSION[1]}): {shown}")
