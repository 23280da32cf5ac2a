"""Acknowledging through the REST API, and a job's alert history there: a write key
acknowledges (its name recorded as who), a read key cannot; refusals write nothing."""

from __future__ import annotations

from datetime import timedelta

import httpx

from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from cronwatch.timeutil import utcnow
from tests.support.server import LiveServer, create_key


def failing_backup(db: Database, monitor: Monitor) -> str:
    """backup failed and its problem is announced; its incident's id."""
    now = utcnow()
    monitor.record_failure("backup", now - timedelta(minutes=2), now - timedelta(minutes=1), 2,
                           hostname="db1")  # fmt: skip
    run_alert_cycle(db, None, now)
    state = AlertStore(db).state("backup")
    assert state is not None and state.alerting and state.incident is not None
    return state.incident


def test_a_write_key_acknowledges_and_the_history_shows_who(
    server: LiveServer, db: Database, monitor: Monitor
) -> None:
    incident = failing_backup(db, monitor)
    key = create_key(server.database_url, "write", "alice-laptop")
    reader = create_key(server.database_url, "read")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        refused = http.post(
            "/api/v1/jobs/backup/ack", headers={"Authorization": f"Bearer {reader}"}
        )
        assert refused.status_code == 403
        assert AlertStore(db).state("backup").acked is None  # type: ignore[union-attr]
        bad = http.post("/api/v1/jobs/backup/ack", json={"note": 5},
                        headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert bad.status_code == 400 and bad.json()["message"] == "note: expected a string or null"
        extra = http.post("/api/v1/jobs/backup/ack", json={"nope": 1},
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert extra.status_code == 400
        done = http.post("/api/v1/jobs/backup/ack", json={"note": "looking"},
                         headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert done.status_code == 200, done.text
        body = done.json()
        assert (body["kind"], body["job"], body["incident"]) == ("ack", "backup", incident)
        assert (body["acknowledged_by"], body["note"]) == ("alice-laptop", "looking")
        history = http.get("/api/v1/jobs/backup/events",
                           headers={"Authorization": f"Bearer {reader}"})  # fmt: skip
        assert history.status_code == 200
        events = history.json()["events"]
        assert events[0] == body
        assert any(e["kind"] == "problem" and e["incident"] == incident for e in events)
    state = AlertStore(db).state("backup")
    assert state is not None and (state.acked_by, state.ack_note) == ("alice-laptop", "looking")


def test_refusals(api: httpx.Client, db: Database, monitor: Monitor) -> None:
    unknown = api.post("/api/v1/jobs/nosuch/ack")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    monitor.record_success("calm", utcnow() - timedelta(minutes=1), utcnow())
    calm = api.post("/api/v1/jobs/calm/ack", content=b"")
    assert calm.status_code == 409 and calm.json()["error"] == "conflict"
    assert "calm has no open incident to acknowledge" in calm.json()["message"]
    assert api.get("/api/v1/jobs/nosuch/events").status_code == 404
    assert api.get("/api/v1/jobs/calm/events").json() == {"events": []}
    assert api.get("/api/v1/jobs/calm/events?limit=0").status_code == 400
    assert db.query("SELECT COUNT(*) FROM events WHERE kind = 'ack'") == [(0,)]


def test_ack_posts_take_a_write_key_typed_into_the_form(
    server: LiveServer, db: Database, monitor: Monitor
) -> None:
    incident = failing_backup(db, monitor)
    writer = create_key(server.database_url, "write", "bob-phone")
    reader = create_key(server.database_url, "read")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        page = http.get("/jobs/backup")
        assert page.status_code == 200
        assert f"Incident <code>{incident}</code>" in page.text
        # No form for a viewer who cannot act (reading is open here): how to sign in instead.
        assert 'action="/ack"' not in page.text and 'action="/act"' not in page.text
        assert "sign in with a write key</a> to do it here" in page.text
        form = {"name": "backup", "note": "on it <b>now</b>"}
        other_site = http.post("/ack", data={**form, "key": writer},
                               headers={"Origin": "https://evil.example"})  # fmt: skip
        assert other_site.status_code == 403
        read_only = http.post("/ack", data={**form, "key": reader})
        assert read_only.status_code == 403 and "cannot change anything" in read_only.text
        no_key = http.post("/ack", data=form)
        assert no_key.status_code == 401
        assert AlertStore(db).state("backup").acked is None  # type: ignore[union-attr]
        done = http.post("/ack", data={**form, "key": writer})
        assert done.status_code == 303 and done.headers["location"] == "/jobs/backup"
        page = http.get("/jobs/backup")
        assert "Acknowledged by <strong>bob-phone</strong>" in page.text
        assert "on it &lt;b&gt;now&lt;/b&gt;" in page.text  # escaped
        assert 'action="/ack"' not in page.text
        again = http.post("/ack", data={"name": "nosuch", "key": writer})
        assert again.status_code == 404
