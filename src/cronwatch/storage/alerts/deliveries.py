"""Deliveries: one row per notification event and channel (table ``deliveries``), claimed
before it is sent, sent once, retried with backoff (the policy is
:mod:`cronwatch.alerts.deliver`'s; the statements are here).

A claim pushes ``next_attempt_us`` a lease ahead and writes a random ``claim`` token, in one
statement that picks due rows with the dialect's row lock (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; under SQLite's write lock a plain ``UPDATE`` is already atomic): loops sharing a
database never send the same row twice, and never wait on each other. An outcome is written
only where the token still matches. A delivery is claimed only when no older delivery of the
same job to the same channel is pending, so a channel that comes back gets "MISSING" before
"recovered", never after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cronwatch.storage.connection import Cursor, Database
from cronwatch.timeutil import from_us, to_us

#: Job names per query (well under SQLite's limit on parameters).
_NAMES_CHUNK = 500

_INSERT_DELIVERY = (
    "INSERT INTO deliveries (event_id, channel, name, status, attempts, next_attempt_us,"
    " created_us) VALUES (?, ?, ?, 'pending', 0, ?, ?)"
)
_CLAIM = """
UPDATE deliveries SET claim = ?, next_attempt_us = ?
WHERE (event_id, channel) IN (
    SELECT d.event_id, d.channel FROM deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_us <= ?
      AND NOT EXISTS (
        SELECT 1 FROM deliveries o WHERE o.status = 'pending' AND o.channel = d.channel
          AND o.name = d.name AND o.event_id < d.event_id)
    ORDER BY d.event_id LIMIT ?{lock})
RETURNING event_id, channel, attempts, created_us
"""
_SENT = (
    "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_us = ?, claim = NULL,"
    " last_error = NULL WHERE event_id = ? AND channel = ? AND claim = ?"
)
_FAILED = (
    "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_error = ?,"
    " next_attempt_us = ?, claim = NULL WHERE event_id = ? AND channel = ? AND claim = ?"
)
_RELEASE = (
    "UPDATE deliveries SET claim = NULL, next_attempt_us = ?"
    " WHERE event_id = ? AND channel = ? AND claim = ?"
)


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
class Claimed:
    """A delivery claimed for sending (see :meth:`DeliveryStore.claim_deliveries`)."""

    event_id: int
    channel: str
    attempts: int
    created: datetime


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """The queue: ``pending`` (first try or retry), ``retrying`` (those of them that failed at
    least once), ``failed`` (given up)."""

    pending: int
    retrying: int
    failed: int


class DeliveryStore:
    """The delivery queue of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert_deliveries(
        self, cur: Cursor, event_id: int, name: str, channels: Sequence[str], now: datetime
    ) -> None:
        """Queue event ``event_id`` (of job ``name``) for each of ``channels``, due ``now``,
        with ``cur`` (in the transaction that stores the event)."""
        for channel in channels:
            cur.execute(
                self.db.sql(_INSERT_DELIVERY), (event_id, channel, name, to_us(now), to_us(now))
            )

    def incident_channels(self, names: Sequence[str]) -> dict[str, frozenset[str]]:
        """The channels that were given a delivery of each incident (by incident id) of the
        jobs ``names``: whom an open incident was announced to (a channel added since has
        none)."""
        heard: dict[str, set[str]] = {}
        unique = sorted(set(names))
        for start in range(0, len(unique), _NAMES_CHUNK):
            chunk = unique[start : start + _NAMES_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self.db.query(
                "SELECT DISTINCT e.incident, d.channel FROM events e"
                " JOIN deliveries d ON d.event_id = e.id"
                f" WHERE e.name IN ({marks}) AND e.incident IS NOT NULL",
                tuple(chunk),
            )
            for incident, channel in rows:
                heard.setdefault(str(incident), set()).add(str(channel))
        return {incident: frozenset(channels) for incident, channels in heard.items()}

    def claim_deliveries(
        self, token: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claimed]:
        """Claim up to ``limit`` deliveries due at ``now`` under ``token`` until
        ``lease_until``, oldest event first (see the module docstring)."""
        rows = self.db.query(
            _CLAIM.format(lock=self.db.dialect.SKIP_LOCKED),
            (token, to_us(lease_until), to_us(now), limit),
        )
        claimed = [Claimed(int(e), c, int(a), from_us(int(t))) for e, c, a, t in rows]
        return sorted(claimed, key=lambda c: c.event_id)

    def mark_sent(self, row: Claimed, token: str, at: datetime) -> bool:
        """Record that ``row`` was sent at ``at``; ``False`` if the claim was lost (its lease
        ran out and another loop claimed it)."""
        return self.db.execute(_SENT, (to_us(at), row.event_id, row.channel, token)) == 1

    def mark_failed(
        self, row: Claimed, token: str, status: str, error: str, next_attempt: datetime
    ) -> bool:
        """Record a failed attempt of ``row``: ``status`` ``pending`` (tried again at
        ``next_attempt``) or ``failed`` (given up); ``False`` if the claim was lost."""
        params = (status, error, to_us(next_attempt), row.event_id, row.channel, token)
        return self.db.execute(_FAILED, params) == 1

    def release(self, row: Claimed, token: str, next_attempt: datetime) -> None:
        """Give ``row`` back unsent, due at ``next_attempt``, its attempts unchanged."""
        self.db.execute(_RELEASE, (to_us(next_attempt), row.event_id, row.channel, token))

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

    def delivery_counts(self) -> DeliveryCounts:
        """How many deliveries wait, retry and were given up."""
        counts = self.db.query(
            "SELECT status, attempts > 0, COUNT(*) FROM deliveries"
            " WHERE status IN ('pending', 'failed') GROUP BY status, attempts > 0"
        )
        return DeliveryCounts(
            pending=sum(int(n) for status, _, n in counts if status == "pending"),
            retrying=sum(int(n) for status, tried, n in counts if status == "pending" and tried),
            failed=sum(int(n) for status, _, n in counts if status == "failed"),
        )

    def retry_failed(self, now: datetime, channel: str | None = None) -> int:
        """Put given-up deliveries (of ``channel``) back in the queue, due now, with a fresh
        give-up deadline; the number requeued."""
        where = " AND channel = ?" if channel is not None else ""
        params: tuple[object, ...] = (to_us(now), to_us(now))
        return self.db.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_us = ?, created_us = ?,"
            f" claim = NULL WHERE status = 'failed'{where}",
            (*params, channel) if channel is not None else params,
        )
