"""A check's fields as Healthchecks' API v3 takes them (create, update): checked in
Healthchecks' order and words (:func:`validate`), and turned into cronwatch's job fields
(:func:`cronwatch_fields`). Also :class:`HcError`, the refusal as Healthchecks answers it.

``timeout`` becomes ``schedule = "every <timeout>s"``, a cron ``schedule`` and ``tz`` become
``schedule`` and ``timezone``, an OnCalendar one ``on_calendar``, ``desc`` ``description``,
``channels`` (names of the config file's channels, or ``*``) ``alerts``. Fields cronwatch has
no use for (``manual_resume``, ``methods``, the keyword filters) are accepted and not kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cronwatch.errors import CronwatchError

#: Healthchecks' bounds of ``timeout`` and ``grace`` (seconds), and its defaults for a new check.
MIN_SECONDS, MAX_SECONDS = 60, 31_536_000
DEFAULT_TIMEOUT, DEFAULT_GRACE = 86_400, 3_600

_STRINGS = (
    "channels",
    "desc",
    "failure_kw",
    "methods",
    "name",
    "schedule",
    "slug",
    "start_kw",
    "subject",
    "subject_fail",
    "success_kw",
    "tags",
    "tz",
)
_BOOLEANS = (
    "filter_subject",
    "filter_body",
    "filter_http_body",
    "filter_default_fail",
    "manual_resume",
)
#: The order Healthchecks validates fields in (the first error is the one reported).
_ORDER = (
    "channels",
    "desc",
    "failure_kw",
    "filter_subject",
    "filter_body",
    "filter_http_body",
    "filter_default_fail",
    "grace",
    "manual_resume",
    "methods",
    "name",
    "schedule",
    "slug",
    "start_kw",
    "subject",
    "subject_fail",
    "success_kw",
    "tags",
    "timeout",
    "tz",
    "unique",
)
_MAX_LENGTH = {
    "name": 100,
    "schedule": 100,
    "slug": 100,
    "failure_kw": 200,
    "start_kw": 200,
    "success_kw": 200,
    "subject": 200,
    "subject_fail": 200,
}
_UNIQUE = ("name", "slug", "tags", "timeout", "grace")


class HcError(Exception):
    """A refusal as Healthchecks answers it: ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def validate(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a create or update request, checked in Healthchecks' order; the first
    problem as Healthchecks words it (``json validation error: timeout is too small``)."""
    fields: dict[str, Any] = {}
    for field in _ORDER:
        if field not in body:
            continue
        value = body[field]
        if field in _STRINGS:
            if not isinstance(value, str):
                raise _invalid(f"{field} is not a string")
            if len(value) > _MAX_LENGTH.get(field, 10**9):
                raise _invalid(f"{field} is too long")
        elif field in _BOOLEANS:
            if not isinstance(value, bool):
                raise _invalid(f"{field} is not a boolean")
        elif field in ("timeout", "grace"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _invalid(f"{field} is not a number")
            if value < MIN_SECONDS:
                raise _invalid(f"{field} is too small")
            if value > MAX_SECONDS:
                raise _invalid(f"{field} is too large")
        elif field == "unique":
            if not isinstance(value, list):
                raise _invalid("unique is not an array")
            if any(item not in _UNIQUE for item in value):
                raise _invalid("an item in 'unique' has unexpected value")
        if field == "methods" and value not in ("", "POST"):
            raise _invalid("methods has unexpected value")
        if field == "slug" and not all(c in _SLUG_CHARS for c in value):
            raise _invalid("slug does not match pattern")
        if field == "schedule":
            _check_schedule(value)
        if field == "tz":
            _check_timezone(value)
        fields[field] = value
    return fields


_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _invalid(message: str) -> HcError:
    return HcError(400, f"json validation error: {message}")


def is_cron(schedule: str) -> bool:
    """Healthchecks' guess: one line of five fields is cron, anything else OnCalendar."""
    return "\n" not in schedule.strip() and len(schedule.split()) == 5


def _check_schedule(schedule: str) -> None:
    from cronwatch.config import parse_job_table

    field = "schedule" if is_cron(schedule) else "on_calendar"
    value: Any = schedule if field == "schedule" else calendar_lines(schedule)
    try:
        parse_job_table("check", {field: value}, source="request")
    except (CronwatchError, ValueError):
        raise _invalid("schedule is not a valid cron or OnCalendar expression") from None


def calendar_lines(schedule: str) -> list[str]:
    """An OnCalendar ``schedule``'s expressions, one a line."""
    return [line.strip() for line in schedule.splitlines() if line.strip()]


def split_tags(tags: str) -> list[str]:
    """Healthchecks' space-separated ``tags``, each once, in order."""
    return list(dict.fromkeys(t for t in tags.split(" ") if t))


def _check_timezone(tz: str) -> None:
    from cronwatch.config import parse_job_table

    try:
        parse_job_table("check", {"timezone": tz}, source="request")
    except (CronwatchError, ValueError):
        raise _invalid("tz is not a valid timezone") from None


def cronwatch_fields(
    fields: Mapping[str, Any], current: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    """The cronwatch fields (config file names) that ``fields`` set: a new job's whole set
    (with Healthchecks' defaults: a day's timeout, an hour's grace), or the patch of an
    existing one (``None`` removes a field)."""
    out: dict[str, Any] = {}
    schedule = fields.get("schedule")
    if schedule:
        if is_cron(schedule):
            out.update(schedule=schedule, on_calendar=None)
        else:
            out.update(on_calendar=calendar_lines(schedule), schedule=None)
    elif "timeout" in fields:
        out.update(schedule=f"every {fields['timeout']}s", on_calendar=None)
    elif creating:
        out["schedule"] = f"every {DEFAULT_TIMEOUT}s"
    if "tz" in fields:
        out["timezone"] = fields["tz"]
    if "grace" in fields:
        out["grace"] = fields["grace"]
    elif creating:
        out["grace"] = DEFAULT_GRACE
    if "desc" in fields:
        out["description"] = fields["desc"] or None
    if "tags" in fields:
        out["tags"] = split_tags(fields["tags"]) or None
    channels = fields.get("channels")
    if channels is not None:
        if channels == "*":
            out["alerts"] = None  # every channel of [alerts]
        elif channels == "":
            out["alerts"] = None
        else:
            out["alerts"] = [c for c in channels.split(",") if c] or None
    if creating:
        return {k: v for k, v in out.items() if v is not None}
    return {k: v for k, v in out.items() if v is not None or k in current}
