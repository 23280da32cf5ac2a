"""The Prometheus exposition of every job: series, labels, and the text format, written in one
pass over the jobs with memory bounded whatever their number.

Every value comes from the database at scrape time (:mod:`cronwatch.storage.metrics`: the jobs,
their per-host summaries kept by triggers on every write, their baselines, their running runs)
and from the health evaluation of those same facts (:func:`cronwatch.health.evaluate.evaluate`,
the one the CLI, the API, the dashboard and the alert loop use), so any number of server
processes export the same numbers, and a restart resets nothing. When an alert loop beat within
``[alerts] outage_after``, a job whose deadline (``jobs.check_due_us``) is still ahead is not
evaluated: its status, its hosts' and its next expected run are those the loop stored with its
deadline (they cannot have changed since, as for ``cronwatch check``; a paused job's next run,
which moves on, is computed by :func:`~cronwatch.health.evaluate.when_due`), read by the same
queries; the body is the same. Such a job's rows are written as they come (instants in
microseconds, no facts built): what a large scrape costs is then reading and writing.
``tests/test_prometheus_bytes.py`` pins the text byte for byte, settled or evaluated. A scrape
never writes: it neither relearns baselines (the alert loop and ``cronwatch check`` do) nor
declares jobs (``serve`` does at start).

Series per job (label ``cronjob``, never ``job``: Prometheus sets ``job`` to the scrape job's
name), like kube-state-metrics' CronJob metrics:

- ``cronwatch_job_info{cronjob, schedule, timezone, paused, tags} 1``: the schedule as written
  ("" when none is declared), ``paused`` "true"/"false", ``tags`` as ``,db,nightly,`` (the
  separator at both ends, as Prometheus's own ``__meta_*_tags``: match one tag with
  ``tags=~".*,db,.*"``; "" without tags; a tag with a comma in it reads as two), e.g. to route
  alerts by tag with ``... * on (cronjob) group_left (tags) cronwatch_job_info``;
- ``cronwatch_job_status{cronjob, status}``: 1 for the current status, 0 for the 10 others;
- ``cronwatch_job_severity{cronjob}``: 0 OK, 1 warning, 2 critical;
- ``cronwatch_job_next_expected_timestamp_seconds{cronjob}``: when the next run is due (the
  health evaluation's ``next_due``); for a job that is missing or late, the instant it became
  due (its ``overdue_since``: the first slot its last run did not cover, which stays put), so
  ``time() - ...`` is how overdue it is. Absent when the job has no schedule, declared or
  learned.

Series per job and host (label ``host``), or, with ``[metrics] per_host = false``, per job
with no ``host`` label at all (counters summed over hosts, the other values of the latest
run):

- ``cronwatch_job_last_success_timestamp_seconds``, ``cronwatch_job_last_run_timestamp_seconds``
  (completion of the last successful / finished run), ``cronwatch_job_last_duration_seconds``:
  absent until there is such a run;
- ``cronwatch_job_runs_total``, ``cronwatch_job_failures_total``: finished and failed runs,
  counters that survive pruning, exported at 0 from the first appearance of the job (per job)
  or of the host (per host: its first run or start, or its declaration in the job's ``hosts``),
  so that ``increase(cronwatch_job_failures_total[5m]) > 0`` sees the first failure;
- ``cronwatch_job_running``: runs started and not finished;
- per host only: ``cronwatch_job_host_status{cronjob, host, status}`` (as the job's status).

And ``cronwatch_health_evaluation_ok``: 0 when a job's evaluation failed (its status series
are then left out; every other series is still exported).

So a job exports 14 series (13 without a schedule) plus, per host, 17 (6 with
``per_host = false``, once per job). ``tags`` restricts a scrape to jobs with any of those tags.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any, NamedTuple

from cronwatch.health.evaluate import evaluate as _evaluate
from cronwatch.health.evaluate import when_due
from cronwatch.health.model import PRIORITY, HostStatus, JobStatus
from cronwatch.health.model import SEVERITY as _SEVERITY_OF
from cronwatch.health.service import loop_alive
from cronwatch.specs import Config, MetricsSpec
from cronwatch.storage.connection import Database
from cronwatch.storage.metrics import (
    EXPECTED,
    FAILURES_TOTAL,
    HOST_STORED,
    HOSTNAME,
    LAST_COMPLETED,
    LAST_DURATION,
    LAST_SUCCESS_COMPLETED,
    RUNS_TOTAL,
    STORED,
    ScrapedJob,
    jobs_in_chunks,
)
from cronwatch.timeutil import utcnow

log = logging.getLogger("cronwatch.prometheus")

#: The shared health evaluation, without the words of a job that has no problem: a scrape
#: exposes statuses and times only, and those words were a tenth of its CPU.
evaluate = functools.partial(_evaluate, words=False)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Bytes a family keeps in memory before it spills to a temporary file.
SPOOL_IN_MEMORY = 256 * 1024

# (name, type, help); the order they are exposed in. "runs" and "failures" are counters, whose
# samples carry the _total suffix.
_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("cronwatch_job_info", "gauge", "The job's schedule, timezone, paused state and tags (1)."),
    ("cronwatch_job_status", "gauge", "1 for the job's current status, 0 for the others."),
    ("cronwatch_job_severity", "gauge", "The job's severity: 0 OK, 1 warning, 2 critical."),
    (
        "cronwatch_job_next_expected_timestamp_seconds",
        "gauge",
        "Unix time the job's next run is due; when overdue, the time it became due.",
    ),
    (
        "cronwatch_job_last_success_timestamp_seconds",
        "gauge",
        "Unix time the last successful run completed.",
    ),
    (
        "cronwatch_job_last_run_timestamp_seconds",
        "gauge",
        "Unix time the last finished run completed.",
    ),
    ("cronwatch_job_last_duration_seconds", "gauge", "Duration of the last finished run."),
    ("cronwatch_job_runs", "counter", "Finished runs."),
    ("cronwatch_job_failures", "counter", "Failed runs."),
    ("cronwatch_job_running", "gauge", "Runs started and not finished."),
    (
        "cronwatch_job_host_status",
        "gauge",
        "1 for the job's current status on the host, 0 for the others.",
    ),
    ("cronwatch_health_evaluation_ok", "gauge", "1 if every job's health evaluation worked."),
)
(
    INFO,
    STATUS,
    SEVERITY,
    NEXT,
    LAST_SUCCESS,
    LAST_RUN,
    DURATION,
    RUNS,
    FAILURES,
    RUNNING,
    HOST_STATUS,
    EVALUATION_OK,
) = range(len(_FAMILIES))


class Exposition:
    """The text of one scrape, family by family, each in a spool (memory, then a temporary
    file past :data:`SPOOL_IN_MEMORY`), ready to stream with :meth:`chunks`."""

    def __init__(self) -> None:
        # Closed by chunks() (or close()): they outlive this call, into the streamed response.
        self._spools: list[IO[bytes]] = [
            tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
            for _ in _FAMILIES
        ]
        #: Each family's lines not yet in its spool, appended to directly (a method call per
        #: line would cost a tenth of a large scrape).
        self.lines: list[list[str]] = [[] for _ in _FAMILIES]
        self.trailer = b""  # series from elsewhere (the alert loops'), already exposition text

    def flush(self) -> None:
        """Move the lines added so far into the spools."""
        for spool, lines in zip(self._spools, self.lines, strict=True):
            if lines:
                spool.write("".join(lines).encode())
                lines.clear()

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        """The exposition text, in pieces of at most ``size`` bytes (plus a header); closes
        the spools when done or when the consumer stops early."""
        self.flush()
        try:
            for (name, kind, text), spool in zip(_FAMILIES, self._spools, strict=True):
                if spool.tell() == 0:
                    continue
                yield f"# HELP {name} {text}\n# TYPE {name} {kind}\n".encode()
                spool.seek(0)
                while piece := spool.read(size):
                    yield piece
                spool.close()
            if self.trailer:
                yield self.trailer
        finally:
            self.close()

    def close(self) -> None:
        for spool in self._spools:
            spool.close()


def expose(
    db: Database,
    config: Config | None,
    *,
    tags: Iterable[str] | None = None,
    now: datetime | None = None,
) -> Exposition:
    """Every job's series (only those of jobs with any of ``tags`` when given), read and
    evaluated at ``now`` one chunk of jobs at a time."""
    now = now or utcnow()
    per_host = (config.metrics if config is not None else MetricsSpec()).per_host
    declared = config.jobs if config is not None else {}
    out = Exposition()
    failed = 0
    try:
        # With an alert loop alive, a job whose deadline is ahead has the status the loop
        # stored for it (it cannot have changed since): only the others are evaluated.
        settled_at = now if loop_alive(db, config, now) else None
        chunks = jobs_in_chunks(db, declared, keep=tags, now=now, settled_at=settled_at)
        for chunk in chunks:
            for job in chunk:
                try:
                    verdict = _settled(job, now) if job.settled else None
                    verdict = verdict or _verdict(evaluate(job.facts(), now))
                except Exception:
                    if not failed:
                        log.exception("health evaluation of %r failed", job.name)
                    failed += 1
                    verdict = None
                _job(out, job, verdict, per_host)
            out.flush()
        if failed:
            log.error("health evaluation failed for %d jobs in this scrape", failed)
        out.lines[EVALUATION_OK].append(f"cronwatch_health_evaluation_ok {0 if failed else 1}\n")
    except BaseException:
        out.close()
        raise
    return out


class _Host(NamedTuple):
    hostname: str
    status: str


class _Verdict(NamedTuple):
    """What the series of a job show of its health: status, severity, next expected run
    (:attr:`JobStatus.next_expected <cronwatch.health.model.JobStatus.next_expected>`, already
    as the sample's text) and each judged host's status (a
    :class:`_Host` or the evaluation's :class:`~cronwatch.health.model.HostStatus`)."""

    status: str
    severity: int
    expected: str | None
    hosts: Sequence[_Host | HostStatus]


def _verdict(status: JobStatus) -> _Verdict:
    expected = status.next_expected
    text = _ts(expected) if expected is not None else None
    return _Verdict(status.status, status.severity, text, status.hosts)


def _settled(job: ScrapedJob, now: datetime) -> _Verdict | None:
    """The verdict from the alert loop's stored statuses (the job's and each judged host's:
    the declared hosts, else every host seen) and next expected run; ``None`` (evaluate the
    job) when a judged host has no stored status, or for a job with ``min_hosts``."""
    first, spec, rows = job.first, job.spec, job.hosts
    status = first[STORED]
    if status not in _SEVERITY_OF:
        return None
    hosts: list[_Host] | tuple[_Host]
    if len(rows) == 1 and not job.running and (spec is None or not spec.hosts):
        # The common case, by far: one host seen, nothing running, any host may run it.
        host_status = rows[0][HOST_STORED]
        if host_status not in _SEVERITY_OF:  # None: no stored status
            return None
        hosts = (_Host(rows[0][HOSTNAME], host_status),)
    else:
        if spec is not None and spec.hosts:
            if spec.min_hosts is not None:
                return None
            names: Iterable[str] = spec.hosts
        else:
            names = sorted({row[HOSTNAME] for row in rows} | {r.hostname for r in job.running})
        stored = {row[HOSTNAME]: row[HOST_STORED] for row in rows}
        hosts = []
        for name in names:
            host_status = stored.get(name)
            if host_status not in _SEVERITY_OF:
                return None
            hosts.append(_Host(name, host_status))
    if spec is not None and spec.paused:
        # Never due, so never evaluated again by the loop: its next run moves on meanwhile.
        due = when_due(job.facts(), now)
        assert due is not None  # no min_hosts
        next_due, overdue = due
        when = overdue if overdue is not None else next_due
        expected = _ts(when) if when is not None else None
    else:
        expected_us = first[EXPECTED]
        expected = repr(expected_us / 1e6) if expected_us is not None else None
    return _Verdict(status, _SEVERITY_OF[status], expected, hosts)


def _enum(current: str) -> tuple[str, ...]:
    # Joined with the series' name and first labels as separator: the 11 lines of an enum in
    # one str.join (the hot spot of a large scrape).
    return ("", *(f',status="{c}"}} {1 if c == current else 0}\n' for c in PRIORITY))


_ENUM: dict[str, tuple[str, ...]] = {current: _enum(current) for current in PRIORITY}


def _job(out: Exposition, job: ScrapedJob, status: _Verdict | None, per_host: bool) -> None:
    """Every series of one job, added to ``out``."""
    spec, lines = job.spec, out.lines
    label = f'cronjob="{_escape(job.name)}"'
    if spec is None:
        info = _AUTO_INFO
    else:
        schedule = spec.schedule.expression if spec.schedule is not None else ""
        info = _info(schedule, spec.timezone, spec.paused, spec.tags)
    lines[INFO].append(f"cronwatch_job_info{{{label}{info}")
    if status is not None:
        lines[STATUS].append(f"cronwatch_job_status{{{label}".join(_ENUM[status.status]))
        lines[SEVERITY].append(f"cronwatch_job_severity{{{label}}} {status.severity}\n")
        if status.expected is not None:
            lines[NEXT].append(
                f"cronwatch_job_next_expected_timestamp_seconds{{{label}}} {status.expected}\n"
            )
    rows = job.hosts
    if not per_host:
        _summary(lines, label, _combined(rows), len(job.running))
        return
    judged = status.hosts if status is not None else ()
    if (
        len(rows) == 1
        and not job.running
        and (not judged or (len(judged) == 1 and judged[0].hostname == rows[0][HOSTNAME]))
    ):
        # The common case, by far: one host, nothing running; its labels formatted once.
        labels = f'{label},host="{_escape(rows[0][HOSTNAME])}"'
        _summary(lines, labels, rows[0], 0)
        if judged:
            lines[HOST_STATUS].append(
                f"cronwatch_job_host_status{{{labels}".join(_ENUM[judged[0].status])
            )
        return
    summaries = {row[HOSTNAME]: row for row in rows}
    running: dict[str, int] = {}
    for run in job.running:
        running[run.hostname] = running.get(run.hostname, 0) + 1
    # Every host the job is known on: each that ran or started it, each declared one.
    hosts = summaries.keys() | running.keys()
    hosts |= {host.hostname for host in judged}
    host_labels = {hostname: f'{label},host="{_escape(hostname)}"' for hostname in hosts}
    for hostname in sorted(hosts) if len(hosts) > 1 else hosts:
        _summary(lines, host_labels[hostname], summaries.get(hostname), running.get(hostname, 0))
    for host in judged:
        labels = f"cronwatch_job_host_status{{{host_labels[host.hostname]}"
        lines[HOST_STATUS].append(labels.join(_ENUM[host.status]))


@functools.lru_cache(maxsize=4096)
def _info(schedule: str, timezone: str, paused: bool, tags: tuple[str, ...]) -> str:
    """The labels of ``cronwatch_job_info`` after ``cronjob``, and its value: formatted once
    per distinct set (most jobs of a fleet share a schedule, timezone and tags)."""
    joined = _escape(f",{','.join(tags)},") if tags else ""
    return (
        f',schedule="{_escape(schedule)}",timezone="{_escape(timezone)}",'
        f'paused="{"true" if paused else "false"}",tags="{joined}"}} 1\n'
    )


def _summary(
    lines: list[list[str]], labels: str, row: tuple[Any, ...] | None, running: int
) -> None:
    """The summary series of one job on one host (or of the job, hosts combined), from its
    ``job_hosts`` row: instants in microseconds, written as seconds (``us / 1e6`` is the float
    ``datetime.timestamp()`` gives for the same instant: both are correctly rounded)."""
    runs = failures = 0
    if row is not None:
        success, completed, duration = (
            row[LAST_SUCCESS_COMPLETED],
            row[LAST_COMPLETED],
            row[LAST_DURATION],
        )
        if success is not None:
            lines[LAST_SUCCESS].append(
                f"cronwatch_job_last_success_timestamp_seconds{{{labels}}} {success / 1e6!r}\n"
            )
        if completed is not None:
            lines[LAST_RUN].append(
                f"cronwatch_job_last_run_timestamp_seconds{{{labels}}} {completed / 1e6!r}\n"
            )
        if duration is not None:
            lines[DURATION].append(
                f"cronwatch_job_last_duration_seconds{{{labels}}} {duration / 1e6!r}\n"
            )
        runs, failures = int(row[RUNS_TOTAL]), int(row[FAILURES_TOTAL])
    lines[RUNS].append(f"cronwatch_job_runs_total{{{labels}}} {runs}\n")
    lines[FAILURES].append(f"cronwatch_job_failures_total{{{labels}}} {failures}\n")
    lines[RUNNING].append(f"cronwatch_job_running{{{labels}}} {running}\n")


def _combined(rows: Sequence[tuple[Any, ...]]) -> tuple[Any, ...] | None:
    """A job's hosts as one row (the columns :func:`_summary` reads): the latest success and
    finished run, counters summed."""
    if not rows:
        return None
    if len(rows) == 1:
        return rows[0]
    latest: tuple[Any, ...] | None = None
    for row in rows:  # the first of the latest, as max() would
        if row[LAST_COMPLETED] is not None and (
            latest is None or row[LAST_COMPLETED] > latest[LAST_COMPLETED]
        ):
            latest = row
    successes = [row[LAST_SUCCESS_COMPLETED] for row in rows]
    combined: list[Any] = [None] * (FAILURES_TOTAL + 1)
    if latest is not None:
        combined[LAST_COMPLETED] = latest[LAST_COMPLETED]
        combined[LAST_DURATION] = latest[LAST_DURATION]
    combined[LAST_SUCCESS_COMPLETED] = max((s for s in successes if s is not None), default=None)
    combined[RUNS_TOTAL] = sum(int(row[RUNS_TOTAL]) for row in rows)
    combined[FAILURES_TOTAL] = sum(int(row[FAILURES_TOTAL]) for row in rows)
    return tuple(combined)


def _ts(t: datetime) -> str:
    return repr(t.timestamp())


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


#: The info labels of a job nobody declared (auto_spec: no schedule, UTC, not paused, no tags).
_AUTO_INFO = _info("", "UTC", False, ())
