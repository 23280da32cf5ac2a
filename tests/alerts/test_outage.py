"""Guarding itself: after cronwatch was down, the runs it could not see do not turn into a burst
of false alarms; what is really broken is still announced, once. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.monitor import Monitor
from cronwatch.storage import open_database
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
    timeline,
    write_config,
)
from tests.support.receivers import HttpReceiver

JOBS = 12
DEAD = {"job-3", "job-7"}  # these two really stopped during the outage


def config_text(http: HttpReceiver) -> str:
    jobs = "".join(
        f'[jobs.job-{i}]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalerts = ["hook"]\n'
        for i in range(JOBS)
    )
    return jobs + channels_toml(http)


def test_no_burst_after_an_outage_and_real_problems_still_announced_once(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, config_text(http_receiver))
    names = [f"job-{i}" for i in range(JOBS)]
    before = merge(*(every(5, name, 0, 30) for name in names))
    summaries = timeline(db, config, range(0, 30), before, monitor)
    assert kinds(summaries) == []
    # cronwatch is down from 10:30 to 12:00: nobody records the runs of 10:30 ... 11:55 (a
    # cronwatch server that is down loses pings; spools deliver them only at the next run).
    after = merge(*(every(5, name, 125, 180) for name in names if name not in DEAD))
    summaries = timeline(db, config, range(120, 180), after, monitor)
    assert summaries[0].outage is not None
    assert summaries[0].outage.started == T0 + 29 * MINUTE + 45 * MINUTE / 60
    # Without the guard every job would have been announced MISSING at 12:00. With it, only
    # the two that missed their first slot after the outage (12:05 + 1m grace), once each.
    assert kinds(summaries) == [(126, "problem", "job-3"), (126, "problem", "job-7")]
    assert len(http_receiver.texts()) == 2
    held = [e for e in AlertStore(db).events("job-1") if not e.hostname]
    assert [(e.kind, e.new_status) for e in held] == [("change", "ok"), ("change", "missing")]
    assert held[1].note is not None and held[1].note.startswith(
        "not notified before 2026-11-28 12:06 UTC: cronwatch itself was not watching from "
        "2026-11-28 10:29 UTC to 2026-11-28 12:00 UTC"
    )


def test_a_problem_announced_before_the_outage_is_not_announced_again(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, config_text(http_receiver))
    runs = {0: [(f"job-{i}", True) for i in range(JOBS)]}  # then all stop
    summaries = timeline(db, config, range(0, 10), runs, monitor)
    assert len(kinds(summaries)) == JOBS  # all missing at 10:06
    summaries = timeline(db, config, range(120, 140), monitor=monitor)
    assert summaries[0].outage is not None
    assert kinds(summaries) == []  # still down, already announced: nothing new


def test_the_first_cycle_ever_is_not_an_outage(db: Database) -> None:
    first = run_alert_cycle(db, None, T0)
    assert first.outage is None
    assert run_alert_cycle(db, None, T0 + 9 * MINUTE).outage is None  # under outage_after (10m)
    gap = run_alert_cycle(db, None, T0 + 30 * MINUTE)
    assert gap.outage is not None and gap.outage.started == T0 + 9 * MINUTE
    assert AlertStore(db).outages() == [gap.outage]


def test_loops_starting_together_after_an_outage_record_it_once(database_url: str) -> None:
    """Two alert loops (two threads, each with its own connection) released together at the
    end of each of three outages: each outage is recorded once, never twice, and never lost."""
    with open_database(database_url) as db:
        run_alert_cycle(db, None, T0, worker="alerts@a")
    barrier = threading.Barrier(2)
    seen: dict[str, list[bool]] = {"alerts@a": [], "alerts@b": []}
    errors: list[BaseException] = []

    def loop(worker: str) -> None:
        try:
            with open_database(database_url) as own:
                for hour in (1, 2, 3):
                    barrier.wait(30)
                    summary = run_alert_cycle(own, None, T0 + hour * 60 * MINUTE, worker=worker)
                    seen[worker].append(summary.outage is not None)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=loop, args=(name,)) for name in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    with open_database(database_url) as db:
        outages = AlertStore(db).outages()
    assert sorted(outage.started for outage in outages) == [
        T0 + hour * 60 * MINUTE for hour in (0, 1, 2)
    ], "one outage per gap, keyed by the heartbeat before it"
    assert all(a or b for a, b in zip(seen["alerts@a"], seen["alerts@b"], strict=True))


def test_another_loop_running_means_no_outage(db: Database) -> None:
    # Loop a stops at 10:00; loop b has been running all along: nobody stopped watching.
    run_alert_cycle(db, None, T0, worker="alerts@a")
    for minute in range(1, 60):
        assert run_alert_cycle(db, None, T0 + minute * MINUTE, worker="alerts@b").outage is None
    assert run_alert_cycle(db, None, T0 + 60 * MINUTE, worker="alerts@a").outage is None


def test_a_long_cycle_is_not_taken_for_an_outage(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    # A slow channel makes the cycle at 10:00 last over LONG_CYCLE (1s); the next comes more than
    # outage_after (10m) after the first one's start, but less than that after its end (half
    # of its measured length later): no bound on how long it took, only the order of events.
    config = write_config(
        tmp_path,
        '[jobs.a]\nalerts = ["slow"]\n[channels.slow]\ntype = "command"\ncommand = "sleep 1.2"\n',
    )
    ran(monitor, "a", -MINUTE, ok=False)
    first = run_alert_cycle(db, config, T0)
    assert first.delivery.sent == 1  # the command ran to its end within the cycle
    next_cycle = T0 + 10 * MINUTE + timedelta(seconds=first.seconds / 2)
    assert run_alert_cycle(db, config, next_cycle).outage is None
