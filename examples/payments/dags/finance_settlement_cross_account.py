"""payments-prod: a Glue job and an S3 upload in the finance account, through the roles the
connections assume (docs/cross-account.md).

finance_glue and finance_archive_us are Secrets Manager secrets the platform writes; the
environment's connections_lookup_pattern matches both, the roles are assumed through the STS
endpoint of eu-west-1, Glue is reached through the network's glue endpoint and the US archive
through a cross-Region S3 endpoint.
"""

from datetime import datetime

from airflow import DAG
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.transfers.local_to_s3 import LocalFilesystemToS3Operator

with DAG(dag_id="payments_finance_settlement", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False,
         tags=["payments", "cross-account"]) as dag:
    settle = GlueJobOperator(
        task_id="settle_eu",
        job_name="settlement-eu",
        aws_conn_id="finance_glue",          # assumes mwaa-payments-prod-finance_glue in 333333333333
        wait_for_completion=True,
    )
    archive = LocalFilesystemToS3Operator(
        task_id="archive",
        filename="/tmp/settlement.csv",
        dest_bucket="finance-archive-us",
        dest_key="payments/{{ ds }}/settlement.csv",
        aws_conn_id="finance_archive_us",    # us-east-1, through the same role pattern
        replace=True,
    )
    settle >> archive
