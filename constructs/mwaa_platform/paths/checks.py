"""The checks a path must pass, as plain functions: the constructs, the registry and the preflight
all call these, so a rule is written once and says the same thing wherever it fails."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Optional

from mwaa_platform.errors import shorten
from mwaa_platform.paths.model import DagPath

__all__ = ["CROSS_REGION_SERVICES", "GATEWAY_SERVICES", "configuration_key_problems", "endpoints_of_action",
           "iam_prefix_of", "lookup_pattern_admits", "provider_problems", "same_version", "version_tuple"]

#: Regional services whose interface endpoints can reach another Region, by VPC endpoint name (VPC
#: PrivateLink guide, cross-Region connectivity for AWS services: S3, ECR, KMS, ECS, Lambda, Firehose,
#: Managed Service for Apache Flink; IAM and Route 53 are global, with no Regional endpoint name).
#: Batch, EKS, STS, Logs, Glue and the rest cannot.
CROSS_REGION_SERVICES = ("s3", "ecr.api", "ecr.dkr", "kms", "ecs", "lambda", "kinesis-firehose", "kinesisanalytics")
#: IAM action prefixes whose calls go to VPC endpoints of other names; an empty tuple: the actions
#: call no Regional endpoint (IAM is global and ``iam:PassRole`` only authorizes another call).
_ENDPOINTS_OF_PREFIX: dict[str, tuple[str, ...]] = {
    "cloudwatch": ("monitoring",), "ecr": ("ecr.api",), "airflow": ("airflow.env",),
    "firehose": ("kinesis-firehose",), "kinesis": ("kinesis-streams",), "sagemaker": ("sagemaker.api",),
    "iam": (), "organizations": (), "route53": (), "cloudfront": (),
}
#: VPC endpoint names whose IAM actions have another prefix.
_PREFIX_OF_ENDPOINT = {
    "monitoring": "cloudwatch", "ecr.api": "ecr", "ecr.dkr": "ecr", "airflow.api": "airflow", "airflow.env": "airflow",
    "airflow.ops": "airflow", "codeartifact.api": "codeartifact", "codeartifact.repositories": "codeartifact",
    "ecs-agent": "ecs", "ecs-telemetry": "ecs", "kinesis-firehose": "firehose", "kinesis-streams": "kinesis",
    "sagemaker.api": "sagemaker",
}


def endpoints_of_action(action: str) -> tuple[str, ...]:
    """The VPC endpoint names an IAM action's calls go through (``glue:StartJobRun`` -> ``glue``)."""
    prefix = action.split(":", 1)[0]
    return _ENDPOINTS_OF_PREFIX.get(prefix, (prefix,))


def iam_prefix_of(service: str) -> str:
    """The IAM action prefix of a VPC endpoint name (``monitoring`` -> ``cloudwatch``)."""
    return _PREFIX_OF_ENDPOINT.get(service, service)


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


def same_version(one: str, other: str) -> bool:
    """Whether two release versions are equal as pip compares them (``10.5`` == ``10.5.0``)."""
    a, b = version_tuple(one), version_tuple(other)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) == b + (0,) * (width - len(b))


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
            if pin and constrained and not same_version(pin["version"], constrained):
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
