"""Least privilege read off a definition: the IAM statements of S3, Glue and Athena tasks whose
resources are literal in the YAML.

Only what is certain is derived. A task is understood when its operator is one of
``DERIVED_OPERATORS`` and the fields naming its resources are plain strings (no Jinja ``{{ }}``, no
XCom); everything else is left for explicit grants and reported as a warning. The actions are what
each operator calls in the Amazon provider (``airflow/providers/amazon/aws/operators``, 9.x):

========================  =====================================================  ==========================================
operator                  fields read                                            actions
========================  =====================================================  ==========================================
``S3ListOperator``,       ``bucket``, ``prefix``                                 ``s3:ListBucket`` (``s3:prefix`` condition)
``S3ListPrefixesOperator``
``S3CreateObjectOperator`` ``s3_bucket``, ``s3_key`` (or an ``s3://`` key)       ``s3:PutObject`` on the key
``S3CopyObjectOperator``  ``source_bucket_name``/``source_bucket_key``,          ``s3:GetObject`` (+``GetObjectVersion``) on
                          ``dest_bucket_name``/``dest_bucket_key``               the source, ``s3:PutObject`` on the target
``S3DeleteObjectsOperator`` ``bucket``, ``keys`` or ``prefix``                   ``s3:DeleteObject`` (+``ListBucket`` for a prefix)
``S3KeySensor``           ``bucket_name``, ``bucket_key`` (no wildcard/regex)    ``s3:GetObject`` (``HeadObject``) on the keys
``GlueJobOperator``       ``job_name`` (an existing job: no ``script_location``,  ``glue:GetJob``, ``StartJobRun``, ``GetJobRun``
                          ``create_job_kwargs``, ``update_config``)               (+``GetJobRuns``, ``BatchStopJobRun`` by option)
``GlueJobSensor``         ``job_name``                                           ``glue:GetJobRun``
``AthenaOperator``        ``workgroup``, ``database``, ``catalog``,              ``athena:StartQueryExecution``,
                          ``output_location``                                    ``GetQueryExecution``, ``StopQueryExecution``;
                                                                                 the Data Catalog reads of the database;
                                                                                 the result writes under ``output_location``
========================  =====================================================  ==========================================

An Athena query also reads its tables' data in S3, which the YAML does not name: grant it explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from aws_cdk import ArnFormat, Stack

from mwaa_platform.serverless.definition import WorkflowDefinition, WorkflowTask

__all__ = ["DERIVED_OPERATORS", "DerivedGrant", "DerivedGrants", "derive_grants"]

_S3 = "airflow.providers.amazon.aws.operators.s3."
_GLUE = "airflow.providers.amazon.aws.operators.glue."


@dataclass(frozen=True)
class DerivedGrant:
    """One statement for one task: its actions on its resources, with conditions where S3 lists a prefix.

    :param task_id: the task it is for.
    :param service: the service prefix of its actions, e.g. ``s3``.
    :param actions: the IAM actions.
    :param resources: the ARNs they apply to.
    :param conditions: IAM conditions. Default: none.
    """

    task_id: str
    service: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DerivedGrants:
    """What ``derive_grants`` read: the statements, and the tasks it left for explicit grants (with why)."""

    grants: tuple[DerivedGrant, ...]
    skipped: Mapping[str, str]

    @property
    def services(self) -> frozenset[str]:
        return frozenset(grant.service for grant in self.grants)


class _NotLiteral(Exception):
    pass


def _literal(task: WorkflowTask, key: str, *, required: bool = True) -> Optional[str]:
    value = task.arguments.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or "{{" in value or "{%" in value:
        raise _NotLiteral(f"{key} is {'not set' if value is None else 'not a literal string'}")
    return value


def _bucket_and_key(task: WorkflowTask, bucket_field: str, key_field: str) -> tuple[str, str]:
    """The bucket and key of an operator that takes either both or an ``s3://bucket/key`` key."""
    key = _literal(task, key_field)
    assert key is not None
    bucket = _literal(task, bucket_field, required=False)
    if key.startswith("s3://"):
        if bucket is not None:
            raise _NotLiteral(f"{key_field} is an s3:// URL and {bucket_field} is set too")
        bucket, _, key = key[len("s3://"):].partition("/")
    if not bucket or not key:
        raise _NotLiteral(f"{bucket_field} and {key_field} do not name a bucket and a key")
    return bucket, key


class _Builder:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.partition = stack.partition

    def bucket(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"

    def objects(self, bucket: str, key: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}/{key}"

    def arn(self, service: str, resource: str, name: Optional[str] = None) -> str:
        return self.stack.format_arn(service=service, resource=resource, resource_name=name,
                                     arn_format=ArnFormat.SLASH_RESOURCE_NAME if name else ArnFormat.NO_RESOURCE_NAME)


def _list(task: WorkflowTask, b: _Builder) -> list[DerivedGrant]:
    bucket = _literal(task, "bucket")
    assert bucket is not None
    prefix = task.arguments.get("prefix") or ""
    if not isinstance(prefix, str) or "{{" in prefix:
        raise _NotLiteral("prefix is not a literal string")
    conditions = {"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else {}
    return [DerivedGrant(task.task_id, "s3", ("s3:ListBucket",), (b.bucket(bucket),), conditions)]


def _create_object(task: WorkflowTask, b: _Builder) -> list[DerivedGrant]:
    bucket, key = _bucket_and_key(task, "s3_bucket", "s3_key")
    return [DerivedGrant(task.task_id, "s3", ("s3:PutObject",), (b.objects(bucket, key),))]


def _copy_object(task: WorkflowTask, b: _Builder) -> list[DerivedGrant]:
    if task.arguments.get("acl_policy"):
        raise _NotLiteral("acl_policy sets an ACL (s3:PutObjectAcl), which is not derived")
    source = _bucket_and_key(task, "source_bucket_name", "source_bucket_key")
    target = _bucket_and_key(task, "dest_bucket_name", "dest_bucket_key")
    reads = ("s3:GetObject", "s3:GetObjectVersion") if task.arguments.get("source_version_id") else ("s3:GetObject",)
    return [DerivedGrant(task.task_id, "s3", reads, (b.objects(*source),)),
            DerivedGrant(task.task_id, "s3", ("s3:PutObject",), (b.objects(*target),))]


def _delete_objects(task: WorkflowTask, b: _Builder) -> list[DerivedGrant]:
    bucket = _literal(task, "bucket")
    assert bucket is not None
    keys, prefix = task.arguments.get("keys"), task.arguments.get("prefix")
    if keys is not None:
        names = [keys] if isinstance(keys, str) else keys
        if not isinstance(names, list) or not names or not all(isinstance(k, str) and k and "{{" not in k for k in names):
            raise _NotLiteral("keys is not a literal key or list of keys")
        return [DerivedGrant(task.task_id, "s3", ("s3:DeleteObject",), tuple(b.objects(bucket, k) for k in names))]
    if not isinstance(prefix, str) or not prefix or "{{" in prefix:
        raise _NotLiteral("neither keys nor a literal prefix is set")
    return [DerivedGrant(task.task_id, "s3", ("s3:ListBucket",), (b.bucket(bucket),),
                         {"StringLike": {"s3:prefix": [f"{prefix}*"]}}),
            DerivedGrant(task.task_id, "s3", ("s3:DeleteObject",), (b.objects(bucket, f"{prefix}*"),))]


def _key_sensor(task: WorkflowTask, b: _Builder) -> list[DerivedGrant]:
    if task.arguments.get("wildcard_match") or task.arguments.get("use_regex"):
        raise _NotLiteral("wildcard_match and use_regex list the bucket by pattern, which is not derived")
    keys = task.arguments.get("bucket_key")
    names = [keys] if isinstance(keys, str) else keys
    if not isinstance(names, list) or not names or not all(isinstance(k, str) and k and "{{" not in k for k in names):
        raise _NotLiteral("bucket_key is not a literal key or list of keys")
    resources = []
    for name in names:
        one = WorkflowTask(task.task_id, task.operator, {**task.arguments, "bucket_key": name})
        resources.append(b.objects(*_bucket_and_key(one, "bucket_name", "bucket_key")))
    return [DerivedGrant(task.task_id, "s3", ("s3:GetObject",), tuple(resources))]


def _glue_job(task: WorkflowTask, b: _Builder) -> list[DerivedGrant]:
    for option in ("script_location", "create_job_kwargs", "update_config", "iam_role_name", "iam_role_arn"):
        if task.arguments.get(option):
            raise _NotLiteral(f"{option} creates or updates the job (glue:CreateJob, UpdateJob, iam:PassRole), "
                              "which is not derived")
    name = _literal(task, "job_name")
    actions = ["glue:GetJob", "glue:StartJobRun", "glue:GetJobRun"]
    if task.arguments.get("resume_glue_job_on_retry"):
        actions.append("glue:GetJobRuns")
    if task.arguments.get("stop_job_run_on_kill"):
        actions.append("glue:BatchStopJobRun")
    return [DerivedGrant(task.task_id, "glue", tuple(actions), (b.arn("glue", "job", name),))]


def _glue_job_sensor(task: WorkflowTask, b: _Builder) -> list[DerivedGrant]:
    return [DerivedGrant(task.task_id, "glue", ("glue:GetJobRun",), (b.arn("glue", "job", _literal(task, "job_name")),))]


def _athena(task: WorkflowTask, b: _Builder) -> list[DerivedGrant]:
    workgroup = task.arguments.get("workgroup", "primary")
    if not isinstance(workgroup, str) or not workgroup or "{{" in workgroup:
        raise _NotLiteral("workgroup is not a literal string")
    grants = [DerivedGrant(task.task_id, "athena",
                           ("athena:StartQueryExecution", "athena:GetQueryExecution", "athena:StopQueryExecution"),
                           (b.arn("athena", "workgroup", workgroup),))]
    catalog = task.arguments.get("catalog", "AwsDataCatalog")
    database = task.arguments.get("database")
    if catalog == "AwsDataCatalog" and isinstance(database, str) and database and "{{" not in database:
        grants.append(DerivedGrant(
            task.task_id, "glue",
            ("glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"),
            (b.arn("glue", "catalog"), b.arn("glue", "database", database), b.arn("glue", "table", f"{database}/*"))))
    output = task.arguments.get("output_location")
    if isinstance(output, str) and output.startswith("s3://") and "{{" not in output:
        bucket, _, prefix = output[len("s3://"):].partition("/")
        prefix = prefix if not prefix or prefix.endswith("/") else f"{prefix}/"
        grants += [
            DerivedGrant(task.task_id, "s3", ("s3:GetBucketLocation", "s3:ListBucket"), (b.bucket(bucket),)),
            DerivedGrant(task.task_id, "s3", ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"),
                         (b.objects(bucket, f"{prefix}*"),)),
        ]
    return grants


#: The operators ``derive_grants`` understands, each with the function reading its task.
DERIVED_OPERATORS: Mapping[str, Callable[[WorkflowTask, _Builder], list[DerivedGrant]]] = {
    f"{_S3}S3ListOperator": _list,
    f"{_S3}S3ListPrefixesOperator": _list,
    f"{_S3}S3CreateObjectOperator": _create_object,
    f"{_S3}S3CopyObjectOperator": _copy_object,
    f"{_S3}S3DeleteObjectsOperator": _delete_objects,
    "airflow.providers.amazon.aws.sensors.s3.S3KeySensor": _key_sensor,
    f"{_GLUE}GlueJobOperator": _glue_job,
    "airflow.providers.amazon.aws.sensors.glue.GlueJobSensor": _glue_job_sensor,
    "airflow.providers.amazon.aws.operators.athena.AthenaOperator": _athena,
}

#: Operators that call no AWS service: nothing to grant, nothing to report.
_NO_CALLS = ("airflow.operators.empty.EmptyOperator", "airflow.providers.standard.operators.empty.EmptyOperator")


def derive_grants(definition: WorkflowDefinition, stack: Stack) -> DerivedGrants:
    """The statements the tasks of ``definition`` need, where their resources are literal."""
    builder = _Builder(stack)
    grants: list[DerivedGrant] = []
    skipped: dict[str, str] = {}
    for task in definition.tasks.values():
        reader = DERIVED_OPERATORS.get(task.operator)
        if task.operator in _NO_CALLS:
            continue
        if reader is None:
            skipped[task.task_id] = f"{task.operator.rsplit('.', 1)[-1]} is not an operator derive_grants reads"
            continue
        try:
            grants.extend(reader(task, builder))
        except _NotLiteral as reason:
            skipped[task.task_id] = str(reason)
    return DerivedGrants(grants=tuple(grants), skipped=skipped)


def wildcard_resources(grants: Iterable[DerivedGrant]) -> list[str]:
    """The derived resources with a wildcard (a prefix, a database's tables), for the audit record."""
    return sorted({resource for grant in grants for resource in grant.resources if "*" in resource})
