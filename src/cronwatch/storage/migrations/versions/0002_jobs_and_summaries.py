"""Jobs, a per-host summary of each job kept current by triggers, and learned baselines.

The health evaluation reads one summary row per job and host instead of the runs themselves, so
a status check costs a fixed number of queries whatever the number of jobs and runs, and the
counts survive pruning of old runs. The summary is maintained by triggers on ``runs``: every
writer (the library, the server, a replayed spool) keeps it right, and recording a run stays a
single statement (one round trip) for the client.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The parts of the trigger bodies both databases share. {greatest}/{least} are MAX/MIN on
# SQLite and GREATEST/LEAST on PostgreSQL; {as_int} turns a boolean into 0/1.
_ENSURE_JOB = (
    "INSERT INTO jobs (name, source, created_us, updated_us) "
    "VALUES (NEW.name, 'run', NEW.started_us, NEW.started_us) ON CONFLICT (name) DO NOTHING"
)

_RECORD_START = """
INSERT INTO job_hosts (name, hostname, first_seen_us, last_started_us)
VALUES (NEW.name, NEW.hostname, NEW.started_us, NEW.started_us)
ON CONFLICT (name, hostname) DO UPDATE SET
    prev_started_us = CASE
        WHEN excluded.last_started_us > job_hosts.last_started_us THEN job_hosts.last_started_us
        WHEN job_hosts.prev_started_us IS NULL
             OR excluded.last_started_us > job_hosts.prev_started_us
            THEN excluded.last_started_us
        ELSE job_hosts.prev_started_us END,
    last_started_us = {greatest}(job_hosts.last_started_us, excluded.last_started_us),
    first_seen_us = {least}(job_hosts.first_seen_us, excluded.first_seen_us)
"""

# "Latest" is by completion time: the run that finished last is the latest news of the job.
_LATEST = "(last_completed_us IS NULL OR NEW.completed_us >= last_completed_us)"
_NEWER_SUCCESS = (
    "(NEW.outcome = 'success' AND "
    "(last_success_started_us IS NULL OR NEW.started_us >= last_success_started_us))"
)

_RECORD_COMPLETION = f"""
UPDATE job_hosts SET
    runs_total = runs_total + 1,
    failures_total = failures_total + {{as_int}}(NEW.outcome = 'failure'),
    consecutive_failures = CASE WHEN {_LATEST}
        THEN CASE WHEN NEW.outcome = 'failure' THEN consecutive_failures + 1 ELSE 0 END
        ELSE consecutive_failures END,
    last_outcome = CASE WHEN {_LATEST} THEN NEW.outcome ELSE last_outcome END,
    last_exit_code = CASE WHEN {_LATEST} THEN NEW.exit_code ELSE last_exit_code END,
    last_duration_us = CASE WHEN {_LATEST} THEN NEW.duration_us ELSE last_duration_us END,
    last_success_started_us = CASE WHEN {_NEWER_SUCCESS}
        THEN NEW.started_us ELSE last_success_started_us END,
    last_success_completed_us = CASE WHEN {_NEWER_SUCCESS}
        THEN NEW.completed_us ELSE last_success_completed_us END,
    last_completed_us = CASE WHEN {_LATEST} THEN NEW.completed_us ELSE last_completed_us END
WHERE name = NEW.name AND hostname = NEW.hostname
"""


def _sqlite_triggers() -> list[str]:
    start = _RECORD_START.format(greatest="MAX", least="MIN")
    completion = _RECORD_COMPLETION.format(as_int="")
    return [
        f"""CREATE TRIGGER runs_summary_insert AFTER INSERT ON runs BEGIN
            {_ENSURE_JOB};
            {start};
            {completion} AND NEW.outcome <> 'running';
        END""",
        f"""CREATE TRIGGER runs_summary_finish AFTER UPDATE OF outcome ON runs
            WHEN OLD.outcome = 'running' AND NEW.outcome <> 'running' BEGIN
            {completion};
        END""",
    ]


def _postgresql_triggers() -> list[str]:
    start = _RECORD_START.format(greatest="GREATEST", least="LEAST")
    completion = _RECORD_COMPLETION.format(as_int="int4")
    return [
        f"""CREATE FUNCTION cronwatch_runs_summary_insert() RETURNS trigger
            LANGUAGE plpgsql AS $$
        BEGIN
            {_ENSURE_JOB};
            {start};
            IF NEW.outcome <> 'running' THEN
                {completion};
            END IF;
            RETURN NULL;
        END $$""",
        f"""CREATE FUNCTION cronwatch_runs_summary_finish() RETURNS trigger
            LANGUAGE plpgsql AS $$
        BEGIN
            {completion};
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER runs_summary_insert AFTER INSERT ON runs
            FOR EACH ROW EXECUTE FUNCTION cronwatch_runs_summary_insert()""",
        """CREATE TRIGGER runs_summary_finish AFTER UPDATE OF outcome ON runs
            FOR EACH ROW WHEN (OLD.outcome = 'running' AND NEW.outcome <> 'running')
            EXECUTE FUNCTION cronwatch_runs_summary_finish()""",
    ]


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text, nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "job_hosts",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("hostname", sa.String(255), primary_key=True),
        sa.Column("first_seen_us", sa.BigInteger, nullable=False),
        sa.Column("last_started_us", sa.BigInteger, nullable=True),
        sa.Column("prev_started_us", sa.BigInteger, nullable=True),
        sa.Column("last_completed_us", sa.BigInteger, nullable=True),
        sa.Column("last_outcome", sa.String(16), nullable=True),
        sa.Column("last_exit_code", sa.Integer, nullable=True),
        sa.Column("last_duration_us", sa.BigInteger, nullable=True),
        sa.Column("last_success_started_us", sa.BigInteger, nullable=True),
        sa.Column("last_success_completed_us", sa.BigInteger, nullable=True),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("runs_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failures_total", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "job_baselines",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("runtime_median_us", sa.BigInteger, nullable=True),
        sa.Column("runtime_mad_us", sa.BigInteger, nullable=True),
        sa.Column("runtime_low_us", sa.BigInteger, nullable=True),
        sa.Column("runtime_high_us", sa.BigInteger, nullable=True),
        sa.Column("interval_us", sa.BigInteger, nullable=True),
        sa.Column("runs_total_at", sa.BigInteger, nullable=False),
        sa.Column("computed_us", sa.BigInteger, nullable=False),
    )
    # Runs still going, for "running" and "hung": a small partial index, not a scan of runs.
    op.create_index(
        "ix_runs_running",
        "runs",
        ["name"],
        sqlite_where=sa.text("outcome = 'running'"),
        postgresql_where=sa.text("outcome = 'running'"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _sqlite_triggers() if dialect == "sqlite" else _postgresql_triggers():
        op.execute(statement)
    _backfill()


def _backfill() -> None:
    """Summaries of the runs recorded before this revision."""
    op.execute(
        "INSERT INTO jobs (name, source, created_us, updated_us) "
        "SELECT name, 'run', MIN(started_us), MIN(started_us) FROM runs GROUP BY name"
    )
    op.execute(
        """
        INSERT INTO job_hosts (name, hostname, first_seen_us, last_started_us, runs_total,
                               failures_total, consecutive_failures)
        SELECT name, hostname, MIN(started_us), MAX(started_us),
               SUM(CASE WHEN outcome <> 'running' THEN 1 ELSE 0 END),
               SUM(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END), 0
        FROM runs GROUP BY name, hostname
        """
    )
    op.execute(
        """
        UPDATE job_hosts SET
            last_completed_us = (SELECT MAX(completed_us) FROM runs r
                WHERE r.name = job_hosts.name AND r.hostname = job_hosts.hostname),
            last_success_started_us = (SELECT MAX(started_us) FROM runs r
                WHERE r.name = job_hosts.name AND r.hostname = job_hosts.hostname
                  AND r.outcome = 'success')
        """
    )
    op.execute(
        """
        UPDATE job_hosts SET
            last_outcome = (SELECT outcome FROM runs r WHERE r.name = job_hosts.name
                AND r.hostname = job_hosts.hostname AND r.completed_us = job_hosts.last_completed_us
                ORDER BY r.id DESC LIMIT 1),
            last_exit_code = (SELECT exit_code FROM runs r WHERE r.name = job_hosts.name
                AND r.hostname = job_hosts.hostname AND r.completed_us = job_hosts.last_completed_us
                ORDER BY r.id DESC LIMIT 1),
            last_duration_us = (SELECT duration_us FROM runs r WHERE r.name = job_hosts.name
                AND r.hostname = job_hosts.hostname AND r.completed_us = job_hosts.last_completed_us
                ORDER BY r.id DESC LIMIT 1),
            last_success_completed_us = (SELECT completed_us FROM runs r
                WHERE r.name = job_hosts.name AND r.hostname = job_hosts.hostname
                  AND r.started_us = job_hosts.last_success_started_us AND r.outcome = 'success'
                ORDER BY r.id DESC LIMIT 1),
            prev_started_us = (SELECT MAX(started_us) FROM runs r WHERE r.name = job_hosts.name
                AND r.hostname = job_hosts.hostname AND r.started_us < job_hosts.last_started_us)
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS runs_summary_insert")
        op.execute("DROP TRIGGER IF EXISTS runs_summary_finish")
    else:
        op.execute("DROP TRIGGER IF EXISTS runs_summary_insert ON runs")
        op.execute("DROP TRIGGER IF EXISTS runs_summary_finish ON runs")
        op.execute("DROP FUNCTION IF EXISTS cronwatch_runs_summary_insert()")
        op.execute("DROP FUNCTION IF EXISTS cronwatch_runs_summary_finish()")
    op.drop_index("ix_runs_running", table_name="runs")
    op.drop_table("job_baselines")
    op.drop_table("job_hosts")
    op.drop_table("jobs")
