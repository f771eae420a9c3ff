"""Shared fixtures. The harness itself lives in tests/harness.py so test modules can import it."""

import os

# jsii prints a Node end-of-life banner on every run under Node 20; keep test output readable.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest  # noqa: E402

from harness import new_app, new_stack  # noqa: E402


@pytest.fixture
def app():
    """A fresh App with cdk.json's context and no validation plugins."""
    return new_app()


@pytest.fixture
def stack(app):
    """A fresh stack with fixed account, region and AZs."""
    return new_stack(app)


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    """The example platform, synthesized once per session exactly as `cdk synth` does: nag packs attached."""
    import importlib
    from types import SimpleNamespace

    import aws_cdk as cdk

    from harness import cdk_json_context
    from mwaa_platform import attach_nag_packs, attach_preflight_checks

    platform_app = importlib.import_module("app")
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context=cdk_json_context())
    attach_nag_packs(app)
    attach_preflight_checks(app)
    platform_app.build(app)
    return SimpleNamespace(app=app, assembly=app.synth())  # synth raises on any unacknowledged finding


@pytest.fixture(scope="session", autouse=True)
def wheelhouse_cache(tmp_path_factory):
    """Wheelhouses built by tests go to a temporary cache, not the user's ~/.cache."""
    os.environ["MWAA_PLATFORM_CACHE"] = str(tmp_path_factory.mktemp("mwaa-platform-cache"))
