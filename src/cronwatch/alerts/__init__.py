"""Alerts: tell the right people once when a job goes wrong, and when it recovers.

Every status change of a job (and of each of its hosts) is stored as an event; problems and
recoveries are announced on the job's channels (email, webhook, command) with noise control
(consecutive failures, good runs before recovery, reminders, snoozes, maintenance windows,
paused jobs) and a guard against cronwatch's own outages. Any number of alert loops can share
one PostgreSQL database: every change is recorded once and every notification delivered once.

    run_alert_cycle(db, config, now)   one cycle (cycle.py)
    AlertLoop(url, config).start()     cycles every [alerts] interval in a thread (loop.py)
    alerting_health(db) / last_heartbeat(db)   for /healthz and /metrics (health.py)

Modules: ``rules`` (the noise-control decisions, pure), ``observe`` (statuses and the facts
behind them), ``deliver`` (sending the delivery queue), ``channels`` (one module per channel
type), ``messages`` (the words). The tables (states, events, deliveries, heartbeats) live in
:mod:`cronwatch.storage.alerts`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cronwatch.alerts.cycle import CycleSummary, run_alert_cycle
    from cronwatch.alerts.health import AlertingHealth, alerting_health, last_heartbeat
    from cronwatch.alerts.loop import AlertLoop

# Loaded on first use (PEP 562), not when the package is: storage imports this package's
# records (``cronwatch.alerts.model``), and the engine below imports storage.
_EXPORTS = {
    "AlertLoop": "cronwatch.alerts.loop",
    "AlertingHealth": "cronwatch.alerts.health",
    "CycleSummary": "cronwatch.alerts.cycle",
    "alerting_health": "cronwatch.alerts.health",
    "last_heartbeat": "cronwatch.alerts.health",
    "run_alert_cycle": "cronwatch.alerts.cycle",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AlertLoop",
    "AlertingHealth",
    "CycleSummary",
    "alerting_health",
    "last_heartbeat",
    "run_alert_cycle",
]
