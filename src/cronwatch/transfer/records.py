"""One element of an export, to and from JSON: every field converted by its kind (instants as
ISO 8601 in UTC, flags as booleans), and checked on the way in, so that a bad export is refused
naming the element and the field before the import commits anything."""

from __future__ import annotations

import re
from typing import Any

from cronwatch.errors import InvalidInput
from cronwatch.names import validate_name, validate_uuid
from cronwatch.storage.exchange import (
    API_KEYS,
    DELIVERIES,
    EVENTS,
    JOB_HOSTS,
    JOB_STATES,
    JOBS,
    RUNS,
    Field,
    Record,
    Table,
)
from cronwatch.timeutil import parse_instant, to_us

_INT64 = 2**63
_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")
_CHOICES = {
    (JOBS.section, "source"): ("run", "config", "api"),
    (API_KEYS.section, "scope"): ("ping", "read", "write", "badge"),
    (RUNS.section, "outcome"): ("running", "success", "failure"),
    (EVENTS.section, "kind"): (
        "change",
        "problem",
        "recovery",
        "reminder",
        "escalation",
        "ack",
        "action",
        "log",
    ),
    (DELIVERIES.section, "status"): ("pending", "sent", "failed"),
}
#: Fields that hold a job or host name, checked as cronwatch checks names on the way in.
_NAMES = {"name", "hostname"}


def to_json(table: Table, record: Record) -> dict[str, Any]:
    """``record`` as the export writes it."""
    out = {f.name: _out(f, record[f.name]) for f in table.fields}
    if table is EVENTS:
        out["deliveries"] = [to_json(DELIVERIES, d) for d in record["deliveries"]]
    return out


def from_json(table: Table, value: Any, where: str) -> Record:
    """The record of one element of ``table``'s section; :class:`InvalidInput` naming
    ``where`` (e.g. ``runs[12]``) and the field when it is not one."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected an object, found {type(value).__name__}")
    known = {f.name for f in table.fields} | ({"deliveries"} if table is EVENTS else set())
    unknown = sorted(set(value) - known)
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    record = {f.name: _in(table, f, value, where) for f in table.fields}
    if table is RUNS and "duration_us" not in value and record["completed"] is not None:
        # An export from before durations were exported: every finished run was timed.
        record["duration_us"] = to_us(record["completed"]) - to_us(record["started"])
    if table is EVENTS:
        deliveries = value.get("deliveries", [])
        if not isinstance(deliveries, list):
            raise InvalidInput(f"{where}.deliveries: expected a list")
        record["deliveries"] = [
            from_json(DELIVERIES, d, f"{where}.deliveries[{i}]") for i, d in enumerate(deliveries)
        ]
    _check(table, record, where)
    return record


def _out(field: Field, value: Any) -> Any:
    if value is not None and field.kind == "instant":
        return value.isoformat()
    return value


def _in(table: Table, field: Field, data: dict[str, Any], where: str) -> Any:
    at = f"{where}.{field.name}"
    if field.name not in data:
        if field.nullable:
            return None
        raise InvalidInput(f"{at} is missing")
    value = data[field.name]
    if value is None:
        if field.nullable:
            return None
        raise InvalidInput(f"{at} must not be null")
    kind = field.kind
    if kind == "instant":
        if not isinstance(value, str):
            raise InvalidInput(f"{at} must be an ISO 8601 date-time string")
        return parse_instant(value, at)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not -_INT64 <= value < _INT64:
            raise InvalidInput(f"{at} must be an integer, not {value!r}"[:200])
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidInput(f"{at} must be true or false")
        return value
    if kind == "json":
        if not isinstance(value, dict):
            raise InvalidInput(f"{at} must be an object")
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{at} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise InvalidInput(f"{at} contains a NUL character")
    job_level = field.name == "hostname" and not value and table in (JOB_STATES, EVENTS)
    if field.name in _NAMES and not job_level:
        limit = 255 if field.name == "hostname" else 200
        validate_name(value, at, max_length=limit)
    choices = _CHOICES.get((table.section, field.name))
    if choices and value not in choices:
        raise InvalidInput(f"{at} must be one of {', '.join(choices)}, not {value!r}"[:200])
    return value


def _check(table: Table, record: Record, where: str) -> None:
    """What the fields alone do not say."""
    if table is RUNS:
        from cronwatch.monitor import make_run

        try:
            make_run(
                record["name"],
                record["started"],
                record["completed"],
                outcome=record["outcome"],
                exit_code=record["exit_code"],
                hostname=record["hostname"],
                run_id=record["run_id"],
            )
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
    elif table is JOBS:
        if record["uuid"] is not None:
            validate_uuid(record["uuid"], f"{where}.uuid")
        if record["spec"] is not None:
            from cronwatch.config import parse_job_table

            parse_job_table(record["name"], record["spec"], source=f"{where}.spec")
    elif table is API_KEYS and not _TOKEN_HASH.fullmatch(record["token_hash"]):
        raise InvalidInput(f"{where}.token_hash must be a SHA-256 digest (64 hex digits)")
    elif table is JOB_HOSTS:
        for name in ("consecutive_failures", "runs_total", "failures_total"):
            if record[name] < 0:
                raise InvalidInput(f"{where}.{name} must not be negative")
