"""What ``/metrics`` reads at scrape time: every job's row in ``jobs``, its per-host summaries
in ``job_hosts`` (kept by triggers on every write), its baseline, its runs still going and the
statuses the alert loop stored, a bounded chunk of jobs at a time.

One pass in name order, by keyset pages of :data:`CHUNK` jobs: two queries per chunk (the jobs
with their summaries, baselines and the alert loop's stored statuses joined, and the chunk's
running runs on the partial index ``ix_runs_running``), never a query per job, and never more
than one chunk in memory. Each chunk is read on its own, so a scrape of a large fleet sees each
chunk as of its own instant (a job is never split between two chunks).

A job comes as a :class:`ScrapedJob`: its rows as the database gives them, no instant converted
(a scrape of 100,000 jobs writes most of them out as they are), and its
:class:`~cronwatch.health.model.JobFacts` built only when asked for (:meth:`ScrapedJob.facts`:
a job to evaluate).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from cronwatch.health.model import JobFacts, RunningRun
from cronwatch.specs import JobSpec
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import (
    _BASELINE_COLUMNS,
    _HOST_COLUMNS,
    _INSTANTS,
    JobStore,
    _baseline,
    _host_summary,
    _spec_from_json,
    auto_spec,
)
from cronwatch.timeutil import FUTURE_TOLERANCE, from_us, to_us, utcnow

#: Jobs per chunk: large enough that the queries' cost is per chunk, small enough that a
#: chunk's facts stay a few megabytes.
CHUNK = 2000

_HOSTS = ", ".join(f"h.{column.strip()}" for column in _HOST_COLUMNS.split(","))
_BASELINES = ", ".join(f"b.{column.strip()}" for column in _BASELINE_COLUMNS.split(","))
_WIDTH_HOST = len(_HOST_COLUMNS.split(","))
_CHUNK_QUERY = (
    f"SELECT j.name, j.spec, j.created_us, {_HOSTS}, {_BASELINES}, j.source, j.check_due_us,"
    " j.expected_us, s.status, hs.status"
    " FROM (SELECT name, spec, created_us, source, check_due_us, expected_us FROM jobs"
    " WHERE name > ?"
    " ORDER BY name LIMIT ?) j"
    " LEFT JOIN job_hosts h ON h.name = j.name"
    " LEFT JOIN job_baselines b ON b.name = j.name"
    " LEFT JOIN job_states s ON s.name = j.name AND s.hostname = ''"
    " LEFT JOIN job_states hs ON hs.name = h.name AND hs.hostname = h.hostname"
    " ORDER BY j.name, h.hostname"
)
#: Where the columns after the baselines' are in a row of _CHUNK_QUERY.
_SOURCE, _CHECK_DUE, _EXPECTED, _STORED, _HOST_STORED = -5, -4, -3, -2, -1
_RUNNING_QUERY = (
    "SELECT name, hostname, run_id, started_us FROM runs"
    " WHERE outcome = 'running' AND name >= ? AND name <= ?"
)


class StoredStatus(NamedTuple):
    """What the alert loop stored for a job whose deadline (``jobs.check_due_us``, see
    :mod:`cronwatch.storage.alerts.deadlines`) is still ahead: its status, that of each host it
    has a summary row for (hosts without a stored status left out), and its next expected run
    in microseconds (``jobs.expected_us``, ``None``: none) as of the loop's evaluation (of a
    paused job, whose deadline never comes, it moves on meanwhile)."""

    status: str
    hosts: dict[str, str]
    expected: int | None


#: Where the columns of a ``job_hosts`` row (``_HOST_COLUMNS``) are, in :attr:`ScrapedJob.hosts`.
HOSTNAME, LAST_COMPLETED, LAST_DURATION, LAST_SUCCESS_COMPLETED, RUNS_TOTAL, FAILURES_TOTAL = (
    1,
    5,
    8,
    10,
    12,
    13,
)


class ScrapedJob(NamedTuple):
    """One job as a scrape reads it: its rows as they come, instants in microseconds."""

    name: str
    #: The spec in force: the config file's, else the one stored through the API; ``None``
    #: for a job nobody declared (:func:`~cronwatch.storage.jobs.auto_spec`).
    spec: JobSpec | None
    created_us: int
    #: Its ``job_hosts`` rows (``_HOST_COLUMNS``: see :data:`HOSTNAME` ...), by hostname, as of
    #: the horizon (a row only future-dated runs reached is left out).
    hosts: list[tuple[Any, ...]]
    running: tuple[RunningRun, ...]
    baseline: tuple[Any, ...] | None  # its ``job_baselines`` row (``_BASELINE_COLUMNS``)
    #: The statuses the alert loop stored, when its deadline is after ``settled_at``.
    stored: StoredStatus | None

    def facts(self) -> JobFacts:
        """The job's facts, as :meth:`JobStore.facts <cronwatch.storage.jobs.JobStore.facts>`
        gives them."""
        return JobFacts(
            spec=self.spec or auto_spec(self.name),
            created=from_us(self.created_us),
            hosts=tuple(map(_host_summary, self.hosts)),
            running=self.running,
            baseline=_baseline(self.baseline) if self.baseline is not None else None,
        )


def facts_in_chunks(
    db: Database,
    declared: Mapping[str, JobSpec] | None = None,
    *,
    keep: Iterable[str] | None = None,
    chunk: int | None = None,
    now: datetime | None = None,
) -> Iterator[list[JobFacts]]:
    """Every job's facts, as :meth:`JobStore.facts <cronwatch.storage.jobs.JobStore.facts>`
    gives them (``declared`` specs win over the database's), in name order, ``chunk`` jobs at a
    time (:data:`CHUNK` by default). With ``keep`` (tags), only jobs with at least one of those
    tags: the others' facts are never built. Runs dated past ``now`` (or the clock, whichever is
    later) by more than :data:`~cronwatch.timeutil.FUTURE_TOLERANCE` are not facts, as there."""
    for jobs in jobs_in_chunks(db, declared, keep=keep, chunk=chunk, now=now):
        yield [job.facts() for job in jobs]


def jobs_in_chunks(
    db: Database,
    declared: Mapping[str, JobSpec] | None = None,
    *,
    keep: Iterable[str] | None = None,
    chunk: int | None = None,
    now: datetime | None = None,
    settled_at: datetime | None = None,
) -> Iterator[list[ScrapedJob]]:
    """As :func:`facts_in_chunks`, each job as a :class:`ScrapedJob`, with the status the alert
    loop stored for it when its deadline is after ``settled_at`` (or it has none): read by the
    same queries. ``stored`` is ``None`` for the others (deadline passed, changed since, never
    looked at) and for every job without ``settled_at``. Whether a loop is alive is the
    caller's to know."""
    declared, chunk = declared or {}, chunk or CHUNK
    horizon = to_us(max(now or utcnow(), utcnow()) + FUTURE_TOLERANCE)
    stamp = to_us(settled_at) if settled_at is not None else None
    store = JobStore(db)
    tags = frozenset(keep) if keep is not None else None
    after = ""
    while True:
        rows = db.query(_CHUNK_QUERY, (after, chunk))
        if not rows:
            return
        after = rows[-1][0]
        running: dict[str, list[RunningRun]] = {}
        for name, hostname, run_id, started in db.query(_RUNNING_QUERY, (rows[0][0], after)):
            if started <= horizon:
                running.setdefault(name, []).append(RunningRun(hostname, run_id, from_us(started)))
        jobs = list(_group(rows, declared, tags, running, store, horizon, stamp))
        if jobs:
            yield jobs
        if len({row[0] for row in rows}) < chunk:
            return


def _group(
    rows: list[tuple[Any, ...]],
    declared: Mapping[str, JobSpec],
    tags: frozenset[str] | None,
    running: dict[str, list[RunningRun]],
    store: JobStore,
    horizon: int,
    stamp: int | None,
) -> Iterator[ScrapedJob]:
    """The chunk's joined rows (one per job and host, ordered by job) as one job each; runs
    dated past ``horizon`` (microseconds) left out of the summaries, as ``store`` does; with
    each, its stored status when its deadline is after ``stamp`` (microseconds)."""
    index, end = 0, len(rows)
    end_host = 3 + _WIDTH_HOST
    last_started, last_completed = 3 + _INSTANTS[1], 3 + _INSTANTS[3]
    while index < end:
        row = rows[index]
        name, spec_json = row[0], row[1]
        stop = index + 1
        while stop < end and rows[stop][0] == name:
            stop += 1
        spec = declared.get(name) or (_spec_from_json(name, spec_json) if spec_json else None)
        # As JobStore.facts: a row an earlier config declared is a job only while it has runs.
        forgotten = (
            row[_SOURCE] == "config"
            and name not in declared
            and row[4] is None
            and name not in running
        )
        if not forgotten and (tags is None or (spec is not None and tags.intersection(spec.tags))):
            hosts: list[tuple[Any, ...]] = []
            stored: StoredStatus | None = None
            due = row[_CHECK_DUE]
            if stamp is not None and row[_STORED] is not None and (due is None or due > stamp):
                stored = StoredStatus(row[_STORED], {}, row[_EXPECTED])
            for host_row in rows[index:stop] if stop > index + 1 else (row,):
                if host_row[4] is None:  # LEFT JOIN: a job with no summary yet
                    continue
                if stored is not None and host_row[_HOST_STORED] is not None:
                    stored.hosts[host_row[4]] = host_row[_HOST_STORED]
                summary = host_row[3:end_host]
                # Every instant of a summary is at most its last start or its last completion
                # (the latest of each): when neither is past the horizon, no future-dated run
                # reached it, and the row is read as it is (the common case, by far).
                started, completed = host_row[last_started], host_row[last_completed]
                if (started is None or started <= horizon) and (
                    completed is None or completed <= horizon
                ):
                    hosts.append(summary)
                elif (sane := store.host_row(summary, horizon)) is not None:
                    hosts.append(sane)
            baseline = row[end_host:_SOURCE]
            yield ScrapedJob(
                name,
                spec,
                row[2],
                hosts,
                tuple(running.get(name, ())),
                baseline if baseline[0] is not None else None,
                stored,
            )
        index = stop
