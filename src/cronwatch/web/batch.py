"""Writing a batch of runs inside one transaction: the SQL of the server's write path.

Semantics, all idempotent on ``(name, run_id)`` like :meth:`RunStore.save` (the same upsert,
with ``RETURNING`` so that the statsd timing uses the duration the database computed: a finish
completing a stored start is timed from that start):

- a start (no completion) inserts a running run; the same start again changes nothing;
- a finish completes the running run with its run id, or is inserted whole when no start was
  stored; the same finish again changes nothing;
- a finish with ``pair_latest`` (a ping without ``rid``) completes the latest running run of
  the same job on the same host, or, when none is running, is inserted as given (the ping path
  gives it zero length). On PostgreSQL the candidate is taken ``FOR UPDATE SKIP LOCKED``, so
  two such finishes racing in two server processes complete two different runs, never one run
  twice.

SQLite runs in-process: one statement after another costs microseconds. PostgreSQL is a round
trip away, and on a machine busy serving pings every round trip is long: there the plain pings
of a batch (no run id, nothing running for their job and host, a good key: nearly all of them)
go in through :func:`insert_unpaired`, one statement in autocommit that checks the keys and the
pairing itself; what is left (starts, finishes to pair, refusals) is written in one transaction
with one ``executemany`` per run of statements of a kind, pipelined by psycopg.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cronwatch.model import Run
from cronwatch.storage.connection import Cursor, Database
from cronwatch.timeutil import to_us


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of one write: ``new`` is false when the database had it already (a
    replay); ``duration_us`` is the stored duration of a finished run."""

    new: bool
    duration_us: int | None = None


_INSERT_STARTED = (
    "INSERT INTO runs (name, hostname, run_id, outcome, started_us) "
    "VALUES (?, ?, ?, 'running', ?) ON CONFLICT (name, run_id) DO NOTHING RETURNING started_us"
)
_UPSERT_SET = (
    " ON CONFLICT (name, run_id) DO UPDATE SET outcome = excluded.outcome,"
    " exit_code = excluded.exit_code, completed_us = excluded.completed_us,"
    " duration_us = excluded.completed_us - runs.started_us, output = excluded.output"
    " WHERE runs.outcome = 'running' RETURNING duration_us"
)
_UPSERT_FINISHED = (
    "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us, completed_us,"
    " duration_us, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" + _UPSERT_SET
)
_COMPLETE_LATEST = (
    "UPDATE runs SET outcome = ?, exit_code = ?, completed_us = ?, duration_us = ? - started_us,"
    " output = ? WHERE id = (SELECT id FROM runs{hint} WHERE name = ? AND hostname = ?"
    " AND outcome = 'running' ORDER BY started_us DESC, id DESC LIMIT 1{lock})"
    " AND outcome = 'running' RETURNING duration_us"
)
# SQLite must be told to take the candidate from the small partial index of running runs: with
# ORDER BY started_us it would rather walk every run of the job in ix_runs_name_started.
_COMPLETE_LATEST_SQLITE = _COMPLETE_LATEST.format(hint=" INDEXED BY ix_runs_running", lock="")

# PostgreSQL: pair with the latest running run, else insert, in one statement. The casts are
# needed because parameters in a SELECT list have no type to be inferred from.
_FINISH_LATEST_POSTGRESQL = (
    "WITH done AS ("
    + _COMPLETE_LATEST.format(hint="", lock=" FOR UPDATE SKIP LOCKED").replace(
        "outcome = ?, exit_code = ?, completed_us = ?, duration_us = ? - started_us",
        "outcome = ?::text, exit_code = ?::int, completed_us = ?::bigint,"
        " duration_us = ?::bigint - started_us",
    )
    + "), fresh AS (INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
    " completed_us, duration_us, output) SELECT ?::text, ?::text, ?::text, ?::text, ?::int,"
    " ?::bigint, ?::bigint, ?::bigint, ?::text WHERE NOT EXISTS (SELECT 1 FROM done)"
    + _UPSERT_SET
    + ") SELECT duration_us FROM done UNION ALL SELECT duration_us FROM fresh"
).replace("?", "%s")


def lookup_keys(db: Database, cur: Cursor, hashes: Iterable[str]) -> dict[str, tuple[str, Any]]:
    """``{token_hash: (scope, revoked_us)}`` of the stored keys among ``hashes``."""
    wanted = sorted(set(hashes))
    if not wanted:
        return {}
    marks = ", ".join("?" * len(wanted))
    cur.execute(
        db.sql(f"SELECT token_hash, scope, revoked_us FROM api_keys WHERE token_hash IN ({marks})"),
        wanted,
    )
    return {row[0]: (row[1], row[2]) for row in cur.fetchall()}


def write_runs(db: Database, cur: Cursor, writes: Sequence[tuple[Run, bool]]) -> list[Written]:
    """Write each ``(run, pair_latest)`` in the open transaction of ``cur``, in order."""
    if db.dialect == "postgresql":
        return _write_postgresql(cur, writes)
    return [_write_sqlite(cur, run, pair_latest) for run, pair_latest in writes]


def _finished_params(run: Run) -> tuple[Any, ...]:
    started = to_us(run.date_started)
    assert run.date_completed is not None
    completed = to_us(run.date_completed)
    return (run.name, run.hostname, run.run_id, run.outcome, run.exit_code, started, completed,
            completed - started, run.output)  # fmt: skip


def _write_sqlite(cur: Cursor, run: Run, pair_latest: bool) -> Written:
    if run.date_completed is None:
        cur.execute(_INSERT_STARTED, (run.name, run.hostname, run.run_id, to_us(run.date_started)))
        return Written(bool(cur.fetchall()))
    if pair_latest:
        cur.execute(_COMPLETE_LATEST_SQLITE, _pair_params(run))
        rows = cur.fetchall()
        if rows:
            return Written(True, int(rows[0][0]))
    cur.execute(_UPSERT_FINISHED, _finished_params(run))
    rows = cur.fetchall()
    return Written(True, int(rows[0][0])) if rows else Written(False)


def _write_postgresql(cur: Cursor, writes: Sequence[tuple[Run, bool]]) -> list[Written]:
    # Consecutive writes of one kind go out as one executemany (pipelined by psycopg, with
    # RETURNING): far less Python per write than a statement each, in the writes' order.
    written: list[Written] = []
    for statement, group in itertools.groupby(writes, key=_postgresql_statement):
        runs = [run for run, _ in group]
        params = [_postgresql_params(statement, run) for run in runs]
        cur.executemany(statement, params, returning=True)  # type: ignore[attr-defined]
        for run in runs:
            row = cur.fetchone()
            completed = row is not None and run.date_completed is not None
            written.append(Written(row is not None, int(row[0]) if completed else None))
            cur.nextset()  # type: ignore[attr-defined]
    return written


@dataclass(frozen=True, slots=True)
class Unpaired:
    """A finish without run id offered to :func:`insert_unpaired`: ``key_hash`` is the digest
    of the key it came with (``None``: already checked), ``scopes`` the key scopes that may
    write it."""

    run: Run
    key_hash: str | None
    scopes: tuple[str, ...]


# A finish without run id, for a job and host with nothing running and with a key that may
# write it, is inserted as given; anything else is left for the caller (pairing, refusals).
# One statement in autocommit for all of them: the key check, the pairing check and the
# insert in one round trip, where a transaction of separate statements costs five, and each
# round trip is long on a machine busy serving the pings.
_INSERT_UNPAIRED = (
    "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us, completed_us,"
    " duration_us, output) SELECT u.name, u.hostname, u.run_id, u.outcome, u.exit_code,"
    " u.started_us, u.completed_us, u.duration_us, u.output FROM ("
    " SELECT e->>0 AS name, e->>1 AS hostname, e->>2 AS run_id, e->>3 AS outcome,"
    " (e->>4)::int AS exit_code, (e->>5)::bigint AS started_us, (e->>6)::bigint AS completed_us,"
    " (e->>7)::bigint AS duration_us, e->>8 AS output, e->>9 AS key_hash, e->>10 AS scopes,"
    " position FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS t(e, position)) AS u"
    " WHERE (u.key_hash IS NULL OR EXISTS (SELECT 1 FROM api_keys k"
    " WHERE k.token_hash = u.key_hash AND k.revoked_us IS NULL"
    " AND k.scope = ANY(string_to_array(u.scopes, ','))))"
    " AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.outcome = 'running' AND r.name = u.name"
    " AND r.hostname = u.hostname)"
    # Rows go in by (job, host), the order every writer takes the summaries' row locks in.
    # No ON CONFLICT: the run ids are fresh, and its check costs an index probe per row.
    " ORDER BY u.position RETURNING run_id, duration_us"
)


def _job_host(run: Run) -> tuple[str, str]:
    return run.name, run.hostname


def insert_unpaired(db: Database, offered: Sequence[Unpaired]) -> dict[int, Written]:
    """Insert, on PostgreSQL, those of ``offered`` that need no pairing and no refusal (see
    ``_INSERT_UNPAIRED``): ``{index in offered: Written}`` for the ones stored. The others
    are untouched, to be written the general way. Offer only runs with distinct run ids, and
    no finish whose job and host also has a start in the same batch (it may pair with it).

    A start stored by another connection while this runs is paired with the next finish
    instead: a window of milliseconds between two pings of one job. When one of the run ids
    is stored already (a batch written again), nothing is stored and ``{}`` returned.
    """
    if not offered:
        return {}
    order = sorted(range(len(offered)), key=lambda i: _job_host(offered[i].run))
    # One JSON document for the whole batch: psycopg adapts arrays element by element in
    # Python, several times slower than json.dumps and PostgreSQL's JSON parser.
    rows = [
        (*_finished_params(offered[i].run), offered[i].key_hash, ",".join(offered[i].scopes))
        for i in order
    ]
    document = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    from psycopg.errors import UniqueViolation

    try:
        stored = {row[0]: int(row[1]) for row in db.query(_INSERT_UNPAIRED, (document,))}
    except UniqueViolation:
        # A run id stored already: this batch is being written again after a failure that
        # hid its commit. Nothing was written now; the general way knows replays.
        return {}
    # RETURNING comes in no promised order: match rows by run id.
    return {
        index: Written(True, stored[item.run.run_id])
        for index, item in enumerate(offered)
        if item.run.run_id in stored
    }


def _postgresql_params(statement: str, run: Run) -> tuple[Any, ...]:
    if statement is _FINISH_LATEST_POSTGRESQL:
        return _pair_params(run) + _finished_params(run)
    if statement is _INSERT_STARTED_POSTGRESQL:
        return (run.name, run.hostname, run.run_id, to_us(run.date_started))
    return _finished_params(run)


_INSERT_STARTED_POSTGRESQL = _INSERT_STARTED.replace("?", "%s")
_UPSERT_FINISHED_POSTGRESQL = _UPSERT_FINISHED.replace("?", "%s")


def _postgresql_statement(write: tuple[Run, bool]) -> str:
    run, pair_latest = write
    if run.date_completed is None:
        return _INSERT_STARTED_POSTGRESQL
    return _FINISH_LATEST_POSTGRESQL if pair_latest else _UPSERT_FINISHED_POSTGRESQL


def _pair_params(run: Run) -> tuple[Any, ...]:
    assert run.date_completed is not None
    completed = to_us(run.date_completed)
    return (run.outcome, run.exit_code, completed, completed, run.output, run.name, run.hostname)
