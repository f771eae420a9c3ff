#!/usr/bin/env python3
"""Ask real Airflow what it makes of a platform: run by an Airflow virtualenv's python
(scripts/airflow_venv.py), with Airflow and the standard library only.

    .venv-airflow-2.11.0/bin/python scripts/airflow_probe.py < request.json > answer.json

The request (JSON on stdin), every part optional::

    {"connections": [{"environment": "payments-prod", "backend_kwargs": {...},
                      "secrets": {"airflow/payments-prod/connections/x": "<SecretString>"},
                      "conn_ids": ["x"]}],
     "options": ["core.default_task_retries", ...],
     "dags": [{"name": "payments-prod", "folders": ["examples/dags"], "hide": ["some-dist"]}],
     "config": true, "distributions": true}

The answer: ``connections`` read through the Amazon provider's ``SecretsManagerBackend`` (its boto
client replaced by a fake that answers from ``secrets``: no AWS call) and ``AwsConnectionWrapper``;
``options`` each classified as ``option``, ``deprecated`` (an alias Airflow still reads, proven by
reading the new name) or ``unknown``; ``dags`` imported into a ``DagBag`` (distributions in ``hide``
cannot be imported by the DAGs); ``config`` as scripts/airflow_facts.py generates it;
``distributions`` installed in the virtualenv, name -> version. One process
answers everything: importing Airflow takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))


def prepare_environment() -> None:
    """A throwaway AIRFLOW_HOME, no examples, no database needed to parse DAGs."""
    home = os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")


class _FakeSecretsManager:
    """Just enough of a boto3 ``secretsmanager`` client for SecretsManagerBackend."""

    class exceptions:  # noqa: N801 (boto3's attribute name)
        class ResourceNotFoundException(Exception):
            pass

        InvalidParameterException = InvalidRequestException = DecryptionFailure = InternalServiceError = \
            type("ClientError", (Exception,), {})

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.calls: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 (boto3's parameter name)
        self.calls.append(SecretId)
        if SecretId not in self.secrets:
            raise self.exceptions.ResourceNotFoundException(SecretId)
        return {"SecretString": self.secrets[SecretId]}


def connections(request: dict[str, Any]) -> dict[str, Any]:
    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend  # type: ignore[import-not-found]
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper  # type: ignore[import-not-found]

    backend = SecretsManagerBackend(**request["backend_kwargs"])
    fake = _FakeSecretsManager(request["secrets"])
    backend.__dict__["client"] = fake         # a cached_property: the fake is what it returns from now on
    answer: dict[str, Any] = {}
    for conn_id in request["conn_ids"]:
        connection = backend.get_connection(conn_id)
        if connection is None:
            answer[conn_id] = {"found": False, "looked_up": conn_id in " ".join(fake.calls)}
            continue
        wrapper = AwsConnectionWrapper(conn=connection)
        answer[conn_id] = {"found": True, "conn_type": connection.conn_type, "role_arn": wrapper.role_arn,
                           "region_name": wrapper.region_name,
                           "sts_endpoint_url": wrapper.get_service_endpoint_url("sts", sts_connection_assume=True)}
    return answer


def options(keys: list[str]) -> dict[str, str]:
    from airflow.configuration import conf  # type: ignore[import-not-found]

    described = conf.configuration_description
    replaced_by = {(old_section, old_key): new for new, (old_section, old_key, _) in conf.deprecated_options.items()}
    answer = {}
    for option in keys:
        section, _, key = option.lower().partition(".")
        if key in ((described.get(section) or {}).get("options") or {}):
            answer[option] = "option"
        elif (section, key) in replaced_by:
            # proof that Airflow reads the alias: set the old name the way MWAA does, read the new one
            new_section, new_key = replaced_by[(section, key)]
            variable = f"AIRFLOW__{section.upper()}__{key.upper()}"
            saved = os.environ.get(variable)
            os.environ[variable] = "probe-sentinel"
            try:
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    read = conf.get(new_section, new_key, fallback=None)
            finally:
                if saved is None:
                    del os.environ[variable]
                else:
                    os.environ[variable] = saved
            answer[option] = "deprecated" if read == "probe-sentinel" else "unknown"
        else:
            answer[option] = "unknown"
    return answer


class _Hidden:
    """A meta path finder that makes some modules unimportable: those of the distributions the
    environment would not have (neither in MWAA's image nor in its requirements)."""

    def __init__(self, modules: dict[str, str]) -> None:
        self.modules = modules          # dotted module prefix -> distribution

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        for prefix, dist in self.modules.items():
            if name == prefix or name.startswith(prefix + "."):
                raise ModuleNotFoundError(f"No module named {name!r} ({dist} is neither in MWAA's image nor in "
                                          "this environment's requirements)", name=name)
        return None


def hidden_modules(hide: list[str]) -> dict[str, str]:
    """The module prefixes of the distributions in ``hide``: a top-level package they alone own, or
    else (a namespace such as ``airflow`` for a provider) the deepest package all their files share."""
    from importlib.metadata import distributions

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    wanted = {norm(name) for name in hide}
    owners: dict[str, set[str]] = {}
    packages: dict[str, list[tuple[str, ...]]] = {}
    for dist in distributions():
        name = norm(dist.metadata["Name"])
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if file.suffix == ".py" and not parts[0].endswith((".dist-info", ".data")) and ".." not in parts:
                owners.setdefault(parts[0].removesuffix(".py"), set()).add(name)
                if name in wanted:
                    packages.setdefault(name, []).append(parts[:-1] or (parts[0].removesuffix(".py"),))
    modules: dict[str, str] = {}
    for name, dirs in packages.items():
        for top in {d[0] for d in dirs}:
            if owners[top] <= wanted:
                modules[top] = name
                continue
            common = [d for d in dirs if d[0] == top]
            prefix = common[0]
            for d in common[1:]:
                same = 0
                while same < min(len(prefix), len(d)) and prefix[same] == d[same]:
                    same += 1
                prefix = prefix[:same]
            if len(prefix) > 1:
                modules[".".join(prefix)] = name
    return modules


def _location(folder: str, path: str, message: str) -> Optional[int]:
    """The line of ``path`` an import error points at: the last traceback frame in that file, or a
    SyntaxError's line."""
    lines = re.findall(rf'File "{re.escape(path)}", line (\d+)', message)
    if lines:
        return int(lines[-1])
    match = re.search(r"line (\d+)", message) or re.search(rf"{re.escape(os.path.basename(path))}, line (\d+)", message)
    return int(match.group(1)) if match else None


def dags(request: dict[str, Any]) -> dict[str, Any]:
    import inspect

    try:  # Airflow 3.3 moved it (the old path still imports, with a deprecation warning)
        from airflow.dag_processing.dagbag import DagBag  # type: ignore[import-not-found]
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[import-not-found]

    hidden = hidden_modules(request.get("hide", []))
    finder = _Hidden(hidden)
    sys.meta_path.insert(0, finder)
    try:
        answer: dict[str, Any] = {"dag_ids": [], "import_errors": []}
        for folder in request["folders"]:
            # Airflow 3.3 dropped include_examples (AIRFLOW__CORE__LOAD_EXAMPLES, set above, says the same)
            options = {"include_examples": False} if "include_examples" in inspect.signature(DagBag).parameters else {}
            bag = DagBag(dag_folder=folder, safe_mode=False, **options)
            answer["dag_ids"] += sorted(bag.dag_ids)
            for path, message in sorted(bag.import_errors.items()):
                answer["import_errors"].append({"file": path, "line": _location(folder, path, message),
                                                "message": message.strip()})
        return answer
    finally:
        sys.meta_path.remove(finder)
        for module in [name for name in sys.modules if any(name == p or name.startswith(p + ".") for p in hidden)]:
            del sys.modules[module]


def probe(request: dict[str, Any]) -> dict[str, Any]:
    prepare_environment()
    import airflow  # type: ignore[import-not-found]
    from airflow.configuration import conf
    from airflow.providers_manager import ProvidersManager  # type: ignore[import-not-found]

    ProvidersManager().initialize_providers_configuration()
    conf.load_providers_configuration()
    answer: dict[str, Any] = {"airflow_version": airflow.__version__}
    if request.get("config"):
        from airflow_facts import airflow_config  # type: ignore[import-not-found]
        answer["config"] = airflow_config()
    if request.get("distributions"):
        from importlib.metadata import distributions
        answer["distributions"] = {dist.metadata["Name"]: dist.version for dist in distributions()}
    if "options" in request:
        answer["options"] = options(request["options"])
    if "connections" in request:
        answer["connections"] = {item["environment"]: connections(item) for item in request["connections"]}
    if "dags" in request:
        answer["dags"] = {item["name"]: dags(item) for item in request["dags"]}
    return answer


def main() -> int:
    request = json.load(sys.stdin)
    # Airflow logs (import errors, warnings) to stdout: keep stdout for the answer alone
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    answer = probe(request)
    with os.fdopen(answer_fd, "w") as out:
        out.write(json.dumps(answer, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
