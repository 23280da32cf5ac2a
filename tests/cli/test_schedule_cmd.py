"""`cronwatch schedule EXPR...`: the next N slots of any schedule, one ISO 8601 UTC instant each."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from cronwatch.cli.main import cli


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["schedule", *args])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["Mon..Fri 09:00", "--timezone", "America/New_York", "-n", "3",
          "--from", "2026-03-06T15:00:00Z"],
         ["2026-03-09T13:00:00Z", "2026-03-10T13:00:00Z", "2026-03-11T13:00:00Z"]),
        (["OnCalendar=*-*-* 02:30 Europe/Berlin", "--from", "2026-03-27T12:00:00Z", "-n", "3"],
         ["2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"]),
        (["0 3 * * *", "--timezone", "Europe/London", "--from", "2026-03-28T12:00:00Z",
          "--count", "2"], ["2026-03-29T02:00:00Z", "2026-03-30T02:00:00Z"]),
        (["every 15m", "--from", "2026-05-01T00:07:00+02:00", "-n", "2"],
         ["2026-04-30T22:22:00Z", "2026-04-30T22:37:00Z"]),
        (["OnUnitActiveSec=1h 30min", "--from", "@1780000000", "-n", "1"],
         ["2026-05-28T21:56:40Z"]),
        (["daily UTC", "Sat 12:00 UTC", "--from", "2026-05-01T00:00:00Z", "-n", "3"],
         ["2026-05-02T00:00:00Z", "2026-05-02T12:00:00Z", "2026-05-03T00:00:00Z"]),
        (["*:*:0/0.5", "--from", "2026-05-01T00:00:00Z", "-n", "2"],
         ["2026-05-01T00:00:00.500000Z", "2026-05-01T00:00:01Z"]),
    ],
)  # fmt: skip
def test_prints_the_next_slots(args: list[str], expected: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == expected
    assert result.stderr == ""


def test_default_is_ten_slots_from_now() -> None:
    result = run("minutely")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 10
    assert all(line.endswith(":00Z") for line in lines)
    assert lines == sorted(set(lines))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["Mon..Fry 09:00"], 'unknown weekday "Fry"'),
        (["0 3 * *"], "expected 5 fields"),
        (["daily", "--timezone", "Europe/Londn"], "unknown timezone"),
        (["daily", "--from", "yesterday"], "--from: not a date-time: 'yesterday' is not a time"),
        (["daily", "--from", "2026-05-01T00:00:00"], "has no timezone"),
        (["daily", "0 3 * * *"], "several EXPR are systemd calendar expressions"),
        (["OnBootSec=5min"], "fire once"),
    ],
)
def test_bad_input_is_a_clear_error_and_prints_no_slot(args: list[str], fragment: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("cronwatch: error: ")
    assert fragment in result.stderr


def test_count_out_of_range_is_refused() -> None:
    for count in ("0", "-1", "100001", "many"):
        result = run("daily", "-n", count)
        assert result.exit_code == 2, count
        assert result.stdout == ""


def test_a_schedule_with_no_slot_left_exits_1_and_one_that_ends_says_so() -> None:
    past = run("2020-01-01 12:00", "--from", "2026-01-01T00:00:00Z")
    assert past.exit_code == 1
    assert past.stdout == ""
    assert "has no slot after 2026-01-01T00:00:00Z" in past.stderr
    ending = run("2027,2028-01-01", "--from", "2026-01-01T00:00:00Z", "-n", "5")
    assert ending.exit_code == 0
    assert ending.stdout.splitlines() == ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]
    assert "no slot after 2028-01-01T00:00:00Z" in ending.stderr


def test_runs_as_a_real_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cronwatch", "schedule", "quarterly", "--timezone",
         "Australia/Lord_Howe", "--from", "2026-01-01T00:00:00Z", "-n", "2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2026-03-31T13:00:00Z\n2026-06-30T13:30:00Z\n"
