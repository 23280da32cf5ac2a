"""People's actions on jobs (:mod:`cronwatch.actions`), on both databases: each one done
through the library and recorded as an event with who and the note; a refused one changes
and records nothing; the snooze choices land on the viewer's wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronwatch.actions import JobActions, snooze_end
from cronwatch.alerts.ack import job_history
from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.config import load_config
from cronwatch.errors import Conflict, InvalidInput, NotFound
from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from cronwatch.timeutil import utcnow


def actions_count(db: Database) -> int:
    return int(db.query("SELECT COUNT(*) FROM events WHERE kind = 'action'")[0][0])


def test_each_action_is_done_and_recorded_with_who_and_why(db: Database, monitor: Monitor) -> None:
    now = utcnow()
    monitor.record_success("backup", now - timedelta(minutes=5), now, hostname="db1")
    actions = JobActions(db)
    paused = actions.pause("backup", "alice", "  disk swap  ")
    assert actions.jobs.get("backup")["paused"] is True
    assert (paused.kind, paused.reason, paused.actor, paused.note) == (
        "action", "pause", "alice", "disk swap")  # fmt: skip
    assert paused.text == "backup paused by alice: disk swap" and paused.id is not None
    until = now + timedelta(hours=4)
    actions.snooze("backup", until, "bob")
    assert AlertStore(db).state("backup").snooze_until == until  # type: ignore[union-attr]
    actions.unsnooze("backup", "bob")
    assert AlertStore(db).state("backup").snooze_until is None  # type: ignore[union-attr]
    edited = actions.edit("backup", {"schedule": "0 3 * * *", "tags": ["db"]}, "carol")
    assert edited.text == "backup edited (schedule, tags) by carol"
    actions.resume("backup", "alice")
    assert actions.jobs.get("backup")["spec"] == {"schedule": "0 3 * * *", "tags": ["db"]}
    verbs = [(e.reason, e.actor) for e in job_history(db, "backup")]
    assert verbs == [("resume", "alice"), ("edit", "carol"), ("unsnooze", "bob"),
                     ("snooze", "bob"), ("pause", "alice")]  # fmt: skip
    # Recorded, never sent: actions get no deliveries.
    assert db.query("SELECT COUNT(*) FROM deliveries") == [(0,)]
    actions.delete("backup", "alice", "retired")
    assert actions.jobs.jobs() == []
    # The deletion stays in the history, with the job gone.
    assert AlertStore(db).events("backup", limit=1)[0].text == (
        "backup deleted with its runs by alice: retired"
    )


def test_refused_actions_change_and_record_nothing(
    db: Database, monitor: Monitor, tmp_path: Path
) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text('[jobs.nightly]\nschedule = "0 3 * * *"\n')
    now = utcnow()
    monitor.record_success("backup", now - timedelta(minutes=5), now, hostname="db1")
    actions = JobActions(db, load_config(path))
    with pytest.raises(NotFound):
        actions.pause("ghost", "alice")
    with pytest.raises(Conflict, match="config file"):
        actions.pause("nightly", "alice")
    with pytest.raises(Conflict, match="config file"):
        actions.delete("nightly", "alice")
    with pytest.raises(InvalidInput, match="schedule"):
        actions.edit("backup", {"schedule": "61 * * * *"}, "alice")
    with pytest.raises(InvalidInput, match="future"):
        actions.snooze("backup", now - timedelta(seconds=1), "alice", now=now)
    with pytest.raises(InvalidInput, match="a year"):
        actions.snooze("backup", now + timedelta(days=400), "alice", now=now)
    with pytest.raises(InvalidInput, match="note"):
        actions.pause("backup", "alice", "x" * 1001)
    with pytest.raises(Conflict, match="no open incident"):
        actions.acknowledge("backup", "alice", "on it")
    assert actions_count(db) == 0
    assert actions.jobs.get("backup")["paused"] is False
    assert AlertStore(db).state("nightly") is None or not AlertStore(db).snoozed(now)
    # Snoozing and acknowledging a config-file job work: they are not its spec.
    actions.snooze("nightly", now + timedelta(hours=1), "alice", now=now)
    assert actions_count(db) == 1


def test_acknowledging_through_the_actions_is_the_ack_event(db: Database, monitor: Monitor) -> None:
    now = utcnow()
    monitor.record_failure("backup", now - timedelta(minutes=2), now - timedelta(minutes=1), 2,
                           hostname="db1")  # fmt: skip
    run_alert_cycle(db, None, now)
    event = JobActions(db).acknowledge("backup", "alice", "restoring")
    assert (event.kind, event.actor, event.note) == ("ack", "alice", "restoring")
    assert event.history_json()["by"] == "alice"


NOW = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)  # 22:30 on Dec 1 in New York


@pytest.mark.parametrize(
    ("choice", "zone", "local", "expected"),
    [
        ("1h", "UTC", "", datetime(2026, 12, 2, 4, 30, tzinfo=UTC)),
        ("4h", "Asia/Tokyo", "", datetime(2026, 12, 2, 7, 30, tzinfo=UTC)),
        # Tomorrow on the viewer's calendar: Dec 2 09:00 in New York, not Dec 3.
        ("tomorrow", "America/New_York", "", datetime(2026, 12, 2, 14, 0, tzinfo=UTC)),
        ("tomorrow", "UTC", "", datetime(2026, 12, 3, 9, 0, tzinfo=UTC)),
        ("tomorrow", "Asia/Tokyo", "", datetime(2026, 12, 3, 0, 0, tzinfo=UTC)),
        ("until", "Europe/Paris", "2026-12-05T18:15", datetime(2026, 12, 5, 17, 15, tzinfo=UTC)),
        ("until", "UTC", "2026-12-05T18:15", datetime(2026, 12, 5, 18, 15, tzinfo=UTC)),
    ],
)
def test_snooze_choices_land_on_the_viewers_clock(
    choice: str, zone: str, local: str, expected: datetime
) -> None:
    assert snooze_end(choice, NOW, zone, local) == expected


@pytest.mark.parametrize(
    ("choice", "zone", "local", "message"),
    [
        ("2h", "UTC", "", "choose one of"),
        ("tomorrow", "Mars/Olympus", "", "timezone"),
        ("until", "UTC", "next friday", "not a date"),
    ],
)
def test_bad_snooze_choices_are_refused(choice: str, zone: str, local: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        snooze_end(choice, NOW, zone, local)
