"""Jobs from a crontab: what ``cronwatch import-crontab`` reads, and the TOML it writes.

:func:`parse_crontab` reads a crontab the way cron does and returns a :class:`ParsedCrontab`:
one :class:`CrontabEntry` per scheduled line, and one :class:`CrontabWarning` (with its line
number) for every line that cannot be imported. It never raises for the file's content: a bad
line is reported and skipped, the rest is still imported.

- ``cron_tz=False`` (Debian's cron) ignores ``CRON_TZ``/``TZ`` with a warning; lines that
  look like a mistake (six time fields: skipped; a user field in a user crontab; ``date +%F``)
  get a warning.
- Both formats: a user's crontab (``crontab -e``: five time fields or an ``@alias``, then the
  command) and the system format of ``/etc/crontab`` and ``/etc/cron.d/*`` (a user name between
  the time fields and the command). ``system=None`` detects which one it is, from the path or
  else the content (see :func:`parse_crontab`).
- Comments (``#`` as the first non-blank character; cron has no comments after a command) and
  blank lines are skipped. Environment assignments (``NAME=value``, ``NAME = "value"``) are
  skipped, except ``CRON_TZ`` (and ``TZ`` when there is no ``CRON_TZ``), which set the timezone
  of the lines below them; an empty value unsets it. Lines under neither are in
  ``default_timezone`` (cron's local time: see :func:`local_timezone`). A line under a timezone
  that does not exist is skipped, never imported in another zone.
- ``@hourly``, ``@daily``... become the same alias in the config. ``@reboot`` has no time to
  watch and is skipped with a warning. Each schedule is validated with
  :func:`cronwatch.schedule.parse_schedule`.
- ``%`` in a command: cron turns the first unescaped ``%`` into the end of the command (the rest
  is its standard input). :attr:`CrontabEntry.command` keeps the text exactly as written; only
  the job name is derived from the part cron runs.

Job names: a command that already runs under ``cronwatch run NAME`` keeps ``NAME`` (runs are
recorded under it, so the job must have that name). Any other command gets a readable name
derived from it (:func:`derive_job_name`: ``/usr/local/bin/backup.sh --full`` -> ``backup``,
``cd /srv && ./manage.py clearsessions`` -> ``manage-clearsessions``), made unique within the file
with ``-2``, ``-3``... Every name passes :func:`cronwatch.names.validate_name`.

:func:`entries_to_toml` renders the entries as ``[jobs.NAME]`` tables that
:func:`cronwatch.config.load_config` reads back to the same names, schedules and timezones.
:func:`merge_into_config` appends the jobs a config file does not have yet, never touching the
existing text or an existing job.

The package, one concept a module: :mod:`.lines` (a crontab's lines and fields),
:mod:`.format` (user or system format), :mod:`.parse` (:func:`parse_crontab`), :mod:`.shell`
(what a command line runs), :mod:`.naming` (job names), :mod:`.writing` (the TOML, the merge),
:mod:`.timezone` (the host's timezone), :mod:`.daemon` (which cron: Debian's ignores
``CRON_TZ``), :mod:`.wrapping` (the crontab with its jobs under
``cronwatch run``: :func:`wrap_crontab`) and :mod:`.entries` (what a parse gives).
"""

from __future__ import annotations

from cronwatch.crontab.entries import CrontabEntry, CrontabWarning, ParsedCrontab
from cronwatch.crontab.naming import cronwatch_run_name, derive_job_name
from cronwatch.crontab.parse import parse_crontab
from cronwatch.crontab.timezone import local_timezone
from cronwatch.crontab.wrapping import wrap_crontab
from cronwatch.crontab.writing import entries_to_toml, merge_into_config

__all__ = [
    "CrontabEntry",
    "CrontabWarning",
    "ParsedCrontab",
    "cronwatch_run_name",
    "derive_job_name",
    "entries_to_toml",
    "local_timezone",
    "merge_into_config",
    "parse_crontab",
    "wrap_crontab",
]
