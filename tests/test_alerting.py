"""Alerting: the topic and its policy, alarms on MWAA's real metrics, failure events, dashboards, the budget."""

import copy
import json
from types import SimpleNamespace

import pytest
from aws_cdk.assertions import Template

from harness import (
    TEST_ACCOUNT,
    TEST_REGION,
    acknowledgments,
    assert_nag_clean,
    event_matches,
    new_stack,
)
from mwaa_platform import AirflowEnvironment, AirflowNetwork, MwaaPlatformError
from mwaa_platform.alerting import (
    AlertSubscriptions,
    AlertTopic,
    EnvironmentAlarms,
    FailureEvents,
    PlatformDashboard,
    SlackChannel,
    TeamBudget,
    TeamDashboard,
    batch_job_failed_pattern,
    check_statsd_filters,
    ecs_task_failed_pattern,
    environment_status_pattern,
)
from mwaa_platform.alerting.alarms import check_metrics_filters  # alerting/__init__ exports the old name only

CLUSTER = f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:cluster/team-a"
QUEUE = f"arn:aws:batch:{TEST_REGION}:{TEST_ACCOUNT}:job-queue/team-a"


@pytest.fixture(scope="module")
def built():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    env = AirflowEnvironment(stack, "Env", environment_name="team-a", network=network, airflow_version="2.11.0",
                             environment_class="mw1.medium")
    topic = AlertTopic(stack, "Alerts", display_name="team-a alerts",
                       subscriptions=AlertSubscriptions(emails=["data-oncall@example.com"]))
    alarms = EnvironmentAlarms(stack, "Alarms", environment=env, topic=topic,
                               thresholds={"queued_tasks": {"threshold": 40, "evaluation_periods": 2}})
    failures = FailureEvents(stack, "Failures", topic=topic, environment_name="team-a", ecs_cluster_arns=[CLUSTER],
                             batch_job_queue_arns=[QUEUE])
    TeamDashboard(stack, "Dashboard", dashboard_name="team-a", environment=env, alarms=alarms, failure_events=failures)
    budget = TeamBudget(stack, "Budget", budget_name="team-a", team="team-a", monthly_limit_usd=2500, topic=topic)
    template = Template.from_stack(stack).to_json()
    return SimpleNamespace(stack=stack, env=env, topic=topic, alarms=alarms, failures=failures, budget=budget,
                           json=template)


def of_type(built, kind):
    return {name: body for name, body in built.json["Resources"].items() if body["Type"] == kind}


def logical_id(built, construct):
    return built.stack.get_logical_id(construct.node.default_child or construct)


# --- alarms: namespace, metric, dimensions, threshold, missing data (mw1.medium defaults) ------------

AIRFLOW, SERVICE = "AmazonMWAA", "AWS/MWAA"
EXPECTED = {
    # name: (namespace, metric, extra dimensions, statistic, comparison, threshold, periods, missing data)
    "scheduler-heartbeat": (AIRFLOW, "SchedulerHeartbeat", {"Function": "Scheduler"}, "Sum", "LessThanThreshold", 1, 2,
                            "breaching"),
    "queued-tasks": (AIRFLOW, "QueuedTasks", {"Function": "Executor"}, "Maximum", "GreaterThanThreshold", 40, 2,
                     "notBreaching"),
    "queue-age": (SERVICE, "ApproximateAgeOfOldestTask", {}, "Maximum", "GreaterThanThreshold", 600, 3, "notBreaching"),
    "import-errors": (AIRFLOW, "ImportErrors", {"Function": "DAG Processing"}, "Maximum", "GreaterThanThreshold", 0, 1,
                      "notBreaching"),
    **{f"{kind}-{cluster.lower()}": (SERVICE, metric, {"Cluster": cluster}, "Average", "GreaterThanThreshold", 90, 3,
                                     "notBreaching")
       for kind, metric in (("cpu", "CPUUtilization"), ("memory", "MemoryUtilization"))
       for cluster in ("Scheduler", "BaseWorker", "AdditionalWorker", "WebServer")},
    "database-cpu": (SERVICE, "CPUUtilization", {"DatabaseRole": "WRITER"}, "Average", "GreaterThanThreshold", 90, 3,
                     "notBreaching"),
    "database-freeable-memory": (SERVICE, "FreeableMemory", {"DatabaseRole": "WRITER"}, "Average", "LessThanThreshold",
                                 512 * 1024 * 1024, 3, "notBreaching"),
    "database-connections": (SERVICE, "DatabaseConnections", {"DatabaseRole": "WRITER"}, "Maximum",
                             "GreaterThanThreshold", 200, 3, "notBreaching"),
}


def test_every_alarm_watches_the_metric_mwaa_publishes_with_its_dimensions(built):
    alarms = {b["Properties"]["AlarmName"]: b["Properties"] for b in of_type(built, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {f"team-a-{name}" for name in EXPECTED}
    topic = {"Ref": logical_id(built, built.topic.topic)}
    for name, (namespace, metric, dimensions, statistic, comparison, threshold, periods, missing) in EXPECTED.items():
        alarm = alarms[f"team-a-{name}"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (namespace, metric, statistic), name
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"Environment": "team-a", **dimensions}, name
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
            comparison, threshold, periods), name
        assert alarm["TreatMissingData"] == missing and alarm["Period"] == 300, name
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], name
        assert "First check:" in alarm["AlarmDescription"]


def test_queued_tasks_exists_in_both_namespaces_and_each_alarm_uses_the_right_one(built):
    alarms = {b["Properties"]["MetricName"] + b["Properties"]["Namespace"] for b in
              of_type(built, "AWS::CloudWatch::Alarm").values()}
    assert "QueuedTasksAmazonMWAA" in alarms and "SchedulerHeartbeatAWS/MWAA" not in alarms


def test_a_micro_environment_gets_its_own_defaults_and_no_additional_worker_alarms():
    stack = new_stack()
    env = AirflowEnvironment(stack, "Env", environment_name="tiny", network=AirflowNetwork(stack, "Network"),
                             airflow_version="2.11.0", environment_class="mw1.micro")
    alarms = EnvironmentAlarms(stack, "Alarms", environment=env, topic=AlertTopic(stack, "T", display_name="tiny"))
    assert "cpu-additionalworker" not in alarms.alarms and "memory-additionalworker" not in alarms.alarms
    assert alarms.thresholds.queued_tasks.threshold == 15  # 5 x 3 tasks per worker
    assert alarms.thresholds.database_connections.threshold == 60


@pytest.mark.parametrize("overrides, message", [
    ({"queued": {"threshold": 1}}, "thresholds: unknown alarm 'queued'; allowed: scheduler_heartbeat"),
    ({"queued_tasks": {"limit": 1}}, "thresholds.queued_tasks: unknown setting 'limit'"),
    ({"queued_tasks": {"threshold": -1}}, "thresholds.queued_tasks.threshold must be a number of at least 0, got -1"),
    ({"cpu_percent": {"period_minutes": 7}}, "thresholds.cpu_percent.period_minutes must be one of 1, 5, 10, 15, 30, 60"),
    ({"cpu_percent": {"evaluation_periods": 0}}, "thresholds.cpu_percent.evaluation_periods must be 1-24, got 0"),
])
def test_bad_thresholds_fail_naming_the_setting(overrides, message):
    stack = new_stack()
    env = AirflowEnvironment.from_environment_name(stack, "Env", "team-a")
    with pytest.raises(MwaaPlatformError, match=message):
        EnvironmentAlarms(stack, "Alarms", environment=env, topic=AlertTopic(stack, "T", display_name="t"),
                          thresholds=overrides)


@pytest.mark.parametrize("options, version, message", [
    ({"metrics.statsd_allow_list": "scheduler,executor"}, "2.11.0",
     "^metrics.statsd_allow_list 'scheduler,executor' drops Airflow metric dag_processing.import_errors, which alarm "
     "import-errors needs: add dag_processing"),
    ({"metrics.statsd_block_list": "executor"}, "2.11.0",
     "statsd_block_list 'executor' drops Airflow metric executor.queued_tasks"),
    ({"metrics.statsd_allow_list": "^scheduler_,^dag_", "metrics.metrics_use_pattern_match": "True"}, "2.11.0",
     "drops Airflow metric executor.queued_tasks"),
    # the options every version reads: passed unchecked before
    ({"metrics.metrics_allow_list": "scheduler,executor"}, "3.0.6",
     "^metrics.metrics_allow_list 'scheduler,executor' drops Airflow metric dag_processing.import_errors, which "
     "alarm import-errors needs: add dag_processing to the allow list$"),
    ({"metrics.metrics_block_list": "executor"}, "2.11.0",
     "^metrics.metrics_block_list 'executor' drops Airflow metric executor.queued_tasks, which alarm queued-tasks "
     "needs: remove it from the block list$"),
    # on Airflow 2 the new name wins over the old one when both are set
    ({"metrics.metrics_allow_list": "scheduler", "metrics.statsd_allow_list": "scheduler,executor,dag_processing"},
     "2.11.0", "^metrics.metrics_allow_list 'scheduler' drops Airflow metric executor.queued_tasks"),
    # Airflow 3 matches entries as regular expressions anywhere in the name, with no switch
    ({"metrics.metrics_block_list": "queued"}, "3.0.6", "^metrics.metrics_block_list 'queued' drops Airflow metric "
     "executor.queued_tasks"),
    ({"metrics.metrics_use_pattern_match": "t", "metrics.metrics_block_list": "import"}, "2.11.0",
     "drops Airflow metric dag_processing.import_errors"),
    # an unknown version is checked as both majors read the options
    ({"metrics.statsd_allow_list": "scheduler"}, None, "^metrics.statsd_allow_list 'scheduler' drops Airflow metric "
     "executor.queued_tasks on Airflow 2, which alarm queued-tasks needs"),
    ({"metrics.metrics_block_list": "heartbeat"}, None, "^metrics.metrics_block_list 'heartbeat' drops Airflow metric "
     "scheduler_heartbeat on Airflow 3,"),
    ({"metrics.metrics_allow_list": "scheduler,executor,dag_processing", "metrics.metrics_use_pattern_match": "true"},
     "2.11.0", None),
    ({"metrics.metrics_allow_list": "(unclosed"}, "3.0.6",
     "metrics.metrics_allow_list entries are regular expressions on this Airflow version, got '\\(unclosed'"),
])
def test_metrics_filters_that_would_starve_an_alarm_fail_at_synthesis(options, version, message):
    if message is None:
        check_metrics_filters(options, airflow_version=version)
        return
    with pytest.raises(MwaaPlatformError, match=message):
        check_metrics_filters(options, airflow_version=version)


@pytest.mark.parametrize("options, version", [
    ({"metrics.statsd_allow_list": "scheduler,executor,dag_processing,ti"}, None),
    ({"metrics.statsd_allow_list": "heartbeat$,queued,import", "metrics.metrics_use_pattern_match": "true"}, "2.11.0"),
    ({"metrics.metrics_allow_list": "heartbeat$,queued,import"}, "3.0.6"),
    # Airflow 3 does not read the old name (the environment refuses it there), Airflow 2 would drop metrics
    ({"metrics.statsd_allow_list": "scheduler"}, "3.0.6"),
    # a non-empty allow list wins: Airflow ignores the block list then
    ({"metrics.metrics_allow_list": "scheduler,executor,dag_processing", "metrics.metrics_block_list": "executor"},
     "2.11.0"),
    # an empty new name shadows the old one on Airflow 2, as Airflow reads it
    ({"metrics.metrics_allow_list": "", "metrics.statsd_allow_list": "scheduler"}, "2.11.0"),
    # Airflow keeps an empty entry, which every name starts with
    ({"metrics.metrics_allow_list": "scheduler,"}, "2.11.0"),
])
def test_metrics_filters_that_keep_every_alarm_metric_pass(options, version):
    check_metrics_filters(options, airflow_version=version)
    assert check_statsd_filters is check_metrics_filters  # the old name stays importable


def test_alarms_read_the_environments_own_metrics_filters_and_version():
    stack = new_stack()
    network = AirflowNetwork(stack, "Network")
    topic = AlertTopic(stack, "T", display_name="t")
    lean = AirflowEnvironment(stack, "Env", environment_name="lean", network=network, airflow_version="2.11.0",
                              metrics_allow_list=["scheduler", "ti"])
    with pytest.raises(MwaaPlatformError, match="Test/Alarms: metrics.metrics_allow_list 'scheduler,ti' drops"):
        EnvironmentAlarms(stack, "Alarms", environment=lean, topic=topic)
    # a prefix block list on Airflow 2 keeps executor.queued_tasks; Airflow 3 matches "queued" anywhere
    three = AirflowEnvironment(stack, "Three", environment_name="three", network=network, airflow_version="3.0.6",
                               airflow_configuration_options={"metrics.metrics_block_list": "queued"})
    with pytest.raises(MwaaPlatformError, match="Test/Alarms3: metrics.metrics_block_list 'queued' drops Airflow "
                                                "metric executor.queued_tasks, which"):
        EnvironmentAlarms(stack, "Alarms3", environment=three, topic=topic)
    with pytest.raises(MwaaPlatformError, match=r"airflow_version '2.11.0' is not the environment's own \(3.0.6\)"):
        EnvironmentAlarms(stack, "Mismatch", environment=three, topic=topic, airflow_version="2.11.0")
    imported = AirflowEnvironment.from_environment_name(stack, "Imported", "imported")
    EnvironmentAlarms(stack, "Imported2", environment=imported, topic=topic, airflow_version="2.11.0",
                      airflow_configuration_options={"metrics.metrics_block_list": "queued"})
    with pytest.raises(MwaaPlatformError, match="drops Airflow metric executor.queued_tasks on Airflow 3"):
        EnvironmentAlarms(stack, "ImportedUnknown", environment=imported, topic=topic,
                          airflow_configuration_options={"metrics.metrics_block_list": "queued"})


# --- the topic ----------------------------------------------------------------------------------


def test_the_topic_policy_admits_only_tls_and_this_teams_alarms_rules_and_budget(built):
    (policy,) = of_type(built, "AWS::SNS::TopicPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"AllowPublishThroughSSLOnly", "CloudWatchAlarms", "EventBridgeRules", "Budgets"}
    deny = statements["AllowPublishThroughSSLOnly"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    alarms = statements["CloudWatchAlarms"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": TEST_ACCOUNT}
    assert sorted(a["Fn::GetAtt"][0] for a in alarms["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        logical_id(built, alarm) for alarm in built.alarms.alarms.values())
    rules = statements["EventBridgeRules"]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(r["Fn::GetAtt"][0] for r in rules) == sorted(
        logical_id(built, rule) for rule in built.failures.rules.values())
    assert statements["Budgets"]["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        f"arn:aws:budgets::{TEST_ACCOUNT}:budget/team-a"]
    assert all(s["Action"] == "sns:Publish" for s in statements.values())


def test_the_topic_is_encrypted_with_a_key_only_the_publishing_services_of_this_account_use(built):
    (topic,) = of_type(built, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = built.json["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    (services,) = [s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "AlertPublishersOfThisAccount"]
    assert sorted(services["Principal"]["Service"]) == [
        "budgets.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"]
    assert services["Condition"] == {"StringEquals": {"aws:SourceAccount": TEST_ACCOUNT}}


def test_the_topic_passes_the_nag_packs_without_acknowledgments():
    stack = new_stack()
    AlertTopic(stack, "Alerts", display_name="alerts", subscriptions=AlertSubscriptions(
        emails=["a@example.com"], https_urls=["https://hooks.example.com/x"],
        sqs_queue_arns=[f"arn:aws:sqs:{TEST_REGION}:{TEST_ACCOUNT}:alerts"],
        lambda_function_arns=[f"arn:aws:lambda:{TEST_REGION}:{TEST_ACCOUNT}:function:page"],
        slack=SlackChannel("T0123ABCD", "C0123ABCD")))
    assert_nag_clean(stack)
    assert acknowledgments(stack) == {}
    kinds = {b["Type"] for b in Template.from_stack(stack).to_json()["Resources"].values()}
    assert {"AWS::SNS::Subscription", "AWS::Lambda::Permission", "AWS::Chatbot::SlackChannelConfiguration"} <= kinds


@pytest.mark.parametrize("subscriptions, message", [
    (AlertSubscriptions(emails=["not-an-address"]), "emails entries must look like data-oncall@example.com"),
    (AlertSubscriptions(https_urls=["http://insecure.example.com"]), "https_urls entries must look like https://"),
    (AlertSubscriptions(sqs_queue_arns=["alerts"]), "sqs_queue_arns entries must look like arn:aws:sqs:"),
    (AlertSubscriptions(emails="a@example.com"), "emails must be a list"),
    (AlertSubscriptions(slack=SlackChannel("workspace", "#alerts")), "slack needs the workspace id"),
])
def test_bad_subscriptions_fail_before_anything_is_created(subscriptions, message):
    stack = new_stack()
    with pytest.raises(MwaaPlatformError, match=message):
        AlertTopic(stack, "Alerts", display_name="alerts", subscriptions=subscriptions)
    assert stack.node.try_find_child("Alerts") is None


# --- the budget ----------------------------------------------------------------------------------


def test_the_budget_filters_on_the_teams_cost_allocation_tag(built):
    (budget,) = of_type(built, "AWS::Budgets::Budget").values()
    data = budget["Properties"]["Budget"]
    assert data["CostFilters"] == {"TagKeyValue": ["user:team$team-a"]}
    assert (data["BudgetType"], data["TimeUnit"], data["BudgetLimit"]) == ("COST", "MONTHLY",
                                                                           {"Amount": 2500, "Unit": "USD"})
    notifications = [(n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
                     for n in budget["Properties"]["NotificationsWithSubscribers"]]
    assert notifications == [("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]
    topic = {"Ref": logical_id(built, built.topic.topic)}
    assert all(n["Subscribers"] == [{"SubscriptionType": "SNS", "Address": topic}]
               for n in budget["Properties"]["NotificationsWithSubscribers"])
    assert any("TopicPolicy" in dependency for dependency in budget["DependsOn"])


@pytest.mark.parametrize("kwargs, message", [
    ({"monthly_limit_usd": 0}, "monthly_limit_usd must be a positive amount, got 0"),
    ({"budget_name": "team:a"}, "budget_name must be 1-100 characters without ':'"),
    ({"actual_percent": (50, 80, 100), "forecast_percent": (100, 120, 150)}, "at most 5 notifications"),
])
def test_bad_budgets_fail(kwargs, message):
    stack = new_stack()
    settings = {"budget_name": "team-a", "team": "team-a", "monthly_limit_usd": 100, **kwargs}
    with pytest.raises(MwaaPlatformError, match=message):
        TeamBudget(stack, "Budget", topic=AlertTopic(stack, "T", display_name="t"), **settings)


# --- failure events, against AWS's sample events ----------------------------------------------------

ECS_TASK_STOPPED = {  # EventBridge "ECS Task State Change" (ECS developer guide: ecs_task_events), shortened
    "version": "0", "id": "3317b2af-7005-947d-b652-f55e762e571a", "detail-type": "ECS Task State Change",
    "source": "aws.ecs", "account": TEST_ACCOUNT, "time": "2026-11-21T08:00:00Z", "region": TEST_REGION,
    "resources": [f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:task/team-a/b99d40b3e6d8442d9ee0cce8ff6ab1f5"],
    "detail": {
        "clusterArn": CLUSTER, "taskArn": f"arn:aws:ecs:{TEST_REGION}:{TEST_ACCOUNT}:task/team-a/b99d40b3",
        "group": "family:team-a-etl", "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "startedBy": "airflow",
        "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "main", "lastStatus": "STOPPED", "exitCode": 1}],
    },
}
BATCH_JOB_FAILED = {  # EventBridge "Batch Job State Change" (Batch user guide: batch_cwe_events), shortened
    "version": "0", "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b", "detail-type": "Batch Job State Change",
    "source": "aws.batch", "account": TEST_ACCOUNT, "time": "2026-11-21T08:00:00Z", "region": TEST_REGION,
    "resources": [f"arn:aws:batch:{TEST_REGION}:{TEST_ACCOUNT}:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8"],
    "detail": {"jobName": "reconcile", "jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8", "jobQueue": QUEUE,
               "status": "FAILED", "statusReason": "Essential container in task exited", "attempts": []},
}
MWAA_UNAVAILABLE = {  # EventBridge "MWAA Environment Status Change" (source aws.airflow), shortened
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "MWAA Environment Status Change",
    "source": "aws.airflow", "account": TEST_ACCOUNT, "time": "2026-11-21T08:00:00Z", "region": TEST_REGION,
    "resources": [f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}:environment/team-a"],
    "detail": {"Name": "team-a", "Status": "UNAVAILABLE"},
}


def changed(event, **detail):
    event = copy.deepcopy(event)
    event["detail"].update(detail)
    return event


def test_the_ecs_pattern_matches_this_teams_failed_tasks_only():
    pattern = ecs_task_failed_pattern([CLUSTER])
    assert event_matches(pattern, ECS_TASK_STOPPED)
    assert event_matches(pattern, changed(ECS_TASK_STOPPED, stopCode="TaskFailedToStart",
                                          containers=[{"name": "main", "lastStatus": "STOPPED"}]))
    assert not event_matches(pattern, changed(ECS_TASK_STOPPED, containers=[{"name": "main", "exitCode": 0}]))
    assert not event_matches(pattern, changed(ECS_TASK_STOPPED, clusterArn=CLUSTER.replace("team-a", "team-b")))
    assert not event_matches(pattern, changed(ECS_TASK_STOPPED, lastStatus="RUNNING"))


def test_the_batch_pattern_matches_this_teams_failed_jobs_only():
    pattern = batch_job_failed_pattern([QUEUE])
    assert event_matches(pattern, BATCH_JOB_FAILED)
    assert not event_matches(pattern, changed(BATCH_JOB_FAILED, status="SUCCEEDED"))
    assert not event_matches(pattern, changed(BATCH_JOB_FAILED, jobQueue=QUEUE.replace("team-a", "team-b")))


def test_the_environment_pattern_matches_this_environments_failures_only():
    arn = f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}:environment/team-a"
    pattern = environment_status_pattern(arn)
    assert event_matches(pattern, MWAA_UNAVAILABLE)
    lower = copy.deepcopy(MWAA_UNAVAILABLE)
    lower["detail"] = {"name": "team-a", "status": "UPDATE_FAILED"}
    assert event_matches(pattern, lower)
    assert not event_matches(pattern, changed(MWAA_UNAVAILABLE, Status="AVAILABLE"))
    other = copy.deepcopy(MWAA_UNAVAILABLE)
    other["resources"] = [arn.replace("team-a", "team-b")]
    assert not event_matches(pattern, other)


def test_the_rules_in_the_template_are_the_tested_patterns_with_readable_messages(built):
    rules = {b["Properties"]["Description"]: b["Properties"] for b in of_type(built, "AWS::Events::Rule").values()}
    assert rules["ECS tasks of the team stopped with an error"]["EventPattern"] == ecs_task_failed_pattern([CLUSTER])
    assert rules["Batch jobs of the team failed"]["EventPattern"] == batch_job_failed_pattern([QUEUE])
    environment = rules["MWAA environment team-a failed"]
    assert environment["EventPattern"] == environment_status_pattern(
        f"arn:aws:airflow:{TEST_REGION}:{TEST_ACCOUNT}:environment/team-a")
    for rule in rules.values():
        (target,) = rule["Targets"]
        template = target["InputTransformer"]["InputTemplate"]
        assert "Console: https://" in template
    batch = rules["Batch jobs of the team failed"]["Targets"][0]["InputTransformer"]
    assert batch["InputPathsMap"]["detail-statusReason"] == "$.detail.statusReason"


# --- dashboards and the whole stack -------------------------------------------------------------------


def test_the_team_dashboard_shows_health_throughput_workers_and_failures(built):
    (dashboard,) = of_type(built, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("Alarms", "scheduler heartbeats", "Task throughput", "Worker CPU", "Compute and environment failures"):
        assert title in body, title
    assert "TriggeredRules" in body


def test_the_platform_dashboard_lists_every_environment():
    stack = new_stack()
    PlatformDashboard(stack, "Summary", dashboard_name="mwaa-platform-eu-west-1", environment_names=["a-prod", "b-prod"])
    body = json.dumps(Template.from_stack(stack).to_json())
    assert body.count("SchedulerHeartbeat") == 2 and "b-prod" in body
    with pytest.raises(MwaaPlatformError, match="dashboard_name must be 1-255 letters"):
        PlatformDashboard(stack, "Bad", dashboard_name="has space", environment_names=["a"])


def test_the_alerting_stack_is_nag_clean(built):
    # cfn-lint and checkov run once on the example platform, where every environment has alerting
    assert_nag_clean(built.stack)


def test_the_docs_list_every_alarm_as_generated():
    from harness import REPO_ROOT
    from mwaa_platform.alerting import ALARMS, alarms_markdown

    text = (REPO_ROOT / "docs" / "alerting.md").read_text()
    assert f"-->\n\n{alarms_markdown()}\n<!-- END GENERATED ALARMS -->" in text, "run `make registry-docs`"
    for spec in ALARMS:
        assert f"`{spec.slug}`" in text and spec.first_check in text
