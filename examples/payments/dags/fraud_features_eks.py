"""payments-prod: a pod on the stage's EKS cluster, on the team's own nodes (docs/compute.md, EKS).

EksPodOperator imports airflow.providers.cncf.kubernetes, which MWAA's image does not ship: the
environment's requirements add it (examples/team/requirements-eks.txt).
"""

from datetime import datetime

from airflow import DAG
from airflow.providers.amazon.aws.operators.eks import EksPodOperator
from kubernetes.client import models as k8s

with DAG(dag_id="payments_fraud_features_eks", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False,
         tags=["payments", "eks"]) as dag:
    EksPodOperator(
        task_id="features",
        cluster_name="mwaa-platform-eks-prod",          # output EksClusterName
        region="eu-west-1",                              # output EksRegion
        namespace="payments",                            # output EksNamespace
        pod_name="fraud-features",
        image="222222222222.dkr.ecr.eu-west-1.amazonaws.com/payments:2026.11.1",
        cmds=["python", "-m", "fraud_features", "--date", "{{ ds }}"],
        node_selector={"mwaa-platform/namespace": "payments"},                # output EksNodeSelector
        tolerations=[k8s.V1Toleration(key="mwaa-platform/namespace", operator="Equal", value="payments",
                                      effect="NoSchedule")],                   # output EksTolerations
        get_logs=True,
        on_finish_action="delete_pod",
    )
