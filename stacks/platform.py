"""Build the whole platform from a validated registry: a network per account and Region, then a
stack per environment (a team's own, or a shared one) and per team on a shared environment."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import aws_cdk as cdk

from stacks.eks_stack import EksStack
from stacks.monitoring_stack import MonitoringStack
from stacks.target_stack import TargetAccessStack
from stacks.network_stack import NetworkStack
from stacks.serverless_stack import ServerlessStack
from mwaa_platform.errors import MwaaPlatformError, shorten
from stacks.registry import NetworkSpec, PlatformSettings, RegistryError, StageSettings
from stacks.team_stack import ClusterRef, EnvironmentStack, TeamAccessStack


@dataclass(frozen=True)
class Selection:
    """Which stacks a synthesis builds (``-c teams=``, ``-c stages=``, ``-c shard=``; docs/deploying.md).

    The registry is always read whole, so every check that spans teams (names, quotas, endpoint sets,
    security group rules) sees every team, and the platform-wide stacks of a selected stage (network,
    EKS cluster, monitoring) are built from all of its teams: byte for byte what a full synthesis builds.
    Teams' stacks are built for the selected teams (a shared environment's stack when one of its teams,
    or the environment itself, is selected) and stages. A shard takes every ``count``-th unit (a
    team's environment with its target-account stacks; a shared environment with its teams' stacks; a
    team's serverless workflows), in registry order.

    :param teams: team or shared environment names. Default: all.
    :param stages: stage names. Default: all.
    :param shard: (index, count), index from 0. Default: no sharding.
    """

    teams: Optional[frozenset[str]] = None
    stages: Optional[frozenset[str]] = None
    shard: Optional[tuple[int, int]] = None

    def stage(self, name: str) -> bool:
        return self.stages is None or name in self.stages

    def names(self, *names: str) -> bool:
        return self.teams is None or any(name in self.teams for name in names)

    def unit(self, index: int) -> bool:
        return self.shard is None or index % self.shard[1] == self.shard[0]

    @classmethod
    def from_context(cls, teams: object, stages: object, shard: object, platform: PlatformSettings) -> "Selection":
        """From the app's context values (comma-separated names; ``i/n`` for a shard); an error names the
        value and what is allowed."""
        def names(key: str, value: object, allowed: list[str]) -> Optional[frozenset[str]]:
            if value is None:
                return None
            chosen = [part.strip() for part in str(value).split(",") if part.strip()]
            unknown = [name for name in chosen if name not in allowed]
            if not chosen or unknown:
                raise MwaaPlatformError(f"context {key} must name some of {', '.join(allowed)} (comma-separated), "
                                        f"got {shorten(value)}")
            return frozenset(chosen)

        teams_known = sorted({env.name for env in platform.environments} | {a.team for a in platform.team_access}
                             | {s.team for s in platform.serverless})
        part: Optional[tuple[int, int]] = None
        if shard is not None:
            match = re.fullmatch(r"(\d+)/(\d+)", str(shard).strip())
            if match is None or not 0 <= int(match[1]) < int(match[2]):
                raise MwaaPlatformError(f"context shard must be INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/2, "
                                        f"got {shorten(shard)}")
            part = (int(match[1]), int(match[2]))
        return cls(teams=names("teams", teams, teams_known),
                   stages=names("stages", stages, [stage.name for stage in platform.stages]), shard=part)


@dataclass(frozen=True)
class Platform:
    networks: dict[tuple[str, str], NetworkStack]
    environments: dict[str, EnvironmentStack]
    team_access: dict[str, TeamAccessStack]
    clusters: dict[tuple[str, str], EksStack]
    monitoring: dict[tuple[str, str], MonitoringStack]
    targets: dict[str, TargetAccessStack]
    serverless: dict[str, ServerlessStack] = field(default_factory=dict)
    #: (stack, the stack it must deploy after, why) where the two are in different ``cdk.Stage``s (the
    #: delivery pipeline's units), which CDK cannot link: the pipeline's wave order must keep them.
    orderings: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [*self.networks.values(), *self.clusters.values(), *self.environments.values(),
                *self.team_access.values(), *self.monitoring.values(), *self.targets.values(),
                *self.serverless.values()]


def build_platform(app: cdk.App, platform: PlatformSettings, selection: Selection = Selection(),
                   placement: Optional[Callable[[str], cdk.Stage]] = None) -> Platform:
    """Add the platform's stacks to ``app``: zones and tags first, so every stack and resource sees them.

    :param selection: which stacks to build (``Selection``). Default: all.
    :param placement: the ``cdk.Stage`` (under ``app``) each stack, by name, is built in: the delivery
        pipeline's units (``stacks.delivery``). A stack keeps its name as its CloudFormation stack name
        wherever it is built. Call ``declare_availability_zones`` before creating the stages. Default:
        every stack in ``app``.
    """
    orderings: list[tuple[str, str, str]] = []

    def scoped(name: str) -> dict[str, Any]:
        """The scope and name of stack ``name``: in its stage, under the same CloudFormation name."""
        scope = placement(name) if placement is not None else app
        return {"scope": scope, "construct_id": name, **({"stack_name": name} if scope is not app else {})}

    def depend(stack: cdk.Stack, on: cdk.Stack, reason: str) -> None:
        if cdk.Stage.of(stack) is cdk.Stage.of(on):
            stack.add_stack_dependency(on, reason)
        else:
            orderings.append((stack.stack_name, on.stack_name, reason))

    staged = {(stage.account, stage.region) for stage in platform.stages if selection.stage(stage.name)}
    units = _units(platform)
    if placement is None:
        declare_availability_zones(app, platform)
    tagged: list[cdk.Stage] = [app]  # tags are an aspect, which stops at a stage: tag each stage of the placement
    networks = {
        (spec.account, spec.region): NetworkStack(
            **scoped(spec.stack_name), platform=platform, spec=spec,
            env=cdk.Environment(account=spec.account, region=spec.region),
        )
        for spec in platform.networks if (spec.account, spec.region) in staged
    }
    clusters: dict[tuple[str, str], EksStack] = {}
    for spec in platform.networks:
        if spec.eks_stack_name is not None and (spec.account, spec.region) in staged:
            network_stack = networks[(spec.account, spec.region)]
            clusters[(spec.account, spec.region)] = cluster_stack = EksStack(
                **scoped(spec.eks_stack_name), platform=platform, spec=spec, network=network_stack.attributes,
                env=cdk.Environment(account=spec.account, region=spec.region))
            depend(cluster_stack, network_stack, "runs in the shared network")
    environments: dict[str, EnvironmentStack] = {}
    for env in platform.environments:
        if not (selection.stage(env.stage.name) and selection.names(env.name, *env.shared_by)
                and selection.unit(units[env.stack_name])):
            continue
        where = (env.stage.account, env.stage.region)
        namespaces = platform.eks_namespaces(env)
        environment_stack = EnvironmentStack(
            **scoped(env.stack_name), spec=env, network=networks[where].attributes,
            eks=_cluster_ref(platform, env.stage) if namespaces else None, eks_namespaces=namespaces,
            env=cdk.Environment(account=env.stage.account, region=env.stage.region),
        )
        _tag(environment_stack, env.cost_tags)
        # the environment reads the network's SSM parameters: deploy the network first
        depend(environment_stack, networks[where], "reads the shared network's SSM parameters")
        if namespaces:
            depend(environment_stack, clusters[where], "reads the EKS cluster's SSM parameters")
        environments[env.environment_name] = environment_stack
    access: dict[str, TeamAccessStack] = {}
    for team in platform.team_access:
        if team.environment.environment_name not in environments or not selection.names(team.team):
            continue
        uses_eks = team.compute is not None and team.compute.eks is not None
        access_stack = TeamAccessStack(**scoped(team.stack_name), spec=team,
                                       network=networks[(team.stage.account, team.stage.region)].attributes,
                                       eks=_cluster_ref(platform, team.stage) if uses_eks else None,
                                       env=cdk.Environment(account=team.stage.account, region=team.stage.region))
        _tag(access_stack, team.cost_tags)
        depend(access_stack, environments[team.environment.environment_name],
               "grants on the shared environment it names")
        access[team.stack_name] = access_stack
    monitoring = {
        (spec.account, spec.region): MonitoringStack(
            **scoped(spec.monitoring_stack_name), platform=platform, spec=spec,
            env=cdk.Environment(account=spec.account, region=spec.region))
        for spec in platform.networks if platform.environments_of(spec) and (spec.account, spec.region) in staged
    }
    targets: dict[str, TargetAccessStack] = {}
    for stack_name, roles in platform.target_roles.items():
        if any(env.environment_name not in environments for env, _ in roles):
            continue
        target = roles[0][1].target
        targets[stack_name] = target_stack = TargetAccessStack(
            **scoped(stack_name), platform=platform, roles=roles,
            env=cdk.Environment(account=target.account, region=target.region))
        for env, _ in roles:
            # IAM refuses a trust policy naming a role that does not exist yet: the central role first
            depend(target_stack, environments[env.environment_name], "its roles trust that environment's execution role")
    serverless: dict[str, ServerlessStack] = {}
    for workflows in platform.serverless:
        if not (selection.stage(workflows.stage.name) and selection.names(workflows.team)
                and selection.unit(units[workflows.stack_name])):
            continue
        serverless[workflows.stack_name] = serverless_stack = ServerlessStack(
            **scoped(workflows.stack_name), spec=workflows,
            env=cdk.Environment(account=workflows.stage.account, region=workflows.stage.region))
        _tag(serverless_stack, workflows.cost_tags)
    built = Platform(networks=networks, environments=environments, team_access=access, clusters=clusters,
                     monitoring=monitoring, targets=targets, serverless=serverless, orderings=orderings)
    if placement is not None:
        tagged = list({id(stage): stage for stage in map(placement, (stack.stack_name for stack in built.stacks))}.values())
    for scope in tagged:
        for key, value in platform.tags.items():
            cdk.Tags.of(scope).add(key, value)
    return built


def _units(platform: PlatformSettings) -> dict[str, int]:
    """The position of each unit of sharding, by the stack that anchors it: an environment (with its
    target-account stacks and, when shared, its teams' stacks), or a team's serverless workflows."""
    anchors = [env.stack_name for env in platform.environments] + [spec.stack_name for spec in platform.serverless]
    return {name: index for index, name in enumerate(anchors)}


def _cluster_ref(platform: PlatformSettings, stage: StageSettings) -> ClusterRef:
    spec = platform.network_of(stage)
    assert spec.cluster_name is not None  # a team of this stage runs pods
    return ClusterRef(cluster_name=spec.cluster_name, parameter_prefix=platform.eks_parameter_prefix)


def _tag(stack: cdk.Stack, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        cdk.Tags.of(stack).add(key, value)


def declare_availability_zones(app: cdk.App, platform: PlatformSettings) -> None:
    """Every network's zones into the app's context, before any construct is added to it (CDK refuses
    context after that): ``build_platform`` does it, unless given a ``placement``, whose stages come first."""
    for spec in platform.networks:
        _declare_availability_zones(app, platform, spec)


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
