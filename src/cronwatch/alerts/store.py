"""The alerting tables: job states flipped race-safely, events, heartbeats and outages.

Several alert loops may evaluate the same change at the same moment; each flip is a
conditional update on the row's ``version`` (``UPDATE job_states ... WHERE name = ? AND
hostname = ? AND version = <the version the decision was made from>``), and the event and its
deliveries are inserted in the same transaction only when that update changed a row. So one
change is recorded once, and announced once, however many loops saw it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cronwatch.alerts.model import Event, JobState
from cronwatch.alerts.rules import Decision
from cronwatch.storage.connection import Cursor, Database
from cronwatch.timeutil import from_us, to_us

#: Alert loops are this kind in ``workers``.
ALERT_WORKER = "alerts"
#: Heartbeat rows of loops silent for this long are deleted (a restarted loop has a new name).
FORGET_WORKERS_AFTER = timedelta(days=7)
#: Flips per transaction: short transactions keep SQLite writers (recording runs) waiting
#: briefly even when thousands of jobs change at once.
FLIP_CHUNK = 200

#: The columns of a state row; ``STATUS`` and ``ALERTING`` index into them.
#: The columns of a state row, in :func:`state_from_row`'s order.
STATE_COLUMNS = (
    "name, hostname, status, reason, since_us, version, alerting, alert_status,"
    " problem_since_us, recovering_since_us, notified_us, hold_until_us, snooze_until_us"
)
STATUS, ALERTING = 2, 6  # indexes into a state row
EVENT_COLUMNS = "id, name, hostname, kind, old_status, new_status, reason, text, note, at_us"
_FLIP = (
    "UPDATE job_states SET status = ?, reason = ?, since_us = ?, alerting = ?,"
    " alert_status = ?, problem_since_us = ?, recovering_since_us = ?, notified_us = ?,"
    " hold_until_us = ?, updated_us = ?, version = version + 1"
    " WHERE name = ? AND hostname = ? AND version = ?"
)
_INSERT_EVENT = (
    "INSERT INTO events (name, hostname, kind, old_status, new_status, reason, text, note, at_us)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_RECORD_OUTAGE = (
    "INSERT INTO alert_outages (started_us, ended_us) VALUES (?, ?)"
    " ON CONFLICT (started_us) DO NOTHING"
)
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (event_id, channel, name, status, attempts, next_attempt_us,"
    " created_us) VALUES (?, ?, ?, 'pending', 0, ?, ?)"
)


def default_worker_name() -> str:
    """A name unique to this loop: ``alerts@host:pid:random``."""
    return f"{ALERT_WORKER}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


_process_worker: tuple[int, str] | None = None


def process_worker_name() -> str:
    """One name per process (a new one after a fork), for cycles run without a loop."""
    global _process_worker
    if _process_worker is None or _process_worker[0] != os.getpid():
        _process_worker = (os.getpid(), default_worker_name())
    return _process_worker[1]


@dataclass(frozen=True, slots=True)
class Outage:
    """A gap in the alert loops' heartbeat: nobody was watching from ``started`` to ``ended``."""

    started: datetime
    ended: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery not (yet) sent, for ``cronwatch alerts status``."""

    event_id: int
    channel: str
    status: str  # pending | failed (given up)
    attempts: int
    next_attempt: datetime
    last_error: str | None
    created: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Flip:
    """A decision to write: made from the row at ``version``, delivered to ``channels``."""

    version: int
    decision: Decision
    channels: tuple[str, ...] = ()


class AlertStore:
    """The alerting tables of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- states -------------------------------------------------------------------------------

    def states(self) -> dict[tuple[str, str], JobState]:
        """Every row of ``job_states``, by (name, hostname)."""
        return {key: state_from_row(row) for key, row in self.state_rows().items()}

    def state_rows(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        """Every row of ``job_states`` as it comes (:data:`STATE_COLUMNS`), by (name, hostname):
        a cycle turns into :class:`JobState` only the few rows it has to decide about."""
        return {
            (row[0], row[1]): row
            for row in self.db.query(f"SELECT {STATE_COLUMNS} FROM job_states")
        }

    def state(self, name: str, hostname: str = "") -> JobState | None:
        rows = self.db.query(
            f"SELECT {STATE_COLUMNS} FROM job_states WHERE name = ? AND hostname = ?",
            (name, hostname),
        )
        return state_from_row(rows[0]) if rows else None

    def insert_states(self, states: Sequence[JobState], now: datetime) -> None:
        """Rows for jobs and hosts seen for the first time (a row another loop inserted first
        is kept: the flips that follow are conditional on its version)."""
        if not states:
            return
        stamp = to_us(now)
        params = [
            (s.name, s.hostname, s.status, s.reason, to_us(s.since), stamp)
            for s in sorted(states, key=lambda s: (s.name, s.hostname))
        ]
        statement = self.db.sql(
            "INSERT INTO job_states (name, hostname, status, reason, since_us, version,"
            " alerting, updated_us) VALUES (?, ?, ?, ?, ?, 0, 0, ?)"
            " ON CONFLICT (name, hostname) DO NOTHING"
        )
        for start in range(0, len(params), FLIP_CHUNK * 10):
            with self.db.transaction() as cur:
                cur.executemany(statement, params[start : start + FLIP_CHUNK * 10])  # type: ignore[attr-defined]

    def apply(self, flips: Iterable[Flip], now: datetime) -> list[Event]:
        """Write each flip whose row is still at the version it was decided from, with its event
        and, for a notification, a pending delivery per channel; the events written.

        Rows are updated in key order, so that two loops flipping overlapping sets cannot
        deadlock on PostgreSQL.
        """
        ordered = sorted(flips, key=lambda f: (f.decision.state.name, f.decision.state.hostname))
        written: list[Event] = []
        for start in range(0, len(ordered), FLIP_CHUNK):
            with self.db.transaction() as cur:
                for flip in ordered[start : start + FLIP_CHUNK]:
                    event = self._flip(cur, flip, now)
                    if event is not None:
                        written.append(event)
        return written

    def _flip(self, cur: Cursor, flip: Flip, now: datetime) -> Event | None:
        sql, state, event = self.db.sql, flip.decision.state, flip.decision.event
        cur.execute(
            sql(_FLIP),
            (
                state.status,
                state.reason,
                to_us(state.since),
                int(state.alerting),
                state.alert_status,
                _us(state.problem_since),
                _us(state.recovering_since),
                _us(state.notified),
                _us(state.hold_until),
                to_us(now),
                state.name,
                state.hostname,
                flip.version,
            ),
        )
        if cur.rowcount != 1:
            return None  # another loop changed the row since we read it: its event stands
        cur.execute(
            sql(_INSERT_EVENT),
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
            ),
        )
        event_id = int(cur.fetchone()[0])
        if event.notifies:
            for channel in flip.channels:
                cur.execute(
                    sql(_INSERT_DELIVERY), (event_id, channel, event.name, to_us(now), to_us(now))
                )
        return replace(event, id=event_id)

    def snooze(self, name: str, until: datetime | None, now: datetime) -> None:
        """Silence ``name`` until ``until`` (``None``: lift the snooze)."""
        self.db.execute(
            "INSERT INTO job_states (name, hostname, status, reason, since_us, version,"
            " alerting, snooze_until_us, updated_us) VALUES (?, '', 'new', '', ?, 0, 0, ?, ?)"
            " ON CONFLICT (name, hostname) DO UPDATE SET"
            " snooze_until_us = excluded.snooze_until_us, updated_us = excluded.updated_us",
            (name, to_us(now), _us(until), to_us(now)),
        )

    def alerting(self) -> list[JobState]:
        """Jobs whose problem has been announced and not yet recovered."""
        rows = self.db.query(
            f"SELECT {STATE_COLUMNS} FROM job_states WHERE alerting = 1 AND hostname = ''"
            " ORDER BY name"
        )
        return [state_from_row(row) for row in rows]

    def snoozed(self, now: datetime) -> list[JobState]:
        rows = self.db.query(
            f"SELECT {STATE_COLUMNS} FROM job_states WHERE snooze_until_us > ? ORDER BY name",
            (to_us(now),),
        )
        return [state_from_row(row) for row in rows]

    # -- events -------------------------------------------------------------------------------

    def events(
        self, name: str | None = None, *, limit: int = 50, notifications_only: bool = False
    ) -> list[Event]:
        """The latest events, newest first (of ``name``; only notifications if asked)."""
        where, params = [], []
        if name is not None:
            where.append("name = ?")
            params.append(name)
        if notifications_only:
            where.append("kind <> 'change'")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.query(
            f"SELECT {EVENT_COLUMNS} FROM events{clause} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [event_from_row(row) for row in rows]

    def deliveries(self, *, limit: int = 100) -> list[DeliveryRow]:
        """Deliveries not sent: given up first, then those waiting, oldest first."""
        rows = self.db.query(
            "SELECT d.event_id, d.channel, d.status, d.attempts, d.next_attempt_us,"
            " d.last_error, d.created_us, e.text FROM deliveries d"
            " JOIN events e ON e.id = d.event_id WHERE d.status IN ('pending', 'failed')"
            " ORDER BY d.status, d.event_id LIMIT ?",
            (limit,),
        )
        return [
            DeliveryRow(
                int(event_id),
                channel,
                status,
                int(attempts),
                from_us(int(next_us)),
                error,
                from_us(int(created)),
                text,
            )
            for event_id, channel, status, attempts, next_us, error, created, text in rows
        ]

    def retry_failed(self, now: datetime, channel: str | None = None) -> int:
        """Put given-up deliveries (of ``channel``) back in the queue, due now, with a fresh
        give-up deadline; the number requeued."""
        where = " AND channel = ?" if channel is not None else ""
        params: tuple[Any, ...] = (to_us(now), to_us(now))
        return self.db.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_us = ?, created_us = ?,"
            f" claim = NULL WHERE status = 'failed'{where}",
            (*params, channel) if channel is not None else params,
        )

    def prune_events(self, before: datetime) -> int:
        """Delete events older than ``before`` that have no delivery still pending."""
        return self.db.execute("DELETE FROM events" + _PRUNABLE_EVENTS, (to_us(before),))

    def count_prunable_events(self, before: datetime) -> int:
        """How many events :meth:`prune_events` would delete."""
        rows = self.db.query("SELECT COUNT(*) FROM events" + _PRUNABLE_EVENTS, (to_us(before),))
        return int(rows[0][0])

    # -- heartbeats and outages ---------------------------------------------------------------

    def beat(self, worker: str, now: datetime, outage_after: timedelta) -> Outage | None:
        """Record ``worker``'s heartbeat at ``now``; if no alert loop had beaten for longer than
        ``outage_after``, record and return that gap as an outage of cronwatch itself.

        The outage is keyed by its start (the last heartbeat before it), so loops that start
        together after one record it once.
        """
        stamp = to_us(now)
        outage = None
        with self.db.transaction() as cur:
            sql = self.db.sql
            cur.execute(
                sql("SELECT MAX(last_beat_us) FROM workers WHERE kind = ?"), (ALERT_WORKER,)
            )
            last = cur.fetchone()[0]
            if last is not None and stamp - int(last) > outage_after // timedelta(microseconds=1):
                cur.execute(sql(_RECORD_OUTAGE), (int(last), stamp))
                outage = Outage(from_us(int(last)), now)
            cur.execute(
                sql(
                    "INSERT INTO workers (name, kind, hostname, pid, started_us, last_beat_us)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                    " last_beat_us = excluded.last_beat_us"
                ),
                (worker, ALERT_WORKER, socket.gethostname(), os.getpid(), stamp, stamp),
            )
            cur.execute(
                sql("DELETE FROM workers WHERE kind = ? AND last_beat_us < ?"),
                (ALERT_WORKER, to_us(now - FORGET_WORKERS_AFTER)),
            )
        return outage

    def touch(self, worker: str, at: datetime) -> None:
        """Move ``worker``'s heartbeat to ``at`` (the end of a long cycle), so that the next
        cycle does not mistake the time spent in this one for an outage."""
        self.db.execute(
            "UPDATE workers SET last_beat_us = ? WHERE name = ? AND last_beat_us < ?",
            (to_us(at), worker, to_us(at)),
        )

    def latest_outage(self) -> Outage | None:
        rows = self.db.query(
            "SELECT started_us, ended_us FROM alert_outages ORDER BY ended_us DESC LIMIT 1"
        )
        return Outage(from_us(rows[0][0]), from_us(rows[0][1])) if rows else None

    def outages(self, limit: int = 10) -> list[Outage]:
        rows = self.db.query(
            "SELECT started_us, ended_us FROM alert_outages ORDER BY ended_us DESC LIMIT ?",
            (limit,),
        )
        return [Outage(from_us(a), from_us(b)) for a, b in rows]


def _us(value: datetime | None) -> int | None:
    return None if value is None else to_us(value)


def _dt(value: int | None) -> datetime | None:
    return None if value is None else from_us(int(value))


def state_from_row(row: Sequence[Any]) -> JobState:
    """A :class:`JobState` from a row of :data:`STATE_COLUMNS`."""
    (
        name,
        hostname,
        status,
        reason,
        since,
        version,
        alerting,
        alert_status,
        problem_since,
        recovering_since,
        notified,
        hold_until,
        snooze_until,
    ) = row
    return JobState(
        name=name,
        hostname=hostname,
        status=status,
        reason=reason,
        since=from_us(int(since)),
        version=int(version),
        alerting=bool(alerting),
        alert_status=alert_status,
        problem_since=_dt(problem_since),
        recovering_since=_dt(recovering_since),
        notified=_dt(notified),
        hold_until=_dt(hold_until),
        snooze_until=_dt(snooze_until),
    )


def event_from_row(row: Sequence[Any]) -> Event:
    """An :class:`Event` from a row of :data:`EVENT_COLUMNS`."""
    event_id, name, hostname, kind, old, new, reason, text, note, at = row
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
    )


_PRUNABLE_EVENTS = (
    " WHERE at_us < ? AND NOT EXISTS (SELECT 1 FROM deliveries d"
    " WHERE d.event_id = events.id AND d.status = 'pending')"
)
