"""systemd's time syntax (systemd.time(7)): calendar events (``OnCalendar=``) and time spans.

- :mod:`~cronwatch.systemd_time.calendar` parses a calendar expression into a
  :class:`CalendarSpec`, accepting exactly what systemd accepts, with errors that say what is wrong.
- :mod:`~cronwatch.systemd_time.walk` finds the instants a spec elapses at, as systemd does
  (DST changes included).
- :mod:`~cronwatch.systemd_time.timespan` parses spans such as ``1h 30min`` (``OnUnitActiveSec=``).

This package knows nothing of jobs or configs; :class:`cronwatch.schedule.OnCalendarSchedule`
puts it behind the :class:`~cronwatch.schedule.Schedule` interface.
"""

from __future__ import annotations

from cronwatch.systemd_time.calendar import CalendarSpec, parse_calendar
from cronwatch.systemd_time.timespan import parse_timespan

__all__ = ["CalendarSpec", "parse_calendar", "parse_timespan"]
