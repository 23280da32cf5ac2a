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
from dataclasses import dataclass
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
# keep_last-th latest is read only for the jobs whose oldest run is before the cutoff; the runs
# to delete are counted (a range of the same index) only for the jobs that have some: a prune
# with nothing to delete costs an index read instead of a DELETE per job. The CASE makes that
# order sure on both databases (the planner may not reorder an AND into it); MATERIALIZED
# keeps both databases from copying a subquery into each place that names its column.
_JOBS_WITH_OLD_RUNS = (
    "WITH seen AS MATERIALIZED (SELECT name, (SELECT MIN(started_us) FROM runs"
    " WHERE runs.name = hosts.name) AS oldest"
    " FROM (SELECT DISTINCT name FROM job_hosts WHERE first_seen_us < ?) AS hosts),"
    " old AS MATERIALIZED (SELECT name, oldest, CASE WHEN oldest < ? THEN (SELECT started_us"
    " FROM runs WHERE runs.name = seen.name ORDER BY started_us DESC LIMIT 1 OFFSET ?) END"
    " AS kept_from FROM seen)"
    " SELECT name, CASE WHEN kept_from < ? THEN kept_from ELSE ? END, (SELECT COUNT(*)"
    " FROM runs WHERE runs.name = old.name AND started_us < ? AND started_us < old.kept_from)"
    " FROM old WHERE oldest < kept_from ORDER BY name"
)

#: Jobs whose old runs one statement deletes together (when they fit in the batch).
GROUP = 500


@dataclass(frozen=True, slots=True)
class OldRuns:
    """A job's runs to delete: those started before ``before_us`` (the earlier of the cutoff
    and the start of its ``keep_last``-th latest run), ``count`` of them when read."""

    name: str
    before_us: int
    count: int


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

    def jobs_with_old_runs(self, cutoff: datetime, keep_last: int) -> list[OldRuns]:
        """The jobs that have runs to delete, by name, with how many: exactly the jobs whose
        runs started before the cutoff include some that are not among their ``keep_last``
        latest, read in one statement (a job is asked only for its oldest run, for its
        ``keep_last``-th latest when that oldest is before ``cutoff``, and counted only when it
        has runs to delete)."""
        cutoff_us = to_us(cutoff)
        params = (cutoff_us, cutoff_us, keep_last - 1, cutoff_us, cutoff_us, cutoff_us)
        no_jit = self.db.dialect.NO_JIT
        if no_jit is None:
            rows = self.db.query(_JOBS_WITH_OLD_RUNS, params)
        else:
            with self.db.transaction() as cur:
                cur.execute(no_jit)
                cur.execute(self.db.sql(_JOBS_WITH_OLD_RUNS), params)
                rows = cur.fetchall()
        return [OldRuns(name, int(before), int(count)) for name, before, count in rows]

    def delete_old_runs(
        self,
        jobs: list[OldRuns],
        cutoff: datetime,
        keep_last: int,
        *,
        batch: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Delete the old runs of ``jobs`` (as :meth:`jobs_with_old_runs` read them), at most
        ``batch`` rows per transaction: jobs whose counts fit in what is left of the batch go
        together, up to :data:`GROUP` a statement, each below its ``before_us``; a job that does
        not fit goes alone, ``LIMIT`` what is left, below its ``keep_last``-th latest run as it
        is then (several statements when it has more old runs than a batch). The number
        deleted. ``progress(jobs done, runs deleted so far)`` after each job.

        A run recorded meanwhile only moves a job's ``keep_last``-th latest run later, so a
        ``before_us`` read earlier never deletes a run that is among a job's latest."""
        one = self.db.sql(
            f"DELETE FROM runs WHERE id IN (SELECT id {_OLD_RUNS} ORDER BY started_us LIMIT ?)"
        )
        cutoff_us = to_us(cutoff)
        deleted = done = 0
        while done < len(jobs):
            with self.db.transaction() as cur:
                in_transaction = 0
                while done < len(jobs) and in_transaction < batch:
                    room = batch - in_transaction
                    group: list[OldRuns] = []
                    planned = 0
                    for job in jobs[done : done + GROUP]:
                        if planned + job.count > room:
                            break
                        group.append(job)
                        planned += job.count
                    if group:
                        cur.execute(self.db.sql(_delete_below(len(group))), _below(group))
                        reached = deleted + in_transaction
                        in_transaction += cur.rowcount
                        running = 0
                        for job in group:
                            done += 1
                            running += job.count
                            if progress is not None:
                                last = done == len(jobs) or job is group[-1]
                                ran = cur.rowcount if last else min(running, cur.rowcount)
                                progress(done, reached + ran)
                        continue
                    name = jobs[done].name
                    cur.execute(one, (name, cutoff_us, name, keep_last - 1, room))
                    in_transaction += cur.rowcount
                    if cur.rowcount < room:  # this job is done
                        done += 1
                        if progress is not None:
                            progress(done, deleted + in_transaction)
            deleted += in_transaction
        return deleted


def _delete_below(jobs: int) -> str:
    """The ``DELETE`` of the runs of ``jobs`` jobs each started before its own instant
    (parameters: name, instant, name, instant, ...)."""
    below = ", ".join(["(?, ?)"] * jobs)
    # VALUES names its columns column1, column2 on both databases; no WITH in front of the
    # DELETE, which Python's sqlite3 would not count in rowcount.
    return (
        "DELETE FROM runs WHERE id IN (SELECT runs.id FROM (VALUES "
        f"{below}) AS old JOIN runs ON runs.name = old.column1"
        " AND runs.started_us < old.column2)"
    )


def _below(jobs: list[OldRuns]) -> list[object]:
    return [value for job in jobs for value in (job.name, job.before_us)]
