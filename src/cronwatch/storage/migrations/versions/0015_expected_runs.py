"""The next expected run, stored with the deadline: ``/metrics`` reads it instead of computing it.

``jobs`` gains ``expected_us``: the next expected run of the job as the alert loop last
evaluated it (``cronwatch_job_next_expected_timestamp_seconds``: the instant an overdue job
became due, else its next due run; ``NULL``: no schedule in force), written with
``check_due_us`` by the same conditional update. While the deadline is ahead it cannot have
changed (it moves only at a slot, a slot plus grace or a run, which are deadlines), so a scrape
of a settled job needs no evaluation at all.

Existing rows get ``check_due_us`` 0: every job is evaluated once after the upgrade, which
writes both.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("expected_us", sa.BigInteger, nullable=True))
    op.execute("UPDATE jobs SET check_due_us = 0")


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite >= 3.35), as in 0011: a batch rebuild of ``jobs`` would
    # break the run triggers that name it.
    op.execute("ALTER TABLE jobs DROP COLUMN expected_us")
