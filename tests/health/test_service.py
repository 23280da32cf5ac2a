"""Every status, from histories recorded through the real storage, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import cronwatch
from cronwatch.config import load_config
from cronwatch.health.model import JobStatus
from cronwatch.health.service import job_statuses

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def ago(**kwargs: float) -> datetime:
    return NOW - timedelta(**kwargs)


CONFIG = """
[jobs.fine]
schedule = "every 15m"
grace = "5m"

[jobs.late]
schedule = "every 15m"
grace = "5m"

[jobs.missing]
schedule = "every 15m"
grace = "5m"

[jobs.failing]
schedule = "every 15m"

[jobs.running]
schedule = "every 1h"

[jobs.hung]
schedule = "every 1h"
max_runtime = "10m"

[jobs.slow]
schedule = "every 1h"
max_runtime = "10m"

[jobs.fast]
schedule = "every 1h"
min_runtime = "1m"

[jobs.too-often]
schedule = "30 * * * *"

[jobs.paused]
schedule = "every 15m"
paused = true

[jobs.new]

[jobs.never-ran]
schedule = "every 15m"

[jobs.per-host]
schedule = "every 1h"
hosts = ["db1", "db2"]

[jobs.any-of-two]
schedule = "every 1h"
hosts = ["db1", "db2"]
min_hosts = 1

[jobs.tagged]
schedule = "every 1h"
tags = ["db"]
"""


@pytest.fixture
def statuses(database_url: str, tmp_path: Path) -> dict[str, JobStatus]:
    path = tmp_path / "cronwatch.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    with cronwatch.connect(database_url, statsd=False) as m:
        # Declared jobs first recorded 2h ago (as the server or the alert loop does).
        job_statuses(m.store.db, config, now=ago(hours=2), record_declared=True)

        def ok_run(
            name: str, start: datetime, took: timedelta = timedelta(seconds=30), host: str = "web1"
        ) -> None:
            m.record_success(name, start, start + took, host)

        ok_run("fine", ago(minutes=5))
        ok_run("late", ago(minutes=17))
        ok_run("missing", ago(minutes=40))
        ok_run("failing", ago(minutes=20))
        m.record_failure("failing", ago(minutes=5), ago(minutes=4), 2, "web1")
        ok_run("running", ago(minutes=60))
        m.start("running", "web1", date_started=ago(minutes=1))
        ok_run("hung", ago(minutes=80))
        m.start("hung", "web1", date_started=ago(minutes=30))
        ok_run("slow", ago(minutes=30), timedelta(minutes=20))
        ok_run("fast", ago(minutes=30), timedelta(seconds=5))
        ok_run("too-often", datetime(2026, 11, 28, 11, 30, tzinfo=UTC))
        ok_run("too-often", datetime(2026, 11, 28, 11, 34, tzinfo=UTC))  # the same 11:30 slot
        ok_run("paused", ago(hours=5))
        ok_run("per-host", ago(minutes=10), host="db1")
        ok_run("any-of-two", ago(minutes=10), host="db1")
        ok_run("tagged", ago(minutes=10), host="db7")
        ok_run("auto-created", ago(minutes=10), host="db1")
        result = job_statuses(m.store.db, config, now=NOW)
    return {s.name: s for s in result}


@pytest.mark.parametrize(
    ("job", "status"),
    [
        ("fine", "ok"),
        ("late", "late"),
        ("missing", "missing"),
        ("failing", "failing"),
        ("running", "running"),
        ("hung", "hung"),
        ("slow", "slow"),
        ("fast", "fast"),
        ("too-often", "too_often"),
        ("paused", "paused"),
        ("new", "new"),
        ("never-ran", "missing"),
        ("per-host", "missing"),
        ("any-of-two", "ok"),
    ],
)
def test_every_status(statuses: dict[str, JobStatus], job: str, status: str) -> None:
    got = statuses[job]
    assert got.status == status, got.reason
    assert got.reason
    if got.severity:
        assert job in got.reason, "a problem's reason names the job"


def test_reasons_say_what_to_act_on(statuses: dict[str, JobStatus]) -> None:
    # The host that is missing is named, the one that ran (db1) is not: it needs no action.
    assert statuses["per-host"].reason == "per-host didn't run on db2 since 11:00 UTC (never ran)"
    assert "db1" not in statuses["per-host"].reason
    # Missed since the first slot its last run (11:20) did not cover: 11:35, every 15m.
    assert statuses["missing"].reason == (
        "missing didn't run since 11:35 UTC (last run 11:20 UTC on web1)"
    )
    assert statuses["failing"].reason == "failing failed on web1 at 11:56 UTC (exit 2)"
    assert statuses["hung"].reason == "hung has been running on web1 for 30m (max_runtime 10m)"


def test_per_host_breakdown(statuses: dict[str, JobStatus]) -> None:
    hosts = {h.hostname: h.status for h in statuses["per-host"].hosts}
    assert hosts == {"db1": "ok", "db2": "missing"}


def test_problems_come_first(statuses: dict[str, JobStatus]) -> None:
    order = list(statuses)
    severities = [statuses[name].severity for name in order]
    assert severities[0] == 2
    assert order.index("missing") < order.index("late") < order.index("fine")


def test_auto_created_jobs_are_listed(statuses: dict[str, JobStatus]) -> None:
    auto = statuses["auto-created"]
    assert auto.severity == 0
    assert auto.hosts and auto.hosts[0].hostname == "db1"


def test_filters(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    with cronwatch.connect(database_url, statsd=False) as m:
        m.record_success("tagged", ago(minutes=10), ago(minutes=9), "db7")
        by_tag = job_statuses(m.store.db, config, now=NOW, tags=["db"])
        by_host = job_statuses(m.store.db, config, now=NOW, hosts=["db7"])
        by_declared_host = job_statuses(m.store.db, config, now=NOW, hosts=["db2"])
        by_name = job_statuses(m.store.db, config, now=NOW, names=["fine", "tagged"])
        with pytest.raises(cronwatch.InvalidInput, match="no job named 'nope'"):
            job_statuses(m.store.db, config, now=NOW, names=["nope"])
    assert [s.name for s in by_tag] == ["tagged"]
    assert [s.name for s in by_host] == ["tagged"]
    assert {s.name for s in by_declared_host} == {"per-host", "any-of-two"}
    assert {s.name for s in by_name} == {"fine", "tagged"}


def test_learned_schedule_and_runtime(database_url: str) -> None:
    with cronwatch.connect(database_url, statsd=False) as m:
        for i in range(24, 3, -1):  # hourly until 4h ago, ~100s each
            start = ago(hours=i)
            m.record_success("learned", start, start + timedelta(seconds=100 + i % 3), "h")
        result = {s.name: s for s in job_statuses(m.store.db, now=NOW)}
        learned = result["learned"]
        assert learned.status == "missing" and learned.learned, learned.reason
        assert "learned" in learned.schedule
        assert learned.runtime_band is not None
        low, high = learned.runtime_band
        assert low < timedelta(seconds=100) < high

        # back on time, but ten times slower than it has ever been
        m.record_success("learned", ago(minutes=30), ago(minutes=30) + timedelta(seconds=1000), "h")
        result = {s.name: s for s in job_statuses(m.store.db, now=NOW)}
        assert result["learned"].status == "slow", result["learned"].reason
        assert "learned" in result["learned"].reason or "usually" in result["learned"].reason


def test_dst_fall_back_daily_job_is_fine(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "dst.toml"
    path.write_text(
        '[jobs.london]\nschedule = "30 2 * * *"\ntimezone = "Europe/London"\ngrace = "30m"\n'
        '[jobs.newyork]\nschedule = "30 2 * * *"\ntimezone = "America/New_York"\ngrace = "30m"\n'
    )
    config = load_config(path)
    with cronwatch.connect(database_url, statsd=False) as m:
        # London falls back on 2026-10-25: 02:30 happens once, at 02:30 GMT (= UTC).
        m.record_success(
            "london",
            datetime(2026, 10, 24, 1, 30, tzinfo=UTC),
            datetime(2026, 10, 24, 1, 31, tzinfo=UTC),
            "h",
        )
        m.record_success(
            "london",
            datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 2, 31, tzinfo=UTC),
            "h",
        )
        # New York springs forward on 2026-03-08: 02:30 does not exist, cron runs it at 03:00
        # EDT (07:00 UTC).
        m.record_success(
            "newyork",
            datetime(2026, 3, 7, 7, 30, tzinfo=UTC),
            datetime(2026, 3, 7, 7, 31, tzinfo=UTC),
            "h",
        )
        m.record_success(
            "newyork",
            datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
            datetime(2026, 3, 8, 7, 1, tzinfo=UTC),
            "h",
        )
        london = job_statuses(
            m.store.db, config, now=datetime(2026, 10, 25, 12, 0, tzinfo=UTC), names=["london"]
        )[0]
        newyork = job_statuses(
            m.store.db, config, now=datetime(2026, 3, 8, 12, 0, tzinfo=UTC), names=["newyork"]
        )[0]
    assert london.status == "ok", london.reason
    assert newyork.status == "ok", newyork.reason


def test_library_status_api_takes_a_config_path(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text('[jobs.backup]\nschedule = "every 1h"\nhosts = ["db1"]\n')
    with cronwatch.connect(database_url, statsd=False) as m:
        m.record_success("backup", ago(minutes=10), ago(minutes=9), "db1")
        (status,) = m.status(config=path, now=NOW)
        assert (status.name, status.status) == ("backup", "ok")
        assert status.to_json()["hosts"][0]["hostname"] == "db1"
        with pytest.raises(cronwatch.ConfigError):
            m.status(config=tmp_path / "missing.toml", now=NOW)


def test_a_run_dated_in_the_future_never_hides_a_later_real_outcome(database_url: str) -> None:
    """A run dated 2099 stored past the checks (straight into the database) must not keep the
    job ok: the real failure recorded after it makes the job failing, with the real run's
    facts; a running run dated 2099 does not make it running either."""
    year_2099 = int(datetime(2099, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    now = datetime.now(UTC)
    with cronwatch.connect(database_url, statsd=False) as m:
        m.record_success("nightly", now - timedelta(hours=2), now - timedelta(hours=2), "db1")
        m.store.db.execute(
            "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
            " completed_us, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ("nightly", "db1", "forged", "success", 0, year_2099, year_2099 + 1, 1),
        )
        m.store.db.execute(
            "INSERT INTO runs (name, hostname, run_id, outcome, started_us)"
            " VALUES (?, ?, ?, 'running', ?)",
            ("nightly", "db1", "forged-running", year_2099),
        )
        before = {s.name: s for s in job_statuses(m.store.db)}
        m.record_failure(
            "nightly", now - timedelta(minutes=2), now - timedelta(minutes=1), 3, "db1"
        )
        [status] = job_statuses(m.store.db, names=["nightly"])
    assert before["nightly"].status == "ok", "the real success before, not the forged run"
    assert status.status == "failing", status
    [host] = status.hosts
    assert host.last_outcome == "failure" and host.status == "failing"
    assert host.last_completed is not None and host.last_completed <= datetime.now(UTC)
    assert host.last_started is not None and host.last_started.year == now.year


def test_declared_jobs_come_from_the_config_in_force(database_url: str, tmp_path: Path) -> None:
    # Issue 12: `cronwatch --config a.toml status` wrote a.toml's jobs into the database, so a
    # job removed from the config stayed listed forever.
    from cronwatch.alerts.observe import observe
    from cronwatch.storage.jobs import JobStore

    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('[jobs.only-in-a]\nschedule = "every 15m"\n[jobs.both]\nschedule = "every 1h"\n')
    b.write_text('[jobs.both]\nschedule = "every 1h"\n')
    with cronwatch.connect(database_url, statsd=False) as m:
        db = m.store.db
        looked = job_statuses(db, load_config(a), now=NOW)  # a look: nothing written
        assert {s.name: s.status for s in looked} == {"only-in-a": "new", "both": "new"}
        assert JobStore(db).names() == []
        # A watcher (server, alert loop, check) records them; then a.toml is replaced by b.toml.
        job_statuses(db, load_config(a), now=ago(hours=2), record_declared=True)
        assert JobStore(db).names() == ["both", "only-in-a"]
        config = load_config(b)
        shown = {s.name: s.status for s in job_statuses(db, config, now=NOW)}
        assert shown == {"both": "missing"}  # recorded 2h ago, never ran: missing
        observed = {o.status.name for o in observe(db, config, NOW)}
        assert observed == {"both"}  # the alert loop agrees with the CLI
        # A job an earlier config declared and that ran stays known, as undeclared.
        m.record_success("only-in-a", ago(minutes=5), ago(minutes=4), "web1")
        shown = {s.name: s.status for s in job_statuses(db, config, now=NOW)}
        assert shown == {"both": "missing", "only-in-a": "ok"}


def test_settled_statuses_are_the_statuses_at_the_cost_of_what_changed(
    tmp_path: Path, database_url: str
) -> None:
    """With an alert loop beating, the settled statuses equal a full evaluation's at any later
    instant (jobs past their deadline or with new runs are evaluated, the rest read); without
    a recent heartbeat there is no answer (stored statuses may be old)."""
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.health.service import settled_statuses
    from cronwatch.storage import open_database

    path = tmp_path / "cronwatch.toml"
    path.write_text(
        '[alerts]\noutage_after = "3h"\n'
        + "".join(f'[jobs.j{n}]\nschedule = "every 15m"\ngrace = "5m"\n' for n in range(6))
    )
    config = load_config(path)
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for n in range(6):
            start = ago(minutes=2 + n * 4)
            monitor.record_success(f"j{n}", start, start + timedelta(seconds=5), "h1")
        with open_database(database_url) as db:
            assert settled_statuses(db, config, now=NOW) is None, "no loop ever beat"
            run_alert_cycle(db, config, NOW, worker="w", full=True)
            start = NOW + timedelta(minutes=1)
            monitor.record_failure("j0", start, start + timedelta(seconds=5), 1, "h1")
            seen = set()
            for minutes in (2, 9, 14, 26, 70):
                at = NOW + timedelta(minutes=minutes)
                settled = settled_statuses(db, config, now=at)
                assert settled is not None
                full = job_statuses(db, config, now=at)
                assert [(s.name, s.status) for s in settled] == [
                    (s.name, s.status) for s in full
                ], f"at +{minutes} min"
                seen |= {s.status for s in full}
            assert seen >= {"ok", "missing", "failing"}, "the statuses changed meanwhile"
            late = NOW + timedelta(hours=4)
            assert settled_statuses(db, config, now=late) is None, "the loop stopped beating"


_FLEET_CONFIG = """
[alerts]
outage_after = "3h"

[jobs.cfg-db]
schedule = "every 15m"
grace = "5m"
tags = ["db"]

[jobs.cfg-web]
schedule = "every 1h"
hosts = ["web-1", "web-2"]
tags = ["web"]

[jobs.cfg-never]
schedule = "every 15m"
hosts = ["db"]
"""

#: (tags, hosts) of the filters compared: a tag, several tags, a tag named like a host, a
#: host seen running jobs, a declared host, a host named like a tag, a host only running
#: (no finished run there), LIKE's wildcards and a non-ASCII letter, both options at once,
#: a tag nothing has.
FILTERS = [
    (["db"], []),
    (["db", "web"], []),
    (["c_fé%"], []),
    ([], ["host-3"]),
    ([], ["web-1"]),
    ([], ["db"]),
    ([], ["host-run"]),
    ([], ["host-1", "web-2"]),
    (["db"], ["host-2"]),
    (["nowhere"], []),
]


def _fleet(database_url: str, config: Any, seed: int) -> dict[str, set[str]]:
    """A generated fleet: API-declared jobs with random tags, declared hosts, descriptions
    that mention a tag or host without having it, runs (successes, failures, hung and live
    runs) on random hosts, declared hosts or not; jobs seen running only (no spec), and the
    config's. Returns each job's texts a filter's candidates may be found by (tags, declared
    hosts, description, hosts it ran on): a job whose texts hold none of a filter's is not
    a candidate of it."""
    import random

    from cronwatch.jobs import JobsService
    from cronwatch.storage import open_database

    rng = random.Random(seed)
    texts: dict[str, set[str]] = {
        "cfg-db": {"db"},
        "cfg-web": {"web", "web-1", "web-2"},
        "cfg-never": {"db"},
    }
    with cronwatch.connect(database_url, statsd=False) as m, open_database(database_url) as db:
        jobs = JobsService(db, config)
        for j in range(36):
            name = f"api-{j:02d}"
            fields: dict[str, Any] = {"schedule": rng.choice(["every 15m", "0 * * * *"])}
            fields["tags"] = rng.sample(["db", "web", "c_fé%"], rng.randint(0, 2))
            if rng.random() < 0.3:
                fields["hosts"] = rng.sample(["web-1", "web-2", "db", "host-3"], 2)
            if rng.random() < 0.2:
                fields["description"] = rng.choice(["db", "host-3", "web-1"])
            jobs.create(name, fields)
            texts[name] = {*fields["tags"], *fields.get("hosts", ())}
            if "description" in fields:
                texts[name].add(fields["description"])
        for j in range(40):
            texts[f"seen-{j:02d}"] = set()  # undeclared: known by their runs only
        for name in sorted(texts):
            if name == "cfg-never":
                continue
            for _ in range(rng.randint(1, 3)):
                host = rng.choice(["host-0", "host-1", "host-2", "host-3", "web-1", "web-2"])
                start = ago(minutes=rng.randint(2, 90))
                took = timedelta(seconds=rng.randint(5, 90))
                if rng.random() < 0.2:
                    m.record_failure(name, start, start + took, 1, host)
                else:
                    m.record_success(name, start, start + took, host)
                texts[name].add(host)
            if rng.random() < 0.1:
                m.start(name, "host-run", date_started=ago(minutes=rng.randint(1, 50)))
                texts[name].add("host-run")
    return texts


@pytest.mark.parametrize("seed", [1, 2])
def test_filtered_statuses_are_the_evaluated_ones_at_the_cost_of_the_candidates(
    database_url: str, tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an alert loop beating, a tag or host filter (``cronwatch check --tag/--host``,
    ``/api/v1/status?tag=&host=``) reads the stored statuses of its candidates and evaluates
    those that can have changed: at every later instant (deadlines passing, runs recorded
    after the cycle) the jobs and statuses must be exactly those of every job evaluated and
    filtered, an evaluated one's reason too, and ``in_full`` must be every field of them.
    What must not happen: a job that is no candidate evaluated or its facts read (nor every
    job's facts read at once), a job listed twice or left out. Without a loop beating,
    every job is evaluated, as before."""
    import cronwatch.health.evaluate
    import cronwatch.health.service as service
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.health.model import SettledStatus
    from cronwatch.health.service import filtered_statuses
    from cronwatch.storage import open_database
    from cronwatch.storage.alerts import AlertStore
    from cronwatch.storage.jobs import JobStore
    from tests.support.alerting import write_config

    config = write_config(tmp_path, _FLEET_CONFIG)
    texts = _fleet(database_url, config, seed)
    evaluated: list[str] = []
    read: list[str | None] = []  # names whose facts were read (None: every job's)
    real_evaluate, real_facts = cronwatch.health.evaluate.evaluate, JobStore.facts

    def counted_evaluate(facts: Any, now: datetime) -> JobStatus:
        evaluated.append(facts.spec.name)
        return real_evaluate(facts, now)

    def counted_facts(self: JobStore, *args: Any, **kwargs: Any) -> Any:
        names = kwargs.get("names")
        read.extend([None] if names is None else names)
        return real_facts(self, *args, **kwargs)

    monkeypatch.setattr(service, "evaluate", counted_evaluate)
    monkeypatch.setattr(JobStore, "facts", counted_facts)
    settled_seen = 0
    with cronwatch.connect(database_url, statsd=False) as m, open_database(database_url) as db:
        run_alert_cycle(db, config, NOW, worker="w", full=True)
        # After the cycle: a failure and a success, due (to evaluate, not to read as stored).
        m.record_failure("api-00", ago(minutes=-1), ago(minutes=-2), 3, "host-2")
        m.record_success("seen-03", ago(minutes=-1), ago(minutes=-2), "host-3")
        texts["api-00"].add("host-2")
        for minutes in (3, 9, 26, 70, 240):
            at = NOW + timedelta(minutes=minutes)
            beating = minutes < 180  # outage_after: 3h
            for tags, hosts in FILTERS:
                truth = job_statuses(db, config, now=at, tags=tags, hosts=hosts)
                evaluated.clear()
                read.clear()
                got = filtered_statuses(db, config, now=at, tags=tags, hosts=hosts)
                full = filtered_statuses(db, config, now=at, tags=tags, hosts=hosts, in_full=True)
                where = f"at +{minutes} min, tags {tags}, hosts {hosts}"
                assert [(s.name, s.status) for s in got] == [(s.name, s.status) for s in truth], (
                    where
                )
                assert [s.to_json() for s in full] == [s.to_json() for s in truth], where
                by_name = {s.name: s for s in truth}
                stored = AlertStore(db).settled_of(at, [s.name for s in got])
                for status in got:
                    if isinstance(status, SettledStatus):
                        assert beating, where
                        assert (status.status, status.reason) == stored[status.name], where
                        settled_seen += 1
                    else:
                        assert status.reason == by_name[status.name].reason, where
                if not beating:
                    assert None in read, f"{where}: without a loop every job is evaluated"
                    continue
                unrelated = {
                    name
                    for name, mentions in texts.items()
                    if (tags and not mentions & set(tags)) or (hosts and not mentions & set(hosts))
                }
                assert None not in read, f"{where}: every job's facts read"
                assert not unrelated & {*evaluated, *read}, where
                assert len(unrelated) >= 10, f"{where}: jobs that are no candidate"
    assert settled_seen > 100, "the stored statuses were used"
