"""Counts of jobs per stored status, kept by triggers: the overview's counts without reading
every job.

``job_status_counts`` holds signed deltas ``(status, n)``: the number of jobs (rows of
``jobs``) whose stored status (their ``job_states`` row of host ``''``) is ``status`` is the
sum of ``n`` over its rows; ``status`` ``''`` counts the jobs without a stored status. A stored
status without its job (a deleted job's) is not counted. Triggers on ``jobs`` (insert, delete)
and ``job_states`` (insert, a change of ``status``, delete) only ever *insert* delta rows, in
the transaction of the change: no row is updated by two writers, so no writer waits for
another on a counter, and two alert loops flipping states in any order cannot deadlock on one.
The alert loop compacts the rows now and then
(:meth:`~cronwatch.storage.alerts.counts.CountStore.compact`): one transaction that deletes
the rows it sees and inserts their sums.
Names and hosts of rows are never updated (they are keys); the triggers assume so.

PostgreSQL (read committed): a trigger's look at the other table must see what a concurrent
transaction on the same job commits, or the two would count the job twice or not at all.

- A change of a stored status looks for its job ``FOR KEY SHARE``: a transaction deleting the
  job is waited for (and the job is then gone); the deletion's trigger reads the stored status
  without a lock, so the two never wait for each other.
- A new job reads its stored status ``FOR SHARE``: a transaction changing that status is waited
  for and its result read.
- A new job and a new stored status of the same name, both uncommitted, cannot see each other:
  before inserting either, a trigger inserts and deletes the name in ``job_count_locks``, and
  the second inserter of a name waits on that key until the first transaction ends (a row
  inserted by a transaction in progress conflicts even once it deleted it); the statements
  that follow see what the first committed. This takes no lock-table entry per job (an
  advisory lock per job would exhaust PostgreSQL's lock table in a transaction inserting
  100,000 jobs). Writers that insert several names in one transaction insert them in name
  order (:meth:`~cronwatch.storage.jobs.JobStore.sync_declared`, the alert loop's states, an
  import), so that two of them wait for each other in one direction only. (The one wait
  cycle left needs a job deleted, then imported again while an alert loop inserts its first
  stored status: PostgreSQL then aborts one of the two, which the loop's next cycle or the
  import run again redoes.)

Existing databases get one row per status from the join of ``jobs`` and ``job_states``; the
triggers are created first, in the same transaction (on PostgreSQL their creation waits for
writers in progress and holds off new ones until the commit).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COUNTS = "INSERT INTO job_status_counts (status, n) VALUES"
_JOB_EXISTS = "EXISTS (SELECT 1 FROM jobs WHERE name = {row}.name)"
_STORED = "(SELECT status FROM job_states WHERE name = {row}.name AND hostname = '')"

_SQLITE_TRIGGERS = {
    "job_states_count_insert": (
        "AFTER INSERT ON job_states",
        f"NEW.hostname = '' AND {_JOB_EXISTS.format(row='NEW')}",
        f"{_COUNTS} ('', -1), (NEW.status, 1)",
    ),
    "job_states_count_update": (
        "AFTER UPDATE OF status ON job_states",
        f"NEW.hostname = '' AND OLD.status <> NEW.status AND {_JOB_EXISTS.format(row='NEW')}",
        f"{_COUNTS} (OLD.status, -1), (NEW.status, 1)",
    ),
    "job_states_count_delete": (
        "AFTER DELETE ON job_states",
        f"OLD.hostname = '' AND {_JOB_EXISTS.format(row='OLD')}",
        f"{_COUNTS} (OLD.status, -1), ('', 1)",
    ),
    "jobs_count_insert": (
        "AFTER INSERT ON jobs",
        "1",
        f"{_COUNTS} (COALESCE({_STORED.format(row='NEW')}, ''), 1)",
    ),
    "jobs_count_delete": (
        "AFTER DELETE ON jobs",
        "1",
        f"{_COUNTS} (COALESCE({_STORED.format(row='OLD')}, ''), -1)",
    ),
}

_PG_FUNCTIONS = [
    # The per-name lock taken before a job or a stored status is inserted (see the module's
    # docstring): before the row, so that a transaction waiting for it holds no row of the
    # name that the one it waits for may need.
    """CREATE FUNCTION cronwatch_count_lock() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO job_count_locks (name) VALUES (NEW.name) ON CONFLICT DO NOTHING;
        DELETE FROM job_count_locks WHERE name = NEW.name;
        RETURN NEW;
    END $$""",
    f"""CREATE FUNCTION cronwatch_count_state() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM 1 FROM jobs WHERE name = NEW.name FOR KEY SHARE;
            IF FOUND THEN {_COUNTS} ('', -1), (NEW.status, 1); END IF;
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM 1 FROM jobs WHERE name = NEW.name FOR KEY SHARE;
            IF FOUND THEN {_COUNTS} (OLD.status, -1), (NEW.status, 1); END IF;
        ELSE
            PERFORM 1 FROM jobs WHERE name = OLD.name FOR KEY SHARE;
            IF FOUND THEN {_COUNTS} (OLD.status, -1), ('', 1); END IF;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION cronwatch_count_job() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE stored text;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT status INTO stored FROM job_states
                WHERE name = NEW.name AND hostname = '' FOR SHARE;
            {_COUNTS} (COALESCE(stored, ''), 1);
        ELSE
            SELECT status INTO stored FROM job_states WHERE name = OLD.name AND hostname = '';
            {_COUNTS} (COALESCE(stored, ''), -1);
        END IF;
        RETURN NULL;
    END $$""",
]

#: Trigger name, then the rest of its ``CREATE TRIGGER``.
_PG_TRIGGERS = {
    "job_states_count_lock": "BEFORE INSERT ON job_states FOR EACH ROW"
    " WHEN (NEW.hostname = '') EXECUTE FUNCTION cronwatch_count_lock()",
    "job_states_count_insert": "AFTER INSERT ON job_states FOR EACH ROW"
    " WHEN (NEW.hostname = '') EXECUTE FUNCTION cronwatch_count_state()",
    "job_states_count_update": "AFTER UPDATE OF status ON job_states FOR EACH ROW"
    " WHEN (NEW.hostname = '' AND OLD.status <> NEW.status)"
    " EXECUTE FUNCTION cronwatch_count_state()",
    "job_states_count_delete": "AFTER DELETE ON job_states FOR EACH ROW"
    " WHEN (OLD.hostname = '') EXECUTE FUNCTION cronwatch_count_state()",
    "jobs_count_lock": "BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION cronwatch_count_lock()",
    "jobs_count": "AFTER INSERT OR DELETE ON jobs FOR EACH ROW"
    " EXECUTE FUNCTION cronwatch_count_job()",
}

#: Every job counted once, by its stored status ('' without one).
_RECOUNT = (
    "INSERT INTO job_status_counts (status, n)"
    " SELECT COALESCE(s.status, ''), COUNT(*) FROM jobs j"
    " LEFT JOIN job_states s ON s.name = j.name AND s.hostname = ''"
    " GROUP BY COALESCE(s.status, '')"
)


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "job_status_counts",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    op.create_table("job_count_locks", sa.Column("name", sa.String(200), primary_key=True))
    if op.get_bind().dialect.name == "sqlite":
        for name, (event, when, body) in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {event} WHEN {when} BEGIN {body}; END")
    else:
        for function in _PG_FUNCTIONS:
            op.execute(function)
        for name, rest in _PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {rest}")
    op.execute(_RECOUNT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, rest in _PG_TRIGGERS.items():
            table = rest.split(" ON ")[1].split()[0]
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in ("cronwatch_count_state", "cronwatch_count_job", "cronwatch_count_lock"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("job_count_locks")
    op.drop_table("job_status_counts")
