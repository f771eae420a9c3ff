"""CloudFormation custom resource ``Custom::MwaaPrefixList``: the id of an AWS-managed prefix list.

Security groups reach S3 through its gateway endpoint by the S3 prefix list
(``com.amazonaws.REGION.s3``), whose id differs per region and that no CloudFormation resource
returns. The handler looks the id up by name and returns it as ``PrefixListId``. Delete has
nothing to clean up.
"""

from __future__ import annotations

import cfn_response


def handler(event, context):
    cfn_response.run(event, context, lookup)


def lookup(event):
    if event["RequestType"] == "Delete":
        return None, {}
    name = event["ResourceProperties"]["PrefixListName"]
    response = cfn_response.client("ec2").describe_managed_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])
    ids = [entry["PrefixListId"] for entry in response.get("PrefixLists", [])]
    if len(ids) != 1:
        raise ValueError(f"expected exactly one managed prefix list named {name}, found {ids}")
    return ids[0], {"PrefixListId": ids[0]}
