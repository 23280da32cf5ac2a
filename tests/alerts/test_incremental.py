"""Incremental alert cycles (only the jobs whose next deadline passed or that got runs) decide
exactly what full cycles (every job) decide.

The property test replays one random history on two databases of the same kind, with the same
clock: on one every cycle is full, on the other every cycle is incremental (except those that
find an outage of cronwatch, full by design). Jobs cover what the deadline must foresee: cron
and interval schedules, declared hosts and ``min_hosts``, a hung limit, ``alert_after``,
``recover_after``, reminders, a maintenance window, snoozes, an undeclared job whose schedule
is learned. The events each cycle writes must be the same, in the same order, and so must the
alerting states at the end. What must not happen: an incremental cycle deciding later (or
never) what a full cycle decides, or deciding something a full cycle does not.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.alerts.loop import AlertLoop
from cronwatch.alerts.model import Event
from cronwatch.health.service import job_statuses
from cronwatch.monitor import Monitor
from cronwatch.specs import Config
from cronwatch.storage import open_database
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from cronwatch.storage.runs import RunStore
from tests.support.alerting import MINUTE, T0, ran, write_config
from tests.support.databases import PostgresServer, empty_tables

CONFIG = """
[alerts]
repeat = "25m"
outage_after = "2h"

[jobs.cron5]
schedule = "*/5 * * * *"
grace = "2m"
max_runtime = "7m"

[jobs.every10]
schedule = "every 10m"
grace = "1m"
alert_after = 2
recover_after = 2
hosts = ["a", "b"]

[jobs.hourly]
schedule = "0 * * * *"
grace = "10m"
hosts = ["a", "b"]
min_hosts = 1

[jobs.paused]
schedule = "*/5 * * * *"
paused = true

[[maintenance]]
jobs = ["cron5"]
start = 2026-11-28T10:50:00Z
end = 2026-11-28T11:10:00Z
"""

JOBS = ["cron5", "every10", "hourly", "paused", "auto"]


@dataclass(frozen=True)
class Finished:
    job: str
    host: str
    ok: bool
    started_ago: int  # seconds before the step's clock
    took: int


@dataclass(frozen=True)
class Started:
    job: str
    host: str
    started_ago: int


@dataclass(frozen=True)
class Snooze:
    job: str
    minutes: int  # 0: lift the snooze


@dataclass(frozen=True)
class Step:
    gap: int  # seconds since the previous cycle
    actions: tuple[Finished | Started | Snooze, ...]


jobs = st.sampled_from(JOBS)
hosts = st.sampled_from(["a", "b"])
actions = st.one_of(
    st.builds(
        Finished,
        jobs,
        hosts,
        st.booleans(),
        st.integers(0, 900),
        st.integers(0, 600),
    ),
    st.builds(Started, jobs, hosts, st.integers(0, 900)),
    st.builds(Snooze, jobs, st.sampled_from([0, 5, 30])),
)
steps = st.lists(
    st.builds(
        Step,
        # mostly a cycle's interval or a few minutes; sometimes long, now and then an outage
        # of cronwatch (over outage_after)
        st.one_of(
            st.integers(1, 300),
            st.integers(300, 3000),
            st.integers(3000, 9000),
        ),
        st.lists(actions, max_size=3).map(tuple),
    ),
    min_size=1,
    max_size=40,
)


def apply(
    db: Database, monitor: Monitor, action: Finished | Started | Snooze, now: datetime
) -> None:
    if isinstance(action, Finished):
        started = now - timedelta(seconds=action.started_ago)
        completed = min(now, started + timedelta(seconds=action.took))
        ran(
            monitor,
            action.job,
            started - T0,
            ok=action.ok,
            host=action.host,
            took=completed - started,
        )
    elif isinstance(action, Started):
        monitor.start(
            action.job, action.host, date_started=now - timedelta(seconds=action.started_ago)
        )
    else:
        until = now + action.minutes * MINUTE if action.minutes else None
        AlertStore(db).snooze(action.job, until, now)


def seen(event: Event) -> tuple[Any, ...]:
    return (
        event.name,
        event.hostname,
        event.kind,
        event.old_status,
        event.new_status,
        event.text,
        event.note,
        event.at,
        event.incident,
    )


def states(db: Database) -> list[tuple[Any, ...]]:
    return [
        (s.name, s.hostname, s.status, s.alerting, s.notified, s.incident, s.recovering_since)
        for s in sorted(AlertStore(db).states().values(), key=lambda s: (s.name, s.hostname))
    ]


@pytest.fixture
def two_urls(dialect: str, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Two migrated databases of the kind under test (emptied by each example)."""
    if dialect == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield [f"sqlite:///{os.path.join(directory, n)}.db" for n in ("full", "incremental")]
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    urls = [server.create_database(), server.create_database()]
    for url in urls:
        open_database(url).close()
    yield urls


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=steps)
def test_incremental_cycles_decide_what_full_cycles_decide(
    two_urls: list[str], tmp_path: Path, history: list[Step]
) -> None:
    config = write_config(tmp_path, CONFIG)
    for url in two_urls:
        if url.startswith("postgresql"):
            empty_tables(url)
        else:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    with (
        open_database(two_urls[0]) as full_db,
        open_database(two_urls[1]) as inc_db,
    ):
        full_monitor, inc_monitor = Monitor(RunStore(full_db)), Monitor(RunStore(inc_db))
        now = T0
        # Both start with a full cycle, as a loop does.
        assert _cycle(full_db, config, now, True) == _cycle(inc_db, config, now, True)
        evaluated = 0
        for index, step in enumerate(history):
            now += timedelta(seconds=step.gap)
            for action in step.actions:
                apply(full_db, full_monitor, action, now)
                apply(inc_db, inc_monitor, action, now)
            full = run_alert_cycle(full_db, config, now, worker="w", full=True)
            incremental = run_alert_cycle(inc_db, config, now, worker="w", full=False)
            assert [seen(e) for e in incremental.events] == [seen(e) for e in full.events], (
                f"step {index} at {now}: the incremental cycle decided otherwise"
            )
            evaluated += incremental.jobs
            # What /metrics reads of a settled job: the next expected run stored with its
            # deadline is still the one a full evaluation finds now (a paused job's moves on).
            truth = {
                s.name: None if s.next_expected is None else _us(s.next_expected)
                for s in job_statuses(inc_db, config, now=now, learn=False)
            }
            for name, due in AlertStore(inc_db).due_jobs(None).items():
                if name != "paused" and (due.deadline is None or due.deadline > _us(now)):
                    assert due.expected == truth[name], f"step {index}: {name}"
        assert states(inc_db) == states(full_db)
        assert evaluated <= len(JOBS) * len(history)


def _cycle(db: Database, config: Config, now: datetime, full: bool) -> list[tuple[Any, ...]]:
    return [seen(e) for e in run_alert_cycle(db, config, now, worker="w", full=full).events]


def test_a_steady_incremental_cycle_evaluates_only_what_is_due(
    tmp_path: Path, db: Database, monitor: Monitor
) -> None:
    """Nothing due: nothing evaluated. A run makes its job due; a passed deadline too. Not:
    every job every cycle."""
    config = write_config(
        tmp_path,
        '[alerts]\noutage_after = "2h"\n'
        + "".join(f'[jobs.j{n}]\nschedule = "0 * * * *"\ngrace = "5m"\n' for n in range(20)),
    )
    for n in range(20):
        ran(monitor, f"j{n}", timedelta(0))
    first = run_alert_cycle(db, config, T0 + MINUTE, worker="w", full=True)
    assert first.jobs == 20 and first.full
    steady = run_alert_cycle(db, config, T0 + 2 * MINUTE, worker="w", full=False)
    assert steady.jobs == 0 and not steady.full, "nothing changed: nothing evaluated"
    ran(monitor, "j3", 2 * MINUTE)
    after_run = run_alert_cycle(db, config, T0 + 3 * MINUTE, worker="w", full=False)
    assert after_run.jobs == 1, "the run made only its job due"
    # 10:00 + grace: the latest slot past its grace moves then (an early look, finding nothing)
    assert AlertStore(db).deadline("j3") == _us(T0 + 5 * MINUTE)
    assert run_alert_cycle(db, config, T0 + 5 * MINUTE, worker="w", full=False).events == []
    at_slot = run_alert_cycle(db, config, T0 + 60 * MINUTE, worker="w", full=False)
    assert at_slot.jobs == 20, "the next slot is every job's deadline"
    missing = run_alert_cycle(db, config, T0 + 65 * MINUTE, worker="w", full=False)
    announced = [e for e in missing.events if not e.hostname]  # host rows: changes, recorded
    assert missing.jobs == 20 and {e.kind for e in announced} == {"problem"}
    assert len(announced) == 20, "each job announced missing, once"


def test_a_loop_is_full_first_then_incremental(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, '[jobs.a]\nschedule = "0 3 * * *"\n')
    loop = AlertLoop(database_url, config, interval=timedelta(seconds=1))
    try:
        first, second = loop.run_once(), loop.run_once()
    finally:
        loop._close()
    assert first is not None and first.full and first.jobs == 1
    assert second is not None and not second.full and second.jobs == 0


def _us(t: datetime) -> int:
    from cronwatch.timeutil import to_us

    return to_us(t)


TWO_CONFIGS = """
[alerts]
outage_after = "2h"

[jobs.backup]
schedule = "0 * * * *"
grace = "{grace}"
"""


def test_loops_with_other_configs_evaluate_every_job_and_say_so(
    tmp_path: Path,
    database_url: str,
    db: Database,
    monitor: Monitor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two loops on one database whose configs differ in a job's grace (2 minutes and 30):
    the deadline the 30-minute loop writes (slot + 30 m) must not keep the 2-minute loop from
    finding the job missing at slot + 2 m. What must not happen: the 2-minute loop trusting
    the other's deadline and announcing nothing until 10:30; a warning nobody sees."""
    for directory in ("a", "b"):
        (tmp_path / directory).mkdir()
    config_a = write_config(tmp_path / "a", TWO_CONFIGS.format(grace="2m"))
    config_b = write_config(tmp_path / "b", TWO_CONFIGS.format(grace="30m"))
    ran(monitor, "backup", -60 * MINUTE)  # 09:00, on time; the next slot is 10:00
    a = AlertLoop(database_url, config_a, name="alerts@a")
    b = AlertLoop(database_url, config_b, name="alerts@b")
    seconds = timedelta(seconds=1)
    try:
        first = a.run_once(T0 - 10 * seconds)  # alone: full (a first cycle), deadline 10:00
        assert first is not None and first.differing == {}
        caplog.clear()
        # B's first cycle finds the job late for its 30 minutes and writes 10:30.
        joined = b.run_once(T0 + 5 * seconds)
        assert joined is not None and joined.differing == {"alerts@a": ("jobs",)}
        assert AlertStore(db).deadline("backup") == _us(T0 + 30 * MINUTE)
        assert "alerts@a (declared jobs ([jobs.*]))" in caplog.text
        # A's next cycle, the first since B joined, must look at the job: B's deadline is
        # not A's (a full cycle), and it is missing for A.
        missing = a.run_once(T0 + 2 * MINUTE + 30 * seconds)
        assert missing is not None and missing.full
        assert missing.differing == {"alerts@b": ("jobs",)}
        assert [(e.kind, e.new_status) for e in missing.events if not e.hostname] == [
            ("problem", "missing")
        ], "the 2-minute loop found the job missing at its own deadline"
        assert "alert loop alerts@a: other alert loops on this database have another config" in (
            caplog.text
        )
        assert "alerts@b (declared jobs ([jobs.*]))" in caplog.text
        again = b.run_once(T0 + 2 * MINUTE + 35 * seconds)
        assert again is not None and again.full
        # B stops. A keeps evaluating every job while B's beat is younger than outage_after,
        # then once more, then only the jobs due.
        caplog.clear()
        cycles = {}
        now = T0 + 2 * MINUTE + 30 * seconds
        while now < T0 + timedelta(hours=2, minutes=25):
            now += 10 * MINUTE
            summary = a.run_once(now)
            assert summary is not None
            cycles[now] = (summary.full, bool(summary.differing))
        gone = T0 + 2 * MINUTE + 35 * seconds + timedelta(hours=2)  # B's beat too old
        assert all(full and differing for t, (full, differing) in cycles.items() if t <= gone)
        after = [(full, differing) for t, (full, differing) in cycles.items() if t > gone]
        assert after[:2] == [(True, False), (False, False)]
        assert "every alert loop on this database has the same config again" in caplog.text
    finally:
        a._close()
        b._close()
