"""CloudFormation custom resource ``Custom::MwaaRestrictDefaultSecurityGroup``: close a VPC's default security group.

A new VPC's default security group admits all traffic from its own members and sends anywhere;
anything launched without a security group lands in it. Create and Update revoke exactly those
two default rules, so the group admits and sends nothing (CIS AWS Foundations 5.4). A rule that
is already gone is fine. Delete leaves the group closed: the VPC's deletion removes it anyway.

Only the two known rules are revoked, so the handler needs no ``ec2:DescribeSecurityGroups``
(which accepts no resource scope): its role may revoke rules of this one group and nothing else.
"""

from __future__ import annotations

import cfn_response

#: EC2's error when a rule to revoke does not exist.
_NOT_FOUND = "InvalidPermission.NotFound"


def handler(event, context):
    cfn_response.run(event, context, restrict)


def restrict(event):
    properties = event["ResourceProperties"]
    group_id = properties["DefaultSecurityGroupId"]
    if event["RequestType"] == "Delete":
        return group_id, {}
    ec2 = cfn_response.client("ec2")
    _revoke(ec2.revoke_security_group_ingress, GroupId=group_id, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id, "UserId": properties["Account"]}]},
    ])
    _revoke(ec2.revoke_security_group_egress, GroupId=group_id, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ])
    return group_id, {}


def _revoke(call, **arguments):
    try:
        call(**arguments)
    except Exception as error:  # botocore's ClientError, without importing botocore here
        if getattr(error, "response", {}).get("Error", {}).get("Code") != _NOT_FOUND:
            raise
