"""PostgreSQL: the host summaries of inserted runs kept once per statement, not once per row.

The server stores pings a batch at a time (one ``INSERT`` of many rows). With 0005's row
trigger every row upserted its host summary: for a batch of one job, the same summary row
updated once per ping, the row lock taken at the first row and held through the whole
statement, so two writers serialised on it. A statement trigger with a transition table
(``REFERENCING NEW TABLE``) folds the batch into one change per job and host and applies it
in one upsert, at the end of the statement. The fold is a PL/pgSQL loop: for a batch of one
job it costs the backend about half as much as the row trigger did, and less than the same
fold written as one query of window functions and ordered aggregates.

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

``tests/storage/test_jobs_batched.py`` checks this against one-row-at-a-time inserts on
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

# The batch is folded row by row, in (job, host, id) order, into one change per job and host
# (the variables below); the change is merged into the stored summary by one upsert when the
# last row of its job and host has been folded. The merge is the fold's rule applied to two
# parts of one history: the stored one, then the batch.
_FUNCTION = """
CREATE FUNCTION cronwatch_runs_summary_batch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
    first_seen bigint; top1 bigint; top2 bigint;
    last_completed bigint; last_outcome text; last_exit_code int; last_duration bigint;
    success_started bigint; success_completed bigint;
    runs int := 0; failures int := 0;
    -- the completion of the batch's last record that is not a failure, and of the failure
    -- records after it
    reset_completed bigint; failures_after bigint[] := ARRAY[]::bigint[];
    created boolean;
BEGIN
    FOR r IN
        SELECT name, hostname, started_us, completed_us, outcome, exit_code, duration_us,
            (lead(name) OVER w, lead(hostname) OVER w)
                IS DISTINCT FROM (name, hostname) AS last_of_group
        FROM new_runs WINDOW w AS (ORDER BY name, hostname, id)
        ORDER BY name, hostname, id
    LOOP
        first_seen := LEAST(first_seen, r.started_us);
        IF top1 IS NULL OR r.started_us > top1 THEN
            top2 := top1;
            top1 := r.started_us;
        ELSIF top2 IS NULL OR r.started_us > top2 THEN
            top2 := r.started_us;
        END IF;
        IF r.completed_us IS NOT NULL THEN
            runs := runs + 1;
            IF r.outcome = 'failure' THEN
                failures := failures + 1;
            END IF;
            IF last_completed IS NULL OR r.completed_us >= last_completed THEN  -- a record
                last_completed := r.completed_us;
                last_outcome := r.outcome;
                last_exit_code := r.exit_code;
                last_duration := r.duration_us;
                IF r.outcome = 'failure' THEN
                    failures_after := failures_after || r.completed_us;
                ELSE
                    reset_completed := r.completed_us;
                    failures_after := ARRAY[]::bigint[];
                END IF;
            END IF;
            IF r.outcome = 'success'
                    AND (success_started IS NULL OR r.started_us >= success_started) THEN
                success_started := r.started_us;
                success_completed := r.completed_us;
            END IF;
        END IF;
        CONTINUE WHEN NOT r.last_of_group;

        INSERT INTO job_hosts AS jh (name, hostname, first_seen_us, last_started_us,
            prev_started_us, last_completed_us, last_outcome, last_exit_code,
            last_duration_us, last_success_started_us, last_success_completed_us,
            consecutive_failures, runs_total, failures_total)
        VALUES (r.name, r.hostname, first_seen, top1, top2, last_completed, last_outcome,
            last_exit_code, last_duration, success_started, success_completed,
            cardinality(failures_after), runs, failures)
        ON CONFLICT (name, hostname) DO UPDATE SET
            prev_started_us = CASE WHEN excluded.last_started_us > jh.last_started_us
                THEN GREATEST(jh.last_started_us, excluded.prev_started_us)
                ELSE GREATEST(jh.prev_started_us, excluded.last_started_us) END,
            last_started_us = GREATEST(jh.last_started_us, excluded.last_started_us),
            first_seen_us = LEAST(jh.first_seen_us, excluded.first_seen_us),
            runs_total = jh.runs_total + excluded.runs_total,
            failures_total = jh.failures_total + excluded.failures_total,
            -- the batch's records that count are those completed at or after the stored
            -- last completion: when its last reset counts, only the failures after it do
            consecutive_failures = CASE
                WHEN reset_completed >= COALESCE(jh.last_completed_us, reset_completed)
                    THEN excluded.consecutive_failures
                ELSE jh.consecutive_failures + (
                    SELECT count(*) FROM unnest(failures_after) AS f(completed_us)
                    WHERE f.completed_us >= COALESCE(jh.last_completed_us, f.completed_us))
                END,
            last_outcome = CASE WHEN {latest} THEN excluded.last_outcome
                ELSE jh.last_outcome END,
            last_exit_code = CASE WHEN {latest} THEN excluded.last_exit_code
                ELSE jh.last_exit_code END,
            last_duration_us = CASE WHEN {latest} THEN excluded.last_duration_us
                ELSE jh.last_duration_us END,
            last_completed_us = CASE WHEN {latest} THEN excluded.last_completed_us
                ELSE jh.last_completed_us END,
            last_success_started_us = CASE WHEN {newer_success}
                THEN excluded.last_success_started_us ELSE jh.last_success_started_us END,
            last_success_completed_us = CASE WHEN {newer_success}
                THEN excluded.last_success_completed_us ELSE jh.last_success_completed_us END
        -- xmax = 0: the summary row was inserted, not updated, so the job may be new
        RETURNING xmax = 0 INTO created;
        IF created THEN
            INSERT INTO jobs (name, source, created_us, updated_us)
            VALUES (r.name, 'run', first_seen, first_seen) ON CONFLICT (name) DO NOTHING;
        END IF;

        first_seen := NULL; top1 := NULL; top2 := NULL;
        last_completed := NULL; last_outcome := NULL; last_exit_code := NULL;
        last_duration := NULL; success_started := NULL; success_completed := NULL;
        runs := 0; failures := 0;
        reset_completed := NULL; failures_after := ARRAY[]::bigint[];
    END LOOP;
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
