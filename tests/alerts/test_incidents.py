"""Incidents end to end, with two alert loops racing on one database (PostgreSQL, and SQLite):
two jobs go missing; one is acknowledged and is neither reminded nor escalated, the other is
reminded and escalates to the pager when nobody acknowledged it; both recover. Every channel
gets one resolve per open incident and nothing else, each message once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from cronwatch.alerts.ack import acknowledge
from cronwatch.alerts.cycle import build_channels, run_alert_cycle
from cronwatch.errors import Conflict, InvalidInput, NotFound
from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from tests.alerts.test_concurrency import in_lockstep
from tests.support.alerting import MINUTE, T0, ran, write_config
from tests.support.cli import invoke
from tests.support.receivers import HttpReceiver

SECONDS = timedelta(seconds=1)


def scenario_config(tmp_path: Path, chat: HttpReceiver, pager: HttpReceiver) -> str:
    jobs = "".join(
        f'[jobs.{name}]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalerts = ["chat"]\n'
        'repeat = "10m"\nescalate_after = "30m"\nescalate_to = ["pager"]\n'
        for name in ("backup", "report")
    )
    return (
        jobs + '[server]\npublic_url = "https://cron.example.com"\n'
        f'[channels.chat]\ntype = "webhook"\nurl = "{chat.url}"\ntimeout = "3s"\n'
        '[channels.pager]\ntype = "pagerduty"\nrouting_key = "k"\n'
        f'url = "http://{pager.address}/v2/enqueue"\ntimeout = "3s"\n'
    )


def test_missing_acknowledged_not_reminded_escalated_only_unacknowledged_then_resolved(
    tmp_path: Path, database_url: str, db: Database, monitor: Monitor
) -> None:
    chat, pager = HttpReceiver(), HttpReceiver()
    chat.start()
    pager.start()
    pager.answer, pager.reply = 202, b'{"status":"success"}'
    try:
        config = write_config(tmp_path, scenario_config(tmp_path, chat, pager))
        acked: list[str] = []

        def between(minute: int) -> None:
            if minute in (0, 50):
                for name in ("backup", "report"):
                    ran(monitor, name, minute * MINUTE)
            if minute == 8:  # missing since 10:06:45; somebody takes backup
                event = acknowledge(db, "backup", "alice", "disk full, on it", T0 + 8 * MINUTE)
                acked.append(event.incident or "")

        def cycle(loop_db: Database, minute: int) -> None:
            run_alert_cycle(
                loop_db,
                config,
                T0 + minute * MINUTE + 45 * SECONDS,
                worker=f"alerts@{threading.current_thread().name}",
                channels=build_channels(config),
            )

        assert in_lockstep(database_url, cycle, 55, between) == []
    finally:
        chat.stop()
        pager.stop()

    def notified(name: str) -> list[tuple[int, str]]:
        return [
            (int((e.at - T0) // MINUTE), e.kind)
            for e in reversed(AlertStore(db).events(name, limit=100))
            if e.kind in ("problem", "reminder", "escalation", "recovery", "ack")
        ]

    # backup: announced, acknowledged, then silent until it recovers.
    assert notified("backup") == [(6, "problem"), (8, "ack"), (50, "recovery")]
    # report: reminded every 10 minutes, escalated 30 minutes after the problem, recovered.
    assert notified("report") == [
        (6, "problem"),
        (16, "reminder"),
        (26, "reminder"),
        (36, "escalation"),
        (46, "reminder"),
        (50, "recovery"),
    ]
    incidents = {
        name: {e.incident for e in AlertStore(db).events(name, limit=100) if e.incident}
        for name in ("backup", "report")
    }
    assert incidents["backup"] == set(acked) and len(incidents["report"]) == 1
    (report_incident,) = incidents["report"]

    # The chat channel: each message once; one recovery per incident.
    chat_got = Counter((b["job"], b["kind"]) for b in chat.bodies)
    assert chat_got == Counter(
        {
            ("backup", "problem"): 1,
            ("backup", "recovery"): 1,
            ("report", "problem"): 1,
            ("report", "reminder"): 3,
            ("report", "recovery"): 1,
        }
    )
    assert len({b["event_id"] for b in chat.bodies}) == len(chat.bodies)
    # The pager: only the unacknowledged incident, from its escalation on, and one resolve.
    pager_got = [(b["event_action"], b["dedup_key"]) for b in pager.bodies]
    assert pager_got == [
        ("trigger", report_incident),  # the escalation
        ("trigger", report_incident),  # the reminder after it
        ("resolve", report_incident),
    ]
    assert "and nobody acknowledged it" in pager.bodies[0]["payload"]["summary"]
    assert db.query("SELECT DISTINCT status FROM deliveries") == [("sent",)]
    # The acknowledgement is on record, with who and why; no channel was told of it.
    (ack,) = [e for e in AlertStore(db).events("backup") if e.kind == "ack"]
    assert (ack.actor, ack.note, ack.incident) == ("alice", "disk full, on it", acked[0])
    assert db.query("SELECT COUNT(*) FROM deliveries WHERE event_id = ?", (ack.id,)) == [(0,)]


def test_ack_refuses_what_cannot_be_acknowledged_and_writes_nothing(
    tmp_path: Path, database_url: str, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    url = database_url
    config = write_config(
        tmp_path,
        f'[jobs.backup]\nalerts = ["hook"]\n[channels.hook]\ntype = "webhook"\n'
        f'url = "{http_receiver.url}"\n',
    )
    ran(monitor, "backup", timedelta(0))
    run_alert_cycle(db, config, T0 + MINUTE)
    with pytest.raises(NotFound, match="no job named 'nosuch'"):
        acknowledge(db, "nosuch", "alice")
    with pytest.raises(Conflict, match="backup has no open incident to acknowledge"):
        acknowledge(db, "backup", "alice")
    ran(monitor, "backup", 2 * MINUTE, ok=False)
    run_alert_cycle(db, config, T0 + 3 * MINUTE)
    before = db.query("SELECT COUNT(*) FROM events")
    with pytest.raises(InvalidInput, match="note: at most 1000 characters"):
        acknowledge(db, "backup", "alice", "x" * 1001)
    with pytest.raises(InvalidInput, match="note: "):
        acknowledge(db, "backup", "alice", "bell\x07")
    assert db.query("SELECT COUNT(*) FROM events") == before
    assert db.query("SELECT COUNT(*) FROM events WHERE kind = 'ack'") == [(0,)]
    state = AlertStore(db).state("backup")
    assert state is not None and state.acked is None

    result = invoke("alerts", "ack", "backup", "--note", "rerunning", "--by", "bob", url=url)
    assert result.exit_code == 0, result.output
    state = AlertStore(db).state("backup")
    assert state is not None and state.incident is not None
    assert result.output == (
        f"backup: acknowledged by bob (incident {state.incident}); "
        "no more reminders until it recovers\n"
    )
    assert (state.acked_by, state.ack_note) == ("bob", "rerunning")
    status = invoke("alerts", "status", url=url)
    assert "  backup: failing since " in status.output
    assert "[acknowledged by bob: rerunning]" in status.output
    history = invoke("alerts", "history", "backup", url=url)
    assert "  ack        backup acknowledged by bob: rerunning\n" in history.output
    again = invoke("alerts", "ack", "nosuch", url=url)
    assert again.exit_code == 2 and "no job named 'nosuch'" in again.output
