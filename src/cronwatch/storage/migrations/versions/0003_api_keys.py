"""API keys: the secrets that ping URLs and the REST API are called with.

Only a SHA-256 digest of each key is stored (see :mod:`cronwatch.storage.keys` for why a fast
hash is right for high-entropy random tokens); ``id`` is the key's public prefix, shown by
``cronwatch key list`` and used to revoke it. A revoked key keeps its row (``revoked_us`` set)
so that the server can say "this key was revoked" rather than "unknown key".

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("revoked_us", sa.BigInteger, nullable=True),
    )
    # Every request looks its key up by digest: one unique index probe.
    op.create_index("ux_api_keys_token_hash", "api_keys", ["token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_api_keys_token_hash", table_name="api_keys")
    op.drop_table("api_keys")
