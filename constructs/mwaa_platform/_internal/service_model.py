"""Facts about Amazon MWAA read from botocore's service model, the installed source of truth.

The API model carries the enums (web server access modes, endpoint management, log levels, worker
replacement strategies), the name pattern and, in its documentation, the valid Airflow versions and
environment classes. Reading them here keeps the library in step with the SDK it is pinned to.
"""

from __future__ import annotations

import re
from functools import cache

import botocore.session
from botocore.model import ServiceModel, Shape

from mwaa_platform.errors import shorten

_VALID_VALUES = re.compile(r"Valid values:\s*(?P<values>[^<]*?)\.?\s*(?:<|For more|$)")


@cache
def mwaa_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("mwaa")


def create_member(name: str) -> Shape:
    """A member of ``CreateEnvironmentInput`` (or ``UpdateEnvironmentInput`` for update-only ones)."""
    model = mwaa_model()
    for operation in ("CreateEnvironmentInput", "UpdateEnvironmentInput"):
        members = model.shape_for(operation).members
        if name in members:
            return members[name]
    raise KeyError(f"MWAA API has no environment field {shorten(name)}")


def enum_values(member: str) -> tuple[str, ...]:
    """The enum of an environment field, e.g. ``WebserverAccessMode``."""
    return tuple(create_member(member).enum)


def documented_valid_values(member: str) -> tuple[str, ...]:
    """Values listed after "Valid values:" in a field's API documentation."""
    doc = re.sub(r"<[^>]+>", "", create_member(member).documentation)
    match = _VALID_VALUES.search(doc)
    if not match:
        raise LookupError(f"botocore's documentation of {member} lists no valid values")
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", match["values"].strip())
    return tuple(part.strip() for part in parts if part.strip())


@cache
def known_airflow_versions() -> tuple[str, ...]:
    """Airflow versions the pinned botocore knows, e.g. ``('2.7.2', ..., '3.0.6')``."""
    return documented_valid_values("AirflowVersion")


@cache
def known_environment_classes() -> tuple[str, ...]:
    return documented_valid_values("EnvironmentClass")


@cache
def log_levels() -> tuple[str, ...]:
    return tuple(mwaa_model().shape_for("LoggingLevel").enum)


def name_limits() -> tuple[int, int, str]:
    """(min length, max length, pattern) of an environment name."""
    metadata = create_member("Name").metadata
    return metadata["min"], metadata["max"], metadata["pattern"]
