"""Parsing crontabs: both formats (user and system), by path or content, CRON_TZ and TZ,
schedules as cron reads them, and a warning naming the line for each line skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronwatch.crontab import (
    parse_crontab,
)
from cronwatch.errors import InvalidInput
from tests.support.crontabs import (
    E2SCRUB_CRON_D,
    ETC_CRONTAB,
    PHP_CRON_D,
    SAMPLES,
    USER_CRONTAB,
    parse_file,
    summary,
)

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
    parsed = parse_crontab("0 3 * * * mytool --all\n0 4 * * * rsync -a /x /y\n")
    assert (parsed.system, parsed.system_guessed) == (False, True)
    assert parsed.entries[0].command == "mytool --all"
    assert parsed.warnings == []


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


# --- Debian's cron.d files, read without their path --------------------------------------------

CRON_D = SAMPLES / "cron.d"


@pytest.mark.parametrize(
    ("file", "jobs"),
    [
        # munin's user does not exist on this host: the shape of the line says it is a user field
        (
            "munin",
            [("munin-cron", "*/5 * * * *", "munin"), ("munin-limits", "14 10 * * *", "munin")],
        ),
        ("munin-node", [("munin-run-apt_all", "*/5 * * * *", "root")]),
        # the perl random sleep and `test -x ... &&` are set-up; the job is certbot renew
        ("certbot", [("certbot-renew", "0 */12 * * *", "root")]),
        (
            "sysstat",
            [("debian-sa1", "5-55/10 * * * *", "root"), ("debian-sa1-2", "59 23 * * *", "root")],
        ),
        ("logcheck", [("logcheck", "2 * * * *", "logcheck")]),  # and @reboot skipped
        ("mdadm", [("checkarray", "57 0 * * 0", "root")]),
        ("php", [("sessionclean", "09,39 * * * *", "root")]),
    ],
)
def test_debian_cron_d_files_from_stdin(file: str, jobs: list[tuple[str, str, str]]) -> None:
    parsed = parse_crontab((CRON_D / file).read_bytes())  # no path: the content decides
    assert (parsed.system, parsed.system_guessed) == (True, True)
    assert [(e.job_name, e.schedule_expr, e.user) for e in parsed.entries] == jobs
    # Nothing else warned about: not the user field, not the environment lines.
    assert [w.message for w in parsed.warnings if "@reboot" not in w.message] == []


def test_lines_that_look_like_mistakes_are_warned_about() -> None:
    parsed = parse_file(SAMPLES / "mistakes.crontab", cron_tz=True)
    assert parsed.system is False
    warnings = {w.line_no: w.message for w in parsed.warnings}
    # six time fields: cron would run "* /usr/local/bin/every-second.sh"; not imported
    assert "looks like 6 time fields" in warnings[2] and "skipped" in warnings[2]
    # a user field in a user crontab: imported (cron runs it so), with the way out
    assert '"root" after the time fields' in warnings[3] and "--system" in warnings[3]
    # date +%F: cron cuts the command there
    assert "unescaped %" in warnings[4] and "\\%" in warnings[4]
    assert set(warnings) == {2, 3, 4}
    names = [(e.line_no, e.job_name, e.timezone) for e in parsed.entries]
    assert names == [
        (3, "root", "UTC"),
        (4, "tar", "UTC"),
        (5, "ünïcode-script", "UTC"),  # the letters kept
        (7, "report", "Europe/Paris"),
    ]


def test_a_6_field_system_line_is_skipped_too() -> None:
    parsed = parse_crontab("0 * * * * * root /bin/x\n", system=True)
    assert parsed.entries == []
    (warning,) = parsed.warnings
    assert "6 time fields" in warning.message and "as the user" in warning.message


def test_percent_signs_meant_as_stdin_are_not_warned_about() -> None:
    parsed = parse_crontab('0 9 * * * mail -s "x" a@b%Hello,%see you%\n0 1 * * * date +\\%F\n')
    assert parsed.warnings == [] and len(parsed.entries) == 2


def test_under_debian_cron_cron_tz_and_tz_do_not_apply() -> None:
    text = "CRON_TZ=Europe/Paris\n0 6 * * * /bin/a\nTZ=Asia/Tokyo\n0 7 * * * /bin/b\n"
    honoured = parse_crontab(text, default_timezone="America/Denver")
    assert [e.timezone for e in honoured.entries] == ["Europe/Paris", "Europe/Paris"]
    assert honoured.warnings == []
    debian = parse_crontab(text, default_timezone="America/Denver", cron_tz=False)
    # Debian's cron runs every line in the host's time, whatever the crontab says
    assert [e.timezone for e in debian.entries] == ["America/Denver", "America/Denver"]
    assert [(w.line_no, w.message.split(":")[0]) for w in debian.warnings] == [
        (1, "Debian's cron ignores CRON_TZ"),
        (3, "Debian's cron ignores TZ"),
    ]
