"""Typed access to the CloudFormation resource behind an L2 construct, for escape hatches."""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct


def cfn_resource(construct: IConstruct) -> CfnResource:
    """``construct`` itself when it is a CfnResource, else its default child, which must be one."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to override")
    return resource
