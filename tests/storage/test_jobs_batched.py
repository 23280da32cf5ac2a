"""PostgreSQL folds the runs of one INSERT into the host summaries once per statement (0006).

The fold must keep exactly the summaries that one-row-at-a-time triggers keep, whatever the
order of the rows, their ties and how they are split into statements. Each example replays one
random history three ways: on PostgreSQL in multi-row INSERTs (the statement trigger), on
PostgreSQL one row per INSERT, and on SQLite one row per INSERT (row triggers, 0005); the
three summaries must be equal.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronwatch.storage import open_database
from cronwatch.storage.connection import Database

SUMMARY_COLUMNS = (
    "hostname, first_seen_us, last_started_us, prev_started_us, last_completed_us,"
    " last_outcome, last_exit_code, last_duration_us, last_success_started_us,"
    " last_success_completed_us, consecutive_failures, runs_total, failures_total"
)


@dataclass(frozen=True)
class Insert:
    """One statement inserting ``rows``: (host, started, completed or None, outcome, code)."""

    rows: tuple[tuple[str, int, int | None, str, int | None], ...]


@dataclass(frozen=True)
class Finish:
    """Completes the ``index``-th running run inserted so far (if it is still running)."""

    index: int
    completed_after: int
    outcome: str


@st.composite
def runs(draw: Any) -> tuple[str, int, int | None, str, int | None]:
    host = draw(st.sampled_from(["h1", "h2"]))
    started = draw(st.integers(0, 6))  # a narrow range: ties are the interesting cases
    outcome = draw(st.sampled_from(["success", "failure", "running"]))
    if outcome == "running":
        return host, started, None, outcome, None
    completed = started + draw(st.integers(0, 3))
    return host, started, completed, outcome, (0 if outcome == "success" else 1)


steps = st.lists(
    st.one_of(
        st.builds(Insert, st.lists(runs(), min_size=1, max_size=8).map(tuple)),
        st.builds(
            Finish, st.integers(0, 10), st.integers(0, 3), st.sampled_from(["success", "failure"])
        ),
    ),
    min_size=1,
    max_size=6,
)


def replay(db: Database, job: str, history: list[Insert | Finish], *, one_by_one: bool) -> None:
    run_ids = (f"r{n}" for n in itertools.count())
    running: list[tuple[str, int]] = []  # (run id, started) of every run inserted running
    for step in history:
        if isinstance(step, Finish):
            if step.index < len(running):
                run_id, started = running[step.index]
                finished = started + step.completed_after
                db.execute(
                    "UPDATE runs SET outcome = ?, exit_code = ?, completed_us = ?,"
                    " duration_us = ? WHERE name = ? AND run_id = ? AND outcome = 'running'",
                    (step.outcome, 0 if step.outcome == "success" else 1, finished,
                     finished - started, job, run_id),
                )  # fmt: skip
            continue
        values = []
        for host, started, completed, outcome, code in step.rows:
            run_id = next(run_ids)
            if completed is None:
                running.append((run_id, started))
            duration = None if completed is None else completed - started
            values.append((job, host, run_id, outcome, code, started, completed, duration))
        groups = [[v] for v in values] if one_by_one else [values]
        for group in groups:
            marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(group))
            db.execute(
                "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
                f" completed_us, duration_us) VALUES {marks}",
                [value for row in group for value in row],
            )


def summaries(db: Database, job: str) -> list[tuple[Any, ...]]:
    return db.query(
        f"SELECT {SUMMARY_COLUMNS} FROM job_hosts WHERE name = ? ORDER BY hostname", (job,)
    )


@pytest.fixture(scope="module")
def databases(request: pytest.FixtureRequest) -> Iterator[tuple[Database, Database]]:
    url = request.getfixturevalue("postgres").create_database()
    with tempfile.TemporaryDirectory() as directory:
        sqlite_url = f"sqlite:///{os.path.join(directory, 'rows.db')}"
        with open_database(url) as pg, open_database(sqlite_url) as lite:
            yield pg, lite


_examples = itertools.count()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=steps)
def test_batched_summaries_equal_row_by_row(
    databases: tuple[Database, Database], history: list[Insert | Finish]
) -> None:
    pg, lite = databases
    job = f"job-{next(_examples)}"
    replay(pg, job + "-batched", history, one_by_one=False)
    replay(pg, job + "-rows", history, one_by_one=True)
    replay(lite, job, history, one_by_one=True)
    batched = summaries(pg, job + "-batched")
    assert batched == summaries(pg, job + "-rows")
    assert batched == summaries(lite, job)
    jobs = pg.query("SELECT name FROM jobs WHERE name LIKE ? ORDER BY name", (job + "-%",))
    inserted = any(isinstance(step, Insert) for step in history)
    assert jobs == ([(job + "-batched",), (job + "-rows",)] if inserted else []), (
        "each job got its row, once, with its first run"
    )


def test_one_statement_updates_the_summary_row_once(
    databases: tuple[Database, Database],
) -> None:
    """A batch of one job and host is one change of its summary row, not one per run."""
    pg, _ = databases
    replay(pg, "once", [Insert((("h1", 0, 1, "success", 0),))], one_by_one=True)
    rows = [("once", "h1", f"f{t}", "failure", 1, t, t + 1, 1) for t in range(1, 40)]
    updated = "SELECT pg_stat_get_xact_tuples_updated('job_hosts'::regclass)"
    with pg.transaction() as cur:
        # this session's counters, not yet flushed to the statistics: exact for this test
        cur.execute(updated)
        before = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
            " completed_us, duration_us) SELECT * FROM unnest(%s::text[], %s::text[],"
            " %s::text[], %s::text[], %s::int[], %s::bigint[], %s::bigint[], %s::bigint[])",
            [list(column) for column in zip(*rows, strict=True)],
        )
        cur.execute(updated)
        assert cur.fetchone()[0] - before == 1, "the summary row was updated once for 39 runs"
    (row,) = summaries(pg, "once")
    assert row[-3:] == (39, 40, 39), "39 failures in a row, 40 runs, 39 failures"


def test_batches_written_at_once_by_many_connections_lose_nothing(
    databases: tuple[Database, Database],
) -> None:
    """Writers folding into the same summary rows at the same time (several server
    processes): every run counted once, the latest start and completion kept, no deadlock."""
    url = databases[0].url  # each writer its own connection
    writers, batches, size = 4, 25, 20
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            with open_database(url, upgrade=False) as db:
                for batch in range(batches):
                    rows = []
                    for n in range(size):
                        t = (writer * batches + batch) * size + n  # distinct, unordered overall
                        job, host = ("concurrent-a", "concurrent-b")[n % 2], f"h{n % 3}"
                        rows.append((job, host, f"w{writer}-{t}", "success", 0, t, t + 1, 1))
                    marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
                    db.execute(
                        "INSERT INTO runs (name, hostname, run_id, outcome, exit_code,"
                        f" started_us, completed_us, duration_us) VALUES {marks}",
                        [value for row in rows for value in row],
                    )
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    pg = databases[0]
    expected = pg.query(
        "SELECT name, hostname, COUNT(*), MAX(started_us), MAX(completed_us), MIN(started_us)"
        " FROM runs WHERE name LIKE ? GROUP BY name, hostname ORDER BY 1, 2",
        ("concurrent-%",),
    )
    summarised = pg.query(
        "SELECT name, hostname, runs_total, last_started_us, last_completed_us, first_seen_us"
        " FROM job_hosts WHERE name LIKE ? ORDER BY 1, 2",
        ("concurrent-%",),
    )
    assert summarised == expected and sum(row[2] for row in expected) == writers * batches * size
    jobs = pg.query("SELECT name FROM jobs WHERE name LIKE ? ORDER BY name", ("concurrent-%",))
    assert jobs == [("concurrent-a",), ("concurrent-b",)]
