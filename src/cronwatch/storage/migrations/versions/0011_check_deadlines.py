"""Next deadlines: the alert loop evaluates only the jobs that can have changed.

``jobs`` gains ``check_due_us``, the next instant the job's status or alerting can change by
itself (a slot plus its grace, the end of a running run's ``max_runtime``, a snooze or
maintenance end, a reminder; ``NULL``: never by itself), written by the alert loop after it
evaluated the job (:mod:`cronwatch.alerts.deadline`), and ``changes``, a counter. A trigger on
``job_hosts`` (whose rows the run triggers update on every recorded run) sets ``check_due_us``
to 0 and bumps ``changes`` whenever a run of the job is recorded: the job is due at the next
cycle. The loop writes a deadline only where ``changes`` is still the value it read before
reading the job's facts, so a run recorded while it evaluated is never overwritten.

Existing rows get ``check_due_us`` 0: every job is evaluated once after the upgrade. The index
makes "which jobs are due" cost what the answer costs, not what the number of jobs costs.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TOUCH = "UPDATE jobs SET check_due_us = 0, changes = changes + 1 WHERE name = NEW.name"


def upgrade() -> None:
    op.add_column("jobs", sa.Column("check_due_us", sa.BigInteger, server_default="0"))
    op.add_column("jobs", sa.Column("changes", sa.BigInteger, nullable=False, server_default="0"))
    op.create_index("ix_jobs_check_due", "jobs", ["check_due_us"])
    if op.get_bind().dialect.name == "sqlite":
        for event in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER job_hosts_touch_{event.lower()} AFTER {event} ON job_hosts"
                f" BEGIN {_TOUCH}; END"
            )
    else:
        op.execute(
            f"""CREATE FUNCTION cronwatch_job_hosts_touch() RETURNS trigger
                LANGUAGE plpgsql AS $$ BEGIN {_TOUCH}; RETURN NULL; END $$"""
        )
        op.execute(
            """CREATE TRIGGER job_hosts_touch AFTER INSERT OR UPDATE ON job_hosts
                FOR EACH ROW EXECUTE FUNCTION cronwatch_job_hosts_touch()"""
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS job_hosts_touch_insert")
        op.execute("DROP TRIGGER IF EXISTS job_hosts_touch_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS job_hosts_touch ON job_hosts")
        op.execute("DROP FUNCTION IF EXISTS cronwatch_job_hosts_touch()")
    op.drop_index("ix_jobs_check_due", "jobs")
    # A plain DROP COLUMN (SQLite >= 3.35): a batch rebuild of ``jobs`` would break the run
    # triggers that name it.
    op.execute("ALTER TABLE jobs DROP COLUMN changes")
    op.execute("ALTER TABLE jobs DROP COLUMN check_due_us")
