"""CloudFormation custom resource ``Custom::MwaaEksNamespace``: a team's namespace on a private EKS cluster.

CloudFormation has no resource for what lives inside Kubernetes, and the cluster's API endpoint
is private, so this function runs in the cluster's VPC and speaks to the API directly (no kubectl).
Its token is a presigned STS ``GetCallerIdentity`` URL, as ``aws eks get-token`` makes it: signed
locally, no STS call. Endpoint and CA come from ``eks:DescribeCluster``.

Every property is checked before anything is called (``check_properties``): the namespace is a
DNS-1123 label, the team and node label follow Kubernetes' label syntax, the cluster and Region
their AWS names, and the Pod Security level is ``baseline`` or ``restricted``; ``privileged`` only
with a ``PrivilegedReason`` of at least 30 characters. A property that is not well formed fails the
stack operation naming it, so no caller can steer the function with a crafted value.

Create and Update server-side apply, as field manager ``mwaa-platform``:
- the namespace, labelled with its team, ``app.kubernetes.io/managed-by: mwaa-platform`` and Pod
  Security Admission's ``enforce`` level;
- in ``kube-system`` (which no team's access entry reaches), a ConfigMap holding the node label and
  value the namespace's pods must select;
- a ``NetworkPolicy`` in the namespace that denies all traffic but: from and to its own namespace,
  DNS to CoreDNS in ``kube-system``, the EKS Pod Identity agent, and HTTPS out (the VPC endpoints,
  S3 through the gateway; the internet only where the network has NAT). Another team's pods cannot
  reach these pods (the VPC CNI enforces it with ``enableNetworkPolicy``), and these reach another
  team's pods only where that namespace's own policy lets them in (every team namespace's denies);
- a ``ValidatingAdmissionPolicy`` whose expressions are constant and read the label from that
  ConfigMap (``paramKind``), and its binding to the namespace: any pod whose ``nodeSelector`` does
  not pin the team's node label, or that names a node directly, is denied. No input is ever
  interpolated into an expression. Taints only keep other pods off the team's nodes; this keeps the
  team's pods off other teams' nodes.

A namespace that exists without this team's label is refused, never adopted. Every object carries
its owning resource (``mwaa-platform/owner``, a hash of the stack id and logical id). A namespace
another resource owns is refused; one without an owner (made before owners were recorded, or by
hand) is taken over, and the resource's physical id marks it adopted: deleting that resource keeps
the namespace, so a rolled-back first deploy never deletes a namespace whose pods run. Delete
otherwise removes the binding, the policy, the ConfigMap and the namespace (with its pods), each
only if it carries this function's and this team's labels and this resource as owner.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import urllib.error
import urllib.request
from typing import Any, Callable, Optional

import cfn_response

MANAGER = "mwaa-platform"
TEAM_LABEL = "mwaa-platform/team"
MANAGED_BY = "app.kubernetes.io/managed-by"
OWNER_LABEL = "mwaa-platform/owner"
#: Ends the physical id of a resource that took over a namespace that existed before it: its delete keeps it.
ADOPTED = "#adopted"
#: Where the node-pinning parameters live: a namespace no team's access entry reaches.
PARAMS_NAMESPACE = "kube-system"
#: Pod Security Admission levels a namespace may enforce; ``privileged`` needs PrivilegedReason.
POD_SECURITY_LEVELS = ("baseline", "restricted")
MIN_REASON_LENGTH = 30
_TOKEN_PREFIX = "k8s-aws-v1."
_ADMISSION = "/apis/admissionregistration.k8s.io/v1"

# Kubernetes' own syntax (apimachinery validation): a DNS-1123 label, a label value, a label key's name part
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
# EKS CreateCluster name; an AWS Region
_CLUSTER = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")

# constant expressions: the node label and value come from the policy's parameters, never from text
_PINNED = ("has(object.spec.nodeSelector) && params.data.key in object.spec.nodeSelector && "
           "object.spec.nodeSelector[params.data.key] == params.data.value")
_NO_NODE_NAME = "!has(object.spec.nodeName) || oldObject != null"


def _label_key(value: str) -> bool:
    prefix, _, name = value.rpartition("/")
    return bool(_LABEL_NAME.match(name)) and (not prefix or bool(_DNS_SUBDOMAIN.match(prefix)))


def check_properties(properties: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming each property that is not well formed, with what is allowed."""
    rules: dict[str, tuple[Callable[[str], object], str]] = {
        "ClusterName": (_CLUSTER.match, "an EKS cluster name (letters, digits, - and _, at most 100)"),
        "Region": (_REGION.match, "an AWS Region such as eu-west-1"),
        "Namespace": (_DNS_LABEL.match, "a DNS-1123 label: lowercase letters, digits and -, at most 63"),
        "Team": (_LABEL_VALUE.match, "a Kubernetes label value: letters, digits, -, _ and ., at most 63"),
        "NodeLabelKey": (_label_key, "a Kubernetes label key: [DNS subdomain/]name"),
        "NodeLabelValue": (_LABEL_VALUE.match, "a Kubernetes label value"),
    }
    problems = []
    for name, (valid, allowed) in rules.items():
        value = properties.get(name)
        if not isinstance(value, str) or not value or not valid(value):
            problems.append(f"{name} must be {allowed}, got {str(value)[:80]!r}")
    level = properties.get("PodSecurity")
    reason = properties.get("PrivilegedReason")
    if level == "privileged":
        if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON_LENGTH:
            problems.append(f"PodSecurity privileged needs a PrivilegedReason of at least {MIN_REASON_LENGTH} characters")
    elif level not in POD_SECURITY_LEVELS:
        problems.append(f"PodSecurity must be one of {', '.join(POD_SECURITY_LEVELS)}, got {str(level)[:80]!r}")
    if problems:
        raise ValueError("; ".join(problems))


def handler(event, context):
    cfn_response.run(event, context, reconcile)


def reconcile(event: dict[str, Any], api: Optional["KubernetesApi"] = None) -> tuple[str, dict[str, str]]:
    properties = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        try:
            check_properties(properties)
        except ValueError:
            # nothing this function made can be named by properties it would never have accepted
            return event.get("PhysicalResourceId") or "invalid", {}
    else:
        check_properties(properties)
    cluster, namespace, team = properties["ClusterName"], properties["Namespace"], properties["Team"]
    owner = stack_owner(event)
    physical_id = f"{cluster}/{namespace}"
    if event["RequestType"] == "Delete" and event.get("PhysicalResourceId") != physical_id:
        # an adopted namespace (kept), or a create that failed before naming anything
        return event.get("PhysicalResourceId") or physical_id, {}
    api = api or KubernetesApi.for_cluster(cluster, properties["Region"])
    policy = f"{MANAGER}-{namespace}-node-pinning"
    if event["RequestType"] == "Delete":
        for path in (f"{_ADMISSION}/validatingadmissionpolicybindings/{policy}",
                     f"{_ADMISSION}/validatingadmissionpolicies/{policy}",
                     f"/api/v1/namespaces/{PARAMS_NAMESPACE}/configmaps/{policy}",
                     f"/api/v1/namespaces/{namespace}"):
            if _owned(api.get(path), team, owner):
                api.delete(path)
        return physical_id, {}
    existing = api.get(f"/api/v1/namespaces/{namespace}")
    labels = (existing or {}).get("metadata", {}).get("labels") or {}
    if existing is not None and labels.get(TEAM_LABEL) != team:
        raise RuntimeError(f"namespace {namespace} already exists and is not labelled {TEAM_LABEL}={team}: "
                           f"refusing to take it over; choose another namespace or delete it first")
    if labels.get(OWNER_LABEL) not in (None, owner):
        raise RuntimeError(f"namespace {namespace} is managed by another resource ({OWNER_LABEL}="
                           f"{labels[OWNER_LABEL]}); remove that resource first, or delete the label to hand it over")
    for path, document in documents(properties, policy, owner):
        api.apply(path, document)
    # a namespace that existed before this resource (made by an older resource, or by hand) is kept when
    # this resource is deleted: a rolled-back first deploy must not delete a namespace whose pods run.
    # Its physical id says so; the next update gives it the plain id, and CloudFormation's delete of the
    # marked one then deletes nothing.
    adopted = event["RequestType"] == "Create" and existing is not None and labels.get(OWNER_LABEL) != owner
    return physical_id + (ADOPTED if adopted else ""), {"Namespace": namespace}


def stack_owner(event: dict[str, Any]) -> str:
    """The owning resource as a label value: a hash of its stack id and logical id (an ARN is too long
    for a label). Two resources for one namespace, in two stacks or one, never own it both."""
    resource = f"{event.get('StackId', '')}/{event.get('LogicalResourceId', '')}"
    return hashlib.sha256(resource.encode()).hexdigest()[:16]


def _owned(found: Optional[dict[str, Any]], team: str, owner: str) -> bool:
    """Whether an object is this function's, made for this team by this stack: only those are ever deleted."""
    labels = (found or {}).get("metadata", {}).get("labels") or {}
    return labels.get(MANAGED_BY) == MANAGER and labels.get(TEAM_LABEL) == team and labels.get(OWNER_LABEL) == owner


def documents(properties: dict[str, Any], policy: str, owner: str) -> list[tuple[str, dict[str, Any]]]:
    """The objects to apply, each with its server-side-apply path."""
    namespace, team = properties["Namespace"], properties["Team"]
    node_label, node_value = properties["NodeLabelKey"], properties["NodeLabelValue"]
    owned = {TEAM_LABEL: team, MANAGED_BY: MANAGER, OWNER_LABEL: owner}
    labels = {**owned, "pod-security.kubernetes.io/enforce": properties["PodSecurity"]}
    return [
        (f"/api/v1/namespaces/{namespace}",
         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}}),
        (f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{MANAGER}-default-deny", {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"{MANAGER}-default-deny", "namespace": namespace, "labels": owned},
            "spec": {
                "podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [
                    {"to": [{"podSelector": {}}]},
                    {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                             "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                     "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                    {"ports": [{"protocol": "TCP", "port": 443}]},
                    # the EKS Pod Identity agent on each node, where pods get their AWS credentials
                    {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]},
                ],
            },
        }),
        (f"/api/v1/namespaces/{PARAMS_NAMESPACE}/configmaps/{policy}", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": policy, "namespace": PARAMS_NAMESPACE, "labels": owned},
            "data": {"key": node_label, "value": node_value},
        }),
        (f"{_ADMISSION}/validatingadmissionpolicies/{policy}", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": policy, "labels": owned},
            "spec": {
                "failurePolicy": "Fail",
                "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"],
                }]},
                "validations": [
                    {"expression": _PINNED,
                     "message": f"pods in namespace {namespace} must set nodeSelector {node_label}: {node_value}"},
                    {"expression": _NO_NODE_NAME,
                     "message": f"pods in namespace {namespace} may not name a node; use the nodeSelector"},
                ],
            },
        }),
        (f"{_ADMISSION}/validatingadmissionpolicybindings/{policy}", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy, "labels": owned},
            "spec": {
                "policyName": policy, "validationActions": ["Deny"],
                "paramRef": {"name": policy, "namespace": PARAMS_NAMESPACE, "parameterNotFoundAction": "Deny"},
                "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
            },
        }),
    ]


def token(cluster: str, region: str, session: Any = None) -> str:
    """A bearer token for ``cluster``: a presigned STS GetCallerIdentity URL, as ``aws eks get-token`` makes."""
    import boto3
    from botocore.signers import RequestSigner

    session = session or boto3.session.Session()
    sts = session.client("sts", region_name=region)
    signer = RequestSigner(sts.meta.service_model.service_id, region, "sts", "v4",
                           session.get_credentials(), session.events)
    url = signer.generate_presigned_url(
        {"method": "GET", "url": f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
         "body": {}, "headers": {"x-k8s-aws-id": cluster}, "context": {}},
        region_name=region, expires_in=60, operation_name="",
    )
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


class KubernetesApi:
    """The few calls this handler makes to a cluster's API server, over TLS pinned to its CA."""

    def __init__(self, endpoint: str, ca_pem: str, bearer: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.context = ssl.create_default_context(cadata=ca_pem)
        self.bearer = bearer

    @classmethod
    def for_cluster(cls, cluster: str, region: str) -> "KubernetesApi":
        described = cfn_response.client("eks").describe_cluster(name=cluster)["cluster"]
        ca = base64.b64decode(described["certificateAuthority"]["data"]).decode()
        return cls(described["endpoint"], ca, token(cluster, region))

    def get(self, path: str) -> Optional[dict[str, Any]]:
        return self._call("GET", path, missing_ok=True)

    def apply(self, path: str, document: dict[str, Any]) -> None:
        self._call("PATCH", f"{path}?fieldManager={MANAGER}&force=true", document,
                   content_type="application/apply-patch+yaml")

    def delete(self, path: str) -> None:
        self._call("DELETE", path, missing_ok=True)

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None, *,
              content_type: str = "application/json", missing_ok: bool = False) -> Optional[dict[str, Any]]:
        request = urllib.request.Request(
            self.endpoint + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.bearer}", "Content-Type": content_type,
                     "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code == 404 and missing_ok:
                return None
            raise RuntimeError(f"{method} {path}: HTTP {error.code} {error.read()[:500]!r}") from None
