"""What ``/metrics`` reads at scrape time: the per-host job summaries (``job_hosts``, kept by
triggers on every write) and the runs still going, in two queries whatever the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cronwatch.storage.connection import Database
from cronwatch.timeutil import from_us


@dataclass(frozen=True, slots=True)
class HostMetrics:
    """One job on one host: its last success and last finished run, its counters (which
    survive pruning of old runs) and its runs started and not finished."""

    name: str
    hostname: str
    last_success_completed: datetime | None
    last_completed: datetime | None
    last_duration: timedelta | None
    runs_total: int
    failures_total: int
    running: int


def host_metrics(db: Database) -> list[HostMetrics]:
    """Every job and host that ever ran, by name and host."""
    running = {
        (name, host): int(count)
        for name, host, count in db.query(
            "SELECT name, hostname, COUNT(*) FROM runs WHERE outcome = 'running'"
            " GROUP BY name, hostname"
        )
    }
    return [
        HostMetrics(
            name=name,
            hostname=host,
            last_success_completed=None if success_us is None else from_us(success_us),
            last_completed=None if completed_us is None else from_us(completed_us),
            last_duration=None if duration_us is None else timedelta(microseconds=duration_us),
            runs_total=int(total),
            failures_total=int(failed),
            running=running.get((name, host), 0),
        )
        for name, host, success_us, completed_us, duration_us, total, failed in db.query(
            "SELECT name, hostname, last_success_completed_us, last_completed_us,"
            " last_duration_us, runs_total, failures_total FROM job_hosts ORDER BY name, hostname"
        )
    ]
