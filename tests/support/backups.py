"""Helpers of the backup and restore tests: processes that record into one database until
stopped (noting when each run was acknowledged), a database grown quickly, and what a SQLite
file holds, read without changing it."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import cronwatch

WRITERS = 8

# Records until killed, printing each run id once its call returned (acknowledged).
_WRITER = r"""
import sys
from datetime import UTC, datetime, timedelta
import cronwatch

url, writer = sys.argv[1], int(sys.argv[2])
monitor = cronwatch.connect(url, statsd=False)
t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=writer)
i = 0
while True:
    i += 1
    start = t + timedelta(seconds=i)
    if i % 5 == 0:
        run = monitor.finish(monitor.start(f"job-{i % 6}", f"host-{writer}", date_started=start),
                             date_completed=start + timedelta(seconds=1))
    else:
        run = monitor.record_success(f"job-{i % 6}", start, start, f"host-{writer}")
    print(run.run_id, flush=True)
"""


class Writers:
    """``WRITERS`` processes recording into one database; each acknowledged run id is noted
    with the time it was read from the writer (after the call that stored it returned)."""

    def __init__(self, url: str) -> None:
        self.acknowledged: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.processes = [
            subprocess.Popen([sys.executable, "-c", _WRITER, url, str(w)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for w in range(WRITERS)
        ]  # fmt: skip
        self._readers = [threading.Thread(target=self._read, args=(p,), daemon=True)
                         for p in self.processes]  # fmt: skip
        for reader in self._readers:
            reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._lock:
                self.acknowledged.append((time.monotonic(), line.strip()))

    def acknowledged_before(self, instant: float) -> set[str]:
        with self._lock:
            return {run_id for at, run_id in self.acknowledged if at < instant}

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 120
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, "the writers do not record"
            for process in self.processes:
                assert process.poll() is None, process.stderr and process.stderr.read()
            time.sleep(0.05)

    def stop(self) -> set[str]:
        """Stop them (each was still recording: none died of an error); every run id."""
        for process in self.processes:
            assert process.poll() is None, process.stderr and process.stderr.read()
            process.terminate()
        for process in self.processes:
            process.wait(30)
        for reader in self._readers:
            reader.join(30)
        return {run_id for _, run_id in self.acknowledged}


def run_ids(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT run_id FROM runs")}


def integrity(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grow(url: str, runs: int) -> None:
    """Add ``runs`` finished runs with some output, quickly (a database worth copying in
    several steps)."""
    with cronwatch.connect(url, statsd=False) as monitor:
        db = monitor.store.db
        with db.transaction() as cur:
            cur.executemany(  # type: ignore[attr-defined]
                "INSERT INTO runs (name, hostname, run_id, outcome, exit_code, started_us,"
                " completed_us, duration_us, output)"
                " VALUES (?, 'old', ?, 'success', 0, ?, ?, 0, ?)",
                [(f"old-{i % 50}", f"old-{i}", i, i, "o" * 2000) for i in range(runs)],
            )
