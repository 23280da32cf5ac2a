"""`cronwatch record`, `last` and `history`: bad input refused with exit 2 and nothing written."""

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
    assert "2026-11-28 03:00:00+00:00" in last.output

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
