"""Guards for the constructs/ source-root rule (see constructs/README.md)."""

import sys
from pathlib import Path

from harness import REPO_ROOT


def test_constructs_folder_is_a_source_root_not_a_package():
    assert (REPO_ROOT / "constructs" / "mwaa_platform" / "__init__.py").is_file()
    assert not (REPO_ROOT / "constructs" / "__init__.py").exists(), (
        "constructs/__init__.py shadows the PyPI package 'constructs' (aws-cdk#19301); delete it"
    )


def test_import_constructs_resolves_to_the_pypi_package():
    import constructs

    location = Path(constructs.__file__).resolve()
    assert "site-packages" in location.parts, f"'import constructs' resolved to {location}"
    assert REPO_ROOT / "constructs" not in location.parents
    assert hasattr(constructs, "Construct")


def test_library_is_imported_as_mwaa_platform_only():
    import mwaa_platform  # noqa: F401

    assert not any(name.startswith("constructs.mwaa_platform") for name in sys.modules)


# --- the package's public surface ---------------------------------------------------------------

import importlib  # noqa: E402
import inspect  # noqa: E402
import pkgutil  # noqa: E402
import re  # noqa: E402
from typing import get_args  # noqa: E402

import pytest  # noqa: E402

SUBPACKAGES = ("mwaa_platform.environment", "mwaa_platform.network", "mwaa_platform.compliance",
               "mwaa_platform.compute", "mwaa_platform.alerting", "mwaa_platform.cross_account", "mwaa_platform.paths",
               "mwaa_platform.serverless", "mwaa_platform.review")
PUBLIC_MODULES = ("mwaa_platform", *SUBPACKAGES, "mwaa_platform.validation", "mwaa_platform.errors")


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_module_has_an_explicit_all_that_resolves(name):
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list) and module.__all__, name
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ names {exported!r}, which it does not define"
        assert not exported.startswith("_"), f"{name}.__all__ exports the private name {exported!r}"


def test_the_names_of_the_flat_layout_keep_working():
    """Apps written against 0.1's flat `from mwaa_platform import ...` still import."""
    import mwaa_platform

    for name in ("AIRFLOW_ROLES", "ENDPOINT_SETS", "ENVIRONMENT_CLASSES", "LOG_TYPES", "MIN_REASON_LENGTH",
                 "NAG_PACK_TYPES", "AirflowArtifacts", "AirflowConfiguration", "AirflowEnvironment",
                 "AirflowExecutionRole", "AirflowKey", "AirflowNetwork", "AirflowNetworkBase", "AirflowSourceBucket",
                 "AirflowVpcEndpoints", "CeleryConcurrency", "EnvironmentClass", "NetworkAttributes",
                 "SecretsManagerBackend", "SharedAirflowNetwork", "acknowledge", "attach_nag_packs", "nag_packs"):
        assert name in mwaa_platform.__all__ and getattr(mwaa_platform, name) is not None, name


def test_internals_are_marked_private_and_not_exported():
    import mwaa_platform

    internal = importlib.import_module("mwaa_platform._internal")
    assert internal.__all__ == []
    modules = {m.name for m in pkgutil.iter_modules(mwaa_platform.__path__)}
    # only capability subpackages, the error type and the public checks sit at the top; the rest is private
    assert {m for m in modules if not m.startswith("_")} == {"environment", "network", "compliance", "compute",
                                                               "alerting", "cross_account", "errors", "validation",
                                                               "paths", "serverless", "review"}


def test_the_app_imports_no_private_module():
    """stacks/ and app.py use the public surface only (mwaa_platform, subpackages, validation, errors)."""
    offenders = []
    for path in [*(REPO_ROOT / "stacks").glob("*.py"), REPO_ROOT / "app.py"]:
        for line in path.read_text().splitlines():
            match = re.match(r"\s*from (mwaa_platform[\w.]*) import", line)
            if match and match.group(1) not in PUBLIC_MODULES:
                offenders.append(f"{path.name}: {line.strip()}")
    assert offenders == []


# --- documented defaults ------------------------------------------------------------------------

_PARAM = re.compile(r":param (\w+):(.*?)(?=\n\s*:param |\n\s*:raises |\Z)", re.S)


def undocumented_defaults(cls: type) -> list[str]:
    """Optional constructor parameters of ``cls`` whose ``:param:`` entry does not state a default."""
    docs = "\n".join(filter(None, (cls.__doc__, cls.__dict__["__init__"].__doc__)))
    documented = {name: text for name, text in _PARAM.findall(docs)}
    problems = []
    for name, parameter in inspect.signature(cls.__dict__["__init__"]).parameters.items():
        if name in ("self", "scope", "construct_id") or parameter.default is inspect.Parameter.empty:
            continue
        if name not in documented:
            problems.append(f"{cls.__module__}.{cls.__qualname__}: {name} has no ':param {name}:' entry")
        elif "Default" not in documented[name]:
            problems.append(f"{cls.__module__}.{cls.__qualname__}: ':param {name}:' does not say its Default")
    return problems


def public_classes_with_constructors() -> list[type]:
    found: dict[str, type] = {}
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for exported in module.__all__:
            value = getattr(module, exported)
            if inspect.isclass(value) and value.__module__.startswith("mwaa_platform") and "__init__" in value.__dict__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_every_public_constructor_documents_its_defaults():
    classes = public_classes_with_constructors()
    assert {c.__name__ for c in classes} >= {"AirflowEnvironment", "AirflowNetwork", "AirflowExecutionRole",
                                             "AirflowSourceBucket", "AirflowKey", "SecretsManagerBackend"}
    problems = [problem for cls in classes for problem in undocumented_defaults(cls)]
    assert problems == []


def test_the_defaults_check_fails_on_an_undocumented_parameter():
    class Undocumented:
        def __init__(self, scope, construct_id, *, name: str, size: int = 1, color: str = "red") -> None:
            """
            :param name: required, so no default needed.
            :param size: how big.
            """

    assert undocumented_defaults(Undocumented) == [
        f"{__name__}.test_the_defaults_check_fails_on_an_undocumented_parameter.<locals>.Undocumented: "
        "':param size:' does not say its Default",
        f"{__name__}.test_the_defaults_check_fails_on_an_undocumented_parameter.<locals>.Undocumented: "
        "color has no ':param color:' entry",
    ]


# --- typed choices --------------------------------------------------------------------------------


def test_literal_choices_match_botocore():
    from mwaa_platform._internal.service_model import enum_values, log_levels
    from mwaa_platform.environment import options

    assert set(get_args(options.WebserverAccessMode)) == set(enum_values("WebserverAccessMode"))
    assert set(get_args(options.EndpointManagement)) == set(enum_values("EndpointManagement"))
    assert set(get_args(options.WorkerReplacementStrategy)) == set(enum_values("WorkerReplacementStrategy"))
    assert set(get_args(options.LogLevel)) == set(log_levels())


def test_log_type_literal_matches_the_log_types():
    from mwaa_platform.environment import LOG_TYPES, LogType

    assert get_args(LogType) == tuple(LOG_TYPES)
