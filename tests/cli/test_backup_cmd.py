"""`cronwatch backup` and `cronwatch restore`: a consistent copy of a live SQLite database while
runs keep arriving, put back in place after it is checked, never under a running server; on
PostgreSQL, the pg_dump and pg_restore commands to use instead."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import Result

from cronwatch.storage import open_database
from cronwatch.storage.alerts.workers import WorkerStore
from cronwatch.storage.migrate import downgrade_schema
from cronwatch.storage.revision import SCHEMA_REVISION
from cronwatch.storage.url import parse_database_url
from tests.support.backups import digest, grow, integrity, run_ids
from tests.support.cli import invoke
from tests.support.databases import IN_CI, PostgresServer
from tests.support.history import populate, status_json, table_rows, write_config
from tests.support.server import LiveServer


def cw(url: str, *args: str, config: Path | None = None, stdin: str | None = None) -> Result:
    return invoke(*args, url=url, config=config, stdin=stdin)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    (tmp_path / "live").mkdir()
    return f"sqlite:///{tmp_path / 'live' / 'cronwatch.db'}"


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
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command printed is the exact one: run as printed, pg_dump copies the database
    and the pg_restore printed puts it back with the same status. With a password in the URL
    it is shown as ***."""
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
    # A 0005 backup predates incidents (0007) and ping UUIDs (0009): the upgrade gives its
    # jobs new UUIDs (a credential is never guessed back) and no incident until the next alert
    # cycle; every fact the 0005 schema holds is what it was.
    restored = status_json(sqlite_url, config, monkeypatch)
    assert isinstance(restored, list) and isinstance(expected, list)
    assert [job.pop("uuid") for job in restored] != [job.pop("uuid") for job in expected]
    assert all(job["alerts"]["incident"]["id"] is None for job in restored)
    assert any(job["alerts"]["incident"]["id"] is not None for job in expected)
    for job in restored + expected:
        del job["alerts"]["incident"]
    assert restored == expected
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


def test_restore_on_postgresql_gives_the_pg_restore_command(postgres: PostgresServer) -> None:
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
