"""payments-prod: the settlement runs in its own ECS Fargate task (docs/compute.md, EcsTaskCompute).

The DAG starts the task family's Step Functions launcher, named after the family (stack output
EcsPaymentsSettlementStateMachine). The launcher runs the task in the team's cluster, subnets and
security groups, which the DAG cannot change; the input sets only the container's command and
environment. ``deferrable=True`` waits for the task to stop in the triggerer (without it the
operator returns once the execution has started).
"""

from datetime import datetime

from airflow import DAG
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator

with DAG(dag_id="payments_settlement_ecs", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False,
         tags=["payments", "ecs"]) as dag:
    StepFunctionStartExecutionOperator(
        task_id="settle",
        state_machine_arn="arn:aws:states:eu-west-1:222222222222:stateMachine:payments-settlement",
        name="settle-{{ ds_nodash }}-{{ ti.try_number }}",
        state_machine_input={"command": ["settle", "{{ ds }}"], "environment": {"RUN_DATE": "{{ ds }}"}},
        deferrable=True,
        waiter_delay=30,
        waiter_max_attempts=240,   # two hours
    )
