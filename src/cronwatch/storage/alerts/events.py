"""Events: the status changes and notifications of jobs, the history and the alert queue at
once (table ``events``). Written by :meth:`StateStore.apply
<cronwatch.storage.alerts.states.StateStore.apply>` with the flip they record; read by
``cronwatch alerts log`` and the delivery loop; pruned by the retention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cronwatch.alerts.model import Details, Event
from cronwatch.storage.connection import Cursor, Database
from cronwatch.timeutil import from_us, to_us

#: The columns of an event row, in :func:`event_from_row`'s order.
EVENT_COLUMNS = (
    "id, name, hostname, kind, old_status, new_status, reason, text, note, at_us,"
    " incident, since_us, actor, details"
)
_INSERT_EVENT = (
    "INSERT INTO events (name, hostname, kind, old_status, new_status, reason, text, note, at_us,"
    " incident, since_us, actor, details)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
# Events with a delivery still pending are kept whatever their age.
_PRUNABLE_EVENTS = (
    " WHERE at_us < ? AND NOT EXISTS (SELECT 1 FROM deliveries d"
    " WHERE d.event_id = events.id AND d.status = 'pending')"
)


_INSERT_LOG = (
    "INSERT INTO events (name, hostname, kind, old_status, new_status, reason, text, at_us)"
    " SELECT ?, ?, 'log', '', '', 'log', ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE name = ?)"
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """A ``/log`` ping: ``text`` (its body) recorded in job ``name``'s history at ``at``."""

    name: str
    hostname: str
    text: str
    at: datetime


class EventStore:
    """The events of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert_event(self, cur: Cursor, event: Event) -> int:
        """Store ``event`` with ``cur`` (in the transaction of its flip); its id."""
        cur.execute(
            self.db.sql(_INSERT_EVENT),
            (
                event.name,
                event.hostname,
                event.kind,
                event.old_status,
                event.new_status,
                event.reason,
                event.text,
                event.note,
                to_us(event.at),
                event.incident,
                None if event.since is None else to_us(event.since),
                event.actor,
                None if event.details is None else event.details.dumps(),
            ),
        )
        return int(cur.fetchone()[0])

    def insert_logs(self, cur: Cursor, lines: Sequence[LogLine]) -> list[bool]:
        """Store each ``/log`` ping as an event of kind ``log`` (no status, nothing delivered),
        with ``cur`` in its open transaction; for each, whether it was stored (``False``: no
        job of that name)."""
        stored = []
        for line in lines:
            cur.execute(
                self.db.sql(_INSERT_LOG),
                (line.name, line.hostname, line.text, to_us(line.at), line.name),
            )
            stored.append(cur.rowcount == 1)
        return stored

    def record_event(self, event: Event) -> Event:
        """Store ``event`` on its own (an action, which no flip goes with); it, with its id."""
        with self.db.transaction() as cur:
            event_id = self.insert_event(cur, event)
        return replace(event, id=event_id)

    def events(
        self, name: str | None = None, *, limit: int = 50, notifications_only: bool = False
    ) -> list[Event]:
        """The latest events, newest first (of ``name``; only notifications if asked)."""
        where, params = [], []
        if name is not None:
            where.append("name = ?")
            params.append(name)
        if notifications_only:
            where.append("kind NOT IN ('change', 'log')")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.query(
            f"SELECT {EVENT_COLUMNS} FROM events{clause} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [event_from_row(row) for row in rows]

    def log_lines(self, name: str, *, limit: int = 20) -> list[Event]:
        """Job ``name``'s latest ``/log`` lines (events of kind ``log``), newest first."""
        rows = self.db.query(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE name = ? AND kind = 'log'"
            " ORDER BY id DESC LIMIT ?",
            (name, limit),
        )
        return [event_from_row(row) for row in rows]

    def events_by_id(self, ids: Sequence[int]) -> dict[int, Event]:
        """The stored events among ``ids``, by id (a deleted one is missing)."""
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self.db.query(f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN ({marks})", ids)
        return {int(row[0]): event_from_row(row) for row in rows}

    def prune_events(self, before: datetime) -> int:
        """Delete events older than ``before`` that have no delivery still pending."""
        return self.db.execute("DELETE FROM events" + _PRUNABLE_EVENTS, (to_us(before),))

    def count_prunable_events(self, before: datetime) -> int:
        """How many events :meth:`prune_events` would delete."""
        rows = self.db.query("SELECT COUNT(*) FROM events" + _PRUNABLE_EVENTS, (to_us(before),))
        return int(rows[0][0])


def event_from_row(row: Sequence[Any]) -> Event:
    """An :class:`Event` from a row of :data:`EVENT_COLUMNS`."""
    event_id, name, hostname, kind, old, new, reason, text, note, at = row[:10]
    incident, since, actor, details = row[10:14]
    return Event(
        name=name,
        hostname=hostname,
        kind=kind,
        old_status=old,
        new_status=new,
        reason=reason,
        text=text,
        note=note,
        at=from_us(int(at)),
        id=int(event_id),
        incident=incident,
        since=None if since is None else from_us(int(since)),
        actor=actor,
        details=Details.loads(details),
    )
