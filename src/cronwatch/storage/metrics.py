"""What ``/metrics`` reads at scrape time: every job's row in ``jobs``, its per-host summaries
in ``job_hosts`` (kept by triggers on every write), its baseline, its runs still going and the
statuses the alert loop stored, a bounded chunk of jobs at a time.

One pass in name order, by keyset pages of :data:`CHUNK` jobs: three queries per chunk (its
last name, the jobs of the range with their summaries, baselines and the alert loop's stored
statuses joined, and the chunk's running runs on the partial index ``ix_runs_running``), never
a query per job, and never more than one chunk in memory. Each chunk is read on its own, so a
scrape of a large fleet sees each chunk as of its own instant (a job is never split between two
chunks).

A job comes as a :class:`ScrapedJob`: its rows as the database gives them, no instant converted
(a scrape of 100,000 jobs writes most of them out as they are), and its
:class:`~cronwatch.health.model.JobFacts` built only when asked for (:meth:`ScrapedJob.facts`:
a job to evaluate).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from cronwatch.health.model import JobFacts, RunningRun
from cronwatch.specs import JobSpec
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import (
    _BASELINE_COLUMNS,
    _HOST_COLUMNS,
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
_WIDTH_BASELINE = len(_BASELINE_COLUMNS.split(","))
_CHUNK_QUERY = (
    f"SELECT j.name, j.spec, j.created_us, {_HOSTS}, {_BASELINES}, j.source, j.check_due_us,"
    " j.expected_us, s.status, hs.status"
    " FROM jobs j"
    " LEFT JOIN job_hosts h ON h.name = j.name AND h.name > ?{upto_h}"
    " LEFT JOIN job_baselines b ON b.name = j.name AND b.name > ?{upto_b}"
    " LEFT JOIN job_states s ON s.name = j.name AND s.hostname = '' AND s.name > ?{upto_s}"
    " LEFT JOIN job_states hs ON hs.name = h.name AND hs.hostname = h.hostname"
    " AND hs.name > ?{upto_hs}"
    " WHERE j.name > ?{upto_j}"
    " ORDER BY j.name, h.hostname"
)
#: The chunk as a range of names: its last one (the join then comes in the order of the
#: indexes, with no sort of the chunk's rows, as a LIMIT inside a subquery needed). Every
#: joined table gets the range too: a planner with stale statistics (PostgreSQL after a bulk
#: load) would otherwise hash whole tables for every chunk.
_LAST_OF_CHUNK = "SELECT name FROM jobs WHERE name > ? ORDER BY name LIMIT 1 OFFSET ?"
_RANGE_QUERY = _CHUNK_QUERY.format(
    **{f"upto_{t}": f" AND {t}.name <= ?" for t in ("h", "b", "s", "hs", "j")}
)
_TAIL_QUERY = _CHUNK_QUERY.format(**{f"upto_{t}": "" for t in ("h", "b", "s", "hs", "j")})


def _range_params(after: str, last: str | None) -> tuple[str, ...]:
    """The parameters of :data:`_RANGE_QUERY` (``last`` given) or :data:`_TAIL_QUERY`."""
    return (after, last) * 5 if last is not None else (after,) * 5


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


# Where the columns are in a row of _CHUNK_QUERY: the job's, its host's summary
# (_HOST_COLUMNS, from _HOST on), its baseline's (_BASELINE_COLUMNS), then the job's source,
# deadline, expected run, stored status, and the host's stored status.
_HOST = 3
_BASELINE = _HOST + _WIDTH_HOST
#: Where a :attr:`ScrapedJob.hosts` row has the host's name, its last completion, the last
#: finished run's duration, the last success's completion, its counters (``job_hosts``).
HOSTNAME, LAST_COMPLETED, LAST_DURATION, LAST_SUCCESS_COMPLETED, RUNS_TOTAL, FAILURES_TOTAL = (
    _HOST + index for index in (1, 5, 8, 10, 12, 13)
)
_STARTED = _HOST + 3
#: Where a row has the job's next expected run and stored status (of :attr:`ScrapedJob.first`),
#: and the host's stored status (of each :attr:`ScrapedJob.hosts` row).
EXPECTED, STORED, HOST_STORED = -3, -2, -1
_SOURCE, _CHECK_DUE = -5, -4


class ScrapedJob(NamedTuple):
    """One job as a scrape reads it: its rows as the chunk query gives them, instants in
    microseconds, nothing converted until asked for (:meth:`facts`)."""

    name: str
    #: The spec in force: the config file's, else the one stored through the API; ``None``
    #: for a job nobody declared (:func:`~cronwatch.storage.jobs.auto_spec`).
    spec: JobSpec | None
    #: Its first row: the job's own columns (created, baseline, :data:`EXPECTED`,
    #: :data:`STORED`).
    first: tuple[Any, ...]
    #: One row per host with a summary, by hostname, as of the horizon (a summary only
    #: future-dated runs reached is left out): its columns at :data:`HOSTNAME` ..., the host's
    #: stored status at :data:`HOST_STORED`.
    hosts: Sequence[tuple[Any, ...]]
    running: tuple[RunningRun, ...]
    #: Whether the job's deadline is after ``settled_at`` and the alert loop stored a status
    #: for it: its stored statuses and expected run are then current.
    settled: bool

    @property
    def stored(self) -> StoredStatus | None:
        """What the alert loop stored, when :attr:`settled`."""
        if not self.settled:
            return None
        hosts = {row[HOSTNAME]: row[HOST_STORED] for row in self.hosts if row[HOST_STORED]}
        return StoredStatus(self.first[STORED], hosts, self.first[EXPECTED])

    def facts(self) -> JobFacts:
        """The job's facts, as :meth:`JobStore.facts <cronwatch.storage.jobs.JobStore.facts>`
        gives them."""
        first = self.first
        baseline = first[_BASELINE : _BASELINE + _WIDTH_BASELINE]
        return JobFacts(
            spec=self.spec or auto_spec(self.name),
            created=from_us(first[2]),
            hosts=tuple(_host_summary(row[_HOST:_BASELINE]) for row in self.hosts),
            running=self.running,
            baseline=_baseline(baseline) if baseline[0] is not None else None,
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
        last = db.query(_LAST_OF_CHUNK, (after, chunk - 1))
        if last:
            rows = db.query(_RANGE_QUERY, _range_params(after, last[0][0]))
        else:
            rows = db.query(_TAIL_QUERY, _range_params(after, None))
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
        if not last:
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
    dated past ``horizon`` (microseconds) left out of the summaries, as ``store`` does;
    settled when its deadline is after ``stamp`` (microseconds) and a status is stored."""
    index, end = 0, len(rows)
    last_started, last_completed = _STARTED, LAST_COMPLETED
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
            and row[HOSTNAME] is None
            and name not in running
        )
        if not forgotten and (tags is None or (spec is not None and tags.intersection(spec.tags))):
            due = row[_CHECK_DUE]
            settled = stamp is not None and row[STORED] is not None and (due is None or due > stamp)
            hosts = rows[index:stop] if stop > index + 1 else (row,)
            for host_row in hosts:
                # Every instant of a summary is at most its last start or its last completion
                # (the latest of each): when neither is past the horizon, no future-dated run
                # reached it, and the row is read as it is (the common case, by far).
                started, completed = host_row[last_started], host_row[last_completed]
                if (
                    (started is not None and started > horizon)
                    or (completed is not None and completed > horizon)
                    or host_row[HOSTNAME] is None  # LEFT JOIN: a job with no summary yet
                ):
                    found = (_as_of(row, store, horizon) for row in hosts)
                    hosts = [row for row in found if row is not None]
                    break
            yield ScrapedJob(name, spec, row, hosts, tuple(running.get(name, ())), settled)
        index = stop


def _as_of(row: tuple[Any, ...], store: JobStore, horizon: int) -> tuple[Any, ...] | None:
    """The row with its host's summary as of ``horizon`` (read again from the runs when a
    future-dated run reached it: rare); ``None`` without one (only future-dated runs, or no
    summary at all)."""
    if row[HOSTNAME] is None:
        return None
    summary = row[_HOST:_BASELINE]
    sane = store.host_row(summary, horizon)
    if sane is None:
        return None
    return row if sane is summary else row[:_HOST] + tuple(sane) + row[_BASELINE:]
