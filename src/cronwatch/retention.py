"""Retention: old runs and events are deleted, what a status needs is kept.

A run is deleted when it started before the cutoff (``now - runs``), unless it is one of the
latest ``keep_last`` runs of its job: a job that runs monthly keeps enough history
for its learned baselines and ``last_activity`` whatever its age. The per-host summaries that
the health checks read (counters, last start, last success, ...) are kept by triggers on
insert and never read the deleted rows, so a status is the same before and after pruning.

Events (the status changes behind alerts) older than ``events`` are deleted too, except those
with a delivery still pending.

The jobs with runs to delete are found first, in one read of each job's oldest run (and of
its ``keep_last``-th latest when the oldest is old): a prune with nothing to delete costs that
read, not a statement per job. The deletes then go job by job, at most :data:`BATCH` rows per
transaction: a large first prune never holds SQLite's write lock or a PostgreSQL transaction
for long, and recording goes on meanwhile. Pruning is idempotent, so several processes may run
it at once (alert loops sharing a database take turns: one prunes each hour).

The settings are a :class:`~cronwatch.specs.Retention` (:mod:`cronwatch.specs.retention`:
defaults and limits), from the file's ``[retention]`` table::

    [retention]
    runs = "90d"          # "0" keeps every run
    keep_last = 50        # per job, whatever their age
    events = "90d"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cronwatch.specs.retention import Retention
from cronwatch.timeutil import require_aware

if TYPE_CHECKING:
    from cronwatch.storage.connection import Database

#: Rows deleted per statement.
BATCH = 5_000


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
    from cronwatch.storage.prune import PruneStore

    store = PruneStore(db)
    examined = store.jobs_first_seen_before(cutoff)
    jobs = store.jobs_with_old_runs(cutoff, keep_last) if examined else []
    if dry_run:
        counted = 0
        for done, job in enumerate(jobs, 1):
            counted += job.count
            if progress is not None:
                progress(done, len(jobs), counted)
        return examined, counted
    report = None if progress is None else lambda done, runs: progress(done, len(jobs), runs)
    return examined, store.delete_old_runs(jobs, cutoff, keep_last, batch=BATCH, progress=report)


def _prune_events(db: Database, before: datetime, dry_run: bool) -> int:
    from cronwatch.storage.alerts import EventStore

    store = EventStore(db)
    return store.count_prunable_events(before) if dry_run else store.prune_events(before)
