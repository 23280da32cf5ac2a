"""Every job gets a random UUID: the Healthchecks-style ping URL ``/ping/<uuid>`` and the
API v3's check id.

``jobs.uuid`` is a lowercase RFC 4122 version 4 UUID in its 36-character text form, unique.
Jobs of earlier revisions get one here; a job inserted without one (the summary triggers create
a job at its first run, the API declares one, an old export is imported) gets one from the
database, so that no writer has to know: on SQLite an ``AFTER INSERT`` trigger (SQLite cannot
add a column whose default is an expression), on PostgreSQL a ``BEFORE INSERT`` trigger (a
column default would not replace an explicit ``NULL``). The UUID is the credential of a ping
to that one job; ``JobStore.regenerate_uuid`` replaces it.

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

#: A version 4 UUID from SQLite's random bytes (the version nibble 4, the variant 8, 9, a or b).
SQLITE_UUID4 = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'"
    " || substr(hex(randomblob(2)), 2) || '-'"
    " || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'"
    " || hex(randomblob(6)))"
)

_SQLITE_TRIGGER = f"""
CREATE TRIGGER jobs_uuid_insert AFTER INSERT ON jobs WHEN NEW.uuid IS NULL
BEGIN
    UPDATE jobs SET uuid = {SQLITE_UUID4} WHERE name = NEW.name;
END
"""

_POSTGRESQL_FUNCTION = """
CREATE FUNCTION cronwatch_jobs_uuid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.uuid IS NULL THEN
        NEW.uuid := gen_random_uuid()::text;
    END IF;
    RETURN NEW;
END $$
"""
_POSTGRESQL_TRIGGER = (
    "CREATE TRIGGER jobs_uuid_insert BEFORE INSERT ON jobs"
    " FOR EACH ROW EXECUTE FUNCTION cronwatch_jobs_uuid()"
)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("uuid", sa.String(36), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"UPDATE jobs SET uuid = {SQLITE_UUID4}")
        op.execute(_SQLITE_TRIGGER)
    else:
        op.execute("UPDATE jobs SET uuid = gen_random_uuid()::text")
        op.execute(_POSTGRESQL_FUNCTION)
        op.execute(_POSTGRESQL_TRIGGER)
    op.create_index("ux_jobs_uuid", "jobs", ["uuid"], unique=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS jobs_uuid_insert")
    else:
        op.execute("DROP TRIGGER IF EXISTS jobs_uuid_insert ON jobs")
        op.execute("DROP FUNCTION IF EXISTS cronwatch_jobs_uuid()")
    op.drop_index("ux_jobs_uuid", "jobs")
    # A plain DROP COLUMN (SQLite >= 3.35): a batch copy of the table would break the summary
    # triggers that name it.
    op.execute("ALTER TABLE jobs DROP COLUMN uuid")
