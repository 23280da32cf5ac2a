"""Prometheus series about the alerting itself, for ``/metrics``: a collector that reads the
database at scrape time (so every server process exports the same numbers).

- ``cronwatch_alert_loop_up``: 1 when some alert loop beat within ``stale_after``, else 0;
- ``cronwatch_alert_loop_last_heartbeat_timestamp_seconds``: the latest heartbeat (absent if
  no loop ever ran), e.g. for ``time() - ... > 300``;
- ``cronwatch_alert_loops``: loops that beat within ``stale_after``;
- ``cronwatch_alert_deliveries{state="pending|retrying|failed"}``: the queue (retrying: pending
  after at least one failed attempt; failed: given up);
- ``cronwatch_alert_jobs_down``: jobs whose problem was announced and has not recovered.

Wire it in with ``registry.register(AlertsCollector(db, stale_after=config.alerts.outage_after))``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cronwatch.alerts.health import alerting_health
from cronwatch.specs.alerting import MIN_OUTAGE_AFTER
from cronwatch.storage.connection import Database
from cronwatch.timeutil import utcnow


class AlertsCollector(Collector):
    """Collects the series of the module docstring from ``db`` on every scrape."""

    def __init__(
        self,
        db: Database,
        *,
        stale_after: timedelta = MIN_OUTAGE_AFTER,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.stale_after, self.clock = db, stale_after, clock

    def collect(self) -> Iterator[Any]:
        now = self.clock()
        health = alerting_health(self.db, now, stale_after=self.stale_after)
        yield GaugeMetricFamily(
            "cronwatch_alert_loop_up",
            "1 when an alert loop beat recently (within the outage threshold), else 0.",
            value=1 if health.alive else 0,
        )
        if health.last_heartbeat is not None:
            yield GaugeMetricFamily(
                "cronwatch_alert_loop_last_heartbeat_timestamp_seconds",
                "Unix time of the latest heartbeat of any alert loop.",
                value=health.last_heartbeat.timestamp(),
            )
        recent = [w for w in health.workers if now - w.last_beat <= self.stale_after]
        yield GaugeMetricFamily(
            "cronwatch_alert_loops", "Alert loops that beat recently.", value=len(recent)
        )
        queue = GaugeMetricFamily(
            "cronwatch_alert_deliveries",
            "Notifications not delivered yet: pending, retrying (failed before), failed (gave up).",
            labels=["state"],
        )
        queue.add_metric(["pending"], health.pending)
        queue.add_metric(["retrying"], health.retrying)
        queue.add_metric(["failed"], health.failed)
        yield queue
        yield GaugeMetricFamily(
            "cronwatch_alert_jobs_down",
            "Jobs whose problem was announced and that have not recovered.",
            value=health.alerting_jobs,
        )
