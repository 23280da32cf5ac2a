"""last_activity() on a database of 1 thousand runs against one of 1 million runs.

Target (the project's quality bars; README, Development): flat, because the (name, started_us)
index is used: at most 2x (noise on a shared machine; a scan would be hundreds of times).
The big database holds 1,000 jobs x 1,000 runs; the small one 10 jobs x 100 runs.

    python -m bench.bench_last_activity [--dialect sqlite|postgresql|both] [--runs 1000000]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator

import cronwatch
from bench.common import (
    exit_with_verdicts,
    interleaved,
    load_runs,
    report,
    scratch_database,
    verdict,
)
from cronwatch.storage import open_database

T0_US = 1_767_225_600 * 1_000_000  # 2026-01-01


TARGET_RATIO = 2.0


def synthetic_runs(jobs: int, runs_per_job: int) -> Iterator[tuple[object, ...]]:
    for i in range(runs_per_job):
        for j in range(jobs):
            started = T0_US + (i * jobs + j) * 60_000_000
            outcome = "failure" if (i + j) % 10 == 0 else "success"
            yield (
                f"job-{j}",
                f"host-{j % 7}",
                uuid.uuid4().hex,
                outcome,
                1 if outcome == "failure" else 0,
                started,
                started + 5_000_000,
                5_000_000,
            )


def fill(url: str, jobs: int, runs_per_job: int) -> None:
    with open_database(url) as db:
        load_runs(db, synthetic_runs(jobs, runs_per_job))


def plan(url: str) -> str:
    with open_database(url) as db:
        if db.dialect.name == "sqlite":
            rows = db.query(
                "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE name = ? AND outcome = 'success' "
                "ORDER BY started_us DESC LIMIT 1",
                ("job-3",),
            )
            return "; ".join(str(row[-1]) for row in rows)
        rows = db.query(
            "EXPLAIN SELECT * FROM runs WHERE name = %s AND outcome = 'success' "
            "ORDER BY started_us DESC LIMIT 1".replace("%s", "?"),
            ("job-3",),
        )
        return " / ".join(str(row[0]).strip() for row in rows[:3])


def bench(dialect: str, big_runs: int) -> bool:
    with scratch_database(dialect) as small_url, scratch_database(dialect) as big_url:
        start = time.perf_counter()
        fill(small_url, 10, 100)
        fill(big_url, 1000, big_runs // 1000)
        print(f"[{dialect}] filled {big_runs:,} runs in {time.perf_counter() - start:.1f}s")
        small = cronwatch.connect(small_url, statsd=False)
        big = cronwatch.connect(big_url, statsd=False)
        assert small.last_activity("job-3") is not None and big.last_activity("job-3") is not None
        timings = interleaved(
            {
                "1 thousand runs": lambda: small.last_activity("job-3"),
                f"{big_runs:,} runs": lambda: big.last_activity("job-3"),
            },
            per_round=300,
        )
        query_plan = plan(big_url)
        small.close()
        big.close()
    small_t, big_t = timings.values()
    ratio = big_t / small_t
    report(
        f"last_activity, 1 thousand vs {big_runs:,} runs ({dialect})",
        [(name, f"{seconds * 1e6:8.1f} us/call") for name, seconds in timings.items()]
        + [("ratio", f"{ratio:.2f}x  (target: flat, <= {TARGET_RATIO:g}x)"), ("plan", query_plan),
           verdict(ratio <= TARGET_RATIO)],
    )  # fmt: skip
    return ratio <= TARGET_RATIO


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=1_000_000)
    args = parser.parse_args()
    dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
    exit_with_verdicts([bench(dialect, args.runs) for dialect in dialects])


if __name__ == "__main__":
    main()
