"""An optional network ACL for MWAA's private subnets (user guide: vpc-security, network ACLs).

Network ACLs are stateless, so each allowed flow needs its return traffic too:

- inbound 443 (web server, endpoints) and 5432 (metadata database) from the private subnets;
- inbound TCP 1024-65535 from anywhere: replies to the subnets' own HTTPS calls, which come from
  the S3 gateway's public addresses, the endpoints, and NAT when present;
- outbound 443 to anywhere (endpoints, S3 through its gateway, NAT) and 5432 to the private
  subnets;
- outbound TCP 1024-65535 to the private subnets: replies to the inbound 443 and 5432.

Traffic to the Amazon DNS server is not filtered by network ACLs. Anything the tasks reach on
other ports (Redshift 5439, a Kubernetes API) needs its own entries on ``network_acl``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from mwaa_platform.compliance.nag import acknowledge
from mwaa_platform.network._placement import DATABASE_PORT, WEBSERVER_PORT

EPHEMERAL_PORTS = (1024, 65535)
ANYWHERE = "0.0.0.0/0"


def private_subnet_acl(
    scope: Construct, construct_id: str, *, vpc: ec2.IVpc, subnets: Sequence[ec2.ISubnet]
) -> ec2.NetworkAcl:
    """A network ACL on ``subnets`` allowing only MWAA's flows and their return traffic."""
    acl = ec2.NetworkAcl(scope, construct_id, vpc=vpc, subnet_selection=ec2.SubnetSelection(subnets=list(subnets)))
    acknowledge(
        acl,
        "AwsSolutions::AwsSolutions-VPC3",
        "The network ACL was asked for (network_acls=True) as a stateless second layer under the security "
        "groups; its entries admit only MWAA's ports between the private subnets and their return traffic.",
    )
    cidrs = [subnet.ipv4_cidr_block for subnet in subnets]
    ephemeral = ec2.AclTraffic.tcp_port_range(*EPHEMERAL_PORTS)
    entries: list[tuple[str, ec2.TrafficDirection, str, ec2.AclTraffic]] = []
    for index, cidr in enumerate(cidrs):
        entries += [
            (f"WebServerIn{index}", ec2.TrafficDirection.INGRESS, cidr, ec2.AclTraffic.tcp_port(WEBSERVER_PORT)),
            (f"DatabaseIn{index}", ec2.TrafficDirection.INGRESS, cidr, ec2.AclTraffic.tcp_port(DATABASE_PORT)),
            (f"DatabaseOut{index}", ec2.TrafficDirection.EGRESS, cidr, ec2.AclTraffic.tcp_port(DATABASE_PORT)),
            (f"RepliesOut{index}", ec2.TrafficDirection.EGRESS, cidr, ephemeral),
        ]
    entries += [
        ("RepliesIn", ec2.TrafficDirection.INGRESS, ANYWHERE, ephemeral),
        ("HttpsOut", ec2.TrafficDirection.EGRESS, ANYWHERE, ec2.AclTraffic.tcp_port(WEBSERVER_PORT)),
    ]
    numbers = {ec2.TrafficDirection.INGRESS: 100, ec2.TrafficDirection.EGRESS: 100}
    for entry_id, direction, cidr, traffic in entries:
        acl.add_entry(
            entry_id,
            cidr=ec2.AclCidr.ipv4(cidr),
            rule_number=numbers[direction],
            traffic=traffic,
            direction=direction,
            rule_action=ec2.Action.ALLOW,
        )
        numbers[direction] += 10
    return acl
