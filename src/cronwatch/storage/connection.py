"""A lean connection to the cronwatch database through the bare DB-API driver.

Why not SQLAlchemy here: see the package docstring. Statements are written once with ``?``
placeholders; what differs between SQLite and PostgreSQL (connecting, placeholders, locks,
transactions, the statements that must differ) is the :mod:`dialect <cronwatch.storage.dialect>`
the database holds, ``db.dialect``.

SQLite is opened in WAL mode with a busy timeout, and every write retries on "database is
locked" until a generous deadline, so that many processes recording at once never surface that
error to the user. PostgreSQL connections run in autocommit mode: a single upsert is one round
trip, multi-statement work uses :meth:`Database.transaction`.
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from cronwatch.errors import CronwatchError, StorageUnavailable
from cronwatch.storage.deadline import deadline
from cronwatch.storage.dialect import SQLITE_LOCK_DEADLINE, Cursor, Dialect, dialect_for
from cronwatch.storage.url import DatabaseURL, parse_database_url

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "SQLITE_LOCK_DEADLINE",
    "Cursor",
    "Database",
    "SchemaError",
    "open_database",
]

DEFAULT_CONNECT_TIMEOUT = 5.0
#: How many times a statement PostgreSQL aborted to end a deadlock is written again before
#: :meth:`Database.autocommit` gives up (each abort wrote nothing).
DEADLOCK_RETRIES = 5

T = TypeVar("T")


class SchemaError(CronwatchError):
    """The database schema is not one this version of cronwatch can use."""


class Database:
    """One connection to a cronwatch database, shareable between threads (calls are serialised).

    Use :func:`open_database` to get one: it also brings the schema up to date.
    """

    def __init__(
        self,
        url: DatabaseURL,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        statement_timeout: float | None = None,
    ):
        self.url = url
        self.dialect: Dialect = dialect_for(url)
        self._connect_timeout = connect_timeout
        # A statement (or a transaction) still unanswered after this long is cut off as an
        # outage; on SQLite, how long a write waits for another's lock. None: no deadline
        # (SQLite: SQLITE_LOCK_DEADLINE).
        self._statement_timeout = statement_timeout
        if statement_timeout is not None:
            self.dialect.lock_deadline = statement_timeout
        self._lock = threading.RLock()
        self._snapshot = False  # inside snapshot(): a reconnect would silently leave it
        self._conn: Any = self.dialect.connect(connect_timeout)

    # -- running statements ---------------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """``statement`` with placeholders in this driver's style."""
        return self.dialect.sql(statement)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run one statement on its own (committed when it returns); the affected row count."""

        def run(cur: Cursor) -> int:
            cur.execute(self.sql(statement), params)
            return cur.rowcount

        return self.autocommit(run)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read statement; all its rows."""

        def run(cur: Cursor) -> list[tuple[Any, ...]]:
            cur.execute(self.sql(statement), params)
            return [tuple(row) for row in cur.fetchall()]

        return self.autocommit(run)

    def ping(self) -> None:
        """One round trip to the database: raises if it does not answer."""
        self.query("SELECT 1")

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A write transaction: on SQLite ``BEGIN IMMEDIATE`` (the write lock is taken up front,
        so it cannot fail half-way with "database is locked"), on PostgreSQL a normal one.

        Not retried automatically: keep the body short and idempotent if you retry it.
        Placeholders inside must go through :meth:`sql`.
        """
        with (
            self._lock,
            self._outages_said(),
            self._deadline(),
            self.dialect.transaction(self._conn) as cur,
        ):
            yield cur

    def _deadline(self) -> contextlib.AbstractContextManager[None]:
        """The statement deadline of this connection, if it has one (:mod:`deadline`)."""
        if self._statement_timeout is None:
            return contextlib.nullcontext()
        return deadline(self.dialect.socket_of(self._conn), self._statement_timeout)

    @contextmanager
    def _outages_said(self) -> Iterator[None]:
        """An outage (the database away, its disk full) raised as :class:`StorageUnavailable`."""
        try:
            yield
        except CronwatchError:
            raise
        except Exception as exc:
            if self.dialect.is_outage(exc):
                raise StorageUnavailable(f"database unavailable: {exc}") from exc
            raise

    def autocommit(self, fn: Callable[[Cursor], T]) -> T:
        """``fn(cursor)`` outside a transaction: each statement commits on its own. Retried
        while SQLite is locked, up to :data:`DEADLOCK_RETRIES` times when PostgreSQL aborted it
        to end a deadlock, and once after a reconnect when a PostgreSQL connection dropped (so
        ``fn`` must be idempotent: every write cronwatch makes is)."""
        with self._lock:
            reconnected, aborted = False, 0
            while True:
                try:
                    cur = self._conn.cursor()
                    try:
                        with self._deadline():
                            return self.dialect.retry_locked(functools.partial(fn, cur))
                    finally:
                        cur.close()
                except Exception as exc:
                    if self.dialect.rolled_back(exc) and not self._snapshot:
                        aborted += 1
                        if aborted > DEADLOCK_RETRIES:  # no outage: a new connection won't help
                            raise StorageUnavailable(f"database unavailable: {exc}") from exc
                        # Writers of one job's first runs on several hosts can deadlock in the
                        # summary triggers; PostgreSQL undid this statement (nothing was
                        # written). A random pause so that the same two part ways.
                        time.sleep(random.uniform(0, 0.02 * aborted))
                        continue
                    if not self.dialect.is_outage(exc):
                        raise
                    # A PostgreSQL connection dropped under a long-lived Monitor: reconnect once.
                    if reconnected or not self.dialect.reconnects or self._snapshot:
                        raise StorageUnavailable(f"database unavailable: {exc}") from exc
                    self._reconnect()
                    reconnected = True

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """For the block, every read through this object sees the database as of one instant
        (a read-only transaction), while other connections keep writing: an export of several
        tables stays consistent with itself. Other threads wait for the block to end."""
        with self._lock, self._outages_said():
            cur = self._conn.cursor()
            try:
                cur.execute(self.dialect.BEGIN_SNAPSHOT)
                self._snapshot = True
                try:
                    yield
                except BaseException:
                    with contextlib.suppress(Exception):
                        cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                self._snapshot = False
                cur.close()

    def durability_problems(self) -> list[str]:
        """What in this connection's settings lets an acknowledged commit be lost in a crash
        (PostgreSQL's ``synchronous_commit`` off, SQLite below ``synchronous=FULL``), one
        sentence each; ``[]`` when nothing does."""
        return self.autocommit(self.dialect.durability_problems)

    def _reconnect(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = self.dialect.connect(self._connect_timeout)

    def probe_write(self) -> None:
        """Rewrite one row as it is (the schema version): a write that changes nothing, to
        learn whether the database takes writes (a full disk, a read-only file, a server that
        went away: :class:`StorageUnavailable`)."""
        with self.transaction() as cur:
            cur.execute("UPDATE alembic_version SET version_num = version_num")

    # -- schema -----------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at, or ``None`` for an empty database."""
        if not self.query(self.dialect.REVISION_TABLE_EXISTS):
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
    statement_timeout: float | None = None,
) -> Database:
    """Connect to ``url`` and, unless ``upgrade`` is false, bring its schema to this version's
    revision (migrations run once, under a lock, however many processes start together).

    ``statement_timeout`` (seconds): a statement or transaction still unanswered after that
    long is cut off as an outage (:mod:`cronwatch.storage.deadline`); on SQLite it is how long
    a write waits for another's lock. The server gives its connections one; the library and
    the CLI wait (a long prune, a busy disk).

    Raises :class:`StorageUnavailable` when the database cannot be reached and
    :class:`SchemaError` when it was written by a newer cronwatch.
    """
    from cronwatch.storage.revision import KNOWN_REVISIONS, SCHEMA_REVISION

    parsed = url if isinstance(url, DatabaseURL) else parse_database_url(url)
    db = Database(parsed, connect_timeout=connect_timeout, statement_timeout=statement_timeout)
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
