"""The cost of one alert cycle with 10,000 jobs.

A cycle is: heartbeat, the health evaluation of every job (as `cronwatch check`), the alert
state of every job and host compared, the flips written, due deliveries sent. Reported, on
the data of ``bench_health`` (half the jobs declared, half learned; 10% stopped, some failing
or slow):

- the first cycle: every job's and host's alerting state is created (once per database);
- a steady cycle: nothing changed since the last one (the normal case, every 30 s);
- a cycle in which 1% of the jobs flip (100 problems announced to a webhook on loopback);
- the health evaluation alone, measured the same way, for the overhead of alerting.

Target: a steady cycle within the status check's own budget (under 1 s at 10,000 jobs, as
``bench_health``), and in the cycle where jobs fail each one announced and sent exactly once.
Prints a verdict; exits 1 when short.

    python -m bench.bench_alerts [--dialect sqlite|postgresql|both] [--jobs 10000] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.bench_health import NOW, config_text, runs
from bench.common import (
    RUN_COLUMNS,
    exit_with_verdicts,
    load_runs,
    report,
    scratch_database,
    verdict,
)
from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.config import load_config
from cronwatch.health.service import job_statuses
from cronwatch.storage import open_database
from cronwatch.timeutil import to_us


class _Quiet(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


TARGET_SECONDS = 1.0


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench(dialect: str, jobs: int, per_job: int, flips: int) -> bool:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with scratch_database(dialect) as url, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cronwatch.toml"
        path.write_text(
            f'[alerts]\nchannels = ["hook"]\n[channels.hook]\ntype = "webhook"\nurl = "{hook}"\n'
            + config_text(jobs)
        )
        config = load_config(path)
        with open_database(url) as db:
            load_runs(db, runs(jobs, per_job))
            job_statuses(db, config, now=NOW - timedelta(hours=1))  # declare, learn baselines

            clock = [NOW]

            def cycle() -> Any:
                clock[0] += timedelta(seconds=30)  # the loop's interval: no outage between
                return run_alert_cycle(db, config, clock[0], worker="alerts@bench")

            start = time.perf_counter()
            first = cycle()
            first_seconds = time.perf_counter() - start
            steady = timed(cycle, 5)
            health = timed(lambda: job_statuses(db, config, now=clock[0]), 5)

            # 1% of the jobs (healthy ones) fail now: that many problems announced and sent.
            healthy = [j for j in range(jobs) if j % 10 and j % 13 and j % 7][:flips]
            stamp = to_us(clock[0])
            with db.transaction() as cur:
                cur.executemany(  # type: ignore[attr-defined]
                    db.sql(
                        f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, 'failure', 1, ?, ?, ?)"
                    ),
                    [(f"job-{j}", f"host-{j % 5}", uuid.uuid4().hex, stamp, stamp + 1_000_000,
                      1_000_000) for j in healthy],
                )  # fmt: skip
            start = time.perf_counter()
            flipped = cycle()
            flip_seconds = time.perf_counter() - start
    server.shutdown()
    problems = sum(1 for e in flipped.notifications if e.kind == "problem")
    ok = steady < TARGET_SECONDS and problems == flipped.delivery.sent == len(healthy)
    report(
        f"alert cycle, {jobs:,} jobs, {jobs * per_job:,} runs ({dialect})",
        [
            ("first cycle (states created)",
             f"{first_seconds:.2f} s, {len(first.events):,} events, "
             f"{len(first.notifications):,} problems announced, {first.delivery.sent:,} sent"),
            ("steady cycle, median of 5", f"{steady:.3f} s  (nothing changed)"),
            ("health evaluation alone",
             f"{health:.3f} s  (alerting adds {steady - health:+.3f} s)"),
            (f"cycle with {len(healthy)} jobs failing",
             f"{flip_seconds:.3f} s, {problems} problems, {flipped.delivery.sent} webhooks sent"),
            ("target", f"steady < {TARGET_SECONDS:g} s; {len(healthy)} problems announced and "
                       "sent"),
            verdict(ok),
        ],
    )  # fmt: skip
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20, help="runs per job")
    parser.add_argument("--flips", type=int, default=100, help="jobs that fail in one cycle")
    args = parser.parse_args()
    dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
    exit_with_verdicts([bench(dialect, args.jobs, args.runs, args.flips) for dialect in dialects])


if __name__ == "__main__":
    main()
