"""Incidents: the id every announced problem opens, its acknowledgement and its escalation.

``job_states`` gains the current incident (``incident``), who acknowledged it, when and why
(``acked_us``, ``acked_by``, ``ack_note``), when it was announced (``announced_us``: escalation
counts from then) and when it was escalated (``escalated_us``);
``events`` the incident they belong to (``incident``), its start (``since_us``), who
acknowledged (``actor``, on ``ack`` events) and the facts of the message (``details``, JSON:
hosts concerned, the last run's exit code and output tail, tags). All nullable: rows written
before keep working (an incident announced before this revision has no id; its recovery
carries none).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable, no default): no table is rewritten, on either database.
    op.add_column("job_states", sa.Column("incident", sa.String(32), nullable=True))
    op.add_column("job_states", sa.Column("acked_us", sa.BigInteger, nullable=True))
    op.add_column("job_states", sa.Column("acked_by", sa.String(200), nullable=True))
    op.add_column("job_states", sa.Column("ack_note", sa.Text, nullable=True))
    op.add_column("job_states", sa.Column("escalated_us", sa.BigInteger, nullable=True))
    op.add_column("job_states", sa.Column("announced_us", sa.BigInteger, nullable=True))
    op.add_column("events", sa.Column("incident", sa.String(32), nullable=True))
    op.add_column("events", sa.Column("since_us", sa.BigInteger, nullable=True))
    op.add_column("events", sa.Column("actor", sa.String(200), nullable=True))
    op.add_column("events", sa.Column("details", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for column in ("details", "actor", "since_us", "incident"):
            batch.drop_column(column)
    with op.batch_alter_table("job_states") as batch:
        for column in (
            "announced_us",
            "escalated_us",
            "ack_note",
            "acked_by",
            "acked_us",
            "incident",
        ):
            batch.drop_column(column)
