"""The central side: Airflow connections that assume target roles, and the grant to assume exactly them.

Each connection is a Secrets Manager secret under the environment's own connections prefix, in the
JSON form the Amazon provider's secrets backend reads: conn type ``aws`` and, in ``extra``, the
role to assume and the Region, never credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Optional

from aws_cdk import RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mwaa_platform.compliance.nag import MIN_REASON_LENGTH, acknowledge_across_packs
from mwaa_platform.cross_account.role import check_role_arn
from mwaa_platform.environment.base import IAirflowEnvironment, check_environment
from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform._internal.kinds import check_kind
from mwaa_platform._internal.regions import check_target_region, partition_of_arn
from mwaa_platform._internal.tokens import is_unresolved
from mwaa_platform.paths.checks import CROSS_REGION_SERVICES, lookup_pattern_admits
from mwaa_platform.paths.model import DagPath, record_path

__all__ = ["CROSS_REGION_SERVICES", "AirflowAwsConnection", "check_conn_id", "connection_document",
           "grant_assume_roles", "services_without_cross_region_endpoints"]

#: Characters of a connection id Airflow accepts that can also be part of a Secrets Manager name.
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_SERVICE = re.compile(r"^[a-z0-9-]{2,40}$")


def check_conn_id(conn_id: str) -> None:
    """Raise unless Airflow accepts ``conn_id`` and it can end a Secrets Manager name."""
    if not isinstance(conn_id, str) or not _CONN_ID.match(conn_id):
        raise MwaaPlatformError(
            "conn_id must be 1-250 letters, digits, '_', '.' and '-' (what Airflow accepts and a Secrets Manager name "
            f"can hold), got {shorten(conn_id)}")


def connection_document(role_arn: str, region_name: str, *, external_id: Optional[str] = None) -> dict[str, Any]:
    """The secret's JSON: ``{"conn_type": "aws", "extra": {"role_arn": ..., "region_name": ...}}``.

    With ``external_id``, ``assume_role_kwargs: {"ExternalId": ...}`` goes into ``extra``.
    """
    extra: dict[str, Any] = {"role_arn": role_arn, "region_name": region_name}
    if external_id is not None:
        extra["assume_role_kwargs"] = {"ExternalId": external_id}
    return {"conn_type": "aws", "extra": extra}


def services_without_cross_region_endpoints(services: Sequence[str]) -> list[str]:
    """Of ``services`` a target in another Region uses, those that need NAT (or a route to that
    Region's endpoints): the ones without cross-Region PrivateLink.

    STS comes first: the provider assumes the role with an STS client of the connection's Region
    (``base_aws.BaseSessionFactory._refresh_credentials``: the basic session's Region), signed for
    that Region, so the STS endpoint of another Region cannot stand in; and STS has no cross-Region
    PrivateLink.
    """
    return [service for service in dict.fromkeys(["sts", *services]) if service not in CROSS_REGION_SERVICES]


def grant_assume_roles(grantee: iam.IGrantable, role_arns: Sequence[str], *, tag_session: bool = False) -> iam.Grant:
    """``sts:AssumeRole`` (and ``sts:TagSession``) on exactly ``role_arns``, nothing else."""
    if isinstance(role_arns, str) or not role_arns:
        raise MwaaPlatformError(f"role_arns must be a non-empty list of role ARNs, got {shorten(role_arns)}")
    for arn in role_arns:
        check_role_arn("role_arns", arn)
    actions = ["sts:AssumeRole", *(["sts:TagSession"] if tag_session else [])]
    return iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=list(dict.fromkeys(role_arns)))


class AirflowAwsConnection(Construct):
    """An Airflow ``aws`` connection that assumes ``role_arn`` in ``region_name``, for ``environment``.

    The secret is ``<connections prefix>/<conn_id>``, encrypted with the environment's key, and its
    resource policy lets only the environment's execution role read its value. The environment
    needs the Secrets Manager backend (``secrets_backend``), whose prefix it uses, and whose
    ``connections_lookup_pattern`` must match ``conn_id``.

    It records two paths (``mwaa_platform.paths``): assuming the role (STS in ``region_name``, as
    the execution role) and the calls made as the role (``services`` in ``region_name``); the
    preflight checks the lookup pattern, the endpoints, their policies and the providers against them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: IAirflowEnvironment,
        conn_id: str,
        role_arn: str,
        region_name: str,
        external_id: Optional[str] = None,
        services: Sequence[str] = (),
        actions: Sequence[str] = (),
        resources: Sequence[str] = (),
        resource_account: Optional[str] = None,
        route_reason: Optional[str] = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        """
        :param environment: the central environment (with ``secrets_backend``): an ``AirflowEnvironment``,
            or one imported with ``from_environment_name`` given its ``execution_role``, ``key`` and
            ``secrets_backend``.
        :param conn_id: the id DAGs pass as ``aws_conn_id``.
        :param role_arn: the target role (a ``CrossAccountRole``).
        :param region_name: the Region the connection's clients call: one botocore knows for STS, in
            the partition of ``role_arn``.
        :param external_id: passed as ``assume_role_kwargs.ExternalId``. Default: none.
        :param services: AWS services (endpoint names such as ``glue``, ``s3``) the DAGs call through
            it: the preflight checks that the network reaches each in ``region_name``. Default: none declared.
        :param actions: the IAM actions the DAGs take through it, where known: endpoint policies on the
            way must allow each. Default: none recorded (the policies must admit the services).
        :param resources: the ARNs the DAGs reach through it, where known: endpoint policies (the S3
            perimeter) must admit each. Default: none recorded.
        :param resource_account: the account owning those resources. Default: the role's account.
        :param route_reason: how the calls reach ``region_name`` when this network has neither NAT
            nor endpoints for it (peering, a Transit Gateway); the route checks skip the path and
            the report shows the reason. Default: none (every service must be reachable).
        :param removal_policy: of the secret (it holds no credential). Default: ``DESTROY``.
        """
        with validating(scope, construct_id):
            check_environment("environment", environment)
            check_conn_id(conn_id)
            account = check_role_arn("role_arn", role_arn)
            check_target_region("region_name", region_name, partition=partition_of_arn(role_arn))
            check_kind("removal_policy", removal_policy, RemovalPolicy)
            backend, key, execution_role = environment.secrets_backend, environment.key, environment.execution_role
            if backend is None:
                raise MwaaPlatformError(f"connection {conn_id} needs the environment's Secrets Manager backend: create "
                                        f"AirflowEnvironment {environment.environment_name} with secrets_backend (an "
                                        "imported environment: pass the same secrets_backend to from_environment_name)")
            if key is None or execution_role is None:
                missing = " and ".join(name for name, value in (("key", key), ("execution_role", execution_role))
                                       if value is None)
                raise MwaaPlatformError(
                    f"connection {conn_id} needs the environment's {missing}: the secret is encrypted with the key and "
                    f"only the execution role may read it; import environment {environment.environment_name} with "
                    f"{missing}")
            for service in services:
                if not isinstance(service, str) or not _SERVICE.match(service):
                    raise MwaaPlatformError(f"services entries are endpoint names such as glue or s3, got {shorten(service)}")
            pattern = backend.connections_lookup_pattern
            if not lookup_pattern_admits(pattern, conn_id):
                raise MwaaPlatformError(
                    f"conn_id {conn_id!r} does not match the secrets backend's connections_lookup_pattern {pattern!r} of "
                    f"environment {environment.environment_name}: Airflow would never look it up and the DAG would run "
                    "as the execution role; widen the pattern or rename the connection")
            if route_reason is not None and len(str(route_reason).strip()) < MIN_REASON_LENGTH:
                raise MwaaPlatformError(f"route_reason must say how the calls are routed (at least {MIN_REASON_LENGTH} "
                                        f"characters), got {shorten(route_reason)}")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        connections, _ = backend.prefixes
        self.conn_id = conn_id
        self.document = connection_document(role_arn, region_name, external_id=external_id)
        self.secret = secretsmanager.Secret(
            self, "Secret", secret_name=f"{connections}/{conn_id}", encryption_key=key,
            description=f"Airflow connection {conn_id}: assume {role_arn} in {region_name} (no credentials)",
            secret_string_value=SecretValue.unsafe_plain_text(json.dumps(self.document, separators=(",", ":"))),
            removal_policy=removal_policy,
        )
        self.secret.add_to_resource_policy(iam.PolicyStatement(
            sid="OnlyTheExecutionRoleReadsIt", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["secretsmanager:GetSecretValue"], resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": execution_role.role_arn}},
        ))
        # the execution role reads the prefix already (secrets_backend); the key only through Secrets Manager
        execution_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:Decrypt"], resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"}},
        ))
        other_region = not is_unresolved(region_name) and region_name != stack.region
        #: Services this connection's DAGs call in another Region without cross-Region PrivateLink.
        self.needs_nat = services_without_cross_region_endpoints(services) if other_region else []
        region = None if is_unresolved(region_name) else region_name
        # assuming the role: the execution role calls STS; what it reaches is the role, in the target account
        record_path(self, DagPath(
            environment=environment.environment_name, capability=f"assume {role_arn} for connection {conn_id}",
            operator="airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook", services=("sts",), conn_id=conn_id,
            actions=("sts:AssumeRole",), resources=(role_arn,), resource_account=account, region=region,
            route_reason=route_reason))
        if services:
            record_path(self, DagPath(
                environment=environment.environment_name, capability=f"{', '.join(services)} through connection {conn_id}",
                operator="airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook", services=tuple(services),
                conn_id=conn_id, principal_arn=role_arn, principal_account=account, region=region,
                resource_account=resource_account or account, actions=tuple(actions), resources=tuple(resources),
                route_reason=route_reason))
        acknowledge_across_packs(
            self.secret, "SecretsManagerRotationEnabled",
            "The secret holds no credential, only the role ARN and Region of an Airflow connection: nothing to rotate.",
            packs=("NIST.800.53.R5", "HIPAA.Security"), also=["AwsSolutions::AwsSolutions-SMG4"])
