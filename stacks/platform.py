"""Build the whole platform from a validated registry: the network stack, then one stack per team."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from stacks.network_stack import NetworkStack
from stacks.registry import PlatformSettings
from stacks.team_stack import TeamStack


@dataclass(frozen=True)
class Platform:
    network: NetworkStack
    teams: dict[str, TeamStack]


def build_platform(app: cdk.App, platform: PlatformSettings) -> Platform:
    """Add the platform's stacks to ``app``: tags first, so every resource carries them."""
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
