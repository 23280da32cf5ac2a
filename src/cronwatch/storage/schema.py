"""The schema as SQLAlchemy Core tables: the reference the migrations must produce.

Instants are integer microseconds since the Unix epoch, UTC (see :mod:`cronwatch.timeutil`):
exact, sortable, and identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

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
    # 0009: the job's ping UUID (``/ping/<uuid>``), set by the database when not given
    Column("uuid", String(36), nullable=True),
    Index("ux_jobs_uuid", "uuid", unique=True),
    # 0011: the next instant the job can change by itself (0: now; NULL: never), and a counter
    # bumped by every recorded run (:mod:`cronwatch.storage.alerts.deadlines`)
    Column("check_due_us", BigInteger, nullable=True, server_default="0"),
    Column("changes", BigInteger, nullable=False, server_default="0"),
    Index("ix_jobs_check_due", "check_due_us"),
    # 0015: the next expected run as the loop last evaluated it, written with check_due_us
    # (NULL: no schedule in force); read by /metrics for the jobs whose deadline is ahead
    Column("expected_us", BigInteger, nullable=True),
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
    # 0010: the job names (JSON list of globs) a ping key may record; NULL: any
    Column("names", Text, nullable=True),
    Index("ux_api_keys_token_hash", "token_hash", unique=True),
)

# -- alerting (migration 0004; :mod:`cronwatch.storage.alerts`) ----------------------------------

#: Each job's alerting state (``hostname`` '') and each of its hosts' last status. ``version``
#: grows on every change: a flip is ``UPDATE ... WHERE version = <read>``, so of two loops that
#: evaluated the same change, one records it.
job_states = Table(
    "job_states",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("hostname", String(255), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False, server_default="0"),
    Column("alerting", Integer, nullable=False, server_default="0"),  # a problem was announced
    Column("alert_status", String(16), nullable=True),  # the status announced
    Column("problem_since_us", BigInteger, nullable=True),
    Column("recovering_since_us", BigInteger, nullable=True),
    Column("notified_us", BigInteger, nullable=True),
    Column("hold_until_us", BigInteger, nullable=True),
    Column("snooze_until_us", BigInteger, nullable=True),
    # 0007: the announced incident, its acknowledgement and escalation
    Column("incident", String(32), nullable=True),
    Column("acked_us", BigInteger, nullable=True),
    Column("acked_by", String(200), nullable=True),
    Column("ack_note", Text, nullable=True),
    Column("escalated_us", BigInteger, nullable=True),
    Column("announced_us", BigInteger, nullable=True),
    Column("updated_us", BigInteger, nullable=False),
    # 0012: the overview's pages of stored statuses (:mod:`cronwatch.storage.alerts.deadlines`)
    Index("ix_job_states_status", "hostname", "status", "name"),
)

#: 0014: how many jobs have each stored status (``''``: none), as signed deltas kept by
#: triggers on ``jobs`` and ``job_states`` and summed by the overview
#: (:mod:`cronwatch.storage.alerts.counts`).
job_status_counts = Table(
    "job_status_counts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),
    Column("n", BigInteger, nullable=False),
)

#: 0014: always empty; the PostgreSQL count triggers of two transactions inserting the same
#: job name wait for each other on its key.
job_count_locks = Table(
    "job_count_locks",
    metadata,
    Column("name", String(200), primary_key=True),
)

#: Status changes and notifications: the history and the alert queue at once.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("hostname", String(255), nullable=False, server_default=""),
    Column("kind", String(16), nullable=False),  # change | problem | recovery | reminder
    Column("old_status", String(16), nullable=False),
    Column("new_status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("at_us", BigInteger, nullable=False),
    # 0007: the incident, its start, who acknowledged, the message's facts (JSON)
    Column("incident", String(32), nullable=True),
    Column("since_us", BigInteger, nullable=True),
    Column("actor", String(200), nullable=True),
    Column("details", Text, nullable=True),
    Index("ix_events_name_at", "name", "at_us"),
    Index("ix_events_at", "at_us"),
)

#: One row per notification event and channel: claimed, sent once, retried with backoff.
deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "event_id",
        BigInteger,
        ForeignKey("events.id", ondelete="CASCADE", name="fk_deliveries_event"),
        primary_key=True,
    ),
    Column("channel", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(8), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("claim", String(32), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("sent_us", BigInteger, nullable=True),
    # What the loops poll: the pending ones that are due; and the order per job and channel.
    Index(
        "ix_deliveries_due",
        "next_attempt_us",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index(
        "ix_deliveries_order",
        "channel",
        "name",
        "event_id",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

#: Gaps in the alert loops' heartbeat: cronwatch itself was not watching.
alert_outages = Table(
    "alert_outages",
    metadata,
    Column("started_us", BigInteger, primary_key=True, autoincrement=False),
    Column("ended_us", BigInteger, nullable=False),
)

#: Background workers (alert loops) and their heartbeats.
workers = Table(
    "workers",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_us", BigInteger, nullable=False),
    Column("last_beat_us", BigInteger, nullable=False),
    # The fingerprint of the loop's config (migration 0014; cronwatch.alerts.fingerprint).
    Column("config", Text, nullable=True),
    Index("ix_workers_kind_beat", "kind", "last_beat_us"),
)
