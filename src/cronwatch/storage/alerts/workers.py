"""Alert loops and their heartbeats (table ``workers``), and the gaps between heartbeats:
outages of cronwatch itself (table ``alert_outages``). Every cycle beats; ``/healthz``,
``/metrics`` and ``cronwatch alerts status`` read the beats."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cronwatch.storage.connection import Database
from cronwatch.timeutil import from_us, to_us

#: Alert loops are this kind in ``workers``.
ALERT_WORKER = "alerts"
#: A periodic task that one alert loop among those sharing a database does (the hourly prune)
#: is a row of ``workers`` of this kind, named after the task; its beat is the task's last start.
TASK_WORKER = "task"
#: Heartbeat rows of loops silent for this long are deleted (a restarted loop has a new name).
FORGET_WORKERS_AFTER = timedelta(days=7)

_US = timedelta(microseconds=1)
_RECORD_OUTAGE = (
    "INSERT INTO alert_outages (started_us, ended_us) VALUES (?, ?)"
    " ON CONFLICT (started_us) DO NOTHING"
)
_BEAT = (
    "INSERT INTO workers (name, kind, hostname, pid, started_us, last_beat_us, config)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
    " last_beat_us = excluded.last_beat_us, config = excluded.config"
)
_LAST_BEAT = "SELECT MAX(last_beat_us) FROM workers WHERE kind = ?"


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


@dataclass(frozen=True)
class WorkerBeat:
    """An alert loop and its latest heartbeat."""

    name: str
    hostname: str
    pid: int
    started: datetime
    last_beat: datetime


class WorkerStore:
    """The alert loops' heartbeats and outages in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def beat(
        self, worker: str, now: datetime, outage_after: timedelta, config: str | None = None
    ) -> Outage | None:
        """Record ``worker``'s heartbeat at ``now`` (with its ``config`` fingerprint); if no
        alert loop had beaten for longer than ``outage_after``, record and return that gap as an
        outage of cronwatch itself.

        The outage is keyed by its start (the last heartbeat before it), so loops that start
        together after one record it once.
        """
        stamp = to_us(now)
        outage = None
        with self.db.transaction() as cur:
            sql = self.db.sql
            cur.execute(sql(_LAST_BEAT), (ALERT_WORKER,))
            last = cur.fetchone()[0]
            if last is not None and stamp - int(last) > outage_after // timedelta(microseconds=1):
                cur.execute(sql(_RECORD_OUTAGE), (int(last), stamp))
                outage = Outage(from_us(int(last)), now)
            cur.execute(
                sql(_BEAT),
                (worker, ALERT_WORKER, socket.gethostname(), os.getpid(), stamp, stamp, config),
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

    def claim_task(self, task: str, now: datetime, every: timedelta) -> datetime | None:
        """Claim the periodic ``task`` at ``now``: ``None`` when it was never claimed or last
        claimed ``every`` or longer before ``now`` (it is now the caller's to do; the row
        records the caller's host and process); else when it was last claimed (another
        worker got there first: ask again at that plus ``every``). Callers that ask at once
        get one ``None`` between them: the claim is one conditional ``UPDATE`` (or the
        ``INSERT`` of the first claim) that only one of them can make."""
        stamp, host, pid = to_us(now), socket.gethostname(), os.getpid()
        with self.db.transaction() as cur:
            sql = self.db.sql
            cur.execute(
                sql(
                    "UPDATE workers SET last_beat_us = ?, hostname = ?, pid = ?"
                    " WHERE name = ? AND kind = ? AND last_beat_us <= ?"
                ),
                (stamp, host, pid, task, TASK_WORKER, stamp - every // _US),
            )
            if cur.rowcount == 1:
                return None
            cur.execute(
                sql(
                    "INSERT INTO workers (name, kind, hostname, pid, started_us, last_beat_us)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING"
                ),
                (task, TASK_WORKER, host, pid, stamp, stamp),
            )
            if cur.rowcount == 1:
                return None
            cur.execute(
                sql("SELECT last_beat_us FROM workers WHERE name = ? AND kind = ?"),
                (task, TASK_WORKER),
            )
            row = cur.fetchone()
        return now if row is None else from_us(int(row[0]))

    def last_heartbeat(self) -> datetime | None:
        """The latest heartbeat of any alert loop, or ``None`` if none ever ran."""
        rows = self.db.query(_LAST_BEAT, (ALERT_WORKER,))
        value = rows[0][0] if rows else None
        return None if value is None else from_us(int(value))

    def workers(self, since: datetime) -> list[WorkerBeat]:
        """The alert loops that beat at ``since`` or later, latest beat first."""
        rows = self.db.query(
            "SELECT name, hostname, pid, started_us, last_beat_us FROM workers"
            " WHERE kind = ? AND last_beat_us >= ? ORDER BY last_beat_us DESC",
            (ALERT_WORKER, to_us(since)),
        )
        return [
            WorkerBeat(name, hostname, int(pid), from_us(int(started)), from_us(int(beat)))
            for name, hostname, pid, started, beat in rows
        ]

    def configs(self, since: datetime) -> dict[str, str | None]:
        """The config fingerprint each alert loop that beat at ``since`` or later stored with
        its latest beat (``None``: it did not say), by loop name: one read of a small table."""
        rows = self.db.query(
            "SELECT name, config FROM workers WHERE kind = ? AND last_beat_us >= ?",
            (ALERT_WORKER, to_us(since)),
        )
        return {name: config for name, config in rows}

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
