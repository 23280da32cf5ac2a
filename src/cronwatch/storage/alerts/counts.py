"""How many jobs have each stored status (table ``job_status_counts``, migration 0014): the
overview's counts at the cost of a few rows, whatever the number of jobs.

The table holds signed deltas ``(status, n)`` inserted by triggers on ``jobs`` and
``job_states`` in the transaction of each change (see the migration for why they stay exact
under concurrent writers on PostgreSQL): the number of jobs whose stored status (their
``job_states`` row of host ``''``) is ``status`` is the sum of ``n`` over its rows, and
:data:`NO_STATUS` counts the jobs without one. A stored status whose job was deleted is not
counted. Every change adds rows; :meth:`CountStore.compact` (run by the alert loop) replaces
them by their sums.
"""

from __future__ import annotations

from collections import Counter

from cronwatch.storage.connection import Database

#: The status the jobs without a stored status are counted under.
NO_STATUS = ""
#: Rows of deltas above which :meth:`CountStore.compact` compacts: the overview sums them all.
COMPACT_ABOVE = 100


class CountStore:
    """The counts of jobs per stored status of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def status_counts(self) -> dict[str, int]:
        """The number of jobs per stored status (:data:`NO_STATUS`: the jobs without one), the
        statuses with none left out: one aggregate over the deltas, not over the jobs."""
        rows = self.db.query("SELECT status, SUM(n) FROM job_status_counts GROUP BY status")
        return {status: int(n) for status, n in rows if int(n)}

    def compact(self, above: int = COMPACT_ABOVE) -> bool:
        """Replace the delta rows by one row per status (their sum; none for a sum of 0) when
        there are more than ``above``; whether it did. One transaction: it deletes the rows it
        sees and inserts their sums, so that deltas that writers commit meanwhile (not seen, so
        not deleted) still count once. Where several processes may compact at once
        (PostgreSQL), one does and the others skip."""
        if int(self.db.query("SELECT COUNT(*) FROM job_status_counts")[0][0]) <= above:
            return False
        lock = self.db.dialect.COMPACT_COUNTS_LOCK
        with self.db.transaction() as cur:
            if lock is not None:
                cur.execute(lock)
                if not cur.fetchone()[0]:
                    return False  # another process is compacting
            cur.execute("DELETE FROM job_status_counts RETURNING status, n")
            sums: Counter[str] = Counter()
            for status, n in cur.fetchall():
                sums[status] += int(n)
            rows = sorted((status, n) for status, n in sums.items() if n)
            if rows:
                cur.executemany(  # type: ignore[attr-defined]
                    self.db.sql("INSERT INTO job_status_counts (status, n) VALUES (?, ?)"), rows
                )
        return True
