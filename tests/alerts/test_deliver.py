"""Deliveries: a channel that is down gets the message once it is back, once, in order; the
retries back off, failures are visible, and one channel down never holds up another."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.alerts.deliver import RetryPolicy
from cronwatch.alerts.model import incident_id
from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from tests.support.alerting import (
    MINUTE,
    T0,
    channels_toml,
    every,
    kinds,
    ran,
    timeline,
    write_config,
)
from tests.support.receivers import HttpReceiver, SmtpReceiver

SECONDS = timedelta(seconds=1)


def job(name: str, *channels: str) -> str:
    listed = ", ".join(f'"{c}"' for c in channels)
    return f'[jobs.{name}]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalerts = [{listed}]\n'


def attempts(db: Database) -> list[tuple[str, str, int]]:
    rows = db.query("SELECT channel, status, attempts FROM deliveries ORDER BY event_id, channel")
    return [(c, s, int(a)) for c, s, a in rows]


def test_webhook_down_then_back_gets_the_message_once_with_backoff(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, job("backup", "hook") + channels_toml(http_receiver))
    ran(monitor, "backup", timedelta(0))
    http_receiver.stop()  # nothing listens on its port
    timeline(db, config, range(1, 11), monitor=monitor)  # missing at 10:06:45
    (row,) = AlertStore(db).deliveries()
    # Attempts at 10:06:45, 10:07:45 (after 30 s), 10:08:45 (1 m), 10:10:45 (2 m); next: 4 m.
    assert (row.status, row.attempts) == ("pending", 4)
    assert row.next_attempt == T0 + 14 * MINUTE + 45 * SECONDS
    assert row.last_error is not None and row.last_error.startswith(
        f"POST {http_receiver.url} failed: [Errno 111] Connection refused"
    )
    assert row.text.startswith("backup is MISSING")
    http_receiver.start()  # back at 10:11, on the same port
    timeline(db, config, range(11, 14), monitor=monitor)
    assert http_receiver.texts() == []  # not before its next attempt
    timeline(db, config, range(14, 30), monitor=monitor)
    assert len(http_receiver.texts()) == 1
    assert http_receiver.texts()[0].startswith("backup is MISSING")
    assert attempts(db) == [("hook", "sent", 5)]
    assert AlertStore(db).deliveries() == []


def test_smtp_server_not_listening_then_back(
    tmp_path: Path, db: Database, monitor: Monitor, smtp_receiver: SmtpReceiver
) -> None:
    config = write_config(tmp_path, job("backup", "mail") + channels_toml(smtp=smtp_receiver))
    ran(monitor, "backup", timedelta(0))
    smtp_receiver.stop()
    timeline(db, config, range(1, 8), monitor=monitor)
    (row,) = AlertStore(db).deliveries()
    assert row.attempts == 2 and row.last_error is not None
    assert row.last_error.startswith(f"SMTP 127.0.0.1:{smtp_receiver.port}: ")
    smtp_receiver.start()
    timeline(db, config, range(8, 20), monitor=monitor)
    assert len(smtp_receiver.messages) == 1
    assert smtp_receiver.subjects()[0].startswith("backup is MISSING")
    assert attempts(db) == [("mail", "sent", 3)]


def test_an_error_answer_is_retried_and_its_body_kept(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, job("backup", "hook") + channels_toml(http_receiver))
    ran(monitor, "backup", timedelta(0), ok=False)
    http_receiver.answer = 503
    timeline(db, config, range(0, 1), monitor=monitor)
    (row,) = AlertStore(db).deliveries()
    assert row.last_error == f"HTTP 503 from {http_receiver.url}: receiver says no"
    http_receiver.answer = 200
    timeline(db, config, range(1, 3), monitor=monitor)
    assert len(http_receiver.texts()) == 1


def test_problem_and_recovery_arrive_in_order_after_an_outage_of_the_channel(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, job("backup", "hook") + channels_toml(http_receiver))
    ran(monitor, "backup", timedelta(0))
    http_receiver.stop()
    timeline(db, config, range(1, 20), monitor=monitor)  # missing at 10:06
    summaries = timeline(db, config, range(20, 30), every(5, "backup", 20, 30), monitor)
    assert kinds(summaries) == [(20, "recovery", "backup")]
    # The recovery waits behind the problem (same job, same channel) even though it is due.
    assert [(r.status, r.attempts) for r in AlertStore(db).deliveries()] == [
        ("pending", 6),
        ("pending", 0),
    ]
    http_receiver.start()
    timeline(db, config, range(30, 80), every(5, "backup", 30, 80), monitor)
    texts = http_receiver.texts()
    assert len(texts) == 2
    assert texts[0].startswith("backup is MISSING") and texts[1].startswith("backup recovered")


def test_one_channel_down_does_not_hold_up_another(
    tmp_path: Path,
    db: Database,
    monitor: Monitor,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
) -> None:
    config = write_config(
        tmp_path,
        job("a", "hook", "mail")
        + job("b", "hook", "mail")
        + channels_toml(http_receiver, smtp_receiver),
    )
    ran(monitor, "a", timedelta(0), ok=False)
    ran(monitor, "b", timedelta(0), ok=False)
    http_receiver.stop()
    timeline(db, config, range(0, 1), monitor=monitor)
    assert sorted(smtp_receiver.subjects()) == [
        "a is FAILING: a failed on db1 at 10:00 UTC (exit 1)",
        "b is FAILING: b failed on db1 at 10:00 UTC (exit 1)",
    ]
    # The hook was tried once; the second hook delivery was released untried to the same time.
    hook = [(r.attempts, r.next_attempt) for r in AlertStore(db).deliveries()]
    assert sorted(hook) == [(0, T0 + 75 * SECONDS), (1, T0 + 75 * SECONDS)]


def test_given_up_after_the_deadline_visible_and_requeued(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, job("backup", "hook") + channels_toml(http_receiver))
    ran(monitor, "backup", timedelta(0), ok=False)
    http_receiver.stop()
    retry = RetryPolicy(give_up_after=timedelta(minutes=10))
    timeline(db, config, range(0, 30), monitor=monitor, retry=retry)
    (row,) = AlertStore(db).deliveries()
    assert row.status == "failed" and row.attempts == 5  # 10:00:45, 01:45, 02:45, 04:45, 08:45
    http_receiver.start()
    timeline(db, config, range(30, 35), monitor=monitor, retry=retry)
    assert http_receiver.texts() == []  # given up: not sent by itself
    assert AlertStore(db).retry_failed(T0 + 35 * MINUTE) == 1
    timeline(db, config, range(35, 40), monitor=monitor, retry=retry)
    assert len(http_receiver.texts()) == 1
    assert attempts(db) == [("hook", "sent", 6)]


def test_a_channel_no_longer_configured_fails_visibly(db: Database, monitor: Monitor) -> None:
    ran(monitor, "backup", timedelta(0), ok=False)
    from cronwatch.specs import AlertSettings, Config

    config = Config(
        jobs={}, channels={}, path=Path("x.toml"), alerts=AlertSettings(channels=("gone",))
    )
    run_alert_cycle(db, config, T0 + MINUTE)
    (row,) = AlertStore(db).deliveries()
    assert (row.channel, row.status, row.last_error) == (
        "gone",
        "failed",
        "no channel 'gone' is configured",
    )


def test_command_channel_gets_the_event_on_stdin_and_in_its_environment(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    out = tmp_path / "out"
    script = tmp_path / "notify.py"
    script.write_text(
        "import json, os, sys\n"
        f"with open({str(out)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'stdin': json.load(sys.stdin), 'env': {k: v for k, v in "
        "os.environ.items() if k.startswith('CRONWATCH_')}}) + '\\n')\n"
    )
    config = write_config(
        tmp_path,
        job("backup", "page", "broken")
        + f'[channels.page]\ntype = "command"\ncommand = ["{sys.executable}", "{script}"]\n'
        + '[channels.broken]\ntype = "command"\ncommand = "echo boom >&2; exit 3"\n',
    )
    ran(monitor, "backup", timedelta(0), ok=False)
    timeline(db, config, range(0, 1), monitor=monitor)
    (line,) = out.read_text().splitlines()
    got = json.loads(line)
    assert got["stdin"]["kind"] == "problem" and got["stdin"]["job"] == "backup"
    assert got["stdin"]["channel"] == "page"
    assert got["env"]["CRONWATCH_EVENT"] == "problem"
    assert got["env"]["CRONWATCH_STATUS"] == "failing"
    assert (
        got["env"]["CRONWATCH_TEXT"]
        == "backup is FAILING: backup failed on db1 at 10:00 UTC (exit 1)"
    )
    (broken,) = AlertStore(db).deliveries()
    assert broken.last_error == "/bin/sh exited with status 3: boom"


def test_command_channel_timeout(tmp_path: Path, db: Database, monitor: Monitor) -> None:
    config = write_config(
        tmp_path,
        job("backup", "slow")
        + '[channels.slow]\ntype = "command"\ncommand = ["sleep", "5"]\ntimeout = "0.3s"\n',
    )
    ran(monitor, "backup", timedelta(0), ok=False)
    timeline(db, config, range(0, 1), monitor=monitor)
    (row,) = AlertStore(db).deliveries()
    assert row.last_error == "sleep still running after 0.3s; killed"


def test_webhook_body_and_headers(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(
        tmp_path,
        job("backup", "hook")
        + channels_toml(http_receiver)
        + 'headers = { Authorization = "Bearer t0ken", X-Team = "db" }\n',
    )
    ran(monitor, "backup", timedelta(0), ok=False)
    timeline(db, config, range(0, 1), monitor=monitor)
    (body,) = http_receiver.bodies
    (event,) = [e for e in AlertStore(db).events("backup") if e.kind == "problem"]
    summary = "backup is FAILING: backup failed on db1 at 10:00 UTC (exit 1)"
    incident = incident_id("backup", T0 + 45 * SECONDS)
    assert event.incident == incident
    assert body == {
        "event_id": event.id,
        "kind": "problem",
        "job": "backup",
        "host": None,
        "status": "failing",
        "previous_status": "new",
        "reason": "backup failed on db1 at 10:00 UTC (exit 1)",
        "summary": summary,
        "title": "backup is FAILING",
        "text": f"{summary}\n\n"
        "Job:       backup\n"
        "Hosts:     db1 (failing)\n"
        "Since:     2026-11-28 10:00 UTC\n"
        "Last run:  exit code 1 on db1, 2026-11-28 10:00 UTC\n"
        f"Incident:  {incident}",
        "note": None,
        "at": "2026-11-28T10:00:45+00:00",
        "since": "2026-11-28T10:00:45+00:00",
        "incident": incident,
        "url": None,
        "severity": "critical",
        "hosts": [{"host": "db1", "status": "failing"}],
        "last_run": {"host": "db1", "exit_code": 1, "completed": "2026-11-28T10:00:30+00:00"},
        "output_tail": None,
        "tags": [],
        "acknowledged_by": None,
        "channel": "hook",
    }
    (headers,) = http_receiver.headers
    assert headers["Authorization"] == "Bearer t0ken" and headers["X-Team"] == "db"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("cronwatch/")
