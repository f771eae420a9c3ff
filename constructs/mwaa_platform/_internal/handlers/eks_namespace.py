"""CloudFormation custom resource ``Custom::MwaaEksNamespace``: a team's namespace on a private EKS cluster.

CloudFormation has no resource for what lives inside Kubernetes, and the cluster's API endpoint
is private, so this function runs in the cluster's VPC and speaks to the API directly (no kubectl).
Its token is a presigned STS ``GetCallerIdentity`` URL, as ``aws eks get-token`` makes it: signed
locally, no STS call. Endpoint and CA come from ``eks:DescribeCluster``.

Create and Update server-side apply, as field manager ``mwaa-platform``:
- the namespace, labelled with its team and Pod Security Admission's ``enforce`` level;
- a ``ValidatingAdmissionPolicy`` and its binding that deny any pod of the namespace whose
  ``nodeSelector`` does not pin the team's node label, or that names a node directly. Taints only
  keep other pods off the team's nodes; this keeps the team's pods off other teams' nodes.

A namespace that exists without this team's label is refused, never adopted. Delete removes the
binding, the policy and the namespace (with its pods); what is already gone is fine.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from typing import Any, Optional

import cfn_response

MANAGER = "mwaa-platform"
TEAM_LABEL = "mwaa-platform/team"
_TOKEN_PREFIX = "k8s-aws-v1."
_ADMISSION = "/apis/admissionregistration.k8s.io/v1"


def handler(event, context):
    cfn_response.run(event, context, reconcile)


def reconcile(event: dict[str, Any], api: Optional["KubernetesApi"] = None) -> tuple[str, dict[str, str]]:
    properties = event["ResourceProperties"]
    cluster, namespace = properties["ClusterName"], properties["Namespace"]
    physical_id = f"{cluster}/{namespace}"
    if event["RequestType"] == "Delete" and event.get("PhysicalResourceId") != physical_id:
        return event.get("PhysicalResourceId") or physical_id, {}  # a create that failed before naming anything
    api = api or KubernetesApi.for_cluster(cluster, properties["Region"])
    policy = f"{MANAGER}-{namespace}-node-pinning"
    if event["RequestType"] == "Delete":
        api.delete(f"{_ADMISSION}/validatingadmissionpolicybindings/{policy}")
        api.delete(f"{_ADMISSION}/validatingadmissionpolicies/{policy}")
        api.delete(f"/api/v1/namespaces/{namespace}")
        return physical_id, {}
    team = properties["Team"]
    existing = api.get(f"/api/v1/namespaces/{namespace}")
    if existing is not None and existing.get("metadata", {}).get("labels", {}).get(TEAM_LABEL) != team:
        raise RuntimeError(f"namespace {namespace} already exists and is not labelled {TEAM_LABEL}={team}: "
                           f"refusing to take it over; choose another namespace or delete it first")
    for path, document in documents(properties, policy):
        api.apply(path, document)
    return physical_id, {"Namespace": namespace}


def documents(properties: dict[str, Any], policy: str) -> list[tuple[str, dict[str, Any]]]:
    """The objects to apply, each with its server-side-apply path."""
    namespace, team = properties["Namespace"], properties["Team"]
    node_label, node_value = properties["NodeLabelKey"], properties["NodeLabelValue"]
    labels = {TEAM_LABEL: team, "app.kubernetes.io/managed-by": MANAGER,
              "pod-security.kubernetes.io/enforce": properties["PodSecurity"]}
    pinned = (f"has(object.spec.nodeSelector) && '{node_label}' in object.spec.nodeSelector && "
              f"object.spec.nodeSelector['{node_label}'] == '{node_value}'")
    return [
        (f"/api/v1/namespaces/{namespace}",
         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}}),
        (f"{_ADMISSION}/validatingadmissionpolicies/{policy}", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": policy, "labels": {TEAM_LABEL: team}},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"],
                }]},
                "validations": [
                    {"expression": pinned,
                     "message": f"pods in namespace {namespace} must set nodeSelector {node_label}: {node_value}"},
                    {"expression": "!has(object.spec.nodeName) || oldObject != null",
                     "message": f"pods in namespace {namespace} may not name a node; use the nodeSelector"},
                ],
            },
        }),
        (f"{_ADMISSION}/validatingadmissionpolicybindings/{policy}", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy, "labels": {TEAM_LABEL: team}},
            "spec": {
                "policyName": policy, "validationActions": ["Deny"],
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
