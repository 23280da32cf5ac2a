"""The fields of a job, one row each: the one place a job field is declared.

A row (:class:`JobField`) gives a field's name, its JSON type, the JSON Schema keywords that
state its limits, what it means and its default (in words, for the OpenAPI document), how a
value is read into the :class:`~cronwatch.specs.jobs.JobSpec` attribute of the same name, and
how that attribute is shown as JSON. Its readers:

- the config loader: :func:`parse_job` reads a ``[jobs.NAME]`` table (also a job declared
  through the REST API, stored as such a table) row by row;
- the REST API (:mod:`cronwatch.jobs`): :func:`check_json_types` before parsing, and
  :func:`spec_json` to show a job declared in the config file;
- the OpenAPI document (:mod:`cronwatch.web.openapi`): :func:`json_schemas`.

Adding a field is adding a row here and an attribute of the same name to ``JobSpec``. Rows
are read in table order and a row's reader may use the rows above it (``schedule`` and
``on_calendar`` are read in ``timezone``, ``schedule`` is refused beside ``on_calendar`` and
defaults to its schedule, ``min_hosts`` counts ``hosts``, ``min_runtime`` is compared with
``max_runtime``, ``grace`` defaults from ``schedule``): that is why ``timezone`` comes first.
Rows with ``api=False`` (the alert settings) are taken in the config file only.

Durations are strings such as ``"30s"``, ``"15m"``, ``"1h30m"`` or numbers of seconds.

One concept (the table and the four ways it is read), hence its length: most of it is the rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from cronwatch import tomlwriter
from cronwatch.durations import format_duration
from cronwatch.errors import InvalidInput
from cronwatch.names import MAX_HOST_LENGTH, MAX_NAME_LENGTH, NAME_PATTERN
from cronwatch.schedule import (
    TIMEZONE_PATTERN,
    IntervalSchedule,
    OnCalendarSchedule,
    Schedule,
    parse_on_calendar,
    parse_schedule,
)
from cronwatch.specs import values
from cronwatch.specs.alerting import ALERTABLE_STATUSES, alert_statuses
from cronwatch.specs.channels import ChannelSpec, channel_names
from cronwatch.specs.jobs import JobSpec, default_grace

#: A job's durations (grace, runtimes, repeat, an interval) beyond this are refused: a century
#: is more than any schedule needs, and the health checks add them to instants, which must stay
#: within what ``datetime`` holds (a grace of 10**11 seconds made every status a 500).
MAX_JOB_DURATION = timedelta(days=36_525)


@dataclass(frozen=True)
class JsonType:
    """A field's type in a JSON body: the check the REST API makes before parsing (so that
    ``"paused": 1`` is refused, not coerced), its words in that refusal, its JSON Schema."""

    expected: str
    accepts: Callable[[object], bool]
    schema: Mapping[str, Any]


def name_schema(max_length: int = MAX_NAME_LENGTH) -> dict[str, Any]:
    """The JSON Schema of a name (:func:`cronwatch.names.validate_name`)."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NAME_PATTERN}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


STRING = JsonType("string", lambda v: isinstance(v, str), {"type": "string"})
BOOLEAN = JsonType("boolean", lambda v: isinstance(v, bool), {"type": "boolean"})
INTEGER = JsonType(
    "integer", lambda v: isinstance(v, int) and not isinstance(v, bool), {"type": "integer"}
)
DURATION = JsonType(
    "a duration such as '15m' or a number of seconds",
    lambda v: isinstance(v, str) or _is_number(v),
    {"type": ["string", "number"], "minimum": 0, "maximum": MAX_JOB_DURATION.total_seconds()},
)
NAMES = JsonType(
    "a list of strings",
    lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
    {"type": "array", "items": name_schema(), "uniqueItems": True},
)
#: The most ``OnCalendar=`` expressions one job may have (a timer has a handful at most).
MAX_CALENDARS = 50
CALENDARS = JsonType(
    "a calendar expression or a list of them",
    lambda v: (
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(item, str) for item in v))
    ),
    {
        "anyOf": [
            {"type": "string", "minLength": 1, "pattern": r"\S"},
            {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "pattern": r"\S"},
                "minItems": 1,
                "maxItems": MAX_CALENDARS,
            },
        ]
    },
)
INSTANT = JsonType(
    "a date-time such as '2026-12-01T09:00:00Z'",
    lambda v: isinstance(v, str),
    {"type": "string", "format": "date-time"},
)

_DURATION_TEXT = (
    "A duration from 0 to 100 years (36525d): '30s', '15m', '1h30m', '1d' (units us, ms, s, m, "
    "h, d, w; at most 100 characters) or a number of seconds."
)


class JobDraft:
    """A job's fields as they are read, in table order: what a row's reader may look at."""

    def __init__(self, channels: Mapping[str, ChannelSpec] | None) -> None:
        #: The defined channels; ``None``: channel names are not checked.
        self.channels = channels
        self.values: dict[str, Any] = {}


Reader = Callable[[str, object, JobDraft], Any]


@dataclass(frozen=True)
class JobField:
    """One field of a job; see the module docstring."""

    name: str
    type: JsonType
    #: What it means, its default and the rules a schema cannot state, for people.
    description: str
    #: ``read(where, value, draft)``: the JobSpec attribute from a given value, or
    #: :class:`InvalidInput` whose message starts with ``where``.
    read: Reader
    #: ``default(draft)``: the JobSpec attribute when the field is left out.
    default: Callable[[JobDraft], Any]
    #: ``to_json(spec)``: the attribute as JSON; ``None`` leaves the field out.
    to_json: Callable[[JobSpec], Any]
    #: JSON Schema keywords beyond the type's (limits).
    limits: Mapping[str, Any] = field(default_factory=dict)
    #: False: taken in the config file only, not by the REST API.
    api: bool = True

    def json_schema(self) -> dict[str, Any]:
        """The field's JSON Schema: its type's, its limits, its description."""
        return {**self.type.schema, **self.limits, "description": self.description}


# -- readers that need the rows above them ------------------------------------------------------


def _on_calendar(where: str, value: object, job: JobDraft) -> OnCalendarSchedule:
    if isinstance(value, list) and len(value) > MAX_CALENDARS:
        raise InvalidInput(
            f"{where}: at most {MAX_CALENDARS} calendar expressions, not {len(value)}"
        )
    # parse_on_calendar refuses anything but a string or a non-empty list of them, in its words.
    return parse_on_calendar(cast("str | list[str]", value), job.values["timezone"], field=where)


def _calendars_json(spec: JobSpec) -> str | list[str] | None:
    if spec.on_calendar is None:
        return None
    expressions = spec.on_calendar.expressions
    return expressions[0] if len(expressions) == 1 else list(expressions)


@functools.lru_cache(maxsize=4096)
def _known_schedule(text: str, timezone: str) -> Schedule | None:
    """``parse_schedule(text, timezone)`` when valid, else ``None`` (the caller parses again for
    the error in its own words). Memoised: the specs of 100,000 jobs stored through the API are
    parsed on every full evaluation, and they share a handful of schedules (a cron validation
    costs a few hundred microseconds). Schedules are immutable, so sharing one is safe."""
    try:
        return parse_schedule(text, timezone)
    except InvalidInput:
        return None


def _schedule(where: str, value: object, job: JobDraft) -> Schedule:
    if job.values["on_calendar"] is not None:
        field = where.rsplit(".", 1)[0] + ".on_calendar"
        raise InvalidInput(
            f"{where}: give either schedule or on_calendar, not both ({field} is set too)"
        )
    # parse_schedule refuses a value that is not a string itself, in its own words.
    if isinstance(value, str) and isinstance(job.values["timezone"], str):
        schedule = _known_schedule(value, job.values["timezone"])
    else:
        schedule = None
    if schedule is None:
        schedule = parse_schedule(cast(str, value), job.values["timezone"], field=where)
    if isinstance(schedule, IntervalSchedule):
        _within_a_century(where, schedule.period)
    return schedule


def _min_hosts(where: str, value: object, job: JobDraft) -> int:
    number = values.whole_number(where, value)
    hosts = job.values["hosts"]
    if not hosts:
        raise InvalidInput(f"{where}: needs a hosts list to count from")
    if not 1 <= number <= len(hosts):
        raise InvalidInput(
            f"{where}: must be between 1 and the number of hosts ({len(hosts)}), not {number}"
        )
    return number


def _min_runtime(where: str, value: object, job: JobDraft) -> timedelta:
    least = _duration(where, value)
    most = job.values["max_runtime"]
    if most is not None and least > most:
        raise InvalidInput(
            f"{where}: min_runtime ({format_duration(least)}) is longer than "
            f"max_runtime ({format_duration(most)})"
        )
    return least


def _channels(where: str, value: object, job: JobDraft) -> tuple[str, ...]:
    return channel_names(where, value, job.channels)


def _duration(where: str, value: object) -> timedelta:
    return _within_a_century(where, values.duration(where, value))


def _positive_duration(where: str, value: object) -> timedelta:
    return _within_a_century(where, values.positive_duration(where, value))


def _within_a_century(where: str, duration: timedelta) -> timedelta:
    if duration > MAX_JOB_DURATION:
        raise InvalidInput(f"{where}: {format_duration(duration)} is too long; at most 100 years")
    return duration


def _alone(read: Callable[[str, object], Any]) -> Reader:
    """A reader that needs no other field."""
    return lambda where, value, job: read(where, value)


# -- showing an attribute as JSON ---------------------------------------------------------------


def _seconds(attribute: str) -> Callable[[JobSpec], float | None]:
    def show(spec: JobSpec) -> float | None:
        value: timedelta | None = getattr(spec, attribute)
        return None if value is None else value.total_seconds()

    return show


def _list(attribute: str) -> Callable[[JobSpec], list[str] | None]:
    return lambda spec: list(getattr(spec, attribute)) or None


def _plain(attribute: str) -> Callable[[JobSpec], Any]:
    return lambda spec: getattr(spec, attribute)


def _none(job: JobDraft) -> None:
    return None


def _empty(job: JobDraft) -> tuple[str, ...]:
    return ()


#: Every field of a job, in reading order.
JOB_FIELDS: Sequence[JobField] = (
    JobField(
        "timezone",
        STRING,
        "The IANA timezone of a cron or calendar schedule, e.g. 'Europe/London'; default "
        "'UTC'. A calendar expression's own trailing zone wins over it. A name the server's "
        "timezone database does not know is refused.",
        _alone(values.timezone),
        lambda job: "UTC",
        _plain("timezone"),
        limits={"minLength": 1, "pattern": f"^{TIMEZONE_PATTERN.pattern}$"},
    ),
    JobField(
        "on_calendar",
        CALENDARS,
        "A systemd calendar expression (systemd.time(7), as in a timer's OnCalendar=) such as "
        "'Mon..Fri *-*-* 09:00:00', 'daily' or '*:0/15', or a list of them (a timer with "
        f"several OnCalendar= lines: the union; at most {MAX_CALENDARS}), in `timezone` unless "
        "it ends in a zone of its own ('... Europe/Berlin', '... UTC'). Instead of `schedule`, "
        "not with it. Default: none.",
        _on_calendar,
        _none,
        _calendars_json,
    ),
    JobField(
        "schedule",
        STRING,
        "'every 15m' (an interval: a positive duration, at most 100 years), a 5-field cron "
        "expression or @alias such as '0 3 * * *' or '@daily', or a systemd timer's lines "
        "('OnCalendar=Mon..Fri 09:00', several lines for several; 'OnUnitActiveSec=1h' is an "
        "interval), in `timezone`. A cron expression that never matches is refused. Not with "
        "`on_calendar`. Default: `on_calendar`'s; without either, the interval is learned "
        "from the job's runs.",
        _schedule,
        lambda job: job.values["on_calendar"],
        lambda spec: (
            None
            if spec.schedule is None or spec.on_calendar is not None
            else spec.schedule.expression
        ),
        limits={"minLength": 1, "pattern": r"\S"},
    ),
    JobField(
        "grace",
        DURATION,
        f"How late a run may be before the job is missing. {_DURATION_TEXT} Default: 10% of "
        "the schedule's period, from 1 minute to 1 hour; 1 hour without a schedule.",
        _alone(_duration),
        lambda job: default_grace(job.values["schedule"]),
        lambda spec: spec.grace.total_seconds() if spec.grace_explicit else None,
    ),
    JobField(
        "hosts",
        NAMES,
        "The hosts that must each run the job (host names: at most 255 characters, unique "
        "once in Unicode NFC). Default: none, any host counts.",
        _alone(lambda where, value: values.names(where, value, max_length=MAX_HOST_LENGTH)),
        _empty,
        _list("hosts"),
        limits={"items": name_schema(MAX_HOST_LENGTH)},
    ),
    JobField(
        "min_hosts",
        INTEGER,
        "How many of `hosts` must run it (1 to the number of hosts; needs `hosts`). "
        "Default: all of them.",
        _min_hosts,
        _none,
        _plain("min_hosts"),
        limits={"minimum": 1},
    ),
    JobField(
        "max_runtime",
        DURATION,
        f"A run longer than this is slow, and hung while still running. {_DURATION_TEXT} "
        "Longer than zero. Default: none; the learned runtime band applies.",
        _alone(_positive_duration),
        _none,
        _seconds("max_runtime"),
        limits={"exclusiveMinimum": 0},
    ),
    JobField(
        "min_runtime",
        DURATION,
        f"A successful run shorter than this is fast. {_DURATION_TEXT} At most `max_runtime`. "
        "Default: none; the learned runtime band applies.",
        _min_runtime,
        _none,
        _seconds("min_runtime"),
    ),
    JobField(
        "tags",
        NAMES,
        "Labels to filter and group jobs by (unique once in Unicode NFC; no comma or "
        "whitespace, which join tags in `/metrics` and Healthchecks' API). Default: none.",
        _alone(values.tags),
        _empty,
        _list("tags"),
        limits={"items": {**name_schema(), "not": {"pattern": values.TAG_SEPARATORS.pattern}}},
    ),
    JobField(
        "description",
        STRING,
        "Free text about the job, for people (Healthchecks' desc): at most 2000 characters, no "
        "control characters but tabs and newlines. Default: none.",
        _alone(values.text),
        _none,
        _plain("description"),
        limits={"maxLength": values.MAX_TEXT, "pattern": values.TEXT_PATTERN},
    ),
    JobField(
        "paused",
        BOOLEAN,
        "A paused job is never late or missing and never alerts. Default: false.",
        _alone(values.boolean),
        lambda job: False,
        lambda spec: True if spec.paused else None,
    ),
    JobField(
        "alerts",
        NAMES,
        "The alert channels the job's problems go to: channels defined in the server's "
        "config file (unique). Default: none; [alerts] channels apply.",
        _channels,
        _empty,
        _list("alerts"),
    ),
    JobField(
        "alert_after",
        INTEGER,
        "Consecutive failures (failed runs, missed slots) before the first alert; 1 to 1000. "
        "Default: [alerts] alert_after.",
        _alone(values.count),
        _none,
        _plain("alert_after"),
        limits={"minimum": 1, "maximum": 1000},
        api=False,
    ),
    JobField(
        "recover_after",
        INTEGER,
        "Consecutive successful runs before 'recovered'; 1 to 1000. Default: [alerts].",
        _alone(values.count),
        _none,
        _plain("recover_after"),
        limits={"minimum": 1, "maximum": 1000},
        api=False,
    ),
    JobField(
        "repeat",
        DURATION,
        f"Remind while still down at this interval; 0: never. {_DURATION_TEXT} "
        "Default: [alerts] repeat.",
        _alone(_duration),
        _none,
        _seconds("repeat"),
        api=False,
    ),
    JobField(
        "alert_on",
        NAMES,
        f"The statuses that alert, of: {', '.join(ALERTABLE_STATUSES)}. Default: [alerts].",
        _alone(alert_statuses),
        _none,
        lambda spec: None if spec.alert_on is None else list(spec.alert_on),
        limits={"items": {"enum": list(ALERTABLE_STATUSES)}},
        api=False,
    ),
    JobField(
        "snooze_until",
        INSTANT,
        "No alerts until this instant (with a UTC offset). Default: none.",
        _alone(values.instant),
        _none,
        lambda spec: None if spec.snooze_until is None else spec.snooze_until.isoformat(),
        api=False,
    ),
    JobField(
        "escalate_after",
        DURATION,
        "Send the problem to `escalate_to` too when the job is still down and nobody "
        f"acknowledged it this long after it was announced; 0: never. {_DURATION_TEXT} "
        "Default: [alerts] escalate_after.",
        _alone(_duration),
        _none,
        _seconds("escalate_after"),
        api=False,
    ),
    JobField(
        "escalate_to",
        NAMES,
        "The channels an unacknowledged problem escalates to (see `escalate_after`). "
        "Default: [alerts] escalate_to.",
        _channels,
        _none,
        lambda spec: None if spec.escalate_to is None else list(spec.escalate_to),
        api=False,
    ),
)
FIELDS_BY_NAME: Mapping[str, JobField] = {row.name: row for row in JOB_FIELDS}
#: The fields the REST API takes (and the config file).
API_FIELDS = frozenset(row.name for row in JOB_FIELDS if row.api)
#: The alert settings, taken in ``[jobs.NAME]`` tables of the config file only.
ALERT_FIELDS = frozenset(row.name for row in JOB_FIELDS if not row.api)


def job_where(name: str) -> str:
    """The key path of job ``name`` in messages: ``jobs.backup``, ``jobs."nightly report"``."""
    return f"jobs.{tomlwriter.key(name, max_chars=60)}"


def parse_job(
    name: str, table: Mapping[str, Any], channels: Mapping[str, ChannelSpec] | None = None
) -> JobSpec:
    """The job ``name`` from a table of its fields, read row by row.

    Raises :class:`InvalidInput` whose message starts with the key path of the field
    (``jobs.backup.grace: ...``). The name must be valid already (and in NFC); unknown fields
    are the caller's to refuse (with its own words). With ``channels`` ``None`` the alert
    channel names are not checked against a definition.
    """
    where = job_where(name)
    job = JobDraft(channels)
    for row in JOB_FIELDS:
        if row.name in table:
            job.values[row.name] = row.read(f"{where}.{row.name}", table[row.name], job)
        else:
            job.values[row.name] = row.default(job)
    # A default grace is recomputed for a learned interval; a given one is kept.
    return JobSpec(name=name, grace_explicit="grace" in table, **job.values)


def check_json_types(fields: Mapping[str, Any], *, nullable: bool = False) -> None:
    """Refuse an unknown field or a value of the wrong JSON type (``"paused": 1``) with an
    :class:`InvalidInput` naming the field, before any parsing. ``nullable``: ``null`` is
    allowed (it removes a field in a JSON Merge Patch)."""
    for name, value in fields.items():
        row = FIELDS_BY_NAME.get(name)
        if row is None or not row.api:
            allowed = ", ".join(sorted(API_FIELDS))
            raise InvalidInput(f'unknown job field "{name[:60]}" (allowed: {allowed})')
        if value is None and nullable:
            continue
        if not row.type.accepts(value):
            raise InvalidInput(f"{name}: expected {row.type.expected}")


def spec_json(spec: JobSpec, *, api_only: bool = True) -> dict[str, Any]:
    """``spec`` as a table of its fields (durations in seconds), as the REST API shows it:
    what :func:`parse_job` reads back into the same spec. Defaults are left out, except
    ``timezone``; ``api_only`` leaves out the config-file-only alert fields."""
    shown: dict[str, Any] = {}
    for row in JOB_FIELDS:
        if row.api or not api_only:
            value = row.to_json(spec)
            if value is not None:
                shown[row.name] = value
    return shown


def json_schemas(*, api_only: bool = True) -> dict[str, dict[str, Any]]:
    """Each field's JSON Schema, by name (what the OpenAPI document shows)."""
    return {row.name: row.json_schema() for row in JOB_FIELDS if row.api or not api_only}
