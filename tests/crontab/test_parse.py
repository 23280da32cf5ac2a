"""Importing crontabs: parsing both formats, naming jobs, the TOML, the merge and the command."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from cronwatch import crontab
from cronwatch.cli.main import SUBCOMMANDS, cli
from cronwatch.config import load_config
from cronwatch.crontab import (
    CrontabEntry,
    cronwatch_run_name,
    derive_job_name,
    entries_to_toml,
    local_timezone,
    merge_into_config,
    parse_crontab,
)
from cronwatch.errors import ConfigError, InvalidInput
from cronwatch.names import validate_name

SAMPLES = Path(__file__).parent / "samples"
USER_CRONTAB = SAMPLES / "user.crontab"
ETC_CRONTAB = SAMPLES / "etc" / "crontab"
PHP_CRON_D = SAMPLES / "cron.d" / "php"
E2SCRUB_CRON_D = SAMPLES / "cron.d" / "e2scrub_all"


def summary(entries: list[CrontabEntry]) -> list[tuple[int, str, str, str, bool]]:
    return [(e.line_no, e.job_name, e.schedule_expr, e.timezone, e.wrapped) for e in entries]


def parse_file(path: Path, **kwargs: object) -> crontab.ParsedCrontab:
    return parse_crontab(path.read_bytes(), path=path, **kwargs)  # type: ignore[arg-type]


# --- parsing ---------------------------------------------------------------------------------


def test_user_crontab_entries_names_and_timezones() -> None:
    parsed = parse_file(USER_CRONTAB)
    assert parsed.system is False
    assert summary(parsed.entries) == [
        (7, "queue-drain", "*/15 * * * *", "UTC", True),
        (8, "backup", "0 3 * * *", "UTC", False),
        (9, "manage-clearsessions", "@hourly", "UTC", False),
        (11, "backup-2", "30 2 * * 1-5", "UTC", False),
        # CRON_TZ=Europe/London from line 13 on
        (14, "morning-report", "0 7 * * mon-fri", "Europe/London", True),
        (15, "find", "5 4 1 jan,jul *", "Europe/London", False),
        (16, "mail", "0 9 * * *", "Europe/London", False),
        # CRON_TZ="America/New_York" (quoted) from line 19 on; the third backup.sh gets -3
        (20, "backup-3", "0 2 * * *", "America/New_York", False),
        # CRON_TZ= (empty) at line 23 goes back to the default
        (24, "nightly", "@daily", "UTC", True),
    ]
    assert all(entry.user is None for entry in parsed.entries)


def test_user_crontab_warnings_name_each_skipped_line() -> None:
    warnings = [(w.line_no, w.message) for w in parse_file(USER_CRONTAB).warnings]
    expected = {
        10: "@reboot",
        17: "bad minute field",
        18: "expected 5 time fields and a command",
        22: 'unknown timezone "Mars/Olympus"',  # below the invalid CRON_TZ of line 21
        25: 'job "nightly" is already imported from line 24',
        26: "unknown alias",
    }
    assert [line for line, _ in warnings] == sorted(expected)
    for line, message in warnings:
        assert expected[line] in message, (line, message)
        assert "skipped" in message
    # Environment lines (MAILTO, SHELL, quoted PATH with blanks around "=") are not warnings,
    # and nothing after an invalid line is lost: line 24 imports after the bad 21-22.
    assert not {3, 4, 5, 13, 19, 21, 23} & {line for line, _ in warnings}


def test_command_is_kept_as_written_percent_signs_included() -> None:
    (mail,) = [e for e in parse_file(USER_CRONTAB).entries if e.job_name == "mail"]
    line = USER_CRONTAB.read_text().split("\n")[mail.line_no - 1]
    assert mail.command == line.removeprefix("0 9 * * * ")
    assert mail.command.endswith("team@example.com%Hello team,%see the dashboard.%")
    assert "\\%F" in mail.command


def test_name_comes_from_the_part_before_an_unescaped_percent() -> None:
    parsed = parse_crontab("0 9 * * * /usr/bin/notify%; cronwatch run wrong -- x%\n")
    (entry,) = parsed.entries
    # After "%" is stdin, not a command: "cronwatch run wrong" does not name the job.
    assert (entry.job_name, entry.wrapped) == ("notify", False)
    assert entry.command == "/usr/bin/notify%; cronwatch run wrong -- x%"
    # An escaped "\%" is a literal percent sign: the command goes on after it.
    (escaped,) = parse_crontab("0 9 * * * /usr/bin/notify \\%; cronwatch run right\n").entries
    assert (escaped.job_name, escaped.wrapped) == ("right", True)


def test_etc_crontab_is_a_system_crontab_by_its_path() -> None:
    parsed = parse_file(ETC_CRONTAB)
    assert (parsed.system, parsed.system_guessed) == (True, False)
    assert [(e.line_no, e.job_name, e.schedule_expr, e.user) for e in parsed.entries] == [
        (19, "cron.hourly", "17 * * * *", "root"),
        (20, "cron.daily", "25 6 * * *", "root"),
        (21, "cron.weekly", "47 6 * * 7", "root"),
        (22, "cron.monthly", "52 6 1 * *", "root"),
    ]
    # The user field is not part of the command; the tabs between fields are not either.
    assert parsed.entries[0].command == "cd / && run-parts --report /etc/cron.hourly"
    assert parsed.warnings == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (PHP_CRON_D, [(14, "sessionclean", "09,39 * * * *", "root")]),
        (
            E2SCRUB_CRON_D,
            [
                (1, "e2scrub_all_cron", "30 3 * * 0", "root"),
                (2, "e2scrub_all", "10 3 * * *", "root"),
            ],
        ),
    ],
)
def test_cron_d_files_are_system_crontabs(path: Path, expected: list[object]) -> None:
    parsed = parse_file(path)
    assert (parsed.system, parsed.system_guessed) == (True, False)
    assert [(e.line_no, e.job_name, e.schedule_expr, e.user) for e in parsed.entries] == expected


def test_system_format_is_detected_from_the_content_without_a_path() -> None:
    parsed = parse_crontab(ETC_CRONTAB.read_text())
    assert (parsed.system, parsed.system_guessed) == (True, True)
    assert [e.user for e in parsed.entries] == ["root"] * 4
    # No header, but every line has a user of this host (root) before a command.
    parsed = parse_crontab(E2SCRUB_CRON_D.read_text())
    assert (parsed.system, parsed.system_guessed) == (True, True)
    # A user crontab stays a user crontab.
    parsed = parse_crontab(USER_CRONTAB.read_text())
    assert (parsed.system, parsed.system_guessed) == (False, True)
    parsed = parse_crontab("0 3 * * * nosuchuser-xyz /usr/bin/x\n")
    assert parsed.system is False
    assert parsed.entries[0].command == "nosuchuser-xyz /usr/bin/x"


def test_the_system_flag_overrides_path_and_content() -> None:
    as_user = parse_file(ETC_CRONTAB, system=False)
    assert as_user.system is False
    assert as_user.entries[0].command.startswith("root\tcd / &&")
    assert as_user.entries[0].user is None
    as_system = parse_crontab("0 3 * * * deploy /srv/bin/ship.sh\n", system=True)
    assert [(e.user, e.command, e.job_name) for e in as_system.entries] == [
        ("deploy", "/srv/bin/ship.sh", "ship")
    ]


def test_system_line_without_a_command_after_the_user_is_a_warning() -> None:
    parsed = parse_crontab("0 3 * * * root\n@daily root\n5 * * * * root /bin/ok\n", system=True)
    assert [e.line_no for e in parsed.entries] == [3]
    assert [(w.line_no, "a user and a command" in w.message) for w in parsed.warnings] == [
        (1, True),
        (2, True),
    ]


def test_cron_tz_switches_mid_file_and_tz_is_the_fallback() -> None:
    text = "\n".join(
        [
            "0 1 * * * /bin/a",  # 1: default
            "TZ=Asia/Tokyo",
            "0 2 * * * /bin/b",  # 3: TZ applies while there is no CRON_TZ
            "CRON_TZ=Europe/Paris",
            "0 3 * * * /bin/c",  # 5: CRON_TZ wins over TZ
            "TZ=America/Chicago",
            "0 4 * * * /bin/d",  # 7: still CRON_TZ
            "CRON_TZ = 'Australia/Sydney'",
            "0 5 * * * /bin/e",  # 9
            "CRON_TZ=",
            "0 6 * * * /bin/f",  # 11: CRON_TZ cleared, TZ again
            "TZ=",
            "0 7 * * * /bin/g",  # 13: both cleared: the default
        ]
    )
    parsed = parse_crontab(text, default_timezone="Europe/Berlin")
    assert [(e.job_name, e.timezone) for e in parsed.entries] == [
        ("a", "Europe/Berlin"),
        ("b", "Asia/Tokyo"),
        ("c", "Europe/Paris"),
        ("d", "Europe/Paris"),
        ("e", "Australia/Sydney"),
        ("f", "America/Chicago"),
        ("g", "Europe/Berlin"),
    ]
    assert parsed.warnings == []


def test_invalid_cron_tz_skips_the_lines_below_it_until_a_valid_one() -> None:
    text = "CRON_TZ=Not/AZone\n0 1 * * * /bin/a\n0 2 * * * /bin/b\nCRON_TZ=UTC\n0 3 * * * /bin/c\n"
    parsed = parse_crontab(text, default_timezone="Europe/London")
    # Never imported in some other timezone: the wrong hours would be watched.
    assert [(e.job_name, e.timezone) for e in parsed.entries] == [("c", "UTC")]
    assert [w.line_no for w in parsed.warnings] == [2, 3]
    assert all("set at line 1" in w.message for w in parsed.warnings)


def test_invalid_tz_does_not_matter_under_a_valid_cron_tz() -> None:
    parsed = parse_crontab("CRON_TZ=Europe/Paris\nTZ=bogus/zone\n0 1 * * * /bin/a\n")
    assert [(e.job_name, e.timezone) for e in parsed.entries] == [("a", "Europe/Paris")]
    assert parsed.warnings == []


def test_an_invalid_default_timezone_is_the_callers_error() -> None:
    with pytest.raises(InvalidInput, match="default timezone"):
        parse_crontab("0 1 * * * /bin/a\n", default_timezone="Nowhere/Special")


@pytest.mark.parametrize(
    ("line", "expression"),
    [
        ("@yearly /bin/x", "@yearly"),
        ("@ANNUALLY /bin/x", "@annually"),
        ("@monthly /bin/x", "@monthly"),
        ("@weekly /bin/x", "@weekly"),
        ("@daily /bin/x", "@daily"),
        ("@midnight /bin/x", "@midnight"),
        ("@hourly /bin/x", "@hourly"),
        ("*/5 9-17 * * mon-fri /bin/x", "*/5 9-17 * * mon-fri"),
        ("0 0 1,15 jan-jun,dec sun /bin/x", "0 0 1,15 jan-jun,dec sun"),
        ("0  0\t*  *  7 /bin/x", "0 0 * * 7"),
        ("  0 4 * * * /bin/x", "0 4 * * *"),
    ],
)
def test_aliases_ranges_steps_and_names(line: str, expression: str) -> None:
    parsed = parse_crontab(line + "\n")
    assert parsed.warnings == []
    assert [e.schedule_expr for e in parsed.entries] == [expression]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("@reboot /bin/x", "skipped @reboot: it has no schedule to watch"),
        ("@REBOOT /bin/x", "skipped @reboot: it has no schedule to watch"),
        ("0 24 * * * /bin/x", "bad hour field"),
        ("0 0 32 * * /bin/x", "bad day-of-month"),
        ("0 0 * 13 * /bin/x", "bad month"),
        ("0 0 * * 8 /bin/x", "bad day-of-week"),
        ("*/0 * * * * /bin/x", "invalid cron expression"),
        ("every 15m * * * /bin/x", "invalid cron expression"),
        ("@fortnightly /bin/x", "unknown alias"),
        ("0 0 * *", "expected 5 time fields and a command"),
        ("@daily", "expected an @alias and a command"),
        ("garbage", "expected 5 time fields"),
    ],
)
def test_bad_lines_are_warnings_with_the_line_number(line: str, fragment: str) -> None:
    parsed = parse_crontab(f"# header\n{line}\n0 1 * * * /bin/good\n")
    assert [e.job_name for e in parsed.entries] == ["good"]
    ((line_no, message),) = [(w.line_no, w.message) for w in parsed.warnings]
    assert line_no == 2
    assert fragment in message
    assert str(parsed.warnings[0]).startswith("line 2: ")


def test_comments_blank_lines_crlf_and_no_final_newline() -> None:
    text = (
        "# comment\r\n\r\n   # indented comment\r\n\t\r\nX=1\r\n"
        "0 1 * * * /bin/a --flag\r\n@daily /bin/b"
    )
    parsed = parse_crontab(text)
    assert [(e.line_no, e.job_name, e.command) for e in parsed.entries] == [
        (6, "a", "/bin/a --flag"),
        (7, "b", "/bin/b"),
    ]
    assert parsed.warnings == []


def test_bytes_that_are_not_utf8_do_not_crash() -> None:
    parsed = parse_crontab(b"0 1 * * * /opt/caf\xe9/run.sh\n")
    (entry,) = parsed.entries
    assert entry.job_name == "run"
    assert "\ufffd" in entry.command


# --- job names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("cronwatch run backup -- /usr/local/bin/backup.sh", "backup"),
        ("/usr/local/bin/cronwatch run backup -- /usr/local/bin/backup.sh", "backup"),
        ("cronwatch run --host db1 backup -- ./backup.sh", "backup"),
        ("cronwatch run --host=db1 backup -- ./backup.sh", "backup"),
        ("cronwatch run backup --host db1 -- ./backup.sh", "backup"),
        ("cronwatch run --no-capture backup -- ./backup.sh", "backup"),
        ("cronwatch run -- backup ./backup.sh", "backup"),
        ("cronwatch --config /etc/cw.toml run db-dump -- pg_dump app", "db-dump"),
        ("cronwatch --database-url=sqlite:///x.db run db-dump -- pg_dump", "db-dump"),
        ("CRONWATCH_URL=https://cw.example.com cronwatch run ping -- /bin/true", "ping"),
        ("cd /srv && nice -n 10 /opt/venv/bin/cronwatch run report -- ./report.py", "report"),
        ("flock -n /tmp/x.lock cronwatch run locked -- /bin/x", "locked"),
        ("flock -n /tmp/x.lock -c 'cronwatch run locked -- /bin/x'", "locked"),
        ("/bin/sh -c 'cronwatch run shelled -- /bin/x'", "shelled"),
        ("python3 -m cronwatch run as-module -- /bin/x", "as-module"),
        ("cronwatch run 'nightly report' -- /bin/x", "nightly report"),
        ("cronwatch run backup -- /bin/x >> /var/log/x.log 2>&1", "backup"),
    ],
)
def test_cronwatch_run_name_is_found(command: str, name: str) -> None:
    assert cronwatch_run_name(command) == name
    (entry,) = parse_crontab(f"0 3 * * * {command}\n").entries
    assert (entry.job_name, entry.wrapped) == (name, True)


@pytest.mark.parametrize(
    "command",
    [
        "/usr/local/bin/backup.sh",
        "cronwatch last backup",  # not `run`
        "cronwatch run",  # no name
        "cronwatch run --host db1",  # still no name
        "echo cronwatch run backup",  # cronwatch is an argument here, not the program
        "/opt/notcronwatch run backup -- x",
        "/bin/x # cronwatch run backup",  # a shell comment
    ],
)
def test_commands_that_do_not_run_under_cronwatch(command: str) -> None:
    assert cronwatch_run_name(command) is None


def test_an_invalid_cronwatch_run_name_skips_the_line() -> None:
    parsed = parse_crontab("0 3 * * * cronwatch run db/backup -- x\n0 4 * * * /bin/ok\n")
    # Importing it under another name would create a job that never gets a run.
    assert [e.job_name for e in parsed.entries] == ["ok"]
    (warning,) = parsed.warnings
    assert warning.line_no == 1 and "must not contain '/'" in warning.message


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("/usr/local/bin/backup.sh --full", "backup"),
        ("cd /srv && ./manage.py clearsessions", "manage-clearsessions"),
        ("cd /srv/app; /srv/venv/bin/python manage.py send_mail >/dev/null", "manage-send_mail"),
        ("php /var/www/artisan schedule:run >> /dev/null 2>&1", "artisan-schedule-run"),
        ("/usr/bin/php8.2 -d memory_limit=1G -f /var/www/cron.php", "cron"),
        ("python3 -u /opt/jobs/sync_users.py --all", "sync_users"),
        ("python3 -m app.tasks.cleanup --days 7", "cleanup"),
        ("/usr/bin/python3 -c 'import app; app.run()'", "python3"),
        ("bash -lc 'source ~/.profile && ~/bin/sync-mail.sh'", "sync-mail"),
        ("sleep $((RANDOM \\% 90)) && /usr/bin/certbot renew -q", "certbot-renew"),
        (
            "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
            "cron.daily",
        ),
        ("timeout 2h ionice -c3 nice /opt/bin/Reindex_All.PL", "Reindex_All"),
        ("sudo -u www-data /usr/bin/php /var/www/html/occ files:scan --all", "occ-files-scan"),
        ("env -i HOME=/root /usr/sbin/logrotate /etc/logrotate.conf", "logrotate"),
        ("java -Xmx1g -jar /opt/reports/reports.jar --daily", "reports"),
        ("/usr/bin/find /tmp -mtime +7 -delete", "find"),
        ("tar czf /backup/etc.tgz /etc", "tar"),
        ("curl -fsS -m 10 https://hc-ping.com/abc > /dev/null", "curl"),
        ("`which backup` --now", "job"),
        ("%only stdin", "job"),
        ("'unbalanced quote", "unbalanced-quote"),
        ("/opt/" + "x" * 300 + ".sh", "x" * 60),
        ("'/opt/weird name!/(run)*.sh' --x", "run"),
        ("/opt/weird name!/(run)*.sh", "weird"),  # unquoted: the shell runs /opt/weird
        ("/opt/日本/バックアップ.sh", "job"),
    ],
)
def test_derived_names(command: str, name: str) -> None:
    assert derive_job_name(command) == name


@given(st.text(max_size=200))
def test_derived_names_are_always_valid_and_plain(command: str) -> None:
    name = derive_job_name(command)
    assert validate_name(name) == name
    assert 0 < len(name) <= crontab.naming.MAX_DERIVED_NAME
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@given(
    st.lists(st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=80), max_size=8)
)
def test_any_text_parses_without_raising(lines: list[str]) -> None:
    parsed = parse_crontab("\n".join(lines))
    names = [entry.job_name for entry in parsed.entries]
    assert len(names) == len(set(names))
    for entry in parsed.entries:
        assert validate_name(entry.job_name) == entry.job_name


def test_duplicate_derived_names_get_suffixes_in_file_order() -> None:
    text = "".join(
        f"{minute} * * * * /usr/local/bin/backup.sh --part {minute}\n" for minute in range(4)
    )
    assert [e.job_name for e in parse_crontab(text).entries] == [
        "backup",
        "backup-2",
        "backup-3",
        "backup-4",
    ]


def test_explicit_names_are_never_renamed_and_win_over_derived_ones() -> None:
    text = (
        "0 1 * * * /usr/local/bin/backup.sh\n"  # derived "backup", but line 2 names it
        "0 2 * * * cronwatch run backup -- /usr/local/bin/backup.sh --full\n"
        "0 3 * * * /usr/local/bin/backup-2.sh\n"  # derived "backup-2" is a real name too
        "0 2 * * * cronwatch run backup -- /usr/local/bin/backup.sh --full\n"  # repeat
    )
    parsed = parse_crontab(text)
    assert [(e.line_no, e.job_name, e.wrapped) for e in parsed.entries] == [
        (1, "backup-3", False),
        (2, "backup", True),
        (3, "backup-2", False),
    ]
    ((line_no, message),) = [(w.line_no, w.message) for w in parsed.warnings]
    assert line_no == 4 and "repeats line 2" in message


# --- TOML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [USER_CRONTAB, ETC_CRONTAB, PHP_CRON_D, E2SCRUB_CRON_D])
def test_toml_round_trips_through_load_config(sample: Path, tmp_path: Path) -> None:
    entries = parse_file(sample).entries
    assert entries
    path = tmp_path / "cronwatch.toml"
    path.write_text(entries_to_toml(entries, source=str(sample)), encoding="utf-8")
    config = load_config(path)
    assert {
        name: (job.schedule.expression if job.schedule else None, job.timezone)
        for name, job in config.jobs.items()
    } == {e.job_name: (e.schedule_expr, e.timezone) for e in entries}
    assert list(config.jobs) == [e.job_name for e in entries]


def test_toml_layout_comments_and_utc_default() -> None:
    text = entries_to_toml(parse_file(ETC_CRONTAB).entries[:1], source="/etc/crontab")
    assert text.startswith("# Jobs imported from /etc/crontab by cronwatch import-crontab.\n")
    assert (
        "# line 19 (user root): cd / && run-parts --report /etc/cron.hourly\n"
        '[jobs."cron.hourly"]\n'
        'schedule = "17 * * * *"\n'
    ) in text
    assert "timezone" not in text  # UTC is the config's default: not repeated
    london = entries_to_toml(parse_crontab("CRON_TZ=Europe/London\n0 7 * * * /bin/r\n").entries)
    assert 'timezone = "Europe/London"' in london
    assert entries_to_toml([]) == ""


def test_toml_stays_valid_with_hostile_commands_and_names(tmp_path: Path) -> None:
    entries = [
        CrontabEntry(1, "0 1 * * *", "UTC", "/bin/x \x00\x1b[31m\x7f\r\"'\\ #", 'we"ird\\ name'),
        CrontabEntry(2, "0 2 * * *", "UTC", "y" * 1000, "日次"),
        CrontabEntry(3, "0 3 * * *", "UTC", "/bin/z", "a.b", user="ro\x01ot"),
    ]
    text = entries_to_toml(entries, source="/tmp/\nevil")
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    assert list(load_config(path).jobs) == ['we"ird\\ name', "日次", "a.b"]
    assert max(len(line) for line in text.splitlines()) < 200  # long commands are shortened


# --- merging ---------------------------------------------------------------------------------

EXISTING = """\
# Our jobs.   Hand-edited: keep   this   formatting!
[jobs.backup]
schedule = "0 4 * * *"     # moved from 03:00 on purpose
grace    = "2h"

[channels.ops]
type = "webhook"
url = "https://hooks.example.com/x"
"""


def entries_of(text: str) -> list[CrontabEntry]:
    return parse_crontab(text).entries


def test_merge_appends_new_jobs_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_bytes(EXISTING.encode())
    entries = entries_of("0 3 * * * /usr/local/bin/backup.sh\n*/5 * * * * /srv/bin/poll.py\n")
    added, skipped = merge_into_config(path, entries, source="crontab -l")
    assert [e.job_name for e in added] == ["poll"]
    assert [e.job_name for e in skipped] == ["backup"]
    data = path.read_bytes()
    assert data.startswith(EXISTING.encode()), "the existing text must be kept byte for byte"
    config = load_config(path)
    backup = config.jobs["backup"]
    assert backup.schedule is not None and backup.schedule.expression == "0 4 * * *"
    assert str(backup.grace) == "2:00:00"
    assert config.jobs["poll"].schedule is not None
    assert config.jobs["poll"].schedule.expression == "*/5 * * * *"
    assert list(tmp_path.iterdir()) == [path], "no temporary file may be left behind"


def test_merging_again_changes_nothing_and_does_not_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text(EXISTING)
    entries = entries_of("*/5 * * * * /srv/bin/poll.py\n")
    merge_into_config(path, entries)
    before = path.read_bytes()
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    added, skipped = merge_into_config(path, entries)
    assert (added, [e.job_name for e in skipped]) == ([], ["poll"])
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == 1_000_000_000, "an unchanged file must not be rewritten"


def test_merge_finishes_a_last_line_without_newline_and_keeps_crlf(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    original = b'[jobs.a]\r\nschedule = "every 1h"'
    path.write_bytes(original)
    merge_into_config(path, entries_of("0 1 * * * /bin/b\n"))
    data = path.read_bytes()
    assert data.startswith(original + b"\r\n\r\n")
    assert b"\n" not in data.replace(b"\r\n", b""), "appended lines use the file's CRLF"
    assert list(load_config(path).jobs) == ["a", "b"]


def test_merge_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    added, skipped = merge_into_config(path, entries_of("0 1 * * * /bin/b\n"))
    assert ([e.job_name for e in added], skipped) == (["b"], [])
    assert list(load_config(path).jobs) == ["b"]


def test_merge_keeps_the_mode_and_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text(EXISTING)
    real.chmod(0o640)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    merge_into_config(link, entries_of("0 1 * * * /bin/b\n"))
    assert link.is_symlink(), "the link must not be replaced by a plain file"
    assert "b" in load_config(real).jobs
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_merge_skips_repeated_names_within_the_entries(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    one = CrontabEntry(1, "0 1 * * *", "UTC", "/bin/a", "a")
    two = CrontabEntry(2, "0 2 * * *", "UTC", "/bin/a", "a")
    added, skipped = merge_into_config(path, [one, two])
    assert (added, skipped) == ([one], [two])
    assert load_config(path).jobs["a"].schedule.expression == "0 1 * * *"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[jobs.a\nschedule = 1", "invalid TOML"),
        # Valid TOML, but [jobs.b] cannot extend an inline table: the result would not parse.
        ('jobs = { a = { schedule = "every 1h" } }\n', "would not load"),
        # Valid TOML, but not a valid config: refuse rather than append to a broken file.
        ('[jobs.a]\nschedule = "every 1h"\nmax_runtme = "1h"\n', "max_runtme"),
    ],
)
def test_merge_into_a_bad_config_changes_nothing(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as info:
        merge_into_config(path, entries_of("0 1 * * * /bin/b\n"))
    assert str(path) in str(info.value)
    assert path.read_text() == text
    assert list(tmp_path.iterdir()) == [path]


def test_merge_refuses_when_the_file_changes_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(EXISTING)
    import cronwatch.config

    real_load = cronwatch.config.load_config

    def load_then_someone_edits(file: str | os.PathLike[str]) -> object:
        result = real_load(file)
        path.write_text(EXISTING + "\n# edited meanwhile\n")
        return result

    monkeypatch.setattr(cronwatch.config, "load_config", load_then_someone_edits)
    with pytest.raises(ConfigError, match="changed while merging"):
        merge_into_config(path, entries_of("0 1 * * * /bin/b\n"))
    assert path.read_text() == EXISTING + "\n# edited meanwhile\n", "their edit must survive"
    assert list(tmp_path.iterdir()) == [path]


# --- the host's timezone ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "timezone_file", "expected"),
    [
        ("../usr/share/zoneinfo/Europe/Paris", None, "Europe/Paris"),
        ("/usr/share/zoneinfo/posix/America/New_York", None, "America/New_York"),
        ("/usr/share/zoneinfo/Etc/UTC", None, "UTC"),
        (None, "Asia/Tokyo\n", "Asia/Tokyo"),
        (None, "Etc/Universal\n", "UTC"),
        ("/usr/share/zoneinfo/Not/AZone", "Europe/Rome\n", "Europe/Rome"),
        (None, "garbage zone\n", None),
        (None, None, None),
    ],
)
def test_local_timezone(
    tmp_path: Path, link: str | None, timezone_file: str | None, expected: str | None
) -> None:
    if link is not None:
        (tmp_path / "localtime").symlink_to(link)
    if timezone_file is not None:
        (tmp_path / "timezone").write_text(timezone_file)
    assert local_timezone(tmp_path) == expected


# --- the command -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the command until the lead adds it to SUBCOMMANDS; start with no config."""
    monkeypatch.setitem(SUBCOMMANDS, "import-crontab", "cronwatch.cli.crontab_cmd:import_crontab")
    monkeypatch.delenv("CRONWATCH_CONFIG", raising=False)
    # Tests must not depend on this machine's timezone.
    monkeypatch.setattr(crontab, "local_timezone", lambda: "UTC")


def invoke(*args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


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
