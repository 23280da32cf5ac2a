"""Writing and reading runs: the recording hot path.

Every write is an idempotent upsert keyed by ``(name, run_id)``: a finish completes the running
row its start left, a run whose start was never stored is inserted whole, and the same record
sent twice (a spool replayed after a crash, a client retrying) is stored once.
"""

from __future__ import annotations

from typing import Any

from cronwatch.model import Run
from cronwatch.storage.connection import Database
from cronwatch.timeutil import from_us, to_us

_COLUMNS = "name, hostname, run_id, outcome, exit_code, started_us, completed_us, output"

_INSERT_STARTED = (
    "INSERT INTO runs (name, hostname, run_id, outcome, started_us) "
    "VALUES (?, ?, ?, 'running', ?) ON CONFLICT (name, run_id) DO NOTHING"
)

_UPSERT_FINISHED = (
    "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us, completed_us,"
    " duration_us, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (name, run_id) DO UPDATE SET outcome = excluded.outcome,"
    " exit_code = excluded.exit_code, completed_us = excluded.completed_us,"
    " duration_us = excluded.completed_us - runs.started_us, output = excluded.output"
    " WHERE runs.outcome = 'running'"
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

    def save(self, run: Run) -> bool:
        """Store ``run``; ``True`` if this call stored something new, ``False`` if the database
        already had it (a replay)."""
        started = to_us(run.date_started)
        if run.date_completed is None:
            params: tuple[Any, ...] = (run.name, run.hostname, run.run_id, started)
            return self.db.execute(_INSERT_STARTED, params) > 0
        completed = to_us(run.date_completed)
        params = (
            run.name,
            run.hostname,
            run.run_id,
            run.outcome,
            run.exit_code,
            started,
            completed,
            completed - started,
            run.output,
        )
        return self.db.execute(_UPSERT_FINISHED, params) > 0

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

    def count(self, name: str | None = None) -> int:
        """How many runs are stored (of ``name``, or of every job)."""
        if name is None:
            rows = self.db.query("SELECT COUNT(*) FROM runs")
        else:
            rows = self.db.query("SELECT COUNT(*) FROM runs WHERE name = ?", (name,))
        return int(rows[0][0])


def _row_to_run(row: tuple[Any, ...]) -> Run:
    name, hostname, run_id, outcome, exit_code, started, completed, output = row
    return Run(
        name=name,
        hostname=hostname,
        run_id=run_id,
        outcome=outcome,
        exit_code=exit_code,
        date_started=from_us(started),
        date_completed=from_us(completed) if completed is not None else None,
        output=output,
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
