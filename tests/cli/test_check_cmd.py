"""`cronwatch check` keeps the Nagios plugin contract; `cronwatch status` is for people."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import cronwatch
from cronwatch.cli.main import cli
from tests.support.cli import invoke
from tests.support.ports import free_port

CONFIG = """
[jobs.backup]
schedule = "every 1h"
grace = "10m"
hosts = ["db1", "db2"]
tags = ["db"]

[jobs.report]
schedule = "every 1h"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "cronwatch.toml"
    path.write_text(CONFIG)
    return path


def record(url: str, name: str, host: str, minutes_ago: float, exit_code: int = 0) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(minutes=minutes_ago)
    with cronwatch.connect(url, statsd=False) as m:
        if exit_code:
            m.record_failure(name, start, start + timedelta(seconds=20), exit_code, host)
        else:
            m.record_success(name, start, start + timedelta(seconds=20), host)


def test_all_ok_exits_0_with_perfdata(database_url: str, config: Path) -> None:
    for host in ("db1", "db2"):
        record(database_url, "backup", host, 5)
    record(database_url, "report", "web1", 5)
    result = invoke("check", url=database_url, config=config)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("CRONWATCH OK - all 2 jobs ok |")
    assert "jobs=2;;;0" in first and "ok=2;;;0" in first and "missing=0;;;0" in first


def test_a_missing_host_is_critical_and_named(database_url: str, config: Path) -> None:
    record(database_url, "backup", "db1", 5)
    record(database_url, "backup", "db2", 200)
    record(database_url, "report", "web1", 5)
    result = invoke("check", url=database_url, config=config)
    assert result.exit_code == 2, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("CRONWATCH CRITICAL - 1 missing of 2 jobs: ")
    assert "backup" in first and "db2" in first
    assert "missing=1;;;0" in first


def test_failures_are_critical_lateness_is_warning(database_url: str, config: Path) -> None:
    for host in ("db1", "db2"):
        record(database_url, "backup", host, 65)  # due 5m ago, grace 10m: late
    record(database_url, "report", "web1", 5)
    assert invoke("check", url=database_url, config=config).exit_code == 1
    record(database_url, "report", "web1", 1, exit_code=4)
    assert invoke("check", url=database_url, config=config).exit_code == 2


def test_single_job_check_and_json(database_url: str, config: Path) -> None:
    for host in ("db1", "db2"):
        record(database_url, "backup", host, 5)
    result = invoke("check", "backup", url=database_url, config=config)
    assert result.exit_code == 0
    assert "age=" in result.output and "duration=20.000s;;;0" in result.output
    data = json.loads(
        invoke("check", "--json", "--tag", "db", url=database_url, config=config).output
    )
    assert data["state"] == "OK" and data["exit_code"] == 0
    assert [job["name"] for job in data["jobs"]] == ["backup"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[jobs.backup]\nschedule = "61 * * * *"\n', "jobs.backup.schedule"),
        ('[jobs.backup]\nschedule = "@daily"\ntimezone = "Mars/Olympus"\n', "jobs.backup.timezone"),
        ('[jobs.backup]\ngrace = "-5m"\n', "jobs.backup.grace"),
        ("[jobs.backup\n", "invalid TOML"),
    ],
)
def test_bad_config_is_unknown_3_naming_file_job_field(
    database_url: str, tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = invoke("check", url=database_url, config=path)
    assert result.exit_code == 3, result.output
    assert result.output.startswith("CRONWATCH UNKNOWN - ")
    assert str(path) in result.output and expected in result.output
    with cronwatch.connect(database_url, statsd=False) as m:
        assert m.store.db.query("SELECT COUNT(*) FROM jobs") == [(0,)], "nothing synced"


def test_usage_errors_and_unknown_jobs_are_unknown_3(database_url: str, config: Path) -> None:
    assert invoke("check", "--no-such-flag", url=database_url).exit_code == 3
    unknown_job = invoke("check", "nope", url=database_url, config=config)
    assert unknown_job.exit_code == 3 and "no job named 'nope'" in unknown_job.output
    bad_db = CliRunner().invoke(cli, ["--database-url", "mysql://x/y", "check"])
    assert bad_db.exit_code == 3 and "CRONWATCH UNKNOWN" in bad_db.output


def test_ad_hoc_window_check_needs_no_config(database_url: str) -> None:
    record(database_url, "backup", "db1", 10)
    record(database_url, "backup", "db2", 90)
    ok = invoke("check", "--window", "30m", "db1:backup", url=database_url)
    assert ok.exit_code == 0 and ok.output.startswith("CRONWATCH OK - 1 of 1 ran")
    bad = invoke(
        "check", "--window", "30m", "db1:backup", "db2:backup", "db3:backup", url=database_url
    )
    assert bad.exit_code == 2
    assert "backup didn't run on db2 in the last 30m" in bad.output
    assert "backup didn't run on db3 in the last 30m (never succeeded)" in bad.output
    any_host = invoke("check", "--window", "30m", "backup", url=database_url)
    assert any_host.exit_code == 0
    assert invoke("check", "--window", "soon", "backup", url=database_url).exit_code == 3


def test_status_table(database_url: str, config: Path) -> None:
    record(database_url, "backup", "db1", 5)
    record(database_url, "backup", "db2", 200)
    result = invoke("status", url=database_url, config=config)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["JOB", "STATUS", "HOSTS"]
    assert lines[1].startswith("backup") and "MISSING" in lines[1]
    only = invoke("status", "--problems", "--json", url=database_url, config=config)
    # report was declared a moment ago and is not due yet: new, not a problem
    assert [job["name"] for job in json.loads(only.output)] == ["backup"]


def test_status_next_due_is_never_past_and_says_since_when_overdue(
    database_url: str, config: Path
) -> None:
    # Issue 12: NEXT DUE 20:34 next to "didn't run since 20:35". One computation now: the
    # column and the reason name the same slot, the first one missed after the last run.
    record(database_url, "report", "web1", 200)
    result = invoke("status", "--json", "report", url=database_url, config=config)
    (job,) = json.loads(result.output)
    assert job["status"] == "missing"
    since = datetime.fromisoformat(job["overdue_since"])
    assert datetime.fromisoformat(job["next_due"]) > datetime.now(UTC)  # never past
    assert since < datetime.now(UTC)
    table = invoke("status", "report", url=database_url, config=config).output.splitlines()
    clock = since.strftime("%H:%M")
    assert f"overdue since {since.strftime('%Y-%m-%d')} {clock} UTC" in table[1]
    assert f"{clock} UTC (last run" in job["reason"]  # "didn't run since <that slot>"
    assert job["reason"] in table[1]


def test_record_started_long_ago_counts_from_the_start_everywhere(
    database_url: str, tmp_path: Path
) -> None:
    # Issue 12: `record --started <3 days ago> --completed now` had LAST RUN count from the
    # start and the reason from the end ("ran 0s ago"). A run's time is its start.
    started = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recorded = invoke(
        "record",
        "long",
        "--started",
        started,
        "--completed",
        "now",
        "--host",
        "vm",
        url=database_url,
    )
    assert recorded.exit_code == 0, recorded.output
    line = invoke("status", "long", url=database_url).output.splitlines()[1]
    assert "3d ago" in line  # LAST RUN
    assert "ran 3d ago on vm, took 3d" in line  # the reason: the same start
    assert "ran 0s ago" not in line and "just now" not in line


def test_an_unknown_job_is_unknown_in_both_forms(database_url: str, config: Path) -> None:
    record(database_url, "backup", "db1", 10)
    for args in (
        ["nosuchjob"],
        ["--window", "30m", "nosuchjob"],
        ["--window", "30m", "db1:nosuch"],
    ):
        result = invoke("check", *args, url=database_url)
        # a typo never pages anyone: UNKNOWN (3), not CRITICAL (2)
        assert result.exit_code == 3, (args, result.output)
        assert result.output.startswith("CRONWATCH UNKNOWN - no job named 'nosuch")
    mixed = invoke("check", "--window", "30m", "backup", "typo", "--json", url=database_url)
    assert mixed.exit_code == 3 and json.loads(mixed.output)["state"] == "UNKNOWN"
    assert "'typo'" in json.loads(mixed.output)["summary"]
    # A job that is declared but never ran is known: CRITICAL, it did not run.
    declared = invoke("check", "--window", "30m", "report", url=database_url, config=config)
    assert declared.exit_code == 2 and "report didn't run in the last 30m" in declared.output


def test_a_tag_or_host_that_matches_no_job_is_unknown_not_ok(
    database_url: str, config: Path
) -> None:
    """A mistyped --tag or --host must not make a check that is OK forever, watching
    nothing: UNKNOWN (3) naming the filter; `status` says the filter matched nothing, not
    that no job is known."""
    record(database_url, "backup", "db1", 5)
    for args in (["--tag", "dbb"], ["--host", "db9"], ["--tag", "db", "--host", "db9"]):
        result = invoke("check", *args, url=database_url, config=config)
        assert result.exit_code == 3, (args, result.output)
        assert result.output.startswith("CRONWATCH UNKNOWN - no job matches --")
        assert "OK" not in result.output
    as_json = invoke("check", "--tag", "dbb", "--json", url=database_url, config=config)
    assert json.loads(as_json.output)["summary"] == "no job matches --tag 'dbb'"
    assert invoke("check", "--tag", "db", url=database_url, config=config).exit_code != 3
    shown = invoke("status", "--tag", "dbb", url=database_url, config=config)
    assert shown.exit_code == 0 and "no jobs match --tag 'dbb'" in shown.output
    assert "known yet" not in shown.output
    assert invoke("check", url=database_url).exit_code == 0  # no filter: as before


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:{port}/cronwatch",  # nothing listens there
        "sqlite:///{tmp}/no-such-dir/cronwatch.db",
    ],
    ids=["postgresql-refused", "sqlite-missing-dir"],
)
def test_an_unreachable_database_is_unknown_3_never_critical(url: str, tmp_path: Path) -> None:
    """The real command, as Nagios runs it: exit 3 and one UNKNOWN line naming the cause, in
    text and in JSON; never 2 (CRITICAL would page someone about the jobs, not the monitor),
    and no traceback."""
    url = url.format(port=free_port(), tmp=tmp_path)
    base = [sys.executable, "-m", "cronwatch", "--database-url", url, "check"]
    text = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert text.returncode == 3, text
    assert text.stdout.startswith("CRONWATCH UNKNOWN - cannot "), text.stdout
    assert "Traceback" not in text.stdout + text.stderr
    as_json = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=60)
    assert as_json.returncode == 3, as_json
    answer = json.loads(as_json.stdout)
    assert (answer["state"], answer["exit_code"]) == ("UNKNOWN", 3)
    assert answer["summary"].startswith("cannot ") and "Traceback" not in as_json.stderr


def test_status_json_shows_the_snooze_and_who_acknowledged(database_url: str) -> None:
    from cronwatch.actions import JobActions
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.storage import open_database

    now = datetime.now(UTC)
    with cronwatch.connect(database_url, statsd=False) as monitor:
        monitor.record_success("calm", now - timedelta(minutes=2), now, hostname="h1")
        monitor.record_failure("backup", now - timedelta(minutes=2), now, 1, hostname="h1")

    def alerts() -> dict[str, dict[str, object]]:
        shown = json.loads(invoke("status", "--json", url=database_url).output)
        return {job["name"]: job["alerts"] for job in shown}

    assert alerts()["backup"] == {"snoozed_until": None, "incident": None}
    with open_database(database_url) as db:
        run_alert_cycle(db, None, now)
        JobActions(db).acknowledge("backup", "alice", "on it")
        JobActions(db).snooze("calm", now + timedelta(hours=1), "bob", now=now)
    shown = alerts()
    incident = shown["backup"]["incident"]
    assert isinstance(incident, dict)
    assert (incident["acknowledged_by"], incident["note"], incident["status"]) == (
        "alice", "on it", "failing")  # fmt: skip
    assert shown["calm"] == {"snoozed_until": (now + timedelta(hours=1)).isoformat(),
                             "incident": None}  # fmt: skip


def test_status_limit_shows_the_worst_first_and_counts_the_rest(
    database_url: str, config: Path
) -> None:
    record(database_url, "backup", "db1", 5)
    record(database_url, "backup", "db2", 200)
    for n in range(4):
        record(database_url, f"extra-{n}", "web1", 5)
    result = invoke("status", "--limit", "2", url=database_url, config=config)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("backup") and "MISSING" in lines[1], "the problem comes first"
    assert len(lines) == 4 and lines[-1] == "... and 4 more (--limit 2)", "not every job"
    as_json = invoke("status", "--limit", "1", "--json", url=database_url, config=config)
    assert [job["name"] for job in json.loads(as_json.output)] == ["backup"]
    assert invoke("status", "--limit", "0", url=database_url, config=config).exit_code == 2


def test_check_with_an_alert_loop_reads_what_it_settled(database_url: str, config: Path) -> None:
    """With an alert loop beating, `check` reads the statuses it stored for the jobs that
    cannot have changed and evaluates the rest: the same answer as without the loop."""
    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.config import load_config
    from cronwatch.storage import open_database

    record(database_url, "backup", "db1", 5)
    record(database_url, "backup", "db2", 200)
    record(database_url, "report", "web1", 5)
    without_loop = invoke("check", url=database_url, config=config)
    with open_database(database_url) as db:
        run_alert_cycle(db, load_config(config), worker="w")
    with_loop = invoke("check", url=database_url, config=config)
    assert with_loop.exit_code == without_loop.exit_code == 2
    assert with_loop.output.splitlines()[0] == without_loop.output.splitlines()[0]
    record(database_url, "backup", "db2", 1)  # fixed since the loop's cycle: evaluated again
    fixed = invoke("check", url=database_url, config=config)
    assert fixed.exit_code == 0, fixed.output


def test_check_by_tag_or_host_with_an_alert_loop_answers_as_without(
    database_url: str, config: Path
) -> None:
    """`check --tag/--host` with an alert loop beating reads the stored statuses of the
    filter's candidates and evaluates those that can have changed: the same exit code and
    the same output (status line, perfdata, problems; the one matching job's age and
    duration; `--json` in full) as every job evaluated without the loop; a mistyped filter
    still UNKNOWN; a job fixed after the loop's cycle evaluated again, not read as stored."""
    import re

    from cronwatch.alerts.cycle import run_alert_cycle
    from cronwatch.config import load_config
    from cronwatch.storage import open_database

    record(database_url, "backup", "db1", 5)
    record(database_url, "backup", "db2", 200)
    record(database_url, "report", "db2", 5)
    record(database_url, "report", "web1", 30, exit_code=4)
    record(database_url, "stray", "web1", 8)
    filters = [
        ["--tag", "db"],  # one job: its perfdata holds its age and duration
        ["--host", "db2"],
        ["--host", "web1"],
        ["--host", "db1", "--host", "web1"],
        ["--tag", "db", "--host", "db2"],
        ["--tag", "dbb"],
        ["--host", "db2", "--json"],
    ]

    def checked(args: list[str]) -> tuple[int, str]:
        result = invoke("check", *args, url=database_url, config=config)
        # An age counts seconds up to now: the two checks run a moment apart.
        return result.exit_code, re.sub(r"age=\d+s", "age=Ns", result.output)

    without_loop = [checked(args) for args in filters]
    with open_database(database_url) as db:
        run_alert_cycle(db, load_config(config), worker="w")
    with_loop = [checked(args) for args in filters]
    assert with_loop == without_loop
    codes = [code for code, _ in with_loop]
    assert codes == [2, 2, 1, 2, 2, 3, 2], with_loop
    assert "age=Ns" in with_loop[0][1] and "duration=" in with_loop[0][1]
    record(database_url, "backup", "db2", 1)  # fixed since the loop's cycle: evaluated again
    fixed = invoke("check", "--tag", "db", url=database_url, config=config)
    assert fixed.exit_code == 0, fixed.output
