"""Shared fixtures. The harness itself lives in tests/harness.py so test modules can import it."""

import importlib
import os
import shutil
from pathlib import Path

# jsii prints a Node end-of-life banner on every run under Node 20; keep test output readable.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest  # noqa: E402

# the harness imports aws_cdk, which starts a Node process: fixtures import it when first used, so the
# xdist controller, which runs no test, never starts one
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app():
    """A fresh App with cdk.json's context and no validation plugins."""
    from harness import new_app

    return new_app()


@pytest.fixture
def stack(app):
    """A fresh stack with fixed account, region and AZs."""
    from harness import new_stack

    return new_stack(app)


def _synthesis_key(registry: Path, context: dict) -> str:
    """Every input of a synthesis of ``registry`` (``harness.build_inputs_key``)."""
    import json

    from harness import build_inputs_key

    return build_inputs_key("synth", str(registry.relative_to(REPO_ROOT)), json.dumps(context, sort_keys=True))


def _synthesized(tmp_path_factory, name: str, registry: Path, context: dict | None = None):
    """``registry`` synthesized once per run exactly as `cdk synth` does (nag packs and preflight attached),
    into a directory every xdist worker shares.

    Synthesis raises on any unacknowledged finding. The first worker to need it synthesizes under a
    file lock; the others load that cloud assembly. ``acknowledgments`` are the construct tree's,
    recorded at synthesis.
    """
    import fcntl
    import json
    from types import SimpleNamespace

    import aws_cdk as cdk
    from aws_cdk import cx_api

    from harness import CACHE_DIR, acknowledgments, cache_enabled, cdk_json_context
    from mwaa_platform import attach_nag_packs, attach_preflight_checks

    # under xdist each worker's base temp is a child of the run's; without it, the run's own
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    out, done = shared / f"{name}.cdk.out", shared / f"{name}.acknowledgments.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            kept = CACHE_DIR / f"synth-{_synthesis_key(registry, context or {})}" if cache_enabled() else None
            if kept is not None and (kept / "acknowledgments.json").exists():
                shutil.copytree(kept / "cdk.out", out)  # the same inputs synthesize the same assembly
                shutil.copy(kept / "acknowledgments.json", done)
            else:
                app = cdk.App(outdir=str(out), context={**cdk_json_context(), "registry": str(registry),
                                                        **(context or {})})
                attach_nag_packs(app)
                attach_preflight_checks(app)
                importlib.import_module("app").build(app)
                app.synth()
                done.write_text(json.dumps(acknowledgments(app)))
                if kept is not None:
                    staging = kept.with_name(f"{kept.name}.{os.getpid()}.partial")
                    shutil.copytree(out, staging / "cdk.out")
                    shutil.copy(done, staging / "acknowledgments.json")
                    shutil.rmtree(kept, ignore_errors=True)
                    staging.replace(kept)
    return SimpleNamespace(assembly=cx_api.CloudAssembly(str(out)), acknowledgments=json.loads(done.read_text()),
                           registry=registry)


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    """The library's and the app's example platform (``tests/fixtures/platform/platform.yaml``, never the
    user's platform.yaml), synthesized once per run."""
    from harness import FIXTURE_REGISTRY

    return _synthesized(tmp_path_factory, "platform", FIXTURE_REGISTRY)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The fixture registry's delivery pipeline (`make synth-pipeline`: `-c delivery=pipeline`), synthesized
    once per run: the pipeline stack and every stack of the platform in its unit's stage."""
    from harness import FIXTURE_REGISTRY

    return _synthesized(tmp_path_factory, "pipeline", FIXTURE_REGISTRY, {"delivery": "pipeline"})


@pytest.fixture(scope="session")
def user_platform(platform, tmp_path_factory):
    """The platform team's own platform.yaml, synthesized once per run (tests/test_your_platform.py).

    When it builds exactly what the fixture registry builds (a fresh clone: the same settings once
    paths are resolved), the fixture's synthesis is reused: synthesis is deterministic, so a second
    one would produce the same templates.
    """
    import dataclasses

    from harness import FIXTURE_REGISTRY, USER_REGISTRY
    from stacks.registry import load_registry

    user, fixture = load_registry(USER_REGISTRY, environ={}), load_registry(FIXTURE_REGISTRY, environ={})
    if dataclasses.replace(user, source=fixture.source) == fixture:
        return platform
    return _synthesized(tmp_path_factory, "user-platform", USER_REGISTRY)


@pytest.fixture(scope="session", autouse=True)
def wheelhouse_cache(tmp_path_factory):
    """Wheelhouses built by tests go to a temporary cache, not the user's ~/.cache."""
    os.environ["MWAA_PLATFORM_CACHE"] = str(tmp_path_factory.mktemp("mwaa-platform-cache"))


#: The order modules start in, measured with ``--durations=0``. xdist hands whole modules to its two
#: workers in this order, two at a time, then one more each time a worker finishes one. The platform
#: is synthesized first, on one worker, while the other runs the longest modules that do not need
#: it; the other users of the ``platform`` fixture come after about 15 s of work, so no worker waits
#: on the lock. Long modules go early so both workers stay busy to the end.
MODULE_ORDER = ("test_platform_app", "test_synth_shards", "test_registry", "test_network", "test_checkov", "test_airflow_real",
                "test_environment", "test_docs_examples", "test_blue_green",
                "test_compute_batch", "test_compute_ecs", "test_team_stacks", "test_your_platform", "test_package_index",
                "test_wheelhouse", "test_registry_schema", "test_compute_eks")


def pytest_collection_modifyitems(items):
    rank = {name: position for position, name in enumerate(MODULE_ORDER)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))
