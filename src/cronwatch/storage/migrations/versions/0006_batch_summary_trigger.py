"""PostgreSQL: the host summaries of inserted runs kept once per statement, not once per row.

The server stores pings a batch at a time (one ``INSERT`` of many rows). With 0005's row
trigger every row upserted its host summary: for a batch of one job, the same summary row
updated once per ping, the row lock taken at the first row and held through the whole
statement, so two writers serialised on it. A statement trigger with a transition table
(``REFERENCING NEW TABLE``) folds the batch into one change per job and host and applies it
in one upsert, at the end of the statement.

The summaries are exactly those the row trigger keeps, whatever the order of the rows; the
fold is the row trigger's rule applied to a whole batch:

* starts: ``last_started_us``/``prev_started_us`` are the two greatest starts ever seen
  (duplicates count), ``first_seen_us`` the least;
* completions: the latest news is the run with the greatest completion (ties: the one stored
  later); the latest success the success with the greatest start (ties: the later);
* ``consecutive_failures``: a finished run counts when it completed at or after every run
  counted before it. Such "record" runs come in non-decreasing completion order, so those of a
  batch that count against a stored ``last_completed_us`` are a suffix of the batch's records:
  when the batch's last record that is not a failure counts, the new value is the number of
  failure records after it; otherwise the stored value plus the failure records after it that
  count.

``tests/test_job_summaries_batched.py`` checks this against one-row-at-a-time inserts on
random histories. SQLite has no statement triggers; its row triggers (0005) stay, and SQLite
writes in-process, where a row trigger costs little.

The completion of a running run (an ``UPDATE``, one row) keeps its row trigger.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The smallest bigint: "no completion yet" compares before every completion.
_NEVER = "(-9223372036854775807 - 1)"

_FUNCTION = f"""
CREATE FUNCTION cronwatch_runs_summary_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH numbered AS (
        SELECT name, hostname, id, started_us, completed_us, outcome, exit_code, duration_us,
            -- a record: completed at or after every run before it in this statement
            completed_us >= COALESCE(max(completed_us) OVER (
                PARTITION BY name, hostname ORDER BY id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), completed_us) AS is_record
        FROM new_runs
    ), last_reset AS (
        SELECT DISTINCT ON (name, hostname) name, hostname, id, completed_us
        FROM numbered WHERE is_record AND outcome <> 'failure'
        ORDER BY name, hostname, id DESC
    ), delta AS (
        SELECT n.name, n.hostname,
            min(n.started_us) AS first_seen_us,
            max(n.started_us) AS last_started_us,
            (array_agg(n.started_us ORDER BY n.started_us DESC))[2] AS prev_started_us,
            (array_agg(n.completed_us ORDER BY n.completed_us DESC, n.id DESC)
                FILTER (WHERE n.completed_us IS NOT NULL))[1] AS last_completed_us,
            (array_agg(n.outcome ORDER BY n.completed_us DESC, n.id DESC)
                FILTER (WHERE n.completed_us IS NOT NULL))[1] AS last_outcome,
            (array_agg(n.exit_code ORDER BY n.completed_us DESC, n.id DESC)
                FILTER (WHERE n.completed_us IS NOT NULL))[1] AS last_exit_code,
            (array_agg(n.duration_us ORDER BY n.completed_us DESC, n.id DESC)
                FILTER (WHERE n.completed_us IS NOT NULL))[1] AS last_duration_us,
            (array_agg(n.started_us ORDER BY n.started_us DESC, n.id DESC)
                FILTER (WHERE n.outcome = 'success'))[1] AS last_success_started_us,
            (array_agg(n.completed_us ORDER BY n.started_us DESC, n.id DESC)
                FILTER (WHERE n.outcome = 'success'))[1] AS last_success_completed_us,
            count(n.completed_us) AS runs_total,
            count(*) FILTER (WHERE n.outcome = 'failure') AS failures_total,
            min(r.completed_us) AS reset_us,
            COALESCE(array_agg(n.completed_us) FILTER (WHERE n.is_record
                AND n.outcome = 'failure' AND (r.id IS NULL OR n.id > r.id)),
                ARRAY[]::bigint[]) AS trailing_failures_us
        FROM numbered n LEFT JOIN last_reset r USING (name, hostname)
        GROUP BY n.name, n.hostname
    ), summarised AS (
        INSERT INTO job_hosts AS jh (name, hostname, first_seen_us, last_started_us,
            prev_started_us, last_completed_us, last_outcome, last_exit_code, last_duration_us,
            last_success_started_us, last_success_completed_us, consecutive_failures,
            runs_total, failures_total)
        SELECT name, hostname, first_seen_us, last_started_us, prev_started_us,
            last_completed_us, last_outcome, last_exit_code, last_duration_us,
            last_success_started_us, last_success_completed_us,
            cardinality(trailing_failures_us), runs_total, failures_total
        FROM delta
        -- the order every writer takes the summaries' row locks in
        ORDER BY name, hostname
        ON CONFLICT (name, hostname) DO UPDATE SET
            prev_started_us = CASE WHEN excluded.last_started_us > jh.last_started_us
                THEN GREATEST(jh.last_started_us, excluded.prev_started_us)
                ELSE GREATEST(jh.prev_started_us, excluded.last_started_us) END,
            last_started_us = GREATEST(jh.last_started_us, excluded.last_started_us),
            first_seen_us = LEAST(jh.first_seen_us, excluded.first_seen_us),
            runs_total = jh.runs_total + excluded.runs_total,
            failures_total = jh.failures_total + excluded.failures_total,
            consecutive_failures = (
                SELECT CASE WHEN d.reset_us >= COALESCE(jh.last_completed_us, {_NEVER})
                    THEN cardinality(d.trailing_failures_us)
                    ELSE jh.consecutive_failures + (
                        SELECT count(*) FROM unnest(d.trailing_failures_us) AS t(completed_us)
                        WHERE t.completed_us >= COALESCE(jh.last_completed_us, {_NEVER}))
                    END
                FROM delta d WHERE d.name = jh.name AND d.hostname = jh.hostname),
            last_outcome = CASE WHEN {{latest}} THEN excluded.last_outcome
                ELSE jh.last_outcome END,
            last_exit_code = CASE WHEN {{latest}} THEN excluded.last_exit_code
                ELSE jh.last_exit_code END,
            last_duration_us = CASE WHEN {{latest}} THEN excluded.last_duration_us
                ELSE jh.last_duration_us END,
            last_completed_us = CASE WHEN {{latest}} THEN excluded.last_completed_us
                ELSE jh.last_completed_us END,
            last_success_started_us = CASE WHEN {{newer_success}}
                THEN excluded.last_success_started_us ELSE jh.last_success_started_us END,
            last_success_completed_us = CASE WHEN {{newer_success}}
                THEN excluded.last_success_completed_us ELSE jh.last_success_completed_us END
        -- xmax = 0: the summary row was inserted, not updated, so the job may be new
        RETURNING jh.name, jh.first_seen_us, xmax = 0 AS created
    )
    INSERT INTO jobs (name, source, created_us, updated_us)
    SELECT name, 'run', min(first_seen_us), min(first_seen_us)
    FROM summarised WHERE created GROUP BY name
    ON CONFLICT (name) DO NOTHING;
    RETURN NULL;
END $$""".format(
    # NULL (nothing new in the batch) compares false: the stored value stays.
    latest="excluded.last_completed_us >= COALESCE(jh.last_completed_us, "
    "excluded.last_completed_us)",
    newer_success="excluded.last_success_started_us >= COALESCE(jh.last_success_started_us,"
    " excluded.last_success_started_us)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(_FUNCTION)
    op.execute("DROP TRIGGER runs_summary_insert ON runs")
    op.execute(
        """CREATE TRIGGER runs_summary_insert AFTER INSERT ON runs
            REFERENCING NEW TABLE AS new_runs
            FOR EACH STATEMENT EXECUTE FUNCTION cronwatch_runs_summary_batch()"""
    )


def downgrade() -> None:
    """Back to 0005's row trigger (its function was left in place)."""
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("DROP TRIGGER runs_summary_insert ON runs")
    op.execute("DROP FUNCTION cronwatch_runs_summary_batch()")
    op.execute(
        """CREATE TRIGGER runs_summary_insert AFTER INSERT ON runs
            FOR EACH ROW EXECUTE FUNCTION cronwatch_runs_summary_insert()"""
    )
