"""Deleting old runs (the statements of :func:`cronwatch.retention.prune`, which decides what
is old). A run is deleted when it started before the cutoff, unless it is one of the latest
``keep_last`` runs of its job. The per-host summaries the health checks read are kept by
triggers on insert and never read the deleted rows, so a status is the same after.

Deletes go job by job, at most ``batch`` rows per transaction: a large first prune never holds
SQLite's write lock or a PostgreSQL transaction for long, and recording goes on meanwhile.
Idempotent: several processes may prune at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cronwatch.storage.connection import Database
from cronwatch.timeutil import to_us

# The runs of one job started before the cutoff and before its keep_last-th latest run (which
# stays, with every run after it). Fewer than keep_last runs: the subquery is NULL, and
# nothing compares below NULL.
_OLD_RUNS = (
    "FROM runs WHERE name = ? AND started_us < ? AND started_us < (SELECT started_us FROM runs"
    " WHERE name = ? ORDER BY started_us DESC LIMIT 1 OFFSET ?)"
)

# A job has runs to delete exactly when its oldest run is one: it started before the cutoff
# and before the keep_last-th latest (the oldest run is the first both ways). Asking the oldest
# is one descent of ix_runs_name_started per job (a job first seen before the cutoff), and the
# keep_last-th latest is read only for the jobs whose oldest run is before the cutoff: a prune
# with nothing to delete costs an index read instead of a DELETE per job. The CASE makes that
# order sure on both databases (the planner may not reorder an AND into it); MATERIALIZED
# keeps both databases from copying the oldest's subquery into each place that names it.
_JOBS_WITH_OLD_RUNS = (
    "WITH seen AS MATERIALIZED (SELECT name, (SELECT MIN(started_us) FROM runs"
    " WHERE runs.name = hosts.name) AS oldest"
    " FROM (SELECT DISTINCT name FROM job_hosts WHERE first_seen_us < ?) AS hosts)"
    " SELECT name FROM seen WHERE CASE WHEN oldest < ? THEN oldest < (SELECT started_us"
    " FROM runs WHERE runs.name = seen.name ORDER BY started_us DESC LIMIT 1 OFFSET ?)"
    " ELSE FALSE END ORDER BY name"
)


class PruneStore:
    """The prunable runs of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def jobs_first_seen_before(self, cutoff: datetime) -> int:
        """How many jobs were first seen before ``cutoff``: only they can have runs to delete,
        and :meth:`jobs_with_old_runs` looks at each of them."""
        rows = self.db.query(
            "SELECT COUNT(DISTINCT name) FROM job_hosts WHERE first_seen_us < ?", (to_us(cutoff),)
        )
        return int(rows[0][0])

    def jobs_with_old_runs(self, cutoff: datetime, keep_last: int) -> list[str]:
        """The jobs that have runs to delete, by name: exactly those for which
        :meth:`count_old_runs` is not 0, read in one statement (a job is asked only for its
        oldest run, and for its ``keep_last``-th latest when that oldest is before ``cutoff``)."""
        params = (to_us(cutoff), to_us(cutoff), keep_last - 1)
        no_jit = self.db.dialect.NO_JIT
        if no_jit is None:
            rows = self.db.query(_JOBS_WITH_OLD_RUNS, params)
        else:
            with self.db.transaction() as cur:
                cur.execute(no_jit)
                cur.execute(self.db.sql(_JOBS_WITH_OLD_RUNS), params)
                rows = cur.fetchall()
        return [row[0] for row in rows]

    def count_old_runs(self, name: str, cutoff: datetime, keep_last: int) -> int:
        """How many runs of ``name`` :meth:`delete_old_runs` would delete."""
        params = (name, to_us(cutoff), name, keep_last - 1)
        return int(self.db.query("SELECT COUNT(*) " + _OLD_RUNS, params)[0][0])

    def delete_old_runs(
        self,
        names: list[str],
        cutoff: datetime,
        keep_last: int,
        *,
        batch: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Delete the old runs of ``names``, at most ``batch`` rows per transaction (the jobs
        with a few old runs share one; a job with many takes several); the number deleted.
        ``progress(jobs done, runs deleted so far)`` after each job."""
        delete = self.db.sql(
            f"DELETE FROM runs WHERE id IN (SELECT id {_OLD_RUNS} ORDER BY started_us LIMIT ?)"
        )
        cutoff_us = to_us(cutoff)
        deleted = done = 0
        while done < len(names):
            with self.db.transaction() as cur:
                in_transaction = 0
                while done < len(names) and in_transaction < batch:
                    room = batch - in_transaction
                    name = names[done]
                    cur.execute(delete, (name, cutoff_us, name, keep_last - 1, room))
                    in_transaction += cur.rowcount
                    if cur.rowcount < room:  # this job is done
                        done += 1
                        if progress is not None:
                            progress(done, deleted + in_transaction)
            deleted += in_transaction
        return deleted
