"""AlertTopic: a team's encrypted SNS topic that only its alarms, event rules and budget may publish to.

Alarms, failure events and budgets take an ``AlertTopic``, one imported with
``AlertTopic.from_topic_arn``, or any ``sns.ITopic`` (``alert_topic_of`` gives it the same
publisher bookkeeping).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

import jsii
from aws_cdk import Annotations, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from mwaa_platform._internal.kinds import check_kind
from mwaa_platform._internal.tokens import is_unresolved
from mwaa_platform.errors import MwaaPlatformError, shorten, validating

__all__ = [
    "PUBLISHING_SERVICES", "AlertSubscriptions", "AlertTopic", "AlertTopicBase", "AnyTopic", "SlackChannel",
    "alert_topic_of", "check_topic",
]

#: The AWS services that publish a team's alerts: alarms, event rules and budgets.
PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$")
_LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$")
_SLACK_WORKSPACE = re.compile(r"^[0-9A-Z]{1,255}$")
_SLACK_CHANNEL = re.compile(r"^[A-Za-z0-9]{1,255}$")


@dataclass(frozen=True)
class SlackChannel:
    """A Slack channel that AWS Chatbot (Amazon Q Developer in chat applications) posts alerts to.

    :param workspace_id: the workspace id, authorized once in the Chatbot console (e.g. ``T0123ABCD``).
    :param channel_id: the channel id (e.g. ``C0123ABCD``).
    """

    workspace_id: str
    channel_id: str


@dataclass(frozen=True)
class AlertSubscriptions:
    """Who gets a team's alerts.

    :param emails: addresses (each confirms the subscription by mail). Default: none.
    :param https_urls: HTTPS endpoints (each confirms the subscription). Default: none.
    :param sqs_queue_arns: queues of this account; their key policy must let SNS use their key. Default: none.
    :param lambda_function_arns: functions of this account; SNS is allowed to invoke each. Default: none.
    :param slack: a Slack channel through AWS Chatbot. Default: none.
    """

    emails: Sequence[str] = ()
    https_urls: Sequence[str] = ()
    sqs_queue_arns: Sequence[str] = ()
    lambda_function_arns: Sequence[str] = ()
    slack: Optional[SlackChannel] = field(default=None)

    def check(self) -> None:
        for name, values, pattern, example in (
            ("emails", self.emails, _EMAIL, "data-oncall@example.com"),
            ("https_urls", self.https_urls, re.compile(r"^https://[^\s]+$"), "https://hooks.example.com/alerts"),
            ("sqs_queue_arns", self.sqs_queue_arns, _SQS_ARN, "arn:aws:sqs:eu-west-1:111111111111:alerts"),
            ("lambda_function_arns", self.lambda_function_arns, _LAMBDA_ARN,
             "arn:aws:lambda:eu-west-1:111111111111:function:page"),
        ):
            if isinstance(values, str):
                raise MwaaPlatformError(f"{name} must be a list, got {shorten(values)}")
            for value in values:
                if not isinstance(value, str) or not pattern.match(value):
                    raise MwaaPlatformError(f"{name} entries must look like {example}, got {shorten(value)}")
        if self.slack is not None and not (_SLACK_WORKSPACE.match(self.slack.workspace_id)
                                           and _SLACK_CHANNEL.match(self.slack.channel_id)):
            raise MwaaPlatformError(
                "slack needs the workspace id (upper-case letters and digits, e.g. T0123ABCD) and channel id (letters and "
                f"digits, e.g. C0123ABCD), got {shorten(self.slack)}")


class AlertTopicBase(Construct):
    """What alarms, event rules and budgets need of a topic: its ARN, and a way to let exactly them publish.

    ``allow_alarm``, ``allow_rule`` and ``allow_budget`` admit one publishing service (CloudWatch,
    EventBridge, AWS Budgets) for one source ARN each, through one topic policy statement per
    service (``aws:SourceAccount`` this account, ``aws:SourceArn`` the sources). A topic whose
    policy this app cannot change (an import) gets a warning saying what its owner must allow.
    """

    #: The SNS topic.
    topic: sns.ITopic
    #: The customer managed key that encrypts it, when known.
    key: Optional[kms.IKey]
    #: Whether ``key``'s policy already admits the publishing services (or there is no key to admit them to).
    _key_admits_publishers: bool = False

    @property
    def topic_arn(self) -> str:
        return self.topic.topic_arn

    @property
    def publishers(self) -> dict[str, list[str]]:
        """Publishing service -> the source ARNs admitted so far (what an imported topic's owner must allow)."""
        return {service: list(sources) for service, sources in self._registered().items()}

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """``sns:Publish`` on this topic, and the key use that encrypted publishing needs."""
        grant = self.topic.grant_publish(grantee)
        if self.key is not None:
            self.key.grant(grantee, "kms:GenerateDataKey*", "kms:Decrypt")
        return grant

    def allow_alarm(self, alarm_arn: str) -> None:
        """Let CloudWatch publish for this alarm (and no other)."""
        self._allow("CloudWatchAlarms", "cloudwatch.amazonaws.com", alarm_arn)

    def allow_rule(self, rule_arn: str) -> None:
        """Let EventBridge publish for this rule (and no other)."""
        self._allow("EventBridgeRules", "events.amazonaws.com", rule_arn)

    def allow_budget(self, budget_arn: str) -> None:
        """Let AWS Budgets publish for this budget (and no other)."""
        self._allow("Budgets", "budgets.amazonaws.com", budget_arn)

    @property
    def policy(self) -> Optional[IConstruct]:
        """The topic policy this app manages, for dependencies (None for an import)."""
        return self.topic.node.try_find_child("Policy")

    def _registered(self) -> dict[str, list[str]]:
        if getattr(self, "_sources", None) is None:
            #: publishing service -> the source ARNs it may publish for, read when the policy is rendered
            self._sources: dict[str, list[str]] = {}
        return self._sources

    def _allow(self, sid: str, service: str, source_arn: str) -> None:
        sources = self._registered()
        if service not in sources:
            sources[service] = []
            account = Stack.of(self).account
            added = self.topic.add_to_resource_policy(iam.PolicyStatement(
                sid=sid, principals=[iam.ServicePrincipal(service)], actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": account},
                            "ArnEquals": {"aws:SourceArn": Lazy.list(_Listed(sources[service]))}},
            )).statement_added
            key_added = self._key_admits_publishers or self.key is None or self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"{sid}Publish", principals=[iam.ServicePrincipal(service)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"], resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": account}},
                )).statement_added
            if not added:
                Annotations.of(self).add_warning_v2(
                    f"mwaa-platform:alert-topic-publisher-{service.split('.')[0]}",
                    f"The policy of topic {self.topic.node.path} is not managed here: its owner must let {service} "
                    f"publish to it (sns:Publish for {service}, aws:SourceAccount {account}, aws:SourceArn of "
                    f"this app's {_SOURCES[service]}) and, if a customer managed key encrypts it, let {service} "
                    "use the key (kms:GenerateDataKey* and kms:Decrypt); otherwise these alerts are never delivered.",
                )
            elif not key_added:
                Annotations.of(self).add_warning_v2(
                    f"mwaa-platform:alert-topic-key-{service.split('.')[0]}",
                    f"The key of topic {self.topic.node.path} is not managed here: its policy must let {service} use "
                    "it (kms:GenerateDataKey* and kms:Decrypt), or these alerts are never delivered.",
                )
        sources[service].append(source_arn)

    # --- imports ------------------------------------------------------------------------------

    @classmethod
    def from_topic_arn(
        cls, scope: Construct, construct_id: str, topic_arn: str, *, key: Optional[kms.IKey] = None
    ) -> "AlertTopicBase":
        """A topic created elsewhere (another stack, app or team), for alarms, events and budgets to notify.

        This app cannot change its policy: its owner must let each publishing service publish for
        the sources this app registers (``publishers`` lists them; a warning on the import says
        which services), and, when a customer managed key encrypts the topic, let those services
        use the key (``docs/alerting.md``, "A topic from elsewhere").

        :param key: the key that encrypts the topic, so that ``grant_publish`` also grants its use.
            Default: unknown (grants give ``sns:Publish`` only).
        """
        with validating(scope, construct_id):
            if not isinstance(topic_arn, str) or not (_TOPIC_ARN.match(topic_arn) or is_unresolved(topic_arn)):
                raise MwaaPlatformError(
                    f"topic_arn must be an SNS topic ARN like arn:aws:sns:eu-west-1:111111111111:alerts, got "
                    f"{shorten(topic_arn)}")
            check_kind("key", key, kms.IKey, optional=True)
        return _ImportedAlertTopic(scope, construct_id, topic_arn=topic_arn, key=key)


#: What each publishing service publishes for, in the imported topic's warning.
_SOURCES = {"cloudwatch.amazonaws.com": "alarms", "events.amazonaws.com": "event rules",
            "budgets.amazonaws.com": "budgets"}
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


class AlertTopic(AlertTopicBase):
    """An SNS topic for one team's alerts, encrypted with a key of its own.

    The topic policy denies publishing without TLS and admits, besides this account's principals
    that are granted ``sns:Publish`` (``grant_publish``), exactly the alarms, event rules and
    budgets registered with ``allow_alarm``, ``allow_rule`` and ``allow_budget``. The key admits
    the three publishing services of this account only.

    ``AlertTopic.from_topic_arn`` imports a topic created elsewhere instead.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        display_name: str,
        subscriptions: Optional[AlertSubscriptions] = None,
        key: Optional[kms.IKey] = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """
        :param display_name: the sender name of e-mail alerts (at most 100 characters), e.g. "payments prod alerts".
        :param subscriptions: who gets the alerts. Default: nobody yet (subscribe later, or read the topic's dashboard).
        :param key: encrypts the topic; its policy must let the publishing services of this account
            (CloudWatch, EventBridge, AWS Budgets) use it. Default: a new rotating key that admits them.
        :param removal_policy: of a new key. Default: ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        subscriptions = subscriptions or AlertSubscriptions()
        with validating(scope, construct_id):
            if not isinstance(display_name, str) or not 1 <= len(display_name) <= 100:
                raise MwaaPlatformError(f"display_name must have 1-100 characters, got {shorten(display_name)}")
            check_kind("subscriptions", subscriptions, AlertSubscriptions)
            check_kind("key", key, kms.IKey, optional=True)
            check_kind("removal_policy", removal_policy, RemovalPolicy)
            subscriptions.check()
        super().__init__(scope, construct_id)
        # a given key's policy is its owner's: the publishers' statements are added there where it can be changed
        self._key_admits_publishers = key is None
        self.key: kms.IKey = key or self._new_key(display_name, removal_policy)
        self.topic: sns.Topic = sns.Topic(self, "Topic", display_name=display_name, master_key=self.key,
                                          enforce_ssl=True)
        self._registered()
        self._subscribe(subscriptions)

    # --- create steps -------------------------------------------------------------------------

    def _new_key(self, display_name: str, removal_policy: RemovalPolicy) -> kms.Key:
        key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=removal_policy,
                      description=f"Encrypts the SNS topic {display_name}")
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="AlertPublishersOfThisAccount",
            principals=[iam.ServicePrincipal(service) for service in PUBLISHING_SERVICES],
            actions=["kms:GenerateDataKey*", "kms:Decrypt"], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
        ))
        return key

    def _subscribe(self, wanted: AlertSubscriptions) -> None:
        for address in wanted.emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        for url in wanted.https_urls:
            self.topic.add_subscription(subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
        for index, arn in enumerate(wanted.sqs_queue_arns):
            self.topic.add_subscription(subscriptions.SqsSubscription(
                sqs.Queue.from_queue_arn(self, f"Queue{index}", arn), raw_message_delivery=False))
        for index, arn in enumerate(wanted.lambda_function_arns):
            self.topic.add_subscription(subscriptions.LambdaSubscription(
                lambda_.Function.from_function_arn(self, f"Function{index}", arn)))
        if wanted.slack is not None:
            role = iam.Role(self, "ChatbotRole", assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
                            description="AWS Chatbot channel of these alerts: posts them, runs nothing")
            chatbot.SlackChannelConfiguration(
                self, "Slack", slack_channel_configuration_name=f"{Stack.of(self).stack_name}-alerts"[:128],
                slack_workspace_id=wanted.slack.workspace_id, slack_channel_id=wanted.slack.channel_id,
                notification_topics=[self.topic], role=role,
                guardrail_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AWSDenyAll")],
            )


class _ImportedAlertTopic(AlertTopicBase):
    """A topic created elsewhere, known by its ARN."""

    def __init__(self, scope: Construct, construct_id: str, *, topic_arn: str, key: Optional[kms.IKey]) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic.from_topic_attributes(self, "Topic", topic_arn=topic_arn,
                                                     key_arn=key.key_arn if key is not None else None)
        self.key = key
        self._key_admits_publishers = True  # nothing to add to: the owner admits them (the warning says so)


class _TopicPublishers(AlertTopicBase):
    """Publisher bookkeeping of a plain ``sns.ITopic``: a child of the topic, so one per topic."""

    def __init__(self, scope: Construct, topic: sns.ITopic) -> None:
        super().__init__(scope, _PUBLISHERS_ID)
        self.topic = topic
        self.key = getattr(topic, "master_key", None)  # an sns.Topic of this app knows its key; an import does not


_PUBLISHERS_ID = "MwaaPlatformAlertPublishers"

#: An alert topic: the library's own (``AlertTopic``, or one from ``AlertTopic.from_topic_arn``) or any SNS topic.
AnyTopic = Union[AlertTopicBase, sns.ITopic]


def check_topic(field: str, topic: object) -> None:
    """Raise ``MwaaPlatformTypeError`` unless ``topic`` is an ``AlertTopic`` (or import) or an ``sns.ITopic``."""
    check_kind(field, topic, (AlertTopicBase, sns.ITopic),
               hint="an AlertTopic, AlertTopic.from_topic_arn, or any SNS topic")


def alert_topic_of(topic: AnyTopic, scope: Construct) -> AlertTopicBase:
    """``topic`` itself when it is the library's; for any other ``sns.ITopic``, its publisher bookkeeping.

    A plain topic created in this app gets the same policy statements an ``AlertTopic`` has (one per
    publishing service, for exactly the registered sources), and its key, when this app manages it,
    a statement letting those services use it. An imported one gets a warning naming what its
    owner must allow.

    :param scope: where the bookkeeping lives when ``topic`` is not a construct of this app's tree
        (a jsii proxy): then each ``scope`` keeps its own.
    """
    if isinstance(topic, AlertTopicBase):
        return topic
    owner = topic if isinstance(topic, Construct) else scope
    existing = owner.node.try_find_child(_PUBLISHERS_ID)
    if isinstance(existing, _TopicPublishers):
        return existing
    return _TopicPublishers(owner, topic)


@jsii.implements(IStableListProducer)
class _Listed:
    """The source ARNs registered so far, rendered when the template is written."""

    def __init__(self, values: list[str]) -> None:
        self.values = values

    def produce(self) -> list[str]:
        return list(self.values)
