"""The alerting state deleted jobs left behind: ``job_states`` rows whose job is gone.

Deleting a job (:meth:`JobStore.delete <cronwatch.storage.jobs.JobStore.delete>`) left its
``job_states`` rows behind until recently: a job recorded later under the same name took the
old state over (an announced problem, still ``alerting``), and its first failure was announced
to nobody. This deletes what the deletion deletes now: every row of a name that has no row in
``jobs`` (the job's own, host ``''``, and each of its hosts'). ``job_states`` is tied to
``jobs`` by ``name`` alone (no foreign key), as the deletion matches it.

One kind of row without its job is no deleted job's and stays: the snooze of a job declared in
the config file that cronwatch has not stored yet (``cronwatch alerts snooze``, the dashboard
and the API take such a job). :meth:`AlertStore.snooze
<cronwatch.storage.alerts.states.StateStore.snooze>` writes it as host ``''``, status ``new``,
reason ``''``, ``version`` 0, not alerting, with ``snooze_until_us``; the alert loop stores the
job before it evaluates it, so until then nothing else changes the row. Deleting it would lose
the snooze (the job's first failure would be announced during it). A deleted job's row of that
very shape (snoozed, never evaluated past ``new``) stays too: it holds no announced problem.

The status counts of migration 0014 do not move: they count the stored statuses of existing
jobs only (their delete trigger skips a row without its job).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: The row ``AlertStore.snooze`` inserts for a job not stored yet, untouched since.
_UNSEEN_SNOOZE = (
    "hostname = '' AND status = 'new' AND reason = '' AND version = 0 AND alerting = 0"
    " AND snooze_until_us IS NOT NULL"
)

_DELETE_ORPHANS = (
    "DELETE FROM job_states"
    " WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.name = job_states.name)"
    f" AND NOT ({_UNSEEN_SNOOZE})"
)


def upgrade() -> None:
    op.execute(_DELETE_ORPHANS)


def downgrade() -> None:
    # Nothing to undo: the rows were stale, and 0015's schema is the same.
    pass
