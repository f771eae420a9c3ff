"""The CloudFormation custom resource protocol, shared by every handler in this folder.

``run`` calls the handler's work function and always answers CloudFormation's pre-signed URL:
without an answer CloudFormation waits an hour before failing the stack operation.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

#: boto3 clients by service name, created on first use and kept for warm invocations.
_clients: dict[str, Any] = {}

#: A work function takes the event and returns (physical resource id or None, response data).
Work = Callable[[dict[str, Any]], "tuple[str | None, dict[str, str]]"]


def client(service: str) -> Any:
    """A boto3 client for ``service``, shared across warm invocations."""
    if service not in _clients:
        import boto3

        _clients[service] = boto3.client(service)
    return _clients[service]


def run(event: dict[str, Any], context: Any, work: Work) -> None:
    status, reason = "SUCCESS", "OK"
    data: dict[str, str] = {}
    physical_id = event.get("PhysicalResourceId")
    try:
        new_id, data = work(event)
        physical_id = new_id or physical_id
    except Exception as error:  # reported to CloudFormation, which fails the stack operation
        LOG.exception("%s %s failed", event.get("ResourceType"), event.get("RequestType"))
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
    send(event, context, status, physical_id or context.log_stream_name, data, reason)


def send(event, context, status, physical_id, data, reason):
    body = json.dumps(
        {
            "Status": status,
            "Reason": f"{reason} (log stream {context.log_stream_name})",
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"content-type": "", "content-length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (pre-signed https URL)
        LOG.info("CloudFormation response: %s", response.status)
