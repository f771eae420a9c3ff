"""CloudFormation custom resource: put deploy-time artifacts into an MWAA source bucket.

Two resource types share this handler:

``Custom::MwaaArtifactObject`` copies one asset object (requirements.txt, plugins.zip, a startup
script) to a fixed key and returns the new object's ``VersionId``. CloudFormation only calls it
when its properties change, and the properties carry the asset's content-addressed key, so an
unchanged file never produces a new version and never updates the environment.

``Custom::MwaaDagSync`` unpacks a zipped DAG folder under a prefix and, with ``Prune``, deletes
objects under that prefix that the folder no longer has.

Delete leaves objects in place: the bucket is versioned and retained, and an environment being
replaced may still read them.
"""

from __future__ import annotations

import io
import mimetypes
import zipfile

import cfn_response


def handler(event, context):
    cfn_response.run(event, context, sync)


def sync(event):
    props = event["ResourceProperties"]
    creating = event["RequestType"] in ("Create", "Update")
    if event["ResourceType"] == "Custom::MwaaDagSync":
        physical_id = f"s3://{props['DestinationBucket']}/{props['DestinationPrefix']}"
        return physical_id, sync_dags(cfn_response.client("s3"), props) if creating else {}
    physical_id = f"s3://{props['DestinationBucket']}/{props['DestinationKey']}"
    return physical_id, {"VersionId": copy_object(cfn_response.client("s3"), props)} if creating else {}


def copy_object(s3, props) -> str:
    result = s3.copy_object(
        Bucket=props["DestinationBucket"],
        Key=props["DestinationKey"],
        CopySource={"Bucket": props["SourceBucket"], "Key": props["SourceKey"]},
        MetadataDirective="REPLACE",
        # No tags are copied, so no s3:GetObjectTagging / s3:PutObjectTagging permission is needed.
        TaggingDirective="REPLACE",
        ContentType=mimetypes.guess_type(props["DestinationKey"])[0] or "binary/octet-stream",
    )
    version = result.get("VersionId")
    if not version:
        raise RuntimeError(f"bucket {props['DestinationBucket']} returned no VersionId: is versioning on?")
    return version


def sync_dags(s3, props) -> dict:
    bucket, prefix = props["DestinationBucket"], props["DestinationPrefix"].rstrip("/") + "/"
    archive = s3.get_object(Bucket=props["SourceBucket"], Key=props["SourceKey"])["Body"].read()
    wanted = set()
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        for member in bundle.infolist():
            if member.is_dir():
                continue
            key = prefix + member.filename
            wanted.add(key)
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=bundle.read(member),
                ContentType=mimetypes.guess_type(member.filename)[0] or "binary/octet-stream",
            )
    deleted = []
    if str(props.get("Prune", "true")).lower() == "true":
        stale = [key for key in list_keys(s3, bucket, prefix) if key not in wanted]
        for start in range(0, len(stale), 1000):
            batch = stale[start : start + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
            deleted.extend(batch)
    return {"Uploaded": str(len(wanted)), "Deleted": str(len(deleted))}


def list_keys(s3, bucket, prefix):
    token = None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        for item in page.get("Contents", []):
            yield item["Key"]
        if not page.get("IsTruncated"):
            return
        token = page["NextContinuationToken"]
