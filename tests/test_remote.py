"""Recording through a server (``$CRONWATCH_URL``): ``cronwatch run`` and the library record
over HTTP; with the server away runs wait in the spool, and arrive once when it is back. On
SQLite and PostgreSQL behind a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronwatch import remote
from cronwatch.errors import CronwatchError, InvalidInput, StorageUnavailable
from cronwatch.monitor import make_run
from cronwatch.spool import Spool
from tests.test_server_support import LiveServer, create_key, query

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def cronwatch_run(
    server_url: str, key: str, name: str, *command: str, database_url: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, CRONWATCH_URL=server_url, CRONWATCH_PING_KEY=key)
    if database_url is not None:
        env["CRONWATCH_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", "run", name, "--", *command],
        capture_output=True, env=env, timeout=120,
    )  # fmt: skip


def stored(url: str, name: str) -> list[tuple[str, str, int | None, str | None]]:
    return query(url, "SELECT run_id, outcome, exit_code, output FROM runs WHERE name = ? "
                      "ORDER BY started_us", (name,))  # fmt: skip


def test_cronwatch_run_records_through_the_server(database_url: str, tmp_path: Path) -> None:
    key = create_key(database_url, "ping")
    elsewhere = f"sqlite:///{tmp_path / 'not-used.db'}"
    with LiveServer(database_url) as live:
        result = cronwatch_run(live.url, key, "report", "sh", "-c", "echo made it; exit 3",
                               database_url=elsewhere)  # fmt: skip
    assert result.returncode == 3 and result.stdout == b"made it\n"
    assert result.stderr == b""
    [(run_id, outcome, exit_code, output)] = stored(database_url, "report")
    assert (outcome, exit_code, output) == ("failure", 3, "made it\n")
    assert len(run_id) == 32
    assert not (tmp_path / "not-used.db").exists(), "the database is not touched"


def test_server_away_then_back_delivers_every_run_once(database_url: str) -> None:
    key = create_key(database_url, "ping")
    live = LiveServer(database_url).start()
    port, url = live.port, live.url
    live.stop()  # the server goes away
    results = [cronwatch_run(url, key, "nightly", "sh", "-c", f"echo run {i}; exit {i}")
               for i in range(2)]  # fmt: skip
    for i, result in enumerate(results):
        assert result.returncode == i, "the command's exit code passes through"
        assert result.stdout == f"run {i}\n".encode()
        assert b"kept in the spool" in result.stderr and b"unreachable" in result.stderr
    spool = Spool.for_target(url)
    assert len(spool.pending()) == 2
    assert stored(database_url, "nightly") == []

    with LiveServer(database_url, port=port):  # back, on the same address
        result = cronwatch_run(url, key, "nightly", "true")
        assert result.returncode == 0 and result.stderr == b"", result.stderr
        rows = stored(database_url, "nightly")
        assert [(outcome, code, out) for _, outcome, code, out in rows] == [
            ("success", 0, "run 0\n"), ("failure", 1, "run 1\n"), ("success", 0, ""),
        ]  # fmt: skip
        assert spool.pending() == []
        cronwatch_run(url, key, "other", "true")  # a later run sends nothing twice
        assert len(stored(database_url, "nightly")) == 3


def test_a_refused_key_keeps_runs_in_the_spool_not_lost(database_url: str) -> None:
    key = create_key(database_url, "read")  # cannot record
    with LiveServer(database_url) as live:
        result = cronwatch_run(live.url, key, "job", "true")
        assert result.returncode == 0
        assert b"403" in result.stderr and b"kept in the spool" in result.stderr
        assert len(Spool.for_target(live.url).pending()) == 1
        missing = cronwatch_run(live.url, "", "job", "true")
        assert b"CRONWATCH_PING_KEY" in missing.stderr
    assert stored(database_url, "job") == []


def test_remote_store_save_is_idempotent_and_errors_are_classified(database_url: str) -> None:
    key = create_key(database_url, "ping")
    run = make_run("lib", T0, T0 + timedelta(minutes=1), outcome="success", hostname="h",
                   run_id="lib-1")  # fmt: skip
    with LiveServer(database_url) as live:
        store = remote.RemoteStore(live.url, key)
        assert store.save(run) is True
        assert store.save(run) is False
        bad = make_run("lib", T0, T0, outcome="success", hostname="h", run_id="run#1")
        with pytest.raises(InvalidInput, match="400"):
            store.save(bad)
        with pytest.raises(StorageUnavailable, match="401"):
            remote.RemoteStore(live.url, "cwp_" + "C" * 32).save(run)
        with pytest.raises(StorageUnavailable, match="404"):
            remote.RemoteStore(live.url + "/wrong/prefix", key).save(run)
    with pytest.raises(StorageUnavailable, match="unreachable"):
        remote.RemoteStore(live.url, key).save(run)
    assert len(query(database_url, "SELECT 1 FROM runs")) == 1


def test_the_library_records_and_reads_through_the_server(database_url: str) -> None:
    key = create_key(database_url, "write")
    with LiveServer(database_url) as live, remote.connect(live.url, key=key) as monitor:
        run = monitor.record_success("lib-job", T0, T0 + timedelta(seconds=90), hostname="h1")
        monitor.record_failure("lib-job", T0 + timedelta(hours=1),
                               T0 + timedelta(hours=1, seconds=5), 2, hostname="h1")  # fmt: skip
        with monitor.track("tracked", hostname="h2"):
            pass
        last = monitor.last_activity("lib-job")
        assert last == run
        assert [r.outcome for r in monitor.history("lib-job")] == ["failure", "success"]
        assert monitor.last_activity("never") is None
        with pytest.raises(CronwatchError, match="/api/v1/status"):
            monitor.status()
    assert [row[1] for row in stored(database_url, "tracked")] == ["success"]


def test_the_server_url_and_key_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRONWATCH_URL", "https://cron.example.com/base/")
    monkeypatch.setenv("CRONWATCH_PING_KEY", "cwp_" + "D" * 32)
    assert remote.url_from_env() == "https://cron.example.com/base"
    monitor = remote.connect()
    assert monitor.remote.url == "https://cron.example.com/base"
    assert monitor.remote.key == "cwp_" + "D" * 32
    with pytest.raises(InvalidInput, match="http"):
        remote.RemoteStore("ftp://x", None)


def test_library_connect_records_through_the_server_and_spools_while_away(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cronwatch

    key = create_key(database_url, "ping")
    live = LiveServer(database_url).start()
    port, url = live.port, live.url
    monkeypatch.setenv("CRONWATCH_URL", url)
    monkeypatch.setenv("CRONWATCH_PING_KEY", key)
    t0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    monitor = cronwatch.connect()  # $CRONWATCH_URL wins: no database credentials needed
    assert isinstance(monitor, remote.RemoteMonitor)
    monitor.record_success("lib-job", t0, t0 + timedelta(minutes=1), "h")
    assert len(stored(database_url, "lib-job")) == 1

    live.stop()  # away: the library call still returns, the run waits in the spool
    run = monitor.record_failure("lib-job", t0 + timedelta(hours=1),
                                 t0 + timedelta(hours=1, minutes=1), 3, "h")  # fmt: skip
    assert run.exit_code == 3
    assert len(Spool.for_target(url).pending()) == 1
    assert len(stored(database_url, "lib-job")) == 1

    with LiveServer(database_url, port=port):  # back: the next call delivers both, once
        monitor.record_success("lib-job", t0 + timedelta(hours=2), t0 + timedelta(hours=2), "h")
        assert sorted(o for _, o, _, _ in stored(database_url, "lib-job")) == [
            "failure", "success", "success",
        ]  # fmt: skip
        assert Spool.for_target(url).pending() == []
    with pytest.raises(InvalidInput):  # invalid input is still an error, never spooled
        monitor.record_success("bad/name", t0, t0, "h")
    assert Spool.for_target(url).pending() == []
