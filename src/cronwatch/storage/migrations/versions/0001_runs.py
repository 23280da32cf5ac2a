"""The runs table and Launchpad's two indexes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("started_us", sa.BigInteger, nullable=False),
        sa.Column("completed_us", sa.BigInteger, nullable=True),
        sa.Column("duration_us", sa.BigInteger, nullable=True),
        sa.Column("output", sa.Text, nullable=True),
    )
    op.create_index("ix_runs_name_started", "runs", ["name", "started_us"])
    op.create_index("ix_runs_host_name_completed", "runs", ["hostname", "name", "completed_us"])
    op.create_index("ux_runs_name_run_id", "runs", ["name", "run_id"], unique=True)


def downgrade() -> None:
    op.drop_table("runs")
