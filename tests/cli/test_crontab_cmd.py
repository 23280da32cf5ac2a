"""``cronwatch import-crontab``: the TOML on stdout, warnings on stderr, reading the user's
crontab, merging into the config file, and an exit status 2 that changes nothing on error."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from cronwatch import crontab
from cronwatch.config import load_config
from tests.support.cli import invoke
from tests.support.crontabs import (
    E2SCRUB_CRON_D,
    ETC_CRONTAB,
    EXISTING,
    PHP_CRON_D,
    USER_CRONTAB,
    parse_file,
)

# --- the command -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start with no config file (the command is the one registered in cronwatch.cli.main)."""
    monkeypatch.delenv("CRONWATCH_CONFIG", raising=False)
    # Tests must not depend on this machine's timezone.
    monkeypatch.setattr(crontab, "local_timezone", lambda: "UTC")
    # ...nor on which cron is installed: cronie honours CRON_TZ, as most tests expect.
    monkeypatch.setattr("cronwatch.crontab.daemon.installed_cron", lambda: "cronie")


def test_cli_prints_toml_and_warnings_on_stderr(tmp_path: Path) -> None:
    result = invoke("import-crontab", str(USER_CRONTAB))
    assert result.exit_code == 0
    out = tmp_path / "out.toml"
    out.write_text(result.stdout)
    assert list(load_config(out).jobs) == [e.job_name for e in parse_file(USER_CRONTAB).entries]
    assert "warning" not in result.stdout
    for line in (10, 17, 18, 22, 25, 26):
        assert f"cronwatch: warning: {USER_CRONTAB}, line {line}: " in result.stderr
    assert "[jobs" not in result.stderr


def test_cli_reads_stdin(tmp_path: Path) -> None:
    result = invoke("import-crontab", "-", stdin=b"CRON_TZ=Europe/Oslo\n0 6 * * * /bin/wake.sh\n")
    assert result.exit_code == 0
    assert "# Jobs imported from <stdin>" in result.stdout
    assert '[jobs.wake]\nschedule = "0 6 * * *"\ntimezone = "Europe/Oslo"\n' in result.stdout
    assert result.stderr == ""


def test_cli_system_flags_and_note(tmp_path: Path) -> None:
    text = ETC_CRONTAB.read_text()
    guessed = invoke("import-crontab", "-", stdin=text)
    assert '[jobs."cron.hourly"]' in guessed.stdout
    assert "read as a system crontab" in guessed.stderr and "--no-system" in guessed.stderr
    forced = invoke("import-crontab", "--no-system", "-", stdin=text)
    assert "(user root)" not in forced.stdout and "read as a system" not in forced.stderr
    explicit = invoke("import-crontab", "--system", str(E2SCRUB_CRON_D))
    assert "(user root)" in explicit.stdout and "note" not in explicit.stderr


def test_cli_timezone_option_and_unknown_host_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("import-crontab", "--timezone", "Asia/Kolkata", "-", stdin="0 1 * * * /bin/a\n")
    assert 'timezone = "Asia/Kolkata"' in result.stdout
    monkeypatch.setattr(crontab, "local_timezone", lambda: "America/Denver")
    result = invoke("import-crontab", "-", stdin="0 1 * * * /bin/a\n")
    assert 'timezone = "America/Denver"' in result.stdout
    monkeypatch.setattr(crontab, "local_timezone", lambda: None)
    result = invoke("import-crontab", "-", stdin="0 1 * * * /bin/a\n")
    assert result.exit_code == 0
    assert "cannot tell this host's timezone" in result.stderr
    assert "timezone =" not in result.stdout


def test_cli_with_no_jobs_says_so() -> None:
    result = invoke("import-crontab", "-", stdin="# nothing\nMAILTO=x\n")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "no jobs to import from <stdin>" in result.stderr


def fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    """Put a `crontab` executable first on PATH; it leaves a marker when it runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "crontab-ran"
    tool = bin_dir / "crontab"
    tool.write_text(
        f"#!{sys.executable}\nimport sys, pathlib\npathlib.Path({str(marker)!r}).touch()\n{script}"
    )
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return marker


def test_cli_reads_the_users_crontab_with_crontab_l(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = (
        "assert sys.argv[1:] == ['-l'], sys.argv\n"
        "sys.stdout.write('0 3 * * * cronwatch run nightly -- /bin/x\\n')\n"
    )
    marker = fake_crontab(tmp_path, monkeypatch, script)
    result = invoke("import-crontab")
    assert result.exit_code == 0, result.stderr
    assert marker.exists()
    assert "# Jobs imported from crontab -l" in result.stdout
    assert '[jobs.nightly]\nschedule = "0 3 * * *"\n' in result.stdout


def test_cli_no_crontab_for_the_user_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_crontab(tmp_path, monkeypatch, "sys.stderr.write('no crontab for tester\\n'); sys.exit(1)")
    result = invoke("import-crontab")
    assert result.exit_code == 2
    assert (
        result.stderr == "cronwatch: error: you have no crontab to import (no crontab for tester)\n"
    )
    assert result.stdout == ""


def test_cli_crontab_failing_otherwise_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_crontab(tmp_path, monkeypatch, "sys.stderr.write('permission denied\\n'); sys.exit(4)")
    result = invoke("import-crontab")
    assert result.exit_code == 2
    assert "crontab -l failed with exit status 4: permission denied" in result.stderr


def test_cli_without_the_crontab_command_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no crontab anywhere
    result = invoke("import-crontab")
    assert result.exit_code == 2
    assert result.stderr.startswith("cronwatch: error: the crontab command is not installed")
    assert result.stdout == ""


def test_cli_missing_file_exits_2_and_changes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "cronwatch.toml"
    config.write_text(EXISTING)
    missing = tmp_path / "nope"
    result = invoke("--config", str(config), "import-crontab", "--write", str(missing))
    assert result.exit_code == 2
    assert result.stderr == f"cronwatch: error: cannot read {missing}: No such file or directory\n"
    assert config.read_text() == EXISTING
    assert sorted(tmp_path.iterdir()) == [config]


def test_cli_write_without_a_config_exits_2_before_reading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = fake_crontab(tmp_path, monkeypatch, "print('0 1 * * * /bin/a')")
    before = sorted(tmp_path.rglob("*"))
    result = invoke("import-crontab", "--write")
    assert result.exit_code == 2
    assert "--write needs a config file" in result.stderr
    assert not marker.exists(), "crontab -l must not run when the command cannot succeed"
    assert sorted(tmp_path.rglob("*")) == before
    monkeypatch.setenv("CRONWATCH_CONFIG", "")  # empty counts as unset
    assert invoke("import-crontab", "--write", "-", stdin="0 1 * * * /bin/a\n").exit_code == 2


def test_cli_bad_timezone_exits_2() -> None:
    result = invoke("import-crontab", "--timezone", "Mars/Base", "-", stdin="0 1 * * * /bin/a\n")
    assert result.exit_code == 2
    assert result.stderr.startswith('cronwatch: error: --timezone: unknown timezone "Mars/Base"')
    assert result.stdout == ""


def test_cli_write_merges_into_the_config_option(tmp_path: Path) -> None:
    config = tmp_path / "cronwatch.toml"
    config.write_text(EXISTING)
    stdin = "0 3 * * * cronwatch run backup -- /bin/backup\n*/10 * * * * /srv/bin/poll.py\n"
    result = invoke("--config", str(config), "import-crontab", "--write", "-", stdin=stdin)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"added 1 job to {config}: poll\n"
    assert f'job "backup" (line 1) is already in {config}; left as it is' in result.stderr
    assert config.read_text().startswith(EXISTING)
    jobs = load_config(config).jobs
    assert jobs["backup"].schedule.expression == "0 4 * * *"  # type: ignore[union-attr]
    assert jobs["poll"].schedule.expression == "*/10 * * * *"  # type: ignore[union-attr]
    again = invoke("--config", str(config), "import-crontab", "--write", "-", stdin=stdin)
    assert again.stdout == f"nothing added: every job is already in {config}\n"


def test_cli_write_uses_cronwatch_config_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "env.toml"
    monkeypatch.setenv("CRONWATCH_CONFIG", str(config))
    result = invoke("import-crontab", "--write", str(PHP_CRON_D))
    assert result.exit_code == 0, result.stderr
    assert list(load_config(config).jobs) == ["sessionclean"]
    assert tomllib.loads(config.read_text())["jobs"]["sessionclean"] == {
        "schedule": "09,39 * * * *"
    }


def test_cli_write_into_an_invalid_config_exits_2_and_changes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "cronwatch.toml"
    broken = "[jobs.a\n"
    config.write_text(broken)
    result = invoke("--config", str(config), "import-crontab", "--write", str(PHP_CRON_D))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"cronwatch: error: {config}: invalid TOML")
    assert config.read_text() == broken
    assert sorted(tmp_path.iterdir()) == [config]


# --- --wrap ----------------------------------------------------------------------------------


def test_wrap_prints_the_crontab_with_the_jobs_under_this_cronwatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("cronwatch.paths.cronwatch_command", lambda: ["/venv/bin/cronwatch"])
    monkeypatch.delenv("CRONWATCH_DATABASE_URL", raising=False)
    text = "MAILTO=me\n# nightly\n0 3 * * * /usr/local/bin/backup.sh --full\n@reboot /bin/x\n"
    result = invoke("import-crontab", "--wrap", "-", stdin=text)
    assert result.exit_code == 0
    assert result.stdout == (
        "MAILTO=me\n# nightly\n"
        "0 3 * * * /venv/bin/cronwatch run backup -- /usr/local/bin/backup.sh --full\n"
        "@reboot /bin/x\n"
    )
    assert "line 4: skipped @reboot" in result.stderr  # and no TOML anywhere
    assert "[jobs" not in result.stdout + result.stderr
    with_db = invoke("import-crontab", "--wrap", "-", stdin=text, url="sqlite:////srv/cw.db")
    assert "/venv/bin/cronwatch --database-url sqlite:////srv/cw.db run backup --" in with_db.stdout


def test_wrap_warns_about_a_bare_cronwatch_cron_will_not_find(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("cronwatch.paths.cronwatch_command", lambda: ["/venv/bin/cronwatch"])
    text = "* * * * * cronwatch run cron-barepath -- echo bare\n"
    result = invoke("import-crontab", "--wrap", "-", stdin=text)
    assert result.exit_code == 0 and result.stdout == text
    assert "<stdin>, line 1: cron looks for cronwatch in PATH=/usr/bin:/bin" in result.stderr
    assert "write /venv/bin/cronwatch instead of cronwatch" in result.stderr


def test_wrap_refuses_a_password_and_write(tmp_path: Path) -> None:
    text = "0 3 * * * /bin/backup\n"
    secret = invoke("import-crontab", "--wrap", "-", stdin=text, url="postgresql://u:pw@h/db")
    assert secret.exit_code == 2
    assert "password" in secret.stderr and "CRONWATCH_DATABASE_URL=" in secret.stderr
    assert "pw" not in secret.stdout
    config = tmp_path / "c.toml"
    both = invoke("import-crontab", "--wrap", "--write", "-", stdin=text, config=config)
    assert both.exit_code == 2 and "pick one" in both.stderr
    assert not config.exists()


def test_wrap_notes_a_server_url_cron_will_not_see(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRONWATCH_URL", "http://cw.example:8000")
    result = invoke("import-crontab", "--wrap", "-", stdin="0 3 * * * /bin/backup\n")
    assert result.exit_code == 0
    assert "CRONWATCH_URL=... and CRONWATCH_PING_KEY=..." in result.stderr


def test_cron_option_decides_whether_cron_tz_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "CRON_TZ=Europe/Oslo\n0 6 * * * /bin/wake.sh\n"
    cronie = invoke("import-crontab", "--cron", "cronie", "-", stdin=text)
    assert 'timezone = "Europe/Oslo"' in cronie.stdout and cronie.stderr == ""
    debian = invoke(
        "import-crontab", "--cron", "debian", "--timezone", "Asia/Tokyo", "-", stdin=text
    )
    assert 'timezone = "Asia/Tokyo"' in debian.stdout and "Europe/Oslo" not in debian.stdout
    assert "line 1: Debian's cron ignores CRON_TZ" in debian.stderr
    assert "--cron cronie" in debian.stderr
    # Without --cron, the cron installed here decides.
    monkeypatch.setattr("cronwatch.crontab.daemon.installed_cron", lambda: "debian")
    detected = invoke("import-crontab", "-", stdin=text)
    assert "Europe/Oslo" not in detected.stdout and "ignores CRON_TZ" in detected.stderr
