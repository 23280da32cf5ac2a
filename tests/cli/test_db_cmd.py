"""`cronwatch migrate` and `cronwatch spool list/flush`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cronwatch.cli.main import cli
from tests.support.alerting import channels_toml
from tests.support.cli import invoke
from tests.support.receivers import HttpReceiver


def test_migrate_reports_the_revision(database_url: str) -> None:
    from cronwatch.storage.revision import SCHEMA_REVISION

    result = invoke("migrate", url=database_url)
    assert result.exit_code == 0 and f"schema revision {SCHEMA_REVISION} (current)" in result.output


def test_migrate_forgets_a_deleted_jobs_state_and_the_job_recorded_again_fails_loudly(
    tmp_path: Path, fresh_database_url: str, http_receiver: HttpReceiver
) -> None:
    """A database of a cronwatch whose job deletion left the job's alerting state behind
    (0015): job ``backup`` failed, was announced, and was deleted, its ``job_states`` rows
    still there. After `cronwatch migrate` (0016 on) the job, recorded again by a failed run, is
    a new job: its failure is announced, once, as a new incident. (Before, the new job took the
    old announced state over, and its failure was announced to nobody.)"""
    from datetime import UTC, datetime, timedelta

    from cronwatch.storage.alerts import AlertStore
    from cronwatch.storage.connection import Database
    from cronwatch.storage.migrate import upgrade_schema
    from cronwatch.storage.revision import SCHEMA_REVISION
    from cronwatch.storage.url import parse_database_url

    parsed = parse_database_url(fresh_database_url)
    upgrade_schema(parsed, "0015")
    with Database(parsed) as db:  # no migration on open: the database stays at 0015
        # What the failure's announcement left: the history (kept when a job is deleted), and
        # the state rows as the alert loop wrote them; no job any more.
        db.execute(
            "INSERT INTO events (name, hostname, kind, old_status, new_status, reason, text,"
            " at_us, incident, since_us) VALUES ('backup', '', 'problem', 'new', 'failing',"
            " 'backup failed', 'backup is FAILING: backup failed', 1, 'cw-old-incident', 1)"
        )
        db.execute(
            "INSERT INTO deliveries (event_id, channel, name, status, attempts, next_attempt_us,"
            " created_us, sent_us) SELECT id, 'hook', name, 'sent', 1, 1, 1, 1 FROM events"
        )
        for host, alerting, incident in (("", 1, "cw-old-incident"), ("db1", 0, None)):
            db.execute(
                "INSERT INTO job_states (name, hostname, status, reason, since_us, version,"
                " alerting, alert_status, problem_since_us, notified_us, incident,"
                " announced_us, updated_us) VALUES ('backup', ?, 'failing',"
                " 'backup failed on db1 at 10:32 UTC (exit 4)', 1, 1, ?, ?, 1, ?, ?, ?, 1)",
                (host, alerting, "failing" if alerting else None, 1 if alerting else None,
                 incident, 1 if alerting else None),
            )  # fmt: skip
        assert db.query("SELECT COUNT(*) FROM jobs") == [(0,)]

    migrated = invoke("migrate", url=fresh_database_url)
    assert migrated.exit_code == 0, migrated.output
    assert f"schema revision {SCHEMA_REVISION} (current)" in migrated.output
    config = tmp_path / "cronwatch.toml"
    config.write_text('[alerts]\nchannels = ["hook"]\n' + channels_toml(http_receiver))
    now = datetime.now(UTC)
    started, completed = (f"@{int((now - timedelta(minutes=m)).timestamp())}" for m in (2, 1))
    recorded = invoke("record", "backup", "--started", started, "--completed", completed,
                      "--host", "db1", "--exit-code", "4", url=fresh_database_url)  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    cycle = invoke("alerts", "--once", "--json", url=fresh_database_url, config=config)
    assert cycle.exit_code == 0, cycle.output
    assert json.loads(cycle.output)["sent"] == 1
    (text,) = http_receiver.texts()
    assert text.startswith("backup is FAILING: backup failed on db1"), text
    with Database(parsed) as db:
        (state,) = AlertStore(db).alerting()
    assert state.name == "backup" and state.incident not in (None, "cw-old-incident")
    again = invoke("alerts", "--once", "--json", url=fresh_database_url, config=config)
    assert json.loads(again.output)["sent"] == 0 and len(http_receiver.texts()) == 1


def test_spool_list_and_flush(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cronwatch.monitor import make_run
    from cronwatch.spool import Spool

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    now = datetime.now(UTC)
    Spool.for_target(url).put(make_run("j", now, now, outcome="success", hostname="h"))
    listed = CliRunner().invoke(cli, ["--database-url", url, "spool", "list"])
    assert "1 run(s) waiting" in listed.output
    flushed = CliRunner().invoke(cli, ["--database-url", url, "spool", "flush"])
    assert flushed.exit_code == 0 and "sent 1 run(s); 0 still waiting" in flushed.output
