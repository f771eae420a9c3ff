"""payments-prod: the settlement runs in its own ECS Fargate task (docs/compute.md, EcsTaskCompute).

The operator's arguments are the payments-prod stack's outputs (EcsPaymentsSettlementCluster,
...NetworkConfiguration, ...LogGroup), kept in the Airflow variable ``payments_settlement`` (a
Secrets Manager secret under the environment's variables prefix) and rendered at run time: the
DAG file itself reads nothing when it is parsed.
"""

from datetime import datetime

from airflow import DAG
from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

with DAG(dag_id="payments_settlement_ecs", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False,
         render_template_as_native_obj=True, tags=["payments", "ecs"]) as dag:
    EcsRunTaskOperator(
        task_id="settle",
        cluster="{{ var.json.payments_settlement.cluster }}",
        task_definition="payments-settlement",
        launch_type="FARGATE",
        overrides={"containerOverrides": [{"name": "main", "command": ["settle", "{{ ds }}"]}]},
        network_configuration="{{ var.json.payments_settlement.network_configuration }}",
        awslogs_group="{{ var.json.payments_settlement.log_group }}",
        awslogs_stream_prefix="payments-settlement/main",
    )
