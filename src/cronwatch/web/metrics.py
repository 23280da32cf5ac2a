"""``/metrics``: the Prometheus exposition (:mod:`cronwatch.prometheus`, which documents every
series) and the alert loops' own series (:mod:`cronwatch.alerts.metrics`), streamed.

The database is read and every job evaluated before the first byte is sent (in a worker
thread), so a failure is a 5xx rather than a truncated scrape; the text then streams from
spools whose memory is bounded whatever the number of jobs. ``?tag=db`` (repeatable) keeps
jobs with any of those tags; the per-host series follow ``[metrics] per_host``.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest

from cronwatch.prometheus import CONTENT_TYPE, Exposition, expose
from cronwatch.specs import Config
from cronwatch.storage.connection import Database

__all__ = ["CONTENT_TYPE", "exposition", "render"]


def exposition(
    db: Database, config: Config | None, tags: Iterable[str] | None = None
) -> Exposition:
    """One scrape, ready to stream (blocking: call it from a worker thread)."""
    from cronwatch.alerts.metrics import AlertsCollector
    from cronwatch.specs import AlertSettings

    out = expose(db, config, tags=tags)
    try:
        registry = CollectorRegistry(auto_describe=False)
        # The alert loops' heartbeat and deliveries (cronwatch_alert_loop_up, ...): watching
        # the watcher from the same scrape.
        alerts = config.alerts if config is not None else AlertSettings()
        registry.register(AlertsCollector(db, stale_after=alerts.outage_after))
        out.trailer = generate_latest(registry)
    except BaseException:
        out.close()
        raise
    return out


def render(db: Database, config: Config | None, tags: Iterable[str] | None = None) -> bytes:
    """The whole exposition text of one scrape at once (for tests and small fleets)."""
    return b"".join(exposition(db, config, tags).chunks())
