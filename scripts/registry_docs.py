#!/usr/bin/env python3
"""Write the registry's JSON Schema, the generated reference of docs/registry.md from the models,
the alarm table of docs/alerting.md from mwaa_platform.alerting.ALARMS, and the version table of
docs/airflow-environment.md from mwaa_platform.environment.AIRFLOW_VERSIONS.

    make registry-docs          # after changing stacks/registry_schema.py or the alarms

tests/test_registry_schema.py, tests/test_alerting.py and tests/test_versions.py fail while a committed copy is stale.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20,22")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mwaa_platform.alerting import alarms_markdown  # noqa: E402
from mwaa_platform.environment import version_table_markdown  # noqa: E402
from stacks.registry_schema import json_schema, reference_markdown  # noqa: E402

SCHEMA = REPO / "docs" / "registry.schema.json"
DOCS = REPO / "docs" / "registry.md"
BEGIN = "<!-- BEGIN GENERATED REFERENCE: make registry-docs -->"
END = "<!-- END GENERATED REFERENCE -->"
ALERTING = REPO / "docs" / "alerting.md"
ALARMS_BEGIN = "<!-- BEGIN GENERATED ALARMS: make registry-docs -->"
ALARMS_END = "<!-- END GENERATED ALARMS -->"
ENVIRONMENT = REPO / "docs" / "airflow-environment.md"
VERSIONS_BEGIN = "<!-- BEGIN GENERATED VERSIONS: make registry-docs -->"
VERSIONS_END = "<!-- END GENERATED VERSIONS -->"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def docs_text(current: str) -> str:
    return _replace_between(current, BEGIN, END, reference_markdown())


def alerting_text(current: str) -> str:
    return _replace_between(current, ALARMS_BEGIN, ALARMS_END, alarms_markdown())


def versions_text(current: str) -> str:
    return _replace_between(current, VERSIONS_BEGIN, VERSIONS_END, version_table_markdown())


def _replace_between(current: str, begin: str, end: str, generated: str) -> str:
    head, _, rest = current.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n\n{generated}\n{end}{tail}"


def main() -> None:
    SCHEMA.write_text(schema_text())
    DOCS.write_text(docs_text(DOCS.read_text()))
    ALERTING.write_text(alerting_text(ALERTING.read_text()))
    ENVIRONMENT.write_text(versions_text(ENVIRONMENT.read_text()))
    print(f"wrote {SCHEMA.relative_to(REPO)}, the reference of {DOCS.relative_to(REPO)}, the alarm table of "
          f"{ALERTING.relative_to(REPO)} and the version table of {ENVIRONMENT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
