"""What MWAA's image holds for an Airflow version: its constraints, the distributions it installs,
and the configuration options that Airflow reads.

The data lives in ``_mwaa_images/<version>/``: ``constraints.txt`` and ``installed.txt`` are copied
from MWAA's image sources (aws/amazon-mwaa-docker-images; each file's first line names the commit
and path), ``airflow_config.json`` is generated from real Airflow with the image's providers
(``scripts/airflow_facts.py``). tests/test_airflow_real.py regenerates the generated files and
fails while a committed one is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Optional

__all__ = ["ImageFacts", "image_facts", "image_versions", "normalize"]

_DATA = Path(__file__).resolve().parent / "_mwaa_images"
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


@dataclass(frozen=True)
class ImageFacts:
    """One Airflow version as MWAA's image installs it.

    :param airflow_version: e.g. ``2.11.0``.
    :param constraints: the image's constraints file (Apache Airflow's, for Python 3.12):
        normalized distribution name -> pinned version.
    :param installed: normalized names of the distributions installed in the image.
    :param config_options: every ``section.key`` this Airflow and the image's providers read.
        ``None`` where no configuration data was generated for the version.
    :param deprecated_options: old ``section.key`` -> its replacement, for the aliases this version
        still reads.
    :param source: where the data came from.
    """

    airflow_version: str
    constraints: Mapping[str, str]
    installed: frozenset[str]
    config_options: Optional[frozenset[str]]
    deprecated_options: Mapping[str, str]
    source: str

    def reads_option(self, option: str) -> Optional[bool]:
        """Whether this version reads ``section.key`` (as an option or a deprecated alias);
        ``None`` when unknown (no configuration data). Sections and keys compare case-insensitively,
        as Airflow's configuration parser does."""
        if self.config_options is None:
            return None
        option = option.lower()
        return option in self.config_options or option in self.deprecated_options


def normalize(name: str) -> str:
    """A distribution name normalized as PEP 503 does: ``Flask_AppBuilder`` -> ``flask-appbuilder``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def _origin(path: Path) -> str:
    """The ``# copied from ...`` line of a copied file."""
    return next((line.lstrip("# ").strip() for line in path.read_text().splitlines() if "copied from" in line),
                str(path.name))


@lru_cache(maxsize=None)
def image_versions() -> tuple[str, ...]:
    """The Airflow versions with image data, oldest first."""
    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))
    return tuple(sorted((entry.name for entry in _DATA.iterdir() if (entry / "constraints.txt").is_file()), key=key))


@lru_cache(maxsize=None)
def image_facts(airflow_version: str) -> Optional[ImageFacts]:
    """What MWAA's image of ``airflow_version`` holds; ``None`` for a version without data."""
    if airflow_version not in image_versions():
        return None
    folder = _DATA / airflow_version
    sources = [_origin(folder / "constraints.txt"), _origin(folder / "installed.txt")]
    options: Optional[frozenset[str]] = None
    deprecated: dict[str, str] = {}
    config = folder / "airflow_config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        options = frozenset(option.lower() for option in data["options"])
        deprecated = {old.lower(): new.lower() for old, new in data["deprecated"].items()}
        sources.append(data["source"])
    return ImageFacts(
        airflow_version=airflow_version,
        constraints=MappingProxyType(_pins(folder / "constraints.txt")),
        installed=frozenset(_pins(folder / "installed.txt")),
        config_options=options,
        deprecated_options=MappingProxyType(deprecated),
        source="; ".join(sources),
    )
