"""What the dashboard reads of the ``runs`` and ``job_hosts`` tables, each one query.

The statuses themselves come from :func:`cronwatch.health.service.job_statuses` (a fixed
number of queries). What it does not carry, the recent runtimes behind the sparklines, comes
from :func:`recent_runs`: one query for every job at once, walking the
``(name, started_us)`` index backwards for each job, so its cost follows the number of jobs
and not the length of their history. Everything else here reads one job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cronwatch.model import Outcome
from cronwatch.storage.connection import Database
from cronwatch.storage.runs import runs_page as storage_runs_page
from cronwatch.timeutil import from_us

#: Runs per sparkline on the overview.
SPARK_RUNS = 20
#: Runs in a job page's chart (the latest ones).
CHART_RUNS = 500
#: Runs per page of a job page's table.
TABLE_RUNS = 30


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One run as the charts draw it. ``duration`` is ``None`` while it runs."""

    started: datetime
    duration: timedelta | None
    outcome: Outcome
    hostname: str = ""
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as the runs table shows it; the output itself is read on demand."""

    id: int
    hostname: str
    run_id: str
    outcome: Outcome
    exit_code: int | None
    started: datetime
    completed: datetime | None
    duration: timedelta | None
    output_length: int


@dataclass(frozen=True, slots=True)
class HostTotals:
    """A job's counters on one host (``job_hosts``; they survive pruning of old runs)."""

    hostname: str
    runs_total: int
    failures_total: int
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class RunOutput:
    """One run with the tail of its output."""

    id: int
    name: str
    hostname: str
    outcome: Outcome
    exit_code: int | None
    started: datetime
    completed: datetime | None
    output: str | None


def _duration(value: int | None) -> timedelta | None:
    return timedelta(microseconds=value) if value is not None else None


def recent_runs(
    db: Database, names: Sequence[str] | None = None, *, per_job: int = SPARK_RUNS
) -> dict[str, list[RunPoint]]:
    """The latest ``per_job`` finished runs of every job (or of ``names``), oldest first, in
    one query. The names travel as one parameter (an array, a JSON list): the statement's text
    is the same for every selection."""
    if names is not None and not names:
        return {}
    # The statement differs per database (LATERAL where there is one): the dialect's.
    rows = db.query(*db.dialect.recent_runs(names, per_job))
    by_job: dict[str, list[RunPoint]] = defaultdict(list)
    for name, started, duration, outcome in rows:
        by_job[name].append(RunPoint(from_us(started), _duration(duration), outcome))
    for name, points in by_job.items():
        points.sort(key=lambda point: point.started)
        if len(points) > per_job:
            by_job[name] = points[-per_job:]
    return by_job


def chart_runs(db: Database, name: str, *, limit: int = CHART_RUNS) -> list[RunPoint]:
    """The latest ``limit`` runs of ``name`` (running ones too), oldest first."""
    rows = db.query(
        "SELECT hostname, outcome, exit_code, started_us, duration_us FROM runs "
        "WHERE name = ? ORDER BY started_us DESC LIMIT ?",
        (name, limit),
    )
    points = [
        RunPoint(from_us(started), _duration(duration), outcome, hostname, exit_code)
        for hostname, outcome, exit_code, started, duration in rows
    ]
    points.reverse()
    return points


def runs_page(
    db: Database,
    name: str,
    *,
    host: str | None = None,
    before: tuple[int, int] | None = None,
    limit: int = TABLE_RUNS,
) -> tuple[list[RunRow], tuple[int, int] | None]:
    """One page of ``name``'s runs, newest first, and the cursor of the next page (``None`` on
    the last). The cursor is ``(started_us, id)`` of the page's last row: keyset pagination,
    stable while new runs arrive."""
    rows, more = storage_runs_page(
        db,
        "id, hostname, run_id, outcome, exit_code, started_us, completed_us, duration_us,"
        " LENGTH(output)",
        name,
        limit=limit,
        host=host,
        before=before,
    )
    following = (int(rows[-1][5]), int(rows[-1][0])) if more else None
    return [_run_row(row) for row in rows], following


def _run_row(row: tuple[Any, ...]) -> RunRow:
    row_id, hostname, run_id, outcome, exit_code, started, completed, duration, length = row
    return RunRow(
        id=int(row_id),
        hostname=hostname,
        run_id=run_id,
        outcome=outcome,
        exit_code=exit_code,
        started=from_us(started),
        completed=from_us(completed) if completed is not None else None,
        duration=_duration(duration),
        output_length=int(length or 0),
    )


def host_totals(db: Database, name: str) -> dict[str, HostTotals]:
    """``name``'s counters per host."""
    rows = db.query(
        "SELECT hostname, runs_total, failures_total, consecutive_failures FROM job_hosts "
        "WHERE name = ?",
        (name,),
    )
    return {
        host: HostTotals(host, int(runs), int(failures), int(consecutive))
        for host, runs, failures, consecutive in rows
    }


def run_output(db: Database, run_id: int) -> RunOutput | None:
    """The run with database id ``run_id`` and its output tail, or ``None``."""
    rows = db.query(
        "SELECT id, name, hostname, outcome, exit_code, started_us, completed_us, output "
        "FROM runs WHERE id = ?",
        (run_id,),
    )
    if not rows:
        return None
    row_id, name, hostname, outcome, exit_code, started, completed, output = rows[0]
    return RunOutput(
        id=int(row_id),
        name=name,
        hostname=hostname,
        outcome=outcome,
        exit_code=exit_code,
        started=from_us(started),
        completed=from_us(completed) if completed is not None else None,
        output=output,
    )
