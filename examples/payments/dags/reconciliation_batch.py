"""payments-prod: the reconciliation runs as an AWS Batch job (docs/compute.md, BatchCompute)."""

from datetime import datetime

from airflow import DAG
from airflow.providers.amazon.aws.operators.batch import BatchOperator

with DAG(dag_id="payments_reconciliation_batch", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False,
         tags=["payments", "batch"]) as dag:
    BatchOperator(
        task_id="reconcile",
        job_name="reconcile-{{ ds_nodash }}",
        job_queue="{{ var.json.payments_settlement.job_queue }}",   # output BatchJobQueue
        job_definition="payments-reconciliation",
        container_overrides={"command": ["reconcile", "{{ ds }}"]},
    )
