"""Database away: `cronwatch run` still runs the command and keeps the run in the spool;
database back: every spooled run arrives, once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import cronwatch
from cronwatch.monitor import make_run
from cronwatch.spool import Spool
from cronwatch.storage import open_database
from tests.proxy import TcpProxy

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def cronwatch_run(url: str, name: str, *command: str, env_extra: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    env = dict(os.environ, CRONWATCH_DATABASE_URL=url, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", "run", name, "--", *command],
        capture_output=True,
        env=env,
        timeout=120,
    )


def stored_runs(url: str, name: str) -> list[tuple[str, str]]:
    with open_database(url) as db:
        return db.query("SELECT run_id, outcome FROM runs WHERE name = ?", (name,))


def test_sqlite_away_then_back_delivers_every_run_once(tmp_path: Path) -> None:
    home = tmp_path / "dbdir"
    url = f"sqlite:///{home / 'cronwatch.db'}"  # the directory does not exist yet: away
    results = [
        cronwatch_run(url, "nightly", "sh", "-c", f"echo run {i}; exit {i % 2}") for i in range(3)
    ]
    for i, result in enumerate(results):
        assert result.returncode == i % 2, "the command's exit code must pass through"
        assert result.stdout == f"run {i}\n".encode(), "the command's output must pass through"
        assert b"kept in the spool" in result.stderr
    spool = Spool.for_target(url)
    assert len(spool.pending()) == 3
    assert not home.exists(), "an outage must not be papered over by creating the database"

    home.mkdir()  # the database is back
    result = cronwatch_run(url, "nightly", "true")
    assert result.returncode == 0 and result.stderr == b""
    rows = stored_runs(url, "nightly")
    assert len(rows) == 4 and len({run_id for run_id, _ in rows}) == 4
    assert sorted(outcome for _, outcome in rows) == ["failure", "success", "success", "success"]
    assert spool.pending() == []

    cronwatch_run(url, "other", "true")  # later runs deliver nothing twice
    assert len(stored_runs(url, "nightly")) == 4


def test_postgresql_away_then_back_delivers_every_run_once(postgres, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    real = postgres.create_database()
    parts = urlsplit(real)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    url = real.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    open_database(url).close()  # schema in place while the server is up
    proxy.stop()  # the database goes away
    try:
        results = [cronwatch_run(url, "pg-job", "sh", "-c", "echo hello") for _ in range(3)]
        for result in results:
            assert result.returncode == 0 and result.stdout == b"hello\n"
            assert b"kept in the spool" in result.stderr
        assert len(Spool.for_target(url).pending()) == 3
        assert stored_runs(real, "pg-job") == []
    finally:
        proxy.start()  # and comes back
    try:
        result = cronwatch_run(url, "pg-job", "true")
        assert result.returncode == 0, result.stderr
        rows = stored_runs(real, "pg-job")
        assert len(rows) == 4 and {o for _, o in rows} == {"success"}
        assert Spool.for_target(url).pending() == []
    finally:
        proxy.stop()


def test_a_record_sent_twice_after_a_crash_is_stored_once(
    database_url: str, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    run = make_run("job", T0, T0 + timedelta(seconds=1), outcome="success", hostname="h")
    path = spool.put(run)
    # A crash after the database confirmed the record but before the file was deleted:
    # the same record is sent again on the next flush.
    duplicate = path.with_name("z-duplicate.json")
    duplicate.write_bytes(path.read_bytes())
    with cronwatch.connect(database_url, statsd=False) as monitor:
        assert spool.flush(monitor.store.save) == 2
        assert monitor.store.count("job") == 1
    assert spool.pending() == []


def test_flush_stops_at_an_outage_and_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for i in range(3):
        spool.put(
            make_run(
                "job",
                T0 + timedelta(minutes=i),
                T0 + timedelta(minutes=i),
                outcome="success",
                hostname="h",
            )
        )
    delivered = []

    def deliver(run):  # type: ignore[no-untyped-def]
        if delivered:
            raise cronwatch.StorageUnavailable("gone again")
        delivered.append(run)

    with pytest.raises(cronwatch.StorageUnavailable):
        spool.flush(deliver)
    assert len(delivered) == 1 and len(spool.pending()) == 2


def test_spool_files_round_trip_exactly(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    run = make_run(
        "j",
        T0,
        T0 + timedelta(microseconds=7),
        outcome="failure",
        exit_code=9,
        hostname="h",
        output="tail ✓",
    )
    spool.put(run)
    received = []
    spool.flush(received.append)
    assert received == [run]


def test_unreadable_spool_file_is_set_aside_not_retried_forever(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.directory.mkdir(parents=True)
    (spool.directory / "broken.json").write_text("{not json")
    assert spool.flush(lambda run: None) == 0
    assert spool.pending() == []
    assert (spool.directory / "broken.bad").exists()


def test_spools_of_different_databases_are_apart(tmp_path: Path) -> None:
    a = Spool.for_target("sqlite:////a.db", tmp_path)
    b = Spool.for_target("sqlite:////b.db", tmp_path)
    assert a.directory != b.directory
    a.put(make_run("j", T0, T0, outcome="success", hostname="h"))
    assert b.pending() == []


def test_a_record_the_database_refuses_does_not_block_the_others(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for i in range(3):
        spool.put(
            make_run(
                f"job-{i}",
                T0 + timedelta(minutes=i),
                T0 + timedelta(minutes=i),
                outcome="success",
                hostname="h",
            )
        )
    delivered = []

    def deliver(run):  # type: ignore[no-untyped-def]
        if run.name == "job-0":
            raise ValueError("refused by the database")
        delivered.append(run.name)

    assert spool.flush(deliver) == 2
    assert delivered == ["job-1", "job-2"]
    assert spool.pending() == [] and len(list(spool.directory.glob("*.bad"))) == 1
