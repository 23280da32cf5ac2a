"""The kept counts of jobs per stored status (migration 0014) equal the ``GROUP BY`` they stand
for: after random sequences of inserts, updates and deletes of jobs and stored statuses, after
compactions, and (PostgreSQL) with writers on several connections racing on the same names,
none of which may fail (no deadlock, no lost delta)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronwatch.storage import open_database
from cronwatch.storage.alerts.counts import NO_STATUS, CountStore
from cronwatch.storage.connection import Cursor, Database
from cronwatch.storage.jobs import JobStore

NAMES = ("a", "b", "c")
HOSTS = ("", "h")
STATUSES = ("ok", "late", "failed", "missing")

_INSERT_JOB = (
    "INSERT INTO jobs (name, source, created_us, updated_us) VALUES (?, 'api', 0, 0)"
    " ON CONFLICT (name) DO NOTHING"
)
_INSERT_STATE = (
    "INSERT INTO job_states (name, hostname, status, reason, since_us, updated_us)"
    " VALUES (?, ?, ?, '', 0, 0)"
)

#: One change of the tables: (kind, name, host, status).
Op = tuple[str, str, str, str]
KINDS = ("job+", "job-", "forget", "state+", "state=", "upsert", "state-", "bulk=", "compact")


def apply(db: Database, op: Op) -> None:
    """Make the change ``op`` the way cronwatch's writers make it (each its own transaction)."""
    kind, name, host, status = op
    if kind == "job+":
        db.execute(_INSERT_JOB, (name,))
    elif kind == "job-":
        db.execute("DELETE FROM jobs WHERE name = ?", (name,))
    elif kind == "forget":  # the API's delete: runs, summaries, baseline and job at once
        JobStore(db).delete(name)
    elif kind == "state+":  # the alert loop's first state (another loop's is kept)
        db.execute(_INSERT_STATE + " ON CONFLICT (name, hostname) DO NOTHING", (name, host, status))
    elif kind == "state=":  # a flip
        db.execute(
            "UPDATE job_states SET status = ?, version = version + 1"
            " WHERE name = ? AND hostname = ?",
            (status, name, host),
        )
    elif kind == "upsert":  # an import replacing a stored state, a snooze
        db.execute(
            _INSERT_STATE + " ON CONFLICT (name, hostname) DO UPDATE SET status = excluded.status",
            (name, host, status),
        )
    elif kind == "state-":
        db.execute("DELETE FROM job_states WHERE name = ? AND hostname = ?", (name, host))
    elif kind == "bulk=":  # several rows in one statement
        db.execute("UPDATE job_states SET status = ? WHERE status <> ?", (status, status))
    elif kind == "compact":
        CountStore(db).compact(above=0)
    else:
        raise AssertionError(kind)


def grouped(db: Database) -> dict[str, int]:
    """What the counts stand for: every job by its stored status, read the slow way."""
    rows = db.query(
        "SELECT COALESCE(s.status, ''), COUNT(*) FROM jobs j"
        " LEFT JOIN job_states s ON s.name = j.name AND s.hostname = ''"
        " GROUP BY COALESCE(s.status, '')"
    )
    return {status: int(n) for status, n in rows}


ops = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(NAMES),
    st.sampled_from(HOSTS),
    st.sampled_from(STATUSES),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=st.lists(ops, max_size=40))
def test_counts_equal_the_group_by_after_any_changes(database_url: str, history: list[Op]) -> None:
    with open_database(database_url) as db:
        counts = CountStore(db)
        assert counts.status_counts() == grouped(db)  # from any state the last example left
        for op in history:
            apply(db, op)
            assert counts.status_counts() == grouped(db), op


def test_a_job_without_a_stored_status_and_a_status_without_its_job(database_url: str) -> None:
    with open_database(database_url) as db:
        counts = CountStore(db)
        apply(db, ("state+", "gone", "", "failed"))  # a stored status whose job was deleted
        apply(db, ("job+", "new", "", ""))
        assert counts.status_counts() == {NO_STATUS: 1}  # the orphan is not counted
        apply(db, ("job+", "gone", "", ""))  # the job comes back: its status counts again
        assert counts.status_counts() == {NO_STATUS: 1, "failed": 1}
        apply(db, ("state+", "new", "", "ok"))
        apply(db, ("state=", "new", "h", "late"))  # a host's status is not the job's
        assert counts.status_counts() == {"ok": 1, "failed": 1}
        apply(db, ("forget", "gone", "", ""))
        assert counts.status_counts() == {"ok": 1}


def test_compaction_leaves_one_row_per_status_and_the_same_sums(database_url: str) -> None:
    with open_database(database_url) as db:
        counts = CountStore(db)
        for name in [f"j{i:02d}" for i in range(30)]:
            apply(db, ("job+", name, "", ""))
            apply(db, ("state+", name, "", STATUSES[len(name) % 3]))
            apply(db, ("state=", name, "", "late"))
        before = counts.status_counts()
        rows = db.query("SELECT COUNT(*) FROM job_status_counts")[0][0]
        assert not counts.compact(above=rows)  # not above the threshold: left alone
        assert counts.compact(above=10)
        assert counts.status_counts() == before == grouped(db) == {"late": 30}
        assert db.query("SELECT status, n FROM job_status_counts") == [("late", 30)]


# -- concurrent writers (PostgreSQL: row locks and read committed) ------------------------------

WRITERS = 4
STEPS = 300


@pytest.fixture
def postgres_url(dialect: str, database_url: str) -> Iterator[str]:
    """PostgreSQL's: SQLite has one writer at a time, nothing races there (the test is not
    run on SQLite rather than skipped: under CI a skip must mean a missing service)."""
    assert dialect == "postgresql"
    yield database_url


def _import_like(cur: Cursor, db: Database, name: str, status: str) -> None:
    """A job and its stored status inserted in one transaction, as ``cronwatch import`` does."""
    cur.execute(db.sql(_INSERT_JOB), (name,))
    cur.execute(
        db.sql(_INSERT_STATE + " ON CONFLICT (name, hostname) DO NOTHING"), (name, "", status)
    )


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_concurrent_writers_keep_the_counts_exact(postgres_url: str, tmp_path: Path) -> None:
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    names = ("a", "b")  # few names: the writers collide on them at almost every step

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with open_database(postgres_url) as db:
            for _ in range(STEPS):
                start.wait()
                kind = rng.choice((*KINDS[:-2], "import", "compact"))
                name, host, status = rng.choice(names), rng.choice(HOSTS), rng.choice(STATUSES)
                try:
                    if kind == "import":
                        with db.transaction() as cur:
                            _import_like(cur, db, name, status)
                    else:
                        apply(db, (kind, name, host, status))
                except BaseException as exc:  # a deadlock, a unique violation: must not happen
                    errors.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_database(postgres_url) as db:
        counts = CountStore(db)
        assert counts.status_counts() == grouped(db)
        counts.compact(above=0)
        assert counts.status_counts() == grouped(db)


def test_the_alert_loop_compacts_what_its_cycle_added(database_url: str) -> None:
    """A first cycle stores 150 statuses (300 delta rows, with the jobs' own): at its end they
    are compacted to one row per status, summing to what the GROUP BY says."""
    from datetime import UTC, datetime

    from cronwatch.alerts.cycle import run_alert_cycle

    with open_database(database_url) as db:
        for i in range(150):
            apply(db, ("job+", f"j{i:03d}", "", ""))
        run_alert_cycle(db, None, datetime(2026, 12, 1, tzinfo=UTC), worker="w")
        rows = db.query("SELECT status, n FROM job_status_counts ORDER BY status")
        assert len(rows) == len({status for status, _ in rows}) <= len(STATUSES) + 2
        assert {status: int(n) for status, n in rows} == grouped(db)
        assert sum(int(n) for _, n in rows) == 150
