"""The exposition of every job (:mod:`cronwatch.prometheus`) on both databases at a fixed
clock: counters born at 0, the next expected run, the info series, per-host series off, the
tag filter, and a text format Prometheus accepts (each family one group, however many chunks
of jobs it was read in)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import cronwatch
from cronwatch.config import load_config
from cronwatch.health.service import job_statuses
from cronwatch.prometheus import expose
from cronwatch.specs import Config
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore
from tests.support.health import record_evaluations

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def text(db: Database, config: Config | None, now: datetime, **kwargs: object) -> str:
    return b"".join(expose(db, config, now=now, **kwargs).chunks()).decode()  # type: ignore[arg-type]


def parse(exposition: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in samples, f"{key} exported twice"
            samples[key] = sample.value
    return samples


def scrape(db: Database, config: Config | None, now: datetime, **kwargs: object) -> Samples:
    return parse(text(db, config, now, **kwargs))


def declare(db: Database, tmp_path: Path, body: str, at: datetime = T0) -> Config:
    """A config file's jobs, given their rows at ``at`` as ``serve`` does at start."""
    path = tmp_path / "cronwatch.toml"
    path.write_text(body)
    config = load_config(path)
    JobStore(db).sync_declared(config.jobs.values(), at)
    return config


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def series(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {key: value for (sample, key), value in samples.items() if sample == name}


def test_counters_are_exported_at_zero_before_the_first_run(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = declare(
        db,
        tmp_path,
        '[jobs.backup]\nschedule = "0 * * * *"\nhosts = ["db1", "db2"]\n'
        '[jobs.report]\nschedule = "0 * * * *"\n',
    )
    samples = scrape(db, config, T0 + timedelta(minutes=5))
    for host in ("db1", "db2"):
        for name in ("runs_total", "failures_total", "running"):
            assert samples[(f"cronwatch_job_{name}", labels(cronjob="backup", host=host))] == 0
    # Nothing ran: no instant to export, rather than a made-up one.
    assert not series(samples, "cronwatch_job_last_run_timestamp_seconds")
    assert not series(samples, "cronwatch_job_last_success_timestamp_seconds")
    # A job that names no hosts has its per-host counters from its first host's first start.
    assert not [key for key in series(samples, "cronwatch_job_runs_total") if "report" in str(key)]

    with cronwatch.connect(database_url, statsd=False) as monitor:
        run = monitor.start("adhoc", "h1", date_started=T0 + timedelta(minutes=6))
        started = scrape(db, config, T0 + timedelta(minutes=7))
        monitor.finish(run, exit_code=3, date_completed=T0 + timedelta(minutes=8))
    finished = scrape(db, config, T0 + timedelta(minutes=9))
    adhoc = labels(cronjob="adhoc", host="h1")
    assert started[("cronwatch_job_failures_total", adhoc)] == 0
    assert started[("cronwatch_job_running", adhoc)] == 1
    assert finished[("cronwatch_job_failures_total", adhoc)] == 1
    assert finished[("cronwatch_job_runs_total", adhoc)] == 1
    assert finished[("cronwatch_job_running", adhoc)] == 0


def test_without_per_host_series_every_job_has_its_counters_from_its_first_appearance(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = declare(
        db,
        tmp_path,
        '[metrics]\nper_host = false\n[jobs.report]\nschedule = "0 * * * *"\n'
        '[jobs.backup]\nschedule = "0 * * * *"\nhosts = ["db1", "db2"]\n',
    )
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("backup", T0, T0 + timedelta(minutes=2), "db1")
        monitor.record_failure("backup", T0, T0 + timedelta(minutes=1), 1, "db2")
        monitor.record_success("backup", T0 + timedelta(minutes=10),
                               T0 + timedelta(minutes=10, seconds=30), "db2")  # fmt: skip
        monitor.start("backup", "db1", date_started=T0 + timedelta(minutes=20))
    exposition = text(db, config, T0 + timedelta(minutes=21))
    samples = parse(exposition)
    assert samples[("cronwatch_job_runs_total", labels(cronjob="report"))] == 0
    assert samples[("cronwatch_job_failures_total", labels(cronjob="report"))] == 0
    backup = labels(cronjob="backup")
    assert samples[("cronwatch_job_runs_total", backup)] == 3
    assert samples[("cronwatch_job_failures_total", backup)] == 1
    assert samples[("cronwatch_job_running", backup)] == 1
    # the latest finished run (db2's at 03:10:30) and the latest success
    last = T0 + timedelta(minutes=10, seconds=30)
    assert samples[("cronwatch_job_last_run_timestamp_seconds", backup)] == last.timestamp()
    assert samples[("cronwatch_job_last_success_timestamp_seconds", backup)] == last.timestamp()
    assert samples[("cronwatch_job_last_duration_seconds", backup)] == 30
    # no host label at all, and no per-host status
    assert "host=" not in exposition
    assert "cronwatch_job_host_status" not in exposition
    statuses = series(samples, "cronwatch_job_status")
    assert sum(v for key, v in statuses.items() if ("cronjob", "backup") in key) == 1


def test_the_next_expected_run_and_since_when_an_overdue_job_is_due(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = declare(
        db,
        tmp_path,
        '[jobs.hourly]\nschedule = "0 * * * *"\n'
        '[jobs.interval]\nschedule = "every 1h"\n'
        '[jobs.never]\nschedule = "0 * * * *"\n'
        '[jobs.pair]\nschedule = "0 * * * *"\nhosts = ["a", "b"]\n',
        at=T0 - timedelta(minutes=50),  # 02:10: never's first slot is 03:00
    )
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for name in ("hourly", "interval"):
            monitor.record_success(name, T0, T0 + timedelta(minutes=1), "h")
        monitor.record_success("pair", T0, T0 + timedelta(minutes=1), "a")
        monitor.record_success("pair", T0 + timedelta(hours=1),
                               T0 + timedelta(hours=1, minutes=1), "b")  # fmt: skip
        monitor.record_success("unscheduled", T0, T0 + timedelta(minutes=1), "h")

    def expected(now: datetime) -> dict[str, float]:
        found = series(scrape(db, config, now), "cronwatch_job_next_expected_timestamp_seconds")
        return {dict(key)["cronjob"]: value for key, value in found.items()}

    on_time = T0 + timedelta(minutes=30)
    statuses = {s.name: s for s in job_statuses(db, config, now=on_time, learn=False)}
    assert statuses["hourly"].status == "ok"
    assert expected(on_time)["hourly"] == statuses["hourly"].next_due.timestamp()  # type: ignore[union-attr]
    assert expected(on_time)["hourly"] == (T0 + timedelta(hours=1)).timestamp()
    assert expected(on_time)["interval"] == (T0 + timedelta(hours=1)).timestamp()
    # Missed 04:00 and 05:00: due since 04:00, which does not move on as time passes.
    for now in (T0 + timedelta(hours=2, minutes=30), T0 + timedelta(hours=3, minutes=30)):
        statuses = {s.name: s for s in job_statuses(db, config, now=now, learn=False)}
        assert statuses["hourly"].status == "missing"
        found = expected(now)
        four = (T0 + timedelta(hours=1)).timestamp()
        assert found["hourly"] == four, "not the latest missed slot, not the next one"
        assert found["interval"] == four
        assert found["never"] == T0.timestamp()  # its first slot after it was declared
        assert found["pair"] == four  # host a, the earliest owing host
    assert "unscheduled" not in expected(T0 + timedelta(hours=3)), "no schedule, no guess"


def test_the_info_series_carries_schedule_timezone_paused_and_tags(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = declare(
        db,
        tmp_path,
        '[jobs.backup]\nschedule = "30 2 * * *"\ntimezone = "Europe/London"\n'
        'tags = ["db", "nightly"]\n'
        '[jobs.held]\nschedule = "every 15m"\npaused = true\n'
        '[jobs."say \\"hi\\""]\nschedule = "0 * * * *"\n',
    )
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("seen", T0, T0 + timedelta(seconds=5), "h")
    info = series(scrape(db, config, T0), "cronwatch_job_info")
    assert info == {
        labels(cronjob="backup", schedule="30 2 * * *", timezone="Europe/London",
               paused="false", tags=",db,nightly,"): 1,
        labels(cronjob="held", schedule="every 15m", timezone="UTC", paused="true", tags=""): 1,
        labels(cronjob='say "hi"', schedule="0 * * * *", timezone="UTC", paused="false",
               tags=""): 1,
        labels(cronjob="seen", schedule="", timezone="UTC", paused="false", tags=""): 1,
    }  # fmt: skip


def test_a_tag_keeps_only_the_jobs_that_have_it(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = declare(
        db,
        tmp_path,
        '[jobs.backup]\nschedule = "0 3 * * *"\ntags = ["db", "nightly"]\n'
        '[jobs.vacuum]\nschedule = "0 4 * * *"\ntags = ["db"]\n'
        '[jobs.deploy]\nschedule = "0 5 * * *"\ntags = ["web"]\n',
    )
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for name in ("backup", "deploy", "untagged"):
            monitor.record_success(name, T0, T0 + timedelta(minutes=1), "h")

    def jobs(exposition: str) -> set[str]:
        return set(re.findall(r'cronjob="([^"]*)"', exposition))

    assert jobs(text(db, config, T0)) == {"backup", "vacuum", "deploy", "untagged"}
    only_db = text(db, config, T0, tags=["db"])
    assert jobs(only_db) == {"backup", "vacuum"}
    assert "cronwatch_job_runs_total" in only_db  # every series of a kept job, not just info
    assert jobs(text(db, config, T0, tags=["nightly", "web"])) == {"backup", "deploy"}
    nobody = parse(text(db, config, T0, tags=["nosuchtag"]))
    assert nobody == {("cronwatch_health_evaluation_ok", ()): 1}


def test_each_family_is_one_group_across_chunks_of_jobs(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prometheus refuses a family whose lines are split; jobs are read a chunk at a time."""
    import cronwatch.storage.metrics

    monkeypatch.setattr(cronwatch.storage.metrics, "CHUNK", 2)
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for index in range(7):
            for host in ("a", "b"):
                monitor.record_success(f"job-{index}", T0, T0 + timedelta(seconds=1), host)
    exposition = text(db, None, T0 + timedelta(minutes=1))
    names = [line.split("{")[0].split(" ")[0] for line in exposition.splitlines()
             if not line.startswith("#")]  # fmt: skip
    groups = [name for index, name in enumerate(names) if index == 0 or names[index - 1] != name]
    assert len(groups) == len(set(groups)), f"a family split in two: {groups}"
    assert len(re.findall(r"^# TYPE cronwatch_job_info ", exposition, re.M)) == 1
    samples = parse(exposition)
    assert len(series(samples, "cronwatch_job_info")) == 7
    assert len(series(samples, "cronwatch_job_runs_total")) == 14


def test_a_job_whose_evaluation_fails_loses_only_its_status(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for name in ("good", "bad"):
            monitor.record_success(name, T0, T0 + timedelta(seconds=1), "h")
    from cronwatch.health.evaluate import evaluate as real

    def failing(facts: object, now: datetime) -> object:
        if facts.spec.name == "bad":  # type: ignore[attr-defined]
            raise RuntimeError("a bug in a health rule")
        return real(facts, now)  # type: ignore[arg-type]

    monkeypatch.setattr("cronwatch.prometheus.evaluate", failing)
    samples = scrape(db, None, T0 + timedelta(minutes=1))
    assert samples[("cronwatch_health_evaluation_ok", ())] == 0
    assert ("cronwatch_job_severity", labels(cronjob="good")) in samples
    assert ("cronwatch_job_severity", labels(cronjob="bad")) not in samples
    assert samples[("cronwatch_job_runs_total", labels(cronjob="bad", host="h"))] == 1


def test_a_scrape_writes_nothing(db: Database, database_url: str) -> None:
    """No baseline learned, no job declared: a scrape only reads."""
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for index in range(30):
            start = T0 + timedelta(hours=index)
            monitor.record_success("hourly", start, start + timedelta(seconds=40), "h")
    before = db.query("SELECT COUNT(*) FROM job_baselines")
    scrape(db, None, T0 + timedelta(hours=31))
    assert db.query("SELECT COUNT(*) FROM job_baselines") == before == [(0,)]


def test_with_an_alert_loop_alive_settled_jobs_show_its_stored_statuses(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an alert loop beating, a job whose deadline is ahead takes its status (and its
    hosts') from what the loop stored, not from an evaluation, and the body is byte for byte
    the fully evaluated one at every instant; a job with a run since the cycle, or past its
    deadline, is still evaluated; with no recent beat every job is evaluated."""
    import cronwatch.prometheus as prometheus
    from cronwatch.alerts.cycle import run_alert_cycle

    config = declare(
        db,
        tmp_path,
        '[alerts]\noutage_after = "3h"\n'
        '[jobs.hourly]\nschedule = "0 * * * *"\ngrace = "10m"\n'
        '[jobs.quarter]\nschedule = "every 15m"\ngrace = "5m"\n'
        '[jobs.pair]\nschedule = "*/30 * * * *"\nhosts = ["db1", "db2"]\n'
        '[jobs.some]\nschedule = "*/30 * * * *"\nhosts = ["a", "b", "c"]\nmin_hosts = 2\n'
        '[jobs.broken]\nschedule = "every 1h"\n'
        '[jobs.held]\nschedule = "0 * * * *"\npaused = true\n'
        '[jobs.never]\nschedule = "0 4 * * *"\n',
        at=T0 - timedelta(days=1),
    )
    ran = T0 - timedelta(minutes=1)
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for name, host in [("hourly", "h1"), ("quarter", "h2"), ("pair", "db1"), ("held", "h1")]:
            monitor.record_success(name, ran - timedelta(seconds=30), ran, host)
        for host in ("a", "b"):
            monitor.record_success("some", ran - timedelta(seconds=30), ran, host)
        monitor.record_failure("broken", ran - timedelta(seconds=30), ran, 2, "h3")
        monitor.start("long", "h4", date_started=ran)
        # Hosts of different statuses (w1 ok, w2 failing): each host's own stored status.
        monitor.record_success("adhoc", ran - timedelta(seconds=30), ran, "w1")
        monitor.record_failure("adhoc", ran - timedelta(seconds=30), ran, 1, "w2")
        run_alert_cycle(db, config, T0, worker="w", full=True)
        # Changed since the cycle: due, whatever its deadline.
        monitor.record_failure(
            "hourly", T0 + timedelta(seconds=10), T0 + timedelta(seconds=20), 1, "h1"
        )

    evaluated = record_evaluations(monkeypatch, prometheus)
    jobs = {"hourly", "quarter", "pair", "some", "broken", "held", "never", "long", "adhoc"}
    seen: set[float] = set()
    for minutes in (1, 16, 25, 61, 200):
        at = T0 + timedelta(minutes=minutes)
        evaluated.clear()
        body = text(db, config, at)
        used = set(evaluated)
        with monkeypatch.context() as m:
            m.setattr(prometheus, "loop_alive", lambda *_: False)
            evaluated.clear()
            full = text(db, config, at)
            assert set(evaluated) == jobs, "without a loop every job is evaluated"
        assert body == full, f"at +{minutes} min"
        assert "hourly" in used, "a job with a run since the cycle is evaluated"
        assert "some" in used, "a job with min_hosts is evaluated"
        if minutes == 1:
            # "pair": its declared db2 never ran (no summary row to read its stored status by).
            assert used == {"hourly", "some", "pair"}, "the settled jobs are read, not evaluated"
        if minutes == 16:
            assert "quarter" in used, "a job past its deadline is evaluated"
        if minutes == 200:
            assert used == jobs, "the loop stopped beating 3h ago: every job is evaluated"
        seen |= set(series(parse(body), "cronwatch_job_severity").values())
    assert seen == {0, 1, 2}, "the statuses changed meanwhile"
