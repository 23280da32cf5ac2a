"""Jobs from systemd timer units: what ``cronwatch import-systemd`` reads and writes.

One concept a module: :mod:`.unitfile` (a unit file's lines, systemd.syntax(7)),
:mod:`.discover` (the unit directories, a unit's file and drop-ins, which timers run),
:mod:`.timers` (a timer's settings as systemd applies them, and the job it becomes),
:mod:`.importer` (the timers named or found, and what became of each), :mod:`.wrap` (the
drop-in that records a service's runs through ``cronwatch hook``).

The schedules themselves are :class:`cronwatch.schedule.OnCalendarSchedule` (evaluated as
systemd does, :mod:`cronwatch.systemd_time`) and interval schedules for
``OnUnitActiveSec=``.
"""

from __future__ import annotations

from cronwatch.systemd_units.importer import ImportedTimer, TimerImport, import_timers
from cronwatch.systemd_units.timers import Timer, read_timer, timer_job
from cronwatch.systemd_units.wrap import dropin_path, service_dropin

__all__ = [
    "ImportedTimer",
    "Timer",
    "TimerImport",
    "dropin_path",
    "import_timers",
    "read_timer",
    "service_dropin",
    "timer_job",
]
