"""Leaner summary triggers: one upsert per recorded run instead of three statements.

Revision 0002's insert trigger ran, for every new row of ``runs``, an insert into ``jobs``, an
upsert of the host summary for the start and, for a finished run, an update of the same summary
row for the completion. The ping path inserts finished runs at thousands per second, and on
PostgreSQL those three statements were most of its cost. Now:

* a finished run updates its host summary once, start and completion fields together;
* the ``jobs`` row is only inserted when the host summary row was new (a host summary implies
  its job: deleting a job deletes both), which PostgreSQL tells with ``xmax = 0``; SQLite's
  trigger language has no branches, so there the cheap ``ON CONFLICT DO NOTHING`` insert stays.

The summaries kept are exactly those of 0002 (the same tests hold); completing a running run
(the update trigger) is unchanged.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ENSURE_JOB = (
    "INSERT INTO jobs (name, source, created_us, updated_us) "
    "VALUES (NEW.name, 'run', NEW.started_us, NEW.started_us) ON CONFLICT (name) DO NOTHING"
)

_START_SET = """
    prev_started_us = CASE
        WHEN excluded.last_started_us > job_hosts.last_started_us THEN job_hosts.last_started_us
        WHEN job_hosts.prev_started_us IS NULL
             OR excluded.last_started_us > job_hosts.prev_started_us
            THEN excluded.last_started_us
        ELSE job_hosts.prev_started_us END,
    last_started_us = {greatest}(job_hosts.last_started_us, excluded.last_started_us),
    first_seen_us = {least}(job_hosts.first_seen_us, excluded.first_seen_us)"""

# The run that finished last is the job's latest news (as in 0002).
_LATEST = "(job_hosts.last_completed_us IS NULL OR NEW.completed_us >= job_hosts.last_completed_us)"
_NEWER_SUCCESS = (
    "(NEW.outcome = 'success' AND (job_hosts.last_success_started_us IS NULL"
    " OR NEW.started_us >= job_hosts.last_success_started_us))"
)
_COMPLETION_SET = f"""
    runs_total = job_hosts.runs_total + 1,
    failures_total = job_hosts.failures_total + {{as_int}}(NEW.outcome = 'failure'),
    consecutive_failures = CASE WHEN {_LATEST}
        THEN CASE WHEN NEW.outcome = 'failure' THEN job_hosts.consecutive_failures + 1 ELSE 0 END
        ELSE job_hosts.consecutive_failures END,
    last_outcome = CASE WHEN {_LATEST} THEN NEW.outcome ELSE job_hosts.last_outcome END,
    last_exit_code = CASE WHEN {_LATEST} THEN NEW.exit_code ELSE job_hosts.last_exit_code END,
    last_duration_us = CASE WHEN {_LATEST} THEN NEW.duration_us
        ELSE job_hosts.last_duration_us END,
    last_success_started_us = CASE WHEN {_NEWER_SUCCESS}
        THEN NEW.started_us ELSE job_hosts.last_success_started_us END,
    last_success_completed_us = CASE WHEN {_NEWER_SUCCESS}
        THEN NEW.completed_us ELSE job_hosts.last_success_completed_us END,
    last_completed_us = CASE WHEN {_LATEST} THEN NEW.completed_us
        ELSE job_hosts.last_completed_us END"""

_STARTED = (
    """
INSERT INTO job_hosts (name, hostname, first_seen_us, last_started_us)
VALUES (NEW.name, NEW.hostname, NEW.started_us, NEW.started_us)
ON CONFLICT (name, hostname) DO UPDATE SET"""
    + _START_SET
)

_FINISHED = (
    """
INSERT INTO job_hosts (name, hostname, first_seen_us, last_started_us, last_completed_us,
    last_outcome, last_exit_code, last_duration_us, last_success_started_us,
    last_success_completed_us, consecutive_failures, runs_total, failures_total)
VALUES (NEW.name, NEW.hostname, NEW.started_us, NEW.started_us, NEW.completed_us,
    NEW.outcome, NEW.exit_code, NEW.duration_us,
    CASE WHEN NEW.outcome = 'success' THEN NEW.started_us END,
    CASE WHEN NEW.outcome = 'success' THEN NEW.completed_us END,
    {as_int}(NEW.outcome = 'failure'), 1, {as_int}(NEW.outcome = 'failure'))
ON CONFLICT (name, hostname) DO UPDATE SET"""
    + _START_SET
    + ","
    + _COMPLETION_SET
)


def _render(template: str, dialect: str) -> str:
    if dialect == "sqlite":
        return template.format(greatest="MAX", least="MIN", as_int="")
    return template.format(greatest="GREATEST", least="LEAST", as_int="int4")


def _sqlite_upgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS runs_summary_insert")
    op.execute(
        f"""CREATE TRIGGER runs_summary_insert_started AFTER INSERT ON runs
            WHEN NEW.outcome = 'running' BEGIN
            {_ENSURE_JOB};
            {_render(_STARTED, "sqlite")};
        END"""
    )
    op.execute(
        f"""CREATE TRIGGER runs_summary_insert_finished AFTER INSERT ON runs
            WHEN NEW.outcome <> 'running' BEGIN
            {_ENSURE_JOB};
            {_render(_FINISHED, "sqlite")};
        END"""
    )


def _postgresql_upgrade() -> None:
    op.execute(
        f"""CREATE OR REPLACE FUNCTION cronwatch_runs_summary_insert() RETURNS trigger
            LANGUAGE plpgsql AS $$
        DECLARE
            created boolean;
        BEGIN
            IF NEW.outcome = 'running' THEN
                {_render(_STARTED, "postgresql")}
                RETURNING (xmax = 0) INTO created;
            ELSE
                {_render(_FINISHED, "postgresql")}
                RETURNING (xmax = 0) INTO created;
            END IF;
            -- xmax = 0: the summary row was inserted, not updated, so the job may be new.
            IF created THEN
                {_ENSURE_JOB};
            END IF;
            RETURN NULL;
        END $$"""
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgresql_upgrade()


def downgrade() -> None:
    """Back to 0002's trigger bodies (same summaries, three statements per run)."""
    import importlib

    previous = importlib.import_module(
        "cronwatch.storage.migrations.versions.0002_jobs_and_summaries"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS runs_summary_insert_started")
        op.execute("DROP TRIGGER IF EXISTS runs_summary_insert_finished")
        op.execute(previous._sqlite_triggers()[0])
    else:
        op.execute("DROP TRIGGER IF EXISTS runs_summary_insert ON runs")
        op.execute("DROP FUNCTION IF EXISTS cronwatch_runs_summary_insert()")
        op.execute(previous._postgresql_triggers()[0])
        op.execute(previous._postgresql_triggers()[2])
