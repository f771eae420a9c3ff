"""analytics on the shared environment central-prod: an ECS task and a pod on the team's own EKS
nodes; its DAGs live under dags/analytics/ of central's bucket."""

from datetime import datetime

from airflow import DAG
from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator
from airflow.providers.amazon.aws.operators.eks import EksPodOperator
from kubernetes.client import models as k8s

with DAG(dag_id="analytics_features", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False,
         render_template_as_native_obj=True, tags=["analytics"]) as dag:
    extract = EcsRunTaskOperator(
        task_id="extract",
        cluster="{{ var.json.analytics_features.cluster }}",      # output EcsAnalyticsFeaturesCluster
        task_definition="analytics-features",
        launch_type="FARGATE",
        overrides={"containerOverrides": [{"name": "main", "command": ["extract", "{{ ds }}"]}]},
        network_configuration="{{ var.json.analytics_features.network_configuration }}",
        awslogs_group="{{ var.json.analytics_features.log_group }}",
        awslogs_stream_prefix="analytics-features/main",
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
