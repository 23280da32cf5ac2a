"""The per-host job summaries that the health checks read, kept by triggers on every write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cronwatch.health.model import HostSummary
from cronwatch.monitor import Monitor, make_run
from cronwatch.storage import open_database
from cronwatch.storage.jobs import JobStore
from cronwatch.storage.migrate import upgrade_schema
from cronwatch.storage.runs import RunStore
from cronwatch.storage.url import parse_database_url
from cronwatch.timeutil import to_us

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def summary(monitor: Monitor, name: str, host: str) -> HostSummary:
    (facts,) = JobStore(monitor.store.db).facts(names=[name])
    (row,) = [h for h in facts.hosts if h.hostname == host]
    return row


def test_first_run_creates_the_job_and_its_host_summary(monitor: Monitor) -> None:
    monitor.record_success("backup", T0, T0 + minutes(2), "db1")
    (facts,) = JobStore(monitor.store.db).facts()
    assert facts.spec.name == "backup" and facts.spec.schedule is None
    assert facts.created == T0
    (host,) = facts.hosts
    assert (host.hostname, host.runs_total, host.failures_total) == ("db1", 1, 0)
    assert (host.last_started, host.last_completed, host.last_outcome) == (
        T0,
        T0 + minutes(2),
        "success",
    )
    assert host.last_duration == minutes(2)
    assert (host.last_success_started, host.last_success_completed) == (T0, T0 + minutes(2))
    assert host.prev_started is None


def test_start_then_finish(monitor: Monitor) -> None:
    run = monitor.start("backup", "db1", date_started=T0)
    started = summary(monitor, "backup", "db1")
    assert (started.last_started, started.runs_total, started.last_outcome) == (T0, 0, None)
    (facts,) = JobStore(monitor.store.db).facts()
    assert [r.run_id for r in facts.running] == [run.run_id]
    monitor.finish(run, exit_code=3, date_completed=T0 + minutes(1))
    done = summary(monitor, "backup", "db1")
    assert (done.runs_total, done.failures_total, done.last_outcome, done.last_exit_code) == (
        1,
        1,
        "failure",
        3,
    )
    assert JobStore(monitor.store.db).facts()[0].running == ()


def test_consecutive_failures_count_and_reset(monitor: Monitor) -> None:
    for i in range(3):
        monitor.record_failure("job", T0 + minutes(10 * i), T0 + minutes(10 * i + 1), 1, "h")
    assert summary(monitor, "job", "h").consecutive_failures == 3
    monitor.record_success("job", T0 + minutes(40), T0 + minutes(41), "h")
    row = summary(monitor, "job", "h")
    assert (row.consecutive_failures, row.runs_total, row.failures_total) == (0, 4, 3)


def test_latest_news_is_by_completion_and_old_news_does_not_overwrite(monitor: Monitor) -> None:
    monitor.record_success("job", T0 + minutes(10), T0 + minutes(11), "h")
    # An older run whose record arrives later (a spool replay): counted, but not "latest".
    monitor.record_failure("job", T0, T0 + minutes(5), 2, "h")
    row = summary(monitor, "job", "h")
    assert (row.last_outcome, row.last_completed, row.consecutive_failures) == (
        "success",
        T0 + minutes(11),
        0,
    )
    assert (row.runs_total, row.failures_total) == (2, 1)
    assert row.last_started == T0 + minutes(10) and row.prev_started == T0
    assert row.last_success_started == T0 + minutes(10)


def test_prev_started_follows_the_two_latest_starts(monitor: Monitor) -> None:
    for offset in (0, 30, 10, 20):  # out of order
        monitor.record_success("job", T0 + minutes(offset), T0 + minutes(offset + 1), "h")
    row = summary(monitor, "job", "h")
    assert (row.last_started, row.prev_started) == (T0 + minutes(30), T0 + minutes(20))


def test_a_replayed_record_is_not_counted_twice(monitor: Monitor) -> None:
    run = make_run("job", T0, T0 + minutes(1), outcome="success", hostname="h")
    monitor.record(run)
    monitor.record(run)
    assert summary(monitor, "job", "h").runs_total == 1


def test_hosts_are_kept_apart(monitor: Monitor) -> None:
    monitor.record_success("job", T0, T0 + minutes(1), "db1")
    monitor.record_failure("job", T0, T0 + minutes(1), 1, "db2")
    assert summary(monitor, "job", "db1").last_outcome == "success"
    assert summary(monitor, "job", "db2").last_outcome == "failure"


def test_facts_take_the_same_number_of_queries_for_any_number_of_jobs(monitor: Monitor) -> None:
    db = monitor.store.db
    counts = []
    for jobs in (3, 40):
        for j in range(jobs):
            monitor.record_success(f"job-{jobs}-{j}", T0, T0 + minutes(1), f"h{j % 3}")
        monitor.start(f"job-{jobs}-0", "h0")
        calls = 0
        original = db.query

        def counting(*args: Any, _query: Any = original, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return _query(*args, **kwargs)

        db.query = counting  # type: ignore[method-assign]
        try:
            facts = JobStore(db).facts()
        finally:
            db.query = original  # type: ignore[method-assign]
        assert len(facts) >= jobs
        counts.append(calls)
    assert counts[0] == counts[1] == 4


def test_baselines_are_learned_from_recent_runs(monitor: Monitor) -> None:
    store = JobStore(monitor.store.db)
    for i in range(12):
        start = T0 + timedelta(hours=i)
        monitor.record_success("hourly", start, start + timedelta(seconds=100 + i % 3), "h")
    assert store.stale_baselines() == ["hourly"]
    assert store.refresh_baselines(T0) == 1
    assert store.stale_baselines() == []
    (facts,) = store.facts()
    assert facts.baseline is not None
    assert facts.baseline.interval == timedelta(hours=1)
    assert facts.baseline.runtime is not None
    assert facts.baseline.runtime.median == pytest.approx(101.0)
    assert facts.baseline.runtime.low < 100 < 102 < facts.baseline.runtime.high
    monitor.record_success(
        "hourly", T0 + timedelta(hours=13), T0 + timedelta(hours=13, seconds=99), "h"
    )
    assert store.stale_baselines() == ["hourly"], "a young baseline is relearned after each run"


@pytest.mark.parametrize("paired", ["by run id", "latest running"])
def test_a_finish_stamped_before_its_start_ends_the_run_at_its_start(
    monitor: Monitor, paired: str
) -> None:
    """Two servers stamp a start and its finish with their own clocks: the finish can be
    stamped before the start (found by bench_fleet --live: a stored run of -3 ms, and every
    alert cycle failed learning this job's baseline). The run ends at its start, having taken
    no time; no negative runtime is stored or learned, and the cycle does not fail."""
    store = JobStore(monitor.store.db)
    for i in range(12):
        start = T0 + timedelta(hours=i)
        monitor.record_success("hourly", start, start + timedelta(seconds=100), "h")
    started = T0 + timedelta(hours=12)
    monitor.record(make_run("hourly", started, None, outcome="running", hostname="h", run_id="r"))
    ended = started - timedelta(milliseconds=3)  # the other server's clock, 3 ms behind
    run_id = "r" if paired == "by run id" else None
    finish = make_run("hourly", ended, ended, outcome="success", hostname="h", run_id=run_id)
    db = monitor.store.db
    with db.transaction() as cur:
        RunStore(db).write(cur, [(finish, run_id is None)])
    rows = monitor.store.db.query(
        "SELECT outcome, started_us, completed_us, duration_us FROM runs WHERE run_id = 'r'"
    )
    assert rows == [("success", to_us(started), to_us(started), 0)], "not -3 ms, not 2 runs"
    (summary,) = monitor.store.db.query(
        "SELECT last_duration_us FROM job_hosts WHERE name = 'hourly' AND hostname = 'h'"
    )
    assert summary == (0,)
    assert store.refresh_baselines(started) == 1
    (facts,) = store.facts()
    assert facts.baseline is not None and facts.baseline.runtime is not None
    assert facts.baseline.runtime.median == pytest.approx(100.0)


def test_declared_jobs_are_synced_once(monitor: Monitor) -> None:
    from cronwatch.storage.jobs import auto_spec

    store = JobStore(monitor.store.db)
    spec = auto_spec("declared")
    assert store.sync_declared([spec], T0) == 1
    assert store.sync_declared([spec], T0 + minutes(5)) == 0
    (facts,) = store.facts({"declared": spec})
    assert facts.created == T0 and facts.hosts == ()


def test_upgrade_from_0001_backfills_summaries(fresh_database_url: str) -> None:
    upgrade_schema(parse_database_url(fresh_database_url), "0001")
    from cronwatch.storage.connection import Database

    rows = [
        ("job", "h", "r1", "success", 0, 0, 60, 60),
        ("job", "h", "r2", "failure", 2, 600, 660, 60),
        ("job", "h", "r3", "running", None, 1200, None, None),
        ("job", "h2", "r4", "success", 0, 100, 130, 30),
    ]
    with Database(parse_database_url(fresh_database_url)) as db:
        for name, host, rid, outcome, code, s, c, d in rows:
            base = int(T0.timestamp()) * 1_000_000
            db.execute(
                "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
                " completed_us, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    host,
                    rid,
                    outcome,
                    code,
                    base + s * 1_000_000,
                    None if c is None else base + c * 1_000_000,
                    None if d is None else d * 1_000_000,
                ),
            )
    with open_database(fresh_database_url) as db:  # upgrades to head
        (facts,) = JobStore(db).facts()
    hosts = {h.hostname: h for h in facts.hosts}
    h = hosts["h"]
    assert (h.runs_total, h.failures_total, h.last_outcome, h.last_exit_code) == (
        2,
        1,
        "failure",
        2,
    )
    assert h.last_started == T0 + minutes(20) and h.prev_started == T0 + minutes(10)
    assert h.last_success_completed == T0 + minutes(1)
    assert hosts["h2"].last_duration == timedelta(seconds=30)
    assert facts.created == T0
    assert [r.run_id for r in facts.running] == ["r3"]


def test_every_job_gets_a_uuid_from_the_database_however_it_is_inserted(
    monitor: Monitor,
) -> None:
    """By its first run (the summary triggers), by the API, from the config file, and by a
    plain insert without one (an old export imported): each gets its own version 4 UUID."""
    from cronwatch.names import UUID_PATTERN
    from cronwatch.storage.jobs import auto_spec

    db = monitor.store.db
    store = JobStore(db)
    monitor.record(make_run("by-run", T0, T0 + minutes(1), outcome="success", hostname="h"))
    store.create("by-api", "{}", T0)
    store.sync_declared([auto_spec("by-config")], T0)
    db.execute(
        "INSERT INTO jobs (name, source, created_us, updated_us, uuid) VALUES (?, ?, 0, 0, NULL)",
        ("by-insert", "run"),
    )
    uuids = {record.name: record.uuid for record in store.records()}
    assert set(uuids) == {"by-run", "by-api", "by-config", "by-insert"}
    assert len(set(uuids.values())) == 4, "no two jobs share a UUID"
    for value in uuids.values():
        assert value is not None and UUID_PATTERN.fullmatch(value)
        assert value[14] == "4" and value[19] in "89ab"
    by_api = str(uuids["by-api"])
    unknown = "00000000-0000-4000-8000-000000000000"
    assert store.names_by_uuid([by_api, unknown]) == {by_api: "by-api"}
    # by-config is a job while the config in force declares it (it never ran).
    declared = {"by-config": auto_spec("by-config")}
    facts = {f.spec.name: f.uuid for f in store.facts(declared)}
    assert facts == uuids
    assert "by-config" not in {f.spec.name for f in store.facts()}


def test_set_uuid_replaces_it_and_refuses_another_jobs(monitor: Monitor) -> None:
    from cronwatch.errors import InvalidInput

    store = JobStore(monitor.store.db)
    store.create("a", "{}", T0)
    store.create("b", "{}", T0)
    wanted = "0a1b2c3d-0000-4000-8000-00000000000a"
    assert store.set_uuid("a", wanted, T0)
    record = store.by_uuid(wanted)
    assert record is not None and record.name == "a"
    with pytest.raises(InvalidInput, match="belongs to job 'a'"):
        store.set_uuid("b", wanted, T0)
    assert store.record("b") is not None and store.record("b").uuid != wanted  # type: ignore[union-attr]
    assert not store.set_uuid("nosuch", "0a1b2c3d-0000-4000-8000-00000000000b", T0)


def test_a_stored_spec_that_no_longer_validates_fails_no_view(monitor: Monitor) -> None:
    """A job declared through the API before a rule tightened (a tag "a,b", since refused)
    still reads, its tags split as /metrics showed them; one that cannot be read at all reads
    as undeclared. Neither raises out of facts() (that failed `cronwatch status` whole)."""
    import json

    store = JobStore(monitor.store.db)
    store.create("legacy", json.dumps({"schedule": "every 1h", "tags": ["a,b", "db", "a"]}), T0)
    store.create("broken", json.dumps({"schedule": "every banana"}), T0)
    facts = {f.spec.name: f.spec for f in store.facts()}
    assert facts["legacy"].tags == ("a", "b", "db")
    assert facts["legacy"].schedule is not None  # the rest of its spec is kept
    assert facts["broken"].schedule is None  # undeclared: nothing expected of it
