"""Is the alerting itself alive? The hooks ``/healthz`` and ``/metrics`` read, and the report
``cronwatch alerts status`` shows.

Everything comes from the database (the loops' heartbeats, the delivery queue), so any
server process answers for every alert loop, wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cronwatch.alerts.fingerprint import config_groups
from cronwatch.alerts.model import JobState
from cronwatch.specs import Config
from cronwatch.specs.alerting import MIN_OUTAGE_AFTER
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.alerts.deliveries import DeliveryRow
from cronwatch.storage.alerts.workers import Outage, WorkerBeat
from cronwatch.storage.connection import Database
from cronwatch.timeutil import utcnow

__all__ = [
    "AlertingHealth",
    "AlertingReport",
    "WorkerBeat",
    "alerting_health",
    "alerting_report",
    "channel_warning",
    "last_heartbeat",
]


def channel_warning(config: Config | None) -> str | None:
    """Why problems the alert loop finds would be announced to nobody, or ``None``: no
    channel in the config, or declared jobs that name no channel while ``[alerts] channels``
    (the default) is empty. ``serve``, ``alerts`` and ``alerts status`` say
    it; such notifications are recorded with the note "not sent: no channel"."""
    if config is None or not config.channels:
        return (
            "no alert channel is configured: problems are recorded (`cronwatch alerts "
            "history`) but sent to nobody; add a [channels.NAME] table and [alerts] channels"
        )
    if config.alerts.channels:
        return None
    unrouted = sorted(name for name, job in config.jobs.items() if not job.alerts)
    if not unrouted:
        return None  # jobs seen running undeclared: their history notes "no channel"
    shown = ", ".join(unrouted[:5]) + (
        f" and {len(unrouted) - 5} more" if len(unrouted) > 5 else ""
    )
    return (
        f"no alert channel for {shown}: their problems are sent to nobody; set [alerts] "
        "channels = " + "[" + ", ".join(f'"{n}"' for n in sorted(config.channels)) + "]"
    )


def last_heartbeat(db: Database) -> datetime | None:
    """The latest heartbeat of any alert loop, or ``None`` if none ever ran."""
    return AlertStore(db).last_heartbeat()


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
    store = AlertStore(db)
    workers = tuple(store.workers(since=now - timedelta(days=1)))
    queue = store.delivery_counts()
    return AlertingHealth(
        now=now,
        last_heartbeat=store.last_heartbeat(),
        stale_after=stale_after,
        workers=workers,
        pending=queue.pending,
        retrying=queue.retrying,
        failed=queue.failed,
        alerting_jobs=store.count_alerting(),
    )


@dataclass(frozen=True)
class AlertingReport:
    """What ``cronwatch alerts status`` shows: the loops' health, the jobs whose problem was
    announced (``down``), the snoozed jobs, the deliveries not sent (``undelivered``: given up
    first, then waiting for a retry), the latest outages of cronwatch itself, and the running
    loops grouped by config (``configs``: see :func:`cronwatch.alerts.fingerprint.config_groups`;
    more than one group: their configs differ, and each of them evaluates every job each
    cycle)."""

    health: AlertingHealth
    down: tuple[JobState, ...]
    snoozed: tuple[JobState, ...]
    undelivered: tuple[DeliveryRow, ...]
    outages: tuple[Outage, ...]
    configs: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The health's JSON (see :meth:`AlertingHealth.to_json`) and one list per part."""
        return {
            **self.health.to_json(),
            "down": [
                {
                    "job": s.name,
                    "status": s.status,
                    "reason": s.reason,
                    "since": s.problem_since.isoformat() if s.problem_since else None,
                    "incident": s.incident,
                    "acknowledged_by": s.acked_by if s.acked else None,
                    "acknowledged_at": s.acked.isoformat() if s.acked else None,
                    "ack_note": s.ack_note,
                    "escalated_at": s.escalated.isoformat() if s.escalated else None,
                }
                for s in self.down
            ],
            "snoozed": [
                {"job": s.name, "until": s.snooze_until.isoformat()}
                for s in self.snoozed
                if s.snooze_until
            ],
            "undelivered": [
                {
                    "event_id": d.event_id,
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "next_attempt": d.next_attempt.isoformat(),
                    "text": d.text,
                }
                for d in self.undelivered
            ],
            "outages": [
                {"started": o.started.isoformat(), "ended": o.ended.isoformat()}
                for o in self.outages
            ],
            "configs": [
                {"loops": list(loops), "differs_in": list(kinds)} for loops, kinds in self.configs
            ],
        }


def alerting_report(db: Database, now: datetime, *, stale_after: timedelta) -> AlertingReport:
    """The alerting at ``now``: :func:`alerting_health` and what is down, snoozed, not sent."""
    health = alerting_health(db, now, stale_after=stale_after)
    store = AlertStore(db)
    return AlertingReport(
        health=health,
        down=tuple(store.alerting()),
        snoozed=tuple(store.snoozed(now)),
        undelivered=tuple(store.deliveries()),
        outages=tuple(store.outages(limit=3)),
        configs=tuple(config_groups(store.configs(now - stale_after))),
    )
