# Every target sets itself up on a fresh machine: a virtualenv from requirements*.txt and the
# pinned CDK CLI from package-lock.json. Nothing needs to be installed by hand.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# checkov pins its own boto3, so it lives in a virtualenv of its own; tests find it through CHECKOV.
CHECKOV_VENV := .venv-checkov
export CHECKOV ?= $(CURDIR)/$(CHECKOV_VENV)/bin/checkov

export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# make synth JOBS=N: N app processes, one shard of the platform each, merged into one cdk.out
# (scripts/synth_shards.py); JOBS=1 is plain `cdk synth`
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
# the three set-ups (.venv, .venv-checkov, node_modules) are independent: on a fresh machine make builds
# them side by side (docs/testing.md, "Set-up time")
MAKEFLAGS += --jobs=3
# jsii prints a many-line Node end-of-life banner on every run under Node 20: say we know.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 18,20,22
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION ?= 1
export CDK_DISABLE_CLI_TELEMETRY ?= true
# some machines set PYTHONDONTWRITEBYTECODE; then every run compiles the library and pytest rewrites every test
# module again (2 s of each worker's start-up). The caches go to __pycache__/, which git ignores.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: synth synth-pipeline test setup package-check bench clean registry-docs airflow-venvs dags-check snapshots library-snapshots ls diff roundtrips review-diff

## synth: set up, then synthesize the example platform into cdk.out/ (no AWS credentials needed) and write its
## security review into docs/review/ (commit it with the change; tests/test_your_platform.py fails when it is stale)
synth: setup
ifeq ($(JOBS),1)
	cdk synth --quiet
else
	$(BIN)/python scripts/synth_shards.py --jobs $(JOBS) --out cdk.out
endif
	$(BIN)/python -m mwaa_platform.review cdk.out --out docs/review
	@echo "Templates: $(CURDIR)/cdk.out/*.template.json"
	@echo "cdk-nag validation report: $(CURDIR)/cdk.out/validation-report.json"
	@echo "DAG paths, per environment: $(CURDIR)/cdk.out/dag-paths.md"
	@echo "Security review, one page per stack: $(CURDIR)/docs/review/README.md"

## review-diff: what the security review changes against another commit: make review-diff BASE=<git ref>.
## BASE is checked out into a temporary git worktree and synthesized with its own library and platform.yaml; this
## tree (uncommitted changes included) is synthesized too; this checkout's generator reviews both, so only the
## templates' change shows (docs/security-review.md)
review-diff: setup
	@test -n "$(BASE)" || { echo "usage: make review-diff BASE=<git ref>, e.g. BASE=origin/main" >&2; exit 2; }
	@work=$$(mktemp -d); trap 'git worktree remove --force "$$work/base" >/dev/null 2>&1; rm -rf "$$work"' EXIT; \
	git worktree add --quiet --detach "$$work/base" "$(BASE)"; \
	(cd "$$work/base" && PYTHONPATH="$$work/base/constructs:$$work/base" cdk synth --quiet -o "$$work/base.out" >/dev/null); \
	cdk synth --quiet -o "$$work/head.out" >/dev/null; \
	$(BIN)/python -m mwaa_platform.review "$$work/head.out" --base "$$work/base.out"

## synth-pipeline: the delivery pipeline's cloud assembly into cdk.out.pipeline/ (the registry's delivery: the
## pipeline stack, and every stack in its wave's stage; docs/delivery.md), with the approval guard SCP beside it
synth-pipeline: setup
	cdk synth --quiet -c delivery=pipeline -o cdk.out.pipeline

## ls, diff: list the stacks, or diff them against the deployed ones, without the nag packs and preflight checks
## (-c checks=off: they only read the stacks; synth and deploy always run every check)
ls: setup
	cdk ls -c checks=off
diff: setup
	cdk diff -c checks=off

## snapshots: after changing platform.yaml, check it and update its template snapshots and its security review in
## docs/review/ (tests/test_your_platform.py, on two workers); review the diff before committing it (docs/testing.md)
snapshots: setup
	$(BIN)/pytest -n 2 --dist load -q -p no:cacheprovider tests/test_your_platform.py --snapshot-update

## library-snapshots: after changing the library or the app, update the example platform's snapshots
## (tests/test_platform_app.py, the fixture registry; on two workers)
library-snapshots: setup
	$(BIN)/pytest -n 2 --dist load -q -p no:cacheprovider tests/test_platform_app.py --snapshot-update

## roundtrips: onboarding a team, a stage in a new account, compute/alerting/cross-account, each from a fresh
## clone of the committed change to green checks (tests/test_roundtrips.py; several minutes)
roundtrips: setup
	$(BIN)/pytest -q -p no:cacheprovider -m roundtrip tests/test_roundtrips.py

## test: set up, type-check the library, the app and scripts/ (mypy), then run the whole test suite on two workers
## (whole modules per worker, started in the order tests/conftest.py gives: xdist would otherwise
## reorder them by test count)
test: setup airflow-venvs
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -e .
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## airflow-venvs: a virtualenv of real Airflow per version platform.yaml and the tests' registry use
## (.venv-airflow-<version>/), installed as MWAA's image installs it; a marker keyed on the inputs makes reruns
## instant (docs/testing.md)
airflow-venvs: setup
	$(BIN)/python scripts/airflow_venv.py --from-registry platform.yaml --from-registry tests/fixtures/platform/platform.yaml

## dags-check: import every environment's DAGs with its Airflow version; ruff's AIR rules for Airflow 3 (README)
dags-check: airflow-venvs
	$(BIN)/python scripts/dags_check.py --registry platform.yaml

## package-check: pip install . into a fresh virtualenv and synthesize a CDK app outside the repo
package-check: setup
	scripts/check_package.sh

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .venv-airflow-* node_modules cdk.out .cdk.out-shards-* .pytest_cache

## registry-docs: regenerate docs/registry.schema.json, the reference part of docs/registry.md and the alarm table of docs/alerting.md
registry-docs: setup
	$(BIN)/python scripts/registry_docs.py

## bench: synthesize generated registries of 1, 10, 50 and 200 teams (every team runs pods), then 200 in one
## process, in shards and as two independent halves, in turn, three rounds; then one team of 200 selectively;
## write docs/performance.md (about 45 minutes on 2 cores; keep the machine otherwise idle)
bench: setup
	$(BIN)/python scripts/bench.py --sizes 1 10 50 200 --scale 200 --eks-teams 200
