"""The alerting tables (migration 0004) as SQLAlchemy Core tables, on the shared metadata.

Declared here, beside the code that uses them, on :data:`cronwatch.storage.schema.metadata`:
importing this module registers them there. ``cronwatch.storage.schema`` should import it at its
end (``from cronwatch.alerts import schema as _alerts  # noqa: E402,F401``) so that the
migration test compares them whatever else was imported; only SQLAlchemy users import either.
Instants are integer microseconds since the epoch, UTC, as everywhere in cronwatch.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, text

from cronwatch.storage.schema import BigId, metadata

#: Each job's alerting state (``hostname`` '') and each of its hosts' last status. ``version``
#: grows on every change: a flip is ``UPDATE ... WHERE version = <read>``, so of two loops that
#: evaluated the same change, one records it.
job_states = Table(
    "job_states",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("hostname", String(255), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False, server_default="0"),
    Column("alerting", Integer, nullable=False, server_default="0"),  # a problem was announced
    Column("alert_status", String(16), nullable=True),  # the status announced
    Column("problem_since_us", BigInteger, nullable=True),
    Column("recovering_since_us", BigInteger, nullable=True),
    Column("notified_us", BigInteger, nullable=True),
    Column("hold_until_us", BigInteger, nullable=True),
    Column("snooze_until_us", BigInteger, nullable=True),
    Column("updated_us", BigInteger, nullable=False),
)

#: Status changes and notifications: the history and the alert queue at once.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("hostname", String(255), nullable=False, server_default=""),
    Column("kind", String(16), nullable=False),  # change | problem | recovery | reminder
    Column("old_status", String(16), nullable=False),
    Column("new_status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_events_name_at", "name", "at_us"),
    Index("ix_events_at", "at_us"),
)

#: One row per notification event and channel: claimed, sent once, retried with backoff.
deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "event_id",
        BigInteger,
        ForeignKey("events.id", ondelete="CASCADE", name="fk_deliveries_event"),
        primary_key=True,
    ),
    Column("channel", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(8), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("claim", String(32), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("sent_us", BigInteger, nullable=True),
    # What the loops poll: the pending ones that are due; and the order per job and channel.
    Index(
        "ix_deliveries_due",
        "next_attempt_us",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index(
        "ix_deliveries_order",
        "channel",
        "name",
        "event_id",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

#: Gaps in the alert loops' heartbeat: cronwatch itself was not watching.
alert_outages = Table(
    "alert_outages",
    metadata,
    Column("started_us", BigInteger, primary_key=True, autoincrement=False),
    Column("ended_us", BigInteger, nullable=False),
)

#: Background workers (alert loops) and their heartbeats.
workers = Table(
    "workers",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_us", BigInteger, nullable=False),
    Column("last_beat_us", BigInteger, nullable=False),
    Index("ix_workers_kind_beat", "kind", "last_beat_us"),
)
