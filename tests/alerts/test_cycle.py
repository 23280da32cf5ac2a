"""The alert cycle end to end, on SQLite and PostgreSQL, with a real SMTP server and a real
HTTP receiver: one message per channel when a job goes wrong, one when it recovers, nothing in
between except at the repeat interval."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cronwatch.alerts.deliver import RetryPolicy
from cronwatch.alerts.model import JobState
from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from tests.support.alerting import (
    MINUTE,
    T0,
    channels_toml,
    every,
    kinds,
    merge,
    notifications,
    ran,
    run_until,
    timeline,
    write_config,
)
from tests.support.receivers import HttpReceiver, SmtpReceiver

JOB = '[jobs.backup]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalerts = ["hook", "mail"]\n'


def test_missing_then_recovered_one_message_each_on_every_channel(
    tmp_path: Path,
    db: Database,
    monitor: Monitor,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
) -> None:
    config = write_config(tmp_path, JOB + channels_toml(http_receiver, smtp_receiver))
    ran(monitor, "backup", timedelta(0))
    # 10:05's run never comes: missing once 10:05 + 1m grace is past.
    summaries = run_until(db, config, T0 + MINUTE, T0 + 20 * MINUTE)
    assert [(at - T0, kind) for at, kind, _ in notifications(summaries)] == [
        (6 * MINUTE, "problem")
    ]
    expected = "backup is MISSING: backup didn't run since 10:05 UTC (last run 10:00 UTC on db1)"
    assert http_receiver.texts() == [expected]
    assert smtp_receiver.subjects() == [expected]
    body = http_receiver.bodies[0]
    assert (body["kind"], body["job"], body["status"], body["previous_status"]) == (
        "problem",
        "backup",
        "missing",
        "late",  # late at 10:05, inside its grace
    )
    assert body["channel"] == "hook" and body["event_id"] is not None
    assert smtp_receiver.envelopes == [("cronwatch@example.com", ["ops@example.com"])]

    # Back at 10:20, then on time every 5 minutes (cycles 45 s into each minute).
    summaries = []
    for minute in range(20, 41):
        if minute % 5 == 0:
            ran(monitor, "backup", minute * MINUTE)
        at = T0 + minute * MINUTE + timedelta(seconds=45)
        summaries += run_until(db, config, at, at)
    assert [(at - T0, kind) for at, kind, _ in notifications(summaries)] == [
        (20 * MINUTE + timedelta(seconds=45), "recovery")
    ]
    recovered = (
        "backup recovered after 14m 45s MISSING: ran 45s ago on db1, took 30s; next due 10:25 UTC"
    )
    assert http_receiver.texts()[1:] == [recovered]
    assert smtp_receiver.subjects()[1:] == [recovered]
    assert len(http_receiver.bodies) == 2 and len(smtp_receiver.messages) == 2


def test_repeat_reminds_at_the_interval_and_never_in_between(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(
        tmp_path,
        '[jobs.backup]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalerts = ["hook"]\n'
        'repeat = "1h"\n' + channels_toml(http_receiver),
    )
    ran(monitor, "backup", timedelta(0))
    summaries = run_until(
        db, config, T0 + MINUTE, T0 + 3 * 60 * MINUTE + 10 * MINUTE, step=5 * MINUTE
    )
    assert kinds(summaries) == [
        (6, "problem", "backup"),
        (66, "reminder", "backup"),
        (126, "reminder", "backup"),
        (186, "reminder", "backup"),
    ]
    texts = http_receiver.texts()
    assert len(texts) == 4
    # The "since" is the first slot missed, the same in every reminder (issue 12: it moved).
    assert texts[1].startswith("backup is still MISSING (for 1h): backup didn't run since 10:05")
    assert texts[3].startswith("backup is still MISSING (for 3h): backup didn't run since 10:05")
    assert texts[3].startswith("backup is still MISSING (for 3h): ")


def test_no_repeat_by_default(tmp_path: Path, db: Database, monitor: Monitor) -> None:
    config = write_config(tmp_path, '[jobs.backup]\nschedule = "*/5 * * * *"\ngrace = "1m"\n')
    ran(monitor, "backup", timedelta(0))
    summaries = run_until(db, config, T0 + MINUTE, T0 + 24 * 60 * MINUTE, step=5 * MINUTE)
    assert kinds(summaries) == [(6, "problem", "backup")]


def test_alert_after_counts_failed_runs_and_missed_slots(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    config = write_config(
        tmp_path,
        '[jobs.sync]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalert_after = 3\n'
        '[jobs.feed]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalert_after = 2\n',
    )
    runs = merge(
        every(5, "sync", 0, 15, ok=False),  # fails at 10:00, 10:05, 10:10
        every(5, "sync", 15, 40),  # then fine
        {0: [("feed", True)]},  # feed runs once, then misses 10:05, 10:10, ...
    )
    summaries = timeline(db, config, range(0, 31), runs, monitor)
    assert kinds(summaries) == [
        (10, "problem", "sync"),  # the third failure in a row
        (11, "problem", "feed"),  # the second missed slot (10:10, past its grace at 10:11)
        (15, "recovery", "sync"),
    ]
    events = AlertStore(db).events("sync")
    first = events[-1]  # the first failure: recorded, not announced
    assert (first.kind, first.new_status, first.note) == (
        "change",
        "failing",
        "failure 1 of 3 before alerting",
    )
    problem = next(e for e in events if e.kind == "problem")
    assert problem.text == (
        "sync is FAILING: sync failed on db1 at 10:10 UTC (exit 1), 3 times in a row"
    )


def test_recover_after_needs_that_many_good_runs_in_a_row(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    config = write_config(
        tmp_path, '[jobs.sync]\nschedule = "*/5 * * * *"\ngrace = "1m"\nrecover_after = 2\n'
    )
    runs = merge(
        {0: [("sync", False)], 15: [("sync", True)], 20: [("sync", False)]},
        every(5, "sync", 25, 60),
    )
    summaries = timeline(db, config, range(0, 40), runs, monitor)
    # The failure at 10:20 is the same incident (not announced again); recovery needs the
    # two successes of 10:25 and 10:30.
    assert kinds(summaries) == [(0, "problem", "sync"), (30, "recovery", "sync")]
    notes = [e.note for e in AlertStore(db).events("sync") if e.note]
    assert "good run 1 of 2 before recovery" in notes


def test_warnings_alert_only_where_alert_on_names_them(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    config = write_config(
        tmp_path,
        '[jobs.report]\nschedule = "*/5 * * * *"\nmax_runtime = "1m"\n'
        '[jobs.strict]\nschedule = "*/5 * * * *"\nmax_runtime = "1m"\n'
        'alert_on = ["missing", "failing", "hung", "slow"]\n',
    )
    for name in ("report", "strict"):
        ran(monitor, name, timedelta(0), took=timedelta(minutes=3))
    summaries = run_until(db, config, T0 + 4 * MINUTE, T0 + 4 * MINUTE)
    assert kinds(summaries) == [(4, "problem", "strict")]
    assert summaries[0].notifications[0].text == (
        "strict is SLOW: strict took 3m on db1 (max_runtime 1m)"
    )
    report = AlertStore(db).events("report")
    assert [(e.hostname, e.kind, e.old_status, e.new_status) for e in report] == [
        ("db1", "change", "new", "slow"),  # its host's row
        ("", "change", "new", "slow"),  # the job's: recorded, not announced
    ]


def test_host_changes_are_history_and_only_the_job_is_announced(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(
        tmp_path,
        '[jobs.backup]\nschedule = "*/5 * * * *"\ngrace = "1m"\nhosts = ["db1", "db2"]\n'
        'alerts = ["hook"]\n' + channels_toml(http_receiver),
    )
    ran(monitor, "backup", timedelta(0), host="db1")
    ran(monitor, "backup", timedelta(0), host="db2")
    runs = {5: [("backup", True)], 10: [("backup", True)]}  # db1 only (ran() defaults to db1)
    summaries = timeline(db, config, range(1, 12), runs, monitor)
    assert kinds(summaries) == [(6, "problem", "backup")]
    assert http_receiver.texts() == [
        "backup is MISSING: backup didn't run on db2 since 10:05 UTC (last run 10:00 UTC)"
    ]
    db2 = [
        (e.kind, e.old_status, e.new_status)
        for e in reversed(AlertStore(db).events("backup"))
        if e.hostname == "db2"
    ]
    assert db2 == [("change", "ok", "late"), ("change", "late", "missing")]
    # Only the job's event has a delivery.
    rows = db.query(
        "SELECT e.hostname, d.channel FROM deliveries d JOIN events e ON e.id = d.event_id"
    )
    assert rows == [("", "hook")]


def test_a_second_problem_of_the_same_incident_is_not_announced(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    config = write_config(tmp_path, '[jobs.sync]\nschedule = "*/5 * * * *"\ngrace = "1m"\n')
    ran(monitor, "sync", timedelta(0))
    # Missing from 10:06; at 10:12 it runs and fails: missing -> failing, one incident.
    summaries = timeline(db, config, range(1, 16), {12: [("sync", False)]}, monitor)
    assert kinds(summaries) == [(6, "problem", "sync")]
    changes = [
        (e.kind, e.old_status, e.new_status)
        for e in AlertStore(db).events("sync")
        if not e.hostname
    ]
    assert changes[0] == ("change", "missing", "failing")
    assert AlertStore(db).alerting()[0].status == "failing"


def test_first_sight_of_quiet_jobs_writes_no_event(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    for index in range(5):
        ran(monitor, f"job-{index}", timedelta(0))
    ran(monitor, "broken", timedelta(0), ok=False)
    summaries = run_until(db, None, T0 + MINUTE, T0 + 3 * MINUTE)
    assert summaries[0].jobs == 6
    assert [(e.name, e.hostname, e.kind, e.new_status) for e in summaries[0].events] == [
        ("broken", "", "problem", "failing"),
        ("broken", "db1", "change", "failing"),
    ]
    assert [len(s.events) for s in summaries[1:]] == [0, 0]
    assert db.query("SELECT COUNT(*) FROM job_states WHERE hostname = ''") == [(6,)]


def test_jobs_that_name_no_channel_use_the_default_channels(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    # "seen" was never declared: it exists because it ran, and still reaches [alerts].channels.
    config = write_config(
        tmp_path, '[alerts]\nchannels = ["hook"]\n' + channels_toml(http_receiver)
    )
    ran(monitor, "seen", timedelta(0), ok=False)
    run_until(db, config, T0 + MINUTE, T0 + MINUTE)
    assert http_receiver.texts() == ["seen is FAILING: seen failed on db1 at 10:00 UTC (exit 1)"]


def test_without_channels_the_problem_is_recorded_and_nothing_sent(
    db: Database, monitor: Monitor
) -> None:
    ran(monitor, "lonely", timedelta(0), ok=False)
    summaries = run_until(db, None, T0 + MINUTE, T0 + MINUTE)
    assert [e.kind for e in summaries[0].events if not e.hostname] == ["problem"]
    assert db.query("SELECT COUNT(*) FROM deliveries") == [(0,)]
    assert AlertStore(db).alerting()[0].name == "lonely"


def test_old_events_are_pruned_unless_still_to_be_delivered(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(
        tmp_path,
        '[jobs.sent]\nalerts = ["hook"]\n[jobs.stuck]\nalerts = ["down"]\n'
        + channels_toml(http_receiver)
        + '[channels.down]\ntype = "command"\ncommand = "exit 1"\n',
    )
    ran(monitor, "sent", timedelta(0), ok=False)
    ran(monitor, "stuck", timedelta(0), ok=False)
    run_until(db, config, T0 + MINUTE, T0 + MINUTE)
    assert db.query("SELECT COUNT(*) FROM events WHERE hostname = ''") == [(2,)]
    later = T0 + timedelta(days=91)
    run_until(db, config, later, later, retry=RetryPolicy(give_up_after=timedelta(days=365)))
    # "sent"'s events and delivery are gone; "stuck" still has a delivery pending: kept.
    assert db.query("SELECT DISTINCT name FROM events") == [("stuck",)]
    assert db.query("SELECT name FROM deliveries") == [("stuck",)]


def test_no_channel_is_said_and_a_channel_added_later_hears_the_open_problem_once(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    # Issue 12: with no channel, history showed "backup is MISSING" as if it had been sent.
    job = '[jobs.backup]\nschedule = "*/5 * * * *"\ngrace = "1m"\n'
    (tmp_path / "none").mkdir()
    alone = write_config(tmp_path / "none", job)
    ran(monitor, "backup", timedelta(0))
    summaries = run_until(db, alone, T0 + MINUTE, T0 + 20 * MINUTE)
    assert kinds(summaries) == [(6, "problem", "backup")]
    (problem,) = AlertStore(db).events("backup", notifications_only=True)
    assert problem.note == "not sent: no channel"
    assert sum(s.delivery.sent for s in summaries) == 0

    # The channel is added (the config edited, serve restarted): the open problem is
    # announced on it once, as a reminder of the same incident; never again after that.
    routed = write_config(
        tmp_path, job + '[alerts]\nchannels = ["hook"]\n' + channels_toml(http_receiver)
    )
    summaries = run_until(db, routed, T0 + 21 * MINUTE, T0 + 40 * MINUTE)
    assert kinds(summaries) == [(21, "reminder", "backup")]
    assert http_receiver.texts() == [
        "backup is still MISSING (for 15m): backup didn't run since 10:05 UTC "
        "(last run 10:00 UTC on db1)"
    ]
    body = http_receiver.bodies[0]
    assert body["incident"] == problem.incident and body["kind"] == "reminder"
    (reminder, _) = AlertStore(db).events("backup", notifications_only=True)
    assert reminder.note == "announced on channel(s) added since: hook"

    # Its recovery goes to the channel too (and only once).
    ran(monitor, "backup", 45 * MINUTE)
    summaries = run_until(db, routed, T0 + 46 * MINUTE, T0 + 50 * MINUTE)
    assert kinds(summaries) == [(46, "recovery", "backup")]
    assert len(http_receiver.texts()) == 2


def test_a_deleted_job_that_comes_back_and_fails_is_announced_again(
    db: Database, monitor: Monitor
) -> None:
    """Deleting a job forgets its alerting state too: a job of the same name recorded later is
    a new job, and its failure a new problem. (The state was left behind: the new job took
    the old announced FAILING over, and its failure was announced to nobody.)"""
    from cronwatch.storage.jobs import JobStore

    ran(monitor, "lonely", timedelta(0), ok=False)
    first = run_until(db, None, T0 + MINUTE, T0 + MINUTE)
    assert [e.kind for e in first[0].events if not e.hostname] == ["problem"]
    JobStore(db).delete("lonely")
    assert db.query("SELECT COUNT(*) FROM job_states WHERE name = 'lonely'") == [(0,)]
    assert AlertStore(db).alerting() == [], "no incident is left open for a job that is gone"
    ran(monitor, "lonely", 10 * MINUTE, ok=False)
    again = run_until(db, None, T0 + 11 * MINUTE, T0 + 11 * MINUTE)
    assert [e.kind for e in again[0].events if not e.hostname] == ["problem"]
    assert [s.name for s in AlertStore(db).alerting()] == ["lonely"]


@pytest.mark.parametrize("full", [True, False], ids=["full", "incremental"])
def test_a_job_deleted_between_its_evaluation_and_its_first_state_leaves_none(
    db: Database,
    monitor: Monitor,
    full: bool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The cycle evaluates a new failing job, the job is deleted, then the cycle writes its
    first state: no state is written (a job recorded later under the name would take it over,
    its failure announced to nobody). Its decision is dropped as one another loop overtook,
    without an error; the other job's goes through. Recorded again, the job is a new job and
    its failure is announced."""
    from cronwatch.storage.jobs import JobStore

    ran(monitor, "brief", timedelta(0), ok=False)
    ran(monitor, "steady", timedelta(0), ok=False)
    insert = AlertStore.insert_states

    def deleted_first(store: AlertStore, states: Sequence[JobState], now: datetime) -> None:
        assert {s.name for s in states} == {"brief", "steady"}  # both evaluated already
        JobStore(store.db).delete("brief")
        insert(store, states, now)

    monkeypatch.setattr(AlertStore, "insert_states", deleted_first)
    with caplog.at_level(logging.WARNING):
        (summary,) = run_until(db, None, T0 + MINUTE, T0 + MINUTE, full=full)
    monkeypatch.undo()
    assert [(e.name, e.kind) for e in summary.events if not e.hostname] == [("steady", "problem")]
    assert db.query("SELECT COUNT(*) FROM job_states WHERE name = 'brief'") == [(0,)], (
        "the deleted job's state was written: a job recorded later would take it over"
    )
    assert [r.getMessage() for r in caplog.records] == []

    ran(monitor, "brief", 10 * MINUTE, ok=False)
    (again,) = run_until(db, None, T0 + 11 * MINUTE, T0 + 11 * MINUTE, full=full)
    assert [(e.name, e.kind) for e in again.events if not e.hostname] == [("brief", "problem")]
    assert [s.name for s in AlertStore(db).alerting()] == ["brief", "steady"]
