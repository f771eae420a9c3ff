"""The network of one account and Region: one private network every environment there attaches to."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from mwaa_platform import AirflowNetwork, NetworkAttributes
from stacks.registry import NetworkSpec, PlatformSettings, retention


class NetworkStack(Stack):
    """An ``AirflowNetwork`` whose ids are published as SSM parameters for the environment stacks."""

    def __init__(
        self, scope: Construct, construct_id: str, *, platform: PlatformSettings, spec: NetworkSpec, **kwargs: Any
    ) -> None:
        # every environment stack depends on the network: deleting it by accident takes all of them down
        super().__init__(scope, construct_id, description=f"{platform.name}: shared MWAA network",
                         termination_protection=True, **kwargs)
        settings = platform.network
        self.network = AirflowNetwork(
            self,
            "Network",
            cidr=settings.cidr,
            nat_gateways=settings.nat_gateways,
            endpoint_sets=spec.endpoint_sets,
            endpoint_policies=settings.endpoint_policies,
            data_perimeter=settings.data_perimeter,
            # each account its own perimeter unless the registry names the accounts: dev never reaches prod
            perimeter_accounts=platform.perimeter_accounts or (spec.account,),
            path_endpoints=spec.path_endpoints,
            path_policy_scope=settings.path_policy_scope,
            network_acls=settings.network_acls,
            dns_firewall=settings.dns_firewall,
            dns_allowed_domains=settings.dns_allowed_domains,
            flow_logs_retention=retention(settings.flow_logs_retention_days),
            parameter_prefix=platform.parameter_prefix,
        )

    @property
    def attributes(self) -> NetworkAttributes:
        return self.network.attributes
