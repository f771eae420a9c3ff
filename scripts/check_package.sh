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
from aws_cdk import aws_ec2 as ec2
import mwaa_platform
from mwaa_platform import AirflowEnvironment, attach_nag_packs

assert "site-packages" in mwaa_platform.__file__, mwaa_platform.__file__
app = cdk.App(context={"availability-zones:account=111111111111:region=us-east-1": ["us-east-1a", "us-east-1b"]})
attach_nag_packs(app)
stack = cdk.Stack(app, "DataTeam", env=cdk.Environment(account="111111111111", region="us-east-1"))
vpc = ec2.Vpc.from_vpc_attributes(
    stack, "Vpc", vpc_id="vpc-1", availability_zones=["us-east-1a", "us-east-1b"],
    private_subnet_ids=["subnet-1", "subnet-2"], private_subnet_route_table_ids=["rtb-1", "rtb-2"],
)
AirflowEnvironment(stack, "Airflow", environment_name="data-team", environment_class="mw1.micro", vpc=vpc, dags="dags")
assembly = app.synth()
print("synthesized", [s.stack_name for s in assembly.stacks], "from", mwaa_platform.__file__)
PY
cd "$work/app"
"$work/venv/bin/python" app.py
