"""Where a task's container image comes from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from aws_cdk import aws_ecr as ecr

__all__ = ["TaskImage"]


@dataclass(frozen=True)
class TaskImage:
    """Where a task's container image comes from. Use the class methods.

    :param uri: a full image URI. Default: none.
    :param directory: a local folder with a Dockerfile, built and published as a CDK asset. Default: none.
    :param repository: an ECR repository (``repository_tag`` of it). Default: none.
    :param repository_tag: the tag in ``repository`` or in the team repository. Default: none.
    :param new_repository: create the team's own ECR repository and run ``repository_tag`` of it. Default: False.
    """

    uri: Optional[str] = None
    directory: Optional[str] = None
    repository: Optional[ecr.IRepository] = None
    repository_tag: Optional[str] = None
    new_repository: bool = False

    @classmethod
    def from_uri(cls, uri: str) -> "TaskImage":
        return cls(uri=uri)

    @classmethod
    def from_directory(cls, directory: str) -> "TaskImage":
        return cls(directory=directory)

    @classmethod
    def from_repository(cls, repository: ecr.IRepository, tag: str) -> "TaskImage":
        return cls(repository=repository, repository_tag=tag)

    @classmethod
    def team_repository(cls, tag: str) -> "TaskImage":
        """A new ECR repository for the team (scan on push, immutable tags, a lifecycle), running ``tag``."""
        return cls(new_repository=True, repository_tag=tag)
