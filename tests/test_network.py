"""AirflowNetwork: VPC, endpoints, security groups, ACLs, flow logs and sharing across stacks."""

import functools
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template

from harness import TEST_ENV, assert_cfn_lint_clean, assert_nag_clean, assert_stack_cfn_lint_clean, new_app, new_stack
from mwaa_platform import AirflowEnvironment, AirflowNetwork, NetworkAttributes, SecretsManagerBackend, SharedAirflowNetwork
from mwaa_platform.compliance.nag import nag_packs

REGION = TEST_ENV.region
REQUIRED = {"sqs", "logs", "monitoring", "kms", "ecr.api", "ecr.dkr", "airflow.api", "airflow.env", "airflow.ops"}
SETS = {
    "secretsmanager": {"secretsmanager"},
    "sts": {"sts"},
    "ecs": {"states"},
    "batch": {"batch"},
    "eks": {"eks", "eks-auth", "ec2", "sts"},
}


def new_network(**kwargs):
    stack = new_stack()
    return stack, AirflowNetwork(stack, "Network", **kwargs)


def network_template(**kwargs):
    """A network in a stack of its own, and its template. The default one is built once: the tests only read it."""
    if not kwargs:
        return _default_network()
    stack, network = new_network(**kwargs)
    return stack, network, Template.from_stack(stack)


@functools.cache
def _default_network():
    stack, network = new_network()
    return stack, network, Template.from_stack(stack)


def interface_services(template):
    names = set()
    for endpoint in template.find_resources("AWS::EC2::VPCEndpoint").values():
        props = endpoint["Properties"]
        if props.get("VpcEndpointType") == "Interface":
            assert props["ServiceName"].startswith(f"com.amazonaws.{REGION}.")
            names.add(props["ServiceName"].removeprefix(f"com.amazonaws.{REGION}."))
    return names


def gateway_endpoints(template):
    return [e for e in template.find_resources("AWS::EC2::VPCEndpoint").values()
            if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"]


def rules_of(template, group_logical_id):
    """(direction, protocol, from, to, peer, description) for every rule of a security group."""
    rules = []
    group = template.find_resources("AWS::EC2::SecurityGroup")[group_logical_id]["Properties"]
    for direction, key in (("in", "SecurityGroupIngress"), ("out", "SecurityGroupEgress")):
        for rule in group.get(key, []):
            rules.append(_rule(direction, rule))
        for resource in template.find_resources(f"AWS::EC2::{key}").values():
            props = resource["Properties"]
            if props["GroupId"] == {"Fn::GetAtt": [group_logical_id, "GroupId"]}:
                rules.append(_rule(direction, props))
    return sorted(rules, key=json.dumps)


def _rule(direction, rule):
    peer = next(
        (json.dumps(rule[key]) if not isinstance(rule[key], str) else rule[key])
        for key in ("CidrIp", "SourceSecurityGroupId", "DestinationSecurityGroupId", "DestinationPrefixListId",
                    "SourcePrefixListId", "CidrIpv6")
        if key in rule
    )
    return (direction, rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), peer, rule.get("Description"))


def logical_id(stack, construct):
    return stack.get_logical_id(construct.node.default_child)


# --- VPC and subnets ---------------------------------------------------------------------------


def test_default_vpc_has_two_isolated_subnets_in_two_azs_and_no_internet_route():
    _, network, template = network_template()
    subnets = template.find_resources("AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert sorted(s["Properties"]["AvailabilityZone"] for s in subnets.values()) == ["eu-west-1a", "eu-west-1b"]
    for kind in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP"):
        template.resource_count_is(kind, 0)
    assert len(network.subnets) == 2 and not network.internet_egress
    template.has_resource_properties("AWS::EC2::VPC", {
        "CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True})


def test_nat_gateways_add_public_subnets_and_internet_egress():
    _, network, template = network_template(nat_gateways=1)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::EC2::Subnet", 4)
    template.has_resource_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})
    assert not template.find_resources("AWS::EC2::Subnet", {"Properties": {"MapPublicIpOnLaunch": True}})
    assert network.internet_egress and len(network.subnets) == 2
    assert {s.availability_zone for s in network.subnets} == {"eu-west-1a", "eu-west-1b"}


def test_default_security_group_is_restricted_by_the_librarys_own_handler():
    stack, _, template = network_template()
    template.resource_count_is("Custom::VpcRestrictDefaultSG", 0)  # CDK's provider: raw, unmanaged, invisible to nag
    (resource,) = template.find_resources("Custom::MwaaRestrictDefaultSecurityGroup").values()
    vpc_id = next(iter(template.find_resources("AWS::EC2::VPC")))
    default_sg = {"Fn::GetAtt": [vpc_id, "DefaultSecurityGroup"]}
    assert resource["Properties"]["DefaultSecurityGroupId"] == default_sg
    assert resource["Properties"]["ServiceTimeout"] == "360"
    # its handler may revoke rules of that one group and nothing else
    policies = template.find_resources("AWS::IAM::ManagedPolicy", {"Properties": {"PolicyDocument": {"Statement":
        Match.array_with([Match.object_like({"Sid": "RevokeDefaultGroupRules"})])}}})
    (policy,) = policies.values()
    (statement,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Sid"] == "RevokeDefaultGroupRules"]
    assert sorted(statement["Action"]) == ["ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"]
    assert statement["Resource"] == {"Fn::Join": ["", ["arn:aws:ec2:eu-west-1:123456789012:security-group/",
                                                       default_sg]]}
    # its trust admits Lambda of this account only
    (role,) = [r for r in template.find_resources("AWS::IAM::Role").values()
               if "Revokes the default rules" in r["Properties"].get("Description", "")]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_existing_vpc_with_chosen_subnets():
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Shared", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b", "eu-west-1c"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"], private_subnet_route_table_ids=["rtb-0aaaaaaaaaaaaaaaa", "rtb-0bbbbbbbbbbbbbbbb", "rtb-0cccccccccccccccc"],
    )
    network = AirflowNetwork(stack, "Network", vpc=vpc,
                             subnets=ec2.SubnetSelection(availability_zones=["eu-west-1b", "eu-west-1c"]))
    template = Template.from_stack(stack)
    assert [s.subnet_id for s in network.subnets] == ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"]
    template.resource_count_is("AWS::EC2::VPC", 0)
    (gateway,) = gateway_endpoints(template)
    assert sorted(gateway["Properties"]["RouteTableIds"]) == ["rtb-0bbbbbbbbbbbbbbbb", "rtb-0cccccccccccccccc"]
    assert not network.internet_egress


def test_a_vpc_without_two_private_azs_is_rejected_before_anything_is_created():
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Shared", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a"],
                                      private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa"])
    with pytest.raises(ValueError, match=r"private subnets in at least two availability zones.*got 1 private subnet"):
        AirflowNetwork(stack, "Network", vpc=vpc)
    assert stack.node.try_find_child("Network") is None


def test_subnets_in_one_az_are_rejected():
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Shared", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
                                      private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"])
    with pytest.raises(ValueError, match="exactly 2 private subnets for MWAA, got 1"):
        AirflowNetwork(stack, "Network", vpc=vpc, subnets=ec2.SubnetSelection(availability_zones=["eu-west-1a"]))


@pytest.mark.parametrize("kwargs, message", [
    ({"cidr": "10.0.0.0/8"}, r"between /16 and /22, got '10.0.0.0/8'"),
    ({"cidr": "10.0.0.1/16"}, r"cidr must be an IPv4 network like 10.0.0.0/16, got '10.0.0.1/16'"),
    ({"nat_gateways": 3}, "nat_gateways must be 0, 1 or 2, got 3"),
    ({"endpoint_sets": ["sqs"]}, r"unknown set 'sqs'; allowed: secretsmanager, sts, codeartifact, ecs, batch, ecs-agent, eks"),
    ({"internet_egress": True}, "internet_egress=True needs a route to the internet"),
    ({"parameter_prefix": "mwaa/"}, r"parameter_prefix must be an SSM path.*got 'mwaa/'"),
    ({"subnets": ec2.SubnetSelection(one_per_az=True)}, "pass vpc as well"),
])
def test_invalid_options_raise_before_anything_is_created(kwargs, message):
    stack = new_stack()
    with pytest.raises(ValueError, match=message):
        AirflowNetwork(stack, "Network", **kwargs)
    assert stack.node.try_find_child("Network") is None


@pytest.mark.parametrize("kwargs, message", [
    ({"nat_gateways": 1}, "nat_gateways applies to a VPC this construct creates, got 1"),
    ({"network_acls": True}, "network_acls applies to a VPC this construct creates"),
])
def test_options_for_new_vpcs_are_rejected_with_an_existing_vpc(kwargs, message):
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Shared", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
                                      private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"])
    with pytest.raises(ValueError, match=message):
        AirflowNetwork(stack, "Network", vpc=vpc, **kwargs)


# --- endpoints -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sets", [(), ("secretsmanager",), ("sts",), ("ecs",), ("batch",), ("eks",),
                                  ("secretsmanager", "sts", "ecs", "batch", "eks")])
def test_endpoint_set_for_each_option(sets):
    _, network, template = network_template(endpoint_sets=list(sets))
    expected = set(REQUIRED).union(*(SETS[name] for name in sets))
    assert interface_services(template) == expected
    assert network.endpoint_services == expected
    (gateway,) = gateway_endpoints(template)
    assert gateway["Properties"]["ServiceName"] == {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}
    assert len(gateway["Properties"]["RouteTableIds"]) == 2


def test_interface_endpoints_are_private_dns_in_the_two_subnets_behind_one_security_group():
    stack, network, template = network_template()
    sg = logical_id(stack, network.endpoint_security_group)
    subnet_refs = sorted({"Ref": logical_id(stack, s)}.__repr__() for s in network.subnets)
    for endpoint in template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}).values():
        props = endpoint["Properties"]
        assert props["PrivateDnsEnabled"] is True
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": [sg, "GroupId"]}]
        assert sorted(repr(s) for s in props["SubnetIds"]) == subnet_refs


def test_endpoint_policies_scope_account_callers_and_leave_service_called_endpoints_open():
    _, _, template = network_template(endpoint_sets=["secretsmanager", "sts"])
    policies = {}
    for endpoint in template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}).values():
        name = endpoint["Properties"]["ServiceName"].removeprefix(f"com.amazonaws.{REGION}.")
        policies[name] = endpoint["Properties"].get("PolicyDocument")
    scoped = {"sqs": "sqs", "logs": "logs", "monitoring": "cloudwatch", "kms": "kms", "secretsmanager": "secretsmanager",
              "sts": "sts"}
    for name, prefix in scoped.items():
        assert policies[name] == {"Version": "2012-10-17", "Statement": [{
            "Sid": "OnlyThisAccountsPrincipals", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": f"{prefix}:*",
            "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}]}, name
    for name in ("airflow.api", "airflow.env", "airflow.ops"):
        assert policies[name] is None, name


PULL_ONLY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "PullImagesOnly", "Effect": "Allow", "Principal": {"AWS": "*"}, "Resource": "*",
    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetAuthorizationToken",
               "ecr:GetDownloadUrlForLayer"]}]}


def perimeter_policies(template):
    ecr = {}
    for endpoint in template.find_resources("AWS::EC2::VPCEndpoint").values():
        service = endpoint["Properties"]["ServiceName"]
        if isinstance(service, str) and ".ecr." in service:
            policy = endpoint["Properties"].get("PolicyDocument")
            ecr[service.rsplit(".", 2)[-2] + "." + service.rsplit(".", 1)[-1]] = policy and norm_policy(policy)
    (gateway,) = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}}).values()
    return ecr, gateway["Properties"].get("PolicyDocument")


def norm_policy(policy):
    return {**policy, "Statement": [{**s, "Action": sorted(s["Action"]) if isinstance(s["Action"], list) else s["Action"]}
                                    for s in policy["Statement"]]}


def test_the_data_perimeter_is_on_by_default_as_documented():
    _, _, template = network_template()
    ecr, gateway = perimeter_policies(template)
    assert ecr == {"ecr.api": PULL_ONLY, "ecr.dkr": PULL_ONLY}
    assert gateway == {"Version": "2012-10-17", "Statement": [
        {"Sid": "PlatformAccountsBuckets", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*",
         "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceAccount": ["123456789012"]}}},
        {"Sid": "EcrImageLayers", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*"},
    ]}


def test_the_perimeter_names_every_platform_account_and_can_be_switched_off():
    _, _, template = network_template(perimeter_accounts=["111122223333", "444455556666"])
    _, gateway = perimeter_policies(template)
    assert gateway["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:ResourceAccount": ["111122223333", "444455556666"]}}
    _, _, template = network_template(data_perimeter=False)
    ecr, gateway = perimeter_policies(template)
    assert gateway is None and ecr == {"ecr.api": None, "ecr.dkr": None}
    with pytest.raises(ValueError, match=r"perimeter_accounts entries must be 12-digit AWS account ids \(quoted in YAML\), got 1234"):
        network_template(perimeter_accounts=[1234])


def test_endpoint_policies_can_be_switched_off():
    _, _, template = network_template(endpoint_policies=False, data_perimeter=False)
    for endpoint in template.find_resources("AWS::EC2::VPCEndpoint").values():
        assert "PolicyDocument" not in endpoint["Properties"]


def test_no_security_group_admits_a_cidr():
    """Interface endpoints admit security groups, never 0.0.0.0/0 or the VPC CIDR."""
    stack, network = new_network(nat_gateways=1)
    AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    template = Template.from_stack(stack)
    for group in template.find_resources("AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert "CidrIp" not in rule and "CidrIpv6" not in rule, rule
    for rule in template.find_resources("AWS::EC2::SecurityGroupIngress").values():
        assert set(rule["Properties"]) & {"CidrIp", "CidrIpv6"} == set(), rule
    endpoint_sg = logical_id(stack, network.endpoint_security_group)
    clients_sg = logical_id(stack, network.endpoint_clients_security_group)
    assert rules_of(template, endpoint_sg) == sorted([
        ("in", "tcp", 443, 443, json.dumps({"Fn::GetAtt": [clients_sg, "GroupId"]}),
         "HTTPS to the VPC endpoints from the endpoint clients group"),
        ("out", "icmp", 252, 86, "255.255.255.255/32", "Disallow all traffic"),
    ], key=json.dumps)


# --- environment security groups ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_environments():
    """A network and two environments in one stack: the shape the issue asks nag and cfn-lint of."""
    app = new_app()
    stack = cdk.Stack(app, "NetworkAndTwoEnvironments", env=TEST_ENV)
    network = AirflowNetwork(stack, "Network", endpoint_sets=["secretsmanager"], network_acls=True)
    dev = AirflowEnvironment(stack, "Dev", environment_name="team-dev", environment_class="mw1.micro", network=network)
    prod = AirflowEnvironment(stack, "Prod", environment_name="team-prod", environment_class="mw1.small",
                              network=network, secrets_backend=SecretsManagerBackend())
    return stack, network, dev, prod, Template.from_stack(stack)


def test_environment_security_group_rules_are_exact(two_environments):
    stack, network, dev, _, template = two_environments
    sg = logical_id(stack, dev.security_groups[0])
    me = json.dumps({"Fn::GetAtt": [sg, "GroupId"]})
    assert rules_of(template, sg) == sorted([
        ("in", "tcp", 443, 443, me, "MWAA web server (HTTPS) from other components of this environment"),
        ("in", "tcp", 5432, 5432, me, "MWAA metadata database (PostgreSQL) from other components of this environment"),
        ("out", "tcp", 443, 443, me, "MWAA web server (HTTPS) to other components of this environment"),
        ("out", "tcp", 5432, 5432, me, "MWAA metadata database (PostgreSQL) to other components of this environment"),
    ], key=json.dumps)


def test_the_endpoint_clients_group_admits_nothing_and_reaches_only_the_endpoints_and_s3(two_environments):
    """Shared by every environment, so it must not let one environment reach another."""
    stack, network, *_, template = two_environments
    clients = logical_id(stack, network.endpoint_clients_security_group)
    endpoints = json.dumps({"Fn::GetAtt": [logical_id(stack, network.endpoint_security_group), "GroupId"]})
    prefix_list = json.dumps({"Fn::GetAtt": [logical_id(stack, network.node.find_child("S3PrefixList").node.find_child("Resource")),
                                             "PrefixListId"]})
    assert rules_of(template, clients) == sorted([
        ("out", "tcp", 443, 443, endpoints, "HTTPS to the VPC interface endpoints of AWS services"),
        ("out", "tcp", 443, 443, prefix_list, "HTTPS to Amazon S3 through its gateway endpoint"),
    ], key=json.dumps)


def test_rules_through_an_environment_never_touch_the_shared_group():
    stack, network = new_network()
    dev = AirflowEnvironment(stack, "Dev", environment_name="team-dev", network=network)
    AirflowEnvironment(stack, "Other", environment_name="other-team", network=network)
    redshift = ec2.SecurityGroup(stack, "Redshift", vpc=network.vpc, allow_all_outbound=False)
    redshift.connections.allow_from(dev, ec2.Port.tcp(5439), "Redshift from the dev environment")
    dev.allow_egress_to(redshift, 5439, description="Redshift cluster")
    template = Template.from_stack(stack)
    clients = logical_id(stack, network.endpoint_clients_security_group)
    assert all(rule[2] != 5439 for rule in rules_of(template, clients))
    (ingress,) = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
                  if r["Properties"]["FromPort"] == 5439]
    assert ingress["SourceSecurityGroupId"] == {"Fn::GetAtt": [logical_id(stack, dev.security_groups[0]), "GroupId"]}


def test_nat_egress_adds_https_to_anywhere_only():
    stack, network = new_network(nat_gateways=2)
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    template = Template.from_stack(stack)
    rules = rules_of(template, logical_id(stack, network.endpoint_clients_security_group))
    assert ("out", "tcp", 443, 443, "0.0.0.0/0", "HTTPS to the internet through NAT (PyPI, external APIs)") in rules
    assert len(rules) == 3
    assert len(rules_of(template, logical_id(stack, env.security_groups[0]))) == 4  # its own group: itself only


def test_each_environment_gets_its_own_security_group_and_the_network_subnets(two_environments):
    stack, network, dev, prod, template = two_environments
    assert dev.security_groups[0] is not prod.security_groups[0]
    subnet_ids = [{"Ref": logical_id(stack, s)} for s in network.subnets]
    clients = {"Fn::GetAtt": [logical_id(stack, network.endpoint_clients_security_group), "GroupId"]}
    for env in (dev, prod):
        template.has_resource_properties("AWS::MWAA::Environment", {
            "Name": env.environment_name,
            "NetworkConfiguration": {"SubnetIds": subnet_ids, "SecurityGroupIds": [
                {"Fn::GetAtt": [logical_id(stack, env.security_groups[0]), "GroupId"]}, clients]},
        })
        assert env.connections.security_groups == [env.security_groups[0]]


def test_allow_egress_to_opens_one_port_to_a_named_peer():
    stack, network = new_network()
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    redshift = ec2.SecurityGroup.from_security_group_id(stack, "Redshift", "sg-0123456789abcdef0", mutable=True)
    env.allow_egress_to(redshift, 5439, description="Redshift cluster analytics-wh")
    template = Template.from_stack(stack)
    sg = logical_id(stack, env.security_groups[0])
    template.has_resource_properties("AWS::EC2::SecurityGroupEgress", {
        "GroupId": {"Fn::GetAtt": [sg, "GroupId"]}, "DestinationSecurityGroupId": "sg-0123456789abcdef0",
        "FromPort": 5439, "ToPort": 5439, "IpProtocol": "tcp", "Description": "Redshift cluster analytics-wh"})
    template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "GroupId": "sg-0123456789abcdef0", "SourceSecurityGroupId": {"Fn::GetAtt": [sg, "GroupId"]},
        "FromPort": 5439, "ToPort": 5439, "Description": "Redshift cluster analytics-wh"})
    with pytest.raises(ValueError, match="port must be a TCP port between 1 and 65535, got 70000"):
        env.allow_egress_to(redshift, 70000, description="x")
    with pytest.raises(ValueError, match="description must say what the port is for"):
        env.allow_egress_to(redshift, 5439, description=" ")


def test_environment_needs_exactly_one_of_network_or_vpc():
    stack, network = new_network()
    with pytest.raises(ValueError, match="exactly one of network .* or vpc, got both"):
        AirflowEnvironment(stack, "Both", environment_name="team-a", network=network, vpc=network.vpc)
    with pytest.raises(ValueError, match="got neither"):
        AirflowEnvironment(stack, "Neither", environment_name="team-a")
    with pytest.raises(ValueError, match="subnets cannot be combined with network"):
        AirflowEnvironment(stack, "Subnets", environment_name="team-a", network=network,
                           subnets=ec2.SubnetSelection(one_per_az=True))


def test_secrets_backend_without_its_endpoint_or_internet_is_rejected():
    stack, network = new_network()
    with pytest.raises(ValueError, match=r"secrets_backend needs the 'secretsmanager' VPC endpoint.*add the 'secretsmanager'"):
        AirflowEnvironment(stack, "Env", environment_name="team-a", network=network,
                           secrets_backend=SecretsManagerBackend())
    assert stack.node.try_find_child("Env") is None or not stack.node.find_child("Env").node.children


# --- network ACLs and flow logs --------------------------------------------------------------


def test_network_acl_entries_are_exact(two_environments):
    stack, network, _, _, template = two_environments
    cidrs = [stack.resolve(s.ipv4_cidr_block) for s in network.subnets]
    assert all(isinstance(c, str) for c in cidrs)
    entries = sorted(
        (e["Properties"]["Egress"], e["Properties"]["RuleNumber"], e["Properties"]["CidrBlock"],
         e["Properties"]["PortRange"]["From"], e["Properties"]["PortRange"]["To"], e["Properties"]["RuleAction"])
        for e in template.find_resources("AWS::EC2::NetworkAclEntry").values()
    )
    a, b = cidrs
    assert entries == sorted([
        (False, 100, a, 443, 443, "allow"), (False, 110, a, 5432, 5432, "allow"),
        (True, 100, a, 5432, 5432, "allow"), (True, 110, a, 1024, 65535, "allow"),
        (False, 120, b, 443, 443, "allow"), (False, 130, b, 5432, 5432, "allow"),
        (True, 120, b, 5432, 5432, "allow"), (True, 130, b, 1024, 65535, "allow"),
        (False, 140, "0.0.0.0/0", 1024, 65535, "allow"), (True, 140, "0.0.0.0/0", 443, 443, "allow"),
    ])
    template.resource_count_is("AWS::EC2::SubnetNetworkAclAssociation", 2)


def test_no_network_acl_by_default():
    _, network, template = network_template()
    template.resource_count_is("AWS::EC2::NetworkAcl", 0)
    assert network.network_acl is None


def test_flow_logs_capture_all_traffic_into_an_encrypted_log_group():
    stack, network, template = network_template()
    log_group = logical_id(stack, network.node.find_child("FlowLogs"))
    template.has_resource_properties("AWS::EC2::FlowLog", {
        "ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": {"Ref": log_group}, "ResourceId": {"Ref": logical_id(stack, network.vpc)},
    })
    template.has_resource_properties("AWS::Logs::LogGroup", {
        "RetentionInDays": 365, "KmsKeyId": {"Fn::GetAtt": [logical_id(stack, network.key), "Arn"]}})
    template.has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"},
                      "ArnLike": {"aws:SourceArn": "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*"}}}]}})
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": [{
        "Sid": "DeliverFlowLogs", "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
        "Resource": {"Fn::GetAtt": [log_group, "Arn"]}}]}})
    template.resource_count_is("AWS::IAM::Policy", 0)


def test_flow_logs_can_be_switched_off():
    _, network, template = network_template(flow_logs=False)
    template.resource_count_is("AWS::EC2::FlowLog", 0)
    assert network.flow_log is None


def test_s3_prefix_list_is_looked_up_at_deployment_by_name():
    stack, network, template = network_template()
    template.has_resource_properties("Custom::MwaaPrefixList", {"PrefixListName": "com.amazonaws.eu-west-1.s3"})
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([{
        "Sid": "DescribePrefixLists", "Effect": "Allow", "Action": "ec2:DescribeManagedPrefixLists", "Resource": "*"}])}})
    template.has_resource_properties("AWS::Lambda::Function", {"Handler": "prefix_list.handler", "Runtime": "python3.14"})


# --- compliance -------------------------------------------------------------------------------------


def test_network_and_two_environments_pass_all_packs_without_rule_errors(two_environments):
    stack = two_environments[0]
    assert_nag_clean(stack)
    for pack in nag_packs():
        for violation in pack.validate_scope(stack).violations:
            assert "threw an error" not in violation.description, (pack.name, violation.rule_name)
            assert "threw an error" not in violation.rule_name, (pack.name, violation.rule_name)


def test_network_and_two_environments_are_cfn_lint_clean(two_environments, tmp_path):
    path = tmp_path / "template.json"
    path.write_text(json.dumps(two_environments[4].to_json()))
    assert_cfn_lint_clean([path])


def test_nat_network_passes_all_packs_and_cfn_lint(tmp_path):
    stack, network = new_network(nat_gateways=2, endpoint_sets=["sts", "eks"])
    AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    assert_nag_clean(stack)
    assert_stack_cfn_lint_clean(stack, tmp_path)


# --- sharing across stacks ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared():
    app = new_app()
    network_stack = cdk.Stack(app, "Network", env=TEST_ENV)
    network = AirflowNetwork(network_stack, "Network", endpoint_sets=["secretsmanager"], parameter_prefix="/mwaa/shared")
    team_stack = cdk.Stack(app, "Team", env=TEST_ENV)
    team_network = SharedAirflowNetwork(team_stack, "Network", attributes=network.attributes)
    env = AirflowEnvironment(team_stack, "Env", environment_name="team-a", network=team_network,
                             secrets_backend=SecretsManagerBackend())
    return network_stack, network, team_stack, team_network, env


def test_network_publishes_its_ids_as_parameters(shared):
    network_stack, network, *_ = shared
    template = Template.from_stack(network_stack)
    names = sorted(p["Properties"]["Name"] for p in template.find_resources("AWS::SSM::Parameter").values())
    assert names == sorted(f"/mwaa/shared/{n}" for n in
                           ("vpc-id", "subnet-1-id", "subnet-2-id", "endpoint-security-group-id", "s3-prefix-list-id",
                            "endpoint-clients-security-group-id"))
    assert network.attributes == NetworkAttributes(
        parameter_prefix="/mwaa/shared", availability_zones=("eu-west-1a", "eu-west-1b"), internet_egress=False,
        endpoint_services=frozenset(REQUIRED | {"secretsmanager"}))


def test_team_stack_reads_parameters_and_imports_no_exports(shared):
    network_stack, _, team_stack, _, env = shared
    template = Template.from_stack(team_stack).to_json()
    text = json.dumps(template)
    assert "Fn::ImportValue" not in text and not Template.from_stack(network_stack).find_outputs("*")
    parameters = {v["Default"]: v["Type"] for v in template["Parameters"].values()
                  if v["Type"].startswith("AWS::SSM::Parameter::Value<") and v["Default"].startswith("/mwaa/")}
    # typed where CloudFormation has a type, so a stale or wrong id fails at deploy, not in MWAA
    assert parameters == {
        "/mwaa/shared/vpc-id": "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>",
        "/mwaa/shared/subnet-1-id": "AWS::SSM::Parameter::Value<AWS::EC2::Subnet::Id>",
        "/mwaa/shared/subnet-2-id": "AWS::SSM::Parameter::Value<AWS::EC2::Subnet::Id>",
        "/mwaa/shared/endpoint-clients-security-group-id": "AWS::SSM::Parameter::Value<AWS::EC2::SecurityGroup::Id>",
    }
    # the team stack adds no rule to any resource of the network: the endpoints admit the shared
    # clients group, which the environment joins as its second group
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            assert "Ref" not in resource["Properties"]["GroupId"], resource
    (environment,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::MWAA::Environment"]
    groups = environment["Properties"]["NetworkConfiguration"]["SecurityGroupIds"]
    assert len(groups) == 2 and "Ref" in groups[1]
    assert env.subnets is not None and len(env.subnets) == 2


def test_shared_network_is_nag_clean(shared):
    assert_nag_clean(shared[2])


def test_attributes_need_a_parameter_prefix():
    _, network, _ = network_template()
    with pytest.raises(ValueError, match="create AirflowNetwork with parameter_prefix"):
        network.attributes  # noqa: B018


def test_shared_network_needs_two_distinct_azs():
    stack = new_stack()
    attributes = NetworkAttributes(parameter_prefix="/p", availability_zones=("eu-west-1a", "eu-west-1a"),
                                   internet_egress=False, endpoint_services=frozenset(REQUIRED))
    with pytest.raises(ValueError, match=r"two different AZs, got \['eu-west-1a', 'eu-west-1a'\]"):
        SharedAirflowNetwork(stack, "Network", attributes=attributes)


def test_grant_web_login_to_roles_attaches_one_managed_policy():
    from aws_cdk import aws_iam as iam

    stack, network = new_network()
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network)
    roles = [iam.Role.from_role_name(stack, "Analysts", "analysts"), iam.Role.from_role_name(stack, "Leads", "leads")]
    env.grant_web_login_to_roles(roles, "User")
    with pytest.raises(ValueError, match="airflow_role must be one of Admin, Op, User, Viewer, Public, got 'Owner'"):
        env.grant_web_login_to_roles(roles, "Owner")
    with pytest.raises(ValueError, match=r"roles must be a non-empty list of IAM roles, got \[\]"):
        env.grant_web_login_to_roles([], "Viewer")
    Template.from_stack(stack).has_resource_properties("AWS::IAM::ManagedPolicy", {
        "Roles": ["analysts", "leads"],
        "PolicyDocument": {"Statement": [{"Action": "airflow:CreateWebLoginToken", "Effect": "Allow",
                                          "Resource": "arn:aws:airflow:eu-west-1:123456789012:role/team-a/User"}]}})


# --- DNS controls ------------------------------------------------------------------------------------


def test_dns_firewall_is_off_by_default():
    _, _, template = network_template()
    template.resource_count_is("AWS::Route53Resolver::FirewallRuleGroup", 0)
    template.resource_count_is("AWS::Route53Resolver::ResolverQueryLoggingConfig", 0)


def test_dns_firewall_answers_aws_domains_and_blocks_the_rest_and_logs_every_query(tmp_path):
    stack, network, template = network_template(nat_gateways=1, dns_firewall=True,
                                                dns_allowed_domains=["pypi.org", "files.pythonhosted.org"])
    lists = {logical: r["Properties"]["Domains"] for logical, r in
             template.find_resources("AWS::Route53Resolver::FirewallDomainList").items()}
    allowed = next(domains for domains in lists.values() if "*.amazonaws.com" in domains)
    assert allowed == ["amazonaws.com", "*.amazonaws.com", "on.aws", "*.on.aws", "*.internal", "pypi.org",
                       "files.pythonhosted.org"]
    everything = next(logical for logical, domains in lists.items() if domains == ["*"])
    (group,) = template.find_resources("AWS::Route53Resolver::FirewallRuleGroup").values()
    rules = sorted(group["Properties"]["FirewallRules"], key=lambda rule: rule["Priority"])
    assert [(r["Action"], r.get("BlockResponse")) for r in rules] == [("ALLOW", None), ("BLOCK", "NODATA")]
    assert rules[1]["FirewallDomainListId"] == {"Fn::GetAtt": [everything, "Id"]}
    vpc = {"Ref": logical_id(stack, network.vpc)}
    template.has_resource_properties("AWS::Route53Resolver::FirewallRuleGroupAssociation", {"VpcId": vpc})
    template.has_resource_properties("AWS::Route53Resolver::ResolverQueryLoggingConfigAssociation", {"ResourceId": vpc})
    (config,) = template.find_resources("AWS::Route53Resolver::ResolverQueryLoggingConfig").values()
    log_group = config["Properties"]["DestinationArn"]["Fn::GetAtt"][0]
    log = template.find_resources("AWS::Logs::LogGroup")[log_group]
    assert log["DeletionPolicy"] == "RetainExceptOnCreate" and "KmsKeyId" in log["Properties"]
    assert_nag_clean(stack)
    path = tmp_path / "dns.template.json"
    path.write_text(json.dumps(template.to_json()))
    assert_cfn_lint_clean([path])


@pytest.mark.parametrize("kwargs, message", [
    ({"dns_firewall": True, "dns_allowed_domains": ["not a domain"]},
     r"dns_allowed_domains entries must be domain names such as pypi.org .*got 'not a domain'"),
    ({"dns_allowed_domains": ["pypi.org"]}, r"dns_allowed_domains applies to the DNS firewall: set dns_firewall=True"),
])
def test_dns_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        new_network(**kwargs)
