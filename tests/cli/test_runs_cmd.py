"""`cronwatch record`, `last`, `history` and `output`: bad input refused with exit 2 and nothing
written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cronwatch
from cronwatch.cli.main import cli
from tests.support.cli import invoke


def test_record_last_and_history(database_url: str) -> None:
    ok = invoke(
        "record",
        "backup",
        "--started",
        "2026-11-28T03:00:00Z",
        "--completed",
        "2026-11-28T03:01:30+00:00",
        "--host",
        "db1",
        url=database_url,
    )
    assert ok.exit_code == 0 and "recorded success of 'backup' on db1 (1m 30s)" in ok.output
    failed = invoke(
        "record",
        "backup",
        "--started",
        "@1795849200",
        "--completed",
        "@1795849260",
        "--host",
        "db2",
        "--exit-code",
        "4",
        url=database_url,
    )
    assert failed.exit_code == 0 and "recorded failure" in failed.output

    last = invoke("last", "backup", url=database_url)
    assert last.exit_code == 0
    assert "last success on db1" in last.output
    # times as every other command prints them: UTC to the second, and how long ago
    assert "  started    2026-11-28 03:00:00 UTC (" in last.output
    assert "  completed  2026-11-28 03:01:30 UTC (" in last.output and " ago)" in last.output
    assert "+00:00" not in last.output and ".000" not in last.output

    data = json.loads(invoke("last", "backup", "--json", url=database_url).output)
    assert data["hostname"] == "db1" and data["duration_seconds"] == 90.0

    history = invoke("history", "backup", url=database_url)
    lines = history.output.strip().splitlines()
    assert lines[0].split() == ["STARTED", "(UTC)", "HOST", "OUTCOME", "EXIT", "DURATION"]
    assert "db2" in lines[1] and "failure" in lines[1] and "db1" in lines[2]
    assert (
        len(
            invoke("history", "backup", "--limit", "1", "--json", url=database_url)
            .output.strip()
            .splitlines()
        )
        == 1
    )


def test_history_on_a_host_with_no_runs_names_the_host(database_url: str) -> None:
    """`--host` that ran nothing says so: not "no runs of 'backup'", which it has."""
    invoke("record", "backup", "--started", "now", "--completed", "now", "--host", "db1",
           url=database_url)  # fmt: skip
    other = invoke("history", "backup", "--host", "db9", url=database_url)
    assert other.exit_code == 0 and "no runs of 'backup' on 'db9' recorded" in other.output
    assert "db1" in invoke("history", "backup", "--host", "db1", url=database_url).output
    none = invoke("history", "nothing", url=database_url)
    assert "no runs of 'nothing' recorded" in none.output


def test_last_of_an_unknown_job_exits_1(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["--database-url", database_url, "last", "nothing"])
    assert result.exit_code == 1
    assert "no successful run of 'nothing'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--started", "2026-11-28T03:00:00", "--completed", "now"], "has no timezone"),
        (["--started", "yesterday", "--completed", "now"], "is not a time"),
        (["--started", "now", "--completed", "2020-01-01T00:00:00Z"], "is before date_started"),
        (["--started", "now", "--completed", "now", "--exit-code", "300"], "exit code"),
    ],
)
def test_record_refuses_bad_input_and_writes_nothing(
    database_url: str, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["--database-url", database_url, "record", "job", *args])
    assert result.exit_code == 2
    assert message in result.output
    with cronwatch.connect(database_url, statsd=False) as monitor:
        assert monitor.store.count() == 0


def test_unknown_database_scheme_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--database-url", "mysql://x/y", "last", "job"])
    assert result.exit_code == 2
    assert "unsupported database URL scheme 'mysql'" in result.output


def _run_with_output(url: str, host: str, started: str, exit_code: int, output: str) -> None:
    result = invoke(
        "record", "backup", "--started", started, "--completed", started.replace(":00Z", ":30Z"),
        "--host", host, "--exit-code", str(exit_code), "--output", output, url=url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_output_prints_a_runs_kept_output(database_url: str) -> None:
    _run_with_output(database_url, "db1", "2026-11-27T03:00:00Z", 2, "disk full\n")
    _run_with_output(database_url, "db1", "2026-11-28T03:00:00Z", 0, "copied 12 files")
    _run_with_output(database_url, "db2", "2026-11-28T03:00:00Z", 0, "copied 3 files\n")
    latest = invoke("output", "backup", "--host", "db1", url=database_url)
    assert latest.exit_code == 0
    # the output alone on stdout (a newline added only where it had none), which run on stderr
    assert latest.stdout == "copied 12 files\n"
    assert latest.stderr == "backup on db1, started 2026-11-28 03:00:00 UTC: success, exit 0, 30s\n"
    # RUN as history prints the start
    history = invoke("history", "backup", "--host", "db1", url=database_url).stdout.splitlines()
    started = history[2][:19]
    assert started == "2026-11-27 03:00:00"
    earlier = invoke("output", "backup", started, url=database_url)
    assert earlier.exit_code == 0 and earlier.stdout == "disk full\n"
    assert "failure, exit 2" in earlier.stderr
    # ...or ISO 8601, or the run id
    iso = invoke("output", "backup", "2026-11-27T04:00:00+01:00", url=database_url)
    assert iso.stdout == "disk full\n"
    run_id = json.loads(
        invoke("history", "backup", "--json", url=database_url).stdout.split("\n")[0]
    )
    by_id = invoke("output", "backup", run_id["run_id"], url=database_url)
    assert by_id.exit_code == 0 and by_id.stdout == run_id["output"]


def test_output_refuses_what_it_cannot_tell(database_url: str) -> None:
    _run_with_output(database_url, "db1", "2026-11-28T03:00:00Z", 0, "a\n")
    _run_with_output(database_url, "db2", "2026-11-28T03:00:00Z", 0, "b\n")
    both = invoke("output", "backup", "2026-11-28 03:00", url=database_url)
    assert both.exit_code == 2 and both.stdout == ""
    assert "2 runs of 'backup' started then (on db1, db2): pass --host H" in both.stderr
    none = invoke("output", "backup", "2026-11-28 04:00:00", url=database_url)
    assert none.exit_code == 1 and none.stdout == ""
    assert "no run of 'backup' started at '2026-11-28 04:00:00'" in none.stderr
    unknown = invoke("output", "nosuch", url=database_url)
    assert unknown.exit_code == 1 and "no run of 'nosuch' recorded" in unknown.stderr
    bad = invoke("output", "a/b", url=database_url)
    assert bad.exit_code == 2 and "must not contain '/'" in bad.stderr


def test_output_of_a_run_that_kept_none(database_url: str) -> None:
    ok = invoke("record", "quiet", "--started", "now", "--completed", "now", url=database_url)
    assert ok.exit_code == 0
    result = invoke("output", "quiet", url=database_url)
    assert result.exit_code == 0 and result.stdout == ""
    assert "(no output was kept with this run)" in result.stderr
