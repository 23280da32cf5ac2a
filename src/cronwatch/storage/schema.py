"""The schema as SQLAlchemy Core tables: the reference the migrations must produce.

Instants are integer microseconds since the Unix epoch, UTC (see :mod:`cronwatch.timeutil`):
exact, sortable, and identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

#: A 64-bit key on PostgreSQL, and SQLite's rowid alias (INTEGER PRIMARY KEY) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

runs = Table(
    "runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("hostname", String(255), nullable=False),
    # Pairs a start with its finish; unique per job so a replayed record is stored once.
    Column("run_id", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # running | success | failure
    Column("exit_code", Integer, nullable=True),
    Column("started_us", BigInteger, nullable=False),
    Column("completed_us", BigInteger, nullable=True),
    Column("duration_us", BigInteger, nullable=True),
    Column("output", Text, nullable=True),
    # Launchpad's two indexes: last activity of a name, and "did it run on host H in a window".
    Index("ix_runs_name_started", "name", "started_us"),
    Index("ix_runs_host_name_completed", "hostname", "name", "completed_us"),
    Index("ux_runs_name_run_id", "name", "run_id", unique=True),
)
