"""The server's batch writer: pairing of pings without run id, within a batch and across."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronwatch.model import Run
from cronwatch.monitor import make_run
from cronwatch.statsd import StatsdClient
from cronwatch.storage import open_database
from cronwatch.storage.keys import KeyStore, hash_token
from cronwatch.storage.runs import RunStore
from cronwatch.storage.writes import Unpaired
from cronwatch.web.errors import ApiError
from cronwatch.web.ingest import WriteOp, Writer
from tests.support.databases import PostgresServer
from tests.support.receivers import StatsdReceiver

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def finish(name: str, host: str, minutes: float, outcome: str = "success") -> tuple[Run, bool]:
    # a ping without rid: the server gives it zero length and asks for pairing
    return make_run(
        name,
        at(minutes),
        at(minutes),
        outcome=outcome,  # type: ignore[arg-type]
        exit_code=None if outcome == "success" else 1,
        hostname=host,
    ), True


def start(name: str, host: str, minutes: float) -> tuple[Run, bool]:
    return make_run(name, at(minutes), None, outcome="running", hostname=host), True


def test_batch_pairs_and_bulk_inserts(database_url: str) -> None:
    with open_database(database_url) as db:
        with db.transaction() as cur:
            RunStore(db).write(cur, [start("paired-earlier", "h", 0)])
        batch = [
            finish("plain-a", "h", 1),  # nothing running: bulk path
            finish("plain-b", "h", 1, "failure"),
            start("same-batch", "h", 1),  # started and finished within this batch
            finish("same-batch", "h", 3),
            finish("paired-earlier", "h", 5),  # completes the start stored before
            finish("plain-a", "h2", 2),  # another host of the same job: not paired with h
        ]
        with db.transaction() as cur:
            written = RunStore(db).write(cur, batch)
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
            assert [w.new for w in RunStore(db).write(cur, batch)] == [True, True]
        with db.transaction() as cur:
            assert [w.new for w in RunStore(db).write(cur, batch)] == [False, False]
        assert db.query("SELECT COUNT(*) FROM runs") == [(2,)]
        (host,) = db.query("SELECT runs_total FROM job_hosts WHERE hostname = 'h'")
        assert host == (1,)


def test_a_batch_of_pings_checks_every_key_and_pairs_what_must_be_paired(
    database_url: str, statsd_receiver: StatsdReceiver
) -> None:
    """The writer's whole batch: on PostgreSQL the plain pings go in through one statement,
    the rest through the transaction; on both databases the outcome is the same."""
    with open_database(database_url) as db:
        keys = KeyStore(db)
        ping = hash_token(keys.create("ping", "pinger")[1])
        reader = hash_token(keys.create("read", "reader")[1])
        revoked_token = keys.create("ping", "old")[1]
        keys.revoke("old")
        revoked = hash_token(revoked_token)
        with db.transaction() as cur:
            RunStore(db).write(cur, [start("was-started", "h", 0)])

        def op(run_and_pair: tuple[Run, bool], key: str | None = ping) -> WriteOp:
            run, pair = run_and_pair
            return WriteOp(run, pair_latest=pair, key_hash=key)

        ops = [
            op(finish("plain", "h", 1)),
            op(finish("by-reader", "h", 1), reader),
            op(finish("by-revoked", "h", 1), revoked),
            op(finish("by-stranger", "h", 1), "0" * 64),
            op(finish("plain", "h2", 2, "failure")),
            op(start("in-batch", "h", 1)),
            op(finish("in-batch", "h", 4)),
            op(finish("was-started", "h", 5)),
            op(finish("checked-by-caller", "h", 1), None),
        ]
        statsd = StatsdClient("127.0.0.1", statsd_receiver.port, environment="t")
        writer = Writer(database_url, statsd=statsd)  # not started: its batch written here
        try:
            results = writer._write_all(0, ops)
        finally:
            writer.close()
        timings = sorted(statsd_receiver.receive())
        rows = db.query(
            "SELECT name, hostname, outcome, duration_us FROM runs ORDER BY name, hostname"
        )
        jobs = [row[0] for row in db.query("SELECT name FROM jobs ORDER BY name")]
    statuses = [r.status if isinstance(r, ApiError) else "stored" for r in results]
    assert statuses == ["stored", 403, 401, 401, "stored", "stored", "stored", "stored", "stored"]
    assert rows == [
        ("checked-by-caller", "h", "success", 0),
        ("in-batch", "h", "success", 3 * 60_000_000),
        ("plain", "h", "success", 0),
        ("plain", "h2", "failure", 0),
        ("was-started", "h", "success", 5 * 60_000_000),
    ], "refused pings stored nothing; starts paired with their finishes, in the batch or before"
    assert jobs == ["checked-by-caller", "in-batch", "plain", "was-started"]
    assert timings == [
        "script_activity,env=t,name=checked-by-caller:0.000000|ms",
        "script_activity,env=t,name=in-batch:180000.000000|ms",
        "script_activity,env=t,name=plain:0.000000|ms",
        "script_activity,env=t,name=was-started:300000.000000|ms",
    ], "one statsd timing per success stored (none for a failure or a refusal), as stored"


def test_plain_pings_written_again_are_stored_once(postgres: PostgresServer) -> None:
    """A batch whose commit was hidden by a failure is written again: nothing twice.
    (The one-statement path for plain pings is PostgreSQL's.)"""
    database_url = postgres.create_database()
    plain = [Unpaired(finish(f"job-{n}", "h", n)[0], None, ()) for n in range(3)]
    with open_database(database_url) as db:
        first = RunStore(db).insert_unpaired(plain)
        again = RunStore(db).insert_unpaired(plain[1:])
        with db.transaction() as cur:
            replayed = RunStore(db).write(cur, [(item.run, True) for item in plain[1:]])
        rows = db.query("SELECT name, runs_total FROM job_hosts ORDER BY name")
    assert sorted(first) == [0, 1, 2] and again == {}
    assert [w.new for w in replayed] == [False, False], "known as replays the general way"
    assert rows == [("job-0", 1), ("job-1", 1), ("job-2", 1)]


def test_one_run_is_written_by_the_batch_path_in_one_statement(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """RunStore.save is the server's write path with a batch of one, and adds no round trip:
    on PostgreSQL one exchange in autocommit (libpq's own trace of the wire): the job and
    host's advisory lock and the statement pipelined before one Sync, no BEGIN or COMMIT, the
    connection idle (not in a transaction) after it."""
    from cronwatch.storage.dialect import PostgreSQL

    database_url = postgres.create_database()
    trace = tmp_path / "wire.trace"
    with open_database(database_url) as db:
        store = RunStore(db)
        started = make_run("job", at(0), None, outcome="running", hostname="h")
        finished = make_run("job", at(0), at(2), outcome="success", hostname="h",
                            run_id=started.run_id)  # fmt: skip
        with trace.open("w") as out:
            db._conn.pgconn.trace(out.fileno())
            try:
                assert store.save(started) and store.save(finished)
                assert not store.save(finished), "the same finish again is a replay"
            finally:
                db._conn.pgconn.untrace()
        assert db.query("SELECT duration_us FROM runs") == [(2 * 60_000_000,)]
    # libpq's trace: time, direction (F: to the server, B: back), length, message, fields
    wire = [line.split("\t") for line in trace.read_text().splitlines()]
    frontend = [fields[3] for fields in wire if fields[1] == "F"]
    parsed = [fields[4] for fields in wire if fields[1] == "F" and fields[3] == "Parse"]
    ready = [f[4].strip() for f in wire if f[1] == "B" and f[3] == "ReadyForQuery"]
    assert frontend.count("Sync") == 3, "one exchange per save"
    assert "Query" not in frontend and not any("BEGIN" in p or "COMMIT" in p for p in parsed)
    assert ready == ["I", "I", "I"], "autocommit: no transaction left open"
    statements = {PostgreSQL.INSERT_STARTED, PostgreSQL.UPSERT_FINISHED}
    numbered = {_numbered(statement) for statement in statements}
    lock = _numbered(PostgreSQL.LOCK_JOB_HOSTS)
    sent = [p.split('"')[3] for p in parsed]
    assert sent[0] == lock and set(sent) - {lock} <= numbered, "the batch path's statements"


def _numbered(statement: str) -> str:
    """``statement`` as psycopg sends it: ``%s`` placeholders numbered ``$1, $2, ...``."""
    parts = statement.split("%s")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


def test_a_ping_whose_commit_cannot_be_synced_is_answered_503_and_its_retry_stored_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's writer syncs the WAL after each commit before answering. When that sync fails
    (here the WAL's path names a FIFO, which fdatasync refuses, while SQLite goes on writing
    the file it has open), the ping is not acknowledged: 503 with Retry-After, an outage in
    the log, no 200. The client's retry with the same run id is then answered 200 and the run
    is stored once."""
    import logging
    import os

    import httpx

    from tests.support.server import LiveServer, create_key, query

    path = tmp_path / "sync.db"
    url = f"sqlite:///{path}"
    key = create_key(url, "ping")
    wal, aside = Path(f"{path}-wal"), tmp_path / "sync.db-wal.aside"
    with caplog.at_level(logging.ERROR, logger="cronwatch"), LiveServer(url) as live:
        ping = f"{live.url}/ping/{key}/job?host=h&rid="
        assert httpx.get(ping + "before").status_code == 200
        wal.rename(aside)
        os.mkfifo(wal)
        try:
            refused = httpx.get(ping + "during")
        finally:
            wal.unlink()
            aside.rename(wal)
        assert refused.status_code == 503, refused.text
        assert refused.headers.get("retry-after")
        assert "could not be synced" in caplog.text
        retried = httpx.get(ping + "during")
        assert retried.status_code == 200, retried.text
    runs = query(url, "SELECT run_id FROM runs ORDER BY run_id")
    assert runs == [("before",), ("during",)], "the retry stored nothing twice"
