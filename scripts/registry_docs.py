#!/usr/bin/env python3
"""Write the registry's JSON Schema and the generated reference of docs/registry.md from the models.

    make registry-docs          # after changing stacks/registry_schema.py

tests/test_registry_schema.py fails while either committed copy is stale.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20,22")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stacks.registry_schema import json_schema, reference_markdown  # noqa: E402

SCHEMA = REPO / "docs" / "registry.schema.json"
DOCS = REPO / "docs" / "registry.md"
BEGIN = "<!-- BEGIN GENERATED REFERENCE: make registry-docs -->"
END = "<!-- END GENERATED REFERENCE -->"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def docs_text(current: str) -> str:
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{reference_markdown()}\n{END}{tail}"


def main() -> None:
    SCHEMA.write_text(schema_text())
    DOCS.write_text(docs_text(DOCS.read_text()))
    print(f"wrote {SCHEMA.relative_to(REPO)} and the reference of {DOCS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
