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
def platform(tmp_path_factory, worker_id):
    """The example platform, synthesized once per run exactly as `cdk synth` does: nag packs attached.

    Synthesis raises on any unacknowledged finding. The first xdist worker to need it synthesizes
    into a directory all workers share (under a file lock); the others load that cloud assembly,
    so the platform is synthesized once per run, not once per worker. ``acknowledgments`` are the
    construct tree's, recorded at synthesis.
    """
    import fcntl
    import importlib
    import json
    from types import SimpleNamespace

    import aws_cdk as cdk
    from aws_cdk import cx_api

    from harness import acknowledgments, cdk_json_context
    from mwaa_platform import attach_nag_packs, attach_preflight_checks

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    out, done = shared / "platform.cdk.out", shared / "platform.acknowledgments.json"
    with open(shared / "platform.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            app = cdk.App(outdir=str(out), context=cdk_json_context())
            attach_nag_packs(app)
            attach_preflight_checks(app)
            importlib.import_module("app").build(app)
            app.synth()
            done.write_text(json.dumps(acknowledgments(app)))
    return SimpleNamespace(assembly=cx_api.CloudAssembly(str(out)), acknowledgments=json.loads(done.read_text()))


@pytest.fixture(scope="session", autouse=True)
def wheelhouse_cache(tmp_path_factory):
    """Wheelhouses built by tests go to a temporary cache, not the user's ~/.cache."""
    os.environ["MWAA_PLATFORM_CACHE"] = str(tmp_path_factory.mktemp("mwaa-platform-cache"))


#: The slowest modules, slowest first (measured with ``--durations=0``). xdist hands modules to its
#: two workers in collection order, so starting with the long ones keeps both busy to the end.
SLOW_MODULES = ("test_registry", "test_platform_app", "test_environment", "test_network", "test_checkov",
                "test_compute_batch", "test_package_index")


def pytest_collection_modifyitems(items):
    rank = {name: position for position, name in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))
