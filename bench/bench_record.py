"""record_success() against a bare driver INSERT+COMMIT of the same row on the same database.

Target (the project's quality bars; README, Development): at most 2x, on SQLite and
PostgreSQL. Two bare baselines are measured:
into ``runs`` itself (its triggers keep the job summaries, so they fire there too) and into a
copy of ``runs`` with the same indexes and no triggers, the strictest comparison.

    python -m bench.bench_record [--dialect sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import itertools
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import cronwatch
from bench.common import exit_with_verdicts, interleaved, report, scratch_database, verdict

PLAIN_TABLE = """
CREATE TABLE plain_runs (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL,
  hostname VARCHAR(255) NOT NULL, run_id VARCHAR(64) NOT NULL, outcome VARCHAR(16) NOT NULL,
  exit_code INTEGER, started_us BIGINT NOT NULL, completed_us BIGINT, duration_us BIGINT,
  output TEXT);
CREATE INDEX ix_plain_name_started ON plain_runs (name, started_us);
CREATE INDEX ix_plain_host_name_completed ON plain_runs (hostname, name, completed_us);
CREATE UNIQUE INDEX ux_plain_name_run_id ON plain_runs (name, run_id);
"""

INSERT = (
    "INSERT INTO {table} (name, hostname, run_id, outcome, exit_code, started_us, completed_us,"
    " duration_us, output) VALUES (?, ?, ?, 'success', 0, ?, ?, ?, NULL)"
)


TARGET_RATIO = 2.0


def bench(dialect: str) -> bool:
    with scratch_database(dialect) as url:
        monitor = cronwatch.connect(url, statsd=False)  # creates the schema
        counter = itertools.count()
        t0 = datetime(2026, 1, 1, tzinfo=UTC)

        def record() -> None:
            t = t0 + timedelta(seconds=next(counter))
            monitor.record_success("bench-job", t, t + timedelta(seconds=1), "host-1")

        if dialect == "sqlite":
            path = url[len("sqlite:///") :]
            raw = sqlite3.connect(path, isolation_level=None)
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=FULL")  # the same settings cronwatch uses
            raw.executescript(PLAIN_TABLE)
            close_raw = raw.close

            def bare_into(table: str) -> Callable[[], None]:
                sql = INSERT.format(table=table)

                def bare() -> None:
                    us = next(counter) * 1_000_000
                    raw.execute("BEGIN")
                    raw.execute(sql, ("bench-job", "host-1", uuid.uuid4().hex, us, us + 1, 1))
                    raw.execute("COMMIT")

                return bare
        else:
            import psycopg

            pg = psycopg.connect(url)
            pg.execute(PLAIN_TABLE.replace("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY"))
            pg.commit()
            close_raw = pg.close

            def bare_into(table: str) -> Callable[[], None]:
                sql = INSERT.format(table=table).replace("?", "%s")

                def bare() -> None:
                    us = next(counter) * 1_000_000
                    pg.execute(sql, ("bench-job", "host-1", uuid.uuid4().hex, us, us + 1, 1))
                    pg.commit()

                return bare

        timings = interleaved(
            {
                "bare INSERT+COMMIT, no triggers": bare_into("plain_runs"),
                "bare INSERT+COMMIT into runs": bare_into("runs"),
                "record_success": record,
            }
        )
        close_raw()
        monitor.close()
    ratio = timings["record_success"] / timings["bare INSERT+COMMIT, no triggers"]
    report(
        f"record_success vs bare driver INSERT+COMMIT ({dialect})",
        [(name, f"{seconds * 1e6:8.1f} us/run") for name, seconds in timings.items()]
        + [("ratio to no-trigger insert", f"{ratio:.2f}x  (target <= {TARGET_RATIO:g}x)"),
           verdict(ratio <= TARGET_RATIO)],
    )  # fmt: skip
    return ratio <= TARGET_RATIO


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
    exit_with_verdicts([bench(dialect) for dialect in dialects])


if __name__ == "__main__":
    main()
