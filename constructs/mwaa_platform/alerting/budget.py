"""TeamBudget: an AWS Budgets cost budget on a team's cost-allocation tag, notifying its alert topic."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_budgets as budgets
from constructs import Construct

from mwaa_platform.alerting.topic import AnyTopic, alert_topic_of, check_topic
from mwaa_platform.errors import MwaaPlatformError, shorten, validating

__all__ = ["TeamBudget"]

_BUDGET_NAME = re.compile(r"^[^:\\]{1,100}$")
#: AWS Budgets allows at most this many notifications per budget.
MAX_NOTIFICATIONS = 5


class TeamBudget(Construct):
    """A monthly cost budget filtered on ``user:<tag_key>`` = team, with actual and forecast thresholds.

    The filter sees only costs tagged with the team, and only once the tag is activated as a
    cost-allocation tag in the payer account's Billing console (it takes up to 24 hours).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        budget_name: str,
        team: str,
        monthly_limit_usd: float,
        topic: AnyTopic,
        tag_key: str = "team",
        actual_percent: Sequence[float] = (80, 100),
        forecast_percent: Sequence[float] = (100,),
    ) -> None:
        """
        :param budget_name: unique in the account; no ':' or '\\'. E.g. ``payments-prod``.
        :param team: the value of the team's cost-allocation tag.
        :param monthly_limit_usd: the monthly budget in US dollars.
        :param topic: where notifications go: an ``AlertTopic`` (or ``AlertTopic.from_topic_arn``) or any
            ``sns.ITopic``; the budget is allowed to publish there (an imported topic's owner must allow
            it before this deploys: AWS Budgets checks when the notification is created).
        :param tag_key: the cost-allocation tag. Default: ``team`` (the tag every team resource carries).
        :param actual_percent: notify when actual cost passes these percentages. Default: 80 and 100.
        :param forecast_percent: notify when forecast cost passes these. Default: 100.
        """
        with validating(scope, construct_id):
            check_topic("topic", topic)
            if not isinstance(budget_name, str) or not _BUDGET_NAME.match(budget_name):
                raise MwaaPlatformError(f"budget_name must be 1-100 characters without ':' or '\\', got {shorten(budget_name)}")
            if isinstance(monthly_limit_usd, bool) or not isinstance(monthly_limit_usd, (int, float)) or monthly_limit_usd <= 0:
                raise MwaaPlatformError(f"monthly_limit_usd must be a positive amount, got {shorten(monthly_limit_usd)}")
            for name, values in (("actual_percent", actual_percent), ("forecast_percent", forecast_percent)):
                if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1000 for v in values):
                    raise MwaaPlatformError(f"{name} must be percentages between 0 and 1000, got {shorten(list(values))}")
            if len(actual_percent) + len(forecast_percent) > MAX_NOTIFICATIONS:
                raise MwaaPlatformError(f"a budget has at most {MAX_NOTIFICATIONS} notifications (AWS Budgets), got "
                                        f"{len(actual_percent) + len(forecast_percent)}")
        super().__init__(scope, construct_id)
        alert_topic = alert_topic_of(topic, self)
        self.budget_name = budget_name
        self.cost_filter = {"TagKeyValue": [f"user:{tag_key}${team}"]}
        subscriber = budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=alert_topic.topic_arn)
        notifications = [
            budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type=kind, comparison_operator="GREATER_THAN", threshold=percent,
                    threshold_type="PERCENTAGE"),
                subscribers=[subscriber])
            for kind, values in (("ACTUAL", actual_percent), ("FORECASTED", forecast_percent)) for percent in values
        ]
        self.budget = budgets.CfnBudget(
            self, "Budget", budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=budget_name, budget_type="COST", time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_limit_usd, unit="USD"),
                cost_filters=self.cost_filter),
            notifications_with_subscribers=notifications,
        )
        stack = Stack.of(self)
        alert_topic.allow_budget(f"arn:{stack.partition}:budgets::{stack.account}:budget/{budget_name}")
        # AWS Budgets checks that it may publish when the notification is created: after the topic policy
        policy = alert_topic.policy
        if policy is not None:
            self.budget.node.add_dependency(policy)
