"""Is the alerting itself alive? The hooks ``/healthz`` and ``/metrics`` read.

Everything comes from the database (the loops' heartbeats, the delivery queue), so any
server process answers for every alert loop, wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cronwatch.alerts.store import ALERT_WORKER
from cronwatch.config import MIN_OUTAGE_AFTER
from cronwatch.storage.connection import Database
from cronwatch.timeutil import from_us, to_us, utcnow


def last_heartbeat(db: Database) -> datetime | None:
    """The latest heartbeat of any alert loop, or ``None`` if none ever ran."""
    rows = db.query("SELECT MAX(last_beat_us) FROM workers WHERE kind = ?", (ALERT_WORKER,))
    value = rows[0][0] if rows else None
    return None if value is None else from_us(int(value))


@dataclass(frozen=True)
class WorkerBeat:
    name: str
    hostname: str
    pid: int
    started: datetime
    last_beat: datetime


@dataclass(frozen=True)
class AlertingHealth:
    """The alert loops and the delivery queue at ``now``.

    ``alive``: some loop beat within ``stale_after``. ``pending``: deliveries waiting (first
    try or retry); ``retrying``: those of them that failed at least once; ``failed``: given up.
    """

    now: datetime
    last_heartbeat: datetime | None
    stale_after: timedelta
    workers: tuple[WorkerBeat, ...]
    pending: int
    retrying: int
    failed: int
    alerting_jobs: int

    @property
    def alive(self) -> bool:
        return (
            self.last_heartbeat is not None and self.now - self.last_heartbeat <= self.stale_after
        )

    @property
    def heartbeat_age(self) -> timedelta | None:
        return None if self.last_heartbeat is None else self.now - self.last_heartbeat

    def to_json(self) -> dict[str, Any]:
        """For ``/healthz``: ``{"alive": true, "last_heartbeat": "...", "age_seconds": 12.0,
        "stale_after_seconds": 600, "loops": 1, "deliveries": {...}, "alerting_jobs": 0}``."""
        age = self.heartbeat_age
        return {
            "alive": self.alive,
            "last_heartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else None,
            "age_seconds": None if age is None else round(age.total_seconds(), 3),
            "stale_after_seconds": self.stale_after.total_seconds(),
            "loops": len(self.workers),
            "deliveries": {
                "pending": self.pending,
                "retrying": self.retrying,
                "failed": self.failed,
            },
            "alerting_jobs": self.alerting_jobs,
        }


def alerting_health(
    db: Database, now: datetime | None = None, *, stale_after: timedelta = MIN_OUTAGE_AFTER
) -> AlertingHealth:
    """The state of the alerting at ``now`` in four small queries.

    ``stale_after``: a heartbeat older than this means no loop is running (pass the config's
    ``alerts.outage_after``). ``workers`` lists the loops that beat within a day.
    """
    now = now or utcnow()
    rows = db.query(
        "SELECT name, hostname, pid, started_us, last_beat_us FROM workers"
        " WHERE kind = ? AND last_beat_us >= ? ORDER BY last_beat_us DESC",
        (ALERT_WORKER, to_us(now - timedelta(days=1))),
    )
    workers = tuple(
        WorkerBeat(name, hostname, int(pid), from_us(int(started)), from_us(int(beat)))
        for name, hostname, pid, started, beat in rows
    )
    counts = db.query(
        "SELECT status, attempts > 0, COUNT(*) FROM deliveries"
        " WHERE status IN ('pending', 'failed') GROUP BY status, attempts > 0"
    )
    pending = sum(int(n) for status, _, n in counts if status == "pending")
    retrying = sum(int(n) for status, tried, n in counts if status == "pending" and tried)
    failed = sum(int(n) for status, _, n in counts if status == "failed")
    alerting = db.query("SELECT COUNT(*) FROM job_states WHERE alerting = 1 AND hostname = ''")
    return AlertingHealth(
        now=now,
        last_heartbeat=last_heartbeat(db),
        stale_after=stale_after,
        workers=workers,
        pending=pending,
        retrying=retrying,
        failed=failed,
        alerting_jobs=int(alerting[0][0]),
    )
