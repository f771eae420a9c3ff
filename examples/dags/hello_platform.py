"""Example DAG shipped with the example platform: one task, no external dependencies."""

from datetime import datetime

from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG(dag_id="hello_platform", start_date=datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
    EmptyOperator(task_id="hello")
