#!/usr/bin/env bash
# `pip install .` into a fresh virtualenv, then synthesize a CDK app outside the repository that
# imports mwaa_platform: proves the package is complete without the repo on sys.path.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$repo"
mkdir -p "$work/app/dags"
echo "# a DAG" > "$work/app/dags/example.py"
cat > "$work/app/app.py" <<'PY'
import aws_cdk as cdk
import mwaa_platform
from pathlib import Path
from mwaa_platform import AirflowEnvironment, AirflowNetwork, attach_nag_packs
from mwaa_platform.environment import IAirflowEnvironment
from mwaa_platform.network import SharedAirflowNetwork  # noqa: F401  (every subpackage ships)
from mwaa_platform.compliance import acknowledge_across_packs  # noqa: F401

assert "site-packages" in mwaa_platform.__file__, mwaa_platform.__file__
handlers = Path(mwaa_platform.__file__).parent / "_internal" / "handlers"
assert {"artifact_sync.py", "cfn_response.py", "prefix_list.py"} <= {p.name for p in handlers.iterdir()}, handlers
# the data the path checks read: MWAA's image facts, with the configuration generated from real Airflow
from mwaa_platform.environment.image_facts import image_facts
facts = image_facts("2.11.0")
assert facts is not None and facts.config_options and "apache-airflow-providers-amazon" in facts.installed, facts
app = cdk.App(context={"availability-zones:account=111111111111:region=us-east-1": ["us-east-1a", "us-east-1b"]})
attach_nag_packs(app)
stack = cdk.Stack(app, "DataTeam", env=cdk.Environment(account="111111111111", region="us-east-1"))
network = AirflowNetwork(stack, "Network")
env = AirflowEnvironment(stack, "Airflow", environment_name="data-team", environment_class="mw1.micro",
                         network=network, dags="dags")
assert isinstance(env, IAirflowEnvironment)
assembly = app.synth()
print("synthesized", [s.stack_name for s in assembly.stacks], "from", mwaa_platform.__file__)
PY
cd "$work/app"
"$work/venv/bin/python" app.py
