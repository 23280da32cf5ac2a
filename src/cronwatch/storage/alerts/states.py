"""Each job's alerting state and each of its hosts' last status (table ``job_states``),
flipped race-safely.

Several alert loops may evaluate the same change at the same moment; each flip is a
conditional update on the row's ``version`` (``UPDATE job_states ... WHERE name = ? AND
hostname = ? AND version = <the version the decision was made from>``), and the event and its
deliveries are inserted in the same transaction only when that update changed a row. So one
change is recorded once, and announced once, however many loops saw it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cronwatch.alerts.model import Event, JobState
from cronwatch.storage.alerts.deliveries import DeliveryStore
from cronwatch.storage.alerts.events import EventStore
from cronwatch.storage.connection import Cursor, Database
from cronwatch.timeutil import from_us, to_us

#: Flips per transaction: short transactions keep SQLite writers (recording runs) waiting
#: briefly even when thousands of jobs change at once.
FLIP_CHUNK = 200

#: The columns of a state row, in :func:`state_from_row`'s order.
STATE_COLUMNS = (
    "name, hostname, status, reason, since_us, version, alerting, alert_status,"
    " problem_since_us, recovering_since_us, notified_us, hold_until_us, snooze_until_us,"
    " incident, acked_us, acked_by, ack_note, escalated_us, announced_us"
)
STATUS, ALERTING = 2, 6  # indexes into a state row
_FLIP = (
    "UPDATE job_states SET status = ?, reason = ?, since_us = ?, alerting = ?,"
    " alert_status = ?, problem_since_us = ?, recovering_since_us = ?, notified_us = ?,"
    " hold_until_us = ?, incident = ?, acked_us = ?, acked_by = ?, ack_note = ?,"
    " escalated_us = ?, announced_us = ?, updated_us = ?, version = version + 1"
    " WHERE name = ? AND hostname = ? AND version = ?"
)
# Acknowledging bumps the version: a reminder or an escalation decided from the row as it was
# before is then not written (its flip's condition fails), so none is sent after an ack.
_ACK = (
    "UPDATE job_states SET acked_us = ?, acked_by = ?, ack_note = ?, updated_us = ?,"
    " version = version + 1 WHERE name = ? AND hostname = '' AND alerting = 1"
    " RETURNING status, reason, incident, problem_since_us"
)
# A first state only while its job is stored: a job deleted since the cycle read it gets no row
# (a job recorded later under its name would take the row over, its first problem announced
# to nobody). The SELECT has a WHERE, which SQLite needs to read the ON CONFLICT that follows
# as the upsert's (not as a join's ON). The read takes no lock: on PostgreSQL a deletion still
# uncommitted when it reads is not seen (a lock on the job's row could deadlock with the
# deletion, which deletes the job's states before the job).
_INSERT_STATE = (
    "INSERT INTO job_states (name, hostname, status, reason, since_us, version,"
    " alerting, updated_us) SELECT name, ?, ?, ?, ?, 0, 0, ? FROM jobs WHERE name = ?"
    " ON CONFLICT (name, hostname) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class Flip:
    """A change to write: ``state`` and the ``event`` recording it, decided from the row at
    ``version``; a notifying event is delivered to ``channels``."""

    version: int
    state: JobState
    event: Event
    channels: tuple[str, ...] = ()


class StateStore:
    """The ``job_states`` rows of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def states(self) -> dict[tuple[str, str], JobState]:
        """Every row of ``job_states``, by (name, hostname)."""
        return {key: state_from_row(row) for key, row in self.state_rows().items()}

    def state_rows(
        self, names: Sequence[str] | None = None
    ) -> dict[tuple[str, str], tuple[Any, ...]]:
        """Every row of ``job_states`` (of the jobs ``names``) as it comes
        (:data:`STATE_COLUMNS`), by (name, hostname): a cycle turns into :class:`JobState`
        only the few rows it has to decide about."""
        select = f"SELECT {STATE_COLUMNS} FROM job_states"
        if names is None:
            return {(row[0], row[1]): row for row in self.db.query(select)}
        rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        for start in range(0, len(names), FLIP_CHUNK):
            chunk = names[start : start + FLIP_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in self.db.query(f"{select} WHERE name IN ({marks})", chunk):
                rows[(row[0], row[1])] = row
        return rows

    def state(self, name: str, hostname: str = "") -> JobState | None:
        rows = self.db.query(
            f"SELECT {STATE_COLUMNS} FROM job_states WHERE name = ? AND hostname = ?",
            (name, hostname),
        )
        return state_from_row(rows[0]) if rows else None

    def insert_states(self, states: Sequence[JobState], now: datetime) -> None:
        """Rows for jobs and hosts seen for the first time, of the jobs still stored (a row
        another loop inserted first is kept, and a job deleted since it was evaluated gets
        none: the flips that follow are conditional on the version they were decided from, 0,
        and change nothing where no row has it)."""
        if not states:
            return
        stamp = to_us(now)
        params = [
            (s.hostname, s.status, s.reason, to_us(s.since), stamp, s.name)
            for s in sorted(states, key=lambda s: (s.name, s.hostname))
        ]
        statement = self.db.sql(_INSERT_STATE)
        for start in range(0, len(params), FLIP_CHUNK * 10):
            with self.db.transaction() as cur:
                cur.executemany(statement, params[start : start + FLIP_CHUNK * 10])  # type: ignore[attr-defined]

    def apply(self, flips: Iterable[Flip], now: datetime) -> list[Event]:
        """Write each flip whose row is still at the version it was decided from, with its event
        and, for a notification, a pending delivery per channel; the events written.

        Rows are updated in key order, so that two loops flipping overlapping sets cannot
        deadlock on PostgreSQL.
        """
        ordered = sorted(flips, key=lambda f: (f.state.name, f.state.hostname))
        events, deliveries = EventStore(self.db), DeliveryStore(self.db)
        written: list[Event] = []
        for start in range(0, len(ordered), FLIP_CHUNK):
            with self.db.transaction() as cur:
                for flip in ordered[start : start + FLIP_CHUNK]:
                    if not self._flip(cur, flip, now):
                        # Another loop changed the row since we read it (its event stands), or
                        # the job was deleted since (no row: its first state was not inserted).
                        continue
                    event_id = events.insert_event(cur, flip.event)
                    if flip.event.notifies:
                        deliveries.insert_deliveries(
                            cur, event_id, flip.event.name, flip.channels, now
                        )
                    written.append(replace(flip.event, id=event_id))
        return written

    def _flip(self, cur: Cursor, flip: Flip, now: datetime) -> bool:
        state = flip.state
        cur.execute(
            self.db.sql(_FLIP),
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
                state.incident,
                _us(state.acked),
                state.acked_by,
                state.ack_note,
                _us(state.escalated),
                _us(state.announced),
                to_us(now),
                state.name,
                state.hostname,
                flip.version,
            ),
        )
        return bool(cur.rowcount == 1)

    def acknowledge(self, name: str, by: str, note: str | None, now: datetime) -> Event | None:
        """Acknowledge job ``name``'s announced problem (by ``by``, with ``note``) and record
        it as an ``ack`` event, in one transaction; the event, or ``None`` when the job has
        no problem announced (nothing is written then)."""
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(_ACK), (to_us(now), by, note, to_us(now), name))
            row = cur.fetchone()
            if row is None:
                return None
            status, reason, incident, since = row
            who = f" by {by}" if by else ""
            event = Event(
                name=name,
                hostname="",
                kind="ack",
                old_status=status,
                new_status=status,
                reason=reason,
                text=f"{name} acknowledged{who}" + (f": {note}" if note else ""),
                at=now,
                note=note,
                incident=incident,
                since=_dt(since),
                actor=by,
            )
            event_id = EventStore(self.db).insert_event(cur, event)
        return replace(event, id=event_id)

    def snooze(self, name: str, until: datetime | None, now: datetime) -> None:
        """Silence ``name`` until ``until`` (``None``: lift the snooze); the job is due at the
        next alert cycle (a recovery held by the snooze is then sent)."""
        self.db.execute(
            "UPDATE jobs SET check_due_us = 0, changes = changes + 1 WHERE name = ?", (name,)
        )
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

    def count_alerting(self) -> int:
        """How many jobs :meth:`alerting` would list."""
        rows = self.db.query("SELECT COUNT(*) FROM job_states WHERE alerting = 1 AND hostname = ''")
        return int(rows[0][0])

    def snoozed(self, now: datetime) -> list[JobState]:
        rows = self.db.query(
            f"SELECT {STATE_COLUMNS} FROM job_states WHERE snooze_until_us > ? ORDER BY name",
            (to_us(now),),
        )
        return [state_from_row(row) for row in rows]


def unseen_snooze(state: JobState) -> bool:
    """Whether ``state`` is the row :meth:`StateStore.snooze` inserts for a job not stored yet
    (one declared in the config file), untouched since: host ``''``, ``new``, no reason,
    version 0, not alerting, snoozed. It is the one state without its job that no deleted job
    left (it holds no announced problem): migration 0016 keeps it (in SQL of its own: a
    migration is frozen history), and ``cronwatch import`` takes it."""
    return (
        state.hostname == ""
        and state.status == "new"
        and state.reason == ""
        and state.version == 0
        and not state.alerting
        and state.snooze_until is not None
    )


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
        incident,
        acked,
        acked_by,
        ack_note,
        escalated,
        announced,
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
        incident=incident,
        acked=_dt(acked),
        acked_by=acked_by,
        ack_note=ack_note,
        escalated=_dt(escalated),
        announced=_dt(announced),
    )
