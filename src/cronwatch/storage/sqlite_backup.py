"""SQLite backups and restores, while the database is in use.

**Backup: SQLite's online backup API, in one read transaction.** The alternative, ``VACUUM
INTO``, is one statement: it cannot report progress, and it rebuilds every table and index
(CPU and time on a large database, on the machine that is serving pings). The backup API
copies pages a step at a time, so a terminal can show progress; and because the copying
connection holds one read transaction from the first step to the last, every step reads the
same snapshot (in WAL mode writers do not wait for it, and the copy does not restart when they
commit, as it would between steps without the transaction). The copy is written to a temporary
file, switched to a rollback journal (a single self-contained file, which opening read-only
does not add files to), fsynced, renamed over the destination and the directory fsynced.

**Restore: the backup's tables copied into the live database in one write transaction.**
Renaming a file over a live WAL database would strand other connections (a ``cronwatch run``
in progress) on the old inode, or pair the new file with the old ``-wal``. Instead the backup
is staged next to the database (a copy: the backup file is never opened by SQLite, so never
changed), checked (``PRAGMA integrity_check``, a known schema revision) and migrated if older;
then, holding SQLite's write lock, the database as it is is copied aside and its schema and
rows are replaced by the backup's, and the transaction commits. A writer waiting on the lock
meanwhile commits into the restored database afterwards: no acknowledged run lands in neither
file. A database too damaged to be rewritten is moved aside by renaming instead.

Backup and restore are one module because they are one file format seen both ways: a restore
checks exactly what a backup writes (a self-contained rollback-journal file at a known schema
revision), and both share the file handling (the live file, refusing its own files, fsync,
temporaries).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cronwatch.errors import CronwatchError, InvalidInput, StorageUnavailable
from cronwatch.storage.dialect import Dialect
from cronwatch.storage.serverlock import DatabaseInUse, exclusive_server_lock, live_alert_loops
from cronwatch.timeutil import from_us, to_us, utcnow

#: ``progress(done, total)``: bytes of a backup, rows of a restore.
Progress = Callable[[int, int], None]

#: Pages copied per step of a backup (4 MiB with 4 KiB pages): progress is reported per step.
STEP_PAGES = 1024
#: Rows copied per statement of a restore (progress is reported per statement).
RESTORE_CHUNK = 20_000
_MAGIC = b"SQLite format 3\x00"
_CORRUPT = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_CONNECT_TIMEOUT = 5.0


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


# -- backup -------------------------------------------------------------------------------------


def backup(dialect: Dialect, dest: Path, *, force: bool, progress: Progress | None) -> BackupReport:
    """See :func:`cronwatch.storage.backup.backup`."""
    live = _live_path(dialect)
    if not live.is_file():
        raise InvalidInput(f"there is no database at {live} to back up")
    dest = Path(os.path.abspath(dest))
    _refuse_own_files(live, dest, "back up onto")
    if dest.is_dir():
        raise InvalidInput(f"{dest} is a directory; give a file name, e.g. {dest}/cronwatch.db")
    if (dest.exists() or dest.is_symlink()) and not force:
        raise InvalidInput(f"{dest} exists; pass --force to replace it")
    if not dest.parent.is_dir():
        raise InvalidInput(f"cannot write {dest}: directory {dest.parent} does not exist")
    source = dialect.connect(_CONNECT_TIMEOUT)
    try:
        # One read transaction for the whole copy: every step sees the same instant.
        source.execute("BEGIN")
        revision, runs, jobs = _describe(source, live)
        _write_copy(source, dest, progress)
        source.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"could not read {live}: {exc}") from exc
    finally:
        source.close()
    return BackupReport(dest, dest.stat().st_size, runs, jobs, revision)


def _write_copy(source: sqlite3.Connection, dest: Path, progress: Progress | None) -> None:
    """The database of ``source`` (in its open transaction) into ``dest``, atomically."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    _remove(tmp)
    page_size = int(source.execute("PRAGMA page_size").fetchone()[0])

    def step(status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress((total - remaining) * page_size, total * page_size)

    try:
        target = sqlite3.connect(tmp, isolation_level=None)
        try:
            source.backup(target, pages=STEP_PAGES, progress=step)
            # A rollback journal: one self-contained file, to which a read adds no -wal/-shm.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync(dest.parent)
    except (OSError, sqlite3.Error) as exc:
        _remove(tmp)
        raise CronwatchError(f"could not write {dest}: {exc}") from exc
    except BaseException:
        _remove(tmp)
        raise


def _describe(conn: sqlite3.Connection, shown: Path) -> tuple[str, int, int]:
    """``(schema revision, runs, jobs)`` of the cronwatch database on ``conn``."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "alembic_version" not in tables or "runs" not in tables:
        raise InvalidInput(f"{shown} is a SQLite database but not a cronwatch one")
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    if row is None:
        raise InvalidInput(f"{shown} is a cronwatch database without a schema revision")
    runs = int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    jobs = int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]) if "jobs" in tables else 0
    return str(row[0]), runs, jobs


# -- restore ------------------------------------------------------------------------------------


def restore(dialect: Dialect, source: Path, *, progress: Progress | None) -> RestoreReport:
    """See :func:`cronwatch.storage.backup.restore`."""
    live = _live_path(dialect)
    source = Path(os.path.abspath(source))
    _check_sqlite_file(source)
    _refuse_own_files(live, source, "restore from")
    if not live.parent.is_dir():
        raise InvalidInput(f"cannot restore into {live}: directory {live.parent} does not exist")
    with exclusive_server_lock(dialect):
        if live.is_file():
            _refuse_live_alert_loops(dialect)
        staged = live.with_name(f".{live.name}.restore-{os.getpid()}.tmp")
        try:
            _stage(source, staged)
            revision, migrated_from, runs, jobs = _check_and_migrate(staged, source)
            replaced = None
            if live.exists():
                replaced = _replace(dialect, live, staged, progress)
            else:
                _fsync(staged)
                os.replace(staged, live)
                _fsync(live.parent)
        finally:
            for suffix in ("", "-wal", "-shm", "-journal", ".migrate-lock"):
                _remove(Path(f"{staged}{suffix}"))
    return RestoreReport(live, replaced, runs, jobs, revision, migrated_from)


def _check_sqlite_file(path: Path) -> None:
    try:
        with open(path, "rb") as file:
            head = file.read(len(_MAGIC))
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a backup file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    if head != _MAGIC:
        raise InvalidInput(f"{path} is not a SQLite database (not a backup of cronwatch's)")


def _refuse_live_alert_loops(dialect: Dialect) -> None:
    """The second check after the lock: an alert loop whose process may still run (a server of
    an older cronwatch holds no lock)."""
    from cronwatch.storage.alerts.workers import WorkerStore
    from cronwatch.storage.connection import Database
    from cronwatch.storage.serverlock import RECENT_BEAT

    now = utcnow()
    try:
        with Database(dialect.url) as db:
            if (db.schema_revision() or "") < "0004":
                return  # no heartbeats before revision 0004
            beats = [
                (w.name, w.hostname, w.pid, w.last_beat)
                for w in WorkerStore(db).workers(now - RECENT_BEAT)
            ]
    except (CronwatchError, sqlite3.Error):
        return  # unreadable: no loop is using it either; the restore replaces it
    alive = live_alert_loops(beats, now)
    if alive:
        raise DatabaseInUse(
            f"an alert loop may still be using {dialect.url.redacted()}: {', '.join(alive)}; "
            "stop the cronwatch server or `cronwatch alerts` using it, then run this again "
            f"(a loop that was killed on another host is forgotten {RECENT_BEAT.seconds // 60} "
            "minutes after its last beat)"
        )


def _stage(source: Path, staged: Path) -> None:
    """A copy of ``source`` (with its ``-wal``, if it has one) at ``staged``."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        _remove(Path(f"{staged}{suffix}"))
    try:
        shutil.copyfile(source, staged)
        wal = Path(f"{source}-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            shutil.copyfile(wal, f"{staged}-wal")
    except OSError as exc:
        raise CronwatchError(f"could not copy {source} next to the database: {exc}") from exc


def _check_and_migrate(staged: Path, shown: Path) -> tuple[str, str | None, int, int]:
    """``(revision, migrated from, runs, jobs)`` of the staged backup, checked and migrated to
    this cronwatch's schema; :class:`InvalidInput` when it is not a sound cronwatch database."""
    from cronwatch.storage.migrate import upgrade_schema
    from cronwatch.storage.revision import KNOWN_REVISIONS, SCHEMA_REVISION
    from cronwatch.storage.url import parse_database_url

    conn = sqlite3.connect(staged, isolation_level=None)
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA integrity_check(10)")]
        if problems != ["ok"]:
            raise InvalidInput(f"{shown} fails PRAGMA integrity_check: {'; '.join(problems)}")
        revision, _, _ = _describe(conn, shown)
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{shown} fails PRAGMA integrity_check: {exc}") from exc
    finally:
        conn.close()
    if revision not in KNOWN_REVISIONS:
        raise InvalidInput(
            f"{shown} is at schema revision {revision!r}, which this cronwatch does not know "
            f"(it runs {SCHEMA_REVISION!r}): it was made by a newer cronwatch; restore it with "
            "that version"
        )
    if revision != SCHEMA_REVISION:
        upgrade_schema(parse_database_url(f"sqlite:///{staged}"))
    conn = sqlite3.connect(staged, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")  # any WAL folded into the file
        current, runs, jobs = _describe(conn, shown)
    finally:
        conn.close()
    return current, (revision if revision != current else None), runs, jobs


def _replace(dialect: Dialect, live: Path, staged: Path, progress: Progress | None) -> Path:
    """Replace the live database by ``staged``, the old one kept aside; the aside copy's path.
    A database too damaged to be rewritten is renamed aside instead."""
    try:
        return _replace_contents(dialect, live, staged, progress)
    except (StorageUnavailable, sqlite3.DatabaseError) as exc:
        cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
        if getattr(cause, "sqlite_errorcode", 0) & 0xFF not in _CORRUPT:
            if isinstance(exc, CronwatchError):
                raise
            raise StorageUnavailable(f"could not restore into {live}: {exc}") from exc
    return _rename_aside(live, staged)


def _replace_contents(
    dialect: Dialect, live: Path, staged: Path, progress: Progress | None
) -> Path:
    conn = dialect.connect(_CONNECT_TIMEOUT)
    aside: Path | None = None
    try:
        conn.execute("PRAGMA foreign_keys=OFF")  # tables are emptied and refilled in any order
        conn.execute("ATTACH DATABASE ? AS restored", (str(staged),))
        # From here on nobody else commits: the copy aside has every acknowledged run, and
        # writers waiting for the lock commit into the restored database.
        dialect.retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            aside = _keep_aside(dialect, live)
            _replace_tables(conn, progress)
            dialect.retry_locked(lambda: conn.execute("COMMIT"))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if aside is not None:
                _remove(aside)
            raise
        conn.execute("DETACH DATABASE restored")
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # shrink the WAL the copy grew
        return aside
    finally:
        conn.close()


def _keep_aside(dialect: Dialect, live: Path) -> Path:
    """A backup of the live database next to it, named ``<name>.replaced-<UTC time>``."""
    stamp = from_us(to_us(utcnow())).strftime("%Y%m%dT%H%M%SZ")
    aside = live.with_name(f"{live.name}.replaced-{stamp}")
    counter = 1
    while aside.exists():
        counter += 1
        aside = live.with_name(f"{live.name}.replaced-{stamp}-{counter}")
    reader = dialect.connect(_CONNECT_TIMEOUT)
    try:
        reader.execute("BEGIN")
        _write_copy(reader, aside, None)
        reader.execute("COMMIT")
    finally:
        reader.close()
    return aside


def _replace_tables(conn: sqlite3.Connection, progress: Progress | None) -> None:
    """In ``conn``'s transaction: drop every object of ``main``, create ``restored``'s, copy
    its rows (indexes and triggers created after the rows: no trigger fires on the copy)."""
    old = conn.execute(
        "SELECT type, name FROM main.sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    for kind in ("trigger", "view", "table"):  # a table's indexes and triggers go with it
        for type_, name in old:
            if type_ == kind:
                conn.execute(f"DROP {kind.upper()} IF EXISTS main.{_quoted(name)}")
    new = conn.execute(
        "SELECT type, name, sql FROM restored.sqlite_master WHERE sql IS NOT NULL"
        " AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ).fetchall()
    tables = [name for type_, name, _ in new if type_ == "table"]
    for type_, _, sql in new:
        if type_ == "table":
            conn.execute(sql)
    counts = {t: _count(conn, f"restored.{_quoted(t)}") for t in tables}
    total, done = sum(counts.values()), 0
    for table in tables:
        for copied in _copy_rows(conn, table):
            done += copied
            if progress is not None:
                progress(done, total)
    for type_, _, sql in new:
        if type_ != "table":
            conn.execute(sql)
    sequences = conn.execute(
        "SELECT 1 FROM restored.sqlite_master WHERE name = 'sqlite_sequence'"
    ).fetchall()
    if sequences:  # tables declared AUTOINCREMENT keep their counters
        conn.execute("DELETE FROM main.sqlite_sequence")
        conn.execute("INSERT INTO main.sqlite_sequence SELECT * FROM restored.sqlite_sequence")
    version = int(conn.execute("PRAGMA restored.user_version").fetchone()[0])
    conn.execute(f"PRAGMA main.user_version = {version}")


def _copy_rows(conn: sqlite3.Connection, table: str) -> Any:
    """Copy ``table``'s rows from ``restored`` into ``main`` in rowid ranges; yields the number
    of rows of each range."""
    name = _quoted(table)
    last = -(2**63)
    while True:
        high, count = conn.execute(
            f"SELECT MAX(rowid), COUNT(*) FROM (SELECT rowid FROM restored.{name}"
            " WHERE rowid > ? ORDER BY rowid LIMIT ?)",
            (last, RESTORE_CHUNK),
        ).fetchone()
        if not count:
            return
        conn.execute(
            f"INSERT INTO main.{name} SELECT * FROM restored.{name} WHERE rowid > ? AND rowid <= ?",
            (last, high),
        )
        last = high
        yield int(count)


def _rename_aside(live: Path, staged: Path) -> Path:
    """For a database SQLite cannot rewrite (damaged): move its files aside, put ``staged``
    in its place."""
    stamp = from_us(to_us(utcnow())).strftime("%Y%m%dT%H%M%SZ")
    aside = live.with_name(f"{live.name}.replaced-{stamp}")
    try:
        for suffix in ("-wal", "-shm", ""):  # the main file last: it is what is looked for
            part = Path(f"{live}{suffix}")
            if part.exists():
                os.replace(part, f"{aside}{suffix}")
        _fsync(staged)
        os.replace(staged, live)
        _fsync(live.parent)
    except OSError as exc:
        raise CronwatchError(f"could not put the backup in place of {live}: {exc}") from exc
    return aside


# -- files ----------------------------------------------------------------------------------------


def _live_path(dialect: Dialect) -> Path:
    path = dialect.url.sqlite_path
    assert path is not None
    return Path(os.path.abspath(path))


def _refuse_own_files(live: Path, other: Path, verb: str) -> None:
    """Refuse to use the live database's own files as the other end of a copy."""
    own = [Path(f"{live}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
    for path in own:
        same = path == other or (path.exists() and other.exists() and os.path.samefile(path, other))
        if same:
            raise InvalidInput(f"cannot {verb} {other}: it is the live database's own file")


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
