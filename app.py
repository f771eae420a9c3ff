#!/usr/bin/env python3
"""The platform team's CDK app: `cdk synth` / `cdk deploy` build the platform in the team registry.

The registry is platform.yaml unless `-c registry=<path>` or MWAA_PLATFORM_REGISTRY names another.

`-c teams=payments,analytics` and `-c stages=dev` build only those teams' and stages' stacks, with the
platform-wide stacks of the selected stages, from the whole registry (every check still sees every team);
`-c shard=INDEX/COUNT` builds one shard of the platform, which scripts/synth_shards.py merges
(`make synth JOBS=N`; docs/deploying.md, "Selective and sharded synthesis").

`-c checks=off` builds the stacks without the cdk-nag packs and the preflight checks: for `cdk ls`
and `cdk diff` (`make ls`, `make diff`), which only read the stacks. The CDK CLI does not tell the
app which command runs it, so the app cannot tell by itself; `cdk synth` and `cdk deploy` run every
check unless told otherwise, and a value other than on or off is an error.
"""

import json
import os
import sys
from pathlib import Path

# jsii prints a Node end-of-life banner on every run under Node 20; the Makefile says the same.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20,22")

import aws_cdk as cdk  # noqa: E402

from mwaa_platform import MwaaPlatformError, attach_nag_packs, attach_preflight_checks  # noqa: E402
from stacks.delivery import plan_waves  # noqa: E402
from stacks.delivery_stack import DeliveryStack, build_delivery  # noqa: E402
from stacks.platform import Platform, Selection, build_platform  # noqa: E402
from stacks.registry import RegistryError, load_registry  # noqa: E402

DEFAULT_REGISTRY = "platform.yaml"


def cdk_json_context() -> dict:
    """cdk.json's context (feature flags, zones), so `python app.py` synthesizes what `cdk synth` does.

    Context given to the App is the lowest-precedence source: the CLI's own context still wins.
    """
    return json.loads((Path(__file__).resolve().parent / "cdk.json").read_text()).get("context", {})


def build(app: cdk.App) -> Platform:
    path = app.node.try_get_context("registry") or os.environ.get("MWAA_PLATFORM_REGISTRY", DEFAULT_REGISTRY)
    platform = load_registry(path)
    for warning in platform.warnings:
        print(f"warning: {path}: {warning}", file=sys.stderr)
    context = app.node.try_get_context
    mode = str(context("delivery") or "platform")
    if mode not in ("platform", "pipeline"):
        raise MwaaPlatformError(f"context delivery must be platform or pipeline, got {mode!r}")
    if mode == "pipeline":
        if any(context(key) is not None for key in ("teams", "stages", "shard")):
            raise MwaaPlatformError("context delivery=pipeline builds the whole platform: drop teams, stages and shard")
        return build_delivery(app, platform)[0]  # plans the waves first, within CodePipeline's quotas
    if platform.delivery is not None:
        plan_waves(platform)  # a registry the pipeline could not deliver (CodePipeline's quotas) fails every synth
    selection = Selection.from_context(context("teams"), context("stages"), context("shard"), platform)
    return build_platform(app, platform, selection)



if __name__ == "__main__":
    app = cdk.App(context=cdk_json_context())
    try:
        build(app)  # the registry is validated before any construct is built
    except (RegistryError, MwaaPlatformError) as error:  # a user's mistake: a message, never a traceback
        sys.exit(f"error: {error}")
    checks = str(app.node.try_get_context("checks") or "on").lower()
    if checks not in ("on", "off"):
        sys.exit(f"error: context checks must be on or off, got {checks!r}")
    if checks == "on":
        attach_nag_packs(app)
        attach_preflight_checks(app)
    else:
        print("checks=off: no cdk-nag packs, no preflight checks (for cdk ls and cdk diff only)", file=sys.stderr)
    assembly = app.synth()
    for pipeline in (child for child in app.node.children if isinstance(child, DeliveryStack)):
        guard = Path(assembly.directory) / "approval-guard-scp.json"
        guard.write_text(json.dumps(pipeline.approval_guard(), indent=2) + "\n")
        print(f"The approval guard (a service control policy for the tooling account) written to {guard}",
              file=sys.stderr)
    print(f"Templates and validation-report.json written to {assembly.directory}", file=sys.stderr)
