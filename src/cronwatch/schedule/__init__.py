"""When a job is due: interval ("every 15m"), cron ("0 3 * * *") and systemd calendar schedules.

A schedule is a set of instants, its *slots*. Every method takes and returns timezone-aware
datetimes; results are always in UTC, and naive inputs are refused with ``InvalidInput``.

- :class:`IntervalSchedule`: the slots ``anchor + k * period`` for every integer ``k``. The
  anchor defaults to the Unix epoch (so "every 15m" means :00, :15, :30, :45 UTC), but a
  period job is normally anchored at its last run: ``schedule.anchored(last_run)`` answers
  ``next_after(last_run) == last_run + period``, which is what "every 15m" means to a person.
- :class:`CronSchedule`: a 5-field cron expression (or an alias such as ``@daily``) evaluated by
  cronsim in an IANA timezone, with Debian cron's DST rules: on the fall-back day a
  ``30 1 * * *`` job runs once (the first 01:30); on the spring-forward day a slot that falls
  in the skipped hour runs at the first valid time after it (02:30 -> 03:00 in New York).
  Expressions whose minute or hour field starts with ``*`` follow real time instead (an hourly
  job runs every real hour, 25 times on the fall-back day).
- :class:`OnCalendarSchedule`: one or more systemd calendar expressions (``OnCalendar=``), the
  union of their slots, at the instants systemd computes for them, DST changes included (see
  :mod:`cronwatch.systemd_time.walk`): on the spring-forward day a time in the skipped hour is
  skipped, on the fall-back day every time of the repeated hour runs once, in its first pass.

Slot ranges are half-open, ``(a, b]``: the slots strictly after ``a`` and at or before ``b``,
so that counts over adjacent ranges add up.

Telling the kinds apart in :func:`parse_schedule`: ``every ...`` is an interval, a line of a
timer unit (``OnCalendar=Mon..Fri 09:00``, ``OnUnitActiveSec=1h``) is systemd's, anything else
is cron. A bare calendar expression is refused with a hint rather than guessed at, so that no
string that was a cron expression (or an error) before changes meaning.

One module per kind, behind the interface: :mod:`~cronwatch.schedule.base` (the interface,
timezones), :mod:`~cronwatch.schedule.interval`, :mod:`~cronwatch.schedule.cron`,
:mod:`~cronwatch.schedule.oncalendar`, and :mod:`~cronwatch.schedule.parsing` (text to a
schedule). Import from this package; the names below are its API.
"""

from __future__ import annotations

from cronwatch.schedule.base import (
    DEFAULT_SLOT_LIMIT,
    MAX_EARLY_TOLERANCE,
    TIMEZONE_PATTERN,
    Schedule,
    load_zone,
)
from cronwatch.schedule.cron import CRON_ALIASES, CronSchedule
from cronwatch.schedule.interval import IntervalSchedule
from cronwatch.schedule.oncalendar import OnCalendarSchedule
from cronwatch.schedule.parsing import (
    parse_on_calendar,
    parse_schedule,
    parse_schedule_arguments,
    parse_timer_lines,
    upcoming,
)

__all__ = [
    "CRON_ALIASES",
    "DEFAULT_SLOT_LIMIT",
    "MAX_EARLY_TOLERANCE",
    "TIMEZONE_PATTERN",
    "CronSchedule",
    "IntervalSchedule",
    "OnCalendarSchedule",
    "Schedule",
    "load_zone",
    "parse_on_calendar",
    "parse_schedule",
    "parse_schedule_arguments",
    "parse_timer_lines",
    "upcoming",
]
