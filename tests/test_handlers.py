"""The custom resource handlers, against botocore's Stubber (no AWS calls)."""

import io
import json
import zipfile

import boto3
import pytest
from botocore.stub import ANY, Stubber

from harness import load_handler

handler = load_handler("artifact_sync")
cfn_response = load_handler("cfn_response")
prefix_list = load_handler("prefix_list")


class Context:
    log_stream_name = "2026/11/21/[$LATEST]abc"


def stubbed(monkeypatch, service):
    client = boto3.client(service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setitem(cfn_response._clients, service, client)
    return Stubber(client)


@pytest.fixture
def s3(monkeypatch):
    with stubbed(monkeypatch, "s3") as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def ec2(monkeypatch):
    with stubbed(monkeypatch, "ec2") as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def responses(monkeypatch):
    sent = []
    monkeypatch.setattr(cfn_response, "send", lambda event, context, *args: sent.append(args))
    return sent


def event(resource_type, request_type="Create", **props):
    return {
        "RequestType": request_type, "ResourceType": resource_type, "ResourceProperties": props,
        "StackId": "stack", "RequestId": "req", "LogicalResourceId": "Res", "ResponseURL": "https://example.invalid/",
    }


def test_copy_returns_the_new_object_version(s3, responses):
    s3.add_response(
        "copy_object", {"VersionId": "v2"},
        {"Bucket": "dest", "Key": "requirements/requirements.txt", "CopySource": {"Bucket": "assets", "Key": "abc.txt"},
         "MetadataDirective": "REPLACE", "TaggingDirective": "REPLACE", "ContentType": "text/plain"},
    )
    handler.handler(event("Custom::MwaaArtifactObject", SourceBucket="assets", SourceKey="abc.txt",
                          DestinationBucket="dest", DestinationKey="requirements/requirements.txt"), Context())
    assert responses == [("SUCCESS", "s3://dest/requirements/requirements.txt", {"VersionId": "v2"}, "OK")]


def test_unversioned_bucket_fails_the_stack_operation(s3, responses):
    s3.add_response("copy_object", {}, None)
    handler.handler(event("Custom::MwaaArtifactObject", SourceBucket="a", SourceKey="k",
                          DestinationBucket="dest", DestinationKey="plugins/plugins.zip"), Context())
    (status, physical_id, data, reason), = responses
    assert status == "FAILED" and "returned no VersionId" in reason


def test_delete_leaves_objects_in_place(s3, responses):
    handler.handler(event("Custom::MwaaArtifactObject", "Delete", SourceBucket="a", SourceKey="k",
                          DestinationBucket="dest", DestinationKey="startup/startup.sh"), Context())
    assert responses[0][0] == "SUCCESS"  # the Stubber asserts no S3 call was made


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, text in files.items():
            bundle.writestr(name, text)
    return buffer.getvalue()


def test_dag_sync_uploads_the_folder_and_prunes_stale_objects(s3, responses):
    from botocore.response import StreamingBody

    archive = _zip({"a.py": "# a", "sub/b.py": "# b"})
    s3.add_response("get_object", {"Body": StreamingBody(io.BytesIO(archive), len(archive))},
                    {"Bucket": "assets", "Key": "dags.zip"})
    for key in ("dags/a.py", "dags/sub/b.py"):
        s3.add_response("put_object", {}, {"Bucket": "dest", "Key": key, "Body": ANY, "ContentType": "text/x-python"})
    s3.add_response("list_objects_v2", {"Contents": [{"Key": "dags/a.py"}, {"Key": "dags/old.py"}], "IsTruncated": True,
                                        "NextContinuationToken": "t"}, {"Bucket": "dest", "Prefix": "dags/"})
    s3.add_response("list_objects_v2", {"Contents": [{"Key": "dags/sub/b.py"}, {"Key": "dags/gone/c.py"}], "IsTruncated": False},
                    {"Bucket": "dest", "Prefix": "dags/", "ContinuationToken": "t"})
    s3.add_response("delete_objects", {}, {"Bucket": "dest", "Delete": {
        "Objects": [{"Key": "dags/old.py"}, {"Key": "dags/gone/c.py"}], "Quiet": True}})
    handler.handler(event("Custom::MwaaDagSync", "Update", SourceBucket="assets", SourceKey="dags.zip",
                          DestinationBucket="dest", DestinationPrefix="dags", Prune="true"), Context())
    assert responses == [("SUCCESS", "s3://dest/dags", {"Uploaded": "2", "Deleted": "2"}, "OK")]


def test_response_body_is_what_cloudformation_expects(monkeypatch):
    captured = {}

    class Response:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(request, timeout):
        captured.update(url=request.full_url, method=request.get_method(), body=json.loads(request.data))
        return Response()

    monkeypatch.setattr(cfn_response.urllib.request, "urlopen", fake_urlopen)
    cfn_response.send(event("Custom::MwaaDagSync"), Context(), "SUCCESS", "s3://d/dags", {"Uploaded": "1"}, "OK")
    assert captured["method"] == "PUT" and captured["url"] == "https://example.invalid/"
    assert captured["body"] == {
        "Status": "SUCCESS", "Reason": "OK (log stream 2026/11/21/[$LATEST]abc)", "PhysicalResourceId": "s3://d/dags",
        "StackId": "stack", "RequestId": "req", "LogicalResourceId": "Res", "Data": {"Uploaded": "1"},
    }


def test_prefix_list_lookup_returns_the_id_as_physical_id_and_attribute(ec2, responses):
    name = "com.amazonaws.eu-west-1.s3"
    ec2.add_response("describe_managed_prefix_lists", {"PrefixLists": [{"PrefixListId": "pl-6da54004"}]},
                     {"Filters": [{"Name": "prefix-list-name", "Values": [name]}]})
    prefix_list.handler(event("Custom::MwaaPrefixList", PrefixListName=name), Context())
    assert responses == [("SUCCESS", "pl-6da54004", {"PrefixListId": "pl-6da54004"}, "OK")]


def test_prefix_list_lookup_fails_when_the_name_is_unknown(ec2, responses):
    ec2.add_response("describe_managed_prefix_lists", {"PrefixLists": []}, None)
    prefix_list.handler(event("Custom::MwaaPrefixList", PrefixListName="com.amazonaws.xx-nowhere-1.s3"), Context())
    (status, physical_id, data, reason), = responses
    assert status == "FAILED" and "com.amazonaws.xx-nowhere-1.s3" in reason and physical_id == Context.log_stream_name


def test_prefix_list_delete_calls_nothing(ec2, responses):
    prefix_list.handler(event("Custom::MwaaPrefixList", "Delete", PrefixListName="x") | {"PhysicalResourceId": "pl-1"},
                        Context())
    assert responses == [("SUCCESS", "pl-1", {}, "OK")]
