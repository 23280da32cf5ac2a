"""OnCalendar schedules against the cron schedules they replace: microseconds per call.

Target (issue 16): an OnCalendar schedule must not make the health check of 10,000 jobs
(``bench_health``) slower than cron does. Measured side by side in one run, interleaved (the
machine is shared): ``next_after`` and ``previous_at_or_before`` at 1,000 distinct instants
(no cache helps), and the health rules (``evaluate``) of 10,000 jobs, each with a schedule of
its own zone, half on time and half missing. Verdict: the health rules' ratio calendar / cron
at most 1.10 (the same within noise); exits 1 when it is over.

    python -m bench.bench_schedule [--calls 1000] [--jobs 10000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from bench.common import exit_with_verdicts, interleaved, report, verdict
from cronwatch.health.evaluate import evaluate
from cronwatch.health.model import HostSummary, JobFacts
from cronwatch.schedule import CronSchedule, Schedule, parse_schedule
from cronwatch.specs import JobSpec

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
TARGET_RATIO = 1.10
# The same slots written both ways, in a zone with DST (cron, calendar).
PAIRS = [
    ("*/15 * * * *", "OnCalendar=*:0/15"),
    ("0 3 * * *", "OnCalendar=03:00"),
    ("0 9 * * 1-5", "OnCalendar=Mon..Fri 09:00"),
    ("0 0 1 * *", "OnCalendar=monthly"),
]
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]


def per_call(calls: int) -> list[tuple[str, str]]:
    rng = random.Random(1)
    instants = [
        NOW + timedelta(seconds=rng.randint(-400 * 86400, 400 * 86400)) for _ in range(calls)
    ]
    rows = []
    for cron_text, calendar_text in PAIRS:
        cron = CronSchedule(cron_text, "Europe/Berlin")
        calendar = parse_schedule(calendar_text, "Europe/Berlin")
        for method in ("next_after", "previous_at_or_before"):

            def sweep(schedule: Schedule, method: str = method) -> None:
                call = getattr(schedule, method)
                for t in instants:
                    call(t)

            times = interleaved(
                {"cron": lambda c=cron: sweep(c), "calendar": lambda c=calendar: sweep(c)},  # type: ignore[misc]
                rounds=5,
                per_round=1,
            )
            cron_us, calendar_us = (times[k] / calls * 1e6 for k in ("cron", "calendar"))
            rows.append(
                (
                    f"{calendar_text[11:]:<16} {method}",
                    f"{calendar_us:6.1f} µs   cron {cron_us:6.1f} µs   "
                    f"ratio {calendar_us / cron_us:4.2f}",
                )
            )
    return rows


def facts(jobs: int, calendar: bool) -> list[JobFacts]:
    out = []
    for j in range(jobs):
        cron_text, calendar_text = PAIRS[j % len(PAIRS)]
        zone = ZONES[j % len(ZONES)]
        schedule = parse_schedule(calendar_text if calendar else cron_text, zone)
        # Distinct slots per job, so that the schedule caches of the health rules help little.
        last = schedule.previous_at_or_before(NOW - timedelta(minutes=j % 997))
        if j % 2:
            last = schedule.previous_at_or_before(last - timedelta(days=3))  # missing
        spec = JobSpec(
            name=f"job-{j}", schedule=schedule, timezone=zone, grace=timedelta(minutes=5),
            hosts=(), min_hosts=None, max_runtime=None, min_runtime=None, tags=(),
            paused=False, alerts=(), grace_explicit=True,
        )  # fmt: skip
        row = HostSummary(
            hostname="h1", first_seen=NOW - timedelta(days=400), last_started=last,
            prev_started=None, last_completed=last + timedelta(seconds=30),
            last_outcome="success", last_exit_code=0, last_duration=timedelta(seconds=30),
            last_success_started=last, last_success_completed=last + timedelta(seconds=30),
            consecutive_failures=0, runs_total=10,
        )  # fmt: skip
        out.append(JobFacts(spec, created=NOW - timedelta(days=400), hosts=(row,), running=()))
    return out


def health(jobs: int) -> tuple[list[tuple[str, str]], float]:
    rows = []
    results = {}
    for label, calendar in (("cron", False), ("calendar", True)):
        all_facts = facts(jobs, calendar)
        best = float("inf")
        for offset in range(3):  # a new `now` each round: the lru caches start cold
            now = NOW + timedelta(seconds=offset + 1)
            start = time.perf_counter()
            for item in all_facts:
                evaluate(item, now)
            best = min(best, time.perf_counter() - start)
        results[label] = best
        rows.append((f"evaluate {jobs} jobs, {label}", f"{best * 1000:7.0f} ms"))
    ratio = results["calendar"] / results["cron"]
    rows.append(("ratio calendar / cron", f"{ratio:.2f}  (target <= {TARGET_RATIO:.2f})"))
    return rows, ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    report("per call (1 zone with DST, distinct instants, median of 5 interleaved rounds)",
           per_call(args.calls))  # fmt: skip
    rows, ratio = health(args.jobs)
    ok = ratio <= TARGET_RATIO
    report("health rules of many jobs (best of 3, cold caches)", [*rows, verdict(ok)])
    exit_with_verdicts([ok])


if __name__ == "__main__":
    main()
