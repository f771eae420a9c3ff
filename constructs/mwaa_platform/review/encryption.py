"""The review's encryption section: how each data store of the stack is encrypted at rest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Optional

from mwaa_platform.review._template import as_list, of_type, readable
from mwaa_platform.review.assembly import ReviewedStack
from mwaa_platform.review.markdown import code, table

__all__ = ["DATA_STORES", "encryption"]


def _key(value: Any, parameters: Mapping[str, Any], default: str) -> str:
    return f"KMS key {code(readable(value, parameters))}" if value else default


def _bucket(properties: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
    for rule in as_list((properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")):
        default = (rule or {}).get("ServerSideEncryptionByDefault") or {}
        algorithm = readable(default.get("SSEAlgorithm", "-"))
        if algorithm.startswith("aws:kms"):
            return f"{algorithm}, " + _key(default.get("KMSMasterKeyID"), parameters, "the AWS managed key aws/s3")
        return f"{algorithm} (S3 managed keys)"
    return "not set: S3 managed keys (SSE-S3), S3's default"


def _queue(properties: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
    if properties.get("KmsMasterKeyId"):
        return _key(properties["KmsMasterKeyId"], parameters, "")
    return "SQS managed keys (SSE-SQS)" if properties.get("SqsManagedSseEnabled") is not False else "none"


def _dynamodb(properties: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
    sse = properties.get("SSESpecification") or {}
    if sse.get("SSEEnabled") in (True, "true"):
        return _key(sse.get("KMSMasterKeyId"), parameters, "the AWS managed key aws/dynamodb")
    return "AWS owned key (DynamoDB's default)"


def _flag(name: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], str]:
    def describe(properties: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
        encrypted = properties.get(name) in (True, "true")
        return (_key(properties.get("KmsKeyId"), parameters, "encrypted, service key") if encrypted
                else f"NOT encrypted ({name} not true)")
    return describe


def _property(name: str, default: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], str]:
    def describe(properties: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
        value: Optional[Any] = properties
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return _key(value, parameters, default)
    return describe


#: Data store type -> how its encryption reads.
DATA_STORES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], str]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::Logs::LogGroup": _property("KmsKeyId", "CloudWatch Logs' service key"),
    "AWS::SNS::Topic": _property("KmsMasterKeyId", "NOT encrypted (no KmsMasterKeyId)"),
    "AWS::SQS::Queue": _queue,
    "AWS::SecretsManager::Secret": _property("KmsKeyId", "the AWS managed key aws/secretsmanager"),
    "AWS::MWAA::Environment": _property("KmsKey", "an AWS owned key"),
    "AWS::DynamoDB::Table": _dynamodb,
    "AWS::EFS::FileSystem": _flag("Encrypted"),
    "AWS::RDS::DBInstance": _flag("StorageEncrypted"),
    "AWS::RDS::DBCluster": _flag("StorageEncrypted"),
    "AWS::ECR::Repository": _property("EncryptionConfiguration.KmsKey", "AES-256 (ECR's default) unless KMS is set"),
    "AWS::Kinesis::Stream": _property("StreamEncryption.KeyId", "NOT encrypted (no StreamEncryption)"),
    "AWS::SSM::Parameter": lambda properties, parameters: "String parameter: not encrypted (no secrets belong here)",
    "AWS::EKS::Cluster": lambda properties, parameters: (
        "Kubernetes secrets: " + _key((as_list(properties.get("EncryptionConfig")) or [{}])[0].get("Provider", {})
                                      .get("KeyArn"), parameters, "EKS default encryption")),
}


def encryption(stack: ReviewedStack) -> list[str]:
    rows = [(code(logical_id), stack.resources[logical_id]["Type"], DATA_STORES[stack.resources[logical_id]["Type"]](
        properties, stack.parameters)) for logical_id, properties in of_type(stack.resources, *DATA_STORES)]
    keys = table(("KMS key", "rotation", "pending deletion window"), (
        (code(logical_id), "on" if properties.get("EnableKeyRotation") in (True, "true") else "OFF",
         f"{properties.get('PendingWindowInDays', 30)} days")
        for logical_id, properties in of_type(stack.resources, "AWS::KMS::Key")), empty="No KMS keys in this stack.")
    return [*table(("data store", "type", "encryption at rest"), rows, empty="No data stores."), *keys]
