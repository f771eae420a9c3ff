"""The VPC endpoints MWAA needs to run without internet access, shared by every environment of a VPC.

The required set (user guide: vpc-vpe-create-access) is the S3 gateway endpoint plus the interface
endpoints in ``REQUIRED_SERVICES``. ``ENDPOINT_SETS`` are switched on by what the platform uses.
Interface endpoints are closed (``open=False``): their security group admits HTTPS only from the
security groups added to it, never from a CIDR.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional, Union

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform.paths.checks import CROSS_REGION_SERVICES
from mwaa_platform._internal.tokens import is_unresolved

_Aws = ec2.InterfaceVpcEndpointAwsService


@dataclass(frozen=True)
class EndpointService:
    """One interface endpoint: its CDK service, the IAM prefix it serves and its policy choice.

    ``account_scoped_policy``: the endpoint gets a policy admitting only principals of this
    account. It is set where every caller through the endpoint is one of this account's roles
    (the execution role, task roles, the platform's own functions). It is unset where AWS's own
    service principals call through the endpoint on MWAA's behalf (ECR image pulls, MWAA's
    ``airflow.*`` operations), where a principal condition would break the environment, and for
    the compute sets, whose callers the compute constructs define.
    """

    name: str
    service: ec2.InterfaceVpcEndpointAwsService
    iam_prefix: str
    account_scoped_policy: bool


def _service(name: str, service: ec2.InterfaceVpcEndpointAwsService, iam_prefix: str, scoped: bool) -> EndpointService:
    return EndpointService(name=name, service=service, iam_prefix=iam_prefix, account_scoped_policy=scoped)


#: Interface endpoints every environment needs for private routing, in creation order.
REQUIRED_SERVICES: tuple[EndpointService, ...] = (
    _service("sqs", _Aws.SQS, "sqs", True),
    _service("logs", _Aws.CLOUDWATCH_LOGS, "logs", True),
    _service("monitoring", _Aws.CLOUDWATCH_MONITORING, "cloudwatch", True),
    _service("kms", _Aws.KMS, "kms", True),
    _service("ecr.api", _Aws.ECR, "ecr", False),
    _service("ecr.dkr", _Aws.ECR_DOCKER, "ecr", False),
    _service("airflow.api", _Aws.AIRFLOW_API, "airflow", False),
    _service("airflow.env", _Aws.AIRFLOW_ENV, "airflow", False),
    _service("airflow.ops", _Aws.AIRFLOW_OPS, "airflow", False),
)

#: Optional sets, named after what switches them on.
ENDPOINT_SETS: dict[str, tuple[EndpointService, ...]] = {
    # the Secrets Manager backend for connections and variables
    "secretsmanager": (_service("secretsmanager", _Aws.SECRETS_MANAGER, "secretsmanager", True),),
    # cross-account roles the execution role assumes
    "sts": (_service("sts", _Aws.STS, "sts", True),),
    # a private package index: AWS CodeArtifact's API and its repositories (pip)
    "codeartifact": (
        _service("codeartifact.api", _Aws.CODEARTIFACT_API, "codeartifact", True),
        _service("codeartifact.repositories", _Aws.CODEARTIFACT_REPOSITORIES, "codeartifact", True),
    ),
    # task compute: ECS RunTask, Batch SubmitJob, EKS (API, Pod Identity, and the VPC CNI's EC2 calls)
    "ecs": (_service("ecs", _Aws.ECS, "ecs", False),),
    "batch": (_service("batch", _Aws.BATCH, "batch", False),),
    # EC2 container instances (Batch on EC2/Spot): the ECS agent registers and reports through these
    "ecs-agent": (
        _service("ecs", _Aws.ECS, "ecs", False),
        _service("ecs-agent", _Aws.ECS_AGENT, "ecs", False),
        _service("ecs-telemetry", _Aws.ECS_TELEMETRY, "ecs", False),
    ),
    # EKS: the API (DescribeCluster), Pod Identity, the VPC CNI's EC2 calls and STS (the nodes'
    # and pods' web identities); ECR and logs are in the required set
    "eks": (
        _service("eks", _Aws.EKS, "eks", False),
        _service("eks-auth", _Aws.EKS_AUTH, "eks-auth", False),
        _service("ec2", _Aws.EC2, "ec2", False),
        _service("sts", _Aws.STS, "sts", True),
    ),
}


@dataclass(frozen=True)
class PathEndpoint:
    """What DAG paths need of the network beyond the endpoint sets: a service by endpoint name, in this
    network's Region or another, called by principals of other accounts, on known resources.

    :param service: the endpoint name (``glue``, ``s3``, ``dynamodb``, ...): ``com.amazonaws.REGION.SERVICE``.
    :param region: another Region: a cross-Region interface endpoint (only services with
        cross-Region PrivateLink, ``CROSS_REGION_SERVICES``). Default: the network's Region.
    :param principal_accounts: accounts whose principals call through the endpoint (roles a
        connection assumes); the endpoint's policy admits them besides this account. Default: none.
    :param actions: for S3, the actions the paths take. Default: none.
    :param resources: for S3, the ARNs the paths reach: the S3 perimeter admits exactly these
        actions on these resources for ``principal_accounts``, not the resource's whole account.
        Default: none.
    """

    service: str
    region: Optional[str] = None
    principal_accounts: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()


def _check_path_endpoints(path_endpoints: Sequence[PathEndpoint]) -> list[PathEndpoint]:
    for item in path_endpoints:
        if not isinstance(item, PathEndpoint):
            raise MwaaPlatformError(f"path_endpoints entries must be PathEndpoint, got {shorten(item)}")
        if not _SERVICE_NAME.match(item.service):
            raise MwaaPlatformError(f"path_endpoints service must be an endpoint name such as glue, got {shorten(item.service)}")
        if item.region is not None and item.service not in CROSS_REGION_SERVICES:
            raise MwaaPlatformError(
                f"path_endpoints: {item.service} has no cross-Region PrivateLink (only {', '.join(CROSS_REGION_SERVICES)}), "
                f"so no endpoint here reaches it in {item.region}; use NAT or call it in this Region")
        check_account_ids("path_endpoints principal_accounts", list(item.principal_accounts))
        if item.service == "s3" and bool(item.actions) != bool(item.resources):
            raise MwaaPlatformError("path_endpoints for s3 need both actions and resources (what the S3 perimeter admits)")
    return list(path_endpoints)


_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,40}$")


def check_endpoint_sets(endpoint_sets: Iterable[str]) -> tuple[str, ...]:
    """The given set names, deduplicated in order; raise naming an unknown one."""
    names = tuple(dict.fromkeys(endpoint_sets))
    for name in names:
        if name not in ENDPOINT_SETS:
            raise MwaaPlatformError(f"endpoint_sets: unknown set {shorten(name)}; allowed: {', '.join(ENDPOINT_SETS)}")
    return names


def endpoint_services(endpoint_sets: Iterable[str]) -> tuple[EndpointService, ...]:
    """The interface endpoints for the required set plus ``endpoint_sets``, each service once."""
    chosen = {service.name: service for service in REQUIRED_SERVICES}
    for name in check_endpoint_sets(endpoint_sets):
        chosen.update({service.name: service for service in ENDPOINT_SETS[name]})
    return tuple(chosen.values())


def _construct_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", ".").split(".")) + "Endpoint"


class AirflowVpcEndpoints(Construct):
    """The S3 gateway endpoint and the interface endpoints MWAA needs, behind one security group.

    Create it once per VPC and share it: add an HTTPS ingress rule to ``security_group`` for each
    security group that must reach the endpoints (``AirflowNetwork.new_environment_security_group``
    does this for every environment security group).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: Sequence[ec2.ISubnet],
        endpoint_sets: Sequence[str] = (),
        endpoint_policies: bool = True,
        data_perimeter: bool = True,
        perimeter_accounts: Sequence[str] = (),
        path_endpoints: Sequence[PathEndpoint] = (),
    ) -> None:
        """
        :param vpc: the VPC to create the endpoints in.
        :param subnets: the subnets for the interface endpoints' network interfaces and whose route
            tables get the S3 gateway route (the environment's two subnets).
        :param endpoint_sets: optional sets from ``ENDPOINT_SETS``. Default: the required set only.
        :param endpoint_policies: attach the account-scoped policy where ``EndpointService``
            says it is safe. Default: True.
        :param data_perimeter: restrict the S3 gateway endpoint to buckets owned by
            ``perimeter_accounts`` plus the Region's ECR image-layer bucket, and the ECR endpoints to
            image pulls (``docs/network.md``, "Data perimeter"). Default: True.
        :param perimeter_accounts: the accounts whose buckets the S3 gateway reaches. Default:
            this stack's account.
        :param path_endpoints: endpoints DAG paths need beyond the sets: services in this Region
            (an interface endpoint each, or S3 perimeter statements), cross-Region endpoints, and
            the other accounts whose principals call through them. Default: none.
        """
        with validating(scope, construct_id):
            services = endpoint_services(endpoint_sets)
            accounts = check_account_ids("perimeter_accounts", perimeter_accounts)
            paths = _check_path_endpoints(path_endpoints)
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        placement = ec2.SubnetSelection(subnets=list(subnets))

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="MWAA VPC interface endpoints: HTTPS from the security groups granted access only",
        )
        self.s3_gateway = ec2.GatewayVpcEndpoint(
            self, "S3GatewayEndpoint", vpc=vpc, service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[placement]
        )
        local = [item for item in paths if item.region in (None, Stack.of(self).region)]
        if data_perimeter:
            for statement in s3_perimeter_statements(self, accounts or [account],
                                                     codeartifact="codeartifact" in endpoint_sets,
                                                     cloudformation_responses="eks" in endpoint_sets):
                self.s3_gateway.add_to_policy(statement)
            for index, item in enumerate(item for item in local if item.service == "s3" and item.resources):
                self.s3_gateway.add_to_policy(_path_statement(f"PathResources{index}", item))
        # services paths call in this Region, beyond the sets: an account-scoped interface endpoint each
        known = {service.name for service in services}
        services = (*services, *(_service(name, _Aws(name), name, True) for name in dict.fromkeys(
            item.service for item in local if item.service not in ("s3", *known))))
        callers: dict[str, list[str]] = {}
        for item in local:
            callers.setdefault(item.service, []).extend(item.principal_accounts)
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for service in services:
            endpoint = ec2.InterfaceVpcEndpoint(
                self,
                _construct_id(service.name),
                vpc=vpc,
                service=service.service,
                subnets=placement,
                security_groups=[self.security_group],
                open=False,
                private_dns_enabled=True,
            )
            if data_perimeter and service.iam_prefix == "ecr":
                endpoint.add_to_policy(ecr_pull_statement())
            elif endpoint_policies and service.account_scoped_policy:
                others = [other for other in callers.get(service.name, ()) if other != account]
                endpoint.add_to_policy(
                    iam.PolicyStatement(
                        # the accounts of roles that DAG connections assume call through it too (path_endpoints)
                        sid="ThisAccountAndPathAccountsPrincipals" if others else "OnlyThisAccountsPrincipals",
                        principals=[iam.AnyPrincipal()],
                        actions=[f"{service.iam_prefix}:*"],
                        resources=["*"],
                        conditions={"StringEquals": {"aws:PrincipalAccount": _accounts(account, callers.get(service.name))}},
                    )
                )
            self.interface_endpoints[service.name] = endpoint
        for item in paths:
            if item.region in (None, Stack.of(self).region):
                continue
            # a cross-Region endpoint (VPC PrivateLink cross-Region connectivity for AWS services)
            name = f"{item.service}.{item.region}"
            endpoint = ec2.InterfaceVpcEndpoint(
                self, _construct_id(f"{item.service}-{item.region}"), vpc=vpc,
                service=ec2.InterfaceVpcEndpointService(f"com.amazonaws.{item.region}.{item.service}", 443),
                service_region=item.region, subnets=placement, security_groups=[self.security_group], open=False,
                private_dns_enabled=True,
            )
            if item.service == "s3":
                endpoint.add_to_policy(_path_statement("PathResources", item))
            else:
                endpoint.add_to_policy(iam.PolicyStatement(
                    sid="OnlyPathPrincipals", principals=[iam.AnyPrincipal()], actions=[f"{item.service}:*"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:PrincipalAccount": _accounts(account, item.principal_accounts)}}))
            self.interface_endpoints[name] = endpoint
        self.services = frozenset(self.interface_endpoints)


def _accounts(account: str, others: Optional[Sequence[str]]) -> Union[str, list[str]]:
    """This account alone (as before paths), or it and the other accounts whose principals call."""
    extra = [other for other in dict.fromkeys(others or ()) if other != account]
    return [account, *extra] if extra else account


def _path_statement(sid: str, item: PathEndpoint) -> iam.PolicyStatement:
    """Exactly the S3 actions and resources of a path, for the principals of its accounts."""
    return iam.PolicyStatement(
        sid=sid, principals=[iam.AnyPrincipal()], actions=list(item.actions), resources=list(item.resources),
        conditions={"StringEquals": {"aws:PrincipalAccount": list(item.principal_accounts)}}
        if item.principal_accounts else None)


#: What pulling an image from ECR calls; the perimeter's ECR endpoints allow nothing else.
ECR_PULL_ACTIONS = (
    "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
)


def s3_perimeter_statements(
    scope: Construct, accounts: Sequence[str], *, codeartifact: bool = False, cloudformation_responses: bool = False,
) -> list[iam.PolicyStatement]:
    """The S3 gateway's data perimeter (user guide: vpc-security): the platform accounts' buckets,
    and reads of the Region's ECR image layers, which ECR serves from an AWS-owned bucket; with a
    package index, reads of CodeArtifact's AWS-owned asset bucket of the Region; with custom
    resource handlers in the VPC (EKS namespaces), writes of their answers to CloudFormation's
    response buckets, the pre-signed URL a custom resource must answer (CloudFormation user guide:
    custom resources and AWS PrivateLink)."""
    stack = Stack.of(scope)
    extra = [iam.PolicyStatement(
        sid="CodeArtifactAssets", principals=[iam.AnyPrincipal()], actions=["s3:GetObject"],
        resources=[f"arn:{stack.partition}:s3:::assets-*-{stack.region}/*"],
    )] if codeartifact else []
    if cloudformation_responses:
        extra.append(iam.PolicyStatement(
            sid="CloudFormationResponses", principals=[iam.AnyPrincipal()], actions=["s3:PutObject"],
            resources=[f"arn:{stack.partition}:s3:::cloudformation-custom-resource-response-*/*"],
        ))
    return [*extra,
        iam.PolicyStatement(
            sid="PlatformAccountsBuckets",
            principals=[iam.AnyPrincipal()],
            actions=["s3:*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:ResourceAccount": list(accounts)}},
        ),
        iam.PolicyStatement(
            sid="EcrImageLayers",
            principals=[iam.AnyPrincipal()],
            actions=["s3:GetObject"],
            resources=[f"arn:{stack.partition}:s3:::prod-{stack.region}-starport-layer-bucket/*"],
        ),
    ]


def ecr_pull_statement() -> iam.PolicyStatement:
    """ECR through PrivateLink: image pulls only, so nothing can be pushed out through it."""
    return iam.PolicyStatement(
        sid="PullImagesOnly", principals=[iam.AnyPrincipal()], actions=list(ECR_PULL_ACTIONS), resources=["*"],
    )


_ACCOUNT_ID = re.compile(r"^\d{12}$")


def check_account_ids(field: str, accounts: Sequence[str]) -> list[str]:
    """12-digit AWS account ids (tokens pass)."""
    if isinstance(accounts, str) or not isinstance(accounts, (list, tuple)):
        raise MwaaPlatformError(f"{field} must be a list of 12-digit AWS account ids, got {shorten(accounts)}")
    for account in accounts:
        if not (isinstance(account, str) and (is_unresolved(account) or _ACCOUNT_ID.match(account))):
            raise MwaaPlatformError(f"{field} entries must be 12-digit AWS account ids (quoted in YAML), got {shorten(account)}")
    return list(dict.fromkeys(accounts))
