#!/usr/bin/env python3
"""The platform team's CDK app: `cdk synth` / `cdk deploy` (see README.md)."""

import os

# jsii prints a Node end-of-life banner on every run under Node 20; the Makefile says the same.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20,22")

import aws_cdk as cdk  # noqa: E402

from mwaa_platform import attach_nag_packs  # noqa: E402
from stacks.example_stack import ExamplePlatformStack  # noqa: E402

DEFAULT_ACCOUNT = "123456789012"  # placeholder: synth needs no credentials; set CDK_DEPLOY_ACCOUNT to deploy
DEFAULT_REGION = "eu-west-1"


def build(app: cdk.App) -> cdk.App:
    env = cdk.Environment(
        account=os.environ.get("CDK_DEPLOY_ACCOUNT", DEFAULT_ACCOUNT),
        region=os.environ.get("CDK_DEPLOY_REGION", DEFAULT_REGION),
    )
    ExamplePlatformStack(app, "MwaaPlatform-Example", env=env, vpc_attributes=app.node.get_context("mwaa-platform:vpc"))
    return app


if __name__ == "__main__":
    app = cdk.App()
    attach_nag_packs(app)
    build(app)
    assembly = app.synth()
    print(f"Templates and validation-report.json written to {assembly.directory}")
