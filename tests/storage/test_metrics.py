"""What ``/metrics`` reads (:mod:`cronwatch.storage.metrics`): every job's facts in chunks, the
same facts the health evaluation reads, each job exactly once, in a fixed number of queries
per chunk, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import cronwatch
from cronwatch.config import load_config
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore
from cronwatch.storage.metrics import facts_in_chunks

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
# Names whose order differs between byte order and most collations, and a space.
NAMES = ["a", "a b", "B", "b", "z-job", "ä", "job.1", "job_2", "Job-3"]


@pytest.fixture
def fleet(db: Database, database_url: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "cronwatch.toml"
    path.write_text(
        '[jobs.declared]\nschedule = "0 * * * *"\nhosts = ["x", "y"]\ntags = ["db"]\n'
        '[jobs.b]\nschedule = "every 15m"\ntags = ["web"]\n'
    )
    config = load_config(path)
    JobStore(db).sync_declared(config.jobs.values(), T0)
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for index, name in enumerate(NAMES):
            for host in ("h1", "h2", "h3")[: 1 + index % 3]:
                start = T0 + timedelta(minutes=index)
                monitor.record_success(name, start, start + timedelta(seconds=5), host)
        monitor.start("z-job", "h9", date_started=T0 + timedelta(hours=1))
        for index in range(25):  # enough for a baseline
            start = T0 + timedelta(hours=index)
            monitor.record_success("a", start, start + timedelta(seconds=30), "h1")
    JobStore(db).refresh_baselines(T0 + timedelta(days=2))
    return dict(config.jobs)


@pytest.mark.parametrize("chunk", [1, 2, 4, 1000])
def test_the_chunks_hold_every_job_once_with_the_facts_the_health_code_reads(
    db: Database, fleet: dict[str, Any], chunk: int
) -> None:
    # And a run dated 2099, written past the checks (a hand-made row): not a fact, as in facts().
    future = int(datetime(2099, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    db.execute(
        "INSERT INTO runs (name, hostname, run_id, outcome, started_us) VALUES (?, ?, ?, ?, ?)",
        ("b", "h1", "future-run", "running", future),
    )
    chunks = list(facts_in_chunks(db, fleet, chunk=chunk))
    streamed = [facts for part in chunks for facts in part]
    names = [facts.spec.name for facts in streamed]
    assert len(names) == len(set(names)), "a job read twice"
    whole = {facts.spec.name: facts for facts in JobStore(db).facts(fleet)}
    assert set(names) == set(whole) == {*NAMES, "declared"}
    for facts in streamed:
        expected = whole[facts.spec.name]
        assert facts.spec == expected.spec
        assert facts.created == expected.created
        assert sorted(facts.hosts, key=lambda h: h.hostname) == sorted(
            expected.hosts, key=lambda h: h.hostname
        )
        assert sorted(facts.running, key=lambda r: r.run_id) == sorted(
            expected.running, key=lambda r: r.run_id
        )
        assert facts.baseline == expected.baseline
    assert whole["a"].baseline is not None, "the fixture has a baseline to compare"
    assert [run.hostname for run in whole["z-job"].running] == ["h9"]
    assert not whole["b"].running, "the run dated 2099 is no fact"
    assert all(h.last_started is None or h.last_started.year < 2099 for h in whole["b"].hosts)
    assert all(len(part) <= chunk for part in chunks)


def test_a_chunk_costs_three_queries_whatever_its_jobs(
    db: Database, fleet: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    queries: list[str] = []
    real = db.query

    def counting(statement: str, params: Any = ()) -> Any:
        queries.append(statement)
        return real(statement, params)

    monkeypatch.setattr(db, "query", counting)
    jobs = sum(len(part) for part in facts_in_chunks(db, fleet, chunk=4))
    assert jobs == len(NAMES) + 1
    # ceil(10 / 4) = 3 chunks of three queries (the last name, the rows, the running runs),
    # the last one found without a last name: never a query per job
    assert len(queries) <= 3 * 3


def test_tags_keep_only_the_jobs_that_have_one(db: Database, fleet: dict[str, Any]) -> None:
    def kept(*tags: str) -> list[str]:
        return [f.spec.name for part in facts_in_chunks(db, fleet, keep=tags) for f in part]

    assert kept("db") == ["declared"]
    assert sorted(kept("db", "web")) == ["b", "declared"]
    assert kept("nosuchtag") == []
    assert "a" not in kept("db", "web"), "a job without tags is never kept by a tag"


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_settled_jobs_come_with_the_statuses_the_alert_loop_stored(
    db: Database, fleet: dict[str, Any], tmp_path: Path, chunk: int
) -> None:
    """After an alert cycle, a job whose deadline is after ``settled_at`` comes with the
    loop's stored status and each of its hosts'; a job past its deadline, or changed since,
    comes with none; without ``settled_at`` no job does. The facts are unchanged."""
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.health.evaluate import evaluate
    from cronwatch.storage.alerts.deadlines import DeadlineStore
    from cronwatch.storage.metrics import jobs_in_chunks

    at = T0 + timedelta(days=2)
    config_path = tmp_path / "cronwatch.toml"
    run_alert_cycle(db, load_config(config_path), at, worker="w", full=True)
    DeadlineStore(db).make_due(["b"])  # changed since: due
    jobs = [
        job
        for part in jobs_in_chunks(db, fleet, chunk=chunk, now=at, settled_at=at)
        for job in part
    ]
    facts = [f for part in facts_in_chunks(db, fleet, chunk=chunk, now=at) for f in part]
    assert [job.facts() for job in jobs] == facts
    stored = {job.name: job.stored for job in jobs}
    assert stored["b"] is None, "a job changed since the cycle is not settled"
    for f in facts:
        if f.spec.name == "b" or f.spec.name == "declared":
            continue
        state = stored[f.spec.name]
        assert state is not None, f.spec.name
        status = evaluate(f, at)
        assert state.status == status.status
        assert state.hosts == {h.hostname: h.status for h in status.hosts}
    hourly = stored["declared"]  # deadline: its next slot, within the hour
    assert hourly is not None
    later = at + timedelta(hours=1, minutes=1)
    past = {
        job.name: job.stored
        for part in jobs_in_chunks(db, fleet, now=later, settled_at=later)
        for job in part
    }
    assert past["declared"] is None, "a job past its deadline is not settled"
    assert past["B"] is not None, "a job without a schedule (declared or learned): no deadline"
    assert all(job.stored is None for part in jobs_in_chunks(db, fleet, now=at) for job in part)
