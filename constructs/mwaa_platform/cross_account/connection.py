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

from aws_cdk import Annotations, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mwaa_platform.compliance.nag import acknowledge_across_packs
from mwaa_platform.cross_account.role import check_role_arn
from mwaa_platform.environment.environment import AirflowEnvironment
from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform._internal.tokens import is_unresolved

__all__ = ["CROSS_REGION_SERVICES", "AirflowAwsConnection", "check_conn_id", "connection_document",
           "grant_assume_roles", "services_without_cross_region_endpoints"]

#: Services whose interface endpoints also reach other Regions (VPC PrivateLink guide, cross-Region
#: connectivity): a task here can reach them in a target Region without NAT.
CROSS_REGION_SERVICES = ("s3", "iam", "ecr", "kms", "ecs", "lambda", "firehose", "kinesisanalytics", "route53")
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
    """Of ``services`` a target in another Region uses, those that need NAT (or that Region's endpoints).

    STS comes first: the provider assumes the role with an STS client of the connection's Region,
    and STS has no cross-Region PrivateLink.
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
    needs the Secrets Manager backend (``secrets_backend``), whose prefix it uses.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: AirflowEnvironment,
        conn_id: str,
        role_arn: str,
        region_name: str,
        external_id: Optional[str] = None,
        services: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        """
        :param environment: the central environment (with ``secrets_backend``).
        :param conn_id: the id DAGs pass as ``aws_conn_id``.
        :param role_arn: the target role (a ``CrossAccountRole``).
        :param region_name: the Region the connection's clients call.
        :param external_id: passed as ``assume_role_kwargs.ExternalId``. Default: none.
        :param services: AWS services (endpoint names such as ``glue``, ``s3``) the DAGs call through
            it; in another Region, those without cross-Region PrivateLink get a synthesis warning
            when the network has no NAT. Default: none declared.
        :param removal_policy: of the secret (it holds no credential). Default: ``DESTROY``.
        """
        backend = environment.secrets_backend
        with validating(scope, construct_id):
            check_conn_id(conn_id)
            check_role_arn("role_arn", role_arn)
            if backend is None:
                raise MwaaPlatformError(f"connection {conn_id} needs the environment's Secrets Manager backend: create "
                                        f"AirflowEnvironment {environment.environment_name} with secrets_backend")
            for service in services:
                if not isinstance(service, str) or not _SERVICE.match(service):
                    raise MwaaPlatformError(f"services entries are endpoint names such as glue or s3, got {shorten(service)}")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        connections, _ = backend.prefixes
        self.conn_id = conn_id
        self.document = connection_document(role_arn, region_name, external_id=external_id)
        self.secret = secretsmanager.Secret(
            self, "Secret", secret_name=f"{connections}/{conn_id}", encryption_key=environment.key,
            description=f"Airflow connection {conn_id}: assume {role_arn} in {region_name} (no credentials)",
            secret_string_value=SecretValue.unsafe_plain_text(json.dumps(self.document, separators=(",", ":"))),
            removal_policy=removal_policy,
        )
        self.secret.add_to_resource_policy(iam.PolicyStatement(
            sid="OnlyTheExecutionRoleReadsIt", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["secretsmanager:GetSecretValue"], resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": environment.execution_role.role_arn}},
        ))
        # the execution role reads the prefix already (secrets_backend); the key only through Secrets Manager
        environment.execution_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:Decrypt"], resources=[environment.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"}},
        ))
        other_region = not is_unresolved(region_name) and region_name != stack.region
        #: Services this connection's DAGs call in another Region without cross-Region PrivateLink.
        self.needs_nat = services_without_cross_region_endpoints(services) if other_region else []
        network = environment.network
        if self.needs_nat and not (network is not None and network.internet_egress):
            Annotations.of(self).add_warning_v2(
                "mwaa-platform:crossRegionWithoutNat",
                f"connection {conn_id} calls {', '.join(self.needs_nat)} in {region_name}, which VPC endpoints of "
                f"{stack.region} do not reach (no cross-Region PrivateLink for them); give the network NAT gateways, "
                f"or create {region_name} endpoints reachable from this VPC (peering or Transit Gateway)")
        acknowledge_across_packs(
            self.secret, "SecretsManagerRotationEnabled",
            "The secret holds no credential, only the role ARN and Region of an Airflow connection: nothing to rotate.",
            packs=("NIST.800.53.R5", "HIPAA.Security"), also=["AwsSolutions::AwsSolutions-SMG4"])
