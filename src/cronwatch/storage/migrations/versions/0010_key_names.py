"""Ping keys restricted to job names: ``api_keys.names``, a JSON list of glob patterns
(``["backup-*"]``); ``NULL`` for a key that may name any job.

``cronwatch key create --scope ping --names 'backup-*'`` sets it; a ping or recorded run of
another name with that key is refused with 403 (:meth:`ApiKey.allows_name
<cronwatch.storage.keys.ApiKey.allows_name>`).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("names", sa.Text(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite >= 3.35), as 0009 does.
    op.execute("ALTER TABLE api_keys DROP COLUMN names")
