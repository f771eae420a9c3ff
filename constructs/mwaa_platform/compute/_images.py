"""Container images for task compute, shared by the ECS and Batch constructs."""

from __future__ import annotations

from typing import Optional

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from constructs import Construct

from mwaa_platform.compute.image import TaskImage
from mwaa_platform.errors import MwaaPlatformError


def check_image(image: TaskImage) -> None:
    """Exactly one source, and a tag for a repository image."""
    sources = [image.uri, image.directory, image.repository, image.new_repository or None]
    if sum(source is not None for source in sources) != 1:
        raise MwaaPlatformError("image must name exactly one source: TaskImage.from_uri, from_directory, "
                                "from_repository or team_repository")
    if (image.repository is not None or image.new_repository) and not image.repository_tag:
        raise MwaaPlatformError("image needs a tag for a repository image (immutable tags: no 'latest')")


def team_repository(scope: Construct, key: kms.IKey, removal_policy: RemovalPolicy) -> ecr.Repository:
    """The team's own ECR repository: scan on push, immutable tags, KMS, the newest 30 images kept."""
    return ecr.Repository(
        scope, "Repository", image_scan_on_push=True, image_tag_mutability=ecr.TagMutability.IMMUTABLE,
        encryption=ecr.RepositoryEncryption.KMS, encryption_key=key, removal_policy=removal_policy,
        lifecycle_rules=[ecr.LifecycleRule(description="Keep the newest 30 images", max_image_count=30)],
    )


def container_image(image: TaskImage, repository: Optional[ecr.IRepository]) -> ecs.ContainerImage:
    """The ECS image of ``image`` (``repository``: the team repository, when the image asked for one)."""
    if image.uri is not None:
        return ecs.ContainerImage.from_registry(image.uri)
    if image.directory is not None:
        return ecs.ContainerImage.from_asset(image.directory)
    source = image.repository or repository
    assert source is not None and image.repository_tag is not None  # check_image ran first
    return ecs.ContainerImage.from_ecr_repository(source, image.repository_tag)
