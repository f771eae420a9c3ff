"""A private Python package index for environments without internet: AWS CodeArtifact with a PyPI upstream.

The pattern of AWS's "Access private code repositories for installing Python dependencies on
Amazon MWAA": CodeArtifact fetches from PyPI on the service side, the environment reaches
CodeArtifact through the ``codeartifact`` VPC endpoint set, and a startup script points pip at
the repository with a fresh token every time a container starts.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Optional

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mwaa_platform.errors import MwaaPlatformError, construct_path, shorten
from mwaa_platform._internal.tokens import is_unresolved

__all__ = ["AirflowPackageIndex"]

_NAME = re.compile(r"^[a-z][a-z0-9-]{1,49}$")


class AirflowPackageIndex(Construct):
    """A CodeArtifact domain and repository whose upstream is PyPI, readable by the environments granted it.

    Give it to ``AirflowEnvironment(package_index=...)``: the environment's role may read the
    repository, and a generated startup script sets ``PIP_INDEX_URL`` to it, so requirements install
    without internet. The network needs the ``codeartifact`` endpoint set.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        repository_name: str = "pypi",
        key: Optional[kms.IKey] = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """
        :param domain_name: the CodeArtifact domain, 2-50 lowercase letters, digits and '-'.
        :param repository_name: the repository pip reads from. Default: ``pypi``.
        :param key: the customer managed key of the domain's packages. Default: the AWS managed key.
        :param removal_policy: of the domain and repositories. Default: ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        where = construct_path(scope, construct_id)
        for field, value in (("domain_name", domain_name), ("repository_name", repository_name)):
            if not isinstance(value, str) or not _NAME.match(value):
                raise MwaaPlatformError(
                    f"{field} must be 2-50 lowercase letters, digits and '-', starting with a letter, got {shorten(value)}",
                    where,
                )
        super().__init__(scope, construct_id)
        self.domain_name = domain_name
        self.repository_name = repository_name
        self.domain = codeartifact.CfnDomain(self, "Domain", domain_name=domain_name,
                                             encryption_key=key.key_arn if key else None)
        upstream = codeartifact.CfnRepository(
            self, "PyPiUpstream", domain_name=self.domain.attr_name, repository_name=f"{repository_name}-upstream",
            external_connections=["public:pypi"], description="PyPI, fetched by CodeArtifact on the service side",
        )
        self.repository = codeartifact.CfnRepository(
            self, "Resource", domain_name=self.domain.attr_name, repository_name=repository_name,
            upstreams=[upstream.attr_name], description="Python packages for MWAA environments without internet",
        )
        for resource in (self.domain, upstream, self.repository):
            resource.apply_removal_policy(removal_policy)

    @property
    def domain_arn(self) -> str:
        return self.domain.attr_arn

    @property
    def repository_arn(self) -> str:
        return self.repository.attr_arn

    @property
    def package_arns(self) -> str:
        """Every package of the repository (``package/DOMAIN/REPOSITORY/*``)."""
        return Stack.of(self).format_arn(
            service="codeartifact", resource="package", arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            resource_name=f"{self.domain_name}/{self.repository_name}/*",
        )

    def read_statements(self) -> list[iam.PolicyStatement]:
        """What pip needs through CodeArtifact: a token for the domain (which CodeArtifact issues through
        ``sts:GetServiceBearerToken``, for no narrower resource) and reads of this repository."""
        return [
            iam.PolicyStatement(sid="CodeArtifactToken", actions=["codeartifact:GetAuthorizationToken"],
                                resources=[self.domain_arn]),
            iam.PolicyStatement(sid="CodeArtifactBearerToken", actions=["sts:GetServiceBearerToken"], resources=["*"],
                                conditions={"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}),
            iam.PolicyStatement(sid="CodeArtifactRead",
                                actions=["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"],
                                resources=[self.repository_arn, self.package_arns]),
        ]

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` install packages from the repository."""
        for statement in self.read_statements():
            iam.Grant.add_to_principal(grantee=grantee, actions=statement.actions, resource_arns=statement.resources,
                                       conditions=statement.conditions or None)

    def startup_script(self, then: Optional[str] = None) -> str:
        """A startup script that points pip at the repository, written as a file for the environment.

        :param then: a team's own startup script, run after it. Default: none.
        """
        stack = Stack.of(self)
        if is_unresolved(stack.account) or is_unresolved(stack.region):
            raise MwaaPlatformError("a package index needs a stack with a concrete account and Region: the startup "
                                    "script names them", construct_path(self))
        host = f"{self.domain_name}-{stack.account}.d.codeartifact.{stack.region}.amazonaws.com"
        text = "\n".join([
            "#!/bin/sh",
            "# Generated by mwaa-platform: pip installs requirements from the CodeArtifact repository",
            f"# {self.domain_name}/{self.repository_name}, reached through the network's VPC endpoints.",
            f"TOKEN=$(aws codeartifact get-authorization-token --domain {self.domain_name} --domain-owner "
            f"{stack.account} --region {stack.region} --query authorizationToken --output text)",
            f'export PIP_INDEX_URL="https://aws:${{TOKEN}}@{host}/pypi/{self.repository_name}/simple/"',
            "",
        ])
        if then is not None:
            text += "\n# the team's own startup script\n" + Path(then).read_text()
        root = Path(os.environ.get("MWAA_PLATFORM_CACHE") or Path.home() / ".cache" / "mwaa-platform") / "startup"
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"codeartifact-{hashlib.sha256(text.encode()).hexdigest()[:16]}.sh"
        if not path.exists():
            path.write_text(text)
        return str(path)
