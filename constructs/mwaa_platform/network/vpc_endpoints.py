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
from typing import Optional

import jsii
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from mwaa_platform._internal.kinds import check_each, check_kind
from mwaa_platform.errors import MwaaPlatformError, shorten, validating
from mwaa_platform.paths.checks import CROSS_REGION_SERVICES, iam_prefix_of
from mwaa_platform.paths.model import is_endpoint_name
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


def _service(name: str, service: ec2.InterfaceVpcEndpointAwsService, scoped: bool) -> EndpointService:
    """An endpoint whose IAM prefix is the one ``iam_prefix_of`` knows for its name (one table for both)."""
    return EndpointService(name=name, service=service, iam_prefix=iam_prefix_of(name), account_scoped_policy=scoped)


#: Interface endpoints every environment needs for private routing, in creation order.
REQUIRED_SERVICES: tuple[EndpointService, ...] = (
    _service("sqs", _Aws.SQS, True),
    _service("logs", _Aws.CLOUDWATCH_LOGS, True),
    _service("monitoring", _Aws.CLOUDWATCH_MONITORING, True),
    _service("kms", _Aws.KMS, True),
    _service("ecr.api", _Aws.ECR, False),
    _service("ecr.dkr", _Aws.ECR_DOCKER, False),
    _service("airflow.api", _Aws.AIRFLOW_API, False),
    _service("airflow.env", _Aws.AIRFLOW_ENV, False),
    _service("airflow.ops", _Aws.AIRFLOW_OPS, False),
)

#: Optional sets, named after what switches them on.
ENDPOINT_SETS: dict[str, tuple[EndpointService, ...]] = {
    # the Secrets Manager backend for connections and variables
    "secretsmanager": (_service("secretsmanager", _Aws.SECRETS_MANAGER, True),),
    # cross-account roles the execution role assumes
    "sts": (_service("sts", _Aws.STS, True),),
    # a private package index: AWS CodeArtifact's API and its repositories (pip)
    "codeartifact": (
        _service("codeartifact.api", _Aws.CODEARTIFACT_API, True),
        _service("codeartifact.repositories", _Aws.CODEARTIFACT_REPOSITORIES, True),
    ),
    # task compute: ECS tasks (DAGs start their Step Functions launcher; Step Functions calls ECS from
    # AWS's side, and Fargate tasks need no ECS endpoint), Batch SubmitJob, EKS (API, Pod Identity, and
    # the VPC CNI's EC2 calls)
    "ecs": (_service("states", _Aws.STEP_FUNCTIONS, True),),
    "batch": (_service("batch", _Aws.BATCH, False),),
    # EC2 container instances (Batch on EC2/Spot): the ECS agent registers and reports through these
    "ecs-agent": (
        _service("ecs", _Aws.ECS, False),
        _service("ecs-agent", _Aws.ECS_AGENT, False),
        _service("ecs-telemetry", _Aws.ECS_TELEMETRY, False),
    ),
    # EKS: the API (DescribeCluster), Pod Identity, the VPC CNI's EC2 calls and STS (the nodes'
    # and pods' web identities); ECR and logs are in the required set
    "eks": (
        _service("eks", _Aws.EKS, False),
        _service("eks-auth", _Aws.EKS_AUTH, False),
        _service("ec2", _Aws.EC2, False),
        _service("sts", _Aws.STS, True),
    ),
}


@dataclass(frozen=True)
class PathEndpoint:
    """One statement of what DAG paths need of the network beyond the endpoint sets: the roles a
    connection assumes calling a service, in this network's Region or another, with these actions on
    these resources of that account.

    The endpoint of ``service`` gets a policy statement allowing exactly ``actions`` on ``resources``
    for exactly ``principal_arns`` (``aws:PrincipalArn``) and only on resources of
    ``resource_account`` (``aws:ResourceAccount``); for S3 in this Region the statement goes on the
    gateway endpoint (the data perimeter). No other principal of that account is admitted.

    :param service: the VPC endpoint name (``glue``, ``s3``, ``kinesis-streams``, ...):
        ``com.amazonaws.REGION.SERVICE``.
    :param principal_arns: the roles that call through the endpoint (the roles connections assume).
    :param actions: the IAM actions they take there.
    :param resources: the ARNs they reach. Default: any (``*``), still only of ``resource_account``.
    :param resource_account: the account owning the resources.
    :param region: another Region: a cross-Region interface endpoint (only services with
        cross-Region PrivateLink, ``CROSS_REGION_SERVICES``), for calls that need no STS of that
        Region. Default: the network's Region.
    """

    service: str
    principal_arns: tuple[str, ...]
    actions: tuple[str, ...]
    resource_account: str
    resources: tuple[str, ...] = ("*",)
    region: Optional[str] = None


#: How endpoint policies admit the roles of ``path_endpoints`` (``AirflowVpcEndpoints`` path_policy_scope).
PATH_POLICY_SCOPES = ("role", "account")


def _check_path_endpoints(path_endpoints: Sequence[PathEndpoint], scope: str = "role") -> list[PathEndpoint]:
    if scope not in PATH_POLICY_SCOPES:
        raise MwaaPlatformError(f"path_policy_scope must be one of {', '.join(PATH_POLICY_SCOPES)}, got {shorten(scope)}")
    check_each("path_endpoints", path_endpoints, PathEndpoint)
    for item in path_endpoints:
        if not is_endpoint_name(item.service):
            raise MwaaPlatformError(f"path_endpoints service must be an endpoint name such as glue, got {shorten(item.service)}")
        if item.region is not None and item.service not in CROSS_REGION_SERVICES:
            raise MwaaPlatformError(
                f"path_endpoints: {item.service} has no cross-Region PrivateLink (only {', '.join(CROSS_REGION_SERVICES)}), "
                f"so no endpoint here reaches it in {item.region}; use NAT or call it in this Region")
        if not item.principal_arns or not item.actions or not item.resources:
            raise MwaaPlatformError(f"path_endpoints {item.service}: name the principal_arns, actions and resources "
                                    f"the endpoint admits, got {shorten(item)}")
        check_account_ids("path_endpoints resource_account", [item.resource_account])
        if scope == "account":
            check_account_ids("path_endpoints principal_arns (their accounts, for path_policy_scope account)",
                              [_arn_account(arn) for arn in item.principal_arns])
    return list(path_endpoints)


def _arn_account(arn: str) -> str:
    """The account field of an ARN as written (a token or a malformed ARN gives what the check refuses)."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and not is_unresolved(arn) else arn


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


@jsii.implements(ec2.IConnectable)
class AirflowVpcEndpoints(Construct):
    """The S3 gateway endpoint and the interface endpoints MWAA needs, behind one security group.

    Create it once per VPC and share it: add an HTTPS ingress rule to ``security_group`` for each
    security group that must reach the endpoints (``AirflowNetwork.new_environment_security_group``
    does this for every environment security group). It is an ``ec2.IConnectable`` whose
    ``connections`` are that group's, default port 443: ``endpoints.connections.allow_default_port_from(peer)``.
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
        path_policy_scope: str = "role",
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
        :param path_policy_scope: how the endpoint policies admit ``path_endpoints``: ``role``, a
            statement per path with exactly its roles, actions and resources; or ``account``, one
            statement per service and target account admitting that account's principals to the
            union of its paths' actions on that account's resources only (AWS's data perimeter
            pattern: trusted identities to trusted resources), which stays small with hundreds of
            roles, where ``role`` outgrows EC2's 20,480-character policy limit (the preflight's
            ``endpoint-policy-size``). The roles' own IAM policies still hold each role to its
            statements. Default: ``role``.
        """
        with validating(scope, construct_id):
            check_kind("vpc", vpc, ec2.IVpc)
            check_each("subnets", subnets, ec2.ISubnet)
            services = endpoint_services(endpoint_sets)
            accounts = check_account_ids("perimeter_accounts", perimeter_accounts)
            paths = _check_path_endpoints(path_endpoints, path_policy_scope)
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
        home = Stack.of(self).region
        local = [item for item in paths if item.region in (None, home)]
        if data_perimeter:
            for statement in s3_perimeter_statements(self, accounts or [account],
                                                     codeartifact="codeartifact" in endpoint_sets,
                                                     cloudformation_responses="eks" in endpoint_sets):
                self.s3_gateway.add_to_policy(statement)
            for statement in _path_statements([item for item in local if item.service == "s3"], path_policy_scope):
                self.s3_gateway.add_to_policy(statement)
        # services paths call in this Region beyond the sets: an interface endpoint each, this account only
        known = {service.name for service in services}
        services = (*services, *(_service(name, _Aws(name), True) for name in dict.fromkeys(
            item.service for item in local if item.service not in ("s3", *known))))
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
                endpoint.add_to_policy(
                    iam.PolicyStatement(
                        sid="OnlyThisAccountsPrincipals",
                        principals=[iam.AnyPrincipal()],
                        actions=[f"{service.iam_prefix}:*"],
                        resources=["*"],
                        conditions={"StringEquals": {"aws:PrincipalAccount": account}},
                    )
                )
                # the roles DAG connections assume in other accounts: their exact calls, nothing else
                for statement in _path_statements([item for item in local if item.service == service.name],
                                                  path_policy_scope):
                    endpoint.add_to_policy(statement)
            self.interface_endpoints[service.name] = endpoint
        remote: dict[tuple[str, str], list[PathEndpoint]] = {}
        for item in paths:
            if item.region not in (None, home):
                remote.setdefault((item.service, item.region), []).append(item)
        for (service_name, region), items in remote.items():
            # a cross-Region endpoint (VPC PrivateLink cross-Region connectivity for AWS services)
            endpoint = ec2.InterfaceVpcEndpoint(
                self, _construct_id(f"{service_name}-{region}"), vpc=vpc,
                service=ec2.InterfaceVpcEndpointService(f"com.amazonaws.{region}.{service_name}", 443),
                service_region=region, subnets=placement, security_groups=[self.security_group], open=False,
                private_dns_enabled=True,
            )
            for statement in _path_statements(items, path_policy_scope):
                endpoint.add_to_policy(statement)
            self.interface_endpoints[f"{service_name}.{region}"] = endpoint
        self.services = frozenset(self.interface_endpoints)

    @property
    def connections(self) -> ec2.Connections:
        """The interface endpoints' security group, default port HTTPS (no rule is added here)."""
        if getattr(self, "_connections", None) is None:
            self._connections = ec2.Connections(security_groups=[self.security_group], default_port=ec2.Port.tcp(443))
        return self._connections


def _path_statements(items: Sequence[PathEndpoint], scope: str) -> list[iam.PolicyStatement]:
    """The statements of one endpoint's paths. ``role``: exactly a path's actions on its resources, for its
    roles only, on its account's resources only. ``account``: per (principals' accounts, resource account),
    the union of their actions, for those accounts' principals, on that account's resources only."""
    if scope == "role":
        return [iam.PolicyStatement(
            sid=f"PathRole{index}", principals=[iam.AnyPrincipal()], actions=list(item.actions),
            resources=list(item.resources),
            conditions={"ArnEquals": {"aws:PrincipalArn": list(item.principal_arns)},
                        "StringEquals": {"aws:ResourceAccount": item.resource_account}})
            for index, item in enumerate(items)]
    groups: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for item in items:
        principals = tuple(sorted({_arn_account(arn) for arn in item.principal_arns}))
        groups.setdefault((principals, item.resource_account), []).extend(item.actions)
    return [iam.PolicyStatement(
        sid=f"PathAccount{index}", principals=[iam.AnyPrincipal()], actions=sorted(set(actions)), resources=["*"],
        conditions={"StringEquals": {"aws:PrincipalAccount": principals[0] if len(principals) == 1 else list(principals),
                                     "aws:ResourceAccount": owner}})
        for index, ((principals, owner), actions) in enumerate(groups.items())]


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
