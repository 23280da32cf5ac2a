"""The alert loop in real time: it beats, it alerts, it survives a database that is away, it
stops when asked; and the health hooks that /healthz and /metrics read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cronwatch.alerts.cycle import CycleSummary, run_alert_cycle
from cronwatch.alerts.health import alerting_health, last_heartbeat
from cronwatch.alerts.loop import AlertLoop
from cronwatch.monitor import Monitor
from cronwatch.storage.connection import Database
from cronwatch.timeutil import utcnow
from tests.support.alerting import MINUTE, T0, channels_toml, ran, write_config
from tests.support.proxy import TcpProxy
from tests.support.receivers import HttpReceiver

FAST = timedelta(seconds=0.1)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_loops_in_threads_beat_and_alert_once(
    tmp_path: Path,
    database_url: str,
    db: Database,
    monitor: Monitor,
    http_receiver: HttpReceiver,
) -> None:
    config = write_config(
        tmp_path, '[jobs.sync]\nalerts = ["hook"]\n' + channels_toml(http_receiver)
    )
    now = utcnow()
    monitor.record_failure("sync", now - timedelta(minutes=2), now - MINUTE, 2, hostname="web1")
    assert last_heartbeat(db) is None
    before = utcnow()
    loops = [
        AlertLoop(database_url, config, interval=FAST, name=f"alerts@test-{i}") for i in range(2)
    ]
    for loop in loops:
        loop.start()
    try:
        assert wait_for(lambda: all(loop.cycles >= 3 for loop in loops))
        assert wait_for(lambda: len(http_receiver.bodies) >= 1)
        # Three more cycles of each loop after the alert arrived: nothing more may arrive.
        targets = [loop.cycles + 3 for loop in loops]
        assert wait_for(lambda: all(lp.cycles >= t for lp, t in zip(loops, targets, strict=True)))
    finally:
        for loop in loops:
            loop.stop()
    assert not any(loop.running for loop in loops)
    assert http_receiver.texts() == [
        f"sync is FAILING: sync failed on web1 at {(now - MINUTE):%H:%M} UTC (exit 2)"
    ]
    beat = last_heartbeat(db)
    assert beat is not None and before <= beat <= utcnow(), "a heartbeat of these loops"
    health = alerting_health(db)
    assert health.alive and {w.name for w in health.workers} == {"alerts@test-0", "alerts@test-1"}
    assert health.to_json()["alerting_jobs"] == 1
    assert health.to_json()["deliveries"] == {"pending": 0, "retrying": 0, "failed": 0}


def test_the_loop_survives_a_database_that_is_away(tmp_path: Path) -> None:
    # A SQLite file in a directory that does not exist: every cycle fails to connect.
    loop = AlertLoop(f"sqlite:///{tmp_path}/missing/dir/x.db", None, interval=FAST)
    loop.start()
    try:
        assert wait_for(lambda: loop.last_error is not None)
        time.sleep(0.3)
        assert loop.running  # still trying
    finally:
        loop.stop()
    assert loop.cycles == 0
    assert loop.last_error is not None and "does not exist" in loop.last_error
    assert not loop.running


def test_a_silent_database_fails_the_cycle_at_the_loops_own_deadline(
    proxied: tuple[str, TcpProxy],
) -> None:
    """PostgreSQL gone silent (packets dropped, nothing reset) in the middle of the loop's
    life: the cycle fails as an outage at the loop's deadline and the next one, once the
    database answers, works. What must not happen: the loop hanging for ever (no alerts, and
    no error said), as it did with no deadline; a default deadline an hourly prune could trip."""
    url, proxy = proxied
    assert AlertLoop(url, None).database_timeout == 300  # the README's figure
    loop = AlertLoop(url, None, database_timeout=1)
    try:
        assert loop.run_once() is not None
        proxy.pause()
        outcome: list[CycleSummary | None] = []
        cycle = threading.Thread(target=lambda: outcome.append(loop.run_once()), daemon=True)
        cycle.start()
        cycle.join(60)  # the deadline (1 s) and a reconnect's (5 s), far less than that
        assert not cycle.is_alive(), "the cycle hung on a silent database"
        assert outcome == [None]
        assert loop.last_error is not None and "unavailable" in loop.last_error
        proxy.resume()
        assert loop.run_once() is not None, "back by itself"
        assert loop.cycles == 2
    finally:
        proxy.resume()
        loop._close()


def test_run_once_reports_each_cycle(database_url: str) -> None:
    seen: list[CycleSummary] = []
    loop = AlertLoop(database_url, None, interval=FAST, on_cycle=seen.append)
    summary = loop.run_once()
    assert summary is not None and seen == [summary] and loop.cycles == 1
    loop.stop()


def test_health_counts_the_queue_and_sees_a_stale_heartbeat(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(
        tmp_path,
        '[jobs.a]\nalerts = ["hook"]\n[jobs.b]\nalerts = ["hook"]\n' + channels_toml(http_receiver),
    )
    ran(monitor, "a", timedelta(0), ok=False)
    ran(monitor, "b", timedelta(0), ok=False)
    http_receiver.stop()
    run_alert_cycle(db, config, T0 + MINUTE)
    health = alerting_health(db, T0 + MINUTE)
    assert (health.pending, health.retrying, health.failed) == (2, 1, 0)  # one tried, one released
    assert health.alive and health.heartbeat_age == timedelta(0)
    later = alerting_health(db, T0 + 30 * MINUTE)
    assert not later.alive and later.to_json()["age_seconds"] == 29 * 60.0
    assert later.to_json()["alive"] is False


def test_metrics_collector_reads_the_alerting_state(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from cronwatch.alerts.metrics import AlertsCollector

    def scrape(at: datetime) -> list[str]:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(AlertsCollector(db, clock=lambda: at))
        text = generate_latest(registry).decode()
        return [line for line in text.splitlines() if not line.startswith("#")]

    assert scrape(T0) == [
        "cronwatch_alert_loop_up 0.0",
        "cronwatch_alert_loops 0.0",
        'cronwatch_alert_deliveries{state="pending"} 0.0',
        'cronwatch_alert_deliveries{state="retrying"} 0.0',
        'cronwatch_alert_deliveries{state="failed"} 0.0',
        "cronwatch_alert_jobs_down 0.0",
    ]
    config = write_config(tmp_path, '[jobs.a]\nalerts = ["hook"]\n' + channels_toml(http_receiver))
    ran(monitor, "a", timedelta(0), ok=False)
    http_receiver.stop()
    run_alert_cycle(db, config, T0 + MINUTE)
    lines = scrape(T0 + 2 * MINUTE)
    assert "cronwatch_alert_loop_up 1.0" in lines
    beat = next(line for line in lines if line.startswith("cronwatch_alert_loop_last_heartbeat"))
    assert float(beat.split()[1]) == (T0 + MINUTE).timestamp()
    assert 'cronwatch_alert_deliveries{state="retrying"} 1.0' in lines
    assert "cronwatch_alert_jobs_down 1.0" in lines
    assert "cronwatch_alert_loop_up 0.0" in scrape(T0 + 60 * MINUTE)
