"""Build the whole platform from a validated registry: a network per account and Region, then a
stack per environment (a team's own, or a shared one) and per team on a shared environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk

from stacks.network_stack import NetworkStack
from stacks.registry import NetworkSpec, PlatformSettings, RegistryError
from stacks.team_stack import EnvironmentStack, TeamAccessStack


@dataclass(frozen=True)
class Platform:
    networks: dict[tuple[str, str], NetworkStack]
    environments: dict[str, EnvironmentStack]
    team_access: dict[str, TeamAccessStack]

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [*self.networks.values(), *self.environments.values(), *self.team_access.values()]


def build_platform(app: cdk.App, platform: PlatformSettings) -> Platform:
    """Add the platform's stacks to ``app``: zones and tags first, so every stack and resource sees them."""
    for spec in platform.networks:
        _declare_availability_zones(app, platform, spec)
    for key, value in platform.tags.items():
        cdk.Tags.of(app).add(key, value)
    networks = {
        (spec.account, spec.region): NetworkStack(
            app, spec.stack_name, platform=platform, spec=spec,
            env=cdk.Environment(account=spec.account, region=spec.region),
        )
        for spec in platform.networks
    }
    environments: dict[str, EnvironmentStack] = {}
    for env in platform.environments:
        network_stack = networks[(env.stage.account, env.stage.region)]
        environment_stack = EnvironmentStack(
            app, env.stack_name, spec=env, network=network_stack.attributes,
            env=cdk.Environment(account=env.stage.account, region=env.stage.region),
        )
        _tag(environment_stack, env.cost_tags)
        # the environment reads the network's SSM parameters: deploy the network first
        environment_stack.add_stack_dependency(network_stack, "reads the shared network's SSM parameters")
        environments[env.environment_name] = environment_stack
    access: dict[str, TeamAccessStack] = {}
    for team in platform.team_access:
        access_stack = TeamAccessStack(app, team.stack_name, spec=team,
                                       network=networks[(team.stage.account, team.stage.region)].attributes,
                                       env=cdk.Environment(account=team.stage.account, region=team.stage.region))
        _tag(access_stack, team.cost_tags)
        access_stack.add_stack_dependency(environments[team.environment.environment_name],
                                          "grants on the shared environment it names")
        access[team.stack_name] = access_stack
    return Platform(networks=networks, environments=environments, team_access=access)


def _tag(stack: cdk.Stack, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        cdk.Tags.of(stack).add(key, value)


def _declare_availability_zones(app: cdk.App, platform: PlatformSettings, network: NetworkSpec) -> None:
    """Put the registry's zones into context, or fail before CDK would need an AWS call to find them.

    A stack with an explicit account and Region makes CDK look its availability zones up (the CLI's
    ``availability-zones`` context provider, which needs credentials) unless context already names them.
    """
    key = f"availability-zones:account={network.account}:region={network.region}"
    if network.availability_zones is not None:
        app.node.set_context(key, list(network.availability_zones))
    elif app.node.try_get_context(key) is None:
        stages = ", ".join(stage.name for stage in platform.stages
                           if (stage.account, stage.region) == (network.account, network.region))
        raise RegistryError(platform.source, [
            f"stages.{stages.split(', ')[0]}: synthesis would look up the availability zones of account "
            f"{network.account} in {network.region} (an AWS call, which needs credentials). Declare them in the "
            f"registry as `availability_zones: [{network.region}a, {network.region}b]` under the stage ({stages}), or "
            f"in cdk.json's context as \"{key}\": [\"{network.region}a\", \"{network.region}b\"]"
        ])
