"""Markdown pieces of the review pages: tables, code spans, IAM conditions in words."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mwaa_platform.review._template import as_list, readable

__all__ = ["cell", "code", "codes", "conditions", "table"]

_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def cell(text: str) -> str:
    """``text`` safe in a table cell: one line, pipes escaped, asset hashes (which churn) replaced."""
    return _ASSET_HASH.sub("[asset-hash]", " ".join(str(text).split()).replace("|", "\\|"))


def code(text: str) -> str:
    """``text`` as a code span (empty text as a dash)."""
    return f"`{text}`" if text else "-"


def codes(values: Iterable[str]) -> str:
    return ", ".join(code(value) for value in values) or "-"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "None.") -> list[str]:
    """A Markdown table with sorted, de-duplicated rows; ``empty`` when there are none."""
    unique = sorted({tuple(cell(value) for value in row) for row in rows})
    if not unique:
        return [empty, ""]
    return [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}",
            *(f"| {' | '.join(row)} |" for row in unique), ""]


def conditions(condition: Any) -> str:
    """An IAM ``Condition`` block in one line: ``StringEquals aws:SourceAccount = 111111111111; ...``."""
    if not isinstance(condition, Mapping):
        return "-"
    parts = [f"{operator} {key} = {', '.join(readable(value) for value in as_list(values))}"
             for operator in sorted(condition) for key, values in sorted((condition[operator] or {}).items())]
    return "; ".join(parts) or "-"
