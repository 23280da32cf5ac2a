"""The exposition's exact bytes on a generated fleet (statuses of every kind, one to three hosts,
declared hosts and ``min_hosts``, tags, paused jobs, runs going and hung, a learned schedule, a
run dated 2099, names to escape), at two instants after an alert cycle, on both databases:
per host, per job (``per_host = false``) and restricted to a tag.

The body must be the same whether the alert loop's stored statuses are used (a loop beat) or
every job is evaluated, and the same as the golden files in ``tests/golden/``, written by the
exposition as it was before issue 13's third round made it fast: a change of the text is a
change of what Prometheus stores, and must be deliberate. To write them again (after such a
deliberate change): ``WRITE_GOLDEN=1 python -m pytest tests/test_prometheus_bytes.py``.
"""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cronwatch
from cronwatch.config import load_config
from cronwatch.prometheus import expose
from cronwatch.specs import Config
from cronwatch.storage.connection import Database
from cronwatch.storage.jobs import JobStore
from tests.support.health import record_evaluations

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
CYCLE = T0 + timedelta(days=1)  # the alert cycle; the fleet's history ends around it
SCHEDULES = ["*/15 * * * *", "0 * * * *", "every 15m", "every 1h", "30 2 * * *", "every 2h"]
TAGS: list[list[str]] = [[], ["db"], ["db", "nightly"], ["web"], []]


def fleet_config(rng: random.Random, jobs: int, per_host: bool) -> str:
    """Every job but each third declared in the config file, with assorted fields."""
    lines = ['[alerts]\noutage_after = "3h"\n']
    if not per_host:
        lines.append("[metrics]\nper_host = false\n")
    for index in range(jobs):
        if index % 3 == 2:
            continue
        lines.append(f'[jobs.{json.dumps(name(index))}]\nschedule = "{rng.choice(SCHEDULES)}"\n')
        if index % 7 == 0:
            lines.append('timezone = "Europe/London"\n')
        if index % 5 == 0:
            lines.append('grace = "20m"\n')
        if index % 8 == 1:
            lines.append('hosts = ["a", "b", "c"]\nmin_hosts = 2\n')
        elif index % 8 == 4:
            lines.append('hosts = ["a", "b"]\n')
        if index % 11 == 3:
            lines.append("paused = true\n")
        if index % 6 == 0:
            lines.append('max_runtime = "10m"\n')
        if index % 9 == 5:
            lines.append('min_runtime = "1m"\n')
        tags = TAGS[index % len(TAGS)]
        if tags:
            lines.append(f"tags = [{', '.join(repr(tag) for tag in tags)}]\n")
    return "".join(lines)


def name(index: int) -> str:
    # The index first: the same order in every collation (the rest may be punctuation).
    suffix = ["", "-backup", ' say "hi"', "\\path", ".é", "_x"][index % 6]
    return f"j{index:02d}{suffix}"


def build(
    db: Database, database_url: str, tmp_path: Path, per_host: bool, jobs: int = 40
) -> Config:
    """The fleet, an alert cycle at :data:`CYCLE`, and a few runs after it."""
    from cronwatch.alerts.cycle import run_alert_cycle

    rng = random.Random(13)
    path = tmp_path / "cronwatch.toml"
    path.write_text(fleet_config(rng, jobs, per_host))
    config = load_config(path)
    JobStore(db).sync_declared(config.jobs.values(), T0)
    with cronwatch.connect(database_url, statsd=False) as monitor:
        for index in range(jobs):
            job = name(index)
            if index % 10 == 9:
                continue  # never ran: new, or missing once a slot is past its grace
            hosts = ["a", "b", "c"][: 1 + rng.randrange(3)]
            for host in hosts:
                runs = rng.randrange(4)
                for _ in range(runs):
                    start = CYCLE - timedelta(minutes=rng.randrange(5, 150), seconds=rng.random())
                    took = timedelta(
                        seconds=rng.randrange(1, 900), microseconds=rng.randrange(10**6)
                    )
                    if rng.random() < 0.25:
                        monitor.record_failure(job, start, start + took, rng.randrange(1, 9), host)
                    else:
                        monitor.record_success(job, start, start + took, host)
                if rng.random() < 0.15:  # still going: running, or hung past max_runtime
                    start = CYCLE - timedelta(minutes=rng.randrange(1, 90))
                    monitor.start(job, host, date_started=start)
        for hour in range(25):  # an undeclared job with a learned schedule and runtime band
            start = CYCLE - timedelta(hours=25 - hour, seconds=-3 * hour)
            monitor.record_success(name(2), start, start + timedelta(seconds=40 + hour), "a")
    future = int(datetime(2099, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    db.execute(
        "INSERT INTO runs (name, hostname, run_id, outcome, started_us) VALUES (?, ?, ?, ?, ?)",
        (name(5), "a", "future-run", "running", future),
    )
    run_alert_cycle(db, config, CYCLE, worker="w", full=True)
    with cronwatch.connect(database_url, statsd=False) as monitor:  # changed since the cycle
        monitor.record_failure(name(0), CYCLE, CYCLE + timedelta(seconds=3), 2, "a")
        monitor.record_success(name(4), CYCLE, CYCLE + timedelta(seconds=4), "b")
    return config


def render(db: Database, config: Config, at: datetime, tags: list[str] | None) -> bytes:
    return b"".join(expose(db, config, now=at, tags=tags).chunks())


@pytest.mark.parametrize("per_host", [True, False])
def test_the_exposition_is_byte_for_byte_the_golden_one_settled_or_evaluated(
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    per_host: bool,
) -> None:
    import cronwatch.prometheus as prometheus

    config = build(db, database_url, tmp_path, per_host)
    evaluated_jobs = record_evaluations(monkeypatch, prometheus)
    for minutes, tags in ((1, None), (40, None), (40, ["db"])):
        at = CYCLE + timedelta(minutes=minutes)
        evaluated_jobs.clear()
        settled = render(db, config, at, tags)
        if minutes == 1 and tags is None:
            assert 0 < len(evaluated_jobs) < 40 / 3, "most jobs settled, a few evaluated"
        with monkeypatch.context() as m:
            m.setattr(prometheus, "loop_alive", lambda *_: False)
            evaluated = render(db, config, at, tags)
        assert settled == evaluated, f"settled and evaluated differ at +{minutes} min"
        golden = GOLDEN / (
            f"metrics-{'host' if per_host else 'job'}-{minutes}m"
            f"{'-' + '-'.join(tags) if tags else ''}.txt"
        )
        if os.environ.get("WRITE_GOLDEN"):
            golden.parent.mkdir(exist_ok=True)
            golden.write_bytes(evaluated)
        expected = golden.read_bytes()
        assert evaluated.count(b"\n") > 200 or tags, "the fleet is not the one the golden file has"
        assert evaluated == expected, f"{golden.name}: the text changed"
