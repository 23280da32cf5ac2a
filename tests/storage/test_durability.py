"""Nothing acknowledged is lost: many writers at once, writers killed mid-write, and commits
that are on disk (not only in the OS's cache) before anything says they were made."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cronwatch
from cronwatch.storage import Database, open_database
from tests.support.databases import IN_CI, PostgresServer

WRITERS = 8
RUNS_PER_WRITER = 60


def _writer(
    url: str,
    writer: int,
    start: multiprocessing.synchronize.Event,
    ready: multiprocessing.synchronize.Semaphore,
    results: multiprocessing.Queue[list[str]],
) -> None:
    from datetime import UTC, datetime, timedelta

    with cronwatch.connect(url, statsd=False) as monitor:
        ready.release()
        start.wait()
        acknowledged = []
        for i in range(RUNS_PER_WRITER):
            t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=writer * 1000 + i)
            if i % 3 == 0:  # a mix of the write paths: start + finish, and whole runs
                run = monitor.start(f"job-{i % 4}", f"host-{writer}", date_started=t)
                run = monitor.finish(run, date_completed=t + timedelta(seconds=1))
            else:
                run = monitor.record_success(f"job-{i % 4}", t, t, f"host-{writer}")
            acknowledged.append(run.run_id)
        results.put(acknowledged)


@pytest.mark.slow
def test_eight_processes_recording_at_once_lose_nothing(database_url: str) -> None:
    open_database(database_url).close()  # migrated up front: this test is about the writes
    ctx = multiprocessing.get_context("spawn")
    start, ready, results = ctx.Event(), ctx.Semaphore(0), ctx.Queue()
    writers = [
        ctx.Process(target=_writer, args=(database_url, w, start, ready, results))
        for w in range(WRITERS)
    ]
    for process in writers:
        process.start()
    for _ in range(WRITERS):
        assert ready.acquire(timeout=60)
    start.set()  # all writers released together
    acknowledged = [run_id for _ in writers for run_id in results.get(timeout=240)]
    for process in writers:
        process.join(30)
        assert process.exitcode == 0
    assert len(acknowledged) == WRITERS * RUNS_PER_WRITER
    with open_database(database_url) as db:
        rows = db.query("SELECT run_id, outcome FROM runs")
    assert {run_id for run_id, _ in rows} == set(acknowledged)
    assert len(rows) == len(acknowledged), "no run may be stored twice"
    assert {outcome for _, outcome in rows} == {"success"}, "no start may be left unfinished"


_KILLED_WRITER = r"""
import sys
from datetime import UTC, datetime, timedelta
import cronwatch

monitor = cronwatch.connect(sys.argv[1], statsd=False)
t = datetime(2026, 1, 1, tzinfo=UTC)
i = 0
while True:
    i += 1
    run = monitor.record_success("victim", t + timedelta(seconds=i), t + timedelta(seconds=i + 1),
                                 "h", output="x" * 5000)
    print(run.run_id, flush=True)  # acknowledged: the call returned
"""


@pytest.mark.slow
def test_writer_killed_with_sigkill_leaves_a_readable_database(database_url: str) -> None:
    open_database(database_url).close()
    acknowledged: list[str] = []
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED_WRITER, database_url], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 40 + 25 * round_ and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged.append(line.strip())
            seen += 1
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of the next write
        acknowledged.extend(line.strip() for line in proc.stdout if line.strip())
        assert proc.wait() == -signal.SIGKILL
        assert seen >= 40, "the writer never got going"

    with open_database(database_url) as db:
        if db.dialect.name == "sqlite":
            assert db.query("PRAGMA integrity_check") == [("ok",)]
        stored = {row[0] for row in db.query("SELECT run_id FROM runs WHERE name = 'victim'")}
        # and it still takes writes
        with cronwatch.connect(database_url, statsd=False) as monitor:
            from datetime import UTC, datetime

            now = datetime.now(UTC)
            monitor.record_success("after-kill", now, now, "h")
            assert monitor.last_activity("after-kill") is not None
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged runs lost"


# --- durable commits: the settings in force on the connections cronwatch opens ------------------


def durable_setting(db: Database) -> str:
    """What the connection of ``db`` itself says: SQLite's ``PRAGMA synchronous`` (per
    connection) or PostgreSQL's ``synchronous_commit`` (per session)."""
    if db.dialect.name == "sqlite":
        level = db.query("PRAGMA synchronous")[0][0]
        return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[int(level)]
    return str(db.query("SHOW synchronous_commit")[0][0])


def _expected(database_url: str) -> str:
    return "FULL" if database_url.startswith("sqlite") else "on"


def test_the_library_connection_commits_durably(database_url: str) -> None:
    with cronwatch.connect(database_url, statsd=False) as monitor:
        assert durable_setting(monitor.store.db) == _expected(database_url)
        assert monitor.store.db.durability_problems() == []


def test_cronwatch_runs_connection_commits_durably(database_url: str) -> None:
    """The monitor ``cronwatch run`` records with (:func:`open_recorder`, as it calls it)."""
    from cronwatch.execution import SERVER_BUDGET, open_recorder

    monitor = open_recorder(database_url, None, SERVER_BUDGET)
    try:
        assert durable_setting(monitor.store.db) == _expected(database_url)
    finally:
        monitor.close()


def test_the_servers_writer_connections_commit_durably(database_url: str) -> None:
    """Every connection the server writes with is durable at commit, but SQLite's writer:
    it commits at NORMAL and the WAL is synced outside SQLite's lock before any ping of the
    batch is answered (:class:`AfterCommit`; the traced server below shows the order)."""
    from cronwatch.storage.commitsync import AfterCommit, AtCommit
    from tests.support.server import LiveServer, create_key

    key = create_key(database_url, "ping")
    with LiveServer(database_url) as live:
        import httpx

        assert httpx.get(f"{live.url}/ping/{key}/durable?host=h").status_code == 200
        assert live.app is not None
        state = live.app.state
        writers = state.writer.connections()
        assert writers, "the writer has no open connection"
        assert durable_setting(state.db) == _expected(database_url)
        sync = state.writer.commit_sync
        if database_url.startswith("sqlite"):
            assert isinstance(sync, AfterCommit)
            assert sync.syncs >= 1, "the ping was answered without a sync of the WAL"
            wal = os.stat(f"{sync.database}-wal")
            assert sync.last_synced == (wal.st_dev, wal.st_ino), "another file was synced"
            assert [durable_setting(db) for db in writers] == ["NORMAL"] * len(writers)
        else:
            assert isinstance(sync, AtCommit)
            assert [durable_setting(db) for db in writers] == ["on"] * len(writers)


def test_postgresql_synchronous_commit_off_is_left_alone_and_warned_about(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A database whose owner turned ``synchronous_commit`` off: cronwatch does not override
    the administrator's setting (its connections read ``off``), but says at ``serve`` start,
    once, what it risks."""
    import logging

    import psycopg

    from tests.support.server import LiveServer

    url = postgres.create_database()
    dbname = url.rpartition("/")[2]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{dbname}" SET synchronous_commit = off')
    with open_database(url) as db:
        assert durable_setting(db) == "off"
        (problem,) = db.durability_problems()
        assert "synchronous_commit is off" in problem
    with caplog.at_level(logging.WARNING, logger="cronwatch"), LiveServer(url):
        pass
    warned = [r.getMessage() for r in caplog.records if "synchronous_commit" in r.getMessage()]
    assert len(warned) == 1, warned


# --- a traced `cronwatch run`: each commit synced before the process ends ------------------------


def _strace() -> str:
    """strace's path; without it the test fails under CI (a missing tool), else skips."""
    strace = shutil.which("strace")
    if strace is None:
        if IN_CI:
            pytest.fail("strace is not installed (required under CI=true)")
        pytest.skip("strace is not installed")
    return strace


def test_cronwatch_run_syncs_every_commit_before_it_exits(tmp_path: Path) -> None:
    """Under strace: the WAL pages holding the run (its start, then its outcome) are written,
    and the WAL is fsynced after each before anything further is written for the run and
    before the process exits (with ``synchronous=NORMAL`` there is no such sync)."""
    strace = _strace()
    path = tmp_path / "cronwatch.db"
    url = f"sqlite:///{path}"
    open_database(url).close()  # migrated before: the trace is about recording the run
    trace = tmp_path / "trace"
    calls = "trace=openat,pwrite64,fsync,fdatasync,exit_group"
    result = subprocess.run(
        [strace, "-f", "-qq", "-e", calls, "-e", "signal=none", "-s", "9000", "-o", str(trace),
         sys.executable, "-m", "cronwatch", "run", "traced", "--", "true"],
        capture_output=True, env=dict(os.environ, CRONWATCH_DATABASE_URL=url), timeout=120,
    )  # fmt: skip
    if result.returncode != 0 and b"ptrace" in result.stderr.lower():
        reason = f"strace cannot trace here: {result.stderr.decode().strip()}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    assert result.returncode == 0, result.stderr
    with open_database(url) as db:
        ((run_id, outcome),) = db.query("SELECT run_id, outcome FROM runs")
    assert outcome == "success"

    lines = trace.read_text(errors="replace").splitlines()
    wal_fds = {
        match[1]
        for line in lines
        if (
            match := re.search(rf'openat\(AT_FDCWD, "{re.escape(str(path))}-wal", .*= (\d+)$', line)
        )
    }
    assert wal_fds, "the WAL was never opened"
    fds = "|".join(wal_fds)
    writes = [i for i, line in enumerate(lines)
              if re.search(rf"pwrite64\(({fds}), .*{run_id}", line)]  # fmt: skip
    syncs = [i for i, line in enumerate(lines)
             if re.search(rf"\b(fsync|fdatasync)\(({fds})\)\s+= 0", line)]  # fmt: skip
    main_pid = lines[0].split()[0]  # the first line is cronwatch's own process
    (exit_line,) = [i for i, line in enumerate(lines)
                    if "exit_group(0)" in line and line.split()[0] == main_pid]  # fmt: skip
    assert writes, "no write to the WAL holds the run"
    # The writes of one commit come together; a commit is over at the sync that follows it.
    commits: list[list[int]] = []
    for index in writes:
        if not commits or any(commits[-1][-1] < s < index for s in syncs):
            commits.append([index])
        else:
            commits[-1].append(index)
    assert len(commits) >= 2, "the start and the outcome were not committed apart"
    for commit in commits:
        synced = [s for s in syncs if s > commit[-1]]
        assert synced and synced[0] < exit_line, f"a commit of the run was not synced: {commit}"


# --- a traced `cronwatch serve`: each ping answered only after its commit is synced -------------

# `cronwatch serve` with the writer as before durable commits (NORMAL, no sync): the control.
_SERVE_UNSYNCED = (
    "import sys; from cronwatch.storage.dialect import SQLite; SQLite.SYNCHRONOUS = 'NORMAL';"
    " SQLite.SYNC_AFTER_COMMIT = False; from cronwatch.cli.main import main; sys.exit(main())"
)


def _traced_serve(tmp_path: Path, unsynced: bool) -> tuple[list[str], list[str], Path]:
    """``cronwatch serve`` on a SQLite file under ``strace -f -y``, given 12 pings one after
    another, each with its own run id, then stopped: the trace's lines, the run ids, the
    database path."""
    import httpx

    from tests.support.ports import free_port
    from tests.support.server import create_key

    strace = _strace()
    path = tmp_path / "cronwatch.db"
    url = f"sqlite:///{path}"
    key = create_key(url, "ping")  # migrated before: the trace is about the pings
    trace = tmp_path / "trace"
    port = free_port()
    program = ["-c", _SERVE_UNSYNCED] if unsynced else ["-m", "cronwatch"]
    calls = "trace=pwrite64,fsync,fdatasync,sendto,write,writev"
    tracer = subprocess.Popen(
        [strace, "-f", "-qq", "-y", "-e", calls, "-e", "signal=none", "-s", "65536",
         "-o", str(trace), sys.executable, *program, "--database-url", url, "serve",
         "--port", str(port), "--no-alerts", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    run_ids = [f"traced-{n:04d}-{os.urandom(6).hex()}" for n in range(12)]
    try:
        deadline = time.monotonic() + 60
        while True:
            if tracer.poll() is not None:
                stderr = tracer.stderr.read().decode() if tracer.stderr else ""
                if "ptrace" in stderr.lower() and not IN_CI:
                    pytest.skip(f"strace cannot trace here: {stderr.strip()}")
                raise AssertionError(f"traced serve exited: {stderr}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "traced serve did not come up"
                time.sleep(0.2)
        for run_id in run_ids:
            answer = httpx.get(f"http://127.0.0.1:{port}/ping/{key}/traced?host=h&rid={run_id}")
            assert answer.status_code == 200, answer.text
    finally:
        children = Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children")
        for pid in children.read_text().split() if children.exists() else []:
            os.kill(int(pid), signal.SIGTERM)
        try:
            tracer.wait(60)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
    return trace.read_text(errors="replace").splitlines(), run_ids, path


def _unsynced_answers(lines: list[str], run_ids: list[str], path: Path) -> list[str]:
    """The run ids whose ping was answered before a sync of the WAL (or of the database
    file) that completed after the WAL write holding the run."""
    wal = re.escape(f"{path}-wal")
    synced_file = rf"<(?:{wal}|{re.escape(str(path))})>"
    unfinished: dict[str, str] = {}  # pid -> the sync call it is in
    syncs: list[int] = []  # line indexes where a sync of the WAL or database returned 0
    for index, line in enumerate(lines):
        pid = line.split(None, 1)[0]
        if re.search(rf"\b(fsync|fdatasync)\(\d+{synced_file}\) = 0", line):
            syncs.append(index)
        elif re.search(rf"\b(fsync|fdatasync)\(\d+{synced_file} <unfinished", line):
            unfinished[pid] = line
        elif "resumed>" in line and pid in unfinished:
            if re.search(r"resumed>\s*\) = 0", line):
                syncs.append(index)
            del unfinished[pid]
    wal_writes = [i for i, line in enumerate(lines) if re.search(rf"pwrite64\(\d+<{wal}>", line)]
    unsynced = []
    for run_id in run_ids:
        # The run's commit: the first WAL write holding its id (later ones rewrite its page).
        stored = next((i for i in wal_writes if run_id in lines[i]), None)
        assert stored is not None, f"no write to the WAL holds {run_id}"
        # Its answer: the first HTTP response sent after that (the pings come one at a time,
        # so every WAL write between the two belongs to the same commit).
        answered = next(i for i, line in enumerate(lines)
                        if i > stored and "HTTP/1.1 200" in line)  # fmt: skip
        committed = max(i for i in wal_writes if i < answered)
        if not any(committed < s < answered for s in syncs):
            unsynced.append(run_id)
    return unsynced


def test_cronwatch_serve_syncs_each_commit_before_answering(tmp_path: Path) -> None:
    """Under strace, ``cronwatch serve`` on SQLite: for every ping, the WAL page holding its
    run is written, then the WAL synced, and only then is the answer sent; the writer's
    NORMAL commit alone (no sync) would send it first."""
    lines, run_ids, path = _traced_serve(tmp_path, unsynced=False)
    assert _unsynced_answers(lines, run_ids, path) == []
    with open_database(f"sqlite:///{path}") as db:
        stored = {row[0] for row in db.query("SELECT run_id FROM runs")}
    assert set(run_ids) <= stored


def test_the_trace_check_sees_answers_sent_before_the_sync(tmp_path: Path) -> None:
    """The control: the server as it was (its writer at NORMAL, nothing syncing the WAL
    after a commit) answers pings whose run no sync covered, and the check says so."""
    lines, run_ids, path = _traced_serve(tmp_path, unsynced=True)
    assert _unsynced_answers(lines, run_ids, path) != []


# --- a deadlock PostgreSQL ends by aborting the library's write: the write is done again ---------


def test_a_write_postgresql_aborts_to_end_a_deadlock_is_done_again(
    postgres: PostgresServer,
) -> None:
    """A job's first run on a host updates the job's row (its deadline), then inserts the job
    (``ON CONFLICT DO NOTHING``), which takes the name's count lock (migration 0014). Another
    transaction holding that lock and then updating the row deadlocks with it (seen with 8
    processes recording at once). Once the library's statement waits for the lock, the other's
    update closes the cycle, and PostgreSQL aborts one of the two: here the library's statement
    (the other waits longer before it looks for deadlocks). The library writes it again on the
    same connection (an abort is no outage: no reconnect, whose one try a dropped connection
    needs) instead of raising: the call returns, the run is stored once, and the other
    transaction commits too."""
    import threading
    from datetime import UTC, datetime

    import psycopg

    url = postgres.create_database()
    t0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    errors: list[BaseException] = []
    with cronwatch.connect(url, statsd=False) as monitor:
        monitor.record_success("job", t0, t0, "host-1")  # the job exists, with one host
        backend = monitor.store.db.query("SELECT pg_backend_pid()")
        with psycopg.connect(url) as other:
            other.execute("SET deadlock_timeout = '30s'")
            other.execute(
                "INSERT INTO jobs (name, source, created_us, updated_us)"
                " VALUES ('job', 'api', 0, 0) ON CONFLICT (name) DO NOTHING"
            )  # holds the name's count lock until it ends

            def record() -> None:
                try:  # host-2 is new: the job's row is updated, then the job inserted
                    monitor.record_success("job", t0, t0, "host-2")
                except BaseException as exc:  # StorageUnavailable: must not happen
                    errors.append(exc)

            thread = threading.Thread(target=record)
            thread.start()
            with psycopg.connect(url, autocommit=True) as watcher:
                while not watcher.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                ).fetchall():  # the library's statement waits for the count lock
                    assert thread.is_alive(), errors
                    time.sleep(0.01)
            other.execute("UPDATE jobs SET changes = changes + 1 WHERE name = 'job'")
            other.commit()
            thread.join()
        assert errors == []
        assert monitor.store.db.query("SELECT pg_backend_pid()") == backend, "reconnected"
    with open_database(url) as db:
        hosts = db.query("SELECT hostname, runs_total FROM job_hosts ORDER BY hostname")
    assert hosts == [("host-1", 1), ("host-2", 1)], "each run stored once"
