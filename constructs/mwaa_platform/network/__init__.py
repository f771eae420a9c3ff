"""Network: the private network MWAA environments share, its VPC endpoints and network ACL.

``AirflowNetwork`` creates (or adopts) a VPC with two private subnets, the VPC endpoints MWAA needs
and flow logs; ``SharedAirflowNetwork`` attaches another stack to it through SSM parameters.
"""

from mwaa_platform.network.dns_firewall import AWS_SERVICE_DOMAINS, AirflowDnsFirewall
from mwaa_platform.network.network import (
    CIDR_PREFIX_RANGE,
    NAT_GATEWAY_CHOICES,
    AirflowNetwork,
    AirflowNetworkBase,
    NatGateways,
    NetworkAttributes,
    SharedAirflowNetwork,
)
from mwaa_platform.network.vpc_endpoints import (
    ENDPOINT_SETS,
    REQUIRED_SERVICES,
    AirflowVpcEndpoints,
    EndpointService,
    PathEndpoint,
)

__all__ = [
    "AWS_SERVICE_DOMAINS",
    "CIDR_PREFIX_RANGE",
    "ENDPOINT_SETS",
    "NAT_GATEWAY_CHOICES",
    "REQUIRED_SERVICES",
    "AirflowDnsFirewall",
    "AirflowNetwork",
    "AirflowNetworkBase",
    "AirflowVpcEndpoints",
    "EndpointService",
    "NatGateways",
    "NetworkAttributes",
    "PathEndpoint",
    "SharedAirflowNetwork",
]
