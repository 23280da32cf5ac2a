"""``cronwatch serve`` as a process: migrations before the port opens, graceful stop on SIGTERM,
clear errors at start, and several processes side by side on one PostgreSQL database."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from cronwatch.storage.revision import SCHEMA_REVISION
from tests.support.databases import PostgresServer
from tests.support.proxy import TcpProxy
from tests.support.server import create_key, query, serve


def test_serve_migrates_a_new_database_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    with serve(url) as (base, process):
        # A bare driver connection: cronwatch's own would migrate the database itself.
        with closing(sqlite3.connect(tmp_path / "new.db")) as conn:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        assert revision == [(SCHEMA_REVISION,)]
        key = create_key(url, "ping")
        assert httpx.get(f"{base}/ping/{key}/served").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == -signal.SIGTERM  # re-raised after the graceful shutdown
        log = process.stdout.read()  # type: ignore[union-attr]
    assert "Shutting down" in log and "Application shutdown complete" in log
    assert query(url, "SELECT name FROM runs") == [("served",)]


def test_serve_refuses_a_bad_config_before_opening_the_port(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[jobs.backup]\nschedule = "61 * * * *"\n')
    result = subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", "--database-url",
         f"sqlite:///{tmp_path / 'x.db'}", "--config", str(config), "serve", "--port", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "jobs.backup.schedule" in result.stderr and "Uvicorn running" not in result.stderr


def test_a_port_in_use_stops_serve_before_its_alert_loop_runs(tmp_path: Path) -> None:
    """Another process (another cronwatch, maybe with another config) has the port: this one
    says so in a line and exits 3 without running an alert cycle, which would have recorded
    this database's failing job as its own events (a recovery or a problem of its config)."""
    import socket

    import cronwatch

    url = f"sqlite:///{tmp_path / 'x.db'}"
    now = datetime.now(UTC)
    with cronwatch.connect(url, statsd=False) as monitor:
        monitor.record_failure("backup", now - timedelta(minutes=2), now, 3, "db1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cronwatch.cli", "--database-url", url, "serve", "--port",
             str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert f"cronwatch: error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Application startup complete" not in result.stderr
    assert query(url, "SELECT kind FROM events") == [], "no alert cycle ran"


def test_serve_reports_an_unreachable_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cronwatch.cli", "--database-url",
         f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}", "serve", "--port", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_two_servers_side_by_side_on_one_postgresql(postgres: PostgresServer) -> None:
    """A start taken by one process is finished through the other: all state is in the
    database."""
    url = postgres.create_database()
    with serve(url) as (first, _), serve(url) as (second, _):
        key = create_key(url, "ping")
        assert httpx.get(f"{first}/ping/{key}/etl/start", params={"rid": "x1"}).status_code == 200
        assert httpx.get(f"{first}/ping/{key}/etl/start", params={"host": "h"}).status_code == 200
        between = time.time_ns() // 1000
        assert httpx.get(f"{second}/ping/{key}/etl/0", params={"rid": "x1"}).status_code == 200
        assert httpx.get(f"{second}/ping/{key}/etl/4", params={"host": "h"}).status_code == 200
        for base in (first, second):
            assert httpx.get(f"{base}/healthz").status_code == 200
    rows = query(url, "SELECT hostname, outcome, exit_code, started_us, completed_us FROM runs "
                      "ORDER BY id")  # fmt: skip
    assert [row[:3] for row in rows] == [("127.0.0.1", "success", 0), ("h", "failure", 4)]
    # Each run started with the first process's start ping and ended with the second's finish.
    assert all(started <= between <= completed for *_, started, completed in rows)


def test_ctrl_c_stops_serve_gracefully_with_status_0(tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 's.db'}") as (_, process):
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        log = process.stdout.read()  # type: ignore[union-attr]
    assert "Application shutdown complete" in log and "Traceback" not in log


def test_serve_runs_the_alert_loop_and_shows_its_heartbeat(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    with serve(url) as (base, _process):
        deadline = time.monotonic() + 30
        while True:
            health = httpx.get(base + "/healthz").json()
            if health["alerting"]["alive"]:
                break
            assert time.monotonic() < deadline, f"no alert loop heartbeat: {health}"
            time.sleep(0.2)
        assert health["status"] == "ok" and health["alerting"]["last_heartbeat"]
        metrics = httpx.get(base + "/metrics").text
        assert "cronwatch_alert_loop_up 1.0" in metrics
        _process.send_signal(signal.SIGTERM)
        _process.wait(30)
        log = _process.stdout.read()  # type: ignore[union-attr]
    # No config, so no channel: said at start (issue 12: alerts announced to nobody).
    assert "WARNING:  no alert channel is configured" in log


def test_serve_without_alerts_runs_no_loop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'quiet.db'}"
    with serve(url, options=("--no-alerts",)) as (base, _process):
        time.sleep(1.0)
        health = httpx.get(base + "/healthz").json()
        assert health["status"] == "ok"
        assert health["alerting"]["alive"] is False and health["alerting"]["last_heartbeat"] is None
        assert "cronwatch_alert_loop_up 0.0" in httpx.get(base + "/metrics").text
        _process.send_signal(signal.SIGTERM)
        _process.wait(30)
        log = _process.stdout.read()  # type: ignore[union-attr]
    assert "no alert channel" not in log  # no loop, nothing to warn of


def _run_ahead(key: str, base: str, ahead: timedelta, run_id: str) -> httpx.Response:
    start = (datetime.now(UTC) + ahead).isoformat()
    run = {"name": "skewed", "hostname": "h", "run_id": run_id, "outcome": "success",
           "date_started": start, "date_completed": start}  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{base}/api/v1/runs", json=run, headers=headers, timeout=10)


def test_future_tolerance_from_the_config_file_and_the_option(tmp_path: Path) -> None:
    """[limits] future_tolerance widens what is accepted; --future-tolerance overrides it."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    config = tmp_path / "cronwatch.toml"
    config.write_text('[limits]\nfuture_tolerance = "2h"\n')
    with serve(url, "--config", str(config)) as (base, _):
        key = create_key(url, "ping")
        assert _run_ahead(key, base, timedelta(hours=1), "r1").status_code == 201
        refused = _run_ahead(key, base, timedelta(hours=3), "r2")
        assert refused.status_code == 400 and "at most 2h ahead" in refused.json()["message"]
    with serve(url, "--config", str(config), options=("--future-tolerance", "10m")) as (base, _):
        refused = _run_ahead(key, base, timedelta(hours=1), "r3")
        assert refused.status_code == 400 and "at most 10m ahead" in refused.json()["message"]
    assert query(url, "SELECT run_id FROM runs") == [("r1",)]


def test_serve_says_which_database_and_config_it_uses(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.create_database()
    # trust authentication takes any password: the log must not show it
    with_password = url.replace("postgres@", "postgres:s3cret-pw@", 1)
    assert with_password != url
    config = tmp_path / "cw.toml"
    config.write_text('[jobs.backup]\nschedule = "0 3 * * *"\n')
    with serve(with_password, "--config", str(config)) as (_, process):
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log = process.stdout.read()  # type: ignore[union-attr]
    expected = url.replace("postgres@", "postgres:***@", 1)
    assert f"cronwatch serves the database {expected} with the config file {config} (1 job)" in log
    assert "s3cret-pw" not in log
    # before the port opens: it is the first thing a reader of the log sees
    assert log.index("cronwatch serves the database") < log.index("Uvicorn running")
    sqlite = f"sqlite:///{tmp_path / 's.db'}"
    with serve(sqlite) as (_, process):
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log = process.stdout.read()  # type: ignore[union-attr]
    assert f"cronwatch serves the database {sqlite} (no config file)" in log


def test_rate_limit_and_max_body_options_reach_the_server(tmp_path: Path) -> None:
    """``serve --rate-limit 0.01 --max-body 100`` as a process: the defaults (1,000/s, 100 kB)
    would let through what these refuse. Each check has its own key (one bucket per key; a
    bucket holds one request at this rate and refills in 100 s, so no clock is involved)."""
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    limited, fits, too_big = (create_key(url, "ping") for _ in range(3))
    with serve(url, options=("--no-alerts", "--rate-limit", "0.01", "--max-body", "100")) as (
        base, _process,
    ), httpx.Client(base_url=base) as http:  # fmt: skip
        assert http.get(f"/ping/{limited}/limited").status_code == 200
        refused = http.get(f"/ping/{limited}/limited")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert http.post(f"/ping/{fits}/fits", content=b"x" * 100).status_code == 200
        assert http.post(f"/ping/{too_big}/too-big", content=b"x" * 101).status_code == 413
    rows = query(url, "SELECT name, output FROM runs ORDER BY id")
    assert rows == [("limited", None), ("fits", "x" * 100)], "nothing refused was stored"


def test_max_jobs_from_the_option_over_the_config_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    config = tmp_path / "cronwatch.toml"
    config.write_text("[limits]\nmax_jobs = 5\n")
    with serve(url, "--config", str(config), options=("--max-jobs", "1")) as (base, _):
        key = create_key(url, "ping")
        assert httpx.get(f"{base}/ping/{key}/first").status_code == 200
        refused = httpx.get(f"{base}/ping/{key}/second")
        assert refused.status_code == 403 and "at most 1 jobs" in refused.json()["message"]
        assert httpx.get(f"{base}/ping/{key}/first").status_code == 200
    assert query(url, "SELECT name FROM jobs") == [("first",)]


def test_the_alert_loop_of_serve_has_its_own_database_deadline(
    tmp_path: Path, proxied: tuple[str, TcpProxy]
) -> None:
    """``serve --alerts-database-timeout 1`` on a PostgreSQL gone silent for a few seconds:
    the loop's statement is cut as an outage (said in the log), and its next cycle, once the
    database answers, beats again. What must not happen: the loop waiting on the silent
    database (with no deadline it waits until the packets flow again, and says nothing)."""
    url, proxy = proxied
    config = tmp_path / "cronwatch.toml"
    config.write_text('[alerts]\ninterval = "1s"\n')
    beats = "SELECT MAX(last_beat_us) FROM workers"
    with serve(url, "--config", str(config), options=("--alerts-database-timeout", "1")) as (
        _,
        process,
    ):
        deadline = time.monotonic() + 30
        while query(url, beats) == [(None,)]:
            assert time.monotonic() < deadline, "the loop never beat"
            time.sleep(0.2)
        proxy.pause()
        # A cycle starts within 1 s and is cut 1 s later; the reconnect meets its 5 s connect
        # deadline (a shorter silence can pass unnoticed: the statement is retried once).
        time.sleep(10)
        proxy.resume()
        before = query(url, beats)
        deadline = time.monotonic() + 30
        while query(url, beats) == before:
            assert time.monotonic() < deadline, "the loop did not beat again"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log = process.stdout.read()  # type: ignore[union-attr]
    assert "alert cycle failed, database unavailable" in log, log
    assert "alert loop: database available again" in log, log
