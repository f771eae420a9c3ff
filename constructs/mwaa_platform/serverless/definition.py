"""A workflow definition (DAG Factory YAML), read and checked before anything is built.

MWAA Serverless checks a few things when a workflow is created or updated (``start_date``, the size)
and the rest only when a task runs, or never: a typo in an operator's path, a dependency on a task
that does not exist, ``retries: 5``. ``load_definition`` checks all of it at synthesis and reports
every problem at once, each naming the file, the workflow, the task and what is allowed.

The file holds exactly one workflow, keyed by its name, as AWS's examples and DAG Factory write it::

    simple_s3_test:
      dag_id: simple_s3_test
      schedule: 0 0 * * *
      tasks:
        list_objects:
          operator: airflow.providers.amazon.aws.operators.s3.S3ListOperator
          bucket: amzn-s3-demo-bucket

No validator of DAG Factory YAML exists outside Airflow: ``dag-factory`` and AWS's converter build
real DAGs and need Airflow installed. The rules here come from AWS's converter's schema
(``service_schema``) and the user guide (``limits``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from mwaa_platform.errors import MwaaPlatformError, shorten
from mwaa_platform.serverless.limits import (
    CODE_PACKAGE_OPERATORS,
    IGNORED_DAG_KEYS,
    MAX_DEFINITION_BYTES,
    MAX_EXECUTION_TIMEOUT_SECONDS,
    MAX_RETRIES,
    MAX_RETRY_DELAY_SECONDS,
)
from mwaa_platform.serverless.schedule import schedule_problem
from mwaa_platform.serverless.service_schema import DAG_KEYS, DEFAULT_ARGS_KEYS, SERVERLESS_OPERATORS, TASK_KEYS

__all__ = ["WorkflowDefinition", "WorkflowTask", "load_definition"]

_DAG_ID = re.compile(r"^[a-zA-Z0-9._-]+$")
#: Task keys DAG Factory reads besides the operators' arguments (seconds as numbers).
_DAG_FACTORY_TASK_KEYS = ("operator", "dependencies", "task_id", "retry_delay_sec", "execution_timeout_secs")
_DURATION = re.compile(r"^(?:(?P<days>\d+) days?, )?(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)$")
_OPERATORS = frozenset(SERVERLESS_OPERATORS)


@dataclass(frozen=True)
class WorkflowTask:
    """One task of a definition: its operator's import path, its arguments and the tasks it follows.

    :param task_id: the task's id.
    :param operator: the operator's import path.
    :param arguments: the task's other keys, as written.
    :param dependencies: the ids of the tasks it follows. Default: none.
    """

    task_id: str
    operator: str
    arguments: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowDefinition:
    """A checked definition file.

    :param path: the file.
    :param name: the workflow's key in the file, equal to its ``dag_id``.
    :param schedule: the definition's schedule, None for a workflow run only on demand.
    :param tasks: the tasks by id, in file order.
    :param warnings: what the service ignores or the library cannot check, for the construct to report.
        Default: none.
    """

    path: str
    name: str
    schedule: Optional[str]
    tasks: Mapping[str, WorkflowTask]
    warnings: tuple[str, ...] = field(default=())

    @property
    def operators(self) -> frozenset[str]:
        return frozenset(task.operator for task in self.tasks.values())


class _Problems:
    def __init__(self, path: str) -> None:
        self.path, self.workflow = path, "?"
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def _where(self, task: Optional[str]) -> str:
        return f"{self.path}: workflow {self.workflow}" + (f", task {task}" if task else "")

    def error(self, message: str, task: Optional[str] = None) -> None:
        self.errors.append(f"{self._where(task)}: {message}")

    def warn(self, message: str, task: Optional[str] = None) -> None:
        self.warnings.append(f"{self._where(task)}: {message}")

    def raise_if_any(self) -> None:
        if self.errors:
            raise MwaaPlatformError("\n".join(self.errors) if len(self.errors) > 1 else self.errors[0])


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML ships with the platform and serverless extras
        raise MwaaPlatformError("ServerlessWorkflow reads YAML: install PyYAML (pip install 'mwaa-platform[platform]')") from None
    return yaml


def _parse(text: str, problems: _Problems) -> Any:
    """The YAML document, parsed by libyaml (PyYAML's C loader) with aliases refused before composing."""
    yaml = _yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark else "?"
                problems.error(f"line {line}: YAML anchors and aliases are not allowed (a definition is read by the "
                               "service as plain YAML, and an alias can expand without bound)")
                return None
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problems.error(f"{where}not valid YAML: {shorten(getattr(error, 'problem', None) or str(error))}")
        return None


def _seconds(value: Any) -> Optional[float]:
    """A duration in seconds: a number, digits, or ``H:MM:SS``; None for a Jinja template (not checkable)."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if "{{" in value:
            return None
        if re.fullmatch(r"\d+(?:\.\d+)?", value.strip()):
            return float(value)
        match = _DURATION.match(value.strip())
        if match:
            return (int(match["days"] or 0) * 86400 + int(match["h"]) * 3600 + int(match["m"]) * 60
                    + float(match["s"]))
    raise ValueError


def _check_limits(arguments: Mapping[str, Any], problems: _Problems, task: Optional[str], where: str) -> None:
    """``retries``, ``retry_delay`` and ``execution_timeout``: the service checks them only when a task runs."""
    retries = arguments.get("retries")
    if retries is not None and not (isinstance(retries, str) and "{{" in retries):
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
            problems.error(f"{where}retries must be a whole number from 0 to {MAX_RETRIES}, got {shorten(retries)}", task)
    for key, limit in (("retry_delay", MAX_RETRY_DELAY_SECONDS), ("retry_delay_sec", MAX_RETRY_DELAY_SECONDS),
                       ("execution_timeout", MAX_EXECUTION_TIMEOUT_SECONDS),
                       ("execution_timeout_secs", MAX_EXECUTION_TIMEOUT_SECONDS)):
        if arguments.get(key) is None:
            continue
        try:
            seconds = _seconds(arguments[key])
        except ValueError:
            problems.error(f"{where}{key} must be seconds (a number) or H:MM:SS, got {shorten(arguments[key])}", task)
            continue
        if seconds is not None and not 0 <= seconds <= limit:
            problems.error(f"{where}{key} must be between 0 and {limit} seconds, got {shorten(arguments[key])}", task)


def _date(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _check_dates(dag: Mapping[str, Any], defaults: Mapping[str, Any], problems: _Problems, now: dt.datetime) -> None:
    dates: dict[str, dt.datetime] = {}
    for key in ("start_date", "end_date"):
        value = dag.get(key, defaults.get(key))
        if value is None or (isinstance(value, str) and "{{" in value):
            continue
        try:
            dates[key] = _date(value)
        except ValueError:
            problems.error(f"{key} must be a date or an ISO 8601 date-time (2027-01-01T00:00:00Z), got {shorten(value)}")
    start, end = dates.get("start_date"), dates.get("end_date")
    if start is not None and start <= now:
        problems.error(f"start_date {start.isoformat()} is not in the future: the service refuses it when the workflow "
                       "is created or updated; move it ahead or leave it out (the workflow runs from its creation)")
    if start is not None and end is not None and end < start:
        problems.error(f"end_date {end.isoformat()} is before start_date {start.isoformat()}")


def _check_operator(operator: Any, has_code: bool, problems: _Problems, task: str) -> None:
    if not isinstance(operator, str) or not operator:
        problems.error(f"operator must be an operator's import path, got {shorten(operator)}", task)
    elif operator in CODE_PACKAGE_OPERATORS:
        if not has_code:
            problems.error(f"{operator} runs the workflow's own code: pass code_package (a .py, .sh or .zip)", task)
    elif operator not in _OPERATORS:
        named = [known for known in (*SERVERLESS_OPERATORS, *CODE_PACKAGE_OPERATORS)
                 if known.rsplit(".", 1)[-1] == operator.rsplit(".", 1)[-1]]
        hint = (f"; write its full import path, {named[0]}" if named else
                "; MWAA Serverless runs the Amazon provider's operators (mwaa_platform.serverless.SERVERLESS_OPERATORS) "
                "and, with a code package, PythonOperator and BashOperator")
        problems.error(f"operator {shorten(operator)} is not one MWAA Serverless runs{hint}", task)


def _tasks(raw: Any, problems: _Problems) -> dict[str, dict[str, Any]]:
    """Tasks by id, from DAG Factory's mapping form or its list form (each with ``task_id``)."""
    if raw is None:
        problems.error("the workflow has no tasks")
        return {}
    if isinstance(raw, Mapping):
        items = [(key, value) for key, value in raw.items()]
    elif isinstance(raw, list):
        items = [(item.get("task_id") if isinstance(item, Mapping) else None, item) for item in raw]
    else:
        problems.error(f"tasks must map task ids to tasks, got {shorten(raw)}")
        return {}
    tasks: dict[str, dict[str, Any]] = {}
    for task_id, body in items:
        if not isinstance(task_id, str) or not _DAG_ID.match(task_id):
            problems.error(f"task ids are letters, digits, '.', '-' and '_', got {shorten(task_id)}")
        elif task_id in tasks:
            problems.error("the task id is used twice", task_id)
        elif not isinstance(body, Mapping):
            problems.error(f"a task maps its operator and arguments, got {shorten(body)}", task_id)
        else:
            tasks[task_id] = dict(body)
    if not tasks and not problems.errors:
        problems.error("the workflow has no tasks")
    return tasks


def _dependencies(task_id: str, raw: Any, tasks: Mapping[str, Any], problems: _Problems) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        problems.error(f"dependencies must be a list of task ids, got {shorten(raw)}", task_id)
        return ()
    for name in raw:
        if name == task_id:
            problems.error("the task depends on itself", task_id)
        elif name not in tasks:
            problems.error(f"dependency {shorten(name)} is not a task of the workflow (tasks: "
                           f"{shorten(sorted(tasks))})", task_id)
    return tuple(name for name in raw if name in tasks and name != task_id)


def _cycle(graph: Mapping[str, Sequence[str]]) -> Optional[list[str]]:
    """A dependency cycle as the tasks along it (first repeated last), or None."""
    state: dict[str, int] = {}
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            upstream = graph.get(node, ())
            if index < len(upstream):
                stack.append((node, index + 1))
                nxt = upstream[index]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt):], nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def load_definition(path: str, *, code_package: bool = False, now: Optional[dt.datetime] = None) -> WorkflowDefinition:
    """Read and check a definition file; raise one ``MwaaPlatformError`` listing every problem.

    :param code_package: whether the workflow has a code package (PythonOperator and BashOperator
        need one). Default: False.
    :param now: the moment ``start_date`` must follow. Default: the current time.
    """
    problems = _Problems(str(path))
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise MwaaPlatformError(f"definition must be an existing YAML file, got {shorten(path)}")
    size = os.path.getsize(path)
    if size > MAX_DEFINITION_BYTES:
        raise MwaaPlatformError(f"{path}: the definition is {size} bytes; MWAA Serverless takes at most "
                                f"{MAX_DEFINITION_BYTES} (50 KB)")
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MwaaPlatformError(f"{path}: a definition is UTF-8 text; byte {error.start} is not") from None
    document = _parse(text, problems)
    problems.raise_if_any()
    if not isinstance(document, Mapping) or len(document) != 1:
        keys = list(document) if isinstance(document, Mapping) else document
        raise MwaaPlatformError(f"{path}: a definition holds exactly one workflow, keyed by its name, got "
                                f"{shorten(keys)}")
    ((name, dag),) = document.items()
    problems.workflow = shorten(name) if not isinstance(name, str) else name
    if not isinstance(dag, Mapping):
        raise MwaaPlatformError(f"{problems._where(None)}: a workflow maps its dag_id, schedule and tasks, got "
                                f"{shorten(dag)}")
    dag_id = dag.get("dag_id")
    if not isinstance(dag_id, str) or not _DAG_ID.match(dag_id):
        problems.error(f"dag_id must be letters, digits, '.', '-' and '_', got {shorten(dag_id)}")
    elif dag_id != name:
        problems.error(f"dag_id {dag_id!r} differs from the workflow's key {name!r}; make them the same")
    for key in dag:
        if key not in DAG_KEYS:
            problems.error(f"unknown key {shorten(key)}; a workflow's keys are {', '.join(DAG_KEYS)}")
        elif key in IGNORED_DAG_KEYS:
            problems.warn(f"{key} is ignored by MWAA Serverless")
    defaults = dag.get("default_args") or {}
    if not isinstance(defaults, Mapping):
        problems.error(f"default_args must be a mapping, got {shorten(defaults)}")
        defaults = {}
    for key in defaults:
        if key not in DEFAULT_ARGS_KEYS:
            problems.error(f"unknown default_args key {shorten(key)}; allowed: {', '.join(DEFAULT_ARGS_KEYS)}")
    _check_limits(defaults, problems, None, "default_args ")
    if "schedule" in dag and "schedule_interval" in dag:
        problems.error("schedule and schedule_interval are both set; keep schedule (Airflow 3's name)")
    schedule = dag.get("schedule", dag.get("schedule_interval"))
    problem = schedule_problem(schedule)
    if problem:
        problems.error(f"schedule {shorten(schedule)}: {problem}")
    _check_dates(dag, defaults, problems, now or dt.datetime.now(dt.timezone.utc))

    raw_tasks = _tasks(dag.get("tasks"), problems)
    tasks: dict[str, WorkflowTask] = {}
    for task_id, body in raw_tasks.items():
        _check_operator(body.get("operator"), code_package, problems, task_id)
        for key in body:
            if key not in TASK_KEYS and key not in _DAG_FACTORY_TASK_KEYS:
                problems.warn(f"{shorten(key)} is not an argument of any operator MWAA Serverless runs; the operator "
                              "may refuse it when the task runs", task_id)
        _check_limits(body, problems, task_id, "")
        arguments = {key: value for key, value in body.items() if key not in ("operator", "dependencies", "task_id")}
        tasks[task_id] = WorkflowTask(task_id=task_id, operator=str(body.get("operator")), arguments=arguments,
                                      dependencies=_dependencies(task_id, body.get("dependencies"), raw_tasks, problems))
    cycle = _cycle({task_id: task.dependencies for task_id, task in tasks.items()})
    if cycle:
        problems.error(f"dependencies form a cycle: {' -> '.join(cycle)}", cycle[0])
    problems.raise_if_any()
    return WorkflowDefinition(path=str(path), name=name, schedule=schedule, tasks=tasks,
                              warnings=tuple(problems.warnings))
