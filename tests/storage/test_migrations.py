"""Schema migrations: applied on connect, once, and producing exactly the declared schema."""

from __future__ import annotations

import multiprocessing
from typing import TYPE_CHECKING, Any

import pytest

from cronwatch.storage import open_database
from cronwatch.storage.connection import SchemaError
from cronwatch.storage.revision import KNOWN_REVISIONS, SCHEMA_REVISION
from cronwatch.storage.url import parse_database_url

if TYPE_CHECKING:
    from cronwatch.storage.connection import Database


def test_revision_constant_is_the_alembic_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "cronwatch.storage:migrations")
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [SCHEMA_REVISION]
    history = [rev.revision for rev in script.walk_revisions()]
    assert sorted(history) == sorted(KNOWN_REVISIONS)
    assert KNOWN_REVISIONS[-1] == SCHEMA_REVISION


def test_connect_migrates_an_empty_database(fresh_database_url: str) -> None:
    with open_database(fresh_database_url) as db:
        assert db.schema_revision() == SCHEMA_REVISION
        assert db.query("SELECT COUNT(*) FROM runs") == [(0,)]


def test_migrated_schema_matches_the_declared_tables(fresh_database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from cronwatch.storage.schema import metadata

    open_database(fresh_database_url).close()
    engine = create_engine(parse_database_url(fresh_database_url).sqlalchemy_url())
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_indexes_of_the_seed_exist(fresh_database_url: str) -> None:
    from sqlalchemy import create_engine, inspect

    open_database(fresh_database_url).close()
    engine = create_engine(parse_database_url(fresh_database_url).sqlalchemy_url())
    try:
        indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("runs")}
    finally:
        engine.dispose()
    assert indexes["ix_runs_name_started"]["column_names"] == ["name", "started_us"]
    assert indexes["ix_runs_host_name_completed"]["column_names"] == [
        "hostname",
        "name",
        "completed_us",
    ]
    assert indexes["ux_runs_name_run_id"]["unique"]


def test_database_from_a_newer_cronwatch_is_refused_untouched(fresh_database_url: str) -> None:
    with open_database(fresh_database_url) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaError, match=r"'9999'.*upgrade cronwatch"):
        open_database(fresh_database_url)
    with _raw(fresh_database_url) as db:
        assert db.query("SELECT version_num FROM alembic_version") == [("9999",)]


def test_no_upgrade_mode_refuses_an_old_schema(fresh_database_url: str) -> None:
    """A database at a real older revision (0004: before the summary-trigger changes) is
    refused with upgrade=False, and left at 0004: nothing migrated behind the user's back."""
    from cronwatch.storage.migrate import downgrade_schema

    open_database(fresh_database_url).close()
    downgrade_schema(parse_database_url(fresh_database_url), "0004")
    with pytest.raises(SchemaError, match="cronwatch migrate"):
        open_database(fresh_database_url, upgrade=False)
    with _raw(fresh_database_url) as db:
        assert db.query("SELECT version_num FROM alembic_version") == [("0004",)]


def test_no_upgrade_mode_refuses_an_empty_database(fresh_database_url: str) -> None:
    with pytest.raises(SchemaError, match="cronwatch migrate"):
        open_database(fresh_database_url, upgrade=False)


def _raw(url: str) -> Database:
    from cronwatch.storage.connection import Database

    return Database(parse_database_url(url))


def _connect_and_record(url: str, barrier: Any, results: Any) -> None:
    from datetime import UTC, datetime

    import cronwatch

    barrier.wait(60)  # all six connect to the new database at the same moment
    try:
        with cronwatch.connect(url, statsd=False) as monitor:
            now = datetime.now(UTC)
            results.put(monitor.record_success("first-boot", now, now, "h").run_id)
    except Exception as exc:
        results.put(f"error: {exc!r}")


@pytest.mark.slow
def test_many_processes_connecting_to_a_new_database_migrate_once(fresh_database_url: str) -> None:
    """Six processes released together on a database with no schema: each one connects and
    records. Without the migration lock two would run the same CREATE TABLE and one would fail
    ("already exists"), or record into a half-built schema."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(6), ctx.Queue()
    args = (fresh_database_url, barrier, results)
    processes = [ctx.Process(target=_connect_and_record, args=args) for _ in range(6)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    with open_database(fresh_database_url) as db:
        assert db.schema_revision() == SCHEMA_REVISION
        stored = {row[0] for row in db.query("SELECT run_id FROM runs")}
    assert stored == set(outcomes) and len(stored) == 6


def test_summary_triggers_down_to_0004_and_back_up(fresh_database_url: str) -> None:
    """0005 only replaces trigger bodies: before, after and back again, summaries agree."""
    from datetime import UTC, datetime, timedelta

    from cronwatch.monitor import Monitor, make_run
    from cronwatch.storage.migrate import downgrade_schema, upgrade_schema
    from cronwatch.storage.runs import RunStore
    from cronwatch.timeutil import from_us

    parsed = parse_database_url(fresh_database_url)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for step, revision in enumerate([SCHEMA_REVISION, "0004", SCHEMA_REVISION], start=1):
        if revision == "0004":
            downgrade_schema(parsed, "0004")
        else:
            upgrade_schema(parsed)
        with _raw(fresh_database_url) as db:
            assert db.schema_revision() == revision
            start = t0 + timedelta(hours=step)
            Monitor(RunStore(db)).record(
                make_run("job", start, start + timedelta(minutes=1), outcome="failure",
                         exit_code=step, hostname="h")
            )  # fmt: skip
            # Read as the summary table stands at every revision (today's JobStore reads
            # columns of later revisions, such as jobs.uuid).
            (row,) = db.query(
                "SELECT runs_total, failures_total, consecutive_failures, last_exit_code,"
                " last_started_us FROM job_hosts"
            )
        assert tuple(row[:3]) == (step, step, step)
        assert (row[3], from_us(row[4])) == (step, start)


def test_0009_gives_the_jobs_of_an_older_database_a_uuid_each(fresh_database_url: str) -> None:
    from cronwatch.names import UUID_PATTERN
    from cronwatch.storage.migrate import downgrade_schema, upgrade_schema

    parsed = parse_database_url(fresh_database_url)
    upgrade_schema(parsed)
    downgrade_schema(parsed, "0007")
    with _raw(fresh_database_url) as db:
        for name in ("a", "b", "c"):
            db.execute(
                "INSERT INTO jobs (name, source, created_us, updated_us) VALUES (?, 'run', 0, 0)",
                (name,),
            )
    upgrade_schema(parsed)
    with _raw(fresh_database_url) as db:
        uuids = [row[0] for row in db.query("SELECT uuid FROM jobs ORDER BY name")]
    assert len(set(uuids)) == 3
    assert all(isinstance(u, str) and UUID_PATTERN.fullmatch(u) for u in uuids)


#: A ``job_states`` row as an alert loop leaves a job whose failure it announced (host ``''``)
#: and that job's host row.
_STATE = (
    "INSERT INTO job_states (name, hostname, status, reason, since_us, version, alerting,"
    " alert_status, problem_since_us, notified_us, snooze_until_us, incident, announced_us,"
    " updated_us) VALUES (?, ?, 'failing', 'it failed', 100, 1, ?, ?, ?, ?, ?, ?, ?, 100)"
)


def _announced(name: str, hostname: str = "", snooze_until: int | None = None) -> tuple[Any, ...]:
    """The parameters of :data:`_STATE` for ``name`` (its job row, or a host row)."""
    job = hostname == ""
    return (
        name,
        hostname,
        int(job),
        "failing" if job else None,
        100 if job else None,
        100 if job else None,
        snooze_until,
        f"cw-{name}" if job else None,
        100 if job else None,
    )


def test_0016_deletes_the_states_deleted_jobs_left_and_nothing_else(
    fresh_database_url: str,
) -> None:
    """At 0015 a deleted job's ``job_states`` rows could be left behind (deleting a job did not
    delete them): 0016 deletes every row of a name without a job, host rows too. The rows of
    a job that exists stay as they were, and so does the snooze of a job declared in the config
    file that cronwatch has not stored yet (``alerts snooze`` takes one: it is no deleted job's
    state). The status counts (0014) do not move: they never counted a state without its job."""
    from datetime import UTC, datetime, timedelta

    from cronwatch.storage.alerts import AlertStore
    from cronwatch.storage.migrate import upgrade_schema
    from cronwatch.timeutil import to_us

    parsed = parse_database_url(fresh_database_url)
    upgrade_schema(parsed, "0015")
    now = datetime.now(UTC)
    far = to_us(now + timedelta(days=300))  # a snooze's end
    with _raw(fresh_database_url) as db:
        assert db.schema_revision() == "0015"
        db.execute(
            "INSERT INTO jobs (name, source, created_us, updated_us) VALUES ('live', 'run', 0, 0)"
        )
        for params in (
            _announced("live"),
            _announced("live", "db1"),
            # Deleted jobs' states: an announced problem (what made a new job of the name fail
            # silently), snoozed or not, with its host rows; a state that never got past new.
            _announced("gone"),
            _announced("gone", "db1"),
            _announced("gone", "db2"),
            _announced("gone-snoozed", snooze_until=far),
            _announced("host-only", "db1"),
        ):
            db.execute(_STATE, params)
        db.execute(
            "INSERT INTO job_states (name, hostname, status, reason, since_us, version,"
            " alerting, updated_us) VALUES ('never-evaluated', '', 'new', '', 0, 0, 0, 0)"
        )
        # As `cronwatch alerts snooze` (AlertStore.snooze) wrote it at 0015 for a job of the
        # config file not stored yet.
        db.execute(
            "INSERT INTO job_states (name, hostname, status, reason, since_us, version,"
            " alerting, snooze_until_us, updated_us) VALUES ('declared', '', 'new', '', ?, 0, 0,"
            " ?, ?)",
            (to_us(now), far, to_us(now)),
        )
        live_before = db.query("SELECT * FROM job_states WHERE name = 'live' ORDER BY hostname")
        declared_before = db.query("SELECT * FROM job_states WHERE name = 'declared'")
        counts_before = _status_counts(db)
    assert len(live_before) == 2 and len(declared_before) == 1

    upgrade_schema(parsed, "0016")

    with _raw(fresh_database_url) as db:
        assert db.schema_revision() == "0016"
        left = db.query("SELECT name, hostname FROM job_states ORDER BY name, hostname")
        assert left == [("declared", ""), ("live", ""), ("live", "db1")]
        # Untouched: every column of the live job's rows (its announced problem is still open)
        # and of the snooze, not merely rows of those keys.
        assert db.query("SELECT * FROM job_states WHERE name = 'live' ORDER BY hostname") == (
            live_before
        )
        assert db.query("SELECT * FROM job_states WHERE name = 'declared'") == declared_before
        assert [s.name for s in AlertStore(db).alerting()] == ["live"]
        assert [s.name for s in AlertStore(db).snoozed(now)] == ["declared"]
        assert _status_counts(db) == counts_before == {"failing": 1}
        assert db.query("SELECT name FROM jobs") == [("live",)]


def _status_counts(db: Database) -> dict[str, int]:
    """The kept counts of jobs per stored status (migration 0014), zeros left out."""
    rows = db.query("SELECT status, SUM(n) FROM job_status_counts GROUP BY status")
    return {status: int(n) for status, n in rows if int(n)}
