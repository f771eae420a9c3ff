"""analytics on the shared environment central-prod: an ECS task and a pod on the team's own EKS
nodes; its DAGs live under dags/analytics/ of central's bucket."""

from datetime import datetime

from airflow import DAG
from airflow.providers.amazon.aws.operators.eks import EksPodOperator
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from kubernetes.client import models as k8s

with DAG(dag_id="analytics_features", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False,
         tags=["analytics"]) as dag:
    extract = StepFunctionStartExecutionOperator(     # the task family's launcher (docs/compute.md)
        task_id="extract",
        state_machine_arn="arn:aws:states:eu-west-1:222222222222:stateMachine:analytics-features",
        state_machine_input={"command": ["extract", "{{ ds }}"]},
        deferrable=True,
    )
    train = EksPodOperator(
        task_id="train",
        cluster_name="mwaa-platform-eks-prod",
        region="eu-west-1",
        namespace="analytics",
        pod_name="features-train",
        image="222222222222.dkr.ecr.eu-west-1.amazonaws.com/analytics:2026.11.1",
        cmds=["python", "-m", "features", "--date", "{{ ds }}"],
        node_selector={"mwaa-platform/namespace": "analytics"},
        tolerations=[k8s.V1Toleration(key="mwaa-platform/namespace", operator="Equal", value="analytics",
                                      effect="NoSchedule")],
        get_logs=True,
        on_finish_action="delete_pod",
    )
    extract >> train
