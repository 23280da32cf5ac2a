"""A job page's data: status, chart, runs, hosts and upcoming slots of one job; no HTTP here.

Like the overview it only reads (baselines as last learned). Its cost is bounded whatever the
job's history: the facts of the health checks, the latest :data:`~queries.CHART_RUNS` runs for
the chart, one page of the runs table, the per-host counters, and at most
:data:`~missed.MAX_MISSED` missed slots computed from the schedule.

The schedule in force is the job's own, or the interval learned from its history; the grace
is the job's, or the default grace of a learned interval (as the health checks use them).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

from cronwatch.alerts.model import Event, JobState
from cronwatch.health.evaluate import evaluate, schedule_in_force
from cronwatch.health.model import HostStatus, JobFacts, JobStatus
from cronwatch.schedule import IntervalSchedule, Schedule
from cronwatch.specs import Config, JobSpec
from cronwatch.storage import dashboard as queries
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.alerts.events import EventStore
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore
from cronwatch.web.dashboard import svg
from cronwatch.web.dashboard.missed import Missed, missed_slots, per_host

#: Upcoming slots listed.
UPCOMING = 5
_CURSOR = re.compile(r"([0-9]{1,19})_([0-9]{1,19})")


class BadCursor(ValueError):
    """A ``before`` parameter that is not a cursor this page made."""


def parse_cursor(text: str | None) -> tuple[int, int] | None:
    """``"<started_us>_<id>"`` as a pair; ``None`` for none; :class:`BadCursor` otherwise."""
    if not text:
        return None
    match = _CURSOR.fullmatch(text)
    if match is None or int(match[1]) >= 2**63 or int(match[2]) >= 2**63:
        raise BadCursor(f"before={text[:40]!r} is not a cursor from a previous page")
    return int(match[1]), int(match[2])


@dataclass(frozen=True)
class HostRow:
    """One host of the job: its status, counters and recent typical runtime."""

    status: HostStatus
    totals: queries.HostTotals | None
    median: timedelta | None  # of its successful runs among the chart's


@dataclass(frozen=True)
class Upcoming:
    """When the job is expected next (from the status's ``next_due``, never past), and
    ``overdue``: the status's ``overdue_since``, the first slot missed since the last run."""

    overdue: datetime | None
    slots: tuple[datetime, ...]
    timezone: str


@dataclass(frozen=True)
class JobPage:
    """Everything the job page shows."""

    now: datetime
    status: JobStatus
    spec: JobSpec
    schedule: Schedule | None  # in force: declared or learned
    grace: timedelta
    band: tuple[float, float] | None  # learned normal runtime, seconds
    hosts: list[HostRow]
    runs: list[queries.RunRow]
    next_cursor: str | None
    paged: bool  # the runs table is not on its first page
    host_filter: str
    upcoming: Upcoming
    missed: Missed
    chart: dict[str, object]  # for the script, see chart_data
    chart_svg: Markup  # the same, drawn for browsers without JavaScript
    chart_runs: int
    #: The job's alerting state: its open incident and acknowledgement (None: never seen).
    alert: JobState | None = None
    #: Its latest ``/log`` lines (events of kind ``log``), newest first.
    logs: tuple[Event, ...] = ()


def load_job(
    db: Database,
    config: Config | None,
    name: str,
    now: datetime,
    *,
    host: str = "",
    before: tuple[int, int] | None = None,
) -> JobPage | None:
    """The page of job ``name`` at ``now``, or ``None`` if no such job is known.

    ``host`` restricts the runs table to one host, ``before`` pages it back."""
    declared = dict(config.jobs) if config is not None else {}
    found = JobStore(db).facts(declared, names=[name])
    if not found:
        return None
    facts = found[0]
    status = evaluate(facts, now)
    spec = facts.spec
    schedule, grace = schedule_in_force(facts)
    band = _band(facts)
    points = queries.chart_runs(db, name)
    since = points[0].started if points else facts.created
    missed = _missed(spec, schedule, grace, points, since=since, now=now)
    bounds = (_secs(spec.min_runtime), _secs(spec.max_runtime))
    runs, following = queries.runs_page(db, name, host=host or None, before=before)
    return JobPage(
        alert=AlertStore(db).state(name),
        logs=tuple(EventStore(db).log_lines(name)),
        now=now,
        status=status,
        spec=spec,
        schedule=schedule,
        grace=grace,
        band=band,
        hosts=_hosts(status, queries.host_totals(db, name), points),
        runs=runs,
        next_cursor=f"{following[0]}_{following[1]}" if following else None,
        paged=before is not None,
        host_filter=host,
        upcoming=_upcoming(status, facts, schedule, now),
        missed=missed,
        chart=chart_data(points, missed, band, bounds, start=min(since, now), now=now),
        chart_svg=svg.chart(
            points,
            start=min(since, now),
            end=now,
            missed=missed.slots,
            band=band,
            bounds=bounds,
        ),
        chart_runs=len(points),
    )


def _band(facts: JobFacts) -> tuple[float, float] | None:
    """The learned normal runtime, in seconds (``None`` until learned)."""
    if facts.baseline is not None and facts.baseline.runtime is not None:
        return (facts.baseline.runtime.low, facts.baseline.runtime.high)
    return None


def _missed(
    spec: JobSpec,
    schedule: Schedule | None,
    grace: timedelta,
    points: list[queries.RunPoint],
    *,
    since: datetime,
    now: datetime,
) -> Missed:
    """The slots missed among the chart's runs: none for a paused job (nothing is expected of
    it), each declared host's own when it has hosts (each owes its runs), else the job's."""
    if spec.paused:
        return Missed()
    if spec.hosts:
        return per_host(
            {
                host: missed_slots(
                    schedule,
                    [p.started for p in points if p.hostname == host],
                    since=since,
                    now=now,
                    grace=grace,
                )
                for host in spec.hosts
            }
        )
    return missed_slots(schedule, [p.started for p in points], since=since, now=now, grace=grace)


def _secs(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _epoch(t: datetime) -> float:
    return round(t.timestamp(), 3)


def chart_data(
    points: list[queries.RunPoint],
    missed: Missed,
    band: tuple[float, float] | None,
    bounds: tuple[float | None, float | None],
    *,
    start: datetime,
    now: datetime,
) -> dict[str, object]:
    """The chart's data for ``static/dashboard.js``: instants as Unix seconds, durations as
    seconds. ``runs``: ``[start, duration, outcome, host, exit code]``, oldest first; a
    running run's duration is how long it has been running. A finished run of unknown
    duration (a plain ping) has no runtime to draw: it is in the runs table, not here."""
    runs = []
    for p in points:
        if p.duration is None and p.outcome != "running":
            continue
        took = p.duration if p.duration is not None else now - p.started
        runs.append(
            [_epoch(p.started), round(took.total_seconds(), 3), p.outcome, p.hostname, p.exit_code]
        )
    return {
        "start": _epoch(start),
        "end": _epoch(now),
        "runs": runs,
        "missed": [_epoch(t) for t in missed.slots],
        "missedOn": list(missed.on()),
        "missedTruncated": missed.truncated,
        "band": list(band) if band is not None else None,
        "min": bounds[0],
        "max": bounds[1],
    }


def _hosts(
    status: JobStatus, totals: dict[str, queries.HostTotals], points: list[queries.RunPoint]
) -> list[HostRow]:
    durations: dict[str, list[float]] = {}
    for p in points:
        if p.outcome == "success" and p.duration is not None:
            durations.setdefault(p.hostname, []).append(p.duration.total_seconds())
    rows = []
    for host in status.hosts:
        seen = durations.get(host.hostname)
        median = timedelta(seconds=statistics.median(seen)) if seen else None
        rows.append(HostRow(host, totals.get(host.hostname), median))
    return rows


def _upcoming(
    status: JobStatus, facts: JobFacts, schedule: Schedule | None, now: datetime
) -> Upcoming:
    zone = facts.spec.timezone
    if schedule is None:
        return Upcoming(None, (), zone)
    # The health layer's next due (never past) and overdue slot: this page computes neither.
    first = status.next_due
    slots: list[datetime] = []
    if first is not None:
        if isinstance(schedule, IntervalSchedule):
            slots = [first + k * schedule.period for k in range(UPCOMING)]
        else:
            slots = [first]
            while len(slots) < UPCOMING:
                slots.append(schedule.next_after(slots[-1]))
    overdue = status.overdue_since
    return Upcoming(overdue, tuple(slots), zone)
