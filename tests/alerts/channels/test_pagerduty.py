"""The PagerDuty channel against a local receiver speaking Events API v2: a problem is a
``trigger`` whose ``dedup_key`` is the incident's id, its recovery a ``resolve`` with the same
key; every incident its own key; failures retried and shown."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from cronwatch.alerts.channels import DeliveryError, build_channel
from cronwatch.alerts.model import Event, incident_id
from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from tests.support.alerting import T0, kinds, timeline, write_config
from tests.support.receivers import HttpReceiver

SECONDS = timedelta(seconds=1)
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"


@pytest.fixture
def pagerduty(http_receiver: HttpReceiver) -> HttpReceiver:
    """The receiver answering as PagerDuty's Events API does: 202 and a JSON status."""
    http_receiver.answer = 202
    http_receiver.reply = b'{"status":"success","message":"Event processed"}'
    return http_receiver


def config_text(receiver: HttpReceiver, key: str = f'routing_key = "{ROUTING_KEY}"') -> str:
    return (
        '[jobs.backup]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalerts = ["pager"]\n'
        'tags = ["db"]\n'
        '[server]\npublic_url = "https://cron.example.com"\n'
        f'[channels.pager]\ntype = "pagerduty"\n{key}\n'
        f'url = "http://{receiver.address}/v2/enqueue"\ntimeout = "3s"\n'
    )


def test_trigger_then_resolve_with_the_incidents_key(
    tmp_path: Path, db: Database, monitor: Monitor, pagerduty: HttpReceiver
) -> None:
    config = write_config(tmp_path, config_text(pagerduty))
    every_five = {m: [("backup", m != 5)] for m in (0, 5, 10, 15, 30, 35)}
    summaries = timeline(db, config, range(0, 40), every_five, monitor)
    # Failed at 10:05, fine at 10:10; missing from 10:21 (no run at 10:20), fine at 10:30.
    assert kinds(summaries) == [
        (5, "problem", "backup"),
        (10, "recovery", "backup"),
        (21, "problem", "backup"),
        (30, "recovery", "backup"),
    ]
    sent = [request.json() for request in pagerduty.requests]
    assert {request.path for request in pagerduty.requests} == {"/v2/enqueue"}
    assert all(r.headers["Content-Type"] == "application/json" for r in pagerduty.requests)
    first = incident_id("backup", T0 + 5 * 60 * SECONDS + 45 * SECONDS)
    second = incident_id("backup", T0 + 21 * 60 * SECONDS + 45 * SECONDS)
    assert first != second
    assert [(s["event_action"], s["dedup_key"]) for s in sent] == [
        ("trigger", first),
        ("resolve", first),
        ("trigger", second),
        ("resolve", second),
    ]
    assert sent[1] == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": first}
    trigger = sent[0]
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["client"] == "cronwatch"
    assert trigger["client_url"] == "https://cron.example.com/jobs/backup"
    assert trigger["links"] == [
        {"href": "https://cron.example.com/jobs/backup", "text": "backup in cronwatch"}
    ]
    payload = trigger["payload"]
    assert payload["summary"] == "backup is FAILING: backup failed on db1 at 10:05 UTC (exit 1)"
    assert payload["source"] == "db1"
    assert payload["severity"] == "critical"
    assert payload["timestamp"] == "2026-11-28T10:05:45+00:00"
    assert (payload["component"], payload["group"], payload["class"]) == ("backup", "db", "failing")
    assert payload["custom_details"]["last_run"] == {
        "host": "db1",
        "exit_code": 1,
        "completed": "2026-11-28T10:05:30+00:00",
    }
    assert sent[2]["payload"]["class"] == "missing"
    assert db.query("SELECT DISTINCT status FROM deliveries") == [("sent",)]


def test_an_error_answer_is_retried_and_shown(
    tmp_path: Path, db: Database, monitor: Monitor, pagerduty: HttpReceiver
) -> None:
    config = write_config(tmp_path, config_text(pagerduty))
    pagerduty.answer = 400
    timeline(db, config, range(0, 1), {0: [("backup", False)]}, monitor)
    (row,) = AlertStore(db).deliveries()
    assert (
        row.last_error == f"HTTP 400 from http://{pagerduty.address}/v2/enqueue: receiver says no"
    )
    pagerduty.answer = 202
    timeline(db, config, range(1, 2), monitor=monitor)
    assert [r.json()["event_action"] for r in pagerduty.requests] == ["trigger"]
    assert AlertStore(db).deliveries() == []


def test_the_routing_key_from_the_environment(
    tmp_path: Path, pagerduty: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, config_text(pagerduty, 'routing_key_env = "CW_PD_KEY"'))
    channel = build_channel(config.channels["pager"], config.server)
    event = Event("backup", "", "recovery", "failing", "ok", "ran", "backup recovered", T0,
                  incident="cw-1")  # fmt: skip
    with pytest.raises(DeliveryError, match=r"CW_PD_KEY \(routing_key_env\) is not set"):
        channel.send(event)
    assert pagerduty.requests == []
    monkeypatch.setenv("CW_PD_KEY", "from-the-env")
    channel.send(event)
    (request,) = pagerduty.requests
    assert json.loads(request.body)["routing_key"] == "from-the-env"


def test_a_test_message_triggers_and_resolves_at_once(
    tmp_path: Path, pagerduty: HttpReceiver
) -> None:
    config = write_config(tmp_path, config_text(pagerduty))
    event = Event("cronwatch", "", "test", "ok", "ok", "works", "cronwatch test: works", T0)
    build_channel(config.channels["pager"], config.server).send(event)
    sent = [request.json() for request in pagerduty.requests]
    assert [s["event_action"] for s in sent] == ["trigger", "resolve"]
    assert sent[0]["dedup_key"] == sent[1]["dedup_key"]
    assert sent[0]["payload"]["severity"] == "info"
