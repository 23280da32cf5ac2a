"""The fleet live (``python -m bench.bench_fleet --live``): issue 13's fleet simulation, real
processes on one database.

``--live-jobs`` jobs (default 100,000) on 1,000 hosts, declared through the API (each job's
spec in ``jobs``), a quarter each on ``M,M+15,M+30,M+45 * * * *``, ``M * * * *`` (their minutes
``M`` spread over the quarter and the hour), ``every 15m`` and ``every 1h`` (their phases
spread over the period), grace 10 minutes; each job has its last run on time and one run 100
days old (so that the hourly prune examines every job, as it does in a fleet older than the
retention). Then, on one database (PostgreSQL: the issue's setting; SQLite works too):

- two ``cronwatch serve --no-alerts`` processes (the load balanced ping and page servers) and
  two alert loops, each a process of its own (:class:`~cronwatch.alerts.loop.AlertLoop`, as
  ``cronwatch alerts`` runs it, reporting each cycle's summary and its prune as JSON lines:
  the loop's own records), with a webhook channel to an HTTP receiver in this process;
- **catch-up**: the runs that came due while the fleet was being loaded, sent at once;
- **natural rate**: for ``--window`` seconds every job pings as its schedule says, in real
  time (``/start`` at its slot, up to a second late, the finish 5 s later; one run in
  ``--fail-every`` fails), alternately to the two servers, by a load generator process
  (asyncio, keep-alive connections); meanwhile the overview (``/``) and ``/metrics`` are
  fetched every ``--probe-every`` seconds;
- **saturation**: ``wrk`` on both servers at once for ``--saturate`` seconds (plain pings with
  their own run ids, spread over 1,000 paused jobs: a burst that changes no status), to find
  the most each process takes;
- then the deliveries are drained and the loops stopped, and the hourly prune is timed at
  this size (nothing to delete; then one old run per job to delete).

Reported: pings/s and CPU seconds per 1,000 pings of each server process (``/proc/<pid>/
stat``) and of the database's backends (PostgreSQL), the load generator's lag behind the
schedule, alert cycle times per loop and phase, overview and ``/metrics`` latency under load,
the database's size per million runs, the prune's cost. Verdict: every acknowledged ping
stored, the servers kept up with the natural rate, every notification received exactly once,
no status change recorded twice.

    python -m bench.bench_fleet --live --dialect postgresql                # the issue's run
    python -m bench.bench_fleet --live --dialect postgresql --live-jobs 10000 --window 60 \\
        --saturate 10                                                       # a quick look

One module: the fleet's schedule (:func:`planned_starts`) is shared by the loader, the load
generator's script and the catch-up, and the child processes (``--pinger``, ``--alert-loop``)
are this module run again, so the simulation reads top to bottom in one place.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.bench_ping import Load, free_port, running, wrk
from bench.common import database_size, load_runs, report, scratch_database, verdict
from cronwatch.alerts.model import NOTIFYING
from cronwatch.storage.connection import Database

HOSTS = 1000
RUN_SECONDS = 5.0  # every run's length
OLD_RUN = timedelta(days=100)  # one run per job this old: beyond the 90-day retention
LOAD_JOBS = 1000  # the unscheduled jobs the saturation pings go to
KINDS = 4  # cron quarter-hourly, cron hourly, every 15m, every 1h (job j is kind j % 4)
PERIODS = (900.0, 3600.0, 900.0, 3600.0)
GOLDEN = 0.6180339887498949


# -- the fleet: schedules, planned runs -----------------------------------------------------


def schedule_text(j: int) -> str:
    kind, k = j % KINDS, j // KINDS
    if kind == 0:
        minute = k % 15
        return ",".join(str(minute + 15 * i) for i in range(4)) + " * * * *"
    if kind == 1:
        return f"{k % 60} * * * *"
    return "every 15m" if kind == 2 else "every 1h"


def _fraction(j: int) -> float:
    """A number in [0, 1) spread evenly over the jobs (the golden ratio's sequence)."""
    return ((j // KINDS) * GOLDEN) % 1.0


def planned_starts(j: int, base: float, since: float, until: float) -> list[float]:
    """The starts (Unix seconds) of job ``j`` in ``[since, until)``, ``base`` being the instant
    the fleet was loaded (interval jobs are anchored on their last start before it). Cron jobs
    start at their slot plus up to a second (the host's cron and the job's start-up)."""
    kind, period = j % KINDS, PERIODS[j % KINDS]
    if kind in (0, 1):
        offset = 60.0 * ((j // KINDS) % (15 if kind == 0 else 60))
        skew = _fraction(j)
        anchor = offset + skew
    else:
        anchor = base - _fraction(j) * period
    first = anchor + period * math.ceil((since - anchor) / period)
    return [
        t
        for t in (first + n * period for n in range(int((until - since) / period) + 2))
        if since <= t < until
    ]


def last_start(j: int, base: float) -> float:
    """Job ``j``'s last start at or before ``base``."""
    return planned_starts(j, base, base - PERIODS[j % KINDS], base + 1e-6)[-1]


def natural_runs_per_second(jobs: int) -> float:
    return sum(1.0 / PERIODS[j % KINDS] for j in range(jobs))


def populate(db: Database, jobs: int, base: float) -> None:
    """The fleet's jobs (API-declared), each with its last run on time and a 100-day-old one,
    and their baselines as learned; and the saturation's :data:`LOAD_JOBS` jobs, paused."""
    created = int((base - OLD_RUN.total_seconds() - 86400) * 1e6)
    texts = {
        text: json.dumps({"schedule": text, "grace": "10m"})
        for text in {schedule_text(j) for j in range(min(jobs, 4 * 60))}
    }
    rows = [(f"job-{j:06d}", "api", texts[schedule_text(j)], created, created) for j in range(jobs)]
    # The saturation's jobs: paused, so that their burst of runs changes no status.
    paused = json.dumps({"paused": True})
    rows += [(f"load-{j:04d}", "api", paused, created, created) for j in range(LOAD_JOBS)]
    with db.transaction() as cur:
        statement = db.sql(
            "INSERT INTO jobs (name, source, spec, created_us, updated_us) VALUES (?, ?, ?, ?, ?)"
        )
        cur.executemany(statement, rows)  # type: ignore[attr-defined]

    def runs() -> Iterator[tuple[object, ...]]:
        for j in range(jobs):
            host = f"host-{j % HOSTS:04d}"
            for started in (last_start(j, base) - OLD_RUN.total_seconds(), last_start(j, base)):
                us = int(started * 1e6)
                duration = int(RUN_SECONDS * 1e6)
                yield (
                    f"job-{j:06d}",
                    host,
                    uuid.uuid4().hex,
                    "success",
                    0,
                    us,
                    us + duration,
                    duration,
                )

    load_runs(db, runs())
    with db.transaction() as cur:
        cur.executemany(  # type: ignore[attr-defined]
            db.sql(
                "INSERT INTO job_baselines (name, samples, runs_total_at, computed_us)"
                " VALUES (?, 1, 2, ?)"
            ),
            [(f"job-{j:06d}", created) for j in range(jobs)],
        )


def write_pings(
    path: Path,
    key: str,
    jobs: int,
    base: float,
    since: float,
    until: float,
    fail_every: int,
    prefix: str,
) -> tuple[int, int]:
    """The pings of the runs planned in ``[since, until)`` into ``path``, one ``<Unix time>
    <path>`` a line in time order: each run's start, and 5 s later its finish (one run in
    ``fail_every`` exits 1). Returns (runs, failures)."""
    lines: list[tuple[float, str]] = []
    failures = 0
    for j in range(jobs):
        for started in planned_starts(j, base, since, until):
            rid = f"{prefix}-{j}-{int(started)}"
            query = f"?host=host-{j % HOSTS:04d}&rid={rid}"
            fails = fail_every > 0 and (j * 7 + int(started)) % fail_every == 0
            failures += fails
            lines.append((started, f"/ping/{key}/job-{j:06d}/start{query}"))
            lines.append(
                (started + RUN_SECONDS, f"/ping/{key}/job-{j:06d}{'/1' if fails else ''}{query}")
            )
    lines.sort()
    path.write_text("".join(f"{t:.3f} {p}\n" for t, p in lines))
    return len(lines) // 2, failures


# -- the load generator (a process of its own) ----------------------------------------------


async def _send_pings(schedule: Path, urls: list[str], connections: int) -> dict[str, Any]:
    """Send each ping of ``schedule`` at its time (at once when late), alternately to
    ``urls``, over ``connections`` keep-alive connections per URL (reopened when the server
    closed an idle one)."""
    events = [line.split(" ", 1) for line in schedule.read_text().splitlines()]
    queues: list[asyncio.Queue[tuple[float, str] | None]] = [asyncio.Queue() for _ in urls]
    sent = [0] * len(urls)
    ok = [Counter[str]() for _ in urls]
    bad = [Counter[str]() for _ in urls]
    lags: list[float] = []
    latencies: list[float] = []

    async def worker(index: int) -> None:
        host_port = urls[index].removeprefix("http://")
        host, _, port = host_port.partition(":")
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while (item := await queues[index].get()) is not None:
            due, path = item
            request = f"GET {path} HTTP/1.1\r\nHost: {host_port}\r\n\r\n".encode()
            for attempt in range(3):
                try:
                    if connection is None:
                        connection = await asyncio.open_connection(host, int(port))
                    reader, writer = connection
                    began = time.time()
                    writer.write(request)
                    status_line = await reader.readline()
                    if not status_line:
                        raise ConnectionError("closed")
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    await reader.readexactly(length)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    connection = None  # the server closed an idle connection: reopen
                    if attempt == 2:
                        raise
            lags.append(began - due)
            latencies.append(time.time() - began)
            kind = "start" if "/start?" in path else "finish"
            status = status_line.split()[1]
            sent[index] += 1
            (ok if status.startswith(b"2") else bad)[index][
                kind if status.startswith(b"2") else status.decode()
            ] += 1

    workers = [asyncio.create_task(worker(i)) for i in range(len(urls)) for _ in range(connections)]
    began = time.time()
    for number, (at, path) in enumerate(events):
        delay = float(at) - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queues[number % len(urls)].put_nowait((float(at), path))
    for queue in queues:
        for _ in range(connections):
            queue.put_nowait(None)
    await asyncio.gather(*workers)
    return {
        "sent": sent,
        "ok": [dict(c) for c in ok],
        "bad": [dict(c) for c in bad],
        "lag": _spread(lags),
        "latency": _spread(latencies),
        "seconds": time.time() - began,
    }


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    return {
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[int(len(ordered) * 0.99)],
        "max": ordered[-1],
    }


def send_pings(schedule: Path, urls: list[str], connections: int) -> dict[str, Any]:
    """:func:`_send_pings` in a process of its own (its result as JSON)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.fleet_live",
            "--pinger",
            str(schedule),
            str(connections),
            *urls,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


# -- the alert loops (processes of their own) -----------------------------------------------


def alert_loop_child(url: str, config_path: str) -> None:
    """An alert loop as ``cronwatch alerts`` runs it, printing each cycle's summary and each
    prune's cost as JSON lines (Unix time ``t`` at their end) until SIGTERM."""
    from cronwatch.alerts.cycle import CycleSummary
    from cronwatch.alerts.loop import AlertLoop
    from cronwatch.config import load_config
    from cronwatch.retention import PruneReport

    def emit(record: dict[str, Any]) -> None:
        print(json.dumps({"t": time.time(), **record}), flush=True)

    def cycle(summary: CycleSummary) -> None:
        emit(
            {
                "cycle": summary.seconds,
                "jobs": summary.jobs,
                "full": summary.full,
                "events": len(summary.events),
                "sent": summary.delivery.sent,
            }
        )

    class Timed(AlertLoop):
        def prune_now(self) -> PruneReport | None:
            started = time.perf_counter()
            done = super().prune_now()
            if done is not None:
                emit(
                    {
                        "prune": time.perf_counter() - started,
                        "jobs": done.jobs_examined,
                        "runs": done.runs,
                    }
                )
            return done

    loop = Timed(url, load_config(config_path), on_cycle=cycle)
    signal.signal(signal.SIGTERM, lambda signum, frame: loop.stop(timeout=0))
    loop.run()


@dataclass
class AlertProcess:
    process: subprocess.Popen[str]
    records: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.records.append(json.loads(line))

    def cycles(self, since: float, until: float) -> list[dict[str, Any]]:
        return [r for r in self.records if "cycle" in r and since <= r["t"] < until]

    def wait_for(self, what: str, count: int, timeout: float) -> None:
        wait_for_any([self], what, count, timeout)


def wait_for_any(loops: list[AlertProcess], what: str, count: int, timeout: float) -> None:
    """Until ``loops`` together reported ``count`` records of ``what`` (one loop prunes per
    hour, whichever claims it: waiting for a prune from each would wait an hour)."""
    deadline = time.monotonic() + timeout
    while sum(what in r for loop in loops for r in loop.records) < count:
        for loop in loops:
            if loop.process.poll() is not None:
                raise RuntimeError(f"alert loop ended: no {what} record {count}: {loop.records}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"alert loops: no {what} record {count} in {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def alert_loops(url: str, config_path: Path, count: int) -> Iterator[list[AlertProcess]]:
    loops = [
        AlertProcess(
            subprocess.Popen(
                [sys.executable, "-m", "bench.fleet_live", "--alert-loop", url, str(config_path)],
                stdout=subprocess.PIPE,
                text=True,
            )
        )
        for _ in range(count)
    ]
    try:
        yield loops
    finally:
        for loop in loops:
            loop.process.terminate()
        for loop in loops:
            try:
                loop.process.wait(120)
            except subprocess.TimeoutExpired:
                loop.process.kill()
                loop.process.wait()


# -- the notification receiver --------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """Counts the webhook POSTs per ``event_id``."""

    def __init__(self) -> None:
        self.received: Counter[int] = Counter()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.received[int(body["event_id"])] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


# -- measuring ------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid`` (all its threads), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


class CpuMeter:
    """CPU seconds of the servers, the alert loops and the database's backends between two
    :meth:`sample` calls."""

    def __init__(self, db: Database, groups: dict[str, list[int]]) -> None:
        self.db, self.groups = db, groups

    def _backends(self) -> list[int]:
        if self.db.dialect.name == "sqlite":
            return []
        rows = self.db.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return [int(row[0]) for row in rows]

    def sample(self) -> dict[str, dict[int, float]]:
        pids = {**self.groups, "database": self._backends()}
        return {
            group: {pid: cpu_seconds(pid) for pid in members} for group, members in pids.items()
        }

    @staticmethod
    def spent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, list[float]]:
        """Per group, each member's CPU seconds between the samples (a backend that appeared
        meanwhile counts from 0)."""
        return {
            group: [cpu - before.get(group, {}).get(pid, 0.0) for pid, cpu in members.items()]
            for group, members in after.items()
        }


class Probes(threading.Thread):
    """Fetches the overview and ``/metrics`` of each server in turn every ``every`` seconds
    until stopped, recording (seconds, bytes) per page, and the CPU seconds each server spent
    meanwhile (to tell them from what its pings cost)."""

    def __init__(self, servers: list[str], pids: list[int], every: float) -> None:
        super().__init__(daemon=True)
        self.servers, self.pids, self.every = servers, pids, every
        self.figures: dict[str, list[tuple[float, int]]] = {"overview": [], "metrics": []}
        self.cpu = [0.0 for _ in servers]
        self.stop = threading.Event()

    def run(self) -> None:
        turn = 0
        while not self.stop.wait(0 if turn == 0 else self.every):
            index = turn % len(self.servers)
            turn += 1
            cpu = cpu_seconds(self.pids[index])
            for page, path in (("overview", "/"), ("metrics", "/metrics")):
                started = time.perf_counter()
                with urllib.request.urlopen(self.servers[index] + path, timeout=300) as answer:
                    size = len(answer.read())
                self.figures[page].append((time.perf_counter() - started, size))
            self.cpu[index] += cpu_seconds(self.pids[index]) - cpu


# -- the run --------------------------------------------------------------------------------


WRK_FLEET = """
local counter = 0
request = function()
  counter = counter + 1
  local j = counter % JOBS
  return wrk.format(nil, string.format("%sload-%04d?host=load-%02d&rid=%s-%d",
                                       wrk.path, j, j % 50, rid_prefix, counter))
end
init = function(args) rid_prefix = args[1] end
""".replace("JOBS", str(LOAD_JOBS))
SATURATING_CONNECTIONS = 32


@dataclass
class Options:
    jobs: int
    window: float
    saturate: float
    interval: float
    fail_every: int
    probe_every: float
    connections: int


class Live:
    """One run of the simulation, phase by phase: its database, processes and report rows."""

    def __init__(self, stack: ExitStack, dialect: str, options: Options) -> None:
        from cronwatch.storage import open_database
        from cronwatch.storage.keys import KeyStore

        self.stack, self.dialect, self.options = stack, dialect, options
        self.rows: list[tuple[str, str]] = []
        self.results: list[bool] = []
        self.url = stack.enter_context(scratch_database(dialect))
        self.directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cw-fleet-")))
        self.db = open_database(self.url)
        stack.callback(self.db.close)
        self.key = KeyStore(self.db).create("ping", "fleet")[1]
        self.base = time.time()  # the fleet's jobs have run on time until now
        self.receiver = Receiver()
        threading.Thread(target=self.receiver.serve_forever, daemon=True).start()
        stack.callback(self.receiver.shutdown)
        # Every loop (the first cycle here too) has the same config: a loop that sees another
        # config beating evaluates every job every cycle until they agree.
        self.config = self.directory / "fleet.toml"
        self.config.write_text(
            f'[alerts]\ninterval = "{options.interval:g}s"\nchannels = ["receiver"]\n\n'
            f'[channels.receiver]\ntype = "webhook"\nurl = "{self.receiver.url}"\n'
        )

    def load(self) -> None:
        """The fleet into the database, and a first alert cycle (as a loop run once leaves
        it: every job's state and deadline written)."""
        from cronwatch.alerts.cycle import run_alert_cycle
        from cronwatch.config import load_config

        jobs = self.options.jobs
        started = time.perf_counter()
        populate(self.db, jobs, self.base)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        run_alert_cycle(self.db, load_config(self.config), worker="alerts@bench-first")
        first = time.perf_counter() - started
        self.db.execute("ANALYZE")
        rate = natural_runs_per_second(jobs)
        self.rows.append(
            (
                "fleet",
                f"{jobs:,} jobs on {HOSTS:,} hosts ({self.dialect}): "
                f"{rate:.1f} runs/s, {2 * rate:.1f} pings/s on average "
                "(start and finish)",
            )
        )
        self.rows.append(
            (
                "setup",
                f"loaded in {loaded:.1f} s; first alert cycle (every state "
                f"and deadline written) {first:.1f} s",
            )
        )
        print(f"  {self.dialect}: {jobs:,} jobs loaded, first cycle done", file=sys.stderr)

    def start(self) -> None:
        """Two servers, two alert loops; returns once each loop did its first (full) cycle
        and one of them the first prune."""
        ports = [free_port(), free_port()]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWATCH_")}
        max_jobs = str(self.options.jobs + 2 * LOAD_JOBS)
        self.servers = [
            self.stack.enter_context(
                running(
                    [
                        sys.executable,
                        "-m",
                        "cronwatch.cli",
                        "--database-url",
                        self.url,
                        "serve",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                        "--no-alerts",
                        "--rate-limit",
                        "0",
                        "--max-jobs",
                        max_jobs,
                    ],
                    port,
                    env,
                )
            )
            for port in ports
        ]
        self.server_pids = [_listener_pid(port) for port in ports]
        self.loops = self.stack.enter_context(alert_loops(self.url, self.config, 2))
        for loop in self.loops:
            loop.wait_for("cycle", 1, timeout=3600)
        wait_for_any(self.loops, "prune", 1, timeout=3600)
        self.meter = CpuMeter(
            self.db,
            {"serve": self.server_pids, "alerts": [loop.process.pid for loop in self.loops]},
        )
        full = [r["cycle"] for loop in self.loops for r in loop.records if r.get("full")]
        prunes = [r for loop in self.loops for r in loop.records if "prune" in r]
        self.rows.append(
            (
                "loops started",
                f"first (full) cycle {_range(full)}; first prune "
                f"{_range([p['prune'] for p in prunes])} ({prunes[0]['jobs']:,} jobs "
                f"examined, {prunes[0]['runs']} runs deleted)",
            )
        )

    def catch_up(self) -> None:
        """The runs that came due while the fleet was loaded, sent at once."""
        until = time.time() + 3
        schedule = self.directory / "catch-up.txt"
        due, _ = write_pings(
            schedule, self.key, self.options.jobs, self.base, self.base, until, 0, "c"
        )
        caught = send_pings(schedule, self.servers, self.options.connections)
        self.rows.append(
            (
                "catch-up",
                f"{due:,} runs due during the setup: {2 * due:,} pings "
                f"in {caught['seconds']:.1f} s",
            )
        )

    def natural(self) -> dict[str, Any]:
        """``--window`` seconds of the fleet's own pings, pages fetched meanwhile; the load
        generator's account."""
        options = self.options
        begin = time.time() + 2
        schedule = self.directory / "natural.txt"
        planned, failures = write_pings(
            schedule,
            self.key,
            options.jobs,
            self.base,
            begin,
            begin + options.window,
            options.fail_every,
            "n",
        )
        probes = Probes(self.servers, self.server_pids, options.probe_every)
        time.sleep(max(0.0, begin - 1 - time.time()))
        before = self.meter.sample()
        probes.start()
        sent = send_pings(schedule, self.servers, options.connections)
        spent = CpuMeter.spent(before, self.meter.sample())
        finished = time.time()
        probes.stop.set()
        probes.join()
        acknowledged = [sum(ok.values()) for ok in sent["ok"]]
        kept_up = sent["lag"]["p99"] < options.interval and not any(sent["bad"])
        self.results.append(kept_up)
        self.rows.append(
            (
                "natural rate",
                f"{planned:,} runs planned in {options.window:g} s "
                f"({failures} failing), {2 * planned:,} pings: "
                f"{sum(acknowledged) / (finished - begin):.0f} pings/s acknowledged; "
                f"not 2xx: {sent['bad']}",
            )
        )
        seconds = [finished - begin] * len(self.servers)
        self.rows += _per_process(acknowledged, seconds, spent, probes.cpu)
        self.rows.append(
            (
                "  ping lag behind schedule",
                _spread_text(sent["lag"]) + "  (p99 "
                f"under the alert interval: {'OK' if kept_up else 'NO'})",
            )
        )
        self.rows.append(("  ping answer time", _spread_text(sent["latency"])))
        self.rows += _cycles(self.loops, begin, finished)
        for page, figures in probes.figures.items():
            times = [t for t, _ in figures]
            size = max((b for _, b in figures), default=0)
            self.rows.append(
                (
                    f"  {page} under load",
                    f"{len(times)} fetches: median "
                    f"{_median(times) * 1e3:.0f} ms, max "
                    f"{max(times, default=0) * 1e3:.0f} ms, {size / 1e6:.1f} MB",
                )
            )
        return sent

    def saturate(self) -> None:
        """wrk on both servers at once: the most pings each takes, every 2xx stored."""
        if not shutil.which("wrk"):
            self.rows.append(("saturation", "not measured: wrk is not installed"))
            return
        loads = [Load(0, 0, 1.0) for _ in self.servers]

        def hammer(index: int) -> None:
            loads[index] = wrk(
                f"{self.servers[index]}/ping/{self.key}/",
                SATURATING_CONNECTIONS,
                self.options.saturate,
                f"s{index}",
                script=WRK_FLEET,
            )

        before = self.meter.sample()
        began = time.time()
        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(len(self.servers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        saturated = time.time()
        spent = CpuMeter.spent(before, self.meter.sample())
        self.rows.append(
            (
                "saturation",
                f"wrk, {SATURATING_CONNECTIONS} connections on each "
                f"server, {self.options.saturate:g} s",
            )
        )
        self.rows += _per_process(
            [load.ok for load in loads], [load.seconds for load in loads], spent
        )
        self.rows += _cycles(self.loops, began, saturated)
        time.sleep(1.0)  # the last batches commit
        for index, load in enumerate(loads):
            stored = self._count("SELECT COUNT(*) FROM runs WHERE run_id LIKE ?", f"s{index}-%")
            ok = 0 <= stored - load.ok <= SATURATING_CONNECTIONS
            self.results.append(ok)
            self.rows.append(
                (
                    f"  server {index + 1}: stored",
                    f"{stored:,} runs for "
                    f"{load.ok:,} 2xx (the surplus were in flight at the end, at most "
                    f"{SATURATING_CONNECTIONS}): {'OK' if ok else 'LOST'}",
                )
            )

    def check_stored(self, sent: dict[str, Any]) -> None:
        """Every acknowledged start and finish of the natural phase is in the database."""
        runs = self._count("SELECT COUNT(*) FROM runs WHERE run_id LIKE ?", "n-%")
        finished = self._count(
            "SELECT COUNT(*) FROM runs WHERE run_id LIKE ? AND completed_us IS NOT NULL", "n-%"
        )
        backwards = int(self.db.query("SELECT COUNT(*) FROM runs WHERE duration_us < 0")[0][0])
        self.rows.append(
            (
                "runs ending before they started",
                f"{backwards} (a start and its "
                "finish stamped by the two servers, the catch-up sends both at once)",
            )
        )
        starts = sum(ok.get("start", 0) for ok in sent["ok"])
        finishes = sum(ok.get("finish", 0) for ok in sent["ok"])
        ok = runs == starts and finished == finishes
        self.results.append(ok)
        self.rows.append(
            (
                "natural pings stored",
                f"{runs:,} runs ({finished:,} finished) for "
                f"{starts:,} starts and {finishes:,} finishes acknowledged: "
                f"{'OK' if ok else 'LOST'}",
            )
        )

    def drain(self) -> None:
        """Let the loops send what is pending (and cycle once more), stop them, account for
        the notifications and status changes."""
        until = time.monotonic() + 3 * self.options.interval + 30
        counts = [len(loop.records) for loop in self.loops]
        while time.monotonic() < until and (
            self._count("SELECT COUNT(*) FROM deliveries WHERE status = ?", "pending")
            or any(len(loop.records) <= n for loop, n in zip(self.loops, counts, strict=True))
        ):
            time.sleep(0.5)
        for loop in self.loops:
            loop.process.terminate()
            loop.process.wait(120)
        self.results += _deliveries(self.db, self.receiver, self.rows)

    def size_and_prune(self) -> None:
        """The database's size per million runs; the hourly prune at this size."""
        from cronwatch.retention import prune
        from cronwatch.specs import Retention

        runs, table, whole = database_size(self.db)
        self.rows.append(
            (
                "database size",
                f"{runs:,} runs: the runs table and its indexes "
                f"{table / 1e6:.0f} MB = {table / runs:.0f} MB per million runs; "
                f"the database {whole / 1e6:.0f} MB",
            )
        )
        now = datetime.now(UTC)
        started = time.perf_counter()
        nothing = prune(self.db, Retention(), now)
        idle = time.perf_counter() - started
        started = time.perf_counter()
        old = prune(self.db, Retention(keep_last=1), now)
        deleting = time.perf_counter() - started
        self.rows.append(
            (
                "hourly prune at this size",
                f"default retention: "
                f"{nothing.jobs_examined:,} jobs examined, {nothing.runs} deleted in "
                f"{idle:.1f} s; keep_last = 1: {old.runs:,} old runs deleted in "
                f"{deleting:.1f} s",
            )
        )

    def _count(self, query: str, parameter: str) -> int:
        return int(self.db.query(query, (parameter,))[0][0])


def live(dialect: str, options: Options) -> bool:
    """The simulation on ``dialect``; prints its report, returns its verdict."""
    with ExitStack() as stack:
        fleet = Live(stack, dialect, options)
        fleet.load()
        fleet.start()
        fleet.catch_up()
        sent = fleet.natural()
        if options.saturate > 0:
            fleet.saturate()
        fleet.check_stored(sent)
        fleet.drain()
        fleet.size_and_prune()
    ok = all(fleet.results)
    fleet.rows.append(verdict(ok, "SHORT: see the rows above"))
    report(
        f"fleet live: {options.jobs:,} jobs, 2 serve processes, 2 alert loops ({dialect})",
        fleet.rows,
    )
    return ok


def _listener_pid(port: int) -> int:
    """The pid of the process listening on ``port`` (the server, not a wrapper)."""
    needle = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if needle in f"{fields[1]} " and fields[3] == "0A":
                inode = fields[9]
                for proc in Path("/proc").iterdir():
                    if proc.name.isdigit():
                        try:
                            if any(
                                os.readlink(fd) == f"socket:[{inode}]"
                                for fd in (proc / "fd").iterdir()
                            ):
                                return int(proc.name)
                        except OSError:
                            continue
    raise RuntimeError(f"nothing listens on port {port}")


def _deliveries(db: Database, receiver: Receiver, rows: list[tuple[str, str]]) -> list[bool]:
    """Every notification received exactly once; no status change recorded twice (two events
    in a row of one job or host with the same change)."""
    kinds = tuple(sorted(NOTIFYING))
    marks = ", ".join("?" for _ in kinds)
    notified = {
        int(row[0]) for row in db.query(f"SELECT id FROM events WHERE kind IN ({marks})", kinds)
    }
    states = Counter(str(row[0]) for row in db.query("SELECT status FROM deliveries"))
    received = receiver.received
    missing = notified - set(received)
    twice = [event for event, count in received.items() if count > 1]
    unknown = set(received) - notified
    once = not missing and not twice and not unknown
    changes = db.query(
        "SELECT name, hostname, old_status, new_status FROM events WHERE kind IN"
        " ('change', 'problem', 'recovery') ORDER BY name, hostname, id"
    )
    repeated = sum(
        1 for a, b in itertools.pairwise(changes) if (a[0], a[1]) == (b[0], b[1]) and a[3] != b[2]
    )
    rows.append(
        (
            "notifications",
            f"{len(notified)} events to notify, deliveries {dict(states)},"
            f" received {sum(received.values())} ({len(received)} distinct): missing "
            f"{len(missing)}, twice {len(twice)}, unknown {len(unknown)}: "
            f"{'OK' if once else 'NOT ONCE'}",
        )
    )
    rows.append(
        (
            "status changes",
            f"{len(changes)} recorded ({_most_common(changes)}); {repeated} not following the one "
            f"before (a change recorded twice): {'OK' if not repeated else 'TWICE'}",
        )
    )
    return [once, not repeated]


def _per_process(
    pings: list[int],
    seconds: list[float],
    spent: dict[str, list[float]],
    pages: list[float] | None = None,
) -> list[tuple[str, str]]:
    """Rows of pings/s and CPU per 1,000 pings per server (less the CPU ``pages`` took), and
    of the alert loops' and the database's CPU per 1,000 pings in all."""
    rows = []
    for index, count in enumerate(pings):
        cpu = spent["serve"][index] - (pages[index] if pages else 0.0)
        also = f" (and {pages[index]:.1f} s serving the pages)" if pages else ""
        rows.append(
            (
                f"  server {index + 1}",
                f"{count:,} pings, {count / seconds[index]:,.0f}/s,"
                f" CPU {cpu:.1f} s = {cpu / max(count, 1) * 1000:.2f} s per 1,000 pings"
                f"{also}",
            )
        )
    total = max(sum(pings), 1)
    for group in ("alerts", "database"):
        if spent.get(group):
            cpu = sum(spent[group])
            rows.append(
                (f"  {group} CPU", f"{cpu:.1f} s = {cpu / total * 1000:.2f} s per 1,000 pings")
            )
    return rows


def _cycles(loops: list[AlertProcess], since: float, until: float) -> list[tuple[str, str]]:
    rows = []
    for index, loop in enumerate(loops):
        cycles = loop.cycles(since, until)
        seconds = [c["cycle"] for c in cycles]
        jobs = [c["jobs"] for c in cycles]
        full = sum(bool(c["full"]) for c in cycles)
        rows.append(
            (
                f"  alert loop {index + 1} cycles",
                f"{len(cycles)} ({full} full): median "
                f"{_median(seconds):.2f} s, max {max(seconds, default=0):.2f} s; jobs "
                f"evaluated median {_median(jobs):.0f}, max {max(jobs, default=0)}",
            )
        )
    return rows


def _most_common(changes: list[tuple[Any, ...]]) -> str:
    counted = Counter(f"{old} -> {new}" for _, _, old, new in changes)
    return ", ".join(f"{change}: {count}" for change, count in counted.most_common(4))


def _median(values: list[float] | list[int]) -> float:
    return statistics.median(values) if values else 0.0


def _range(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f} s" if values else "-"


def _spread_text(spread: dict[str, float]) -> str:
    return " ".join(f"{k} {v * 1e3:.0f} ms" for k, v in spread.items())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--live: the fleet simulation (see bench/fleet_live.py)")
    group.add_argument("--live", action="store_true", help="Run the fleet simulation instead.")
    group.add_argument("--live-jobs", type=int, default=100_000)
    group.add_argument("--window", type=float, default=300.0, help="seconds at the natural rate")
    group.add_argument("--saturate", type=float, default=40.0, help="seconds of wrk (0: none)")
    group.add_argument("--interval", type=float, default=30.0, help="the alert loops' interval")
    group.add_argument("--fail-every", type=int, default=100, help="one run in N fails")
    group.add_argument("--probe-every", type=float, default=60.0)
    group.add_argument("--connections", type=int, default=16, help="per server, natural rate")


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        jobs=args.live_jobs,
        window=args.window,
        saturate=args.saturate,
        interval=args.interval,
        fail_every=args.fail_every,
        probe_every=args.probe_every,
        connections=args.connections,
    )


def main() -> None:
    if sys.argv[1] == "--pinger":
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        schedule, connections, *urls = sys.argv[2:]
        print(json.dumps(asyncio.run(_send_pings(Path(schedule), urls, int(connections)))))
    elif sys.argv[1] == "--alert-loop":
        alert_loop_child(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
