"""The server's batch writer: pairing of pings without run id, within a batch and across."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronwatch.monitor import make_run
from cronwatch.storage import open_database
from cronwatch.web.batch import write_runs

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def finish(name: str, host: str, minutes: float, outcome: str = "success"):  # type: ignore[no-untyped-def]
    # a ping without rid: the server gives it zero length and asks for pairing
    return make_run(
        name,
        at(minutes),
        at(minutes),
        outcome=outcome,  # type: ignore[arg-type]
        exit_code=None if outcome == "success" else 1,
        hostname=host,
    ), True


def start(name: str, host: str, minutes: float):  # type: ignore[no-untyped-def]
    return make_run(name, at(minutes), None, outcome="running", hostname=host), True


def test_batch_pairs_and_bulk_inserts(database_url: str) -> None:
    with open_database(database_url) as db:
        with db.transaction() as cur:
            write_runs(db, cur, [start("paired-earlier", "h", 0)])
        batch = [
            finish("plain-a", "h", 1),  # nothing running: bulk path
            finish("plain-b", "h", 1, "failure"),
            start("same-batch", "h", 1),  # started and finished within this batch
            finish("same-batch", "h", 3),
            finish("paired-earlier", "h", 5),  # completes the start stored before
            finish("plain-a", "h2", 2),  # another host of the same job: not paired with h
        ]
        with db.transaction() as cur:
            written = write_runs(db, cur, batch)
        assert [w.new for w in written] == [True] * 6
        assert written[3].duration_us == 2 * 60_000_000
        assert written[4].duration_us == 5 * 60_000_000
        rows = db.query(
            "SELECT name, hostname, outcome, duration_us FROM runs ORDER BY name, hostname"
        )
    assert rows == [
        ("paired-earlier", "h", "success", 5 * 60_000_000),
        ("plain-a", "h", "success", 0),
        ("plain-a", "h2", "success", 0),
        ("plain-b", "h", "failure", 0),
        ("same-batch", "h", "success", 2 * 60_000_000),
    ], "each start completed once, nothing left running, nothing duplicated"


def test_a_replayed_batch_stores_nothing_twice(database_url: str) -> None:
    with open_database(database_url) as db:
        batch = [finish("job", "h", 1), finish("job", "h2", 1)]
        with db.transaction() as cur:
            assert [w.new for w in write_runs(db, cur, batch)] == [True, True]
        with db.transaction() as cur:
            assert [w.new for w in write_runs(db, cur, batch)] == [False, False]
        assert db.query("SELECT COUNT(*) FROM runs") == [(2,)]
        (host,) = db.query("SELECT runs_total FROM job_hosts WHERE hostname = 'h'")
        assert host == (1,)
