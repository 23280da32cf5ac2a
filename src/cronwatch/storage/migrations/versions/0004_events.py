"""Alerting: job states, events (history and alert queue), deliveries, heartbeats, outages.

``job_states`` holds each job's alerting state, flipped by conditional updates on ``version``;
``events`` every status change and notification; ``deliveries`` one row per notification and
channel, claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) or a conditional update
(SQLite); ``workers`` the alert loops' heartbeats, ``alert_outages`` the gaps between them.
See :mod:`cronwatch.alerts`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "job_states",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("hostname", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("alerting", sa.Integer, nullable=False, server_default="0"),
        sa.Column("alert_status", sa.String(16), nullable=True),
        sa.Column("problem_since_us", sa.BigInteger, nullable=True),
        sa.Column("recovering_since_us", sa.BigInteger, nullable=True),
        sa.Column("notified_us", sa.BigInteger, nullable=True),
        sa.Column("hold_until_us", sa.BigInteger, nullable=True),
        sa.Column("snooze_until_us", sa.BigInteger, nullable=True),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False, server_default=""),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("old_status", sa.String(16), nullable=False),
        sa.Column("new_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_name_at", "events", ["name", "at_us"])
    op.create_index("ix_events_at", "events", ["at_us"])
    op.create_table(
        "deliveries",
        sa.Column("event_id", sa.BigInteger, primary_key=True),
        sa.Column("channel", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_us", sa.BigInteger, nullable=False),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("sent_us", sa.BigInteger, nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_deliveries_event", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_us"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index(
        "ix_deliveries_order",
        "deliveries",
        ["channel", "name", "event_id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_table(
        "alert_outages",
        sa.Column("started_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ended_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "workers",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_us", sa.BigInteger, nullable=False),
        sa.Column("last_beat_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_workers_kind_beat", "workers", ["kind", "last_beat_us"])


def downgrade() -> None:
    op.drop_index("ix_workers_kind_beat", table_name="workers")
    op.drop_table("workers")
    op.drop_table("alert_outages")
    op.drop_index("ix_deliveries_order", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_events_at", table_name="events")
    op.drop_index("ix_events_name_at", table_name="events")
    op.drop_table("events")
    op.drop_table("job_states")
