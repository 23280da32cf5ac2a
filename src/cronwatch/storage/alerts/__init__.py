"""The alerting tables, one module per concept: ``deadlines`` (when each job is next to be
looked at), ``counts`` (how many jobs have each stored status), ``states`` (each job's
alerting state, flipped race-safely), ``events`` (the history and the alert queue),
``deliveries`` (each notification sent once per channel), ``workers`` (the alert loops'
heartbeats and cronwatch's own outages).

:class:`AlertStore` is all six over one database, for callers (the alert cycle, ``cronwatch
alerts``) that use several.
"""

from __future__ import annotations

from cronwatch.storage.alerts.counts import CountStore
from cronwatch.storage.alerts.deadlines import DeadlineStore
from cronwatch.storage.alerts.deliveries import DeliveryStore
from cronwatch.storage.alerts.events import EventStore
from cronwatch.storage.alerts.states import StateStore
from cronwatch.storage.alerts.workers import WorkerStore


class AlertStore(StateStore, EventStore, DeliveryStore, WorkerStore, DeadlineStore, CountStore):
    """The alerting tables of one database: every method of the six stores."""


__all__ = [
    "AlertStore",
    "CountStore",
    "DeadlineStore",
    "DeliveryStore",
    "EventStore",
    "StateStore",
    "WorkerStore",
]
