"""The deadline index (:mod:`cronwatch.storage.alerts.deadlines`) after a cycle rewrote many
deadlines: the range read of the due jobs reads what it returns, not the old versions."""

from __future__ import annotations

import re
from datetime import timedelta

from cronwatch.storage.alerts.deadlines import RECLAIM_AFTER, DeadlineStore
from cronwatch.storage.connection import Database
from cronwatch.timeutil import to_us
from tests.support.alerting import T0


def test_a_bulk_rewrite_leaves_no_dead_entries_for_the_range_read(
    db: Database, dialect: str
) -> None:
    """A first cycle writes every job's deadline: on PostgreSQL each UPDATE leaves the old
    entry (deadline 0, before now) in the index, where every later range read of the due jobs
    starts. What must not happen: the next reads walking those 10,000 entries (or scanning
    the table, the planner still taking every deadline for 0)."""
    names = [f"job-{n:05d}" for n in range(RECLAIM_AFTER)]
    stamp = to_us(T0)
    with db.transaction() as cur:
        cur.executemany(  # type: ignore[attr-defined]
            db.sql(
                "INSERT INTO jobs (name, source, created_us, updated_us) VALUES (?, 'run', ?, ?)"
            ),
            [(name, stamp, stamp) for name in names],
        )
    store = DeadlineStore(db)
    assert len(store.due_jobs(T0)) == RECLAIM_AFTER  # new jobs are due at once
    store.set_deadlines([(name, 0, to_us(T0 + timedelta(hours=1)), None) for name in names])
    assert store.due_jobs(T0) == {}
    assert store.deadline(names[-1]) == to_us(T0 + timedelta(hours=1))
    if dialect != "postgresql":
        return  # SQLite rewrites the index entry in place
    plan = "\n".join(
        row[0]
        for row in db.query(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT name, changes, check_due_us FROM jobs"
            f" WHERE check_due_us <= {stamp}"
        )
    )
    assert "Index" in plan and "Seq Scan" not in plan, plan
    buffers = sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", plan.split("Planning")[0]))
    assert buffers <= 5, plan  # the root and a leaf; walking the dead entries reads 20 and more
