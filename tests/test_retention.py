"""Retention: old runs go, each job's latest runs and every status stay the same."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronwatch import retention as retention_module
from cronwatch.alerts.loop import AlertLoop
from cronwatch.cli.main import cli
from cronwatch.errors import ConfigError, InvalidInput
from cronwatch.monitor import Monitor
from cronwatch.specs import Retention
from cronwatch.storage.alerts.workers import WorkerStore
from cronwatch.storage.connection import Database, open_database
from cronwatch.timeutil import from_us, to_us
from tests.support.alerting import write_config
from tests.support.databases import empty_tables

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def daily(
    monitor: Monitor, name: str, days: range, *, host: str = "h1", base: datetime = NOW
) -> None:
    """One run ``k`` days before ``base`` for each k of ``days``, a failure every seventh."""
    for k in days:
        started = base - k * DAY
        if k % 7 == 3:
            monitor.record_failure(name, started, started + timedelta(minutes=1), 1, host)
        else:
            monitor.record_success(name, started, started + timedelta(minutes=1), host)


def runs_of(monitor: Monitor, name: str) -> list[datetime]:
    rows = monitor.store.db.query(
        "SELECT started_us FROM runs WHERE name = ? ORDER BY started_us", (name,)
    )
    return [from_us(row[0]) for row in rows]


def summaries(monitor: Monitor) -> list[tuple[object, ...]]:
    return monitor.store.db.query("SELECT * FROM job_hosts ORDER BY name, hostname")


def test_old_runs_go_each_jobs_latest_stay_and_statuses_do_not_change(monitor: Monitor) -> None:
    daily(monitor, "daily", range(200))  # 200 days of history
    daily(monitor, "monthly", range(0, 300, 30))  # 10 runs over 270 days
    daily(monitor, "young", range(5))
    before = (summaries(monitor), monitor.status(now=NOW), monitor.last_activity("daily"))
    history = monitor.history("daily", limit=50)

    report = monitor.prune(timedelta(days=90), now=NOW)

    assert (report.runs, report.jobs_examined, report.dry_run) == (109, 2, False)
    assert report.cutoff == NOW - 90 * DAY
    assert runs_of(monitor, "daily") == [NOW - k * DAY for k in range(90, -1, -1)]
    assert len(runs_of(monitor, "monthly")) == 10, "fewer than keep_last: all kept, however old"
    assert len(runs_of(monitor, "young")) == 5
    after = (summaries(monitor), monitor.status(now=NOW), monitor.last_activity("daily"))
    assert after == before, "summaries, statuses and the last activity are what they were"
    assert monitor.history("daily", limit=50) == history


def test_each_jobs_latest_runs_are_kept_whatever_their_age(monitor: Monitor) -> None:
    daily(monitor, "old", range(100, 180))  # 80 runs, all older than the cutoff
    daily(monitor, "old", range(100, 110), host="h2")
    report = monitor.prune(timedelta(days=30), keep_last=20, now=NOW)
    kept = runs_of(monitor, "old")
    assert report.runs == 90 - 20 and len(kept) == 20
    assert kept[-1] == NOW - 100 * DAY and min(kept) == NOW - 109 * DAY, "the newest 20 stay"


def test_a_dry_run_counts_what_a_prune_deletes_and_deletes_nothing(monitor: Monitor) -> None:
    daily(monitor, "daily", range(120))
    dry = monitor.prune(timedelta(days=60), keep_last=10, dry_run=True, now=NOW)
    assert dry.dry_run and dry.runs == 59
    assert len(runs_of(monitor, "daily")) == 120, "a dry run deletes nothing"
    assert monitor.prune(timedelta(days=60), keep_last=10, now=NOW).runs == dry.runs


def test_deletes_go_in_batches_and_report_progress(
    monitor: Monitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention_module, "BATCH", 7)  # many statements per job
    for name in ("a", "b", "c"):
        daily(monitor, name, range(40))
    calls: list[tuple[int, int, int]] = []
    report = monitor.prune(
        timedelta(days=10), keep_last=1, now=NOW, progress=lambda *c: calls.append(c)
    )
    assert report.runs == 3 * 29
    assert calls == [(1, 3, 29), (2, 3, 58), (3, 3, 87)]
    assert [len(runs_of(monitor, n)) for n in ("a", "b", "c")] == [11, 11, 11]


def test_a_run_left_running_long_ago_is_pruned_a_current_one_kept(monitor: Monitor) -> None:
    daily(monitor, "job", range(1, 60))
    monitor.start("job", "h1", date_started=NOW - 50 * DAY)  # its process died long ago
    current = monitor.start("job", "h1", date_started=NOW - timedelta(minutes=5))
    monitor.prune(timedelta(days=30), keep_last=5, now=NOW)
    running = monitor.store.db.query("SELECT run_id FROM runs WHERE outcome = 'running'")
    assert running == [(current.run_id,)]


def test_bad_settings_are_refused_and_nothing_is_deleted(monitor: Monitor) -> None:
    daily(monitor, "job", range(100))
    with pytest.raises(InvalidInput, match="at least 1 day"):
        monitor.prune(timedelta(seconds=30), now=NOW)
    with pytest.raises(InvalidInput, match="keep_last must be at least 1"):
        monitor.prune(timedelta(days=30), keep_last=0, now=NOW)
    with pytest.raises(InvalidInput, match="older_than must be a timedelta"):
        monitor.prune("30d", now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="naive"):
        monitor.prune(timedelta(days=30), now=datetime(2026, 11, 28))
    assert len(runs_of(monitor, "job")) == 100


def test_the_retention_table_of_the_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[retention]\nruns = "30d"\nkeep_last = 10\nevents = "7d"\n')
    assert config.retention == Retention(runs=30 * DAY, keep_last=10, events=7 * DAY)
    assert write_config(tmp_path, '[retention]\nruns = "0"\n').retention.runs is None
    # The README's defaults, written out (not Retention(): the code under test's own defaults).
    assert write_config(tmp_path, "").retention == Retention(
        runs=90 * DAY, keep_last=50, events=90 * DAY
    )
    for text, message in [
        ('runs = "12h"', 'retention.runs: must be at least 1 day, not 12h ("0" keeps every run)'),
        ("runs = 30", "retention.runs: must be at least 1 day, not 30s"),
        ('events = "1h"', "retention.events: must be at least 1 day"),
        ("keep_last = 0", "retention.keep_last: must be at least 1, not 0"),
        ('keep_last = "5"', "retention.keep_last: expected a whole number"),
        ('run = "30d"', "retention: unknown field"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            write_config(tmp_path, f"[retention]\n{text}\n")


def test_the_prune_command(database_url: str, monitor: Monitor, tmp_path: Path) -> None:
    # the command prunes as of now: half a day of margin from every cutoff
    daily(monitor, "daily", range(100), base=datetime.now(UTC) - DAY / 2)
    runner = CliRunner()
    base = ["--database-url", database_url]

    refused = runner.invoke(cli, [*base, "prune", "--older-than", "1h"])
    assert refused.exit_code == 2
    assert "at least 1 day" in refused.output and len(runs_of(monitor, "daily")) == 100

    dry = runner.invoke(cli, [*base, "prune", "--older-than", "60d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("would delete ") and len(runs_of(monitor, "daily")) == 100

    path = tmp_path / "cronwatch.toml"
    path.write_text('[retention]\nruns = "60d"\nkeep_last = 5\n', encoding="utf-8")
    done = runner.invoke(cli, [*base, "--config", str(path), "prune"])
    assert done.exit_code == 0, done.output
    assert "deleted " in done.output and "keeping each job's latest 5" in done.output
    assert len(runs_of(monitor, "daily")) == 60, "the config's retention was used"


def test_the_alert_loop_prunes_by_the_configured_retention(
    database_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    daily(monitor, "job", range(80), base=datetime.now(UTC) - DAY / 2)
    config = write_config(tmp_path, '[retention]\nruns = "30d"\nkeep_last = 3\n')
    loop = AlertLoop(database_url, config)
    try:
        assert loop.run_once() is not None
        assert loop.last_prune is not None and loop.last_prune.runs == 50
        assert len(runs_of(monitor, "job")) == 30
        loop.run_once()
        assert loop.last_prune.runs == 50, "pruned once an hour, not every cycle"
    finally:
        loop.stop()


def test_a_monitor_recording_through_a_server_cannot_prune() -> None:
    from cronwatch.errors import CronwatchError
    from cronwatch.remote import connect

    with (
        connect("http://127.0.0.1:9", key="cwp_x") as remote,
        pytest.raises(CronwatchError, match="not available over HTTP"),
    ):
        remote.prune(timedelta(days=30))


# -- what a prune deletes: the per-job rule, on random histories ------------------------------

# (job, host, days before NOW): whole days, so that runs of a job often start at the same
# instant (a tie at the keep_last-th latest run keeps every run of that instant).
history = st.lists(
    st.tuples(st.sampled_from("abcde"), st.sampled_from(["h1", "h2"]), st.integers(0, 40)),
    max_size=60,
)


def per_job_rule(runs: list[tuple[int, str, int]], cutoff_us: int, keep_last: int) -> set[int]:
    """The ids of ``runs`` (id, job, start) that retention deletes, job by job, as the README
    says: started before the cutoff and not one of the job's latest ``keep_last``."""
    deleted: set[int] = set()
    for job in {name for _, name, _ in runs}:
        starts = sorted((start for _, name, start in runs if name == job), reverse=True)
        if len(starts) < keep_last:
            continue
        kept_from = starts[keep_last - 1]
        deleted |= {i for i, name, s in runs if name == job and s < cutoff_us and s < kept_from}
    return deleted


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    runs=history,
    older_than=st.integers(1, 45),
    keep_last=st.integers(1, 6),
    batch=st.integers(1, 8),
)
def test_a_prune_deletes_exactly_what_the_per_job_rule_deletes(
    dialect: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    runs: list[tuple[str, str, int]],
    older_than: int,
    keep_last: int,
    batch: int,
) -> None:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('prune') / 'cronwatch.db'}"
    else:
        url = str(request.getfixturevalue("_postgres_shared_url"))
        empty_tables(url)
    monkeypatch.setattr(retention_module, "BATCH", batch)
    retention = Retention(runs=older_than * DAY, keep_last=keep_last)
    with open_database(url) as db:
        with db.transaction() as cur:
            for n, (job, host, days) in enumerate(runs):
                started = to_us(NOW - days * DAY)
                cur.execute(
                    db.sql(
                        "INSERT INTO runs (name, hostname, run_id, outcome, exit_code,"
                        " started_us, completed_us, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (job, host, f"r{n}", "success", 0, started, started + 1, 1),
                )
        stored = [
            (int(i), n, int(s)) for i, n, s in db.query("SELECT id, name, started_us FROM runs")
        ]
        expected = per_job_rule(stored, to_us(NOW - older_than * DAY), keep_last)
        examined = {n for _, n, s in stored if s < to_us(NOW - older_than * DAY)}

        dry = retention_module.prune(db, retention, NOW, dry_run=True)
        assert dry.runs == len(expected)
        assert db.query("SELECT COUNT(*) FROM runs")[0][0] == len(stored), "dry: none deleted"
        calls: list[tuple[int, int, int]] = []
        report = retention_module.prune(
            db, retention, NOW, progress=lambda *call: calls.append(call)
        )
        left = {int(row[0]) for row in db.query("SELECT id FROM runs")}

    assert left == {i for i, _, _ in stored} - expected
    assert report.runs == len(expected) and report.jobs_examined == len(examined)
    pruned = {n for i, n, _ in stored if i in expected}
    assert [c[:2] for c in calls] == [(k, len(pruned)) for k in range(1, len(pruned) + 1)], (
        "progress: once per job with runs to delete"
    )
    assert [c[2] for c in calls] == sorted(c[2] for c in calls) and (
        not calls or calls[-1][2] == len(expected)
    )


# -- several alert loops: one prunes each period ----------------------------------------------


def test_of_two_alert_loops_on_one_database_one_prunes(
    database_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    daily(monitor, "job", range(80), base=datetime.now(UTC) - DAY / 2)
    config = write_config(tmp_path, '[retention]\nruns = "30d"\nkeep_last = 3\n')
    first, second = AlertLoop(database_url, config), AlertLoop(database_url, config)
    try:
        assert first.run_once() is not None and second.run_once() is not None
        assert first.last_prune is not None and first.last_prune.runs == 50
        assert second.last_prune is None, "the second loop found the prune claimed"
        assert second.last_error is None
        daily(monitor, "job", range(35, 45), base=datetime.now(UTC) - DAY / 2)  # old again
        second.run_once()
        assert second.last_prune is None, "it asks again when the claim is an hour old"
        assert len(runs_of(monitor, "job")) == 40
    finally:
        first.stop()
        second.stop()


def test_a_task_is_claimed_once_per_period(db: Database) -> None:
    workers, hour = WorkerStore(db), timedelta(hours=1)
    assert workers.claim_task("prune", NOW, hour) is None, "never claimed: the caller's"
    assert workers.claim_task("prune", NOW, hour) == NOW
    assert workers.claim_task("prune", NOW + hour / 2, hour) == NOW, "claimed half an hour ago"
    assert workers.claim_task("prune", NOW + hour, hour) is None, "an hour old: claimed again"
    assert workers.claim_task("prune", NOW + hour * 3 / 2, hour) == NOW + hour
    assert workers.claim_task("other", NOW + hour, hour) is None, "tasks are claimed apart"
    assert WorkerStore(db).workers(NOW - DAY) == [], "a task's row is no alert loop"


def test_loops_claiming_at_once_get_one_claim(database_url: str) -> None:
    callers = 6
    ready = threading.Barrier(callers)
    results: list[datetime | None] = []

    def claim(at: datetime) -> None:
        with open_database(database_url) as own:
            workers = WorkerStore(own)
            ready.wait()
            results.append(workers.claim_task("prune", at, timedelta(hours=1)))

    for at in (NOW, NOW + timedelta(minutes=30), NOW + timedelta(hours=2)):
        threads = [threading.Thread(target=claim, args=(at,)) for _ in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    first, early, later = results[:callers], results[callers:-callers], results[-callers:]
    assert first.count(None) == 1, "the first claim: exactly one caller"
    assert early == [NOW] * callers, "half an hour later: nobody"
    assert later.count(None) == 1 and set(later) == {None, NOW + timedelta(hours=2)}, (
        "two hours later: one, and the others see its claim"
    )
