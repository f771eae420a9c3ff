"""The checks a path must pass, as plain functions: the constructs, the registry and the preflight
all call these, so a rule is written once and says the same thing wherever it fails."""

from __future__ import annotations

import re
from functools import cache
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from mwaa_platform.errors import shorten
from mwaa_platform.paths.model import DagPath

__all__ = ["CROSS_REGION_SERVICES", "GATEWAY_SERVICES", "configuration_key_problems", "lookup_pattern_admits",
           "provider_problems", "version_tuple"]

#: Services whose interface endpoints can reach another Region (VPC PrivateLink guide, cross-Region
#: connectivity for AWS services). Batch, EKS, STS, Logs, Glue and the rest cannot.
CROSS_REGION_SERVICES = ("s3", "iam", "ecr", "kms", "ecs", "lambda", "firehose", "kinesisanalytics", "route53")
#: Services a gateway endpoint serves in its own Region.
GATEWAY_SERVICES = ("s3", "dynamodb")


def _images() -> Any:
    """``mwaa_platform.environment.image_facts``, imported on first use: the environment package
    imports these checks while it initializes."""
    from mwaa_platform.environment import image_facts

    return image_facts


def lookup_pattern_admits(pattern: Optional[str], key: str) -> bool:
    """Whether the Secrets Manager backend looks ``key`` up: the provider's ``_get_secret`` returns None
    without calling AWS unless ``re.match(pattern, key, re.IGNORECASE)`` (providers/amazon,
    secrets/secrets_manager.py); no pattern looks every key up."""
    return pattern is None or re.match(pattern, key, re.IGNORECASE) is not None


def version_tuple(version: str) -> tuple[int, ...]:
    """``9.8.0`` -> (9, 8, 0); a pre-release or local part ends the tuple."""
    parts = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


_PIN = re.compile(r"^==\s*(?P<version>[0-9][0-9a-zA-Z.]*)$")


def provider_problems(path: DagPath, airflow_version: str, requirements: Mapping[str, Optional[str]],
                      ) -> list[str]:
    """What keeps the providers ``path``'s operator imports from being importable on ``airflow_version``.

    A provider is there when MWAA's image installs it (its installed-package list), or when the
    environment's requirements name it (a wheelhouse is built from them). A requirement pinned to a
    version other than the image's constraints fails to install: MWAA forces its constraints file
    and logs the pip failure instead of failing. A version below the operator's minimum is refused.
    Versions without image data are not checked (nothing to say).
    """
    facts = _images().image_facts(airflow_version)
    if facts is None:
        return []
    problems = []
    for provider, minimum in path.provider_requirements.items():
        name = _images().normalize(provider)
        constrained = facts.constraints.get(name)
        if name in facts.installed:
            version: Optional[str] = constrained
        elif name in requirements:
            pin = _PIN.match(requirements[name] or "")
            version = pin["version"] if pin else constrained
            if pin and constrained and pin["version"] != constrained:
                problems.append(
                    f"requirements pin {provider}=={pin['version']}, but MWAA's constraints for Airflow "
                    f"{airflow_version} pin {constrained}: pip refuses the pair and MWAA leaves the package out "
                    f"without failing; pin {provider}=={constrained}")
                continue
        else:
            pinned = f"=={constrained}" if constrained else ""
            problems.append(
                f"{path.operator} imports {provider}, which MWAA's image for Airflow {airflow_version} does not "
                f"install; add '{provider}{pinned}' to the environment's requirements (a wheelhouse ships it "
                "without internet)")
            continue
        if minimum and version and version_tuple(version) < version_tuple(minimum):
            problems.append(f"{path.operator} needs {provider}>={minimum}, but Airflow {airflow_version} gets "
                            f"{version}; use a newer Airflow version")
    return problems


def configuration_key_problems(airflow_version: str, keys: Iterable[str]) -> list[str]:
    """Airflow configuration keys that ``airflow_version`` does not read, each with what it reads instead.

    The source is Airflow's own configuration of that version, with its providers' (generated from
    the real packages into ``environment/_mwaa_images``). A deprecated alias the version still reads
    passes; one it no longer reads is named with its replacement. Versions without data pass.
    """
    facts = _images().image_facts(airflow_version)
    if facts is None or facts.config_options is None:
        return []
    renamed = _renamed_options()
    problems = []
    for key in keys:
        if facts.reads_option(key):
            continue
        replacement = renamed.get(key.lower())
        if replacement is not None and replacement in facts.config_options:
            problems.append(f"{key} is not read by Airflow {airflow_version} (an alias removed after it was "
                            f"deprecated); use {replacement}")
        else:
            problems.append(f"{shorten(key)} is not a configuration option of Airflow {airflow_version} or its "
                            "installed providers (docs/paths.md, configuration options)")
    return problems


@cache
def _renamed_options() -> dict[str, str]:
    """Every deprecated alias any known version reads, old -> new: the hint for a version that dropped it."""
    renamed: dict[str, str] = {}
    for version in _images().image_versions():
        facts = _images().image_facts(version)
        if facts is not None:
            renamed.update(facts.deprecated_options)
    return renamed
