"""What writing a run is, on every database: the statements they share, their parameters, and
what a write returns. One write path for one run and for a batch of thousands: the library's
:meth:`RunStore.save <cronwatch.storage.runs.RunStore.save>` is a batch of one, and the
server's writer threads write their batches with the same statements
(:meth:`Dialect.write_runs <cronwatch.storage.dialect.Dialect.write_runs>`).

Semantics, all idempotent on ``(name, run_id)``:

- a start (no completion) inserts a running run; the same start again changes nothing;
- a finish completes the running run with its run id, or is inserted whole when no start was
  stored; the same finish again changes nothing;
- a finish with ``pair_latest`` (a ping without ``rid``) completes the latest running run of
  the same job on the same host, or, when none is running, is inserted as given (the ping path
  gives it zero length). On PostgreSQL the candidate is taken ``FOR UPDATE SKIP LOCKED``, so
  two such finishes racing in two server processes complete two different runs, never one run
  twice.

Every statement ends in ``RETURNING``, so that the statsd timing uses the duration the
database computed (a finish completing a stored start is timed from that start), and so that a
replay (nothing returned) is told from a new record.

How each database writes a batch is its dialect's (:meth:`Dialect.write_runs
<cronwatch.storage.dialect.Dialect.write_runs>`). SQLite runs in-process: one statement after
another costs microseconds. PostgreSQL is a round trip away, and on a machine busy serving pings
every round trip is long: there the plain pings of a batch (no run id, nothing running for
their job and host, a good key: nearly all of them) go in through one statement in autocommit
that checks the keys and the pairing itself (``PostgreSQL.INSERT_UNPAIRED``); what is left
(starts, finishes to pair, refusals) is written in one transaction with one ``executemany``
per run of statements of a kind, pipelined by psycopg.

A leaf module (no connection, no dialect): the dialects build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cronwatch.model import Run
from cronwatch.timeutil import to_us


@dataclass(frozen=True, slots=True)
class Written:
    """The outcome of one write: ``new`` is false when the database had it already (a
    replay); ``duration_us`` is the stored duration of a finished run."""

    new: bool
    duration_us: int | None = None


@dataclass(frozen=True, slots=True)
class Unpaired:
    """A finish without run id offered to :meth:`RunStore.insert_unpaired
    <cronwatch.storage.runs.RunStore.insert_unpaired>`: ``key_hash`` is the digest of the key
    it came with (``None``: already checked), ``scopes`` the key scopes that may write it."""

    run: Run
    key_hash: str | None
    scopes: tuple[str, ...]


#: One ``(run, pair_latest)`` to write.
Write = tuple[Run, bool]

INSERT_STARTED = (
    "INSERT INTO runs (name, hostname, run_id, outcome, started_us) "
    "VALUES (?, ?, ?, 'running', ?) ON CONFLICT (name, run_id) DO NOTHING RETURNING started_us"
)
#: The upsert of a finish: completes the running row its start left, never a finished one.
#: A finish stamped before its start ends the run at its start, having taken no time: the two
#: pings of one run can reach two servers, each stamping its ping with its own clock, a few
#: milliseconds apart (a negative runtime would be no runtime at all).
UPSERT_SET = (
    " ON CONFLICT (name, run_id) DO UPDATE SET outcome = excluded.outcome,"
    " exit_code = excluded.exit_code,"
    " completed_us = CASE WHEN excluded.completed_us < runs.started_us THEN runs.started_us"
    " ELSE excluded.completed_us END,"
    " duration_us = CASE WHEN excluded.completed_us < runs.started_us THEN 0"
    " ELSE excluded.completed_us - runs.started_us END, output = excluded.output"
    " WHERE runs.outcome = 'running' RETURNING duration_us"
)
UPSERT_FINISHED = (
    "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us, completed_us,"
    " duration_us, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" + UPSERT_SET
)
#: Completes the latest running run of a job on a host, never before its start (as
#: :data:`UPSERT_SET`). ``{hint}`` and ``{lock}`` are the dialects' ways to pick the candidate
#: (an index hint, a row lock), ``{later}`` their function of the larger of two values.
COMPLETE_LATEST = (
    "UPDATE runs SET outcome = ?, exit_code = ?, completed_us = {later}(?, started_us),"
    " duration_us = {later}(?, started_us) - started_us, output = ?"
    " WHERE id = (SELECT id FROM runs{hint} WHERE name = ? AND hostname = ?"
    " AND outcome = 'running' ORDER BY started_us DESC, id DESC LIMIT 1{lock})"
    " AND outcome = 'running' RETURNING duration_us"
)


def started_params(run: Run) -> tuple[Any, ...]:
    """The parameters of :data:`INSERT_STARTED`."""
    return (run.name, run.hostname, run.run_id, to_us(run.date_started))


def finished_params(run: Run) -> tuple[Any, ...]:
    """The parameters of :data:`UPSERT_FINISHED` (the row as inserted)."""
    started = to_us(run.date_started)
    assert run.date_completed is not None
    completed = to_us(run.date_completed)
    return (
        run.name,
        run.hostname,
        run.run_id,
        run.outcome,
        run.exit_code,
        started,
        completed,
        completed - started if run.timed else None,
        run.output,
    )


def pair_params(run: Run) -> tuple[Any, ...]:
    """The parameters of :data:`COMPLETE_LATEST`."""
    assert run.date_completed is not None
    completed = to_us(run.date_completed)
    return (run.outcome, run.exit_code, completed, completed, run.output, run.name, run.hostname)


def written_from(run: Run, row: Any) -> Written:
    """The :class:`Written` of ``run`` from the row its statement returned (``None``: none)."""
    if row is None:
        return Written(False)
    duration = row[0] if run.date_completed is not None else None
    return Written(True, int(duration) if duration is not None else None)
