"""``cronwatch alerts``: the loop on its own (one cycle, or until SIGTERM), and the commands to
look at it and steer it: status, history, snooze, retry, test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from cronwatch.timeutil import utcnow
from tests.support.alerting import channels_toml
from tests.support.cli import invoke
from tests.support.receivers import HttpReceiver


def config_file(tmp_path: Path, http: HttpReceiver, extra: str = "") -> Path:
    path = tmp_path / "cronwatch.toml"
    path.write_text('[jobs.backup]\nalerts = ["hook"]\n' + extra + channels_toml(http))
    return path


def failed_backup(monitor: Monitor) -> None:
    now = utcnow()
    monitor.record_failure(
        "backup", now - timedelta(minutes=2), now - timedelta(minutes=1), 4, hostname="db1"
    )


def test_once_runs_one_cycle_and_sends(
    tmp_path: Path, database_url: str, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = config_file(tmp_path, http_receiver)
    failed_backup(monitor)
    result = invoke("alerts", "--once", "--json", url=database_url, config=config)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["jobs"] == 1 and summary["sent"] == 1 and summary["outage"] is None
    assert summary["notifications"][0].startswith("backup is FAILING: backup failed on db1")
    assert len(http_receiver.texts()) == 1
    again = invoke("alerts", "--once", url=database_url, config=config)
    assert again.exit_code == 0 and ": 1 jobs, 0 events, 0 sent" in again.output
    assert len(http_receiver.texts()) == 1


def test_status_lists_what_was_not_delivered_and_why(
    tmp_path: Path, database_url: str, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = config_file(tmp_path, http_receiver)
    failed_backup(monitor)
    http_receiver.stop()
    assert invoke("alerts", "--once", url=database_url, config=config).exit_code == 0
    result = invoke("alerts", "status", url=database_url, config=config)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("alert loop: running, last heartbeat ")
    assert "jobs down: 1" in lines
    assert any(line.startswith("  backup: failing since ") for line in lines)
    assert "deliveries: 1 pending (1 retrying), 0 given up" in lines
    assert any(
        line.startswith("  #")
        and "-> hook: retry " in line
        and "after 1 attempt(s): POST " in line
        and "Connection refused" in line
        for line in lines
    )
    as_json = json.loads(
        invoke("alerts", "status", "--json", url=database_url, config=config).output
    )
    assert as_json["alive"] is True and as_json["alerting_jobs"] == 1
    (undelivered,) = as_json["undelivered"]
    assert undelivered["channel"] == "hook" and undelivered["attempts"] == 1
    assert "Connection refused" in undelivered["last_error"]


def test_status_shows_loops_whose_configs_differ(tmp_path: Path, database_url: str) -> None:
    """Two loops beating now with other graces for one job: status says which loops run which
    config and what differs; the JSON too. Loops that agree: no such warning."""
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.config import load_config
    from cronwatch.storage import open_database

    paths = {}
    for name, grace in (("one", "2m"), ("other", "30m"), ("same", "2m")):
        paths[name] = tmp_path / f"{name}.toml"
        paths[name].write_text(f'[jobs.backup]\nschedule = "0 * * * *"\ngrace = "{grace}"\n')
    with open_database(database_url) as db:
        for loop, name in (("alerts@a", "one"), ("alerts@c", "same")):
            run_alert_cycle(db, load_config(paths[name]), worker=loop)
        agreed = invoke("alerts", "status", url=database_url, config=paths["one"]).output
        assert "2 loop(s) today" in agreed and "different configs" not in agreed
        run_alert_cycle(db, load_config(paths["other"]), worker="alerts@b")
    result = invoke("alerts", "status", url=database_url, config=paths["one"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = lines.index(
        "WARNING: the running alert loops have different configs; each of them evaluates every"
        " job each cycle until they agree (give every loop the same config file):"
    )
    assert lines[at + 1 : at + 3] == [
        "  config 1: alerts@a, alerts@c",
        "  config 2: alerts@b (declared jobs ([jobs.*]) differ from config 1's)",
    ]
    as_json = json.loads(
        invoke("alerts", "status", "--json", url=database_url, config=paths["one"]).output
    )
    assert as_json["configs"] == [
        {"loops": ["alerts@a", "alerts@c"], "differs_in": []},
        {"loops": ["alerts@b"], "differs_in": ["jobs"]},
    ]


def test_status_before_any_loop(tmp_path: Path, database_url: str) -> None:
    result = invoke("alerts", "status", url=database_url)
    assert result.exit_code == 0
    assert result.output.splitlines()[1] == (
        "alert loop: never ran (start `cronwatch alerts` or `cronwatch serve`)"
    )


def test_alerts_to_nobody_are_said_in_status_and_history(
    tmp_path: Path, database_url: str, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    # Issue 12: with no channel, history showed "backup is FAILING" as if sent, no warning.
    bare = tmp_path / "bare.toml"
    bare.write_text("[jobs.backup]\n")
    failed_backup(monitor)
    invoke("alerts", "--once", url=database_url, config=bare)
    status = invoke("alerts", "status", url=database_url, config=bare).output.splitlines()
    assert status[0].startswith("WARNING: no alert channel is configured: problems are recorded")
    as_json = json.loads(invoke("alerts", "status", "--json", url=database_url, config=bare).output)
    assert as_json["channel_warning"].startswith("no alert channel is configured")
    (line,) = invoke(
        "alerts", "history", "--notifications", url=database_url, config=bare
    ).output.splitlines()
    assert "problem    backup is FAILING" in line and line.endswith("[not sent: no channel]")

    # Channels defined but no job routed to them: said too, with the fix.
    unrouted = tmp_path / "unrouted.toml"
    unrouted.write_text("[jobs.backup]\n" + channels_toml(http_receiver))
    warning = invoke("alerts", "status", url=database_url, config=unrouted).output.splitlines()[0]
    assert warning == (
        "WARNING: no alert channel for backup: their problems are sent to nobody; "
        'set [alerts] channels = ["hook"]'
    )
    # Routed: no warning.
    routed = config_file(tmp_path, http_receiver, '[alerts]\nchannels = ["hook"]\n')
    assert "WARNING" not in invoke("alerts", "status", url=database_url, config=routed).output


def test_history(
    tmp_path: Path, database_url: str, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = config_file(tmp_path, http_receiver)
    failed_backup(monitor)
    invoke("alerts", "--once", url=database_url, config=config)
    result = invoke(
        "alerts", "history", "backup", "--notifications", url=database_url, config=config
    )
    assert result.exit_code == 0
    (line,) = result.output.splitlines()
    assert "  problem    backup is FAILING: backup failed on db1 at " in line
    everything = json.loads(
        invoke("alerts", "history", "--json", url=database_url, config=config).output
    )
    assert {(e["host"], e["kind"]) for e in everything} == {(None, "problem"), ("db1", "change")}
    assert (
        invoke("alerts", "history", "nothing-here", url=database_url, config=config).output
        == "no events for nothing-here\n"
    )


def test_snooze_and_unsnooze(
    tmp_path: Path,
    database_url: str,
    db: Database,
    monitor: Monitor,
    http_receiver: HttpReceiver,
) -> None:
    config = config_file(tmp_path, http_receiver)
    result = invoke("alerts", "snooze", "backup", "--for", "2h", "--by", "alice",
                    url=database_url, config=config)  # fmt: skip
    assert result.exit_code == 0 and result.output.startswith("backup: alerts snoozed until ")
    failed_backup(monitor)
    invoke("alerts", "--once", url=database_url, config=config)
    assert http_receiver.texts() == []
    status = invoke("alerts", "status", url=database_url, config=config).output
    assert "snoozed: 1" in status and "  backup until " in status
    lifted = invoke("alerts", "unsnooze", "backup", "--by", "bob", url=database_url, config=config)
    assert lifted.exit_code == 0
    # Who did it, in the history (newest first); an action is never sent anywhere.
    history = invoke("alerts", "history", "backup", url=database_url).output
    assert "backup no longer snoozed by bob" in history
    assert "backup snoozed until" in history and "by alice" in history
    invoke("alerts", "--once", url=database_url, config=config)
    assert len(http_receiver.texts()) == 1
    state = AlertStore(db).state("backup")
    assert state is not None and state.snooze_until is None


def test_snooze_refuses_bad_input(tmp_path: Path, database_url: str, db: Database) -> None:
    both = invoke("alerts", "snooze", "backup", "--for", "1h", "--until", "now", url=database_url)
    assert both.exit_code == 2 and "give --until TIME or --for DURATION" in both.output
    past = invoke("alerts", "snooze", "backup", "--until", "2020-01-01T00:00:00Z", url=database_url)
    assert past.exit_code == 2 and "is not in the future" in past.output
    naive = invoke("alerts", "snooze", "backup", "--until", "2030-01-01T00:00:00", url=database_url)
    assert naive.exit_code == 2 and "has no timezone" in naive.output
    bad_name = invoke("alerts", "snooze", "a/b", "--for", "1h", url=database_url)
    assert bad_name.exit_code == 2 and "must not contain '/'" in bad_name.output
    # A job nobody knows (a typo): refused, and no snooze or action is written for it.
    for args in (("snooze", "bakcup", "--for", "1h"), ("unsnooze", "bakcup")):
        unknown = invoke("alerts", *args, url=database_url)
        assert unknown.exit_code == 2, unknown.output
        assert "no job named 'bakcup'" in unknown.output and "snoozed" not in unknown.output
    assert AlertStore(db).state("bakcup") is None
    assert "bakcup" not in invoke("alerts", "history", url=database_url).output


def test_retry_requeues_given_up_deliveries(
    tmp_path: Path,
    database_url: str,
    db: Database,
    monitor: Monitor,
    http_receiver: HttpReceiver,
) -> None:
    config = config_file(tmp_path, http_receiver)
    failed_backup(monitor)
    http_receiver.stop()
    invoke("alerts", "--once", url=database_url, config=config)
    db.execute("UPDATE deliveries SET status = 'failed'")  # as if given up after 24 hours
    assert "1 given up" in invoke("alerts", "status", url=database_url, config=config).output
    http_receiver.start()
    result = invoke("alerts", "retry", "--channel", "hook", url=database_url, config=config)
    assert result.exit_code == 0 and result.output.startswith("1 deliveries requeued")
    invoke("alerts", "--once", url=database_url, config=config)
    assert len(http_receiver.texts()) == 1


def test_test_sends_through_a_channel(
    tmp_path: Path, database_url: str, http_receiver: HttpReceiver
) -> None:
    config = config_file(tmp_path, http_receiver)
    result = invoke("alerts", "test", "hook", url=database_url, config=config)
    assert result.exit_code == 0 and result.output == "hook: delivered\n"
    (body,) = http_receiver.bodies
    assert body["kind"] == "test" and body["text"].endswith(": channel hook works")
    unknown = invoke("alerts", "test", "pager", url=database_url, config=config)
    assert unknown.exit_code == 2
    assert "no channel 'pager' in the config (defined channels: hook)" in unknown.output
    http_receiver.stop()
    down = invoke("alerts", "test", "hook", url=database_url, config=config)
    assert down.exit_code == 1 and "hook: not delivered: POST " in down.output


def test_usage_errors(tmp_path: Path, database_url: str) -> None:
    assert "at least 1s" in invoke("alerts", "--interval", "0s", url=database_url).output
    mixed = invoke("alerts", "--once", "status", url=database_url)
    assert mixed.exit_code == 2 and "go with `cronwatch alerts` alone" in mixed.output


def test_the_loop_runs_until_sigterm(
    tmp_path: Path,
    database_url: str,
    db: Database,
    monitor: Monitor,
    http_receiver: HttpReceiver,
) -> None:
    config = config_file(tmp_path, http_receiver)
    failed_backup(monitor)
    env = dict(os.environ, CRONWATCH_DATABASE_URL=database_url, CRONWATCH_CONFIG=str(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cronwatch", "alerts", "--interval", "1s"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not http_receiver.texts() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(http_receiver.texts()) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "cronwatch alerts: cycling every 1s as alerts@" in stderr
    assert "  problem: backup is FAILING" in stderr
    # One heartbeat row, the loop's, and the hourly prune it claimed (one loop prunes).
    assert db.query("SELECT kind, COUNT(*) FROM workers GROUP BY kind ORDER BY kind") == [
        ("alerts", 1),
        ("task", 1),
    ]


def test_test_without_a_channel_sends_to_every_channel_and_reports_each(
    tmp_path: Path, database_url: str, http_receiver: HttpReceiver
) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text(
        channels_toml(http_receiver)
        + f'[channels.chat]\ntype = "apprise"\nurls = ["json://{http_receiver.address}/chat"]\n'
        + '[channels.down]\ntype = "webhook"\nurl = "http://127.0.0.1:9/nobody"\ntimeout = "2s"\n'
    )
    result = invoke("alerts", "test", url=database_url, config=path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[:2] == ["hook: delivered", "chat: delivered"]
    assert lines[2].startswith("down: not delivered: POST http://127.0.0.1:9/nobody failed: ")
    assert lines[3] == "cronwatch: 1 of 3 channel(s) failed"
    assert sorted(r.path for r in http_receiver.requests) == ["/chat", "/hook"]
    assert {r.json()["title"] for r in http_receiver.requests} == {"cronwatch test message"}
    http_receiver.requests.clear()
    path.write_text(channels_toml(http_receiver))
    ok = invoke("alerts", "test", url=database_url, config=path)
    assert (ok.exit_code, ok.output) == (0, "hook: delivered\n")
    none = invoke("alerts", "test", url=database_url)
    assert none.exit_code == 2 and "no channel in the config" in none.output
