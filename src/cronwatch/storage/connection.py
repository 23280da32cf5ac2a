"""A lean connection to the cronwatch database through the bare DB-API driver.

Why not SQLAlchemy here: see the package docstring. Statements are written once with ``?``
placeholders and translated to psycopg's ``%s`` for PostgreSQL.

SQLite is opened in WAL mode with a busy timeout, and every write retries on "database is
locked" until a generous deadline, so that many processes recording at once never surface that
error to the user. PostgreSQL connections run in autocommit mode: a single upsert is one round
trip, multi-statement work uses :meth:`Database.transaction`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from cronwatch.errors import CronwatchError, StorageUnavailable
from cronwatch.storage.url import DatabaseURL, parse_database_url

#: How long a SQLite writer waits for the lock before cronwatch gives up (seconds). Generous on
#: purpose: recording late is better than losing the record.
SQLITE_LOCK_DEADLINE = 120.0

DEFAULT_CONNECT_TIMEOUT = 5.0

# SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN (primary result codes).
_SQLITE_OUTAGES = frozenset({8, 10, 13, 14})

T = TypeVar("T")


class Cursor(Protocol):
    """The part of a DB-API cursor cronwatch uses."""

    rowcount: int

    def execute(self, sql: Any, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class SchemaError(CronwatchError):
    """The database schema is not one this version of cronwatch can use."""


class Database:
    """One connection to a cronwatch database, shareable between threads (calls are serialised).

    Use :func:`open_database` to get one: it also brings the schema up to date.
    """

    def __init__(self, url: DatabaseURL, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT):
        self.url = url
        self.dialect = url.dialect
        self._connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._sql_cache: dict[str, str] = {}
        self._conn: Any = self._connect()

    # -- connecting ---------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            return self._connect_sqlite()
        return self._connect_postgresql()

    def _connect_sqlite(self) -> sqlite3.Connection:
        path = self.url.sqlite_path
        assert path is not None
        if not path.parent.is_dir():
            raise StorageUnavailable(
                f"cannot open SQLite database {str(path)!r}: directory {str(path.parent)!r} "
                "does not exist"
            )
        try:
            conn = sqlite3.connect(
                str(path),
                timeout=SQLITE_LOCK_DEADLINE,
                isolation_level=None,
                check_same_thread=False,
            )
            # WAL lets readers (the dashboard) run beside the one writer; NORMAL sync in WAL
            # mode survives a killed process and never corrupts, at a fraction of FULL's fsyncs.
            self._retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open SQLite database {str(path)!r}: {exc}") from exc
        return conn

    def _connect_postgresql(self) -> Any:
        import psycopg  # imported here: only PostgreSQL users pay for it

        try:
            return psycopg.connect(
                self.url.conninfo or "",
                autocommit=True,
                connect_timeout=max(1, round(self._connect_timeout)),
            )
        except psycopg.Error as exc:
            raise StorageUnavailable(
                f"cannot connect to PostgreSQL at {self.url.redacted()}: {exc}".strip()
            ) from exc

    # -- running statements ---------------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """``statement`` with placeholders in this driver's style."""
        if self.dialect == "sqlite":
            return statement
        cached = self._sql_cache.get(statement)
        if cached is None:
            cached = self._sql_cache[statement] = statement.replace("?", "%s")
        return cached

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run one statement on its own (committed when it returns); the affected row count."""

        def run(cur: Cursor) -> int:
            cur.execute(self.sql(statement), params)
            return cur.rowcount

        return self._with_cursor(run)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read statement; all its rows."""

        def run(cur: Cursor) -> list[tuple[Any, ...]]:
            cur.execute(self.sql(statement), params)
            return [tuple(row) for row in cur.fetchall()]

        return self._with_cursor(run)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A write transaction: on SQLite ``BEGIN IMMEDIATE`` (the write lock is taken up front,
        so it cannot fail half-way with "database is locked"), on PostgreSQL a normal one.

        Not retried automatically: keep the body short and idempotent if you retry it.
        Placeholders inside must go through :meth:`sql`.
        """
        with self._lock:
            try:
                if self.dialect == "sqlite":
                    cur = self._conn.cursor()
                    self._retry_locked(lambda: cur.execute("BEGIN IMMEDIATE"))
                    try:
                        yield cur
                    except BaseException:
                        if self._conn.in_transaction:  # SQLite rolls back by itself on a full disk
                            self._conn.execute("ROLLBACK")
                        raise
                    self._retry_locked(lambda: self._conn.execute("COMMIT"))
                else:
                    with self._conn.transaction(), self._conn.cursor() as cur:
                        yield cur
            except CronwatchError:
                raise
            except Exception as exc:
                if self._is_outage(exc):
                    raise StorageUnavailable(f"database unavailable: {exc}") from exc
                raise

    def _with_cursor(self, fn: Callable[[Cursor], T]) -> T:
        with self._lock:
            for attempt in (1, 2):
                try:
                    cur = self._conn.cursor()
                    try:
                        if self.dialect == "sqlite":
                            result: T = self._retry_locked(lambda c=cur: fn(c))
                            return result
                        return fn(cur)
                    finally:
                        cur.close()
                except Exception as exc:
                    if not self._is_outage(exc):
                        raise
                    # A PostgreSQL connection dropped under a long-lived Monitor: reconnect once.
                    # Safe because every write cronwatch makes is an idempotent upsert.
                    if attempt == 2 or self.dialect == "sqlite":
                        raise StorageUnavailable(f"database unavailable: {exc}") from exc
                    self._reconnect()
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = self._connect()

    def _is_outage(self, exc: BaseException) -> bool:
        if self.dialect == "sqlite":
            # The file cannot be opened or written (full disk, I/O error, read-only mount):
            # an outage like a database server that is down, not a bug.
            return isinstance(exc, sqlite3.OperationalError) and (
                "unable to open" in str(exc)
                or getattr(exc, "sqlite_errorcode", 0) & 0xFF in _SQLITE_OUTAGES
            )
        import psycopg

        return isinstance(exc, psycopg.OperationalError)

    @staticmethod
    def _retry_locked(fn: Any) -> Any:
        """Call ``fn``, retrying while SQLite says the database is locked or busy.

        sqlite3's own busy timeout covers most waits; this covers the cases it does not
        (a WAL-mode switch, a checkpoint), so "database is locked" never reaches the user
        before the deadline.
        """
        deadline = time.monotonic() + SQLITE_LOCK_DEADLINE
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                message = str(exc)
                if "locked" not in message and "busy" not in message:
                    raise
                if time.monotonic() > deadline:
                    raise StorageUnavailable(
                        f"SQLite database still locked after {SQLITE_LOCK_DEADLINE:.0f}s"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def probe_write(self) -> None:
        """Rewrite one row as it is (the schema version): a write that changes nothing, to
        learn whether the database takes writes (a full disk, a read-only file, a server that
        went away: :class:`StorageUnavailable`)."""
        with self.transaction() as cur:
            cur.execute("UPDATE alembic_version SET version_num = version_num")

    # -- schema -----------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at, or ``None`` for an empty database."""
        if self.dialect == "sqlite":
            exists = self.query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            )
        else:
            exists = self.query("SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL")
        if not exists:
            return None
        rows = self.query("SELECT version_num FROM alembic_version")
        return str(rows[0][0]) if rows else None

    def close(self) -> None:
        """Close the connection; the object is unusable afterwards."""
        with self._lock, contextlib.suppress(Exception):
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_database(
    url: str | DatabaseURL,
    *,
    upgrade: bool = True,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Database:
    """Connect to ``url`` and, unless ``upgrade`` is false, bring its schema to this version's
    revision (migrations run once, under a lock, however many processes start together).

    Raises :class:`StorageUnavailable` when the database cannot be reached and
    :class:`SchemaError` when it was written by a newer cronwatch.
    """
    from cronwatch.storage.revision import KNOWN_REVISIONS, SCHEMA_REVISION

    parsed = url if isinstance(url, DatabaseURL) else parse_database_url(url)
    db = Database(parsed, connect_timeout=connect_timeout)
    try:
        current = db.schema_revision()
        if current != SCHEMA_REVISION:
            if current is not None and current not in KNOWN_REVISIONS:
                raise SchemaError(
                    f"database {parsed.redacted()} is at schema revision {current!r}, which this "
                    f"cronwatch does not know (it expects {SCHEMA_REVISION!r}); upgrade cronwatch"
                )
            if not upgrade:
                raise SchemaError(
                    f"database {parsed.redacted()} is at schema revision {current!r}, expected "
                    f"{SCHEMA_REVISION!r}; run `cronwatch migrate`"
                )
            from cronwatch.storage.migrate import upgrade_schema

            upgrade_schema(parsed)
    except BaseException:
        db.close()
        raise
    return db
