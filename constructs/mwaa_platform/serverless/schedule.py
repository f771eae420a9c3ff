"""Schedules MWAA Serverless accepts: Airflow's five-field cron and presets, EventBridge ``rate()`` and ``cron()``.

The service validates the schedule when a workflow is created; checking it at synthesis names the
workflow and the file instead of failing the deployment.
"""

from __future__ import annotations

import re
from typing import Optional

from mwaa_platform.serverless.limits import AIRFLOW_PRESETS

__all__ = ["schedule_problem"]

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_RATE = re.compile(r"^rate\((?P<value>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_EVENTBRIDGE_CRON = re.compile(r"^cron\((?P<fields>[^()]*)\)$")


def _value(token: str, low: int, high: int, names: tuple[str, ...], name_base: int) -> bool:
    if token.isdigit():
        return low <= int(token) <= high
    return token.upper() in names and low <= names.index(token.upper()) + name_base <= high


def _field_ok(field: str, low: int, high: int, names: tuple[str, ...] = (), name_base: int = 0,
              extra: tuple[str, ...] = ()) -> bool:
    """One cron field: ``*``, values, ranges, steps and lists of them, within ``low``-``high``."""
    if field in extra:
        return True
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        if not _value(first, low, high, names, name_base):
            return False
        if dash and not (_value(last, low, high, names, name_base)):
            return False
    return bool(field)


def _unix_cron_problem(fields: list[str]) -> Optional[str]:
    specs = (("minute", 0, 59, (), 0), ("hour", 0, 23, (), 0), ("day of month", 1, 31, (), 0),
             ("month", 1, 12, _MONTHS, 1), ("day of week", 0, 7, _DAYS, 0))
    for field, (name, low, high, names, base) in zip(fields, specs):
        if not _field_ok(field, low, high, names, base):
            return f"its {name} field {field!r} is not {low}-{high}, *, a range, a step or a list of them"
    return None


def _eventbridge_cron_problem(fields: list[str]) -> Optional[str]:
    if len(fields) != 6:
        return f"EventBridge cron() takes six fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
    minute, hour, dom, month, dow, year = fields
    if "?" not in (dom, dow) or dom == dow:
        return "EventBridge cron() needs '?' in exactly one of day-of-month and day-of-week"
    checks = (("minutes", minute, _field_ok(minute, 0, 59)), ("hours", hour, _field_ok(hour, 0, 23)),
              ("day-of-month", dom, _field_ok(dom.rstrip("LW") or "*", 1, 31, extra=("?", "L", "LW"))),
              ("month", month, _field_ok(month, 1, 12, _MONTHS, 1)),
              ("day-of-week", dow, _field_ok(dow.split("#")[0].rstrip("L") or "*", 1, 7, _DAYS, 1, extra=("?", "L"))),
              ("year", year, _field_ok(year, 1970, 2199)))
    for name, value, ok in checks:
        if not ok:
            return f"its {name} field {value!r} is not valid in an EventBridge cron() expression"
    return None


def schedule_problem(schedule: object) -> Optional[str]:
    """What is wrong with ``schedule``, or None when MWAA Serverless accepts it.

    Accepted: None (runs only on demand), an Airflow preset (``@daily``, ...), a five-field cron
    expression (``0 2 * * *``), EventBridge ``rate(5 minutes)`` or ``cron(0 12 * * ? *)``.
    """
    if schedule is None:
        return None
    if not isinstance(schedule, str):
        return f"a schedule is a string, got {type(schedule).__name__}"
    text = schedule.strip()
    if text.startswith("@"):
        return None if text in AIRFLOW_PRESETS else f"{text!r} is not an Airflow preset ({', '.join(AIRFLOW_PRESETS)})"
    rate = _RATE.match(text)
    if rate:
        singular = rate["value"] == "1"
        if singular != (not rate["unit"].endswith("s")):
            return f"rate() says '1 {rate['unit'].rstrip('s')}' for one and '{{n}} {rate['unit'].rstrip('s')}s' for more"
        return None
    if text.startswith("rate("):
        return "rate() takes a positive whole number and minute(s), hour(s) or day(s), e.g. rate(5 minutes)"
    cron = _EVENTBRIDGE_CRON.match(text)
    if cron:
        return _eventbridge_cron_problem(cron["fields"].split())
    fields = text.split()
    if len(fields) != 5:
        return ("a schedule is an Airflow preset (@daily, ...), a five-field cron expression (0 2 * * *), or "
                "EventBridge rate(...) or cron(...)")
    return _unix_cron_problem(fields)
