"""Several alert loops on one database, each with its own connection, racing on purpose: every
status change is recorded once and every notification delivered exactly once; incremental
loops share the due jobs (claims with a lease) instead of each evaluating them. On PostgreSQL
(where replicas really share one database) and on SQLite; with full cycles and with incremental
ones (which look only at the jobs due: the same conditional flips decide each change once),
and with both at once (full cycles racing with claims)."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cronwatch.alerts.cycle import LEASE_INTERVALS, CycleSummary, build_channels, run_alert_cycle
from cronwatch.alerts.deliver import deliver_due
from cronwatch.monitor import Monitor
from cronwatch.specs import Config
from cronwatch.storage import open_database
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from tests.support.alerting import MINUTE, T0, channels_toml, ran, write_config
from tests.support.receivers import HttpReceiver

JOBS = 16
MINUTES = 30
LOOPS = 3


def fails(job: int, minute: int) -> bool:
    """A fixed pattern with many flips: runs of failures and successes of varying length."""
    return (job * 7 + minute * 3) % 5 < 2 if job % 2 else (job + minute) % 4 == 0


def in_lockstep(
    url: str, work: Callable[[Database, int], None], steps: int, between: Callable[[int], None]
) -> list[BaseException]:
    """``LOOPS`` threads, each with its own connection, run ``work(db, step)`` together at each
    step (released at once by a barrier, so that they race); ``between(step)`` runs first."""
    start, done = threading.Barrier(LOOPS + 1), threading.Barrier(LOOPS + 1)
    errors: list[BaseException] = []

    def loop() -> None:
        with open_database(url) as db:
            for step in range(steps):
                start.wait()
                try:
                    work(db, step)
                except BaseException as exc:
                    errors.append(exc)
                done.wait()

    threads = [threading.Thread(target=loop, name=f"loop-{n}") for n in range(LOOPS)]
    for thread in threads:
        thread.start()
    for step in range(steps):
        between(step)
        start.wait()
        done.wait()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize("mode", ["full", "incremental", "mixed"])
def test_loops_racing_record_each_change_once_and_deliver_each_event_once(
    mode: str,
    tmp_path: Path,
    database_url: str,
    db: Database,
    monitor: Monitor,
    http_receiver: HttpReceiver,
) -> None:
    jobs = "".join(
        f'[jobs.job-{j}]\nschedule = "* * * * *"\ngrace = "30s"\nalerts = ["hook"]\n'
        for j in range(JOBS)
    )
    config = write_config(tmp_path, jobs + channels_toml(http_receiver))

    def record(minute: int) -> None:
        for j in range(JOBS):
            ran(monitor, f"job-{j}", minute * MINUTE, ok=not fails(j, minute))

    def cycle(loop_db: Database, minute: int) -> None:
        worker = f"alerts@{threading.current_thread().name}"
        run_alert_cycle(
            loop_db,
            config,
            T0 + minute * MINUTE + timedelta(seconds=45),
            worker=worker,
            channels=build_channels(config),
            # incremental: each loop's first cycle is full, then only the jobs due (claimed);
            # mixed: loop-0's cycles are all full, racing with the others' claims
            full=mode == "full" or minute == 0 or (mode == "mixed" and worker.endswith("-0")),
        )

    assert in_lockstep(database_url, cycle, MINUTES, record) == []

    # What must have been announced: every ok -> failing and failing -> ok of each job.
    expected = 0
    for j in range(JOBS):
        statuses = [fails(j, m) for m in range(MINUTES)]
        expected += statuses[0] + sum(a != b for a, b in itertools.pairwise(statuses))
    assert expected > 100  # the pattern flips a lot
    announced = db.query(
        "SELECT id FROM events WHERE hostname = '' AND kind IN ('problem', 'recovery')"
    )
    assert len(announced) == expected
    duplicates = db.query(
        "SELECT name, hostname, at_us FROM events GROUP BY name, hostname, at_us"
        " HAVING COUNT(*) > 1"
    )
    assert duplicates == []
    received = Counter(body["event_id"] for body in http_receiver.bodies)
    assert set(received.values()) == {1}
    assert set(received) == {int(row[0]) for row in announced}
    assert db.query("SELECT DISTINCT status FROM deliveries") == [("sent",)]


def test_loops_draining_one_queue_send_each_delivery_once(
    tmp_path: Path,
    database_url: str,
    db: Database,
    monitor: Monitor,
    http_receiver: HttpReceiver,
) -> None:
    jobs = "".join(f'[jobs.job-{j}]\nalerts = ["hook"]\n' for j in range(60))
    config = write_config(tmp_path, jobs + channels_toml(http_receiver))
    for j in range(60):
        ran(monitor, f"job-{j}", timedelta(0), ok=False)
    http_receiver.stop()  # the queue fills up
    run_alert_cycle(db, config, T0 + MINUTE)
    assert db.query("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'") == [(60,)]
    http_receiver.start()
    channels = build_channels(config)

    def drain(loop_db: Database, step: int) -> None:
        deliver_due(loop_db, channels, T0 + 10 * MINUTE, batch=5)

    assert in_lockstep(database_url, drain, 1, lambda step: None) == []
    received = Counter(body["event_id"] for body in http_receiver.bodies)
    assert len(received) == 60 and set(received.values()) == {1}
    assert db.query("SELECT status, COUNT(*) FROM deliveries GROUP BY status") == [("sent", 60)]


SHARED = 40


def _hourly_jobs(tmp_path: Path, monitor: Monitor, db: Database) -> Config:
    """``SHARED`` hourly jobs (grace 5 min) that ran at 10:00, settled by a full cycle: all
    of them are due (missing) at 11:05."""
    jobs = "".join(
        f'[jobs.job-{j:02d}]\nschedule = "0 * * * *"\ngrace = "5m"\n' for j in range(SHARED)
    )
    config = write_config(tmp_path, '[alerts]\noutage_after = "2h"\n' + jobs)
    for j in range(SHARED):
        ran(monitor, f"job-{j:02d}", timedelta(0))
    assert run_alert_cycle(db, config, T0 + MINUTE, worker="first").jobs == SHARED
    return config


def _problems(db: Database) -> list[tuple[Any, ...]]:
    """(name, count) of the job rows' problem events."""
    return db.query(
        "SELECT name, COUNT(*) FROM events WHERE hostname = '' AND kind = 'problem'"
        " GROUP BY name ORDER BY name"
    )


def test_loops_in_step_share_the_due_jobs_instead_of_each_evaluating_them(
    tmp_path: Path, database_url: str, db: Database, monitor: Monitor
) -> None:
    """``LOOPS`` loops cycling together at 11:05, when every job is due: the jobs are evaluated
    about once in all (claimed in batches of 5), not once by each loop, and each job's
    problem is recorded once. Not: ``LOOPS`` x ``SHARED`` evaluations."""
    config = _hourly_jobs(tmp_path, monitor, db)
    summaries: list[CycleSummary] = []

    def cycle(loop_db: Database, step: int) -> None:
        worker = f"alerts@{threading.current_thread().name}"
        at = T0 + (65 + step) * MINUTE
        summaries.append(run_alert_cycle(loop_db, config, at, worker=worker, full=False, batch=5))

    assert in_lockstep(database_url, cycle, 2, lambda step: None) == []
    assert not any(s.full for s in summaries)
    at_1105 = [s.jobs for s in summaries if s.at == T0 + 65 * MINUTE]
    assert len(at_1105) == LOOPS and sum(at_1105) == SHARED, at_1105
    assert [s.jobs for s in summaries if s.at == T0 + 66 * MINUTE] == [0] * LOOPS
    assert _problems(db) == [(f"job-{j:02d}", 1) for j in range(SHARED)]


def test_a_dead_loops_claimed_jobs_are_evaluated_by_another_when_its_lease_ends(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    """A loop claims every due job at 11:05 and dies before evaluating them. Another loop
    leaves them alone until the lease ends (3 intervals), then evaluates each once: every
    problem recorded once, none missed, none twice. A run recorded meanwhile makes its job
    due at once, claimed or not."""
    config = _hourly_jobs(tmp_path, monitor, db)
    at = T0 + 65 * MINUTE
    lease = LEASE_INTERVALS * config.alerts.interval
    store = AlertStore(db)
    assert len(store.claim_due(at, at + lease, 1000)) == SHARED  # and the claimer dies
    ran(monitor, "job-03", 62 * MINUTE)  # recorded after the claim

    during = run_alert_cycle(db, config, at, worker="alive", full=False)
    assert during.jobs == 1, "only the job whose run was recorded after the claim"
    assert _problems(db) == []
    before_end = run_alert_cycle(db, config, at + lease - MINUTE / 2, worker="alive", full=False)
    assert before_end.jobs == 0
    at_end = run_alert_cycle(db, config, at + lease, worker="alive", full=False)
    assert at_end.jobs == SHARED - 1
    after = run_alert_cycle(db, config, at + lease + MINUTE / 2, worker="alive", full=False)
    assert after.jobs == 0 and after.events == []
    assert _problems(db) == [(f"job-{j:02d}", 1) for j in range(SHARED) if j != 3]
    assert store.due_jobs(at + lease + MINUTE) == {}
