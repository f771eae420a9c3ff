"""The review's network sections: every security group rule, and anything exposed to the internet."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mwaa_platform.review._template import as_list, of_type, principals, readable
from mwaa_platform.review.assembly import ReviewedStack
from mwaa_platform.review.markdown import code, table

__all__ = ["public_exposure", "security_group_rules"]

_ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})
_PEERS = ("CidrIp", "CidrIpv6", "SourceSecurityGroupId", "DestinationSecurityGroupId", "SourcePrefixListId",
          "DestinationPrefixListId")


def _rules(stack: ReviewedStack) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(group, direction, rule) for inline and standalone security group rules."""
    for logical_id, properties in of_type(stack.resources, "AWS::EC2::SecurityGroup"):
        for direction, key in (("ingress", "SecurityGroupIngress"), ("egress", "SecurityGroupEgress")):
            for rule in as_list(properties.get(key)):
                yield f"<{logical_id}>", direction, rule
    for kind, direction in (("AWS::EC2::SecurityGroupIngress", "ingress"), ("AWS::EC2::SecurityGroupEgress", "egress")):
        for _, properties in of_type(stack.resources, kind):
            group = readable(properties.get("GroupId") or properties.get("GroupName"), stack.parameters)
            yield group.removesuffix(".GroupId>") + (">" if group.endswith(".GroupId>") else ""), direction, properties


def _peer(rule: Mapping[str, Any], stack: ReviewedStack) -> str:
    for key in _PEERS:
        if rule.get(key) is not None:
            return readable(rule[key], stack.parameters).removesuffix(".GroupId>") + (
                ">" if readable(rule[key], stack.parameters).endswith(".GroupId>") else "")
    return "-"


def _ports(rule: Mapping[str, Any]) -> str:
    protocol = readable(rule.get("IpProtocol", "-"))
    if protocol == "-1":
        return "all traffic"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if protocol == "icmp" and (low, high) == (252, 86):  # CDK's rule that matches no traffic
        return "none: all outbound traffic disallowed"
    span = f"{low}" if low == high else f"{low}-{high}"
    return f"{protocol} {span}"


def security_group_rules(stack: ReviewedStack) -> list[str]:
    groups = table(("security group", "description"), (
        (code(f"<{logical_id}>"), readable(properties.get("GroupDescription", "-")))
        for logical_id, properties in of_type(stack.resources, "AWS::EC2::SecurityGroup")), empty="No security groups.")
    rules = table(("security group", "direction", "traffic", "peer", "description"), (
        (code(group), direction, _ports(rule), code(_peer(rule, stack)), readable(rule.get("Description", "-")))
        for group, direction, rule in _rules(stack)), empty="No security group rules.")
    return [*groups, *rules]


def public_exposure(stack: ReviewedStack) -> list[str]:
    """What the template exposes beyond the VPC: expected none."""
    rows = []
    for group, direction, rule in _rules(stack):
        if direction == "ingress" and (rule.get("CidrIp") in _ANYWHERE or rule.get("CidrIpv6") in _ANYWHERE):
            rows.append((code(group), f"ingress from the internet: {_ports(rule)} from {_peer(rule, stack)}"))
    resources = stack.resources
    for logical_id, properties in of_type(resources, "AWS::MWAA::Environment"):
        if properties.get("WebserverAccessMode") != "PRIVATE_ONLY":
            rows.append((code(logical_id), f"MWAA web server {properties.get('WebserverAccessMode', 'not set')}"))
    for logical_id, properties in of_type(resources, "AWS::S3::Bucket"):
        block = properties.get("PublicAccessBlockConfiguration") or {}
        missing = [key for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
                   if block.get(key) not in (True, "true")]
        if missing:
            rows.append((code(logical_id), f"S3 public access not blocked: {', '.join(missing)}"))
    for logical_id, properties in of_type(resources, "AWS::EC2::Subnet"):
        if properties.get("MapPublicIpOnLaunch") in (True, "true"):
            rows.append((code(logical_id), "subnet assigns public IPs"))
    for logical_id, properties in of_type(resources, "AWS::EC2::LaunchTemplate"):
        for interface in as_list((properties.get("LaunchTemplateData") or {}).get("NetworkInterfaces")):
            if (interface or {}).get("AssociatePublicIpAddress") in (True, "true"):
                rows.append((code(logical_id), "launch template associates public IPs"))
    for logical_id, properties in of_type(resources, "AWS::EKS::Cluster"):
        if (properties.get("ResourcesVpcConfig") or {}).get("EndpointPublicAccess", True) in (True, "true"):
            rows.append((code(logical_id), "EKS API endpoint public (EndpointPublicAccess true or not set)"))
    for logical_id, _ in of_type(resources, "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        rows.append((code(logical_id), f"{resources[logical_id]['Type']}: a route to or from the internet"))
    for logical_id, properties in of_type(resources, "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy",
                                          "AWS::SQS::QueuePolicy", "AWS::SecretsManager::ResourcePolicy"):
        document = properties.get("PolicyDocument") or properties.get("ResourcePolicy") or {}
        for statement in as_list(document.get("Statement") if isinstance(document, dict) else None):
            if (statement.get("Effect") == "Allow" and ("*", "*") in principals(statement)
                    or {"AWS": "*"} == statement.get("Principal")) and not statement.get("Condition"):
                rows.append((code(logical_id), "allows anyone (Principal *) without a condition"))
    return table(("resource", "exposure"), rows, empty="None found.")
