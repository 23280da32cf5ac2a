"""Silences: paused jobs, maintenance windows and snoozes send nothing; what is still wrong when
they end is announced once, and what went away never is. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

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
    ran,
    run_until,
    timeline,
    write_config,
)
from tests.support.receivers import HttpReceiver

EVERY_5 = 'schedule = "*/5 * * * *"\ngrace = "1m"\n'
HOOKED = EVERY_5 + 'alerts = ["hook"]\n'


def test_a_paused_job_sends_nothing(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(
        tmp_path, f"[jobs.idle]\n{HOOKED}paused = true\n" + channels_toml(http_receiver)
    )
    ran(monitor, "idle", timedelta(0), ok=False)  # failed, then never ran again
    summaries = run_until(db, config, T0 + MINUTE, T0 + 5 * 60 * MINUTE, step=5 * MINUTE)
    assert kinds(summaries) == []
    assert http_receiver.texts() == []
    assert db.query("SELECT COUNT(*) FROM deliveries") == [(0,)]


def test_recovery_during_a_pause_is_sent_when_the_pause_ends(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    active = f"[jobs.sync]\n{HOOKED}" + channels_toml(http_receiver)
    paused = active.replace('alerts = ["hook"]\n', 'alerts = ["hook"]\npaused = true\n')
    running, on_hold = write_config(tmp_path, active), None
    ran(monitor, "sync", timedelta(0))
    summaries = timeline(db, running, range(1, 10), monitor=monitor)  # missing at 10:06
    on_hold = write_config(tmp_path, paused)
    runs = every(5, "sync", 15, 60)  # back at 10:15, while paused
    summaries += timeline(db, on_hold, range(10, 30), runs, monitor)
    running = write_config(tmp_path, active)
    summaries += timeline(db, running, range(30, 40), runs, monitor)
    assert kinds(summaries) == [(6, "problem", "sync"), (30, "recovery", "sync")]
    assert len(http_receiver.texts()) == 2


def test_a_job_resumed_from_a_pause_gets_one_slot_to_report(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    paused = "[jobs.back]\n[jobs.gone]\n".replace("]\n", f"]\n{EVERY_5}paused = true\n")
    active = paused.replace("paused = true\n", "")
    ran(monitor, "back", timedelta(0))
    ran(monitor, "gone", timedelta(0))
    summaries = timeline(db, write_config(tmp_path, paused), range(1, 60), monitor=monitor)
    # Unpaused at 11:00: both look missing (no run for an hour), but only "gone" stays so
    # after its first slot (11:05 + 1m grace); "back" runs at 11:05.
    summaries += timeline(
        db, write_config(tmp_path, active), range(60, 75), every(5, "back", 65, 75), monitor
    )
    assert kinds(summaries) == [(66, "problem", "gone")]
    held = [e for e in AlertStore(db).events("gone") if not e.hostname and e.note]
    assert held[-1].note is not None and held[-1].note.startswith(
        "not notified before 2026-11-28 11:06 UTC: the job was resumed from a pause"
    )


def test_maintenance_window_silences_and_one_slot_after_it_decides(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(
        tmp_path,
        f"[jobs.comes-back]\n{HOOKED}[jobs.stays-down]\n{HOOKED}[jobs.control]\n{HOOKED}"
        '[[maintenance]]\njobs = ["comes-back", "stays-down"]\n'
        "start = 2026-11-28T10:03:00Z\nend = 2026-11-28T10:20:00Z\n" + channels_toml(http_receiver),
    )
    runs = merge(
        {0: [("comes-back", True), ("stays-down", True), ("control", True)]},
        every(5, "comes-back", 25, 60),  # back at the first slot after the window
    )
    summaries = timeline(db, config, range(0, 40), runs, monitor)
    assert kinds(summaries) == [
        (6, "problem", "control"),  # no window: announced at once
        (26, "problem", "stays-down"),  # window over at 10:20, and 10:25 + grace passed
    ]
    notes = [e.note for e in AlertStore(db).events("comes-back") if not e.hostname]
    assert any(
        n and n.startswith("not notified: in maintenance until 2026-11-28 10:20") for n in notes
    )
    assert len(http_receiver.texts()) == 2


@pytest.mark.parametrize(
    ("web", "window"),
    [
        (EVERY_5, 'schedule = "0 * * * *"'),
        # The same, as systemd calendars: the job's schedule and the window's.
        ('on_calendar = "*:0/5"\n', 'on_calendar = "hourly"'),
    ],
)
def test_recurring_maintenance_by_tag(
    tmp_path: Path, db: Database, monitor: Monitor, web: str, window: str
) -> None:
    config = write_config(
        tmp_path,
        f'[jobs.dump]\n{EVERY_5}tags = ["db"]\n[jobs.web]\n{web}'
        f'[[maintenance]]\ntags = ["db"]\n{window}\nduration = "10m"\n',
    )
    runs = merge(
        {0: [("dump", True), ("web", True)]},
        {5: [("dump", False), ("web", False)]},  # both fail inside 10:00-10:10
        {10: [("dump", True), ("web", True)]},
        every(5, "dump", 15, 60),
        every(5, "web", 15, 60),
    )
    summaries = timeline(db, config, range(0, 30), runs, monitor)
    assert kinds(summaries) == [(5, "problem", "web"), (10, "recovery", "web")]
    # dump's failure fell in the window and was fixed by the next run: never announced.
    assert [e.note for e in AlertStore(db).events("dump") if not e.hostname][-1] == (
        "not notified: in maintenance until 2026-11-28 10:10 UTC (maintenance[0])"
    )


def test_snooze_silences_until_its_end_then_announces_what_is_still_wrong(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(
        tmp_path,
        f"[jobs.cli-snoozed]\n{HOOKED}[jobs.config-snoozed]\n{HOOKED}"
        "snooze_until = 2026-11-28T10:40:00Z\n" + channels_toml(http_receiver),
    )
    ran(monitor, "cli-snoozed", timedelta(0))
    ran(monitor, "config-snoozed", timedelta(0))
    AlertStore(db).snooze("cli-snoozed", T0 + 30 * MINUTE, T0)
    summaries = timeline(db, config, range(1, 50), monitor=monitor)
    assert kinds(summaries) == [(30, "problem", "cli-snoozed"), (40, "problem", "config-snoozed")]
    note = next(e.note for e in AlertStore(db).events("cli-snoozed") if e.note and not e.hostname)
    assert note == "not notified: snoozed until 2026-11-28 10:30 UTC"


def test_unsnooze_lifts_the_silence(tmp_path: Path, db: Database, monitor: Monitor) -> None:
    config = write_config(tmp_path, f"[jobs.a]\n{EVERY_5}")
    store = AlertStore(db)
    store.snooze("a", T0 + 24 * 60 * MINUTE, T0)
    ran(monitor, "a", timedelta(0), ok=False)
    assert kinds(run_until(db, config, T0 + MINUTE, T0 + 3 * MINUTE)) == []
    store.snooze("a", None, T0 + 4 * MINUTE)
    assert kinds(run_until(db, config, T0 + 4 * MINUTE, T0 + 6 * MINUTE)) == [(4, "problem", "a")]
