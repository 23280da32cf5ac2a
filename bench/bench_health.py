"""A status check of 10,000 jobs with 1 million runs in total.

Target (issue "Health checks"): under 1 s on SQLite, with the number of queries independent of
the number of jobs: measured at ``--jobs`` and at a tenth of it, printed side by side (the
queries per check must be the same at both sizes). Prints a verdict; exits 1 when short.
Half the jobs are declared in a config (cron and interval schedules, hosts,
runtime bounds), half are only seen running (their schedule and runtime are learned).
Learning the baselines the first time is reported separately: it happens once, then only for
jobs with enough new runs.

    python -m bench.bench_health [--dialect sqlite|postgresql|both] [--jobs 10000] [--runs 100]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import exit_with_verdicts, load_runs, report, scratch_database, verdict
from cronwatch.config import load_config
from cronwatch.health.service import job_statuses
from cronwatch.storage import open_database
from cronwatch.storage.jobs import JobStore
from cronwatch.timeutil import to_us

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TARGET_SECONDS = 1.0
SCHEDULES = ['"every 15m"', '"*/15 * * * *"', '"0 * * * *"', '"every 1h"']


def runs(jobs: int, per_job: int) -> Iterator[tuple[object, ...]]:
    for j in range(jobs):
        period = 900 if j % 4 in (0, 1) else 3600
        # most jobs are on time; every 10th stopped a while ago, every 7th is slow
        last = to_us(NOW) - (5 * 60 if j % 10 else 5 * period) * 1_000_000
        for i in range(per_job):
            started = last - i * period * 1_000_000
            duration = (30 + (i % 5) + (300 if j % 7 == 0 and i == 0 else 0)) * 1_000_000
            outcome = "failure" if (i == 0 and j % 13 == 0) else "success"
            yield (
                f"job-{j}",
                f"host-{j % 5}",
                uuid.uuid4().hex,
                outcome,
                1 if outcome == "failure" else 0,
                started,
                started + duration,
                duration,
            )


def config_text(jobs: int) -> str:
    lines = []
    for j in range(0, jobs, 2):  # every other job is declared
        lines.append(f'[jobs."job-{j}"]\nschedule = {SCHEDULES[j % 4]}\n')
        if j % 6 == 0:
            lines.append('max_runtime = "5m"\n')
        if j % 8 == 0:
            lines.append(f'hosts = ["host-{j % 5}"]\ntags = ["db"]\n')
    return "".join(lines)


@dataclass
class Measured:
    jobs: int
    runs: int
    filled: float  # seconds
    learning: float  # seconds
    learned: int
    check: float  # median seconds of a status check
    queries: int  # per check
    by_status: dict[str, int]


def measure(dialect: str, jobs: int, per_job: int) -> Measured:
    """A scratch database of ``jobs`` x ``per_job`` runs: a status check timed and its queries
    counted."""
    with scratch_database(dialect) as url, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cronwatch.toml"
        path.write_text(config_text(jobs))
        config = load_config(path)
        start = time.perf_counter()
        with open_database(url) as db:
            load_runs(db, runs(jobs, per_job))
            filled = time.perf_counter() - start

            start = time.perf_counter()
            job_statuses(db, config, now=NOW - timedelta(hours=1), learn=False)  # declare
            learned = JobStore(db).refresh_baselines(NOW)
            learning = time.perf_counter() - start

            queries = 0
            original = db.query

            def counting(*args: Any, **kwargs: Any) -> Any:
                nonlocal queries
                queries += 1
                return original(*args, **kwargs)

            db.query = counting  # type: ignore[method-assign]
            timings = []
            for _ in range(5):
                queries = 0
                start = time.perf_counter()
                statuses = job_statuses(db, config, now=NOW)
                timings.append(time.perf_counter() - start)
            db.query = original  # type: ignore[method-assign]
    by_status: dict[str, int] = {}
    for status in statuses:
        by_status[status.status] = by_status.get(status.status, 0) + 1
    return Measured(len(statuses), jobs * per_job, filled, learning, learned,
                    statistics.median(timings), queries, by_status)  # fmt: skip


def bench(dialect: str, jobs: int, per_job: int) -> bool:
    """The check at ``jobs`` and at a tenth of it, side by side: the time at ``jobs`` against
    the target, and the queries per check the same at both sizes (none per job)."""
    small, large = (measure(dialect, count, per_job) for count in (max(1, jobs // 10), jobs))
    same_queries = small.queries == large.queries
    fast = large.check < TARGET_SECONDS
    ok = fast and same_queries
    sizes = [small, large]

    def side_by_side(label: str, cell: Callable[[Measured], str]) -> tuple[str, str]:
        return (label, "   ".join(cell(m).rjust(14) for m in sizes))

    report(
        f"status check, {small.jobs:,} jobs against {large.jobs:,} ({dialect}, {per_job} runs "
        "per job)",
        [
            side_by_side("jobs", lambda m: f"{m.jobs:,}"),
            side_by_side("runs", lambda m: f"{m.runs:,}"),
            side_by_side("filled (bulk, triggers on)", lambda m: f"{m.filled:.1f} s"),
            side_by_side("first learning (once)", lambda m: f"{m.learning:.2f} s"),
            side_by_side("status check, median of 5", lambda m: f"{m.check:.3f} s"),
            side_by_side("queries per check", lambda m: f"{m.queries}"),
            (
                "time ratio",
                f"{large.check / small.check:.1f}x for {large.jobs / small.jobs:.0f}x the jobs",
            ),
            (
                "target",
                f"< {TARGET_SECONDS:g} s at {large.jobs:,} jobs; queries per check the "
                "same at both sizes",
            ),
            ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(large.by_status.items()))),
            verdict(ok, "QUERIES GROW WITH THE JOBS" if not same_queries else "BELOW TARGET"),
        ],
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100, help="runs per job")
    args = parser.parse_args()
    dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
    exit_with_verdicts([bench(dialect, args.jobs, args.runs) for dialect in dialects])


if __name__ == "__main__":
    main()
