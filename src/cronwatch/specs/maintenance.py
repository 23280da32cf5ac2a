"""Maintenance windows: the ``[[maintenance]]`` entries during which alerts are silent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cronwatch.errors import InvalidInput
from cronwatch.schedule import CronSchedule, OnCalendarSchedule
from cronwatch.specs.jobs import JobSpec


@dataclass(frozen=True)
class MaintenanceWindow:
    """A ``[[maintenance]]`` entry: alerts of the jobs it covers are silent during it.

    It covers the jobs named in ``jobs`` and those with any of ``tags``; neither: every job.
    One-off: ``start`` and ``end``. Recurring: it starts at each slot of ``schedule`` (a cron
    or systemd calendar schedule, in its timezone) and lasts ``duration``. ``where`` is its
    key path in the file ("maintenance[0]"), for messages.
    """

    where: str
    jobs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    schedule: CronSchedule | OnCalendarSchedule | None = None
    duration: timedelta | None = None

    def applies_to(self, spec: JobSpec) -> bool:
        if not self.jobs and not self.tags:
            return True
        return spec.name in self.jobs or not set(self.tags).isdisjoint(spec.tags)

    def active_until(self, now: datetime) -> datetime | None:
        """The end of the window in force at ``now`` (start <= now < end), else ``None``."""
        start, end = self._latest_start(now)
        return end if start is not None and end is not None and now < end else None

    def last_end(self, now: datetime) -> datetime | None:
        """The end of the latest occurrence that is over at ``now`` (``end <= now``)."""
        start, end = self._latest_start(now)
        if start is None or end is None:
            return None
        if end <= now:
            return end
        if self.schedule is None or self.duration is None:
            return None  # a one-off window still in force has no earlier occurrence
        try:
            earlier = self.schedule.previous_at_or_before(start - timedelta(microseconds=1))
        except InvalidInput:  # the first slot of a calendar with a beginning ("2026-12-01")
            return None
        return earlier + self.duration

    def _latest_start(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The latest occurrence that started at or before ``now``: (start, end)."""
        if self.schedule is not None and self.duration is not None:
            try:
                start = self.schedule.previous_at_or_before(now)
            except InvalidInput:  # no slot in the supported range (e.g. "0 0 30 2 *")
                return None, None
            return start, start + self.duration
        if self.start is not None and self.start <= now:
            return self.start, self.end
        return None, None
