"""A database with a bit of everything, for the tests of backups, restores, exports and imports:
runs of every outcome on several hosts (some still running), runs pruned away (so the job
summaries count more than the runs left), jobs declared through the API, keys (one revoked),
a snooze, alert states with events and deliveries still pending, heartbeats, baselines.

Everything is placed relative to :data:`NOW`; :func:`status_json` answers ``cronwatch status
--json`` with the clock pinned there, so two databases can be compared exactly;
:func:`other_database` is a new database of the other kind, to move one to.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cronwatch
from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.config import load_config
from cronwatch.retention import prune
from cronwatch.specs.retention import Retention
from cronwatch.storage import open_database
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.jobs import JobStore
from cronwatch.storage.keys import KeyStore
from tests.support.databases import PostgresServer

NOW = datetime(2026, 3, 10, 12, 0, 30, 123456, tzinfo=UTC)
HOUR = timedelta(hours=1)

#: A webhook channel on a port nothing listens on: its deliveries stay pending.
CONFIG = """
[channels.hook]
type = "webhook"
url = "http://127.0.0.1:9/cronwatch"

[jobs.backup]
schedule = "0 * * * *"
grace = "10m"
hosts = ["db1", "db2"]
alerts = ["hook"]
"""


def write_config(directory: Path) -> Path:
    path = directory / "cronwatch.toml"
    path.write_text(CONFIG)
    return path


def populate(url: str, config_path: Path) -> dict[str, str]:
    """Fill the database at ``url``; the keys created, ``{scope: token}``."""
    config = load_config(config_path)
    with cronwatch.connect(url, statsd=False) as monitor:
        for hour in range(60, 0, -1):
            started = NOW - hour * HOUR
            for host in ("db1", "db2"):
                if host == "db2" and hour < 5:
                    continue  # db2 stopped reporting: backup is missing there
                monitor.record_success("backup", started, started + timedelta(minutes=3), host)
            if hour % 7 == 0:
                monitor.record_failure("sync", started, started + timedelta(seconds=40), 3, "web1")
            else:
                monitor.record_success(
                    "sync", started, started + timedelta(seconds=30 + hour % 5), "web1"
                )
        monitor.start("sync", "web2", date_started=NOW - timedelta(minutes=20))
        monitor.record_failure("report", NOW - 2 * HOUR, NOW - 2 * HOUR + timedelta(seconds=5),
                               1, "web1", output="Traceback: boom\n" * 20)  # fmt: skip
        db = monitor.store.db
        # Older runs pruned: the summaries keep counting them.
        prune(db, Retention(runs=timedelta(hours=24), keep_last=10), NOW)
        jobs = JobStore(db)
        declared = {"schedule": "30 2 * * *", "timezone": "Europe/London", "grace": "1h"}
        jobs.create("nightly-report", json.dumps(declared), NOW - 48 * HOUR)
        keys = KeyStore(db)
        tokens = {scope: keys.create(scope, f"{scope}-key", now=NOW - 72 * HOUR)[1]
                  for scope in ("ping", "read", "write")}  # fmt: skip
        keys.revoke("read-key", now=NOW - HOUR)
        store = AlertStore(db)
        for minutes in (30, 20, 10, 0):  # cycles: states, events, pending deliveries
            run_alert_cycle(db, config, NOW - timedelta(minutes=minutes), worker="alerts@test:1")
        store.snooze("sync", NOW + 2 * HOUR, NOW - timedelta(minutes=5))
    return tokens


def status_json(url: str, config_path: Path | None, monkeypatch: pytest.MonkeyPatch) -> object:
    """``cronwatch status --json`` at :data:`NOW`, parsed."""
    monkeypatch.setattr("cronwatch.health.service.utcnow", lambda: NOW)
    from tests.support.cli import invoke

    result = invoke("status", "--json", url=url, config=config_path)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def table_rows(url: str, table: str, columns: str) -> list[tuple[object, ...]]:
    with open_database(url) as db:
        return sorted(db.query(f"SELECT {columns} FROM {table}"), key=repr)


def other_database(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new, empty database of the other kind than ``dialect``."""
    if dialect == "sqlite":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database()
    else:
        url = f"sqlite:///{tmp_path / 'moved.db'}"
    open_database(url).close()
    return url
