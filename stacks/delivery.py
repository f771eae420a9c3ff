"""The delivery pipeline's plan: which stacks deploy together (units), in which waves, within
CodePipeline's quotas (docs/delivery.md).

A unit is one ``cdk.Stage`` of the pipeline: a stage's platform-wide stacks (network, EKS cluster,
monitoring), a team's environment with its target-account roles (and, on a shared environment, its
teams' stacks), or a team's serverless workflows. A wave is one pipeline stage, deploying its units in
parallel. Waves follow the registry's stages in order; each stage's platform unit has a wave before its
teams', which read its SSM parameters. A production stage's first wave waits for the platform
approvers; a team with ``approved_by`` also waits, in its unit, for that team's approvers.

The plan reads only the registry, so a 200-team registry is checked against the quotas without
building a stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from stacks.registry import EnvironmentSpec, PlatformSettings, RegistryError

#: Pipeline stages before the first wave: Source, Build (the synth step), UpdatePipeline (self-mutation)
#: and Assets (publishing in one project per asset type, ``publish_assets_in_parallel=False``).
FIXED_PIPELINE_STAGES = ("Source", "Build", "UpdatePipeline", "Assets")
#: The manual approval of a production stage's first wave (the platform approvers').
PLATFORM_GATE = "ApproveProduction"
#: The manual approval in a unit of a team with ``approved_by`` (that team's approvers'). CDK Pipelines names
#: the action ``<unit>.Approve``, or ``Approve`` in a wave of one unit, which it names after the unit.
TEAM_GATE = "Approve"


@dataclass(frozen=True)
class Unit:
    """One ``cdk.Stage`` of the pipeline: stacks deployed by one action each (``use_change_sets=False``)."""

    name: str
    stage: str
    stacks: tuple[str, ...]
    #: The team whose approvers approve this unit in production (``approved_by``), and theirs.
    approved_by: str | None = None

    @property
    def actions(self) -> int:
        return len(self.stacks) + (self.approved_by is not None)


@dataclass(frozen=True)
class Wave:
    """One pipeline stage: its units deploy in parallel, after every earlier wave."""

    name: str
    stage: str
    units: tuple[Unit, ...]
    #: Whether the platform approvers' gate opens this wave (a production stage's first wave).
    gated: bool = False
    #: Whether the checks step (tests, DAG checks) opens this wave: the pipeline's first.
    checked: bool = False

    @property
    def actions(self) -> int:
        return sum(unit.actions for unit in self.units) + self.gated + self.checked


def plan_waves(platform: PlatformSettings) -> list[Wave]:
    """The waves of ``platform``'s pipeline; a RegistryError when they cannot fit CodePipeline's quotas
    (``delivery.actions_per_stage``, ``delivery.stages_per_pipeline``)."""
    delivery = platform.delivery
    if delivery is None:
        raise RegistryError(platform.source, [(None, "the delivery pipeline needs delivery: in the registry "
                                                     "(docs/delivery.md)")])
    limit = delivery.actions_per_stage
    placed: set[str] = set()
    waves: list[Wave] = []
    problems: list[str] = []
    for stage in platform.stages:
        network = platform.network_of(stage)
        platform_stacks = [name for name in (network.stack_name, network.eks_stack_name,
                                             network.monitoring_stack_name if platform.environments_of(network) else None)
                           if name is not None and name not in placed]
        # a team's own gate is production's only
        approvals = platform.approvals if stage.production else {}
        units = [_team_unit(platform, stage.name, env, approvals) for env in platform.environments
                 if env.stage.name == stage.name]
        units += [Unit(name=spec.stack_name, stage=stage.name, stacks=(spec.stack_name,),
                       approved_by=approvals.get(spec.team, (None,))[0])
                  for spec in platform.serverless if spec.stage.name == stage.name]
        gated = stage.production
        stage_waves: list[Wave] = []
        if platform_stacks:
            placed.update(platform_stacks)
            # a network, cluster or dashboard production shares with an earlier stage is production's too
            stage_waves.append(Wave(name=f"{stage.name}-platform", stage=stage.name,
                                    gated=stage.production or network.production, units=(
                Unit(name=f"{platform.name}-{stage.name}-platform", stage=stage.name, stacks=tuple(platform_stacks)),)))
        current: list[Unit] = []
        team_waves = 0
        for unit in units:
            opens = gated and not stage_waves  # the gate is an action of the stage's first wave
            if unit.actions + opens > limit:
                problems.append(f"stage {stage.name!r}: unit {unit.name} deploys {unit.actions} actions at once, over "
                                f"CodePipeline's {limit} actions per stage")
                continue
            if current and sum(u.actions for u in current) + unit.actions + opens > limit:
                team_waves += 1
                stage_waves.append(_wave(stage.name, team_waves, current, opens))
                current = []
            current.append(unit)
        if current:
            stage_waves.append(_wave(stage.name, team_waves + 1, current, gated and not stage_waves))
        waves += stage_waves
    if waves:  # the first is a stage's platform wave: a few stacks, the checks and at most the gate
        waves[0] = replace(waves[0], checked=True)
    stages = len(FIXED_PIPELINE_STAGES) + len(waves)
    if stages > delivery.stages_per_pipeline:
        problems.append(f"the pipeline would have {stages} stages ({len(FIXED_PIPELINE_STAGES)} fixed and {len(waves)} "
                        f"waves of at most {limit} actions), over CodePipeline's {delivery.stages_per_pipeline} stages "
                        "per pipeline: ask for a higher quota and set delivery.stages_per_pipeline and "
                        "delivery.actions_per_stage, or deliver stages with a pipeline each")
    if problems:
        raise RegistryError(platform.source, [(None, f"delivery: {problem}") for problem in problems])
    return waves


def _team_unit(platform: PlatformSettings, stage: str, env: EnvironmentSpec,
               approvals: Mapping[str, tuple[str, tuple[str, ...]]]) -> Unit:
    """An environment with what deploys after it: its target-account roles and, if shared, its teams' stacks.
    Only a team's own environment takes its gate (``approvals``); a shared one has none."""
    teams = [access for access in platform.team_access if access.environment.environment_name == env.environment_name]
    targets = list(dict.fromkeys(role.stack_name for role in env.cross_account))
    approved = approvals.get(env.name) if not env.shared_by else None
    return Unit(name=env.stack_name, stage=stage,
                stacks=(env.stack_name, *(access.stack_name for access in teams), *targets),
                approved_by=approved[0] if approved is not None else None)


def _wave(stage: str, number: int, units: list[Unit], gated: bool) -> Wave:
    return Wave(name=f"{stage}-teams-{number}", stage=stage, units=tuple(units), gated=gated)
