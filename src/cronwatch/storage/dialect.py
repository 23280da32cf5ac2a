"""What differs between SQLite and PostgreSQL, and nothing else: one :class:`Dialect` class,
one subclass per database (the way starlette's ``Route``/``Mount``/``Host`` vary one
``BaseRoute``). A :class:`~cronwatch.storage.connection.Database` holds one, as ``db.dialect``.

A dialect owns how cronwatch connects (pragmas, connect options), its placeholder style, what
counts as an outage, the retry on SQLite's lock, how a transaction begins and commits, the
schema-revision probe, the migration lock, and every statement written differently on the
two databases. Store modules write their SQL once, with ``?`` placeholders, and ask the dialect
for the one piece that varies (an operator, a row lock, a whole statement): nowhere else in
cronwatch is there an ``if dialect == ...``. Adding a variation means adding a member here, on
the base class with its contract and on both subclasses.

Neither SQLAlchemy nor psycopg is imported here at module level: ``cronwatch run`` imports
this module, and PostgreSQL's driver is loaded only by PostgreSQL users. The module is longer
than most on purpose: it is one concept, and both databases side by side are what a reader of
one variation needs to see.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import sqlite3
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from cronwatch.errors import StorageUnavailable
from cronwatch.model import Run
from cronwatch.storage.commitsync import AfterCommit, AtCommit, CommitSync
from cronwatch.storage.url import DatabaseURL
from cronwatch.storage.writes import (
    COMPLETE_LATEST,
    INSERT_STARTED,
    UPSERT_FINISHED,
    UPSERT_SET,
    Unpaired,
    Write,
    Written,
    finished_params,
    pair_params,
    started_params,
    written_from,
)

#: How long a SQLite writer waits for the lock before cronwatch gives up (seconds). Generous on
#: purpose: recording late is better than losing the record.
SQLITE_LOCK_DEADLINE = 120.0

# SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN (primary result codes).
_SQLITE_OUTAGES = frozenset({8, 10, 13, 14})

T = TypeVar("T")


class Cursor(Protocol):
    """The part of a DB-API cursor cronwatch uses."""

    rowcount: int

    def execute(self, sql: Any, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Dialect(ABC):
    """One kind of database. Get the right one for a URL with :func:`dialect_for`."""

    #: ``sqlite`` or ``postgresql``, as in the database URL.
    name: ClassVar[str]
    #: Writer threads of a server process (one batch written while another commits, where
    #: the database has more than one write lock).
    writer_threads: ClassVar[int] = 1
    #: Whether a connection dropped under a long-lived process is worth one reconnect.
    reconnects: ClassVar[bool] = False
    #: Whether the server's writer sends plain pings first, in one statement of their own
    #: (:meth:`insert_unpaired`): worth it where every round trip is long.
    bulk_plain_pings: ClassVar[bool] = False
    #: A read returning a row when the ``alembic_version`` table exists.
    REVISION_TABLE_EXISTS: ClassVar[str]
    #: The equality operator for which NULL equals NULL (``spec <op> ?``).
    NULL_SAFE_EQUAL: ClassVar[str]
    #: Appended to a subquery picking rows to update: what keeps two writers apart.
    SKIP_LOCKED: ClassVar[str] = ""
    #: Begins a read-only transaction that sees the whole database as of one instant, however
    #: long it lasts and whatever other connections commit meanwhile (an export's view).
    BEGIN_SNAPSHOT: ClassVar[str]
    #: A condition on ``name`` true for every name with a character outside ASCII.
    NOT_ASCII_NAME: ClassVar[str]
    #: Run first in the transaction compacting the job counts
    #: (:meth:`~cronwatch.storage.alerts.counts.CountStore.compact`), where several may run
    #: at once: returns one row whose first column says whether this one goes on. ``None``
    #: where a write transaction is alone anyway (SQLite).
    COMPACT_COUNTS_LOCK: ClassVar[str | None] = None
    #: Run (in autocommit) after a cycle rewrote many jobs' deadlines, or ``None``: takes the
    #: rows' old versions out of the deadline index, which every incremental cycle range-reads
    #: from its low end, and refreshes the planner's view of the deadlines.
    RECLAIM_DEADLINES: ClassVar[str | None] = None
    #: Run first in a transaction whose one read is a correlated subquery per job (a prune's
    #: look at every job's oldest run), or ``None``: the planner prices each subquery far above
    #: its index descent, and the compilation it then buys costs more than it saves.
    NO_JIT: ClassVar[str | None] = None

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        #: How long a write waits for a lock held by another connection before it gives up
        #: (:meth:`retry_locked`; SQLite's busy timeout). The server sets it shorter.
        self.lock_deadline = SQLITE_LOCK_DEADLINE

    # -- connecting and running ---------------------------------------------------------------

    @abstractmethod
    def connect(self, timeout: float) -> Any:
        """A new DB-API connection in autocommit mode; :class:`StorageUnavailable` if the
        database cannot be reached."""

    def sql(self, statement: str) -> str:
        """``statement`` (written with ``?`` placeholders) in this driver's style."""
        return statement

    def socket_of(self, conn: Any) -> int | None:
        """The network socket of ``conn``, for a statement deadline
        (:mod:`cronwatch.storage.deadline`); ``None`` where there is none (SQLite)."""
        return None

    @abstractmethod
    def is_outage(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the database is away (not a bug, not bad input)."""

    def rolled_back(self, exc: BaseException | None) -> bool:
        """Whether the database aborted the statement or transaction that raised ``exc`` on
        its own, to let a concurrent one go on (a deadlock, a serialization failure): nothing
        of it was written, and the same work can simply be done again."""
        return False

    def retry_locked(self, fn: Callable[[], T]) -> T:
        """Call ``fn``, retrying while the database says it is locked (where it can)."""
        return fn()

    @abstractmethod
    def transaction(self, conn: Any) -> contextlib.AbstractContextManager[Cursor]:
        """A write transaction on ``conn``: committed when the block ends, rolled back if it
        raises."""

    def migrating(self, engine: Any) -> contextlib.AbstractContextManager[Any]:
        """A SQLAlchemy connection of ``engine`` in a transaction that no other process
        migrates in at the same time (a second process waits, then finds the schema current)."""
        return engine.begin()  # type: ignore[no-any-return]

    # -- durability and copies ----------------------------------------------------------------

    @abstractmethod
    def durability_problems(self, cur: Cursor) -> list[str]:
        """What, in the settings in force on ``cur``'s connection, lets a commit that cronwatch
        acknowledged be lost in a crash, one sentence each; ``[]`` when nothing does."""

    def commit_sync(self) -> CommitSync:
        """How the server's writer makes a commit durable before answering for it
        (:mod:`cronwatch.storage.commitsync`): here, a commit that returned already is."""
        return AtCommit()

    def server_lock_path(self) -> Path | None:
        """The file that servers and alert loops hold a shared lock on while they use this
        database, and that a restore locks exclusively (:mod:`cronwatch.storage.serverlock`);
        ``None`` where cronwatch does not restore (PostgreSQL: ``pg_restore`` does)."""
        return None

    def copy_commands(self, file: Path) -> tuple[str, str] | None:
        """The commands of the programs that back this database up into ``file`` and restore
        it from there, for its URL with the password shown as ``***`` (PostgreSQL: ``pg_dump``
        and ``pg_restore``); ``None`` where cronwatch copies the database itself (SQLite:
        :mod:`cronwatch.storage.sqlite_backup`)."""
        return None

    # -- statements that differ ---------------------------------------------------------------

    @abstractmethod
    def write_runs(self, cur: Cursor, writes: Sequence[Write]) -> list[Written]:
        """Write each ``(run, pair_latest)`` with ``cur``, in order (see
        :mod:`cronwatch.storage.writes`), inside a transaction (or :meth:`write_alone`'s)."""

    def write_alone(self, cur: Cursor, run: Run) -> Written:
        """Write one run on the autocommit cursor ``cur`` (the library's record): as little
        as the database allows around :meth:`write_runs`."""
        (written,) = self.write_runs(cur, [(run, False)])
        return written

    def insert_unpaired(self, cur: Cursor, offered: Sequence[Unpaired]) -> dict[int, Written]:
        """Insert those of ``offered`` that need no pairing and no refusal, in one statement
        on the autocommit cursor ``cur``: ``{index in offered: Written}`` of the ones stored.
        Only where :attr:`bulk_plain_pings`; elsewhere nothing is stored here."""
        return {}

    @abstractmethod
    def recent_runs(self, names: Sequence[str] | None, per_job: int) -> tuple[str, tuple[Any, ...]]:
        """A read of ``(name, started_us, duration_us, outcome)`` covering the latest
        ``per_job`` finished runs of every job (``names`` ``None``) or of ``names``, and its
        parameters. It may return a few more runs per job (ties); the caller keeps the latest.
        The statement's text is the same for every selection (the names are one parameter)."""


class SQLite(Dialect):
    """An SQLite file: WAL, a busy timeout, one writer at a time, statements in-process."""

    name = "sqlite"
    #: ``PRAGMA synchronous`` of every connection: FULL, so that an acknowledged commit is on
    #: disk (but the server's writer's: see :attr:`SYNC_AFTER_COMMIT`).
    SYNCHRONOUS: ClassVar[str] = "FULL"
    #: The server's writer commits at NORMAL and syncs the WAL outside SQLite's write lock,
    #: before answering (:class:`~cronwatch.storage.commitsync.AfterCommit`): FULL's
    #: guarantee without FULL's wait under the lock. False: the writer commits at
    #: :attr:`SYNCHRONOUS` like every other connection (``bench/bench_durable.py`` compares).
    SYNC_AFTER_COMMIT: ClassVar[bool] = True
    REVISION_TABLE_EXISTS = (
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    )
    NULL_SAFE_EQUAL = "IS"
    # (GLOB '*[^ -~]*' says the same at twice the cost.)
    NOT_ASCII_NAME = "length(CAST(name AS BLOB)) <> length(name)"
    # No SKIP_LOCKED: under SQLite's one write lock an UPDATE's subquery is already atomic.
    # Deferred: the snapshot is taken by the first read, and in WAL mode it holds no lock that
    # writers wait for.
    BEGIN_SNAPSHOT = "BEGIN"

    # SQLite must be told to take the candidate from the small partial index of running runs:
    # with ORDER BY started_us it would rather walk every run of the job in ix_runs_name_started.
    COMPLETE_LATEST = COMPLETE_LATEST.format(
        hint=" INDEXED BY ix_runs_running", lock="", later="MAX"
    )

    # SQLite has no LATERAL: find each job's per_job-th latest start (an index walk of that
    # many entries), then range-scan the index from there. Runs sharing that start can add a
    # few rows. CROSS JOIN makes SQLite loop over jobs outside: without ANALYZE statistics it
    # would otherwise scan every run and evaluate the subquery once per run (10x slower at 25
    # runs per job, and growing with history). The jobs are every row of ``jobs`` (the first
    # parameter true: a constant WHERE, evaluated once) or the names given: the names are not
    # a filter on ``jobs``, which would read every job (5 ms at 100,000) for a page of 100.
    RECENT_RUNS = """
SELECT r.name, r.started_us, r.duration_us, r.outcome
FROM (SELECT name FROM jobs WHERE ? UNION ALL SELECT value FROM json_each(?)) AS j
CROSS JOIN runs r ON r.name = j.name
WHERE r.outcome <> 'running' AND r.started_us >= COALESCE(
    (SELECT x.started_us FROM runs x WHERE x.name = j.name AND x.outcome <> 'running'
     ORDER BY x.started_us DESC LIMIT 1 OFFSET ?), ?)
"""
    _MIN_BIGINT = -(2**63)

    def connect(self, timeout: float) -> sqlite3.Connection:
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
                timeout=self.lock_deadline,
                isolation_level=None,
                check_same_thread=False,
            )
            # WAL lets readers (the dashboard) run beside the one writer. FULL syncs the WAL
            # at every commit: a commit that returned survives a power cut or an OS crash
            # (NORMAL only survives a killed process: its latest commits may roll back).
            self.retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute(f"PRAGMA synchronous={self.SYNCHRONOUS}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open SQLite database {str(path)!r}: {exc}") from exc
        return conn

    def is_outage(self, exc: BaseException) -> bool:
        # The file cannot be opened or written (full disk, I/O error, read-only mount): an
        # outage like a database server that is down, not a bug.
        return isinstance(exc, sqlite3.OperationalError) and (
            "unable to open" in str(exc)
            or getattr(exc, "sqlite_errorcode", 0) & 0xFF in _SQLITE_OUTAGES
        )

    def retry_locked(self, fn: Callable[[], T]) -> T:
        """sqlite3's own busy timeout covers most waits; this covers the cases it does not
        (a WAL-mode switch, a checkpoint), so "database is locked" never reaches the user
        before the deadline."""
        deadline = None  # from the first wait on: the happy path reads no clock
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                message = str(exc)
                if "locked" not in message and "busy" not in message:
                    raise
                if deadline is None:
                    deadline = time.monotonic() + self.lock_deadline
                elif time.monotonic() > deadline:
                    raise StorageUnavailable(
                        f"SQLite database still locked after {self.lock_deadline:g}s"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    @contextmanager
    def transaction(self, conn: Any) -> Iterator[Cursor]:
        """``BEGIN IMMEDIATE``: the write lock is taken up front, so the transaction cannot
        fail half-way with "database is locked"."""
        cur = conn.cursor()
        self.retry_locked(lambda: cur.execute("BEGIN IMMEDIATE"))
        try:
            yield cur
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself on a full disk
                conn.execute("ROLLBACK")
            raise
        self.retry_locked(lambda: conn.execute("COMMIT"))

    @contextmanager
    def migrating(self, engine: Any) -> Iterator[Any]:
        """A sidecar lock file, because SQLite's own locks are not held across Alembic's
        separate DDL statements."""
        fd = os.open(f"{self.url.sqlite_path}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with engine.begin() as conn:
                yield conn
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def durability_problems(self, cur: Cursor) -> list[str]:
        cur.execute("PRAGMA synchronous")
        level = int(cur.fetchone()[0])
        cur.execute("PRAGMA journal_mode")
        mode = str(cur.fetchone()[0]).lower()
        problems = []
        if level < 2:  # 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
            problems.append(
                f"SQLite's synchronous is {level}, below FULL (2): the latest commits may roll "
                "back after a power cut or an OS crash"
            )
        if mode != "wal":
            problems.append(f"SQLite's journal mode is {mode!r}, not 'wal'")
        return problems

    def commit_sync(self) -> CommitSync:
        if self.SYNC_AFTER_COMMIT and self.SYNCHRONOUS == "FULL":
            assert self.url.sqlite_path is not None
            return AfterCommit(self.url.sqlite_path)
        return AtCommit()

    def server_lock_path(self) -> Path:
        return Path(f"{self.url.sqlite_path}.server-lock")

    def write_runs(self, cur: Cursor, writes: Sequence[Write]) -> list[Written]:
        # In-process: one statement after another costs microseconds. One writer at a time
        # (the database's write lock): nothing to order.
        return [self._write(cur, run, pair_latest) for run, pair_latest in writes]

    def _write(self, cur: Cursor, run: Run, pair_latest: bool) -> Written:
        # Every row fetched: a statement left half-read would keep its write open.
        if run.date_completed is None:
            cur.execute(INSERT_STARTED, started_params(run))
            return written_from(run, _first(cur.fetchall()))
        if pair_latest:
            cur.execute(self.COMPLETE_LATEST, pair_params(run))
            row = _first(cur.fetchall())
            if row is not None:
                return written_from(run, row)
        cur.execute(UPSERT_FINISHED, finished_params(run))
        return written_from(run, _first(cur.fetchall()))

    def recent_runs(self, names: Sequence[str] | None, per_job: int) -> tuple[str, tuple[Any, ...]]:
        params = (names is None, json.dumps(list(names or ())), per_job - 1, self._MIN_BIGINT)
        return self.RECENT_RUNS, params


class PostgreSQL(Dialect):
    """A PostgreSQL server: autocommit connections (a single upsert is one round trip),
    ``%s`` placeholders, row locks that let writers and alert loops skip each other."""

    name = "postgresql"
    writer_threads = 2
    reconnects = True
    bulk_plain_pings = True
    REVISION_TABLE_EXISTS = "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL"
    NULL_SAFE_EQUAL = "IS NOT DISTINCT FROM"
    NOT_ASCII_NAME = "octet_length(name) <> length(name)"
    SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
    BEGIN_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    # An UPDATE of an indexed column adds an index entry and leaves the old one dead until
    # VACUUM (autovacuum may be off, or not come for minutes): after the first cycle's 100,000
    # deadlines, the next cycles' range read walked 100,000 dead entries at the index's low
    # end (deadlines passed) before finding none due. SKIP_LOCKED: another loop (or
    # autovacuum) is at it already. ANALYZE: the deadlines are no longer the 0 of new rows,
    # which would make the planner scan the table for the due jobs.
    RECLAIM_DEADLINES = "VACUUM (ANALYZE, SKIP_LOCKED) jobs"
    NO_JIT = "SET LOCAL jit = off"
    #: Arbitrary but fixed key of the advisory lock that serialises migrations.
    MIGRATION_LOCK = 0x63726F6E  # "cron"
    #: The first key of the advisory locks of jobs and hosts (:meth:`lock_job_hosts`); the
    #: two-key form never meets the one-key migration lock.
    JOB_HOST_LOCKS = 0x6A68  # "jh"
    # unnest yields the keys in the array's order, and each lock is taken as its row is.
    LOCK_JOB_HOSTS = "SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::int[]) AS k"
    #: Not waited for: a loop that finds another compacting leaves it to that one.
    COMPACT_COUNTS_LOCK = f"SELECT pg_try_advisory_xact_lock({0x6A63}, 0)"  # "jc"

    INSERT_STARTED = INSERT_STARTED.replace("?", "%s")
    UPSERT_FINISHED = UPSERT_FINISHED.replace("?", "%s")
    # Pair with the latest running run, else insert, in one statement. The casts are needed
    # because parameters in a SELECT list have no type to be inferred from.
    FINISH_LATEST = (
        "WITH done AS ("
        + COMPLETE_LATEST.format(hint="", lock=SKIP_LOCKED, later="GREATEST").replace(
            "outcome = ?, exit_code = ?, completed_us = GREATEST(?, started_us),"
            " duration_us = GREATEST(?, started_us) - started_us",
            "outcome = ?::text, exit_code = ?::int, completed_us = GREATEST(?::bigint,"
            " started_us), duration_us = GREATEST(?::bigint, started_us) - started_us",
        )
        + "), fresh AS (INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
        " completed_us, duration_us, output) SELECT ?::text, ?::text, ?::text, ?::text, ?::int,"
        " ?::bigint, ?::bigint, ?::bigint, ?::text WHERE NOT EXISTS (SELECT 1 FROM done)"
        + UPSERT_SET
        + ") SELECT duration_us FROM done UNION ALL SELECT duration_us FROM fresh"
    ).replace("?", "%s")

    # A finish without run id, for a job and host with nothing running and with a key that may
    # write it (and any name: a key restricted to names is checked in the transaction's way),
    # is inserted as given; anything else is left for the caller (pairing, refusals).
    # One statement in autocommit for all of them: the key check, the pairing check and the
    # insert in one round trip, where a transaction of separate statements costs five, and each
    # round trip is long on a machine busy serving the pings.
    INSERT_UNPAIRED = (
        "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us, completed_us,"
        " duration_us, output) SELECT u.name, u.hostname, u.run_id, u.outcome, u.exit_code,"
        " u.started_us, u.completed_us, u.duration_us, u.output FROM ("
        " SELECT e->>0 AS name, e->>1 AS hostname, e->>2 AS run_id, e->>3 AS outcome,"
        " (e->>4)::int AS exit_code, (e->>5)::bigint AS started_us,"
        " (e->>6)::bigint AS completed_us, (e->>7)::bigint AS duration_us, e->>8 AS output,"
        " e->>9 AS key_hash, e->>10 AS scopes, position"
        " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, position)) AS u"
        " WHERE (u.key_hash IS NULL OR EXISTS (SELECT 1 FROM api_keys k"
        " WHERE k.token_hash = u.key_hash AND k.revoked_us IS NULL AND k.names IS NULL"
        " AND k.scope = ANY(string_to_array(u.scopes, ','))))"
        " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.outcome = 'running' AND r.name = u.name"
        " AND r.hostname = u.hostname)"
        # Rows go in by (job, host), the order every writer takes the summaries' row locks in.
        # No ON CONFLICT: the run ids are fresh, and its check costs an index probe per row.
        " ORDER BY u.position RETURNING run_id, duration_us"
    )

    # A LATERAL subquery per job, each an index scan backwards of per_job rows. (The same
    # correlated subquery written as a join condition gets evaluated once per *run* there.)
    RECENT_RUNS = """
SELECT j.name, r.started_us, r.duration_us, r.outcome FROM jobs j
CROSS JOIN LATERAL (
    SELECT x.started_us, x.duration_us, x.outcome FROM runs x
    WHERE x.name = j.name AND x.outcome <> 'running'
    ORDER BY x.started_us DESC LIMIT ?
) r
WHERE ? OR j.name = ANY(?)
"""

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__(url)
        self._sql_cache: dict[str, str] = {}

    #: TCP keepalives unless the URL sets its own: a peer that vanished (its host down, a
    #: network path gone) is noticed in about a minute instead of the kernel's two hours.
    #: A silent peer that something in between still answers for is the statement
    #: deadline's business (:mod:`cronwatch.storage.deadline`).
    KEEPALIVES: ClassVar[dict[str, int]] = {
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }

    def connect(self, timeout: float) -> Any:
        import psycopg  # imported here: only PostgreSQL users pay for it
        from psycopg.conninfo import conninfo_to_dict

        conninfo = self.url.conninfo or ""
        given = conninfo_to_dict(conninfo)
        options: dict[str, Any] = {k: v for k, v in self.KEEPALIVES.items() if k not in given}
        try:
            return psycopg.connect(
                conninfo, autocommit=True, connect_timeout=max(1, round(timeout)), **options
            )
        except psycopg.Error as exc:
            raise StorageUnavailable(
                f"cannot connect to PostgreSQL at {self.url.redacted()}: {exc}".strip()
            ) from exc

    def socket_of(self, conn: Any) -> int | None:
        try:
            return int(conn.pgconn.socket)
        except Exception:  # closed or broken: nothing to cut
            return None

    def sql(self, statement: str) -> str:
        cached = self._sql_cache.get(statement)
        if cached is None:
            cached = self._sql_cache[statement] = statement.replace("?", "%s")
        return cached

    def is_outage(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.OperationalError)

    def rolled_back(self, exc: BaseException | None) -> bool:
        import psycopg

        # (psycopg's DeadlockDetected and SerializationFailure do not derive from its
        # TransactionRollback: SQLSTATE class 40 is named whole.)
        errors = psycopg.errors
        return isinstance(
            exc,
            (errors.TransactionRollback, errors.DeadlockDetected, errors.SerializationFailure),
        )

    @contextmanager
    def transaction(self, conn: Any) -> Iterator[Cursor]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextmanager
    def migrating(self, engine: Any) -> Iterator[Any]:
        """An advisory lock held until the transaction ends."""
        from sqlalchemy import text

        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.MIGRATION_LOCK})
            yield conn

    def durability_problems(self, cur: Cursor) -> list[str]:
        # cronwatch never changes these: they are the database administrator's. It says when
        # they put acknowledged runs at risk (``cronwatch serve`` logs it at start).
        cur.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync')"
        )
        settings = dict(cur.fetchall())
        problems = []
        if settings.get("synchronous_commit") == "off":
            problems.append(
                "PostgreSQL's synchronous_commit is off for this connection: a commit is "
                "acknowledged before it is on disk, so a crash of the PostgreSQL server or its "
                "machine can lose the last moments of acknowledged runs (up to 3 x "
                "wal_writer_delay; nothing is corrupted). Turn it on for cronwatch's database: "
                "ALTER DATABASE <name> SET synchronous_commit = on"
            )
        if settings.get("fsync") == "off":
            problems.append(
                "PostgreSQL's fsync is off: an OS crash or power cut can lose or corrupt the "
                "database; turn it on in postgresql.conf"
            )
        return problems

    def copy_commands(self, file: Path) -> tuple[str, str]:
        import shlex  # here: not on `cronwatch run`'s import path

        url, path = shlex.quote(self.url.conninfo_redacted()), shlex.quote(str(file))
        return (
            f"pg_dump --format=custom --file={path} --dbname={url}",
            f"pg_restore --clean --if-exists --no-owner --dbname={url} {path}",
        )

    def write_runs(self, cur: Cursor, writes: Sequence[Write]) -> list[Written]:
        """First the transaction-level advisory lock of each job and host written
        (:meth:`lock_job_hosts`), then the writes. Consecutive writes of one kind go out as one
        executemany (pipelined by psycopg, with RETURNING): far less Python per write than a
        statement each, in the writes' order."""
        if not writes:
            return []
        self.lock_job_hosts(cur, writes)
        written: list[Written] = []
        for statement, group in itertools.groupby(writes, key=self._statement):
            runs = [run for run, _ in group]
            params = [self._params(statement, run) for run in runs]
            if len(params) == 1:
                cur.execute(statement, params[0])
                written.append(written_from(runs[0], cur.fetchone()))
                continue
            cur.executemany(statement, params, returning=True)  # type: ignore[attr-defined]
            for run in runs:
                written.append(written_from(run, cur.fetchone()))
                cur.nextset()  # type: ignore[attr-defined]
        return written

    def write_alone(self, cur: Cursor, run: Run) -> Written:
        """The lock (:meth:`lock_job_hosts`) and the write pipelined before one Sync: one
        round trip, and one implicit transaction of the extended protocol, which holds the
        lock until the write is committed."""
        conn = cur.connection  # type: ignore[attr-defined]
        with conn.pipeline():
            (written,) = self.write_runs(cur, [(run, False)])
        return written

    def lock_job_hosts(self, cur: Cursor, writes: Sequence[Write]) -> None:
        """Take, for the rest of the transaction, an advisory lock per job and host of
        ``writes``, in the order of their keys, before any row is touched.

        Why: a write locks its run's row (a finish completing its start; a start inserting a
        run id that a finish sent at the same time waits for), then, through the summary
        triggers, its job and host's row of ``job_hosts``. A transaction writing several runs
        of one job and host holds that summary row while it goes on to the next run's row:
        with the start and the finish of one run in two transactions (``/start`` sent in the
        background, then the finish), each waited for the other, and PostgreSQL broke the
        deadlock after ``deadlock_timeout`` (a second) while every other write queued behind.
        Every writer of runs to a job and host (the server's batches and plain pings'
        statement, the library's record) now takes this lock first and all of them in one
        order, so two of them on the same job and host follow each other, and none waits on
        another while holding what that one waits for."""
        keys = sorted({_job_host_key(run.name, run.hostname) for run, _ in writes})
        cur.execute(self.LOCK_JOB_HOSTS, (self.JOB_HOST_LOCKS, keys))

    def _statement(self, write: Write) -> str:
        run, pair_latest = write
        if run.date_completed is None:
            return self.INSERT_STARTED
        return self.FINISH_LATEST if pair_latest else self.UPSERT_FINISHED

    def _params(self, statement: str, run: Run) -> tuple[Any, ...]:
        if statement is self.FINISH_LATEST:
            return pair_params(run) + finished_params(run)
        if statement is self.INSERT_STARTED:
            return started_params(run)
        return finished_params(run)

    def insert_unpaired(self, cur: Cursor, offered: Sequence[Unpaired]) -> dict[int, Written]:
        """A start stored by another connection while this runs is paired with the next
        finish instead: a window of milliseconds between two pings of one job. When one of the
        run ids is stored already (a batch written again), nothing is stored and ``{}``
        returned. Offer only runs with distinct run ids, and no finish whose job and host also
        has a start in the same batch (it may pair with it). The statement takes the advisory
        locks of its jobs and hosts first (:meth:`lock_job_hosts`), pipelined before the same
        Sync: still one round trip, and no writer waits for another in two orders (a new
        job's first runs on two hosts, in here and in a transaction, would otherwise each wait
        for the other's ``jobs`` row and summary row)."""
        if not offered:
            return {}
        order = sorted(range(len(offered)), key=lambda i: _job_host(offered[i]))
        # One JSON document for the whole batch: psycopg adapts arrays element by element in
        # Python, several times slower than json.dumps and PostgreSQL's JSON parser.
        rows = [
            (*finished_params(offered[i].run), offered[i].key_hash, ",".join(offered[i].scopes))
            for i in order
        ]
        document = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        from psycopg.errors import UniqueViolation

        conn = cur.connection  # type: ignore[attr-defined]
        try:
            with conn.pipeline():
                self.lock_job_hosts(cur, [(item.run, True) for item in offered])
                cur.execute(self.INSERT_UNPAIRED, (document,))
                stored = {row[0]: row[1] for row in cur.fetchall()}
        except UniqueViolation:
            # A run id stored already: this batch is being written again after a failure that
            # hid its commit. Nothing was written now; the general way knows replays.
            return {}
        # RETURNING comes in no promised order: match rows by run id.
        return {
            index: Written(True, _int_or_none(stored[item.run.run_id]))
            for index, item in enumerate(offered)
            if item.run.run_id in stored
        }

    def recent_runs(self, names: Sequence[str] | None, per_job: int) -> tuple[str, tuple[Any, ...]]:
        return self.RECENT_RUNS, (per_job, names is None, list(names or ()))


def _first(rows: list[Any]) -> Any:
    return rows[0] if rows else None


def _job_host_key(name: str, hostname: str) -> int:
    """A stable signed 32-bit key of a job and host (two that collide merely take turns)."""
    digest = zlib.crc32(f"{name}\x00{hostname}".encode())
    return digest - (1 << 32) if digest >= 1 << 31 else digest


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _job_host(item: Unpaired) -> tuple[str, str]:
    return item.run.name, item.run.hostname


#: The dialect of each ``DatabaseURL.dialect``.
DIALECTS: dict[str, type[Dialect]] = {"sqlite": SQLite, "postgresql": PostgreSQL}


def dialect_for(url: DatabaseURL) -> Dialect:
    """The dialect of the database at ``url`` (nothing is connected yet)."""
    return DIALECTS[url.dialect](url)
