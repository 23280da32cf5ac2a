"""`cronwatch backup` and `cronwatch restore`: a consistent copy of a live SQLite database while
runs keep arriving, put back in place after it is checked, never under a running server; on
PostgreSQL, the pg_dump and pg_restore commands to use instead."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cronwatch.cli.main import cli
from cronwatch.storage import open_database
from cronwatch.storage.alerts.workers import WorkerStore
from cronwatch.storage.migrate import downgrade_schema
from cronwatch.storage.revision import SCHEMA_REVISION
from cronwatch.storage.url import parse_database_url
from tests.conftest import IN_CI
from tests.sample_history import populate, status_json, table_rows, write_config
from tests.test_server_support import LiveServer

WRITERS = 8

# Records until killed, printing each run id once its call returned (acknowledged).
_WRITER = r"""
import sys
from datetime import UTC, datetime, timedelta
import cronwatch

url, writer = sys.argv[1], int(sys.argv[2])
monitor = cronwatch.connect(url, statsd=False)
t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=writer)
i = 0
while True:
    i += 1
    start = t + timedelta(seconds=i)
    if i % 5 == 0:
        run = monitor.finish(monitor.start(f"job-{i % 6}", f"host-{writer}", date_started=start),
                             date_completed=start + timedelta(seconds=1))
    else:
        run = monitor.record_success(f"job-{i % 6}", start, start, f"host-{writer}")
    print(run.run_id, flush=True)
"""


class Writers:
    """``WRITERS`` processes recording into one database; each acknowledged run id is noted
    with the time it was read from the writer (after the call that stored it returned)."""

    def __init__(self, url: str) -> None:
        self.acknowledged: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.processes = [
            subprocess.Popen([sys.executable, "-c", _WRITER, url, str(w)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for w in range(WRITERS)
        ]  # fmt: skip
        self._readers = [threading.Thread(target=self._read, args=(p,), daemon=True)
                         for p in self.processes]  # fmt: skip
        for reader in self._readers:
            reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._lock:
                self.acknowledged.append((time.monotonic(), line.strip()))

    def acknowledged_before(self, instant: float) -> set[str]:
        with self._lock:
            return {run_id for at, run_id in self.acknowledged if at < instant}

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 120
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, "the writers do not record"
            for process in self.processes:
                assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.05)

    def stop(self) -> set[str]:
        """Stop them (each was still recording: none died of an error); every run id."""
        for process in self.processes:
            assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            process.terminate()
        for process in self.processes:
            process.wait(30)
        for reader in self._readers:
            reader.join(30)
        return {run_id for _, run_id in self.acknowledged}


def cw(url: str, *args: str, config: Path | None = None) -> Result:
    base = ["--database-url", url] + (["--config", str(config)] if config else [])
    return CliRunner().invoke(cli, [*base, *args])


def run_ids(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT run_id FROM runs")}


def integrity(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grow(url: str, runs: int) -> None:
    """Add ``runs`` finished runs with some output, quickly (a database worth copying in
    several steps)."""
    import cronwatch

    with cronwatch.connect(url, statsd=False) as monitor:
        db = monitor.store.db
        with db.transaction() as cur:
            cur.executemany(  # type: ignore[attr-defined]
                "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
                " completed_us, duration_us, output)"
                " VALUES (?, 'old', ?, 'success', 0, ?, ?, 0, ?)",
                [(f"old-{i % 50}", f"old-{i}", i, i, "o" * 2000) for i in range(runs)],
            )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    (tmp_path / "live").mkdir()
    return f"sqlite:///{tmp_path / 'live' / 'cronwatch.db'}"


# --- backup while 8 writers record; restore of it -------------------------------------------------


@pytest.mark.slow
def test_a_backup_taken_while_eight_processes_record_holds_every_acknowledged_run(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy passes PRAGMA integrity_check and holds every run acknowledged before the
    backup began, while the writers went on recording during it; a restore of it answers
    `cronwatch status --json` exactly as the copy does."""
    from cronwatch.storage.backup import backup as backup_database

    grow(sqlite_url, 30_000)  # about 70 MB: a copy of many steps
    steps: list[float] = []
    writers = Writers(sqlite_url)
    try:
        writers.wait_for(WRITERS * 30)
        began = time.monotonic()
        backup = tmp_path / "backup.db"
        report = backup_database(
            sqlite_url, backup, progress=lambda *_: steps.append(time.monotonic())
        )
        writers.wait_for(len(writers.acknowledged) + WRITERS * 5)
        during = writers.acknowledged_before(steps[-1]) - writers.acknowledged_before(steps[0])
    finally:
        every = writers.stop()
    assert len(steps) > 10, "the copy was not made in steps"
    assert during, "no run was recorded while the copy was made: it held the writers up"
    assert integrity(backup) == ["ok"]
    copied = run_ids(backup)
    before = writers.acknowledged_before(began)
    assert len(before) >= WRITERS * 30
    assert not before - copied, f"{len(before - copied)} acknowledged runs missing from the copy"
    assert (report.runs, report.revision) == (len(copied), SCHEMA_REVISION)
    assert every - run_ids(Path(sqlite_url.removeprefix("sqlite:///"))) == set()

    # status of the copy itself (on a scratch copy: status learns baselines, so it writes)
    scratch = tmp_path / "scratch.db"
    shutil.copyfile(backup, scratch)
    expected = status_json(f"sqlite:///{scratch}", None, monkeypatch)
    restored = cw(sqlite_url, "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert status_json(sqlite_url, None, monkeypatch) == expected
    assert run_ids(Path(sqlite_url.removeprefix("sqlite:///"))) == copied


@pytest.mark.slow
def test_a_restore_while_processes_record_loses_no_acknowledged_run(
    sqlite_url: str, tmp_path: Path
) -> None:
    """`cronwatch run`s and library users record straight into the file: a restore swaps the
    data in one transaction, so each acknowledged run is in the database it replaced (kept
    aside) or, acknowledged after the swap, in the restored one. None is in neither, and the
    writers carry on without an error."""
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    populate(sqlite_url, write_config(tmp_path))
    backup = tmp_path / "backup.db"
    assert cw(sqlite_url, "backup", str(backup)).exit_code == 0
    writers = Writers(sqlite_url)
    try:
        writers.wait_for(WRITERS * 20)
        result = cw(sqlite_url, "restore", str(backup))
        writers.wait_for(len(writers.acknowledged) + WRITERS * 20)  # they go on afterwards
    finally:
        every = writers.stop()
    assert result.exit_code == 0, result.output
    (aside,) = live.parent.glob("cronwatch.db.replaced-*")
    assert f"kept at {aside}" in result.output
    assert integrity(live) == ["ok"] and integrity(aside) == ["ok"]
    lost = every - run_ids(live) - run_ids(aside)
    assert not lost, f"{len(lost)} acknowledged runs are in neither database"
    assert run_ids(backup) <= run_ids(live)
    assert every & run_ids(live), "no writer recorded into the restored database"


# --- backup: what it refuses, PostgreSQL ---------------------------------------------------------


def test_backup_refuses_to_overwrite_without_force(sqlite_url: str, tmp_path: Path) -> None:
    populate(sqlite_url, write_config(tmp_path))
    target = tmp_path / "backup.db"
    target.write_text("yesterday's backup")
    result = cw(sqlite_url, "backup", str(target))
    assert result.exit_code == 2 and "exists; pass --force" in result.output
    assert target.read_text() == "yesterday's backup"
    forced = cw(sqlite_url, "backup", "--force", str(target))
    assert forced.exit_code == 0, forced.output
    runs, jobs = (len(table_rows(sqlite_url, t, "name")) for t in ("runs", "jobs"))
    assert forced.output.startswith(f"backed up to {target}: ")
    assert f", {runs:,} runs, {jobs} jobs, schema revision {SCHEMA_REVISION}" in forced.output
    assert integrity(target) == ["ok"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary file left"
    # One self-contained file: reading it adds no -wal or -shm next to it.
    assert run_ids(target) and sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == [
        "backup.db"
    ]


def test_backup_refuses_the_database_itself_and_a_missing_database(
    sqlite_url: str, tmp_path: Path
) -> None:
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    missing = cw(sqlite_url, "backup", str(tmp_path / "b.db"))
    assert missing.exit_code == 2 and "there is no database" in missing.output
    assert not live.exists() and not (tmp_path / "b.db").exists()
    populate(sqlite_url, write_config(tmp_path))
    before = digest(live)
    for own in (live, Path(f"{live}-wal")):
        result = cw(sqlite_url, "backup", "--force", str(own))
        assert result.exit_code == 2 and "live database's own file" in result.output
    assert digest(live) == before


def test_backup_on_postgresql_gives_the_pg_dump_command_and_it_works(
    postgres: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command printed is the exact one: run as printed, pg_dump copies the database
    and the pg_restore printed puts it back with the same status. With a password in the URL
    it is shown as ***."""
    from tests.conftest import PostgresServer

    assert isinstance(postgres, PostgresServer)
    url = postgres.create_database()
    config = write_config(tmp_path)
    populate(url, config)
    dump = tmp_path / "cronwatch.dump"
    result = cw(url, "backup", str(dump))
    assert result.exit_code == 2 and not dump.exists()
    commands = [line.strip() for line in result.output.splitlines() if line.startswith("    ")]
    dump_command, restore_command = commands
    assert dump_command.startswith("pg_dump ") and restore_command.startswith("pg_restore ")
    if shutil.which("pg_dump") is None:
        if IN_CI:
            pytest.fail("pg_dump is not installed (required under CI=true)")
        pytest.skip("pg_dump is not installed")
    subprocess.run(dump_command, shell=True, check=True, timeout=120)
    assert dump.stat().st_size > 0
    target = postgres.create_database()
    restore_command = restore_command.replace(url.rpartition("/")[2], target.rpartition("/")[2])
    subprocess.run(restore_command, shell=True, check=True, timeout=120)
    assert status_json(target, config, monkeypatch) == status_json(url, config, monkeypatch)

    secret = url.replace("postgres@", "postgres:s3cr3t@")
    shown = cw(secret, "backup", str(dump)).output
    assert "s3cr3t" not in shown and "postgres:***@" in shown and "PGPASSWORD" in shown
    restore = cw(secret, "restore", str(dump))
    assert restore.exit_code == 2 and "pg_restore" in restore.output
    assert "s3cr3t" not in restore.output


# --- restore: what it checks and refuses ---------------------------------------------------------


def test_restore_refuses_bad_backups_and_changes_nothing(sqlite_url: str, tmp_path: Path) -> None:
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    populate(sqlite_url, write_config(tmp_path))
    good = tmp_path / "good.db"
    assert cw(sqlite_url, "backup", str(good)).exit_code == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    cases = {
        "not-sqlite.db": ("text", "is not a SQLite database"),
        "truncated.db": ("truncated", "integrity_check"),
        "other.db": ("other", "not a cronwatch one"),
        "newer.db": ("newer", "made by a newer cronwatch"),
        "missing.db": ("missing", "cannot read"),
    }
    for name, (kind, _) in cases.items():
        path = bad / name
        if kind == "text":
            path.write_text("a crontab, not a database\n" * 100)
        elif kind == "truncated":
            data = good.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        elif kind == "other":
            with sqlite3.connect(path) as conn:
                conn.execute("CREATE TABLE notes (text)")
        elif kind == "newer":
            shutil.copyfile(good, path)
            with sqlite3.connect(path) as conn:
                conn.execute("UPDATE alembic_version SET version_num = '9999'")

    # The lock file a restore takes is no change (servers take it too); anything else is.
    def files() -> list[str]:
        return sorted(p.name for p in live.parent.iterdir() if not p.name.endswith("-lock"))

    listed = files()
    before = digest(live)
    for name, (_, reason) in cases.items():
        source = bad / name
        source_before = digest(source) if source.exists() else None
        result = cw(sqlite_url, "restore", str(source))
        assert result.exit_code == 2, (name, result.output)
        assert result.output.startswith("cronwatch: error: ") and reason in result.output, (
            name,
            result.output,
        )
        assert digest(live) == before, name
        assert files() == listed, name
        if source_before is not None:
            assert digest(source) == source_before, f"{name} was changed"
    directory = cw(sqlite_url, "restore", str(bad))
    assert directory.exit_code == 2 and digest(live) == before


def test_an_older_backup_is_migrated_and_a_damaged_database_replaced(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    config = write_config(tmp_path)
    populate(sqlite_url, config)
    expected = status_json(sqlite_url, config, monkeypatch)
    old = tmp_path / "old.db"
    assert cw(sqlite_url, "backup", str(old)).exit_code == 0
    downgrade_schema(parse_database_url(f"sqlite:///{old}"), "0005")
    # The live database is beyond repair: SQLite says it is not a database.
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    live.write_bytes(b"\x00" * 4096 + os.urandom(8192))
    result = cw(sqlite_url, "restore", str(old))
    assert result.exit_code == 0, result.output
    assert "migrated from 0005" in result.output and f"revision {SCHEMA_REVISION}" in result.output
    (aside,) = live.parent.glob("cronwatch.db.replaced-*")
    assert aside.read_bytes().startswith(b"\x00" * 4096)
    assert status_json(sqlite_url, config, monkeypatch) == expected
    with open_database(sqlite_url) as db:
        assert db.schema_revision() == SCHEMA_REVISION


def test_restore_is_refused_while_a_server_uses_the_database(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The server's lock is seen at once, and released when the server stops."""
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    populate(sqlite_url, write_config(tmp_path))
    backup = tmp_path / "backup.db"
    assert cw(sqlite_url, "backup", str(backup)).exit_code == 0
    runs = table_rows(sqlite_url, "runs", "run_id")
    with LiveServer(sqlite_url):
        refused = cw(sqlite_url, "restore", str(backup))
        assert refused.exit_code == 2, refused.output
        assert "a cronwatch server or alert loop is using" in refused.output
        assert not list(live.parent.glob("*.replaced-*")) and not list(live.parent.glob(".*tmp"))
        assert table_rows(sqlite_url, "runs", "run_id") == runs
    restored = cw(sqlite_url, "restore", str(backup))
    assert restored.exit_code == 0, restored.output


def test_restore_is_refused_while_an_alert_loop_without_the_lock_beats(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A loop of an older cronwatch holds no lock; its heartbeat is the sign. A beat of a
    process that has ended is not."""
    populate(sqlite_url, write_config(tmp_path))
    backup = tmp_path / "backup.db"
    assert cw(sqlite_url, "backup", str(backup)).exit_code == 0
    from datetime import timedelta

    from cronwatch.timeutil import utcnow

    with open_database(sqlite_url) as db:
        WorkerStore(db).beat("alerts@old-cronwatch", utcnow(), timedelta(minutes=5))  # this pid
    refused = cw(sqlite_url, "restore", str(backup))
    assert refused.exit_code == 2 and "alerts@old-cronwatch" in refused.output
    ended = subprocess.run(
        [sys.executable, "-c", "import sys, cronwatch.storage as s; from datetime import *;"
         "from cronwatch.storage.alerts.workers import WorkerStore;"
         "db = s.open_database(sys.argv[1]);"
         "WorkerStore(db).beat('alerts@killed', datetime.now(UTC), timedelta(minutes=5));"
         "db.execute('DELETE FROM workers WHERE name = ?', ('alerts@old-cronwatch',))",
         sqlite_url], check=True, timeout=60,
    )  # fmt: skip
    assert ended.returncode == 0
    restored = cw(sqlite_url, "restore", str(backup))
    assert restored.exit_code == 0, restored.output


def test_restore_on_postgresql_gives_the_pg_restore_command(postgres: object) -> None:
    from tests.conftest import PostgresServer

    assert isinstance(postgres, PostgresServer)
    url = postgres.create_database()
    result = cw(url, "restore", "/backups/cronwatch.dump")
    assert result.exit_code == 2
    assert "pg_restore --clean --if-exists --no-owner --dbname=" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("(An export")


def test_a_big_backup_shows_progress_on_a_terminal_only(sqlite_url: str, tmp_path: Path) -> None:
    grow(sqlite_url, 16_000)  # over 32 MB: a big database
    argv = [sys.executable, "-m", "cronwatch", "--database-url", sqlite_url, "backup", "--force"]
    main, terminal = os.openpty()
    try:
        result = subprocess.run([*argv, str(tmp_path / "a.db")], stdout=subprocess.PIPE,
                                stderr=terminal, timeout=120)  # fmt: skip
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once everything written was read
            while chunk := os.read(main, 65536):
                shown += chunk
    finally:
        os.close(main)
    assert result.returncode == 0
    lines = shown.decode().split("\r")
    assert any(line.startswith("backup: ") and "(100%)" in line for line in lines), shown
    assert len([line for line in lines if line.startswith("backup: ")]) > 3, "not a progress"
    piped = subprocess.run([*argv, str(tmp_path / "b.db")], capture_output=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == b""


def test_restore_onto_a_new_machine_puts_the_backup_in_place(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    populate(sqlite_url, config)
    backup = tmp_path / "backup.db"
    assert cw(sqlite_url, "backup", str(backup)).exit_code == 0
    (tmp_path / "new").mkdir()
    fresh = f"sqlite:///{tmp_path / 'new' / 'cronwatch.db'}"
    result = cw(fresh, "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert "kept at" not in result.output  # nothing was replaced
    assert status_json(fresh, config, monkeypatch) == status_json(sqlite_url, config, monkeypatch)


def test_restore_is_refused_while_cronwatch_alerts_runs(sqlite_url: str, tmp_path: Path) -> None:
    """The alert loop on its own (`cronwatch alerts`) holds the same lock as a server."""
    populate(sqlite_url, write_config(tmp_path))
    backup = tmp_path / "backup.db"
    assert cw(sqlite_url, "backup", str(backup)).exit_code == 0
    with open_database(sqlite_url) as db:
        db.execute("DELETE FROM workers")
    loop = subprocess.Popen(
        [sys.executable, "-m", "cronwatch", "--database-url", sqlite_url, "alerts"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not table_rows(sqlite_url, "workers", "name"):  # its first cycle beat
            assert loop.poll() is None and time.monotonic() < deadline, loop.stderr
            time.sleep(0.1)
        refused = cw(sqlite_url, "restore", str(backup))
        assert refused.exit_code == 2 and ".server-lock" in refused.output, refused.output
    finally:
        loop.terminate()
        loop.wait(30)
