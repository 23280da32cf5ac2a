"""Backing up a live database and restoring a backup: ``cronwatch backup`` and ``restore``.

SQLite (:mod:`cronwatch.storage.sqlite_backup`): cronwatch copies the file itself, consistently,
while runs keep arriving, and puts a checked backup back in place. PostgreSQL: ``pg_dump`` and
``pg_restore`` do it better than cronwatch could; :class:`ExternalTool` carries the exact
commands for the configured URL (its password shown as ``***``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cronwatch.errors import CronwatchError
from cronwatch.storage.dialect import dialect_for
from cronwatch.storage.url import DatabaseURL, parse_database_url

#: ``progress(done, total)``: bytes of a backup, rows of a restore.
Progress = Callable[[int, int], None]


class ExternalTool(CronwatchError):
    """This database is backed up (or restored) by another program; the message says which,
    with the command to run."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What a backup holds: the file, its size, and the database as of the copy's instant."""

    path: Path
    size: int
    runs: int
    jobs: int
    revision: str


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What a restore did: the database now holds ``runs`` and ``jobs`` at ``revision``
    (migrated from ``migrated_from`` when the backup was older); the database it replaced is
    kept at ``replaced`` (``None``: there was none)."""

    database: Path
    replaced: Path | None
    runs: int
    jobs: int
    revision: str
    migrated_from: str | None = None


def backup(
    url: str | DatabaseURL, dest: Path, *, force: bool = False, progress: Progress | None = None
) -> BackupReport:
    """Copy the database at ``url`` to the file ``dest`` while it is in use: the copy is the
    database as of one instant (every run committed before it, none half-written), checked
    with the file fsynced and renamed into place, so ``dest`` is either the old file or the
    whole new copy. An existing ``dest`` is refused unless ``force``. :class:`ExternalTool`
    on PostgreSQL (use ``pg_dump``; the message has the command)."""
    parsed = url if isinstance(url, DatabaseURL) else parse_database_url(url)
    return dialect_for(parsed).backup(Path(dest), force=force, progress=progress)


def restore(
    url: str | DatabaseURL, source: Path, *, progress: Progress | None = None
) -> RestoreReport:
    """Put the backup ``source`` in place of the database at ``url``, after checking it
    (``PRAGMA integrity_check``, a schema revision this cronwatch knows; older ones are
    migrated). Refused while a server or alert loop uses the database
    (:mod:`cronwatch.storage.serverlock`). The database replaced is kept next to it. The
    backup file itself is only read. :class:`ExternalTool` on PostgreSQL (use
    ``pg_restore``)."""
    parsed = url if isinstance(url, DatabaseURL) else parse_database_url(url)
    return dialect_for(parsed).restore(Path(source), progress=progress)
