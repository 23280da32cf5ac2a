"""``/metrics``: Prometheus text, read from the database at scrape time.

Nothing is counted in the server process: every value comes from the per-host job summaries
the database keeps (table ``job_hosts``, maintained by triggers on every write) and from the
health evaluation, so any number of ``cronwatch serve`` processes export the same numbers, and
a restart resets nothing.

Series, per job (label ``cronjob``, never ``job``: Prometheus sets ``job`` to the scrape job's
name) and host (label ``host``):

- ``cronwatch_job_last_success_timestamp_seconds``: completion of the last successful run;
- ``cronwatch_job_last_run_timestamp_seconds``: completion of the last finished run;
- ``cronwatch_job_last_duration_seconds``: duration of the last finished run;
- ``cronwatch_job_runs_total``, ``cronwatch_job_failures_total``: finished and failed runs
  (counters that survive pruning of old runs);
- ``cronwatch_job_running``: runs started and not finished;
- ``cronwatch_job_host_status{status=...}``: 1 for the host's current status, 0 for the others;

and per job: ``cronwatch_job_status{cronjob, status}`` (same enum style) and
``cronwatch_job_severity`` (0 OK, 1 warning, 2 critical), e.g. for an alert rule
``cronwatch_job_severity >= 2``. ``cronwatch_health_evaluation_ok`` is 0 when the health
evaluation failed (the summary series are still exported).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from cronwatch.health.model import PRIORITY
from cronwatch.specs import Config
from cronwatch.storage.connection import Database
from cronwatch.storage.metrics import host_metrics

log = logging.getLogger("cronwatch.web.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ["cronjob", "host"]


class DatabaseCollector(Collector):
    """A prometheus_client collector that reads everything from the database on each scrape."""

    def __init__(self, db: Database, config: Config | None) -> None:
        self.db = db
        self.config = config

    def collect(self) -> Iterator[Any]:
        yield from self._summaries()
        yield from self._statuses()

    def _summaries(self) -> Iterator[Any]:
        last_success = GaugeMetricFamily(
            "cronwatch_job_last_success_timestamp_seconds",
            "Unix time the last successful run of the job on the host completed.",
            labels=_LABELS,
        )
        last_run = GaugeMetricFamily(
            "cronwatch_job_last_run_timestamp_seconds",
            "Unix time the last finished run of the job on the host completed.",
            labels=_LABELS,
        )
        duration = GaugeMetricFamily(
            "cronwatch_job_last_duration_seconds",
            "Duration of the last finished run of the job on the host.",
            labels=_LABELS,
        )
        runs = CounterMetricFamily(
            "cronwatch_job_runs", "Finished runs of the job on the host.", labels=_LABELS
        )
        failures = CounterMetricFamily(
            "cronwatch_job_failures", "Failed runs of the job on the host.", labels=_LABELS
        )
        running = GaugeMetricFamily(
            "cronwatch_job_running",
            "Runs of the job started on the host and not finished.",
            labels=_LABELS,
        )
        for host in host_metrics(self.db):
            labels = [host.name, host.hostname]
            if host.last_success_completed is not None:
                last_success.add_metric(labels, host.last_success_completed.timestamp())
            if host.last_completed is not None:
                last_run.add_metric(labels, host.last_completed.timestamp())
            if host.last_duration is not None:
                duration.add_metric(labels, host.last_duration.total_seconds())
            runs.add_metric(labels, float(host.runs_total))
            failures.add_metric(labels, float(host.failures_total))
            running.add_metric(labels, float(host.running))
        yield from (last_success, last_run, duration, runs, failures, running)

    def _statuses(self) -> Iterator[Any]:
        ok = GaugeMetricFamily(
            "cronwatch_health_evaluation_ok", "1 if the health evaluation of this scrape worked."
        )
        try:
            from cronwatch.health.service import job_statuses

            statuses = job_statuses(self.db, self.config)
        except Exception:
            log.exception("health evaluation failed during a scrape")
            ok.add_metric([], 0.0)
            yield ok
            return
        ok.add_metric([], 1.0)
        job_status = GaugeMetricFamily(
            "cronwatch_job_status",
            "1 for the job's current status, 0 for the others.",
            labels=["cronjob", "status"],
        )
        severity = GaugeMetricFamily(
            "cronwatch_job_severity",
            "The job's severity: 0 OK, 1 warning, 2 critical.",
            labels=["cronjob"],
        )
        host_status = GaugeMetricFamily(
            "cronwatch_job_host_status",
            "1 for the job's current status on the host, 0 for the others.",
            labels=["cronjob", "host", "status"],
        )
        for job in sorted(statuses, key=lambda s: s.name):
            severity.add_metric([job.name], float(job.severity))
            for candidate in PRIORITY:
                job_status.add_metric([job.name, candidate], float(job.status == candidate))
            for host in job.hosts:
                for candidate in PRIORITY:
                    host_status.add_metric(
                        [job.name, host.hostname, candidate], float(host.status == candidate)
                    )
        yield from (ok, job_status, severity, host_status)


def render(db: Database, config: Config | None) -> bytes:
    """The exposition text of one scrape (blocking: call it from a worker thread)."""
    from cronwatch.alerts.metrics import AlertsCollector
    from cronwatch.specs import AlertSettings

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db, config))
    # The alert loops' heartbeat and deliveries (cronwatch_alert_loop_up, ...): watching the
    # watcher from the same scrape.
    alerts = config.alerts if config is not None else AlertSettings()
    registry.register(AlertsCollector(db, stale_after=alerts.outage_after))
    return generate_latest(registry)
