"""The overview pages from the stored statuses: an index on ``job_states(hostname, status,
name)``.

With an alert loop beating, the overview's first page is the first names of each stored status
(worst first) among the jobs the loop settled: with this index a range read per status, and the
counts per status one aggregate query, instead of every job read into Python.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_job_states_status", "job_states", ["hostname", "status", "name"])


def downgrade() -> None:
    op.drop_index("ix_job_states_status", "job_states")
