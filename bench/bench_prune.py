"""Pruning old runs: ``cronwatch prune`` against one bare ``DELETE`` of the same rows.

Two identical databases of ``--runs`` runs (1,000 jobs, one run every ~4 hours each, the
oldest half older than the 90-day retention). On one, :func:`cronwatch.retention.prune`
(a job at a time, 5,000 rows per statement, each job's latest 50 kept); on the other, the
fastest possible way, one ``DELETE FROM runs WHERE started_us < cutoff``. Meanwhile a thread
records a run every few milliseconds into each database, and the longest of those recordings
is reported: the batched prune should let recording go on, the single statement holds the
write lock (SQLite) for its whole length.

Target: while cronwatch prunes, no recording waits longer than 0.5 s (``--target-ms``; a
5,000-row batch at a time lets the recordings in between), and it deletes no more than the
bare DELETE (each job's latest 50 are kept). Prints a verdict; exits 1 when short. Also
reported: the size of the runs table and its indexes per million runs, and the prune's
seconds per million runs deleted (``--runs 2000000`` deletes a million).

Then the alert loop's hourly prune at ``--jobs`` jobs (default 100,000) shaped like the fleet
of ``bench_fleet --live``: each job's latest run a day old and one run 100 days old. With the
default retention (keep 50 per job) there is nothing to delete (the prune that every loop ran
every hour); with ``keep_last = 1`` one old run per job. Information, no target: the first
should cost an index read, not a statement per job.

    python -m bench.bench_prune [--dialect sqlite|postgresql|both] [--runs 200000] [--target-ms 500]
                                [--jobs 100000]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import cronwatch
from bench.common import (
    database_size,
    exit_with_verdicts,
    load_runs,
    report,
    scratch_database,
    verdict,
)
from cronwatch.retention import prune
from cronwatch.specs import Retention
from cronwatch.storage import open_database
from cronwatch.storage.connection import Database
from cronwatch.timeutil import to_us

NOW = datetime(2026, 11, 28, tzinfo=UTC)
JOBS = 1000
SPAN = timedelta(days=180)


def synthetic_runs(total: int) -> Iterator[tuple[object, ...]]:
    per_job = total // JOBS
    step = SPAN / per_job
    for i in range(per_job):
        for j in range(JOBS):
            started = to_us(NOW - SPAN + i * step) + j * 1_000_000
            yield (f"job-{j}", f"host-{j % 7}", uuid.uuid4().hex, "success", 0,
                   started, started + 5_000_000, 5_000_000)  # fmt: skip


def while_recording(url: str, work: Callable[[], int]) -> tuple[int, float, float, int]:
    """Run ``work`` while another connection records runs; (rows, seconds, longest recording
    in seconds, recordings made)."""
    stop = threading.Event()
    latencies: list[float] = []

    def record() -> None:
        with cronwatch.connect(url, statsd=False) as monitor:
            while not stop.is_set():
                started = time.perf_counter()
                now = datetime.now(UTC)
                monitor.record_success("recorder", now, now, "bench")
                latencies.append(time.perf_counter() - started)
                time.sleep(0.005)

    thread = threading.Thread(target=record)
    thread.start()
    time.sleep(0.2)
    started = time.perf_counter()
    rows = work()
    seconds = time.perf_counter() - started
    stop.set()
    thread.join()
    return rows, seconds, max(latencies), len(latencies)


def bench(dialect: str, total: int, target_ms: float) -> bool:
    retention = Retention()  # 90 days, keep 50 per job
    cutoff = NOW - (retention.runs or timedelta(0))
    with scratch_database(dialect) as batched_url, scratch_database(dialect) as bare_url:
        filled = time.perf_counter()
        for url in (batched_url, bare_url):
            with open_database(url) as db:
                load_runs(db, synthetic_runs(total))
        print(f"[{dialect}] filled 2 x {total:,} runs in {time.perf_counter() - filled:.1f}s")
        with open_database(batched_url) as db:
            runs, table, whole = database_size(db)

        def bare_delete(db: Database) -> int:
            return db.execute("DELETE FROM runs WHERE started_us < ?", (to_us(cutoff),))

        with open_database(batched_url) as batched, open_database(bare_url) as bare:
            results = {
                "cronwatch prune": while_recording(
                    batched_url, lambda: prune(batched, retention, NOW).runs
                ),
                "one bare DELETE": while_recording(bare_url, lambda: bare_delete(bare)),
            }
    rows = [("size before", f"{runs:,} runs: the runs table and its indexes {table / 1e6:.0f} MB "
                            f"= {table / runs:.0f} MB per million runs; the database "
                            f"{whole / 1e6:.0f} MB")]  # fmt: skip
    for name, (deleted, seconds, longest, recordings) in results.items():
        rows.append((name, f"{deleted:,} runs in {seconds:.2f}s ({deleted / seconds:,.0f}/s); "
                           f"longest recording meanwhile {longest * 1e3:.0f} ms "
                           f"({recordings} made)"))  # fmt: skip
    pruned, seconds = results["cronwatch prune"][:2]
    rows.append(("cronwatch prune per million", f"{seconds / pruned * 1e6:.1f} s per million runs "
                                                f"deleted ({JOBS} jobs)"))  # fmt: skip
    ratio = results["cronwatch prune"][1] / results["one bare DELETE"][1]
    rows.append(("time ratio", f"{ratio:.2f}x  (the price of keeping recording going)"))
    pruned, _, longest, _ = results["cronwatch prune"]
    bare_deleted = results["one bare DELETE"][0]
    ok = longest * 1e3 < target_ms and pruned <= bare_deleted  # never more than those rows
    target = f"longest recording while pruning < {target_ms:g} ms"
    rows.append(("target", f"{target}; {pruned:,} deleted of the bare DELETE's {bare_deleted:,}"))
    rows.append(verdict(ok))
    report(f"pruning runs older than 90 days ({dialect}, {total:,} runs, {JOBS} jobs)", rows)
    return ok


def fleet_runs(jobs: int) -> Iterator[tuple[object, ...]]:
    for age in (timedelta(days=100), timedelta(days=1)):
        for j in range(jobs):
            started = to_us(NOW - age) + j * 1_000
            yield (f"job-{j:06d}", f"host-{j % 1000}", uuid.uuid4().hex, "success", 0,
                   started, started + 5_000_000, 5_000_000)  # fmt: skip


def bench_jobs(dialect: str, jobs: int) -> None:
    """The hourly prune at ``jobs`` jobs: nothing to delete, then one old run per job."""
    with scratch_database(dialect) as url, open_database(url) as db:
        load_runs(db, fleet_runs(jobs))
        if dialect == "postgresql":  # what autovacuum does to a table of inserts: the
            db.execute("VACUUM runs")  # visibility map that index-only scans rely on
        idle: list[float] = []
        for _ in range(3):  # the median of three: it deletes nothing, so it can be repeated
            started = time.perf_counter()
            nothing = prune(db, Retention(), NOW)
            idle.append(time.perf_counter() - started)
        started = time.perf_counter()
        old = prune(db, Retention(keep_last=1), NOW)
        seconds = time.perf_counter() - started
    median = sorted(idle)[1]
    rows = [
        ("nothing to delete", f"{median:.3f}s (median of 3: {', '.join(f'{s:.3f}' for s in idle)})"
                              f"; {nothing.jobs_examined:,} jobs examined, {nothing.runs} runs "
                              f"deleted; {median / jobs * 1e6:.1f} us per job"),
        ("one old run per job", f"{old.runs:,} runs deleted in {seconds:.2f}s = "
                                f"{seconds / max(old.runs, 1) * 1e6:.1f} s per million runs"),
    ]  # fmt: skip
    report(f"the hourly prune at {jobs:,} jobs ({dialect}; 2 runs a job, one 100 days old)", rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--target-ms", type=float, default=500.0)
    parser.add_argument("--jobs", type=int, default=100_000, help="0: no hourly-prune rows")
    args = parser.parse_args()
    dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
    verdicts = [bench(dialect, args.runs, args.target_ms) for dialect in dialects]
    if args.jobs:
        for dialect in dialects:
            bench_jobs(dialect, args.jobs)
    exit_with_verdicts(verdicts)


if __name__ == "__main__":
    main()
