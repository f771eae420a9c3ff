"""payments-prod: an Airflow variable read from Secrets Manager at run time (the secrets backend,
``airflow/payments-prod/variables/payments_settlement``), never when the file is parsed."""

from datetime import datetime

from airflow import DAG
from airflow.models import Variable
from airflow.operators.python import PythonOperator


def show_settings() -> None:
    settings = Variable.get("payments_settlement", deserialize_json=True)
    print(f"settlement runs on ECS cluster {settings['cluster']}")


with DAG(dag_id="payments_secret_lookup", start_date=datetime(2026, 1, 1), schedule=None, catchup=False,
         tags=["payments", "secrets"]) as dag:
    PythonOperator(task_id="show_settings", python_callable=show_settings)
