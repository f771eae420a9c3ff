"""Optional DNS controls for the MWAA network: Route 53 Resolver DNS Firewall and query logging.

A VPC without an internet route still resolves every public name through the Amazon DNS server,
so DNS is the remaining way data can leave it (names that encode data, answered by a server the
sender controls). The firewall answers only names under the allowed domains and returns NODATA
for everything else; query logging records every name the VPC asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53resolver as resolver
from constructs import Construct

from mwaa_platform.errors import MwaaPlatformError, shorten

#: What MWAA and its tasks resolve: AWS service endpoints (amazonaws.com), the MWAA web server's
#: domain (on.aws), and the VPC's own host names (*.internal).
AWS_SERVICE_DOMAINS = ("amazonaws.com", "*.amazonaws.com", "on.aws", "*.on.aws", "*.internal")

_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$")


def check_domains(field: str, domains: Sequence[str]) -> list[str]:
    """Domain names, optionally with a leading ``*.`` wildcard."""
    if isinstance(domains, str) or not isinstance(domains, (list, tuple)):
        raise MwaaPlatformError(f"{field} must be a list of domain names, got {shorten(domains)}")
    for domain in domains:
        if not isinstance(domain, str) or not _DOMAIN.match(domain.lower()):
            raise MwaaPlatformError(
                f"{field} entries must be domain names such as pypi.org or *.example.com, got {shorten(domain)}"
            )
    return [domain.lower() for domain in domains]


class AirflowDnsFirewall(Construct):
    """DNS Firewall on ``vpc`` allowing only ``AWS_SERVICE_DOMAINS`` plus ``allowed_domains``, and query logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        key: kms.IKey,
        allowed_domains: Sequence[str] = (),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        """
        :param vpc: the VPC whose DNS queries are filtered and logged.
        :param key: encrypts the query log group.
        :param allowed_domains: domains to answer besides AWS's, e.g. ``pypi.org`` and
            ``files.pythonhosted.org`` on a network with NAT. Default: none.
        :param log_retention: retention of the query logs. Default: one year.
        """
        extra = check_domains("dns_allowed_domains", allowed_domains)
        super().__init__(scope, construct_id)
        allowed = resolver.CfnFirewallDomainList(
            self, "AllowedDomains", domains=list(dict.fromkeys([*AWS_SERVICE_DOMAINS, *extra])),
        )
        everything = resolver.CfnFirewallDomainList(self, "AllDomains", domains=["*"])
        self.rule_group = resolver.CfnFirewallRuleGroup(
            self, "RuleGroup",
            firewall_rules=[
                resolver.CfnFirewallRuleGroup.FirewallRuleProperty(
                    action="ALLOW", priority=100, firewall_domain_list_id=allowed.attr_id),
                resolver.CfnFirewallRuleGroup.FirewallRuleProperty(
                    action="BLOCK", block_response="NODATA", priority=200, firewall_domain_list_id=everything.attr_id),
            ],
        )
        resolver.CfnFirewallRuleGroupAssociation(
            self, "Association", firewall_rule_group_id=self.rule_group.attr_id, vpc_id=vpc.vpc_id, priority=101,
            mutation_protection="ENABLED",
        )
        self.query_logs = logs.LogGroup(
            self, "QueryLogs", retention=log_retention, encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        config = resolver.CfnResolverQueryLoggingConfig(self, "QueryLogging", destination_arn=self.query_logs.log_group_arn)
        resolver.CfnResolverQueryLoggingConfigAssociation(
            self, "QueryLoggingAssociation", resolver_query_log_config_id=config.attr_id, resource_id=vpc.vpc_id,
        )
