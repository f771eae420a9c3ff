"""AWS Regions as botocore's endpoint data lists them: the Regions a role may be assumed in, and
where MWAA runs. One source for the constructs and the platform's registry, so both refuse the same
Regions with the same words."""

from __future__ import annotations

from functools import cache
from typing import Optional

import botocore.session

from mwaa_platform._internal.tokens import is_unresolved
from mwaa_platform.errors import MwaaPlatformError, shorten

__all__ = ["check_mwaa_region", "check_pipeline_region", "check_target_region", "mwaa_regions", "partition_of_arn",
           "partition_of_region", "pipeline_regions", "target_regions"]

#: The partition botocore lists when none is named: the commercial one.
DEFAULT_PARTITION = "aws"


@cache
def _regions(service: str, partition: Optional[str]) -> tuple[str, ...]:
    session = botocore.session.get_session()
    partitions = session.get_available_partitions() if partition is None else [partition]
    return tuple(region for name in partitions for region in session.get_available_regions(service, name))


def target_regions(partition: Optional[str] = DEFAULT_PARTITION) -> tuple[str, ...]:
    """The Regions botocore's endpoint data lists for STS in ``partition`` (None: every partition):
    any Region a cross-account target may be in."""
    return _regions("sts", partition)


def mwaa_regions(partition: Optional[str] = DEFAULT_PARTITION) -> tuple[str, ...]:
    """The Regions botocore's endpoint data lists for MWAA in ``partition`` (None: every partition)."""
    return _regions("mwaa", partition)


def pipeline_regions(partition: Optional[str] = DEFAULT_PARTITION) -> tuple[str, ...]:
    """The Regions botocore's endpoint data lists for CodePipeline in ``partition`` (None: every partition)."""
    return _regions("codepipeline", partition)


def partition_of_region(region: str) -> str:
    """``aws-cn`` of ``cn-north-1``, as botocore's endpoint data gives it; a Region it does not know raises
    (check the Region first)."""
    return str(botocore.session.get_session().get_partition_for_region(region))


def partition_of_arn(arn: str) -> str:
    """``aws-cn`` of ``arn:aws-cn:iam::...``; the commercial partition for anything else."""
    parts = arn.split(":", 2) if isinstance(arn, str) and not is_unresolved(arn) else []
    return parts[1] if len(parts) == 3 and parts[0] == "arn" and parts[1] else DEFAULT_PARTITION


def _example(regions: tuple[str, ...], preferred: tuple[str, ...]) -> str:
    return ", ".join([region for region in preferred if region in regions] or list(regions[:1]) or ["none"])


def check_target_region(field: str, region: str, *, partition: Optional[str] = DEFAULT_PARTITION) -> None:
    """Raise unless ``region`` is a Region botocore knows for STS (tokens pass): where a role may be assumed.

    :param partition: the partition the Region must be in, e.g. the one of the role's ARN. Default: ``aws``.
    """
    _refuse_unlisted(field, region, target_regions(partition), "a Region botocore knows for STS, e.g. {example}",
                     ("eu-west-1",))


def check_mwaa_region(field: str, region: str, *, partition: Optional[str] = DEFAULT_PARTITION) -> None:
    """Raise unless ``region`` is a Region where MWAA runs, as botocore knows them (tokens pass).

    :param partition: the partition the Region must be in (None: any). Default: ``aws``.
    """
    _refuse_unlisted(field, region, mwaa_regions(partition),
                     "a Region where MWAA runs (botocore knows {count}, e.g. {example})", ("eu-west-1", "us-east-1"))


def check_pipeline_region(field: str, region: str, *, partition: Optional[str] = DEFAULT_PARTITION) -> None:
    """Raise unless ``region`` is a Region where CodePipeline runs, as botocore knows them (tokens pass).

    :param partition: the partition the Region must be in (None: any). Default: ``aws``.
    """
    _refuse_unlisted(field, region, pipeline_regions(partition),
                     "a Region where CodePipeline runs (botocore knows {count}, e.g. {example})",
                     ("eu-west-1", "us-east-1"))


def _refuse_unlisted(field: str, region: str, regions: tuple[str, ...], allowed: str,
                     preferred: tuple[str, ...]) -> None:
    """Raise unless ``region`` is one of ``regions`` (tokens pass), saying what is ``allowed`` (a format with
    ``count`` and ``example``)."""
    if is_unresolved(region):
        return
    if not isinstance(region, str) or region not in regions:
        what = allowed.format(count=len(regions), example=_example(regions, preferred))
        raise MwaaPlatformError(f"{field} must be {what}, got {shorten(region)}")
