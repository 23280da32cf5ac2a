"""The tables as ``cronwatch export`` reads them and ``cronwatch import`` writes them: each table
described once (:data:`TABLES`: its fields, their kinds, its key), read in key order a page at
a time inside one snapshot, and written in multi-row statements inside the import's
transaction. The document around them (format, versions, validation, merge rules) is
:mod:`cronwatch.transfer`'s; here are only the statements.

Records are dicts keyed by the export's field names, with Python values: instants as aware
datetimes, flags as bools, a job's ``spec`` as the JSON object it is stored as.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cronwatch.storage.connection import Cursor, Database
from cronwatch.timeutil import from_us, to_us

Kind = Literal["text", "int", "instant", "bool", "json"]
Record = dict[str, Any]

_RUNNING = "outcome = 'running'"
#: Rows per page read, and the most rows one insert statement carries (parameters stay under
#: SQLite's 32,766 and PostgreSQL's 65,535).
PAGE = 2000
MAX_PARAMETERS = 16_000


@dataclass(frozen=True, slots=True)
class Field:
    """A field of the export (``name``) and the column it is stored in."""

    name: str
    column: str
    kind: Kind
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A table as exported: its section of the document, the unique key it is read in order of
    (its columns need not be exported: runs are read by id), its fields, and what an import
    does with a row whose key is stored already: ``skip`` it, or ``replace`` the stored one."""

    section: str
    table: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    conflict: str  # the ON CONFLICT target ("" for any unique index)
    on_conflict: Literal["skip", "replace"] = "skip"


def _f(name: str, kind: Kind = "text", nullable: bool = False, column: str | None = None) -> Field:
    default = name + "_us" if kind == "instant" else name
    return Field(name, column or default, kind, nullable)


# The tables below keep `# fmt: skip`: each is a table of fields, several to a line, that
# ruff would stretch to one field a line (about 100 lines more, and no longer readable as rows).

#: ``check_due_us`` and ``changes`` (0011) and ``expected_us`` (0015) are not exported: they
#: are the alert loop's bookkeeping, and an imported job gets the defaults (due at once,
#: evaluated next cycle).
JOBS = Table("jobs", "jobs", ("name",), (
    _f("name"), _f("source"), _f("spec", "json", True), _f("created", "instant"),
    _f("updated", "instant"), _f("uuid", nullable=True),
), "(name)")  # fmt: skip
API_KEYS = Table("api_keys", "api_keys", ("id",), (
    _f("id"), _f("name", nullable=True), _f("scope"), _f("token_hash"),
    _f("created", "instant"), _f("revoked", "instant", True), _f("names", "json", True),
), "")  # fmt: skip
BASELINES = Table("job_baselines", "job_baselines", ("name",), (
    _f("name"), _f("samples", "int"), _f("runtime_median_us", "int", True),
    _f("runtime_mad_us", "int", True), _f("runtime_low_us", "int", True),
    _f("runtime_high_us", "int", True), _f("interval_us", "int", True),
    _f("runs_total_at", "int"), _f("computed", "instant"),
), "(name)")  # fmt: skip
JOB_STATES = Table("job_states", "job_states", ("name", "hostname"), (
    _f("name"), _f("hostname"), _f("status"), _f("reason"), _f("since", "instant"),
    _f("version", "int"), _f("alerting", "bool"), _f("alert_status", nullable=True),
    _f("problem_since", "instant", True), _f("recovering_since", "instant", True),
    _f("notified", "instant", True), _f("hold_until", "instant", True),
    _f("snooze_until", "instant", True), _f("updated", "instant"),
    _f("incident", nullable=True), _f("acked", "instant", True), _f("acked_by", nullable=True),
    _f("ack_note", nullable=True), _f("escalated", "instant", True),
    _f("announced", "instant", True),
), "(name, hostname)")  # fmt: skip
ALERT_OUTAGES = Table("alert_outages", "alert_outages", ("started_us",), (
    _f("started", "instant"), _f("ended", "instant"),
), "(started_us)")  # fmt: skip
WORKERS = Table("workers", "workers", ("name",), (
    _f("name"), _f("kind"), _f("hostname"), _f("pid", "int"), _f("started", "instant"),
    _f("last_beat", "instant"), _f("config", nullable=True),
), "(name)")  # fmt: skip
EVENTS = Table("events", "events", ("id",), (
    _f("id", "int"), _f("name"), _f("hostname"), _f("kind"), _f("old_status"),
    _f("new_status"), _f("reason"), _f("text"), _f("note", nullable=True), _f("at", "instant"),
    _f("incident", nullable=True), _f("since", "instant", True), _f("actor", nullable=True),
    _f("details", "json", True),
), "")  # fmt: skip
#: An event's deliveries travel inside it (``"deliveries": [...]``): no ids to map.
DELIVERIES = Table("deliveries", "deliveries", ("event_id", "channel"), (
    _f("channel"), _f("status"), _f("attempts", "int"), _f("next_attempt", "instant"),
    _f("last_error", nullable=True), _f("created", "instant"), _f("sent", "instant", True),
), "(event_id, channel)")  # fmt: skip
#: Runs in (job, start) order: an import's statements then hold runs of few jobs each, so each
#: summary row is updated a few times per transaction, not once per statement (PostgreSQL
#: keeps every version of a row updated in one transaction: updated once per batch, an import
#: of 405,000 runs took 3.6 minutes instead of 49 s).
RUNS = Table("runs", "runs", ("name", "started_us", "id"), (
    _f("name"), _f("hostname"), _f("run_id"), _f("outcome"), _f("exit_code", "int", True),
    _f("started", "instant"), _f("completed", "instant", True), _f("output", nullable=True),
    # completed - started, or null for a finish of unknown duration (a plain ping); an
    # export made before it was written has none: the import computes it (from_json).
    _f("duration_us", "int", True),
), "(name, run_id)")  # fmt: skip
#: The summaries the triggers keep; imported after the runs, over what the triggers made of
#: them, because they also count runs pruned before the export.
JOB_HOSTS = Table("job_hosts", "job_hosts", ("name", "hostname"), (
    _f("name"), _f("hostname"), _f("first_seen", "instant"),
    _f("last_started", "instant", True), _f("prev_started", "instant", True),
    _f("last_completed", "instant", True), _f("last_outcome", nullable=True),
    _f("last_exit_code", "int", True), _f("last_duration_us", "int", True),
    _f("last_success_started", "instant", True),
    _f("last_success_completed", "instant", True), _f("consecutive_failures", "int"),
    _f("runs_total", "int"), _f("failures_total", "int"),
), "(name, hostname)", "replace")  # fmt: skip

#: Every table, in the order of the document: a job before the runs whose trigger would
#: create it, the runs before the summaries written over the triggers' work.
TABLES: tuple[Table, ...] = (
    JOBS, API_KEYS, BASELINES, JOB_STATES, ALERT_OUTAGES, WORKERS, EVENTS, RUNS, JOB_HOSTS,
)  # fmt: skip


class ExchangeStore:
    """Whole tables of one database, for export and import."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- export: reads, inside Database.snapshot() -------------------------------------------

    def counts(self, *, all_runs: bool = True) -> dict[str, int]:
        """Rows per section (read in the caller's snapshot: the numbers the export writes);
        without ``all_runs`` the runs are those still running."""
        counts = {}
        for table in TABLES:
            where = "" if all_runs or table is not RUNS else f" WHERE {_RUNNING}"
            counts[table.section] = int(
                self.db.query(f"SELECT COUNT(*) FROM {table.table}{where}")[0][0]
            )
        return counts

    def read(self, table: Table, page: int = PAGE) -> Iterator[Record]:
        """Every row of ``table`` in key order, a page at a time (constant memory)."""
        for rows in self._pages(table, page):
            for row in rows:
                yield _record(table, row[len(table.key) :])

    def read_running_runs(self, page: int = PAGE) -> Iterator[Record]:
        """The runs still running (state, not history: an export without runs has them)."""
        for rows in self._pages(RUNS, page, _RUNNING):
            for row in rows:
                yield _record(RUNS, row[len(RUNS.key) :])

    def read_events(self, page: int = PAGE) -> Iterator[Record]:
        """Every event in id order, each with its ``deliveries`` (a list of records)."""
        for rows in self._pages(EVENTS, page):
            first, last = rows[0][0], rows[-1][0]
            deliveries: dict[int, list[Record]] = {}
            for row in self.db.query(
                f"SELECT event_id, {_columns(DELIVERIES)} FROM deliveries"
                " WHERE event_id >= ? AND event_id <= ? ORDER BY event_id, channel",
                (first, last),
            ):
                deliveries.setdefault(int(row[0]), []).append(_record(DELIVERIES, row[1:]))
            for row in rows:
                event = _record(EVENTS, row[1:])
                event["deliveries"] = deliveries.get(int(row[0]), [])
                yield event

    def _pages(
        self, table: Table, page: int, condition: str = ""
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Pages of ``(key..., fields...)`` rows in key order (keyset: each page starts after
        the last key of the previous one)."""
        key = ", ".join(table.key)
        marks = ", ".join("?" * len(table.key))
        after = f"({key}) > ({marks})" if len(table.key) > 1 else f"{key} > ?"
        select = f"SELECT {key}, {_columns(table)} FROM {table.table}"
        tail = f" ORDER BY {key} LIMIT ?"
        first = select + (f" WHERE {condition}" if condition else "") + tail
        rest = select + f" WHERE {after}" + (f" AND {condition}" if condition else "") + tail
        rows = self.db.query(first, (page,))
        while rows:
            yield rows
            if len(rows) < page:
                return
            rows = self.db.query(rest, (*rows[-1][: len(table.key)], page))

    # -- import: writes, in the caller's transaction -------------------------------------------

    def contents(self, cur: Cursor) -> dict[str, int]:
        """How many jobs, runs, keys, alert states and events the database holds (an import
        without merging wants none)."""
        found = {}
        for table in (JOBS, RUNS, API_KEYS, JOB_STATES, EVENTS):
            cur.execute(f"SELECT COUNT(*) FROM {table.table}")
            found[table.section] = int(cur.fetchone()[0])
        return found

    def job_names(self, cur: Cursor) -> set[str]:
        cur.execute("SELECT name FROM jobs")
        return {row[0] for row in cur.fetchall()}

    def summary_keys(self, cur: Cursor) -> set[tuple[str, str]]:
        cur.execute("SELECT name, hostname FROM job_hosts")
        return {(row[0], row[1]) for row in cur.fetchall()}

    def write(self, cur: Cursor, table: Table, records: Sequence[Record]) -> int:
        """Insert ``records`` into ``table`` (its rule for stored keys: skip or replace);
        how many rows were inserted or replaced."""
        columns = [f.column for f in table.fields]
        written = 0
        per_statement = max(1, MAX_PARAMETERS // len(columns))
        for start in range(0, len(records), per_statement):
            chunk = records[start : start + per_statement]
            params: list[Any] = []
            for record in chunk:
                values = [_to_db(f, record[f.name]) for f in table.fields]
                params.extend(values)
            row = "(" + ", ".join("?" * len(columns)) + ")"
            statement = (
                f"INSERT INTO {table.table} ({', '.join(columns)}) VALUES "
                + ", ".join([row] * len(chunk))
                + _conflict(table)
            )
            cur.execute(self.db.sql(statement), params)
            written += max(0, cur.rowcount)
        return written

    def write_event(self, cur: Cursor, event: Record) -> int:
        """Insert ``event`` (a new id) and its ``deliveries``; the new id."""
        fields = [f for f in EVENTS.fields if f.name != "id"]
        cur.execute(
            self.db.sql(
                f"INSERT INTO events ({', '.join(f.column for f in fields)}) VALUES"
                f" ({', '.join('?' * len(fields))}) RETURNING id"
            ),
            [_to_db(f, event[f.name]) for f in fields],
        )
        event_id = int(cur.fetchone()[0])
        for delivery in event["deliveries"]:
            values = [_to_db(f, delivery[f.name]) for f in DELIVERIES.fields]
            cur.execute(
                self.db.sql(
                    f"INSERT INTO deliveries (event_id, name, {_columns(DELIVERIES)})"
                    f" VALUES (?, ?, {', '.join('?' * len(values))})"
                    " ON CONFLICT (event_id, channel) DO NOTHING"
                ),
                [event_id, event["name"], *values],
            )
        return event_id


def _columns(table: Table) -> str:
    return ", ".join(f.column for f in table.fields)


def _conflict(table: Table) -> str:
    if table.on_conflict == "skip":
        return f" ON CONFLICT {table.conflict} DO NOTHING".replace("  ", " ")
    keys = {c.strip() for c in table.conflict.strip("()").split(",")}
    updates = ", ".join(
        f"{f.column} = excluded.{f.column}" for f in table.fields if f.column not in keys
    )
    return f" ON CONFLICT {table.conflict} DO UPDATE SET {updates}"


def _record(table: Table, row: Sequence[Any]) -> Record:
    return {f.name: _from_db(f, value) for f, value in zip(table.fields, row, strict=True)}


def _from_db(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.kind == "instant":
        return from_us(int(value))
    if field.kind == "int":
        return int(value)
    if field.kind == "bool":
        return bool(value)
    if field.kind == "json":
        try:
            return json.loads(value)
        except ValueError:
            return value  # exported as stored; the import's check names it
    return value


def _to_db(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.kind == "instant":
        return to_us(value)
    if field.kind == "bool":
        return int(value)
    if field.kind == "json":
        return json.dumps(value)  # as the REST API stores a spec: a round trip keeps the text
    return value
