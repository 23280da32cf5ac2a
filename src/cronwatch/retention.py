"""Retention: old runs and events are deleted, what a status needs is kept.

A run is deleted when it started before the cutoff (``now - runs``), unless it is one of the
latest :data:`KEEP_LAST_RUNS` runs of its job: a job that runs monthly keeps enough history
for its learned baselines and ``last_activity`` whatever its age. The per-host summaries that
the health checks read (counters, last start, last success, ...) are kept by triggers on
insert and never read the deleted rows, so a status is the same before and after pruning.

Events (the status changes behind alerts) older than ``events`` are deleted too, except those
with a delivery still pending.

The deletes go job by job, at most :data:`BATCH` rows per transaction: a large first prune
never holds SQLite's write lock or a PostgreSQL transaction for long, and recording goes on
meanwhile. Pruning is idempotent, so several processes (alert
loops on one PostgreSQL) may run it at once.

Configured in the file's ``[retention]`` table::

    [retention]
    runs = "90d"          # "0" keeps every run
    keep_last = 50        # per job, whatever their age
    events = "90d"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cronwatch.baseline import BASELINE_WINDOW
from cronwatch.durations import format_duration
from cronwatch.errors import InvalidInput
from cronwatch.timeutil import require_aware, to_us

if TYPE_CHECKING:
    from cronwatch.storage.connection import Database

#: Runs older than this are deleted by default.
DEFAULT_KEEP_RUNS = timedelta(days=90)
#: Events older than this are deleted by default.
DEFAULT_KEEP_EVENTS = timedelta(days=90)
#: The latest runs of each job kept whatever their age: what its baselines are learned from.
KEEP_LAST_RUNS = BASELINE_WINDOW
#: A retention shorter than this is refused: ``runs = 30`` means 30 seconds, never the intent.
MIN_RETENTION = timedelta(days=1)
#: Rows deleted per statement.
BATCH = 5_000


@dataclass(frozen=True)
class Retention:
    """How long runs and events are kept. ``runs`` ``None``: every run is kept."""

    runs: timedelta | None = DEFAULT_KEEP_RUNS
    keep_last: int = KEEP_LAST_RUNS
    events: timedelta = DEFAULT_KEEP_EVENTS

    def __post_init__(self) -> None:
        if isinstance(self.keep_last, bool) or not isinstance(self.keep_last, int):
            raise InvalidInput(f"keep_last must be a whole number, not {self.keep_last!r}")
        problem = retention_problem(self.runs, self.keep_last, self.events)
        if problem is not None:
            raise InvalidInput(f"retention {problem[0]} {problem[1]}")


def retention_problem(
    runs: timedelta | None, keep_last: int, events: timedelta
) -> tuple[str, str] | None:
    """The first setting out of range, as ``(setting, what is wrong)``, or ``None``."""
    for name, kept in (("runs", runs), ("events", events)):
        if kept is not None and kept < MIN_RETENTION:
            return name, f"must be at least 1 day, not {format_duration(kept)}"
    if keep_last < 1:
        return "keep_last", f"must be at least 1, not {keep_last}"
    return None


@dataclass(frozen=True)
class PruneReport:
    """What a prune deleted (or, dry, would delete)."""

    cutoff: datetime | None  # None: runs are kept forever
    jobs_examined: int
    runs: int
    events: int
    dry_run: bool = False


#: ``progress(jobs done, jobs to examine, runs deleted so far)``
Progress = Callable[[int, int, int], None]


def prune(
    db: Database,
    retention: Retention,
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PruneReport:
    """Delete the runs and events ``retention`` no longer keeps at ``now`` (with ``dry_run``,
    only count them); see the module docstring for what is kept."""
    now = require_aware(now, "now")
    cutoff = None if retention.runs is None else now - retention.runs
    jobs = runs = 0
    if cutoff is not None:
        jobs, runs = _prune_runs(db, cutoff, retention.keep_last, dry_run, progress)
    events = _prune_events(db, now - retention.events, dry_run)
    return PruneReport(cutoff, jobs, runs, events, dry_run)


def _prune_runs(
    db: Database, cutoff: datetime, keep_last: int, dry_run: bool, progress: Progress | None
) -> tuple[int, int]:
    # Only jobs first seen before the cutoff can have runs to delete: for a fleet of young
    # jobs the prune is one query.
    names = [
        row[0]
        for row in db.query(
            "SELECT name FROM job_hosts GROUP BY name HAVING MIN(first_seen_us) < ? ORDER BY name",
            (to_us(cutoff),),
        )
    ]
    if dry_run:
        counted = 0
        for done, name in enumerate(names, 1):
            params = (name, to_us(cutoff), name, keep_last - 1)
            counted += int(db.query("SELECT COUNT(*) " + _OLD_RUNS, params)[0][0])
            if progress is not None:
                progress(done, len(names), counted)
        return len(names), counted
    return len(names), _delete_runs(db, names, to_us(cutoff), keep_last, progress)


# The runs of one job started before the cutoff and before its keep_last-th latest run (which
# stays, with every run after it). Fewer than keep_last runs: the subquery is NULL, and
# nothing compares below NULL.
_OLD_RUNS = (
    "FROM runs WHERE name = ? AND started_us < ? AND started_us < (SELECT started_us FROM runs"
    " WHERE name = ? ORDER BY started_us DESC LIMIT 1 OFFSET ?)"
)


def _delete_runs(
    db: Database, names: list[str], cutoff_us: int, keep_last: int, progress: Progress | None
) -> int:
    """Delete the old runs of ``names``, at most :data:`BATCH` rows per transaction (the jobs
    with a few old runs share one; a job with many takes several)."""
    delete = db.sql(
        f"DELETE FROM runs WHERE id IN (SELECT id {_OLD_RUNS} ORDER BY started_us LIMIT ?)"
    )
    deleted = done = 0
    while done < len(names):
        with db.transaction() as cur:
            in_transaction = 0
            while done < len(names) and in_transaction < BATCH:
                room = BATCH - in_transaction
                name = names[done]
                cur.execute(delete, (name, cutoff_us, name, keep_last - 1, room))
                in_transaction += cur.rowcount
                if cur.rowcount < room:  # this job is done
                    done += 1
                    if progress is not None:
                        progress(done, len(names), deleted + in_transaction)
        deleted += in_transaction
    return deleted


def _prune_events(db: Database, before: datetime, dry_run: bool) -> int:
    from cronwatch.alerts.store import AlertStore

    store = AlertStore(db)
    return store.count_prunable_events(before) if dry_run else store.prune_events(before)
