"""The schema as SQLAlchemy Core tables: the reference the migrations must produce.

Instants are integer microseconds since the Unix epoch, UTC (see :mod:`cronwatch.timeutil`):
exact, sortable, and identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, text

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
    Index(
        "ix_runs_running",
        "name",
        sqlite_where=text("outcome = 'running'"),
        postgresql_where=text("outcome = 'running'"),
    ),
)

#: Every job cronwatch knows: declared (config, API) or created by its first run. ``spec`` is
#: the JSON of an API-declared job's fields; config-declared jobs live in the config file.
jobs = Table(
    "jobs",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("source", String(16), nullable=False),  # run | config | api
    Column("spec", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

#: One row per job and host, maintained by triggers on ``runs`` (migration 0002).
job_hosts = Table(
    "job_hosts",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("hostname", String(255), primary_key=True),
    Column("first_seen_us", BigInteger, nullable=False),
    Column("last_started_us", BigInteger, nullable=True),
    Column("prev_started_us", BigInteger, nullable=True),
    Column("last_completed_us", BigInteger, nullable=True),
    Column("last_outcome", String(16), nullable=True),
    Column("last_exit_code", Integer, nullable=True),
    Column("last_duration_us", BigInteger, nullable=True),
    Column("last_success_started_us", BigInteger, nullable=True),
    Column("last_success_completed_us", BigInteger, nullable=True),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("runs_total", BigInteger, nullable=False, server_default="0"),
    Column("failures_total", BigInteger, nullable=False, server_default="0"),
)

#: What was learned from each job's recent runs; recomputed when enough new runs arrived.
job_baselines = Table(
    "job_baselines",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("samples", Integer, nullable=False),
    Column("runtime_median_us", BigInteger, nullable=True),
    Column("runtime_mad_us", BigInteger, nullable=True),
    Column("runtime_low_us", BigInteger, nullable=True),
    Column("runtime_high_us", BigInteger, nullable=True),
    Column("interval_us", BigInteger, nullable=True),
    Column("runs_total_at", BigInteger, nullable=False),
    Column("computed_us", BigInteger, nullable=False),
)

#: API and ping keys, stored as SHA-256 digests (migration 0003, :mod:`cronwatch.storage.keys`).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("scope", String(8), nullable=False),  # ping | read | write
    Column("token_hash", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger, nullable=True),
    Index("ux_api_keys_token_hash", "token_hash", unique=True),
)

# The alerting tables (migration 0004) live with the alerting code; importing them here puts
# them on the shared metadata, so the reference schema is whole wherever it is used.
from cronwatch.alerts import schema as _alerts  # noqa: E402, F401
