"""Writing and reading runs: the recording hot path.

Every write is an idempotent upsert keyed by ``(name, run_id)``: a finish completes the running
row its start left, a run whose start was never stored is inserted whole, and the same record
sent twice (a spool replayed after a crash, a client retrying) is stored once. One write path
for a run and for a batch (see :mod:`cronwatch.storage.writes`): :meth:`RunStore.save` is a
batch of one, written in autocommit (on SQLite one statement; on PostgreSQL a pipelined
transaction, for the lock that keeps writers of one job and host apart);
the server's writer writes its batches with :meth:`RunStore.write` inside a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cronwatch.model import Outcome, Run
from cronwatch.storage.connection import Cursor, Database
from cronwatch.storage.writes import Unpaired, Write, Written
from cronwatch.timeutil import from_us, to_us

_COLUMNS = (
    "name, hostname, run_id, outcome, exit_code, started_us, completed_us, output, duration_us"
)

# Served by ix_runs_name_started, walked backwards: flat whatever the table's size.
_LAST_SUCCESS = (
    f"SELECT {_COLUMNS} FROM runs WHERE name = ? AND outcome = 'success' "
    "ORDER BY started_us DESC LIMIT 1"
)

_HISTORY = f"SELECT {_COLUMNS} FROM runs WHERE name = ? ORDER BY started_us DESC LIMIT ?"
_HISTORY_ON_HOST = (
    f"SELECT {_COLUMNS} FROM runs WHERE name = ? AND hostname = ? ORDER BY started_us DESC LIMIT ?"
)


class RunStore:
    """Runs in one database. Validation is the caller's job (see :mod:`cronwatch.monitor`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writing ------------------------------------------------------------------------------

    def save(self, run: Run) -> bool:
        """Store ``run``; ``True`` if this call stored something new, ``False`` if the database
        already had it (a replay)."""
        written = self.db.autocommit(lambda cur: self.db.dialect.write_alone(cur, run))
        return written.new

    def write(self, cur: Cursor, writes: Sequence[Write]) -> list[Written]:
        """Write each ``(run, pair_latest)`` in the open transaction of ``cur``, in order."""
        return self.db.dialect.write_runs(cur, writes)

    def insert_unpaired(self, offered: Sequence[Unpaired]) -> dict[int, Written]:
        """Store, in one autocommit statement, those of ``offered`` (plain pings) that need no
        pairing with a running run and no refusal of their key: ``{index in offered:
        Written}`` of the ones stored, the others untouched, to be written with :meth:`write`.
        Only where the dialect does it (:attr:`Dialect.bulk_plain_pings
        <cronwatch.storage.dialect.Dialect.bulk_plain_pings>`: PostgreSQL); elsewhere ``{}``."""
        if not offered:
            return {}
        return self.db.autocommit(lambda cur: self.db.dialect.insert_unpaired(cur, offered))

    # -- reading ------------------------------------------------------------------------------

    def last_success(self, name: str) -> Run | None:
        """The successful run of ``name`` that started last, on any host."""
        rows = self.db.query(_LAST_SUCCESS, (name,))
        return _row_to_run(rows[0]) if rows else None

    def history(self, name: str, *, limit: int = 20, hostname: str | None = None) -> list[Run]:
        """The latest ``limit`` runs of ``name`` (any outcome), newest first."""
        if hostname is None:
            rows = self.db.query(_HISTORY, (name, limit))
        else:
            rows = self.db.query(_HISTORY_ON_HOST, (name, hostname, limit))
        return [_row_to_run(row) for row in rows]

    def find(
        self,
        name: str,
        *,
        run_id: str | None = None,
        started: tuple[datetime, datetime] | None = None,
        hostname: str | None = None,
        limit: int = 10,
    ) -> list[Run]:
        """``name``'s runs with that ``run_id``, or started in ``[started[0], started[1])``
        (on ``hostname`` when given), newest first, at most ``limit``."""
        clauses: list[str] = ["name = ?"]
        params: list[object] = [name]
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if started is not None:
            clauses.append("started_us >= ? AND started_us < ?")
            params += [to_us(started[0]), to_us(started[1])]
        if hostname is not None:
            clauses.append("hostname = ?")
            params.append(hostname)
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM runs WHERE {' AND '.join(clauses)}"
            " ORDER BY started_us DESC LIMIT ?",
            (*params, limit),
        )
        return [_row_to_run(row) for row in rows]

    def last_success_completed(self, name: str, hostname: str | None = None) -> datetime | None:
        """When the latest successful run of ``name`` (on ``hostname``, or any host) completed,
        or ``None`` if it never succeeded there."""
        if hostname is None:
            rows = self.db.query(
                "SELECT MAX(completed_us) FROM runs WHERE name = ? AND outcome = 'success'",
                (name,),
            )
        else:
            rows = self.db.query(
                "SELECT MAX(completed_us) FROM runs WHERE hostname = ? AND "
                "name = ? AND outcome = 'success'",
                (hostname, name),
            )
        last = rows[0][0] if rows else None
        return None if last is None else from_us(int(last))

    def last_finished(self, name: str, hostname: str) -> Run | None:
        """The run of ``name`` on ``hostname`` that completed last (any outcome), or ``None``."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM runs WHERE hostname = ? AND name = ?"
            " AND completed_us IS NOT NULL ORDER BY completed_us DESC LIMIT 1",
            (hostname, name),
        )
        return _row_to_run(rows[0]) if rows else None

    def outcomes_since(self, name: str, completed_after: datetime, limit: int) -> list[Outcome]:
        """The outcomes of the latest ``limit`` finished runs of ``name`` completed after
        ``completed_after``, latest first."""
        rows = self.db.query(
            "SELECT outcome FROM runs WHERE name = ? AND outcome <> 'running'"
            " AND completed_us > ? ORDER BY completed_us DESC LIMIT ?",
            (name, to_us(completed_after), limit),
        )
        return [outcome for (outcome,) in rows]

    def page(
        self,
        name: str,
        *,
        limit: int,
        host: str | None = None,
        outcome: str | None = None,
        before: tuple[int, int] | None = None,
    ) -> tuple[list[tuple[int, Run]], bool]:
        """One page of ``name``'s runs as ``(database id, run)``, newest first, and whether
        another page follows (see :func:`runs_page`)."""
        rows, more = runs_page(
            self.db, f"id, {_COLUMNS}", name, limit=limit, host=host, outcome=outcome, before=before
        )
        return [(int(row[0]), _row_to_run(row[1:])) for row in rows], more

    def output_by_key(self, name: str, key: int) -> str | None:
        """The output of ``name``'s run whose database id is ``key`` (``None``: none)."""
        rows = self.db.query("SELECT output FROM runs WHERE id = ? AND name = ?", (key, name))
        return rows[0][0] if rows else None

    def count(self, name: str | None = None) -> int:
        """How many runs are stored (of ``name``, or of every job)."""
        if name is None:
            rows = self.db.query("SELECT COUNT(*) FROM runs")
        else:
            rows = self.db.query("SELECT COUNT(*) FROM runs WHERE name = ?", (name,))
        return int(rows[0][0])


def _row_to_run(row: tuple[Any, ...]) -> Run:
    name, hostname, run_id, outcome, exit_code, started, completed, output, duration = row
    return Run(
        name=name,
        hostname=hostname,
        run_id=run_id,
        outcome=outcome,
        exit_code=exit_code,
        date_started=from_us(started),
        date_completed=from_us(completed) if completed is not None else None,
        output=output,
        timed=completed is None or duration is not None,  # NULL: a plain ping's, unknown
    )


def runs_page(
    db: Database,
    columns: str,
    name: str,
    *,
    limit: int,
    host: str | None = None,
    outcome: str | None = None,
    before: tuple[int, int] | None = None,
) -> tuple[list[tuple[Any, ...]], bool]:
    """One page of ``name``'s runs (``columns`` of each), newest first, and whether another
    page follows. ``before`` is the ``(started_us, id)`` of the previous page's last run:
    keyset pagination, so pages stay stable while new runs arrive."""
    where = ["name = ?"]
    params: list[object] = [name]
    if host is not None:
        where.append("hostname = ?")
        params.append(host)
    if outcome is not None:
        where.append("outcome = ?")
        params.append(outcome)
    if before is not None:
        where.append("(started_us < ? OR (started_us = ? AND id < ?))")
        params.extend([before[0], before[0], before[1]])
    rows = db.query(
        f"SELECT {columns} FROM runs WHERE {' AND '.join(where)}"
        " ORDER BY started_us DESC, id DESC LIMIT ?",
        (*params, limit + 1),
    )
    return rows[:limit], len(rows) > limit
