"""Shared helpers of the benchmark suite: interleaved timing, so both sides of a ratio see the
same machine load (these machines are shared and noisy), scratch databases, and the verdict.

Every benchmark prints a verdict against its target (:func:`verdict`, the last row of each
report) and exits 1 when one falls short (:func:`exit_with_verdicts`), so a run can be judged
by its exit status as well as read."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from cronwatch.storage.connection import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "CRONWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def interleaved(
    sides: dict[str, Callable[[], object]], *, rounds: int = 15, per_round: int = 200
) -> dict[str, float]:
    """Median seconds per call of each side, measured in alternating batches."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, fn in sides.items():
            start = time.perf_counter()
            for _ in range(per_round):
                fn()
            samples[name].append((time.perf_counter() - start) / per_round)
    return {name: statistics.median(values) for name, values in samples.items()}


@contextmanager
def scratch_database(dialect: str) -> Iterator[str]:
    """A new, empty database URL of ``dialect``, dropped afterwards."""
    if dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cronwatch-bench-") as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    import psycopg

    name = f"cronwatch_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")


def verdict(ok: bool, short: str = "BELOW TARGET") -> tuple[str, str]:
    """The report's verdict row: ``OK`` when the target is met, else ``short`` (what fell
    short)."""
    return ("verdict", "OK" if ok else short)


def exit_with_verdicts(results: Iterable[bool]) -> NoReturn:
    """Exit 0 when every part met its target, else 1 (after saying how many fell short)."""
    results = list(results)
    short = results.count(False)
    if short:
        print(f"\n{short} of {len(results)} below target", file=sys.stderr)
    sys.exit(1 if short else 0)


RUN_COLUMNS = "name, hostname, run_id, outcome, exit_code, started_us, completed_us, duration_us"


def load_runs(db: Database, rows: Iterable[tuple[object, ...]]) -> None:
    """Bulk-load finished runs (tuples in :data:`RUN_COLUMNS` order) in one transaction, the
    fastest way each database offers (executemany on SQLite, COPY on PostgreSQL; the summary
    triggers fire as for any write), then refresh the planner's statistics."""
    with db.transaction() as cur:
        if db.dialect.name == "sqlite":
            cur.executemany(  # type: ignore[attr-defined]
                f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        else:
            with cur.copy(f"COPY runs ({RUN_COLUMNS}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
    db.execute("ANALYZE")


def database_size(db: Database) -> tuple[int, int, int]:
    """(runs stored, bytes of the ``runs`` table with its indexes (and TOAST on PostgreSQL),
    bytes of the whole database (SQLite: the main file's pages, not its WAL)). Space freed
    by deletes stays in both until reused (or VACUUM)."""
    runs = int(db.query("SELECT COUNT(*) FROM runs")[0][0])
    if db.dialect.name == "sqlite":
        page = int(db.query("PRAGMA page_size")[0][0])
        whole = page * int(db.query("PRAGMA page_count")[0][0])
        table = int(
            db.query(
                "SELECT SUM(pgsize) FROM dbstat WHERE name = 'runs' OR name IN (SELECT name FROM"
                " sqlite_master WHERE type = 'index' AND tbl_name = 'runs')"
            )[0][0]
        )
        return runs, table, whole
    row = db.query("SELECT pg_total_relation_size('runs'), pg_database_size(current_database())")
    return runs, int(row[0][0]), int(row[0][1])
