"""Reading a schedule from text: a config file's ``schedule`` (:func:`parse_schedule`), its
``on_calendar`` (:func:`parse_on_calendar`), a timer unit's lines (:func:`parse_timer_lines`) and
the arguments of ``cronwatch schedule`` (:func:`parse_schedule_arguments`); and
:func:`upcoming`, the next slots of any schedule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from cronwatch.durations import parse_duration
from cronwatch.errors import InvalidInput
from cronwatch.schedule.base import (
    Schedule,
    load_zone,
)
from cronwatch.schedule.cron import CronSchedule
from cronwatch.schedule.interval import IntervalSchedule
from cronwatch.schedule.oncalendar import OnCalendarSchedule
from cronwatch.systemd_time.calendar import parse_calendar
from cronwatch.systemd_time.timespan import parse_timespan
from cronwatch.timeutil import require_aware

#: Timer settings parse_schedule reads (lower case): a calendar, or a span between runs.
_CALENDAR_KEY = "oncalendar"
_PERIODIC_KEYS = ("onunitactivesec", "onunitinactivesec")
_ONCE_KEYS = ("onbootsec", "onstartupsec", "onactivesec")


def parse_schedule(text: str, timezone: str = "UTC", *, field: str = "schedule") -> Schedule:
    """Parse "every 15m" / "every day" into an IntervalSchedule, timer lines into systemd's
    schedules (:func:`parse_timer_lines`), anything else as cron.

    ``timezone`` (an IANA name) applies to cron and calendar schedules; it is validated in every
    case so that a typo is reported even before the schedule becomes a cron one. Errors are
    ``InvalidInput`` prefixed with ``field``.
    """
    load_zone(timezone)
    if not isinstance(text, str):
        raise InvalidInput(
            f'{field}: expected a string such as "every 15m" or "0 3 * * *", '
            f"not {type(text).__name__}"
        )
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f'{field}: empty schedule; write e.g. "every 15m" or "0 3 * * *"')
    words = stripped.split(maxsplit=1)
    if words[0].lower() == "every":
        amount = words[1] if len(words) > 1 else ""
        # "every day" is "every 1 day"; parse_duration knows the unit names.
        if amount.lower() in {"second", "minute", "hour", "day", "week"}:
            amount = "1" + amount
        try:
            period = parse_duration(amount, field=field)
        except InvalidInput as exc:
            raise InvalidInput(f'{exc}; intervals look like "every 15m"') from None
        if not period:
            raise InvalidInput(f"{field}: an interval must be longer than zero: {text!r}")
        return IntervalSchedule(period)
    if "=" in stripped.splitlines()[0]:
        return parse_timer_lines(stripped, timezone, field=field)
    try:
        return CronSchedule(stripped, timezone)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}{_calendar_hint(stripped)}") from None


def parse_on_calendar(
    expressions: str | Sequence[str], timezone: str = "UTC", *, field: str = "on_calendar"
) -> OnCalendarSchedule:
    """An :class:`OnCalendarSchedule` of one expression or a list of them (the values of a
    timer's ``OnCalendar=`` lines); errors are ``InvalidInput`` prefixed with ``field``."""
    items = [expressions] if isinstance(expressions, str) else expressions
    if not isinstance(items, Sequence) or not items:
        raise InvalidInput(
            f'{field}: expected a calendar expression such as "Mon..Fri 09:00" or a list of them'
        )
    for index, item in enumerate(items):
        where = field if isinstance(expressions, str) else f"{field}[{index}]"
        if not isinstance(item, str):
            raise InvalidInput(f"{where}: expected a string, not {type(item).__name__}")
        try:
            parse_calendar(item)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
    try:
        return OnCalendarSchedule(tuple(items), timezone)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}") from None


def parse_timer_lines(text: str, timezone: str = "UTC", *, field: str = "schedule") -> Schedule:
    """The schedule of a timer unit's ``[Timer]`` lines, one per line:

    - ``OnCalendar=EXPR`` (several lines: the union) -> :class:`OnCalendarSchedule`;
    - ``OnUnitActiveSec=SPAN`` or ``OnUnitInactiveSec=SPAN`` (systemd time spans such as
      ``1h 30min``, ``2d``, ``90``) -> :class:`IntervalSchedule`; ``OnBootSec=``,
      ``OnStartupSec=`` and ``OnActiveSec=`` may come with them (they only delay the first
      run), but alone they fire once per boot, which is no schedule to watch.
    """
    calendars: list[str] = []
    periods: list[timedelta] = []
    once: list[timedelta] = []
    for number, line in enumerate(text.strip().splitlines(), start=1):
        where = field if "\n" not in text.strip() else f"{field}, line {number}"
        key, sep, value = line.strip().partition("=")
        name = key.strip().lower()
        if not sep or name not in (_CALENDAR_KEY, *_PERIODIC_KEYS, *_ONCE_KEYS):
            raise InvalidInput(
                f"{where}: expected a timer setting such as OnCalendar=daily or "
                f"OnUnitActiveSec=1h, not {line.strip()[:60]!r}"
            )
        value = value.strip()
        if not value:
            raise InvalidInput(f"{where}: {key.strip()}= is empty (in a unit file that resets it)")
        if name == _CALENDAR_KEY:
            try:
                parse_calendar(value)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc}") from None
            calendars.append(value)
            continue
        span = parse_timespan(value, field=f"{where}: {key.strip()}")
        (periods if name in _PERIODIC_KEYS else once).append(span)
    if calendars and periods:
        raise InvalidInput(
            f"{field}: a timer with both OnCalendar= and OnUnitActiveSec= fires on either; "
            "cronwatch watches one schedule per job, so give the one that matters"
        )
    if calendars:
        return OnCalendarSchedule(tuple(calendars), timezone)
    if not periods:
        raise InvalidInput(
            f"{field}: OnBootSec=, OnStartupSec= and OnActiveSec= alone fire once (after boot "
            "or activation), not periodically; watch the timer's OnUnitActiveSec= interval"
        )
    if not min(periods):
        raise InvalidInput(f"{field}: an interval must be longer than zero")
    # Several periodic settings each re-arm the timer; the shortest one sets the pace.
    return IntervalSchedule(min(periods))


def parse_schedule_arguments(
    texts: Sequence[str], timezone: str = "UTC", *, field: str = "EXPR"
) -> Schedule:
    """The schedule ``cronwatch schedule EXPR...`` shows: one schedule as :func:`parse_schedule`
    reads it, or systemd calendar expressions, bare or as ``OnCalendar=`` lines, several of
    them being their union (a timer with several ``OnCalendar=`` lines).

    A bare calendar expression is accepted here, unlike in a config file's ``schedule``: no
    cron or interval expression is also a valid calendar expression, so nothing is ambiguous,
    and the error for a config file tells the ``OnCalendar=`` form to write.
    """
    load_zone(timezone, field="timezone")
    if isinstance(texts, str) or not texts:
        raise InvalidInput(f"{field}: give a schedule, e.g. '0 3 * * *', 'every 15m' or daily")
    calendars: list[str] = []
    for index, text in enumerate(texts):
        where = field if len(texts) == 1 else f"{field} {index + 1}"
        if not isinstance(text, str):
            raise InvalidInput(f"{where}: expected a string, not {type(text).__name__}")
        value = text.strip()
        key, sep, rest = value.partition("=")
        if sep and key.strip().lower() == _CALENDAR_KEY and "\n" not in value:
            value = rest.strip()
        elif len(texts) == 1 and not _calendar_hint(value) and _not_calendar_like(value):
            return parse_schedule(text, timezone, field=where)
        try:
            parse_calendar(value)
        except InvalidInput as exc:
            union = "; several EXPR are systemd calendar expressions" if len(texts) > 1 else ""
            raise InvalidInput(f"{where}: {exc}{union}") from None
        calendars.append(value)
    return OnCalendarSchedule(tuple(calendars), timezone)


_CALENDAR_START = re.compile(
    r"(mon|tue|wed|thu|fri|sat|sun|minutely|hourly|daily|weekly|monthly|yearly|annually"
    r"|quarterly|semi-?annually|bi-?annually)",
    re.IGNORECASE,
)


def _not_calendar_like(text: str) -> bool:
    """Whether ``text`` reads as an interval, a cron expression or timer lines (so that its
    error is the one of those), rather than as a calendar expression with a mistake in it."""
    words = text.split()
    if not words or words[0].lower() == "every" or "=" in text:
        return True
    calendar = (
        ":" in text
        or "~" in text
        or _CALENDAR_START.match(text) is not None
        or (len(words) <= 3 and any("-" in word for word in words))
    )
    return not calendar


def upcoming(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots after ``after`` (fewer if the schedule ends before).

    An interval counts from ``after``, as the health checks count from the last run (so
    ``every 15m`` gives ``after + 15m``, ``after + 30m`` ...); other schedules are absolute.
    """
    if count < 0:
        raise InvalidInput(f"count must not be negative: {count}")
    after = require_aware(after, "after")
    if isinstance(schedule, IntervalSchedule):
        schedule = schedule.anchored(after)
    found: list[datetime] = []
    cursor = after
    for _ in range(count):
        try:
            cursor = schedule.next_after(cursor)
        except InvalidInput:  # no slot any more (a calendar that ends, a cron of Feb 30)
            break
        found.append(cursor)
    return found


def _calendar_hint(text: str) -> str:
    """A hint for a systemd calendar expression given where a cron one was expected."""
    try:
        parse_calendar(text)
    except InvalidInput:
        return ""
    return f'; this is a systemd calendar expression: write "OnCalendar={text}" to use it as one'
