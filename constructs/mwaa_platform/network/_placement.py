"""Where an MWAA environment sits in a VPC: its two private subnets and its security group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from mwaa_platform._internal.ec2_rules import check_ec2_description
from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform._internal.tokens import is_unresolved

#: Ports MWAA components use among themselves: the web server (HTTPS) and the metadata database.
WEBSERVER_PORT = 443
DATABASE_PORT = 5432


def environment_subnets(vpc: ec2.IVpc, selection: Optional[ec2.SubnetSelection] = None) -> list[ec2.ISubnet]:
    """Exactly two private subnets in different AZs, as MWAA requires.

    Without ``selection``, the VPC's first two private subnets in distinct AZs are used. A given
    ``selection`` must resolve to exactly two such subnets.
    """
    if selection is None:
        subnets = _private_subnets(vpc)
        picked: list[ec2.ISubnet] = []
        for subnet in subnets:
            if all(_az(subnet) != _az(other) or _az(subnet) is None for other in picked):
                picked.append(subnet)
            if len(picked) == 2:
                break
        if len(picked) < 2:
            raise MwaaPlatformError(
                "vpc must have private subnets in at least two availability zones for MWAA, got "
                f"{len(subnets)} private subnet(s) in AZs {sorted({_az(s) or '?' for s in subnets})}"
            )
        return picked
    subnets = list(vpc.select_subnets(**{field: getattr(selection, field) for field in _SELECTION_FIELDS}).subnets)
    if len(subnets) != 2:
        raise MwaaPlatformError(f"subnets must select exactly 2 private subnets for MWAA, got {len(subnets)}")
    if _az(subnets[0]) is not None and _az(subnets[0]) == _az(subnets[1]):
        raise MwaaPlatformError(f"subnets must be in two different availability zones, got both in {_az(subnets[0])}")
    return subnets


_SELECTION_FIELDS = ("availability_zones", "one_per_az", "subnet_filters", "subnet_group_name", "subnet_type", "subnets")


def _private_subnets(vpc: ec2.IVpc) -> list[ec2.ISubnet]:
    return [*vpc.private_subnets, *vpc.isolated_subnets]


def _az(subnet: ec2.ISubnet) -> Optional[str]:
    try:
        zone = subnet.availability_zone
    except Exception:  # imported subnets without an AZ raise on access
        return None
    return None if zone is None or is_unresolved(zone) else zone


@dataclass(frozen=True)
class EgressTargets:
    """Where an environment security group may send HTTPS besides itself.

    ``endpoints``: the VPC endpoints' security group. ``s3_prefix_list_id``: the S3 prefix list of
    the gateway endpoint. ``internet``: the description of a rule to any IPv4 address, saying why
    it is there (NAT egress, or a VPC whose routing the library does not know); None for no rule.
    """

    endpoints: Optional[ec2.ISecurityGroup] = None
    s3_prefix_list_id: Optional[str] = None
    internet: Optional[str] = None


def environment_security_group(
    scope: Construct, construct_id: str, *, vpc: ec2.IVpc, environment_name: str, egress: EgressTargets
) -> ec2.SecurityGroup:
    """A security group admitting only its own members on 443 and 5432 (user guide: vpc-security).

    Egress: the same two ports to itself, then HTTPS to each of ``egress``'s targets.
    """
    group = ec2.SecurityGroup(
        scope, construct_id, vpc=vpc, allow_all_outbound=False,
        description=f"MWAA environment {environment_name}: self-referencing 443 and 5432 only",
    )
    for port, what in ((WEBSERVER_PORT, "web server (HTTPS)"), (DATABASE_PORT, "metadata database (PostgreSQL)")):
        group.add_ingress_rule(group, ec2.Port.tcp(port), f"MWAA {what} from other components of this environment")
        group.add_egress_rule(group, ec2.Port.tcp(port), f"MWAA {what} to other components of this environment")
    _add_https_egress(group, egress)
    return group


def environment_security_group_clients(
    scope: Construct, construct_id: str, *, vpc: ec2.IVpc, egress: EgressTargets
) -> ec2.SecurityGroup:
    """The shared group whose members may call the VPC endpoints: no ingress at all, HTTPS out to ``egress``.

    With no ingress rule, membership grants nothing between members: environments of different
    teams that share it still cannot reach each other.
    """
    group = ec2.SecurityGroup(
        scope, construct_id, vpc=vpc, allow_all_outbound=False,
        description="MWAA endpoint clients: no ingress; HTTPS out to the VPC endpoints and Amazon S3 only",
    )
    _add_https_egress(group, egress)
    return group


def _add_https_egress(group: ec2.SecurityGroup, egress: EgressTargets) -> None:
    https = ec2.Port.tcp(443)
    if egress.endpoints is not None:
        group.add_egress_rule(egress.endpoints, https, "HTTPS to the VPC interface endpoints of AWS services")
    if egress.s3_prefix_list_id is not None:
        group.add_egress_rule(
            ec2.Peer.prefix_list(egress.s3_prefix_list_id), https, "HTTPS to Amazon S3 through its gateway endpoint"
        )
    if egress.internet is not None:
        group.add_egress_rule(ec2.Peer.any_ipv4(), https, egress.internet)


def allow_port(
    connections: ec2.Connections, peer: ec2.IConnectable | ec2.IPeer, port: int, description: str
) -> None:
    """Open one TCP ``port`` from ``connections`` to ``peer``, with a description for reviewers.

    A security group peer also gets the matching ingress rule. Raises for a port outside 1-65535
    or an empty description.
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise MwaaPlatformError(f"port must be a TCP port between 1 and 65535, got {shorten(port)}")
    if not isinstance(description, str) or not description.strip():
        raise MwaaPlatformError("description must say what the port is for, got an empty description")
    check_ec2_description("description", description.strip())
    connections.allow_to(peer, ec2.Port.tcp(port), description.strip())


#: Peers the web server never admits: the whole internet.
_ANYWHERE = ("0.0.0.0/0", "::/0")


def check_web_peer(
    peer: ec2.IConnectable | ec2.IPeer, description: Optional[str], environment_name: str
) -> str:
    """The description of a rule admitting ``peer`` to the web server; raise for a peer that may not be."""
    config = peer.to_ingress_rule_config() if hasattr(peer, "to_ingress_rule_config") else None
    return check_web_ingress(config and (config.cidr_ip or config.cidr_ipv6), description, environment_name)


def check_web_ingress(cidr: Optional[str], description: Optional[str], environment_name: str) -> str:
    """The description of a web server rule from ``cidr`` (None: a security group or prefix list)."""
    if cidr in _ANYWHERE:
        raise MwaaPlatformError(
            f"allow_web_from refuses {cidr}: the Airflow UI is reached through a VPN, a bastion or a load balancer "
            "(docs/web-access.md), never from the whole internet"
        )
    if cidr and not (description and description.strip()):
        raise MwaaPlatformError(f"allow_web_from({cidr}) needs a description saying whose range it is (e.g. 'corporate VPN')")
    text = (description or f"Airflow UI (HTTPS) for {environment_name}").strip()
    check_ec2_description("description", text)
    return text
