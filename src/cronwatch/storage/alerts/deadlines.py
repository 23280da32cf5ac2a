"""Each job's next deadline (columns ``check_due_us`` and ``changes`` of ``jobs``, migration
0011): which jobs an incremental alert cycle has to look at.

``check_due_us`` is the next instant the job can change by itself (``NULL``: never by itself);
0 means "now". Recording a run sets it to 0 and bumps ``changes`` (a trigger on
``job_hosts``), and so do :meth:`DeadlineStore.make_due` (a snooze, a spec changed through the
API) and a new job (the column's default). The alert cycle reads the due jobs with their
``changes`` *before* it reads their facts, and writes each new deadline only where ``changes``
is still that value: a run recorded while the cycle evaluated leaves the job due.

Several loops share the due jobs: an incremental cycle *claims* a batch of them
(:meth:`DeadlineStore.claim_due`: one atomic ``UPDATE ... RETURNING`` that moves their
deadline to the end of a lease, so that no other loop reads them as due), evaluates it, and
writes their real deadlines as above. The lease is the claim's only state: a loop that dies
holding a claim leaves its jobs due again when the lease ends; a run recorded meanwhile zeroes
the deadline and bumps ``changes`` as always (the job is due at once, the claimer's write of
its deadline is refused). A claimed job reads as settled (deadline ahead) to ``cronwatch
check`` and the overview until its claimer writes its state: for the time of one batch, or
the lease if the claimer died.

``expected_us`` (migration 0015), written with the deadline, is the job's next expected run as
that evaluation found it (``NULL``: none): ``/metrics`` reads it for a job whose deadline is
still ahead, when it cannot have changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from cronwatch.storage.alerts.counts import NO_STATUS, CountStore
from cronwatch.storage.connection import Database
from cronwatch.timeutil import to_us

#: Deadlines written per transaction, and names per ``IN (...)`` list.
CHUNK = 500
#: A cycle that wrote at least this many deadlines reclaims the index's dead entries
#: (``Dialect.RECLAIM_DEADLINES``): a first cycle, or many jobs sharing one slot.
RECLAIM_AFTER = 10_000


class Due(NamedTuple):
    """A job as :meth:`DeadlineStore.due_jobs` reads it (instants in microseconds)."""

    changes: int
    deadline: int | None
    expected: int | None


def _int(value: int | None) -> int | None:
    return None if value is None else int(value)


class DeadlineStore:
    """The next deadlines of the jobs of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def due_jobs(self, now: datetime | None) -> dict[str, Due]:
        """The jobs due at ``now`` (every job with ``None``), each with its ``changes`` counter,
        its stored deadline and next expected run in microseconds: one range read of the index,
        whatever the number of jobs."""
        select = "SELECT name, changes, check_due_us, expected_us FROM jobs"
        if now is None:
            rows = self.db.query(select)
        else:
            rows = self.db.query(f"{select} WHERE check_due_us <= ?", (to_us(now),))
        return {
            name: Due(int(changes), _int(due), _int(expected))
            for name, changes, due, expected in rows
        }

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> dict[str, Due]:
        """Claim up to ``limit`` of the jobs due at ``now``, oldest deadline first, that no
        other loop holds: their deadline becomes ``lease_until`` in one atomic statement
        (PostgreSQL: rows locked by another transaction are skipped, not waited for; SQLite:
        under its one write lock). Each claimed job with its ``changes`` counter, its deadline
        as now stored (``lease_until``) and its next expected run, as :meth:`due_jobs`."""
        rows = self.db.query(
            "UPDATE jobs SET check_due_us = ? WHERE name IN ("
            " SELECT name FROM jobs WHERE check_due_us <= ? ORDER BY check_due_us LIMIT ?"
            f"{self.db.dialect.SKIP_LOCKED}) RETURNING name, changes, check_due_us, expected_us",
            (to_us(lease_until), to_us(now), limit),
        )
        return {
            name: Due(int(changes), _int(due), _int(expected))
            for name, changes, due, expected in rows
        }

    def set_deadlines(
        self, deadlines: Iterable[tuple[str, int, int | None, int | None]], *, reclaim: bool = True
    ) -> int:
        """Write each ``(name, changes, deadline, next expected run)`` (microseconds) where the
        job's counter is still ``changes``; the number of writes tried. With ``reclaim``,
        :meth:`reclaim_deadlines` after them (a caller writing in several calls says
        ``False`` and reclaims once for all of them)."""
        params = [
            (due, expected, name, changes) for name, changes, due, expected in sorted(deadlines)
        ]
        statement = self.db.sql(
            "UPDATE jobs SET check_due_us = ?, expected_us = ? WHERE name = ? AND changes = ?"
        )
        for start in range(0, len(params), CHUNK * 10):
            with self.db.transaction() as cur:
                cur.executemany(statement, params[start : start + CHUNK * 10])  # type: ignore[attr-defined]
        if reclaim:
            self.reclaim_deadlines(len(params))
        return len(params)

    def reclaim_deadlines(self, written: int) -> None:
        """After ``written`` deadline writes (claims included): when they are
        :data:`RECLAIM_AFTER` or more, reclaim the old versions' index entries where the
        database keeps them (PostgreSQL: ``VACUUM``), so that the next cycles' range read of
        the due jobs does not walk them."""
        reclaim = self.db.dialect.RECLAIM_DEADLINES
        if reclaim is not None and written >= RECLAIM_AFTER:
            self.db.execute(reclaim)

    def make_due(self, names: Sequence[str]) -> None:
        """Make ``names`` due now (something the loop does not see coming changed them)."""
        for start in range(0, len(names), CHUNK):
            chunk = names[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            self.db.execute(
                f"UPDATE jobs SET check_due_us = 0, changes = changes + 1 WHERE name IN ({marks})",
                chunk,
            )

    def deadline(self, name: str) -> int | None:
        """Job ``name``'s stored deadline in microseconds (``None``: none, or no such job)."""
        rows = self.db.query("SELECT check_due_us FROM jobs WHERE name = ?", (name,))
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def settled_statuses(self, now: datetime) -> tuple[dict[str, tuple[str, str]], list[str]]:
        """What the alert loop's last cycles settled, in one query: ``(settled, due)`` where
        ``settled`` maps each job whose deadline is still ahead (or that has none) to its stored
        ``(status, reason)`` (it cannot have changed since), and ``due`` lists the other jobs
        (deadline passed, changed since, or never looked at), to evaluate."""
        rows = self.db.query(
            "SELECT j.name, j.check_due_us, s.status, s.reason FROM jobs j"
            " LEFT JOIN job_states s ON s.name = j.name AND s.hostname = ''"
        )
        stamp = to_us(now)
        settled: dict[str, tuple[str, str]] = {}
        due: list[str] = []
        for name, check_due, status, reason in rows:
            if status is not None and (check_due is None or int(check_due) > stamp):
                settled[name] = (status, reason)
            else:
                due.append(name)
        return settled, due

    def settled_counts(self, now: datetime) -> tuple[dict[str, int], list[str], list[str]]:
        """``(counts, due, stateless)`` at ``now``: the jobs settled (deadline ahead or none,
        a stored status) counted per stored status, the jobs due (to evaluate), and the jobs
        whose deadline is ahead but that have no stored status (rare: to evaluate too).

        The counts are the kept counts of every job
        (:meth:`~cronwatch.storage.alerts.counts.CountStore.status_counts`, migration 0014)
        less the due jobs' stored statuses, read in the same snapshot: a range of the
        deadline index and a key read per due job, whatever the number of jobs. Only when
        some job whose deadline is ahead has no stored status are the jobs read (one
        anti-join) to name them."""
        stamp = to_us(now)
        with self.db.snapshot():
            counts = Counter(CountStore(self.db).status_counts())
            due_rows = self.db.query(
                "SELECT j.name, s.status FROM jobs j"
                " LEFT JOIN job_states s ON s.name = j.name AND s.hostname = ''"
                " WHERE j.check_due_us <= ?",
                (stamp,),
            )
        due: list[str] = []
        for name, status in due_rows:
            counts[status if status is not None else NO_STATUS] -= 1
            due.append(name)
        stateless: list[str] = []
        if counts.pop(NO_STATUS, 0) > 0:
            stateless = [
                name
                for (name,) in self.db.query(
                    "SELECT j.name FROM jobs j"
                    " LEFT JOIN job_states s ON s.name = j.name AND s.hostname = ''"
                    " WHERE (j.check_due_us IS NULL OR j.check_due_us > ?) AND s.name IS NULL",
                    (stamp,),
                )
            ]
        return {status: n for status, n in counts.items() if n > 0}, due, stateless

    def settled_by_status(
        self, now: datetime, status: str, after: str, limit: int
    ) -> list[tuple[str, str]]:
        """Up to ``limit`` ``(name, reason)`` of the jobs settled at ``now`` with stored
        ``status`` whose name sorts after ``after``, by name: a range of the index
        ``ix_job_states_status`` (migration 0012), whatever the number of jobs."""
        rows = self.db.query(
            "SELECT s.name, s.reason FROM job_states s JOIN jobs j ON j.name = s.name"
            " WHERE s.hostname = '' AND s.status = ? AND s.name > ?"
            " AND (j.check_due_us IS NULL OR j.check_due_us > ?)"
            " ORDER BY s.name LIMIT ?",
            (status, after, to_us(now), limit),
        )
        return [(name, reason) for name, reason in rows]

    def settled_of(self, now: datetime, names: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Those of ``names`` settled at ``now`` (deadline ahead or none, a stored status), each
        with its stored ``(status, reason)``: read by key, whatever the number of jobs."""
        settled: dict[str, tuple[str, str]] = {}
        for start in range(0, len(names), CHUNK):
            chunk = list(names[start : start + CHUNK])
            marks = ", ".join("?" * len(chunk))
            for name, status, reason in self.db.query(
                "SELECT s.name, s.status, s.reason FROM job_states s JOIN jobs j ON j.name = s.name"
                f" WHERE s.hostname = '' AND s.name IN ({marks})"
                " AND (j.check_due_us IS NULL OR j.check_due_us > ?)",
                [*chunk, to_us(now)],
            ):
                settled[name] = (status, reason)
        return settled

    def existing(self, names: Sequence[str]) -> set[str]:
        """Those of ``names`` that are rows of ``jobs``."""
        found: set[str] = set()
        for start in range(0, len(names), CHUNK):
            chunk = names[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            found.update(
                name
                for (name,) in self.db.query(
                    f"SELECT name FROM jobs WHERE name IN ({marks})", chunk
                )
            )
        return found
