"""Backing up a live database and restoring a backup: ``cronwatch backup`` and ``restore``.

SQLite (:mod:`cronwatch.storage.sqlite_backup`): cronwatch copies the file itself, consistently,
while runs keep arriving, and puts a checked backup back in place. PostgreSQL: ``pg_dump`` and
``pg_restore`` do it better than cronwatch could; :class:`ExternalTool` carries the exact
commands for the configured URL (its password shown as ``***``), from the dialect.
"""

from __future__ import annotations

from pathlib import Path

from cronwatch.errors import CronwatchError
from cronwatch.storage import sqlite_backup
from cronwatch.storage.dialect import Dialect, dialect_for
from cronwatch.storage.sqlite_backup import BackupReport, Progress, RestoreReport
from cronwatch.storage.url import DatabaseURL, parse_database_url

__all__ = ["BackupReport", "ExternalTool", "Progress", "RestoreReport", "backup", "restore"]


class ExternalTool(CronwatchError):
    """This database is backed up (or restored) by another program; the message says which,
    with the command to run."""


def backup(
    url: str | DatabaseURL, dest: Path, *, force: bool = False, progress: Progress | None = None
) -> BackupReport:
    """Copy the database at ``url`` to the file ``dest`` while it is in use: the copy is the
    database as of one instant (every run committed before it, none half-written), written
    to a temporary file fsynced and renamed into place, so ``dest`` is either the old file or
    the whole new copy. An existing ``dest`` is refused unless ``force``. ``progress(done,
    total)`` is called with bytes. :class:`ExternalTool` on PostgreSQL (``pg_dump``; the
    message has the command)."""
    dialect = dialect_for(url if isinstance(url, DatabaseURL) else parse_database_url(url))
    commands = dialect.copy_commands(Path(dest))
    if commands is not None:
        dump, restore_command = commands
        raise ExternalTool(
            f"cronwatch backs up SQLite files itself; back this database up with "
            f"{dump.split()[0]}, which copies a live database consistently:\n\n    {dump}\n\n"
            f"{_password_note(dialect)}"
            f"Restore such a dump (cronwatch servers stopped) with:\n\n    {restore_command}\n\n"
            "(`cronwatch export --runs` writes a copy that any cronwatch database, SQLite or "
            "PostgreSQL, can `cronwatch import`.)"
        )
    return sqlite_backup.backup(dialect, Path(dest), force=force, progress=progress)


def restore(
    url: str | DatabaseURL, source: Path, *, progress: Progress | None = None
) -> RestoreReport:
    """Put the backup ``source`` in place of the database at ``url``, after checking it
    (``PRAGMA integrity_check``, a schema revision this cronwatch knows; older ones are
    migrated). Refused while a server or alert loop uses the database
    (:mod:`cronwatch.storage.serverlock`). The database replaced is kept next to it. The
    backup file itself is only read. ``progress(done, total)`` is called with rows.
    :class:`ExternalTool` on PostgreSQL (``pg_restore``)."""
    dialect = dialect_for(url if isinstance(url, DatabaseURL) else parse_database_url(url))
    commands = dialect.copy_commands(Path(source))
    if commands is not None:
        raise ExternalTool(
            f"cronwatch restores SQLite files itself; restore this database's dump with "
            f"{commands[1].split()[0]}, cronwatch servers stopped:\n\n    {commands[1]}\n\n"
            f"{_password_note(dialect)}"
            "(An export of `cronwatch export` goes in with `cronwatch import`.)"
        )
    return sqlite_backup.restore(dialect, Path(source), progress=progress)


def _password_note(dialect: Dialect) -> str:
    if dialect.url.conninfo_redacted() == dialect.url.conninfo:
        return ""
    return "(The password is shown as ***: give it in ~/.pgpass or $PGPASSWORD.)\n"
