"""Nothing acknowledged is lost: many writers at once, and writers killed mid-write."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import os
import signal
import subprocess
import sys
import time

import pytest

import cronwatch
from cronwatch.storage import open_database

WRITERS = 8
RUNS_PER_WRITER = 60


def _writer(
    url: str,
    writer: int,
    start: multiprocessing.synchronize.Event,
    ready: multiprocessing.synchronize.Semaphore,
    results: multiprocessing.Queue[list[str]],
) -> None:
    from datetime import UTC, datetime, timedelta

    with cronwatch.connect(url, statsd=False) as monitor:
        ready.release()
        start.wait()
        acknowledged = []
        for i in range(RUNS_PER_WRITER):
            t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=writer * 1000 + i)
            if i % 3 == 0:  # a mix of the write paths: start + finish, and whole runs
                run = monitor.start(f"job-{i % 4}", f"host-{writer}", date_started=t)
                run = monitor.finish(run, date_completed=t + timedelta(seconds=1))
            else:
                run = monitor.record_success(f"job-{i % 4}", t, t, f"host-{writer}")
            acknowledged.append(run.run_id)
        results.put(acknowledged)


@pytest.mark.slow
def test_eight_processes_recording_at_once_lose_nothing(database_url: str) -> None:
    open_database(database_url).close()  # migrated up front: this test is about the writes
    ctx = multiprocessing.get_context("spawn")
    start, ready, results = ctx.Event(), ctx.Semaphore(0), ctx.Queue()
    writers = [
        ctx.Process(target=_writer, args=(database_url, w, start, ready, results))
        for w in range(WRITERS)
    ]
    for process in writers:
        process.start()
    for _ in range(WRITERS):
        assert ready.acquire(timeout=60)
    start.set()  # all writers released together
    acknowledged = [run_id for _ in writers for run_id in results.get(timeout=240)]
    for process in writers:
        process.join(30)
        assert process.exitcode == 0
    assert len(acknowledged) == WRITERS * RUNS_PER_WRITER
    with open_database(database_url) as db:
        rows = db.query("SELECT run_id, outcome FROM runs")
    assert {run_id for run_id, _ in rows} == set(acknowledged)
    assert len(rows) == len(acknowledged), "no run may be stored twice"
    assert {outcome for _, outcome in rows} == {"success"}, "no start may be left unfinished"


_KILLED_WRITER = r"""
import sys
from datetime import UTC, datetime, timedelta
import cronwatch

monitor = cronwatch.connect(sys.argv[1], statsd=False)
t = datetime(2026, 1, 1, tzinfo=UTC)
i = 0
while True:
    i += 1
    run = monitor.record_success("victim", t + timedelta(seconds=i), t + timedelta(seconds=i + 1),
                                 "h", output="x" * 5000)
    print(run.run_id, flush=True)  # acknowledged: the call returned
"""


@pytest.mark.slow
def test_writer_killed_with_sigkill_leaves_a_readable_database(database_url: str) -> None:
    open_database(database_url).close()
    acknowledged: list[str] = []
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED_WRITER, database_url], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 40 + 25 * round_ and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged.append(line.strip())
            seen += 1
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of the next write
        acknowledged.extend(line.strip() for line in proc.stdout if line.strip())
        assert proc.wait() == -signal.SIGKILL
        assert seen >= 40, "the writer never got going"

    with open_database(database_url) as db:
        if db.dialect.name == "sqlite":
            assert db.query("PRAGMA integrity_check") == [("ok",)]
        stored = {row[0] for row in db.query("SELECT run_id FROM runs WHERE name = 'victim'")}
        # and it still takes writes
        with cronwatch.connect(database_url, statsd=False) as monitor:
            from datetime import UTC, datetime

            now = datetime.now(UTC)
            monitor.record_success("after-kill", now, now, "h")
            assert monitor.last_activity("after-kill") is not None
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged runs lost"
