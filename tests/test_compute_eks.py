"""EKS task compute: a hardened private cluster, and per team a namespace, a node group and an access entry."""

import base64
import re
import json
import urllib.parse
from types import SimpleNamespace

import boto3
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from harness import (
    TEST_ACCOUNT,
    TEST_REGION,
    assert_nag_clean,
    load_handler,
    new_stack,
    resolve_literals,
)
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError
from mwaa_platform.compute import (
    MIN_KUBERNETES_VERSION,
    NAMESPACE_LABEL,
    TEAM_LABEL,
    EksCluster,
    EksClusterBase,
    EksCompute,
    EksNamespace,
    EksNamespaceAccess,
    check_namespace,
)
from mwaa_platform.compute._node_group import check_instance_types
from mwaa_platform.compute.eks_cluster import CLUSTER_LOG_TYPES, known_kubernetes_versions

namespaces = load_handler("eks_namespace")


@pytest.fixture(scope="module")
def built():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["eks"])
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="2.11.0")
    cluster = EksCluster(stack, "Cluster", network=network, cluster_name="tasks")
    compute = EksCompute(stack, "Eks", cluster=cluster, network=network, team="team-a", namespace="etl",
                         instance_types=["m7g.large", "m7g.xlarge"], capacity_type="SPOT")
    compute.grant_pod_launch(env)
    cluster.allow_pod_launch_from(env, description="HTTPS from MWAA environment team-a")
    template = Template.from_stack(stack)
    return SimpleNamespace(stack=stack, network=network, env=env, cluster=cluster, compute=compute,
                           template=template, json=template.to_json())


def logical_id(built, construct):
    return built.stack.get_logical_id(construct.node.default_child or construct)


def of_type(built, kind):
    return {name: body for name, body in built.json["Resources"].items() if body["Type"] == kind}


def test_the_vpc_cni_enforces_network_policy(built):
    (cni,) = [r["Properties"] for r in built.json["Resources"].values()
              if r["Type"] == "AWS::EKS::Addon" and r["Properties"]["AddonName"] == "vpc-cni"]
    assert json.loads(cni["ConfigurationValues"]) == {"enableNetworkPolicy": "true"}


def test_the_cluster_is_private_logged_encrypted_and_api_authenticated(built):
    (cluster,) = of_type(built, "AWS::EKS::Cluster").values()
    props = cluster["Properties"]
    assert props["ResourcesVpcConfig"]["EndpointPublicAccess"] is False
    assert props["ResourcesVpcConfig"]["EndpointPrivateAccess"] is True
    assert props["AccessConfig"] == {"AuthenticationMode": "API", "BootstrapClusterCreatorAdminPermissions": False}
    assert [t["Type"] for t in props["Logging"]["ClusterLogging"]["EnabledTypes"]] == list(CLUSTER_LOG_TYPES)
    assert props["EncryptionConfig"] == [{"Provider": {"KeyArn": {"Fn::GetAtt": [
        logical_id(built, built.cluster.key), "Arn"]}}, "Resources": ["secrets"]}]
    # the control-plane log group exists, encrypted, before EKS would create it unencrypted
    logs = of_type(built, "AWS::Logs::LogGroup")
    (control_plane,) = [b for b in logs.values() if b["Properties"].get("LogGroupName") == "/aws/eks/tasks/cluster"]
    assert "KmsKeyId" in control_plane["Properties"]


def test_the_access_entry_edits_the_teams_namespace_only(built):
    entry = built.json["Resources"][logical_id(built, built.compute.access.entry)]["Properties"]
    assert entry["PrincipalArn"] == {"Fn::GetAtt": [logical_id(built, built.env.execution_role), "Arn"]}
    assert entry["AccessPolicies"] == [{
        "PolicyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
        "AccessScope": {"Type": "namespace", "Namespaces": ["etl"]},
    }]
    assert "KubernetesGroups" not in entry  # no group such as system:masters
    # the only cluster-wide entry is the namespace handler's
    cluster_wide = [b for b in of_type(built, "AWS::EKS::AccessEntry").values()
                    if b["Properties"]["AccessPolicies"][0]["AccessScope"]["Type"] == "cluster"]
    assert [b["Properties"]["PrincipalArn"] for b in cluster_wide] == [
        {"Fn::GetAtt": [logical_id(built, built.cluster.namespace_handler.role), "Arn"]}]


def test_the_team_node_group_is_labelled_tainted_and_hardened(built):
    group = built.json["Resources"][logical_id(built, built.compute.node_group)]["Properties"]
    assert group["Labels"] == {TEAM_LABEL: "team-a", NAMESPACE_LABEL: "etl"}
    assert group["Taints"] == [{"Key": NAMESPACE_LABEL, "Value": "etl", "Effect": "NO_SCHEDULE"}]
    assert group["AmiType"] == "AL2023_ARM_64_STANDARD" and group["CapacityType"] == "SPOT"
    template = built.json["Resources"][group["LaunchTemplate"]["Id"]["Ref"]]["Properties"]["LaunchTemplateData"]
    assert template["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1,
                                           "HttpEndpoint": "enabled"}
    assert template["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert template["SecurityGroupIds"] == [
        {"Fn::GetAtt": [logical_id(built, built.cluster.cluster), "ClusterSecurityGroupId"]},
        {"Fn::GetAtt": [logical_id(built, built.network.endpoint_clients_security_group), "GroupId"]},
    ]
    assert built.compute.node_selector == {NAMESPACE_LABEL: "etl"}
    assert built.compute.tolerations == [
        {"key": NAMESPACE_LABEL, "operator": "Equal", "value": "etl", "effect": "NoSchedule"}]


def test_the_system_nodes_run_only_addons(built):
    group = built.json["Resources"][logical_id(built, built.cluster.system_node_group)]["Properties"]
    assert group["Taints"] == [{"Key": "CriticalAddonsOnly", "Value": "true", "Effect": "NO_SCHEDULE"}]
    addons = {b["Properties"]["AddonName"]: b for b in of_type(built, "AWS::EKS::Addon").values()}
    assert set(addons) == {"vpc-cni", "kube-proxy", "coredns"}
    coredns = json.loads(addons["coredns"]["Properties"]["ConfigurationValues"])
    assert coredns["tolerations"][0]["key"] == "CriticalAddonsOnly"
    assert logical_id(built, built.cluster.system_node_group) in addons["coredns"]["DependsOn"]


def test_grant_pod_launch_is_describe_cluster_on_this_cluster_only(built):
    role = {"Ref": logical_id(built, built.env.execution_role)}
    statements = [resolve_literals(s, built.json) for p in of_type(built, "AWS::IAM::ManagedPolicy").values()
                  if role in p["Properties"].get("Roles", []) for s in p["Properties"]["PolicyDocument"]["Statement"]]
    eks = [s for s in statements if "eks:" in json.dumps(s["Action"])]
    assert len(eks) == 1
    assert eks[0]["Action"] == "eks:DescribeCluster"
    assert eks[0]["Resource"] == f"{logical_id(built, built.cluster.cluster)}.Arn"


def test_the_api_endpoint_admits_https_from_the_pod_launch_clients_and_the_handler_only(built):
    group = {"Fn::GetAtt": [logical_id(built, built.cluster.control_plane_security_group), "GroupId"]}
    rules = [b["Properties"] for b in of_type(built, "AWS::EC2::SecurityGroupIngress").values()
             if b["Properties"]["GroupId"] == group]
    clients = built.cluster.pod_launch_clients_security_group
    assert sorted(r["SourceSecurityGroupId"]["Fn::GetAtt"][0] for r in rules) == sorted([
        logical_id(built, clients), logical_id(built, built.cluster.node.find_child("Namespaces")
                                               .node.find_child("SecurityGroup"))])
    assert {(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules} == {("tcp", 443, 443)}
    (body,) = [b for b in of_type(built, "AWS::EC2::SecurityGroup").values()
               if "EKS API endpoint" in b["Properties"]["GroupDescription"]]
    assert "SecurityGroupIngress" not in body["Properties"]
    # the environment joins the clients group, which admits nothing, and writes no rule of its own
    (env,) = of_type(built, "AWS::MWAA::Environment").values()
    assert env["Properties"]["NetworkConfiguration"]["SecurityGroupIds"][-1] == {
        "Fn::GetAtt": [logical_id(built, clients), "GroupId"]}
    (clients_body,) = [b for b in of_type(built, "AWS::EC2::SecurityGroup").values()
                       if "granted pod launch" in b["Properties"]["GroupDescription"]]
    assert "SecurityGroupIngress" not in clients_body["Properties"]
    assert not [r for r in of_type(built, "AWS::EC2::SecurityGroupIngress").values()
                if r["Properties"].get("SourceSecurityGroupId") == {
                    "Fn::GetAtt": [logical_id(built, built.env.security_groups[0]), "GroupId"]}
                and r["Properties"]["GroupId"] == group]


def test_any_number_of_environments_adds_no_rule_to_the_api_endpoint():
    """The 60-rule quota no longer bounds how many environments launch pods on one cluster."""
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["eks"])
    cluster = EksCluster(stack, "Cluster", network=network, cluster_name="tasks")
    for index in range(3):
        env = AirflowEnvironment(stack, f"Env{index}", environment_name=f"team-{index}", network=network,
                                 airflow_version="2.11.2")
        cluster.allow_pod_launch_from(env, description=f"HTTPS from team-{index}")
        assert env.security_groups[-1] is cluster.pod_launch_clients_security_group
    group = {"Fn::GetAtt": [stack.get_logical_id(cluster.control_plane_security_group.node.default_child), "GroupId"]}
    rules = [r for r in Template.from_stack(stack).find_resources("AWS::EC2::SecurityGroupIngress").values()
             if r["Properties"]["GroupId"] == group]
    assert len(rules) == 2  # the clients group and the namespace handler, for any number of environments


def test_the_namespace_resource_names_team_and_node_label(built):
    # created in the cluster's scope, by the handler of the cluster's own stack
    assert built.compute.namespace_resource.node.path == "Test/Cluster/Namespace-etl/Resource"
    props = built.json["Resources"][logical_id(built, built.compute.namespace_resource)]["Properties"]
    assert props["Namespace"] == "etl" and props["Team"] == "team-a" and props["PodSecurity"] == "baseline"
    assert props["NodeLabelKey"] == NAMESPACE_LABEL and props["NodeLabelValue"] == "etl"
    handler = built.json["Resources"][logical_id(built, built.cluster.namespace_handler.function)]
    assert handler["Properties"]["VpcConfig"]["SubnetIds"]  # in the VPC: the API endpoint is private
    assert props["ServiceToken"] == {"Fn::GetAtt": [logical_id(built, built.cluster.namespace_handler.function), "Arn"]}


def test_namespaces_are_the_cluster_owners_and_no_handler_token_leaves_its_stack():
    """An imported cluster offers no namespace handler: team stacks create node groups and access
    entries only, and nothing publishes the handler's ARN (issue 24)."""
    stack, compute = team_compute()
    assert compute.namespace_resource is None
    template = Template.from_stack(stack).to_json()
    assert not [r for r in template["Resources"].values() if r["Type"] == "Custom::MwaaEksNamespace"]
    assert "namespace-handler" not in json.dumps(template)
    owner = new_stack()
    network = AirflowNetwork(owner, "Network", endpoint_sets=["eks"])
    cluster = EksCluster(owner, "Cluster", network=network, cluster_name="tasks", parameter_prefix="/p/eks")
    first = EksNamespace.of(cluster, team="team-a", namespace="etl")
    assert EksNamespace.of(cluster, team="team-a", namespace="etl") is first
    with pytest.raises(MwaaPlatformError, match="namespace etl on cluster tasks already belongs to team team-a, not team-b"):
        EksNamespace.of(cluster, team="team-b", namespace="etl")
    published = [r["Properties"]["Name"] for r in Template.from_stack(owner).to_json()["Resources"].values()
                 if r["Type"] == "AWS::SSM::Parameter"]
    assert sorted(published) == ["/p/eks/cluster-security-group-id", "/p/eks/control-plane-security-group-id",
                                 "/p/eks/pod-launch-clients-security-group-id"]
    with pytest.raises(MwaaPlatformError, match="EksNamespace belongs in the stack of the EksCluster"):
        EksNamespace(new_stack(), "Ns", cluster=cluster, team="team-a")


def test_the_s3_perimeter_admits_cloudformation_answers_only_with_eks(built):
    (gateway,) = [b for b in of_type(built, "AWS::EC2::VPCEndpoint").values()
                  if b["Properties"].get("VpcEndpointType") == "Gateway"]
    (answers,) = [s for s in gateway["Properties"]["PolicyDocument"]["Statement"]
                  if s.get("Sid") == "CloudFormationResponses"]
    assert answers["Action"] == "s3:PutObject"
    stack = new_stack()
    AirflowNetwork(stack, "Network", endpoint_sets=["ecs"])
    assert "CloudFormationResponses" not in json.dumps(Template.from_stack(stack).to_json())


def test_the_stack_is_nag_clean(built):
    # cfn-lint and checkov run once on the example platform, whose prod stage has a cluster and pods
    assert_nag_clean(built.stack)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("namespace, expected", [
    ("Team_A", "DNS-1123 label"), ("-etl", "DNS-1123 label"), ("a" * 64, "DNS-1123 label"),
    ("kube-system", "kept by Kubernetes"), ("kube-anything", "kept by Kubernetes"), ("default", "kept by Kubernetes"),
])
def test_namespaces_must_be_dns_labels_left_to_users(namespace, expected):
    with pytest.raises(MwaaPlatformError, match=expected):
        check_namespace(namespace)


@pytest.mark.parametrize("types, expected", [
    (["m6i.huge"], "'m6i.huge' is not an EC2 instance type"),
    (["t3.micro"], "too small for a node"),
    (["mac2.metal"], "cannot run mac2.metal"),
    (["m6i.large", "m7g.large"], "mixes Graviton"),
    ([], "non-empty list"),
    ("m6i.large", "non-empty list"),
])
def test_instance_types_a_node_group_cannot_use_are_refused(types, expected):
    with pytest.raises(MwaaPlatformError, match=expected):
        check_instance_types("instance_types", types)


@pytest.mark.parametrize("types, ami", [(["m6i.large", "c6i.xlarge"], "AL2023_x86_64_STANDARD"),
                                        (["c7gn.large", "a1.large", "r6gd.large"], "AL2023_ARM_64_STANDARD")])
def test_the_ami_follows_the_architecture(types, ami):
    assert check_instance_types("instance_types", types) == ami


def team_compute(**kwargs):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=kwargs.pop("endpoint_sets", ["eks"]))
    cluster = kwargs.pop("cluster", None) or EksClusterBase.from_cluster_attributes(
        stack, "Cluster", cluster_name="tasks", control_plane_security_group_id="sg-0123456789abcdef0",
        cluster_security_group_id="sg-0123456789abcdef1", vpc_id=kwargs.pop("vpc_id", None))
    return stack, EksCompute(stack, "Eks", cluster=cluster, network=network, team="team-a", **kwargs)


@pytest.mark.parametrize("kwargs, expected", [
    ({"namespace": "kube-system"}, "kept by Kubernetes"),
    ({"instance_types": ["t3.nano"]}, "too small"),
    ({"min_nodes": 3, "max_nodes": 2}, "max_nodes must be at least 1 and at least min_nodes"),
    ({"max_nodes": 451}, "max_nodes must be a whole number from 0 to 450"),
    ({"root_volume_gib": 8}, "root_volume_gib must be 20-16384"),
    ({"capacity_type": "CAPACITY_BLOCK"}, "capacity_type must be one of ON_DEMAND, SPOT"),
    ({"endpoint_sets": []}, "needs the 'eks' VPC endpoint"),
])
def test_bad_team_compute_fails_before_anything_is_created(kwargs, expected):
    with pytest.raises(MwaaPlatformError, match=expected) as raised:
        team_compute(**kwargs)
    assert "Test/Eks" in str(raised.value)


def test_a_cluster_outside_the_platform_network_is_refused():
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0aaaaaaaaaaaaaaaa", availability_zones=["a", "b"])
    network = SimpleNamespace(vpc=vpc, subnets=[], endpoint_clients_security_group=None, internet_egress=True,
                              endpoint_services=frozenset(), check_endpoint=lambda *a: None)
    cluster = EksClusterBase.from_cluster_attributes(
        stack, "Cluster", cluster_name="tasks", control_plane_security_group_id="sg-0123456789abcdef0",
        cluster_security_group_id="sg-0123456789abcdef1", vpc_id="vpc-0bbbbbbbbbbbbbbbb")
    with pytest.raises(MwaaPlatformError, match="in VPC 'vpc-0bbbbbbbbbbbbbbbb', outside the platform network"):
        EksCompute(stack, "Eks", cluster=cluster, network=network, team="team-a")


def test_a_cluster_of_another_network_in_the_same_stack_is_refused():
    stack = new_stack()
    first = AirflowNetwork(stack, "First", endpoint_sets=["eks"])
    second = AirflowNetwork(stack, "Second", endpoint_sets=["eks"], cidr="10.1.0.0/16")
    cluster = EksCluster(stack, "Cluster", network=first, cluster_name="tasks")
    with pytest.raises(MwaaPlatformError, match="outside the platform network"):
        EksCompute(stack, "Eks", cluster=cluster, network=second, team="team-a")


@pytest.mark.parametrize("version", ["1.29", "1.7", "2.0", 1.31])
def test_kubernetes_versions_without_the_admission_policy_api_are_refused(version):
    stack = new_stack()
    network = AirflowNetwork(stack, "Network", endpoint_sets=["eks"])
    with pytest.raises(MwaaPlatformError, match=f"kubernetes_version must be one of {MIN_KUBERNETES_VERSION}"):
        EksCluster(stack, "Cluster", network=network, kubernetes_version=version)


def test_known_versions_come_from_aws_cdk_lib():
    versions = known_kubernetes_versions()
    assert versions[0] == MIN_KUBERNETES_VERSION and len(versions) >= 5


def test_an_access_entry_needs_a_role():
    stack, compute = team_compute()
    user = iam.User(stack, "User")
    with pytest.raises(MwaaPlatformError, match="access entry needs an IAM role"):
        compute.grant_pod_launch(user)


def test_a_shared_role_gets_one_entry_for_all_its_namespaces():
    stack, compute = team_compute()
    EksNamespaceAccess(stack, "Shared", cluster=compute.cluster, principal_arn="arn:aws:iam::111111111111:role/x",
                       namespaces=["team-a", "team-b"])
    (entry,) = Template.from_stack(stack).find_resources("AWS::EKS::AccessEntry").values()
    assert entry["Properties"]["AccessPolicies"][0]["AccessScope"] == {"Type": "namespace",
                                                                       "Namespaces": ["team-a", "team-b"]}
    with pytest.raises(MwaaPlatformError, match="kept by Kubernetes"):
        EksNamespaceAccess(stack, "Bad", cluster=compute.cluster, principal_arn="arn", namespaces=["kube-system"])


# --- the namespace handler, against a fake API server ---------------------------------------------


class FakeApi:
    def __init__(self, existing=None):
        self.existing, self.calls = existing, []

    def get(self, path):
        self.calls.append(("GET", path))
        return self.existing

    def apply(self, path, document):
        self.calls.append(("APPLY", path, document))

    def delete(self, path):
        self.calls.append(("DELETE", path))


def event(request="Create", **properties):
    props = {"ClusterName": "tasks", "Region": TEST_REGION, "Namespace": "etl", "Team": "team-a",
             "NodeLabelKey": NAMESPACE_LABEL, "NodeLabelValue": "etl", "PodSecurity": "baseline", **properties}
    return {"RequestType": request, "ResourceProperties": props, "PhysicalResourceId": "tasks/etl",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/mwaa-platform-eks-prod/0d7b3c1e",
            "LogicalResourceId": "ClusterNamespaceEtl"}


OWNER = namespaces.stack_owner(event())


def test_create_applies_the_namespace_and_its_node_pinning_policy():
    api = FakeApi()
    physical_id, data = namespaces.reconcile(event(), api)
    assert physical_id == "tasks/etl" and data == {"Namespace": "etl"}
    applied = [call for call in api.calls if call[0] == "APPLY"]
    kinds = [document["kind"] for _, _, document in applied]
    assert kinds == ["Namespace", "NetworkPolicy", "ConfigMap", "ValidatingAdmissionPolicy",
                     "ValidatingAdmissionPolicyBinding"]
    # pods of other namespaces cannot reach these, these reach only their own, DNS and HTTPS out
    network = applied.pop(1)[2]
    assert network["metadata"]["namespace"] == "etl" and network["spec"]["podSelector"] == {}
    assert network["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert network["spec"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    (own, dns, https, pod_identity) = network["spec"]["egress"]
    assert own == {"to": [{"podSelector": {}}]} and https == {"ports": [{"protocol": "TCP", "port": 443}]}
    assert pod_identity["to"] == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]
    assert {port["port"] for port in dns["ports"]} == {53}
    namespace = applied[0][2]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert namespace["metadata"]["labels"][TEAM_LABEL] == "team-a"
    assert namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mwaa-platform"
    assert namespace["metadata"]["labels"]["mwaa-platform/owner"] == OWNER
    params, policy, binding = applied[1][2], applied[2][2], applied[3][2]
    # the node label lives in kube-system, which the team's namespace-scoped access entry cannot edit
    assert applied[1][1] == "/api/v1/namespaces/kube-system/configmaps/mwaa-platform-etl-node-pinning"
    assert params["data"] == {"key": NAMESPACE_LABEL, "value": "etl"}
    assert policy["spec"]["paramKind"] == {"apiVersion": "v1", "kind": "ConfigMap"}
    assert policy["spec"]["validations"][0]["expression"] == namespaces._PINNED
    assert "nodeName" in policy["spec"]["validations"][1]["expression"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["paramRef"] == {"name": "mwaa-platform-etl-node-pinning", "namespace": "kube-system",
                                           "parameterNotFoundAction": "Deny"}
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "etl"}


def test_no_input_is_ever_interpolated_into_an_admission_expression():
    """The node label used to sit inside quotes of the CEL expression: a quote in it rewrote the rule."""
    api = FakeApi()
    namespaces.reconcile(event(NodeLabelValue="etl", Team="team-a"), api)
    policy = next(document for call in api.calls if call[0] == "APPLY" for document in [call[2]]
                  if document["kind"] == "ValidatingAdmissionPolicy")
    expressions = [validation["expression"] for validation in policy["spec"]["validations"]]
    assert expressions == [namespaces._PINNED, namespaces._NO_NODE_NAME]
    assert not any(text in expression for expression in expressions for text in ("etl", "team-a", NAMESPACE_LABEL))


@pytest.mark.parametrize("properties, message", [
    ({"NodeLabelValue": "etl' || true || '"}, "NodeLabelValue must be a Kubernetes label value"),
    ({"NodeLabelKey": "a'b"}, "NodeLabelKey must be a Kubernetes label key"),
    ({"Namespace": "Team_B"}, "Namespace must be a DNS-1123 label"),
    ({"Namespace": "a" * 64}, "Namespace must be a DNS-1123 label"),
    ({"Team": "team b"}, "Team must be a Kubernetes label value"),
    ({"PodSecurity": "privileged"}, "PodSecurity privileged needs a PrivilegedReason of at least 30 characters"),
    ({"PodSecurity": "anything"}, "PodSecurity must be one of baseline, restricted"),
    ({"ClusterName": "tasks/../x"}, "ClusterName must be an EKS cluster name"),
    ({"Region": "eu-west-1'"}, "Region must be an AWS Region"),
])
def test_every_property_is_checked_before_any_call(properties, message):
    api = FakeApi()
    with pytest.raises(ValueError, match=re.escape(message)):
        namespaces.reconcile(event(**properties), api)
    assert api.calls == []


def test_privileged_is_accepted_only_with_a_reason():
    api = FakeApi()
    namespaces.reconcile(event(PodSecurity="privileged",
                               PrivilegedReason="The node exporter of the platform team needs host networking."), api)
    (namespace,) = [call[2] for call in api.calls if call[0] == "APPLY" and call[2]["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_another_teams_namespace_is_never_taken_over():
    api = FakeApi(existing={"metadata": {"labels": {TEAM_LABEL: "team-b"}}})
    with pytest.raises(RuntimeError, match="refusing to take it over"):
        namespaces.reconcile(event(), api)
    assert not [call for call in api.calls if call[0] == "APPLY"]
    # the team's own namespace without an owner (an older resource's, or a retried create) is taken over,
    # and marked adopted: deleting this resource (a rolled-back first deploy) will keep it
    api = FakeApi(existing={"metadata": {"labels": {TEAM_LABEL: "team-a"}}})
    assert namespaces.reconcile(event(), api) == ("tasks/etl#adopted", {"Namespace": "etl"})
    assert len([call for call in api.calls if call[0] == "APPLY"]) == 5
    adopted = {**event("Delete"), "PhysicalResourceId": "tasks/etl#adopted"}
    api = FakeApi(existing={"metadata": {"labels": {TEAM_LABEL: "team-a", "mwaa-platform/owner": OWNER,
                                                    "app.kubernetes.io/managed-by": "mwaa-platform"}}})
    assert namespaces.reconcile(adopted, api) == ("tasks/etl#adopted", {}) and api.calls == []
    # an update gives it the plain id: CloudFormation's delete of the marked one then deletes nothing
    assert namespaces.reconcile(event("Update"), FakeApi(existing={"metadata": {"labels": {
        TEAM_LABEL: "team-a", "mwaa-platform/owner": OWNER}}}))[0] == "tasks/etl"
    # a namespace another resource owns (the same namespace declared twice, an old template) is refused
    theirs = FakeApi(existing={"metadata": {"labels": {TEAM_LABEL: "team-a", "mwaa-platform/owner": "0123456789abcdef"}}})
    with pytest.raises(RuntimeError, match="is managed by another resource"):
        namespaces.reconcile(event("Update"), theirs)
    assert not [call for call in theirs.calls if call[0] == "APPLY"]


def test_two_resources_of_one_stack_never_own_one_namespace_both():
    """A library user's namespace resource moving to another construct path in the same stack: the new
    one takes the namespace over, and the old one's delete leaves it."""
    old = {**event("Delete"), "LogicalResourceId": "EksNamespaceD3EC2EC0"}
    assert namespaces.stack_owner(old) != OWNER
    api = FakeApi(existing={"metadata": {"labels": {TEAM_LABEL: "team-a", "mwaa-platform/owner": OWNER,
                                                    "app.kubernetes.io/managed-by": "mwaa-platform"}}})
    namespaces.reconcile(old, api)
    assert [call for call in api.calls if call[0] == "DELETE"] == []


def test_delete_removes_binding_policy_parameters_and_namespace_it_owns_only():
    owned = {"metadata": {"labels": {TEAM_LABEL: "team-a", "app.kubernetes.io/managed-by": "mwaa-platform",
                                     "mwaa-platform/owner": OWNER}}}
    api = FakeApi(existing=owned)
    namespaces.reconcile(event("Delete"), api)
    assert [path.rsplit("/", 2)[-2] for method, path in api.calls if method == "DELETE"] == [
        "validatingadmissionpolicybindings", "validatingadmissionpolicies", "configmaps", "namespaces"]
    # another team's namespace, or one this function did not label, is never deleted
    # nor one another stack applied last: a namespace moved from a team stack to the EKS stack
    moved = {**owned["metadata"]["labels"], "mwaa-platform/owner": "0123456789abcdef"}
    for labels in ({**owned["metadata"]["labels"], TEAM_LABEL: "team-b"}, {TEAM_LABEL: "team-a"}, {}, moved):
        api = FakeApi(existing={"metadata": {"labels": labels}})
        namespaces.reconcile(event("Delete"), api)
        assert [call for call in api.calls if call[0] == "DELETE"] == []
    # a delete with properties it would never have accepted touches nothing
    api = FakeApi(existing=owned)
    assert namespaces.reconcile(event("Delete", Namespace="kube-system'"), api) == ("tasks/etl", {})
    assert api.calls == []
    # a create that failed before naming anything has nothing to delete
    failed = {**event("Delete"), "PhysicalResourceId": "2026/11/21/[$LATEST]abc"}
    assert namespaces.reconcile(failed, FakeApi()) == ("2026/11/21/[$LATEST]abc", {})


def test_the_token_is_a_presigned_get_caller_identity_url_for_the_cluster():
    session = boto3.session.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret",
                                    region_name=TEST_REGION)
    token = namespaces.token("tasks", TEST_REGION, session)
    assert token.startswith("k8s-aws-v1.")
    encoded = token[len("k8s-aws-v1."):]
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    parsed = urllib.parse.urlparse(url)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.netloc == f"sts.{TEST_REGION}.amazonaws.com"
    assert query["Action"] == ["GetCallerIdentity"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0] and query["X-Amz-Expires"] == ["60"]


class FakeResponse:
    def __init__(self, body=b"{}"):
        self.body = body

    def read(self):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_api_client_applies_server_side_with_the_token_and_tolerates_what_is_gone(monkeypatch):
    import io
    import urllib.error

    sent = []

    def urlopen(request, context=None, timeout=None):
        sent.append(request)
        if request.get_method() in ("GET", "DELETE") and "missing" in request.full_url:
            raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, io.BytesIO(b"{}"))
        if "broken" in request.full_url:
            raise urllib.error.HTTPError(request.full_url, 403, "Forbidden", {}, io.BytesIO(b'{"reason":"Forbidden"}'))
        return FakeResponse(b'{"metadata": {"name": "etl"}}')

    monkeypatch.setattr(namespaces.urllib.request, "urlopen", urlopen)
    api = namespaces.KubernetesApi.__new__(namespaces.KubernetesApi)
    api.endpoint, api.context, api.bearer = "https://ABC.gr7.eu-west-1.eks.amazonaws.com", None, "k8s-aws-v1.token"
    api.apply("/api/v1/namespaces/etl", {"kind": "Namespace"})
    (request,) = sent
    assert request.get_method() == "PATCH"
    assert request.full_url.endswith("/api/v1/namespaces/etl?fieldManager=mwaa-platform&force=true")
    assert request.get_header("Content-type") == "application/apply-patch+yaml"
    assert request.get_header("Authorization") == "Bearer k8s-aws-v1.token"
    assert json.loads(request.data) == {"kind": "Namespace"}
    assert api.get("/api/v1/namespaces/missing") is None
    api.delete("/api/v1/namespaces/missing")  # already gone: fine
    with pytest.raises(RuntimeError, match="PATCH /api/v1/namespaces/broken.*HTTP 403"):
        api.apply("/api/v1/namespaces/broken", {})


def test_nodes_pull_their_teams_repositories_and_other_accounts_images_only():
    """Issue 24: AmazonEC2ContainerRegistryPullOnly allowed every repository of the account."""
    stack, compute = team_compute(image_repositories=["payments"])
    template = Template.from_stack(stack).to_json()
    role = template["Resources"][stack.get_logical_id(compute.node_group.node.scope.node.find_child("NodeRole").node.default_child)]
    assert "AmazonEC2ContainerRegistryPullOnly" not in json.dumps(role["Properties"]["ManagedPolicyArns"])
    (policy,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"
                 and "Image pulls" in r["Properties"].get("Description", "")]
    statements = {s["Sid"]: resolve_literals(s, template) for s in policy["PolicyDocument"]["Statement"]}
    assert statements["OwnRepositories"]["Resource"] == f"arn:aws:ecr:{TEST_REGION}:{TEST_ACCOUNT}:repository/payments"
    assert statements["OtherAccountsImages"]["Condition"] == {
        "StringNotEquals": {"aws:ResourceAccount": TEST_ACCOUNT}}
    assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"
    for wrong in (f"{TEST_ACCOUNT}.dkr.ecr.{TEST_REGION}.amazonaws.com/payments",
                  f"arn:aws:ecr:{TEST_REGION}:{TEST_ACCOUNT}:repository/payments", "Payments"):
        with pytest.raises(MwaaPlatformError, match="image_repositories entries must be ECR repository names"):
            team_compute(image_repositories=[wrong])
