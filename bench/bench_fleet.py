"""A fleet of 1,000 hosts at two sizes side by side (default 1,000 and 100,000 jobs): what
issue 13 ("100,000 jobs and beyond") asks to stay flat.

Each size gets its own database, filled in bulk: every job declared through the API (its spec
in ``jobs``: a quarter each ``*/15 * * * *``, ``0 * * * *``, ``every 15m``, ``every 1h``, grace
10 minutes), on one of 1,000 hosts, with its last run on time and its baseline learned. The
clock is set 7 minutes after a quarter hour, so that nothing is due for the next 3 minutes.
Measured, alternating the sizes so both see the same machine load:

- the first alert cycle (every job's state and next deadline written) and a full cycle (the
  hourly safety net), once each;
- a steady incremental cycle (nothing changed: the loop's every 30 s; the bench's clock moves
  10 s a cycle so that no deadline passes), median of ``--rounds``;
  target: at most 2x at the large size what it costs at the small one;
- a cycle after 100 jobs received a run (the same number at both sizes: the work follows what
  changed); target: at most 2x;
- the first page (100 jobs) of ``/api/v1/status`` (``JobsService.statuses_page``, in
  process); target: at most 2x;
- the overview's first page (its data, ``load_overview``: 100 jobs, the counts per status of
  every job; the alert loop beating); target: at most 2x;
- the overview's first page filtered by a name that 100 jobs at either size contain
  (``job-0001``) and by one host (1 job at 1,000, 100 at 100,000): for information, no target;
- ``cronwatch check`` of every job as a process (start-up included), after one alert cycle at
  the real time (as a running loop leaves it); target: under 3 s at the large size;
- ``cronwatch check --tag db`` as a process and ``/api/v1/status?tag=db``
  (``JobsService.statuses``, in process), the tag of 100 jobs at either size: for
  information, no target.

Prints each figure at both sizes with the ratio, a verdict per target; exits 1 when one is
missed.

    python -m bench.bench_fleet                         # 1,000 and 100,000 jobs, SQLite
    python -m bench.bench_fleet --dialect both          # the issue's figures (a few minutes)
    python -m bench.bench_fleet --jobs 1000 20000       # quicker

``--live`` runs the fleet simulation instead (:mod:`bench.fleet_live`: real ``serve``
processes and alert loops under the fleet's pings; pings/s and CPU per process, cycle times,
pages under load, size per million runs, prune cost):

    python -m bench.bench_fleet --live --dialect postgresql
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta

from bench import fleet_live
from bench.common import exit_with_verdicts, load_runs, report, scratch_database, verdict
from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.jobs import JobsService
from cronwatch.storage import open_database
from cronwatch.storage.connection import Database
from cronwatch.timeutil import to_us, utcnow
from cronwatch.web.dashboard.overview import Filters, load_overview

HOSTS = 1000
SCHEDULES = [("*/15 * * * *", 900), ("0 * * * *", 3600), ("every 15m", 900), ("every 1h", 3600)]
CHANGED = 100  # jobs that receive a run before the "after runs" cycle
TAGGED = 100  # jobs tagged "db" (at either size)


def quarter_before(t: datetime) -> datetime:
    """The quarter hour at least 7 minutes before ``t``."""
    t = t - timedelta(minutes=7)
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def populate(db: Database, jobs: int, slot: datetime) -> None:
    """``jobs`` API-declared jobs on :data:`HOSTS` hosts, each with its last run on time (5 s
    after ``slot``, an hourly job's after the hour) and its baseline learned; :data:`TAGGED`
    of them, spread, tagged ``db``."""
    created = to_us(slot - timedelta(days=2))
    specs = [json.dumps({"schedule": schedule, "grace": "10m"}) for schedule, _ in SCHEDULES]
    tagged = [
        json.dumps({"schedule": schedule, "grace": "10m", "tags": ["db"]})
        for schedule, _ in SCHEDULES
    ]
    every = max(1, jobs // TAGGED)
    rows = [
        (f"job-{j:06d}", "api", (tagged if j % every == 0 else specs)[j % 4], created, created)
        for j in range(jobs)
    ]
    with db.transaction() as cur:
        statement = db.sql(
            "INSERT INTO jobs (name, source, spec, created_us, updated_us) VALUES (?, ?, ?, ?, ?)"
        )
        cur.executemany(statement, rows)  # type: ignore[attr-defined]

    def runs() -> Iterator[tuple[object, ...]]:
        for j in range(jobs):
            period = SCHEDULES[j % 4][1]
            last = slot if period == 900 else slot.replace(minute=0)
            started = to_us(last) + 5_000_000
            yield (f"job-{j:06d}", f"host-{j % HOSTS:04d}", uuid.uuid4().hex, "success", 0,
                   started, started + 5_000_000, 5_000_000)  # fmt: skip

    load_runs(db, runs())
    # Baselines as learned (one run each): the first cycle does not relearn 100,000 of them,
    # which a running fleet's loop never has to do at once.
    with db.transaction() as cur:
        cur.executemany(  # type: ignore[attr-defined]
            db.sql(
                "INSERT INTO job_baselines (name, samples, runs_total_at, computed_us)"
                " VALUES (?, 1, 1, ?)"
            ),
            [(f"job-{j:06d}", created) for j in range(jobs)],
        )


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Fleet:
    """One size: its database, its clock, its measurements."""

    def __init__(self, url: str, jobs: int, now: datetime) -> None:
        self.url, self.jobs, self.now = url, jobs, now
        self.db = open_database(url)
        self.figures: dict[str, list[float]] = {}

    def record(self, key: str, value: float) -> None:
        self.figures.setdefault(key, []).append(value)

    def cycle(self, *, full: bool = False, step: timedelta = timedelta(seconds=10)) -> object:
        self.now += step
        return run_alert_cycle(self.db, None, self.now, worker="alerts@bench", full=full)

    def ping(self, count: int) -> None:
        stamp = to_us(self.now)
        rows = [
            (f"job-{j:06d}", f"host-{j % HOSTS:04d}", uuid.uuid4().hex, "success", 0, stamp,
             stamp + 1_000_000, 1_000_000)
            for j in range(0, self.jobs, max(1, self.jobs // count))
        ][:count]  # fmt: skip
        with self.db.transaction() as cur:
            cur.executemany(  # type: ignore[attr-defined]
                self.db.sql(
                    "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
                    " completed_us, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                rows,
            )

    def check(self, *options: str) -> float:
        """``cronwatch check [options]`` as a process, after one cycle at the real time."""
        run_alert_cycle(self.db, None, utcnow(), worker="alerts@bench")
        env = {
            k: v for k, v in os.environ.items() if k not in ("CRONWATCH_URL", "CRONWATCH_CONFIG")
        }
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "cronwatch", "--database-url", self.url, "check", *options],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        took = time.perf_counter() - start
        if done.returncode == 3:
            raise RuntimeError(f"cronwatch check: {done.stdout}{done.stderr}")
        return took


def bench(dialect: str, sizes: list[int], rounds: int) -> list[bool]:
    slot = quarter_before(utcnow())
    with ExitStack() as stack:
        fleets = []
        for jobs in sizes:
            url = stack.enter_context(scratch_database(dialect))
            fleet = Fleet(url, jobs, slot + timedelta(minutes=7))
            stack.callback(fleet.db.close)
            started = time.perf_counter()
            populate(fleet.db, jobs, slot)
            print(f"  {dialect}: {jobs:,} jobs loaded in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)  # fmt: skip
            fleet.record("first", seconds(functools.partial(fleet.cycle, full=True)))
            fleets.append(fleet)
        for fleet in fleets:
            full = functools.partial(fleet.cycle, full=True, step=timedelta(0))
            fleet.record("full", seconds(full))
            # What autovacuum (PostgreSQL) does once the first cycles rewrote every job's
            # deadline: without fresh statistics the planner takes every deadline for 0
            # (the column's value when the table was loaded) and scans the table.
            fleet.db.execute("ANALYZE")
        for _ in range(rounds):
            for fleet in fleets:
                fleet.record("steady", seconds(fleet.cycle))
        for _ in range(rounds):
            for fleet in fleets:
                fleet.ping(CHANGED)
                fleet.record("changed", seconds(fleet.cycle))
        for _ in range(rounds):
            for fleet in fleets:
                page = functools.partial(JobsService(fleet.db).statuses_page, limit=100)
                fleet.record("page", seconds(page))
                overview = functools.partial(load_overview, fleet.db, None, Filters(), fleet.now)
                fleet.record("overview", seconds(overview))
                for key, filters in (("named", Filters(q="job-0001")),
                                     ("hosted", Filters(host="host-0007"))):  # fmt: skip
                    filtered = functools.partial(load_overview, fleet.db, None, filters, fleet.now)
                    fleet.record(key, seconds(filtered))
        for _ in range(max(1, rounds // 3)):
            for fleet in fleets:
                fleet.record("check", fleet.check())
                fleet.record("check-tag", fleet.check("--tag", "db"))
                # At the real time, as the API answers: just after check's cycle (a loop beating).
                tagged = functools.partial(JobsService(fleet.db).statuses, tags=["db"])
                fleet.record("status-tag", seconds(tagged))

    small, large = fleets[0], fleets[-1]

    def median(fleet: Fleet, key: str) -> float:
        return statistics.median(fleet.figures[key])

    results: list[bool] = []
    rows: list[tuple[str, str]] = []
    for key, label in (
        ("first", "first cycle (states, deadlines written)"),
        ("full", "full cycle (the hourly safety net)"),
    ):
        rows.append((label, f"{median(small, key):.3f} s  vs  {median(large, key):.3f} s"))
    for key, label, target in (
        ("steady", f"steady cycle, nothing changed (median of {rounds})", 2.0),
        ("changed", f"cycle after {CHANGED} jobs got a run", 2.0),
        ("page", "/api/v1/status first page of 100", 2.0),
        ("overview", "overview first page (100 jobs, counts)", 2.0),
    ):
        a, b = median(small, key), median(large, key)
        ok = b <= target * a
        results.append(ok)
        rows.append((label, f"{a * 1000:.1f} ms  vs  {b * 1000:.1f} ms  = {b / a:.2f}x "
                     f"(target <= {target:.0f}x)  {'OK' if ok else 'BELOW TARGET'}"))  # fmt: skip
    for key, label in (
        ("named", "overview filtered by a name (100 jobs match)"),
        ("hosted", "overview filtered by a host (1 vs 100 jobs)"),
        ("status-tag", f"/api/v1/status?tag=db ({TAGGED} jobs match)"),
    ):
        a, b = median(small, key), median(large, key)
        rows.append((label, f"{a * 1000:.1f} ms  vs  {b * 1000:.1f} ms  = {b / a:.2f}x"))
    a, b = median(small, "check"), median(large, "check")
    ok = b < 3.0
    results.append(ok)
    rows.append(("cronwatch check, every job, as a process",
                 f"{a:.2f} s  vs  {b:.2f} s  (target < 3 s at {large.jobs:,})  "
                 f"{'OK' if ok else 'BELOW TARGET'}"))  # fmt: skip
    a, b = median(small, "check-tag"), median(large, "check-tag")
    rows.append((f"cronwatch check --tag db ({TAGGED} jobs match), as a process",
                 f"{a:.2f} s  vs  {b:.2f} s  = {b / a:.2f}x"))  # fmt: skip
    rows.append(verdict(all(results)))
    report(f"fleet of {HOSTS:,} hosts, {small.jobs:,} vs {large.jobs:,} jobs ({dialect})", rows)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--jobs", type=int, nargs=2, default=[1_000, 100_000])
    parser.add_argument("--rounds", type=int, default=5)
    fleet_live.add_arguments(parser)
    args = parser.parse_args()
    results: list[bool] = []
    for dialect in ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]:
        if args.live:
            results.append(fleet_live.live(dialect, fleet_live.options_from(args)))
        else:
            results += bench(dialect, sorted(args.jobs), args.rounds)
    exit_with_verdicts(results)


if __name__ == "__main__":
    main()
