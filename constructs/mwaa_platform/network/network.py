"""The private network MWAA environments share: VPC, VPC endpoints, flow logs and optional ACLs.

One ``AirflowNetwork`` serves every environment in a VPC: the endpoints are created once, and each
environment gets its own security group from ``new_environment_security_group``. Stacks in the
same CDK app or in other apps attach to it through SSM parameters (``parameter_prefix``) with
``SharedAirflowNetwork``, not CloudFormation exports: an export cannot change while another stack
imports it, which would freeze the network for as long as any team stack exists.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Optional, Protocol, runtime_checkable

from aws_cdk import Annotations, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mwaa_platform._internal.kinds import check_kind, is_kind
from mwaa_platform.errors import MwaaPlatformError, construct_path, shorten, validating
from mwaa_platform.compliance.nag import acknowledge, acknowledge_across_packs
from mwaa_platform._internal.cfn import cfn_resource
from mwaa_platform._internal.deploy_function import deploy_time_resource
from mwaa_platform.environment.key import AirflowKey
from mwaa_platform.network.dns_firewall import AirflowDnsFirewall, check_domains
from mwaa_platform.network.network_acl import private_subnet_acl
from mwaa_platform.network._placement import (
    EgressTargets,
    environment_security_group,
    environment_security_group_clients,
    environment_subnets,
)
from mwaa_platform.network.vpc_endpoints import (
    AirflowVpcEndpoints, PathEndpoint, _check_path_endpoints, check_account_ids, check_endpoint_sets,
)

#: NAT gateways a new VPC may have: none, one shared, or one per AZ.
NatGateways = Literal[0, 1, 2]
NAT_GATEWAY_CHOICES: tuple[int, ...] = (0, 1, 2)
#: Smallest and largest VPC: /16 is the AWS maximum; /22 still leaves /24s for four subnets.
CIDR_PREFIX_RANGE = (16, 22)
_PARAMETER_PREFIX = re.compile(r"^/[a-zA-Z0-9_.\-/]*[a-zA-Z0-9_.\-]$")

#: The SSM parameters a shared network publishes under its prefix.
PARAMETERS = ("vpc-id", "subnet-1-id", "subnet-2-id", "endpoint-security-group-id", "s3-prefix-list-id",
              "endpoint-clients-security-group-id")
#: The ones an environment in another stack reads (``SharedAirflowNetwork``).
SHARED_PARAMETERS = ("vpc-id", "subnet-1-id", "subnet-2-id", "endpoint-clients-security-group-id")
#: Their CloudFormation parameter types where one exists (a prefix list id has none).
PARAMETER_TYPES = {
    "vpc-id": ssm.ParameterValueType.AWS_EC2_VPC_ID,
    "subnet-1-id": ssm.ParameterValueType.AWS_EC2_SUBNET_ID,
    "subnet-2-id": ssm.ParameterValueType.AWS_EC2_SUBNET_ID,
    "endpoint-security-group-id": ssm.ParameterValueType.AWS_EC2_SECURITYGROUP_ID,
    "endpoint-clients-security-group-id": ssm.ParameterValueType.AWS_EC2_SECURITYGROUP_ID,
}


@dataclass(frozen=True)
class NetworkAttributes:
    """What a stack needs to attach to a shared network, all known at synthesis time.

    The ids themselves are read at deployment from SSM parameters under ``parameter_prefix``.
    """

    parameter_prefix: str
    availability_zones: tuple[str, str]
    internet_egress: bool
    endpoint_services: frozenset[str]


class AirflowNetworkBase(Construct):
    """What environments need from a network, whether created here or shared from another stack.

    ``endpoint_clients_security_group`` is the one group the VPC endpoints admit. It has no
    ingress rule, so sharing it lets no member reach another; its egress is HTTPS to the endpoints
    and to S3 (and anywhere with internet egress). Every environment gets it as its second group,
    so onboarding a team adds no rule to any resource of the network.
    """

    vpc: ec2.IVpc
    subnets: list[ec2.ISubnet]
    endpoint_clients_security_group: ec2.ISecurityGroup
    internet_egress: bool
    endpoint_services: frozenset[str]

    def new_environment_security_group(
        self, scope: Construct, construct_id: str, *, environment_name: str
    ) -> ec2.SecurityGroup:
        """A new security group in ``scope`` for one environment's own components.

        Ingress and egress: itself on 443 and 5432, nothing else. The environment reaches AWS
        through ``endpoint_clients_security_group``, its second group.
        """
        return environment_security_group(
            scope, construct_id, vpc=self.vpc, environment_name=environment_name, egress=EgressTargets()
        )

    def environment_security_groups(
        self, scope: Construct, construct_id: str, *, environment_name: str
    ) -> list[ec2.ISecurityGroup]:
        """The groups of a new environment: its own (created in ``scope``) and the endpoint clients group."""
        return [
            self.new_environment_security_group(scope, construct_id, environment_name=environment_name),
            self.endpoint_clients_security_group,
        ]

    def check_endpoint(self, service: str, needed_by: str) -> None:
        """Raise unless the network reaches ``service`` (an endpoint or internet egress)."""
        if not self.internet_egress and service not in self.endpoint_services:
            raise MwaaPlatformError(
                f"{needed_by} needs the {shorten(service)} VPC endpoint, but the network has no internet egress and "
                f"its endpoints are {sorted(self.endpoint_services)}; add the {shorten(service)} endpoint set to the network"
            )


@runtime_checkable
class _NetworkLike(Protocol):
    """What the compute constructs read of a network, for stand-ins that are not an ``AirflowNetworkBase``."""

    vpc: ec2.IVpc
    subnets: list[ec2.ISubnet]
    endpoint_clients_security_group: ec2.ISecurityGroup
    internet_egress: bool
    endpoint_services: frozenset[str]

    def check_endpoint(self, service: str, needed_by: str) -> None: ...


def check_network(field: str, value: object, *, optional: bool = False) -> None:
    """Raise ``MwaaPlatformTypeError`` unless ``value`` is a network: an ``AirflowNetworkBase``, or an
    object with its attributes (``vpc``, ``subnets``, ``endpoint_clients_security_group``,
    ``internet_egress``, ``endpoint_services``, ``check_endpoint``)."""
    if isinstance(value, AirflowNetworkBase) or (value is None and optional):
        return
    if not isinstance(value, str) and is_kind(value, _NetworkLike):
        return
    check_kind(field, value, AirflowNetworkBase, optional=optional, hint="an AirflowNetwork or SharedAirflowNetwork")


class AirflowNetwork(AirflowNetworkBase):
    """A private network for MWAA: two private subnets in two AZs, VPC endpoints, flow logs.

    By default it creates a VPC with no route to the internet. Pass ``vpc`` (and ``subnets``) to
    use an existing VPC instead, e.g. a VPC shared from a networking account.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: Optional[ec2.IVpc] = None,
        subnets: Optional[ec2.SubnetSelection] = None,
        cidr: str = "10.0.0.0/16",
        nat_gateways: NatGateways = 0,
        internet_egress: Optional[bool] = None,
        endpoint_sets: Sequence[str] = (),
        endpoint_policies: bool = True,
        data_perimeter: bool = True,
        perimeter_accounts: Sequence[str] = (),
        path_endpoints: Sequence[PathEndpoint] = (),
        path_policy_scope: str = "role",
        network_acls: bool = False,
        dns_firewall: bool = False,
        dns_allowed_domains: Sequence[str] = (),
        flow_logs: bool = True,
        flow_logs_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        key: Optional[kms.IKey] = None,
        parameter_prefix: Optional[str] = None,
    ) -> None:
        """
        :param vpc: an existing VPC to use. Default: a new VPC across the stack's first two AZs.
        :param subnets: with ``vpc``, the two private subnets (two AZs) for MWAA. Default: the
            VPC's first two private subnets in different AZs.
        :param cidr: the new VPC's IPv4 range, /16 to /22. Default: 10.0.0.0/16.
        :param nat_gateways: NAT gateways for a new VPC: 0 (no internet route at all), 1 (shared)
            or 2 (one per AZ). Default: 0.
        :param internet_egress: whether environment security groups may send HTTPS to any
            address. Default: True exactly when NAT gateways are created; with ``vpc``, False
            (say True when the chosen subnets route to a NAT you manage).
        :param endpoint_sets: optional endpoint sets (``secretsmanager``, ``sts``, ``ecs``,
            ``batch``, ``eks``). Default: only the endpoints every environment needs.
        :param endpoint_policies: attach account-scoped endpoint policies where safe for MWAA.
            Default: True.
        :param data_perimeter: restrict the S3 gateway endpoint to the buckets of
            ``perimeter_accounts`` plus the Region's ECR image-layer bucket, and the ECR endpoints to image pulls.
            Default: True.
        :param perimeter_accounts: accounts whose buckets the S3 gateway reaches. Default: this
            stack's account.
        :param path_endpoints: what DAG paths need beyond the sets (``PathEndpoint``): interface
            endpoints for further services, cross-Region endpoints, other accounts' principals in
            endpoint policies, and exact S3 resources in the perimeter. Default: none.
        :param path_policy_scope: ``role`` (a statement per path: exactly its roles, actions and
            resources) or ``account`` (one statement per service and target account: that account's
            principals, the union of its actions, its resources only; for hundreds of roles, where
            ``role`` outgrows the 20,480-character endpoint policy). ``AirflowVpcEndpoints``.
            Default: ``role``.
        :param network_acls: put the new VPC's private subnets behind a network ACL admitting
            only 443/5432 from the private subnets and return traffic. Default: False.
        :param dns_firewall: filter the VPC's DNS with Route 53 Resolver DNS Firewall (answer only AWS
            service domains and ``dns_allowed_domains``, NODATA for the rest) and log every query.
            Default: False.
        :param dns_allowed_domains: with ``dns_firewall``, further domains to answer, e.g. ``pypi.org``
            with NAT. Default: none.
        :param flow_logs: log all VPC traffic to an encrypted log group. Default: True.
        :param flow_logs_retention: retention of the flow logs. Default: one year.
        :param key: the key for flow logs and handler logs. Default: a new rotating key.
        :param parameter_prefix: publish the ids other stacks need as SSM parameters under this
            prefix (see ``attributes`` and ``SharedAirflowNetwork``). Default: not published.
        """
        # --- validate everything before creating anything -------------------------------
        with validating(scope, construct_id):
            check_kind("vpc", vpc, ec2.IVpc, optional=True)
            check_kind("subnets", subnets, ec2.SubnetSelection, optional=True)
            check_kind("key", key, kms.IKey, optional=True)
            check_kind("flow_logs_retention", flow_logs_retention, logs.RetentionDays)
            sets = check_endpoint_sets(endpoint_sets)
            check_account_ids("perimeter_accounts", perimeter_accounts)
            _check_path_endpoints(path_endpoints, path_policy_scope)
            check_domains("dns_allowed_domains", dns_allowed_domains)
            if dns_allowed_domains and not dns_firewall:
                raise MwaaPlatformError("dns_allowed_domains applies to the DNS firewall: set dns_firewall=True as well")
            if vpc is None:
                check_cidr(cidr)
                if subnets is not None:
                    raise MwaaPlatformError("subnets selects subnets of an existing vpc; pass vpc as well, or drop subnets")
            if nat_gateways not in NAT_GATEWAY_CHOICES:
                raise MwaaPlatformError(f"nat_gateways must be 0, 1 or 2, got {shorten(nat_gateways)}")
            if vpc is not None and nat_gateways:
                raise MwaaPlatformError(
                    f"nat_gateways applies to a VPC this construct creates, got {nat_gateways} with an existing vpc; "
                    "use internet_egress=True if its subnets route to a NAT"
                )
            if vpc is not None and network_acls:
                raise MwaaPlatformError(
                    "network_acls applies to a VPC this construct creates; an existing VPC's subnets keep the "
                    "network ACLs their owner manages"
                )
            if internet_egress and vpc is None and nat_gateways == 0:
                raise MwaaPlatformError("internet_egress=True needs a route to the internet: set nat_gateways to 1 or 2")
            if parameter_prefix is not None and not _PARAMETER_PREFIX.match(parameter_prefix):
                raise MwaaPlatformError(
                    f"parameter_prefix must be an SSM path like /mwaa-platform/network (starts with /, no trailing /, "
                    f"letters, digits and _.-/), got {shorten(parameter_prefix)}"
                )
            # an existing VPC's subnets are checked here, before anything is created
            chosen = environment_subnets(vpc, subnets) if vpc is not None else None

        super().__init__(scope, construct_id)
        self.internet_egress = bool(nat_gateways) if internet_egress is None else internet_egress
        self.key: kms.IKey = key or AirflowKey(
            self, "Key", description="Encrypts the MWAA network's flow logs and deploy-time handler logs"
        )
        self.vpc: ec2.IVpc = vpc or self._new_vpc(cidr, nat_gateways)
        self.subnets = chosen or environment_subnets(self.vpc)
        self.endpoints = AirflowVpcEndpoints(
            self, "Endpoints", vpc=self.vpc, subnets=self.subnets, endpoint_sets=sets,
            endpoint_policies=endpoint_policies, data_perimeter=data_perimeter, perimeter_accounts=perimeter_accounts,
            path_endpoints=path_endpoints, path_policy_scope=path_policy_scope,
        )
        self.endpoint_security_group: ec2.ISecurityGroup = self.endpoints.security_group
        self.endpoint_services = self.endpoints.services
        self.s3_prefix_list_id: str = self._s3_prefix_list_id()
        self.endpoint_clients_security_group = self._endpoint_clients()
        self.flow_log: Optional[ec2.FlowLog] = self._flow_log(flow_logs_retention) if flow_logs else None
        self.network_acl: Optional[ec2.NetworkAcl] = (
            private_subnet_acl(self, "PrivateSubnetAcl", vpc=self.vpc, subnets=self.vpc.isolated_subnets
                               + self.vpc.private_subnets)
            if network_acls else None
        )
        self.dns_firewall: Optional[AirflowDnsFirewall] = (
            AirflowDnsFirewall(self, "DnsFirewall", vpc=self.vpc, key=self.key, allowed_domains=dns_allowed_domains,
                               log_retention=flow_logs_retention)
            if dns_firewall else None
        )
        self.parameter_prefix = parameter_prefix
        if parameter_prefix is not None:
            self._publish(parameter_prefix)

    @property
    def attributes(self) -> NetworkAttributes:
        """What ``SharedAirflowNetwork`` needs; requires ``parameter_prefix``."""
        if self.parameter_prefix is None:
            raise MwaaPlatformError(
                "attributes needs the network's ids published: create AirflowNetwork with parameter_prefix",
                construct_path(self),
            )
        zones = tuple(subnet.availability_zone for subnet in self.subnets)
        return NetworkAttributes(
            parameter_prefix=self.parameter_prefix,
            availability_zones=zones,  # type: ignore[arg-type]
            internet_egress=self.internet_egress,
            endpoint_services=self.endpoint_services,
        )

    def _new_vpc(self, cidr: str, nat_gateways: int) -> ec2.Vpc:
        prefix = int(cidr.split("/")[1])
        private = ec2.SubnetConfiguration(
            name="Airflow",
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS if nat_gateways else ec2.SubnetType.PRIVATE_ISOLATED,
            cidr_mask=prefix + 2,
        )
        public = ec2.SubnetConfiguration(
            name="Egress", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=prefix + 4, map_public_ip_on_launch=False
        )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=2,
            nat_gateways=nat_gateways,
            subnet_configuration=[private, public] if nat_gateways else [private],
            # CDK's own provider is a raw CfnResource with AWSLambdaBasicExecutionRole, no SourceAccount
            # condition and an unmanaged log group; _restrict_default_security_group does it hardened.
            restrict_default_security_group=False,
            enable_dns_hostnames=True,
            enable_dns_support=True,
        )
        for subnet in [*vpc.isolated_subnets, *vpc.private_subnets, *vpc.public_subnets]:
            # CDK pins subnets to the AZs in context on purpose (Fn::GetAZs order is not stable).
            cfn_resource(subnet).add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3010"]}})
        self._restrict_default_security_group(vpc)
        if nat_gateways:
            for subnet in vpc.public_subnets:
                acknowledge_across_packs(
                    subnet,
                    "VPCNoUnrestrictedRouteToIGW",
                    "Public subnet holding only the NAT gateway asked for with nat_gateways; MWAA and task "
                    "subnets are private and reach the internet only through that NAT.",
                )
        return vpc

    def _endpoint_clients(self) -> ec2.SecurityGroup:
        """The one group the endpoints admit: no ingress, HTTPS out to the endpoints and S3 only."""
        clients = environment_security_group_clients(
            self, "EndpointClients", vpc=self.vpc,
            egress=EgressTargets(
                endpoints=self.endpoint_security_group,
                s3_prefix_list_id=self.s3_prefix_list_id,
                internet="HTTPS to the internet through NAT (PyPI, external APIs)" if self.internet_egress else None,
            ),
        )
        self.endpoint_security_group.add_ingress_rule(
            clients, ec2.Port.tcp(443), "HTTPS to the VPC endpoints from the endpoint clients group"
        )
        return clients

    def _restrict_default_security_group(self, vpc: ec2.Vpc) -> None:
        """Revoke the default security group's rules, with a handler that may touch only that group."""
        stack = Stack.of(self)
        deploy_time_resource(
            self, "RestrictDefaultSecurityGroup",
            handler="restrict_default_sg",
            description="Revokes the default rules of the MWAA VPC default security group",
            key=self.key,
            statement=iam.PolicyStatement(
                sid="RevokeDefaultGroupRules",
                actions=["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"],
                resources=[stack.format_arn(service="ec2", resource="security-group",
                                            resource_name=vpc.vpc_default_security_group)],
            ),
            resource_type="Custom::MwaaRestrictDefaultSecurityGroup",
            properties={"DefaultSecurityGroupId": vpc.vpc_default_security_group, "Account": stack.account},
        )
        acknowledge_across_packs(
            vpc,
            "VPCDefaultSecurityGroupClosed",
            "The default security group is closed by this construct's Custom::MwaaRestrictDefaultSecurityGroup, "
            "which revokes both default rules at deployment; cdk-nag only recognises CDK's own provider for this.",
        )

    def _s3_prefix_list_id(self) -> str:
        handler, resource = deploy_time_resource(
            self, "S3PrefixList",
            handler="prefix_list",
            description="Looks up the id of the S3 prefix list for security group egress rules",
            key=self.key,
            statement=iam.PolicyStatement(
                sid="DescribePrefixLists", actions=["ec2:DescribeManagedPrefixLists"], resources=["*"]
            ),
            resource_type="Custom::MwaaPrefixList",
            properties={"PrefixListName": f"com.amazonaws.{Stack.of(self).region}.s3"},
        )
        acknowledge(
            handler.policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeManagedPrefixLists supports no resource-level permissions; it is read-only and the "
            "handler calls it once per deployment to find the S3 prefix list id.",
        )
        return resource.get_att_string("PrefixListId")

    def _flow_log(self, retention: logs.RetentionDays) -> ec2.FlowLog:
        stack = Stack.of(self)
        log_group = logs.LogGroup(
            self, "FlowLogs", retention=retention, encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        role = iam.Role(
            self,
            "FlowLogRole",
            description="Lets VPC Flow Logs of this account deliver to the MWAA network's flow log group",
            assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com").with_conditions(
                {
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:vpc-flow-log/*"},
                }
            ),
        )
        iam.ManagedPolicy(
            self,
            "FlowLogPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="DeliverFlowLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[log_group.log_group_arn],
                )
            ],
        )
        return ec2.FlowLog(
            self,
            "FlowLog",
            resource_type=ec2.FlowLogResourceType.from_vpc(self.vpc),
            # the managed policy above grants exactly what delivery needs; keep CDK from adding an inline one
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(log_group, role.without_policy_updates()),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

    def _publish(self, prefix: str) -> None:
        values = (
            self.vpc.vpc_id,
            self.subnets[0].subnet_id,
            self.subnets[1].subnet_id,
            self.endpoint_security_group.security_group_id,
            self.s3_prefix_list_id,
            self.endpoint_clients_security_group.security_group_id,
        )
        for name, value in zip(PARAMETERS, values):
            ssm.StringParameter(
                self,
                "".join(part.capitalize() for part in name.split("-")) + "Parameter",
                parameter_name=f"{prefix}/{name}",
                string_value=value,
                description=f"mwaa-platform shared network: {name.replace('-', ' ')}",
            )


class SharedAirflowNetwork(AirflowNetworkBase):
    """A network published by an ``AirflowNetwork`` in another stack, read from SSM at deployment.

    Nothing is exported: the team stack resolves the parameters each time it deploys, so the
    network stack stays free to change. After a change that replaces the VPC, subnets or endpoint
    security group, redeploy the team stacks.
    """

    def __init__(self, scope: Construct, construct_id: str, *, attributes: NetworkAttributes) -> None:
        """
        :param attributes: the shared network's ``attributes``: its SSM parameter prefix, its two
            availability zones, whether it has internet egress, and its endpoint services.
        """
        with validating(scope, construct_id):
            check_kind("attributes", attributes, NetworkAttributes, hint="the network's attributes")
            if len(attributes.availability_zones) != 2 or len(set(attributes.availability_zones)) != 2:
                raise MwaaPlatformError(
                    f"availability_zones must be two different AZs, got {shorten(list(attributes.availability_zones))}")
        super().__init__(scope, construct_id)
        prefix = attributes.parameter_prefix

        def read(name: str) -> str:
            # typed parameters: CloudFormation checks at deploy that each id names an existing resource
            return ssm.StringParameter.value_for_typed_string_parameter_v2(
                self, f"{prefix}/{name}", PARAMETER_TYPES.get(name, ssm.ParameterValueType.STRING)
            )

        vpc_id, subnet_1, subnet_2, clients_sg = (read(name) for name in SHARED_PARAMETERS)
        subnet_ids = [subnet_1, subnet_2]
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=vpc_id,
            availability_zones=list(attributes.availability_zones),
            private_subnet_ids=subnet_ids if attributes.internet_egress else None,
            isolated_subnet_ids=None if attributes.internet_egress else subnet_ids,
        )
        # Environments need only the subnet ids; the S3 route lives in the network stack.
        Annotations.of(vpc).acknowledge_warning(
            "@aws-cdk/aws-ec2:noSubnetRouteTableId", "route tables are managed by the network stack"
        )
        self.vpc = vpc
        self.subnets = environment_subnets(vpc)
        self.endpoint_clients_security_group = ec2.SecurityGroup.from_security_group_id(
            self, "EndpointClientsSecurityGroup", clients_sg, allow_all_outbound=False, mutable=False
        )
        self.internet_egress = attributes.internet_egress
        self.endpoint_services = frozenset(attributes.endpoint_services)


def check_cidr(cidr: str) -> None:
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError as error:
        raise MwaaPlatformError(f"cidr must be an IPv4 network like 10.0.0.0/16, got {shorten(cidr)} ({error})") from None
    low, high = CIDR_PREFIX_RANGE
    if not low <= network.prefixlen <= high:
        raise MwaaPlatformError(f"cidr prefix length must be between /{low} and /{high}, got {shorten(cidr)}")


__all__ = ["AirflowNetwork", "AirflowNetworkBase", "NetworkAttributes", "SharedAirflowNetwork"]
