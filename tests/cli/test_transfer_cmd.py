"""`cronwatch export` / `cronwatch import`: a move between SQLite and PostgreSQL keeps every job,
key, snooze, alert state and (with --runs) run, so that the status is the same after the move;
a bad export is refused and changes nothing; runs are never imported twice."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

import cronwatch
from cronwatch.storage import open_database
from cronwatch.storage.keys import KeyStore
from cronwatch.transfer import VERSION, export_database
from tests.support.alerting import MINUTE
from tests.support.cli import invoke
from tests.support.history import (
    HOUR,
    NOW,
    other_database,
    populate,
    status_json,
    table_rows,
    write_config,
)

# Every table's rows, as compared between the source and the target (no surrogate ids).
TABLE_COLUMNS = {
    "jobs": "name, source, spec, created_us, updated_us",
    "job_hosts": "*",
    "job_baselines": "*",
    "api_keys": "*",
    "job_states": "*",
    "events": "name, hostname, kind, old_status, new_status, reason, text, note, at_us",
    "deliveries": "channel, name, status, attempts, next_attempt_us, last_error, created_us",
    "alert_outages": "*",
    "workers": "*",
    "runs": "name, hostname, run_id, outcome, exit_code, started_us, completed_us, duration_us,"
    " output",
}


def cw(url: str, *args: str, config: Path | None = None, stdin: str | None = None) -> Result:
    return invoke(*args, url=url, config=config, stdin=stdin)


@pytest.mark.parametrize("with_runs", [True, False], ids=["runs", "no-runs"])
def test_a_move_to_the_other_database_keeps_the_status_and_everything_but_old_runs(
    database_url: str,
    dialect: str,
    with_runs: bool,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite -> PostgreSQL and PostgreSQL -> SQLite: `status --json` the same before and
    after, every table the same row for row (without --runs, of the runs only those still
    running), keys still working and still hashed."""
    config = write_config(tmp_path)
    tokens = populate(database_url, config)
    before = status_json(database_url, config, monkeypatch)
    export = tmp_path / "export.json"
    args = ["export", str(export)] + (["--runs"] if with_runs else [])
    assert cw(database_url, *args).exit_code == 0

    target = other_database(dialect, tmp_path, request)
    result = cw(target, "import", str(export))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("imported ")

    assert status_json(target, config, monkeypatch) == before
    for table, columns in TABLE_COLUMNS.items():
        if table == "runs" and not with_runs:  # only the run still going: state, not history
            running = table_rows(database_url, "runs WHERE outcome = 'running'", columns)
            assert len(running) == 1 and table_rows(target, "runs", columns) == running
            continue
        assert table_rows(target, table, columns) == table_rows(database_url, table, columns), table
    text = export.read_text()
    for token in tokens.values():
        assert token not in text, "a key left the database in clear"
    with open_database(target) as db:
        key = KeyStore(db).lookup(tokens["ping"])
        assert key is not None and key.active and key.scope == "ping"
        revoked = KeyStore(db).lookup(tokens["read"])
        assert revoked is not None and not revoked.active


def test_import_into_a_database_that_is_not_empty_needs_merge_and_never_duplicates_runs(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    populate(database_url, config)
    export = tmp_path / "export.json"
    assert cw(database_url, "export", "--runs", str(export)).exit_code == 0
    snapshot = {t: table_rows(database_url, t, c) for t, c in TABLE_COLUMNS.items()}

    refused = cw(database_url, "import", str(export))
    assert refused.exit_code == 2
    assert "not empty" in refused.output and "--merge" in refused.output
    merged = cw(database_url, "import", "--merge", str(export))
    assert merged.exit_code == 0, merged.output
    assert "0 runs (" in merged.output and "already there)" in merged.output
    assert {t: table_rows(database_url, t, c) for t, c in TABLE_COLUMNS.items()} == snapshot


def test_merge_adds_what_the_database_lacks(database_url: str, tmp_path: Path) -> None:
    """A database that already has some of the runs: the others are added, once each, and
    the jobs it did not know come with their summaries."""

    source = f"sqlite:///{tmp_path / 'source.db'}"
    with cronwatch.connect(source, statsd=False) as monitor:
        shared = monitor.record_success("shared", NOW, NOW, "h")
        monitor.record_success("shared", NOW.replace(hour=1), NOW.replace(hour=1), "h")
        monitor.record_failure("only-there", NOW, NOW, 4, "h")
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.store.save(shared)  # the same run (name, run id) already here
    export = tmp_path / "export.json"
    assert cw(source, "export", "--runs", str(export)).exit_code == 0
    result = cw(database_url, "import", "--merge", str(export))
    assert result.exit_code == 0, result.output
    assert "2 runs (1 already there)" in result.output
    runs = table_rows(database_url, "runs", "name, run_id")
    assert len(runs) == len(set(runs)) == 3
    assert table_rows(database_url, "job_hosts", "*") == table_rows(source, "job_hosts", "*")


def test_the_states_a_deleted_job_left_in_an_older_export_are_not_imported(
    database_url: str, dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """An export taken before migration 0016 may hold the alert state of a job deleted before
    (deleting a job left its state behind): the import leaves that state out and says so, or
    a job recorded later under the name would take its announced problem over and its failure
    would be announced to nobody. The states of a stored job and the snooze of a job declared
    in the config file but not stored yet (no deleted job's) are imported as they were."""
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.storage.alerts import AlertStore

    with cronwatch.connect(database_url, statsd=False) as monitor:
        for name in ("live", "gone"):
            monitor.record_failure(name, NOW - HOUR, NOW - HOUR, 1, "h")
        db = monitor.store.db
        run_alert_cycle(db, None, NOW)  # both problems announced: job rows and host rows
        AlertStore(db).snooze("declared", NOW + HOUR, NOW)
        with db.transaction() as cur:  # a job deleted as cronwatch did before 0016
            for table in ("runs", "job_hosts", "job_baselines", "jobs"):
                cur.execute(db.sql(f"DELETE FROM {table} WHERE name = 'gone'"))
    export = tmp_path / "export.json"
    assert cw(database_url, "export", str(export)).exit_code == 0
    exported = {(s["name"], s["hostname"]) for s in json.loads(export.read_text())["job_states"]}
    assert exported == {("live", ""), ("live", "h"), ("gone", ""), ("gone", "h"), ("declared", "")}

    target = other_database(dialect, tmp_path, request)
    result = cw(target, "import", str(export))
    assert result.exit_code == 0, result.output
    assert "3 job states (2 skipped: their job is gone)" in result.output, result.output
    assert table_rows(target, "job_states WHERE name = 'gone'", "*") == [], (
        "a deleted job's state was imported: a job recorded under its name would take it over"
    )
    assert table_rows(target, "job_states", "*") == table_rows(
        database_url, "job_states WHERE name <> 'gone'", "*"
    ), "the live job's states and the snooze of a job not stored yet are imported whole"

    with cronwatch.connect(target, statsd=False) as monitor:  # "gone" comes back and fails
        monitor.record_failure("gone", NOW, NOW, 1, "h")
        summary = run_alert_cycle(monitor.store.db, None, NOW + MINUTE)
    assert [(e.name, e.kind) for e in summary.events if not e.hostname] == [("gone", "problem")]
    # Merged again: "gone" is a job of the database now, its states are there already.
    merged = cw(target, "import", "--merge", str(export))
    assert merged.exit_code == 0, merged.output
    assert "0 job states (5 already there)" in merged.output


# --- bad input: a clear error, nothing changed ---------------------------------------------------


@pytest.fixture
def exported(tmp_path: Path) -> str:
    """The text of an export with runs, of a small history."""
    config = write_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'exported.db'}"
    populate(url, config)
    buffer = io.StringIO()
    with open_database(url) as db:
        export_database(db, buffer, runs=True)
    return buffer.getvalue()


def _bad_documents(text: str) -> Iterator[tuple[str, str, str]]:
    """``(case, document, what the error must say)``."""
    runs_at = text.index('"runs": [')
    yield "truncated in the runs", text[: runs_at + 2000], "truncated"
    yield "truncated at the end", text[:-2], "truncated"
    yield "cut at an element boundary", text[: text.index("\n", runs_at + 2000) + 1], "truncated"
    yield "newer version", text.replace(f'"version": {VERSION}', '"version": 2'), "newer"
    yield "not an export", '{"hello": "world"}', "not a cronwatch export"
    yield "not JSON", "SQLite format 3\x00 garbage", "JSON object"
    yield "empty", "", "ends early"
    document = json.loads(text)
    document["runs"][3]["completed"] = "2020-01-01T00:00:00+00:00"  # before its start
    yield "a bad run", json.dumps(document), "runs[3]"
    document = json.loads(text)
    document["runs"].pop()
    yield "a run missing", json.dumps(document), "promises"
    document = json.loads(text)
    document["api_keys"][0]["token_hash"] = "cwp_in-clear"
    yield "a key in clear", json.dumps(document), "SHA-256"
    document = json.loads(text)
    sections = list(document.items())
    reordered = dict([*sections[:8], sections[-1], *sections[8:-1]])  # summaries before runs
    yield "sections out of order", json.dumps(reordered), "out of order"


def test_bad_exports_are_refused_with_the_reason_and_change_nothing(
    database_url: str, exported: str
) -> None:
    for case, document, reason in _bad_documents(exported):
        result = cw(database_url, "import", "-", stdin=document)
        assert result.exit_code == 2, (case, result.output)
        assert "cronwatch: error: " in result.output and reason in result.output, (
            case,
            result.output,
        )
        for table, columns in TABLE_COLUMNS.items():
            assert table_rows(database_url, table, columns) == [], (case, table)
    assert cw(database_url, "import", "-", stdin=exported).exit_code == 0  # the good one goes in


def test_a_binary_file_is_refused(database_url: str, tmp_path: Path) -> None:
    binary = tmp_path / "not-text"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 100)
    result = cw(database_url, "import", str(binary))
    assert result.exit_code == 2 and "not text" in result.output


def test_export_refuses_to_overwrite_without_force(database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    target.write_text("precious")
    result = cw(database_url, "export", str(target))
    assert result.exit_code == 2 and "--force" in result.output
    assert target.read_text() == "precious"
    if database_url.startswith("sqlite:///"):  # not even with --force over the database
        own = Path(database_url.removeprefix("sqlite:///"))
        refused = cw(database_url, "export", "--force", str(own))
        assert refused.exit_code == 2 and "database's own file" in refused.output
        assert own.read_bytes().startswith(b"SQLite format 3")
    assert cw(database_url, "export", "--force", str(target)).exit_code == 0
    assert json.loads(target.read_text())["format"] == "cronwatch-export"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
