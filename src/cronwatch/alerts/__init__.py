"""Alerts: tell the right people once when a job goes wrong, and when it recovers.

Every status change of a job (and of each of its hosts) is stored as an event; problems and
recoveries are announced on the job's channels (email, webhook, command) with noise control
(consecutive failures, good runs before recovery, reminders, snoozes, maintenance windows,
paused jobs) and a guard against cronwatch's own outages. Any number of alert loops can share
one PostgreSQL database: every change is recorded once and every notification delivered once.

    cycle.run_alert_cycle(db, config, now)     one cycle
    loop.AlertLoop(url, config).start()        cycles every [alerts] interval in a thread
    health.alerting_health(db) / health.last_heartbeat(db)   for /healthz and /metrics

Modules: ``rules`` (the noise-control decisions, pure), ``observe`` (statuses and the facts
behind them), ``deliver`` (sending the delivery queue), ``channels`` (one module per channel
type), ``messages`` (the words), ``model`` (the records storage reads and writes). The tables
(states, events, deliveries, heartbeats) live in :mod:`cronwatch.storage.alerts`.

This package's ``__init__`` imports nothing: :mod:`cronwatch.storage` imports ``model``, which
runs this file first, and the engine (``cycle``, ``loop``) imports storage. Import what you use
from its module.
"""
