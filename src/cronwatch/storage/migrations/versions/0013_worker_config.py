"""Each alert loop's config fingerprint: ``workers.config``.

A loop beats with the fingerprint of the config it decides with
(:mod:`cronwatch.alerts.fingerprint`); a loop that finds a recent beat with another one
evaluates every job while they differ, since the deadlines the other loop writes follow the
other config. ``NULL``: a loop of an earlier version (or one that does not say).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workers", sa.Column("config", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("workers", "config")
