"""Export and import through the library (:mod:`cronwatch.transfer`): what the import's runs
make of the job summaries."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

import cronwatch
from cronwatch.storage import open_database
from cronwatch.transfer import export_database, import_database
from tests.support.history import NOW, other_database, table_rows


def test_imported_runs_build_the_same_summaries_as_recorded_ones(
    database_url: str, dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Without pruning, the summaries the import's runs make through the triggers are the
    ones recorded; the export's own summaries (written over them) change nothing."""

    with cronwatch.connect(database_url, statsd=False) as monitor:
        for i in range(40):
            start = NOW - timedelta(minutes=10 * (40 - i))
            if i % 6 == 5:
                monitor.record_failure("job", start, start, 2, f"h{i % 3}")
            else:
                monitor.record_success("job", start, start, f"h{i % 3}")
    buffer = io.StringIO()
    with open_database(database_url) as db:
        export_database(db, buffer, runs=True)
    document = json.loads(buffer.getvalue())
    del document["job_hosts"]  # the summaries from the runs alone
    document["counts"].pop("job_hosts")
    target = other_database(dialect, tmp_path, request)
    with open_database(target) as db:
        import_database(db, io.StringIO(json.dumps(document)))
    assert table_rows(target, "job_hosts", "*") == table_rows(database_url, "job_hosts", "*")


def test_ping_uuids_and_log_lines_travel_with_the_export(
    database_url: str, dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A moved database answers the same ``/ping/<uuid>`` URLs; an export written before
    UUIDs existed (no ``uuid`` field) gets fresh ones; a malformed UUID is refused."""
    from cronwatch.storage.alerts.events import EventStore, LogLine

    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("job", NOW, NOW, "h")
        db = monitor.store.db
        with db.transaction() as cur:
            EventStore(db).insert_logs(cur, [LogLine("job", "h", "a log line", NOW)])
    buffer = io.StringIO()
    with open_database(database_url) as db:
        export_database(db, buffer, runs=True)
    document = json.loads(buffer.getvalue())
    target = other_database(dialect, tmp_path, request)
    with open_database(target) as db:
        import_database(db, io.StringIO(json.dumps(document)))
    assert table_rows(target, "jobs", "name, uuid") == table_rows(
        database_url, "jobs", "name, uuid"
    )
    assert table_rows(target, "events", "kind, text") == [("log", "a log line")]

    old = json.loads(json.dumps(document))
    for job in old["jobs"]:
        del job["uuid"]
    (tmp_path / "third").mkdir()
    (tmp_path / "fourth").mkdir()
    third = other_database(dialect, tmp_path / "third", request)
    with open_database(third) as db:
        import_database(db, io.StringIO(json.dumps(old)))
    ((fresh,),) = table_rows(third, "jobs", "uuid")
    assert isinstance(fresh, str) and len(fresh) == 36
    assert fresh != document["jobs"][0]["uuid"]

    bad = json.loads(json.dumps(document))
    bad["jobs"][0]["uuid"] = "NOT-A-UUID"
    fourth = other_database(dialect, tmp_path / "fourth", request)
    with open_database(fourth) as db, pytest.raises(cronwatch.InvalidInput, match="uuid"):
        import_database(db, io.StringIO(json.dumps(bad)))
    assert table_rows(fourth, "jobs", "name") == [], "a refused import writes nothing"


def test_action_events_travel_with_the_export(
    database_url: str, dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A database where someone paused a job (an ``action`` event, with who) exports and
    imports whole: the import must not refuse the event's kind and write nothing."""
    from cronwatch.actions import JobActions

    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("job", NOW, NOW, "h")
        JobActions(monitor.store.db).pause("job", "alice", "disk swap")
    buffer = io.StringIO()
    with open_database(database_url) as db:
        export_database(db, buffer, runs=True)
    target = other_database(dialect, tmp_path, request)
    with open_database(target) as db:
        import_database(db, io.StringIO(buffer.getvalue()))
    events = "kind, actor, note, text"
    assert ("action", "alice", "disk swap", "job paused by alice: disk swap") in table_rows(
        target, "events", events
    )
    assert table_rows(target, "events", events) == table_rows(database_url, "events", events)
