"""``cronwatch import-systemd``: TOML for review, --write merging like import-crontab, --wrap,
errors that change nothing; on the Debian timers of tests/systemd_units/samples and on this
host's own unit directories."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cronwatch.cli.main import cli
from cronwatch.config import load_config
from cronwatch.systemd_units.discover import systemd_running
from tests.support.cli import invoke as cronwatch

SAMPLES = Path(__file__).parent.parent / "systemd_units" / "samples"
APT = SAMPLES / "apt_2.6.2"


def invoke(*args: str, config: Path | None = None) -> Result:
    return cronwatch(*args, config=config)


def test_prints_the_tables_of_the_timers_given() -> None:
    result = invoke("import-systemd", "--timezone", "Europe/Paris", str(APT))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# Jobs imported from {APT} by cronwatch import-systemd.\n")
    jobs = tomllib.loads(result.stdout)["jobs"]
    assert jobs["apt-daily"] == {"on_calendar": "*-*-* 6,18:00", "timezone": "Europe/Paris",
                                 "grace": "12h 1m"}  # fmt: skip
    assert set(jobs) == {"apt-daily", "apt-daily-upgrade"}


def test_write_merges_and_never_changes_a_job(tmp_path: Path) -> None:
    config = tmp_path / "cronwatch.toml"
    config.write_text('# mine\n[jobs.apt-daily]\nschedule = "every 1h"\n')
    logrotate = SAMPLES / "logrotate_3.21.0-1" / "logrotate.timer"
    result = invoke("import-systemd", "--write", "--timezone", "UTC", str(APT), str(logrotate),
                    config=config)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "added 2 jobs to" in result.stdout and "apt-daily-upgrade, logrotate" in result.stdout
    assert 'job "apt-daily" is already in' in result.stderr
    text = config.read_text()
    assert text.startswith('# mine\n[jobs.apt-daily]\nschedule = "every 1h"\n\n')
    jobs = load_config(config).jobs
    assert jobs["apt-daily"].schedule is not None
    assert jobs["apt-daily"].schedule.expression == "every 1h"
    assert jobs["logrotate"].on_calendar is not None
    again = invoke("import-systemd", "--write", str(APT), config=config)
    assert again.exit_code == 0 and "nothing added" in again.stdout
    assert config.read_text() == text


def test_wrap_prints_a_dropin_per_service(tmp_path: Path) -> None:
    result = invoke("--database-url", f"sqlite:///{tmp_path}/cw.db", "import-systemd", "--wrap",
                    str(APT))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("[Service]\n") == 2
    assert "# /etc/systemd/system/apt-daily.service.d/cronwatch.conf\n" in result.stdout
    assert "hook start -- apt-daily-upgrade\n" in result.stdout
    assert "[jobs." not in result.stdout


def test_a_password_never_goes_into_a_unit_file(tmp_path: Path) -> None:
    result = invoke("--database-url", "postgresql://cw:s3cret@db/cw", "import-systemd", "--wrap",
                    str(APT))  # fmt: skip
    assert result.exit_code == 2
    assert "has a password" in result.stderr and "--env-file" in result.stderr
    assert "s3cret" not in result.output
    relative = invoke("import-systemd", "--wrap", "--env-file", "hook.env", str(APT))
    assert relative.exit_code == 2 and "give an absolute path" in relative.stderr
    env = invoke("import-systemd", "--wrap", "--env-file", "/etc/cronwatch/hook.env", str(APT))
    assert env.exit_code == 0
    assert "hook start --env-file /etc/cronwatch/hook.env -- apt-daily\n" in env.stdout


def test_errors_change_nothing(tmp_path: Path) -> None:
    config = tmp_path / "cronwatch.toml"
    config.write_text("[jobs.x]\n")
    for args, words in [
        (["import-systemd", str(tmp_path / "nope.timer")], "no such file or directory"),
        (["import-systemd", "--timezone", "Mars/Olympus", str(APT)], "unknown timezone"),
    ]:
        result = invoke(*args, "--write", config=config)
        assert result.exit_code == 2 and words in result.stderr, result.output
    assert config.read_text() == "[jobs.x]\n"
    no_config = CliRunner(env={"CRONWATCH_CONFIG": ""}).invoke(
        cli, ["import-systemd", "--write", str(APT)]
    )
    assert no_config.exit_code == 2 and "--write needs a config file" in no_config.stderr


def test_this_hosts_timers_without_systemd_running() -> None:
    # The test machines have Debian's timers installed, and systemd does not run there.
    if systemd_running():
        pytest.skip("systemd runs here: the timers come from systemctl list-timers")
    result = invoke("import-systemd")
    assert result.exit_code == 0, result.output
    assert "systemd is not running here: reading the unit directories" in result.stderr
    if "no timers to import" not in result.stderr:
        jobs = tomllib.loads(result.stdout)["jobs"]
        assert all("on_calendar" in job or "schedule" in job for job in jobs.values())
