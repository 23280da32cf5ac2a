"""What is expected of one job: :class:`JobSpec`, and the default grace.

A job's fields, their defaults and their rules are declared once, in
:mod:`cronwatch.specs.fields`; this is the value they are parsed into.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cronwatch.schedule import OnCalendarSchedule, Schedule

MIN_DEFAULT_GRACE = timedelta(minutes=1)
MAX_DEFAULT_GRACE = timedelta(hours=1)
UNSCHEDULED_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class JobSpec:
    """What is expected of one job; see :mod:`cronwatch.specs.fields` for each field's
    meaning and default. ``grace_explicit`` tells a configured grace from a default one, so
    that a learned interval can get its own default later. ``schedule`` is the schedule in
    force, whichever field gave it (``schedule`` or ``on_calendar``)."""

    name: str
    schedule: Schedule | None
    timezone: str
    grace: timedelta
    hosts: tuple[str, ...]
    min_hosts: int | None
    max_runtime: timedelta | None
    min_runtime: timedelta | None
    tags: tuple[str, ...]
    paused: bool
    alerts: tuple[str, ...]
    grace_explicit: bool = True
    # Alert settings; None inherits [alerts] (see AlertSettings.for_job).
    alert_after: int | None = None
    recover_after: int | None = None
    repeat: timedelta | None = None  # timedelta(0): never, even if [alerts] repeats
    alert_on: tuple[str, ...] | None = None
    snooze_until: datetime | None = None
    escalate_after: timedelta | None = None  # timedelta(0): never, even if [alerts] escalates
    escalate_to: tuple[str, ...] | None = None
    # The on_calendar field: its schedule is also ``schedule`` (what the health checks read);
    # kept apart so that the job shows the field it was given.
    on_calendar: OnCalendarSchedule | None = None
    description: str | None = None  # free text for people (Healthchecks' desc)


def default_grace(schedule: Schedule | None) -> timedelta:
    """10% of the schedule's period, clamped to [1 minute, 1 hour]; 1 hour without a schedule.

    Long enough to absorb a slow start or clock skew, short enough that a missing run is
    reported within a tenth of the job's period for frequent jobs.
    """
    if schedule is None:
        return UNSCHEDULED_GRACE
    return min(MAX_DEFAULT_GRACE, max(MIN_DEFAULT_GRACE, schedule.period_hint() / 10))
