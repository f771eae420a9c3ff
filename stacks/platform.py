"""Build the whole platform from a validated registry: the network stack, then one stack per team."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from stacks.network_stack import NetworkStack
from stacks.registry import PlatformSettings, RegistryError
from stacks.team_stack import TeamStack


@dataclass(frozen=True)
class Platform:
    network: NetworkStack
    teams: dict[str, TeamStack]


def build_platform(app: cdk.App, platform: PlatformSettings) -> Platform:
    """Add the platform's stacks to ``app``: zones and tags first, so every stack and resource sees them."""
    _declare_availability_zones(app, platform)
    env = cdk.Environment(account=platform.account, region=platform.region)
    for key, value in platform.tags.items():
        cdk.Tags.of(app).add(key, value)
    network = NetworkStack(app, platform.network_stack_name, platform=platform, env=env)
    teams: dict[str, TeamStack] = {}
    for team in platform.teams:
        stack = TeamStack(app, team.stack_name, team=team, network=network.attributes, env=env)
        for key, value in team.cost_tags.items():
            cdk.Tags.of(stack).add(key, value)
        # The team stack reads the network's SSM parameters: deploy the network first.
        stack.add_stack_dependency(network, "reads the shared network's SSM parameters")
        teams[team.name] = stack
    return Platform(network=network, teams=teams)


def _declare_availability_zones(app: cdk.App, platform: PlatformSettings) -> None:
    """Put the registry's zones into context, or fail before CDK would need an AWS call to find them.

    A stack with an explicit account and Region makes CDK look its availability zones up (the CLI's
    ``availability-zones`` context provider, which needs credentials) unless context already names them.
    """
    key = platform.availability_zones_context_key
    if platform.availability_zones is not None:
        app.node.set_context(key, list(platform.availability_zones))
    elif app.node.try_get_context(key) is None:
        raise RegistryError(
            f"{platform.source}: platform: synthesis would look up the availability zones of account "
            f"{platform.account} in {platform.region} (an AWS call, which needs credentials). Declare them in the "
            f"registry as `availability_zones: [{platform.region}a, {platform.region}b]` under `platform:`, or in "
            f"cdk.json's context as \"{key}\": [\"{platform.region}a\", \"{platform.region}b\"]"
        )
