"""``/metrics`` of a real ``cronwatch serve`` at two fleet sizes side by side: the time a scrape
takes (to its last byte, streamed), the server's CPU seconds for it, and how much its peak
resident memory grew.

Each size gets its own database and config file: one job in two declared (cron and interval
schedules, every tenth tagged ``db``), the others only seen running, each job on one of 1,000
hosts with a finished run (every 13th failed). As ``serve`` runs by default, an alert loop
keeps the jobs' statuses: a full cycle after the fill, and an incremental one before each
round (in this process, untimed: a loop's own work, every 30 s in a real server), so a scrape
evaluates only the jobs that reached a deadline since. A ``serve`` process (``--no-alerts``:
no cycle during the scrapes) per size is warmed up (a scrape that keeps no job), then the
sizes are scraped in alternation, ``--rounds`` times each, so both see the same machine load;
the peak RSS (``VmHWM``, from ``/proc``) after the last timed scrape is compared with the RSS
before the first. The largest size is also served with ``[metrics] per_host = false`` (same
database), to show that option's effect, and from a database no alert loop ever looked at
(every job evaluated at every scrape: the worst case).

Target (issue 13, "/metrics at scale"): at 100,000 jobs a scrape takes under 3 s and the peak
RSS grows by under 100 MB, on SQLite and PostgreSQL. A largest size under 100,000 is projected
linearly to 100,000 (a scrape is one pass over the jobs) and said so. Prints a verdict; exits
1 when a target is missed.

    python -m bench.bench_metrics                       # 1,000 and 20,000 jobs, SQLite (~1 min)
    python -m bench.bench_metrics --jobs 1000 100000 --dialect both   # the issue's figures
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.bench_header_rss import free_port, memory_kb
from bench.common import exit_with_verdicts, load_runs, report, scratch_database, verdict
from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.config import load_config
from cronwatch.storage import open_database
from cronwatch.storage.jobs import JobStore
from cronwatch.timeutil import to_us

TARGET_SECONDS = 3.0
TARGET_MB = 100.0
AT_SCALE = 100_000
HOSTS = 1_000
SCHEDULES = ['"*/15 * * * *"', '"every 15m"', '"0 * * * *"', '"every 1h"']


def config_text(jobs: int) -> str:
    lines = []
    for j in range(0, jobs, 2):
        lines.append(f'[jobs."job-{j}"]\nschedule = {SCHEDULES[j % 4]}\n')
        if j % 10 == 0:
            lines.append('tags = ["db"]\n')
    return "".join(lines)


def runs(jobs: int, now: datetime) -> Iterator[tuple[object, ...]]:
    for j in range(jobs):
        started = to_us(now) - (60 + j % 600) * 1_000_000
        failed = j % 13 == 0
        yield (f"job-{j}", f"host-{j % HOSTS}", uuid.uuid4().hex,
               "failure" if failed else "success", 1 if failed else 0,
               started, started + 20_000_000, 20_000_000)  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ)


@contextmanager
def serving(url: str, config: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    argv = [sys.executable, "-m", "cronwatch.cli", "--database-url", url, "--config",
            str(config), "serve", "--port", str(port), "--no-alerts",
            "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=60)


def scrape(base: str, query: str = "") -> tuple[float, int, int]:
    """Seconds to the last byte, bytes and lines of one ``/metrics``."""
    size = lines = 0
    start = time.perf_counter()
    with httpx.stream("GET", f"{base}/metrics{query}", timeout=600) as response:
        response.raise_for_status()
        for piece in response.iter_bytes():
            size += len(piece)
            lines += piece.count(b"\n")
    return time.perf_counter() - start, size, lines


def fleet(stack: ExitStack, dialect: str, jobs: int, loop: bool) -> tuple[str, Path, float]:
    """A filled database and its config file (with ``loop``, after an alert loop's full
    cycle); the seconds it took."""
    start = time.perf_counter()
    url = stack.enter_context(scratch_database(dialect))
    config = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "cronwatch.toml"
    config.write_text(config_text(jobs))
    now = datetime.now(UTC)
    with open_database(url) as db:
        load_runs(db, runs(jobs, now))
        JobStore(db).sync_declared(load_config(config).jobs.values(), now - timedelta(hours=1))
    if loop:
        cycle(url, config, full=True)
    return url, config, time.perf_counter() - start


def cycle(url: str, config: Path, *, full: bool = False) -> None:
    """One alert cycle over the database, as a serve's loop runs it."""
    with open_database(url) as db:
        run_alert_cycle(db, load_config(config), worker="bench", full=full)


def bench(dialect: str, sizes: list[int], rounds: int) -> bool:
    small, large = sizes[0], sizes[-1]
    lean = f"{large:,} jobs, per_host = false"
    bare = f"{large:,} jobs, no alert loop"
    with ExitStack() as stack:
        servers = {}
        loops: list[tuple[str, Path]] = []  # the databases an alert loop keeps
        for jobs, loop in [(n, True) for n in sizes] + [(large, False)]:
            url, config, filled = fleet(stack, dialect, jobs, loop)
            variants = [(f"{jobs:,} jobs" if loop else bare, config)]
            if loop:
                loops.append((url, config))
            if jobs == large and loop:  # the same jobs without per-host series
                per_job = config.with_name("per_job.toml")
                per_job.write_text("[metrics]\nper_host = false\n" + config.read_text())
                variants.append((lean, per_job))
            for label, path in variants:
                base, process = stack.enter_context(serving(url, path))
                scrape(base, "?tag=bench-warmup-keeps-nothing")
                servers[label] = (base, process, filled, memory_kb(process.pid))
        times: dict[str, list[float]] = {label: [] for label in servers}
        cpu: dict[str, list[float]] = {label: [] for label in servers}
        shape: dict[str, tuple[int, int]] = {}
        for _ in range(rounds):
            for url, config in loops:
                cycle(url, config)
            for label, (base, process, _, _) in servers.items():
                before = cpu_seconds(process.pid)
                took, size, lines = scrape(base)
                cpu[label].append(cpu_seconds(process.pid) - before)
                times[label].append(took)
                shape[label] = (size, lines)
        # The peak during the scrapes over the resident memory just before them (not over the
        # earlier peak: reading a large config file at start may have been higher).
        grown = {
            label: (memory_kb(process.pid)["VmHWM"] - before_kb["VmRSS"]) / 1024
            for label, (_, process, _, before_kb) in servers.items()
        }
    median = {label: statistics.median(values) for label, values in times.items()}
    big = f"{large:,} jobs"
    scale = AT_SCALE / large
    at_scale = median[big] * max(scale, 1.0)
    worst = median[bare] * max(scale, 1.0)
    ok = at_scale < TARGET_SECONDS and grown[big] < TARGET_MB
    projected = "" if large >= AT_SCALE else f" (projected from {large:,}: x{scale:g})"
    rows = []
    for label in servers:
        size, lines = shape[label]
        rows.append((
            label,
            f"{median[label]:.3f} s to the last byte (server CPU "
            f"{statistics.median(cpu[label]):.2f} s), {size / 1e6:.1f} MB, {lines:,} lines; "
            f"peak RSS {grown[label]:+.1f} MB",
        ))  # fmt: skip
    rows += [
        (
            f"{large:,} / {small:,}",
            f"x{median[big] / median[f'{small:,} jobs']:.1f} the time for "
            f"x{large / small:g} the jobs",
        ),
        (
            f"at {AT_SCALE:,} jobs",
            f"{at_scale:.2f} s{projected} (target < {TARGET_SECONDS:g} s), peak RSS "
            f"{grown[big]:+.1f} MB (target < {TARGET_MB:g} MB)",
        ),
        (
            f"at {AT_SCALE:,} jobs, no loop",
            f"{worst:.2f} s{projected} (every job evaluated; not the target's case), peak RSS "
            f"{grown[bare]:+.1f} MB",
        ),
        ("filled in", ", ".join(f"{servers[f'{n:,} jobs'][2]:.0f} s" for n in sizes)),
        ("load average", "{:.1f} {:.1f} {:.1f} (2 cores, shared)".format(*os.getloadavg())),
        verdict(ok),
    ]
    report(f"/metrics of cronwatch serve, {dialect}, median of {rounds} scrapes", rows)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1_000, 20_000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = sorted(args.jobs)
    dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
    results = [bench(dialect, sizes, args.rounds) for dialect in dialects]
    exit_with_verdicts(results)


if __name__ == "__main__":
    main()
